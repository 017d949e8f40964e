package onetime

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	clock *storetest.Clock
	store *store.Memory
	is    *Issuer
	last  string // last delivered code
}

func testKeys(t testing.TB) *keyring.Ring {
	t.Helper()
	k, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	kr, err := keyring.New(k)
	require.NoError(t, err)
	return kr
}

// setup is an issuer's rules and Env, for tests to change.
type setup struct {
	Config
	twofactor.Env
}

func newEnv(t testing.TB, mod func(*setup)) *env {
	t.Helper()
	clock := storetest.NewClock(t0)
	st := store.NewMemory(clock.Now)
	s := setup{
		Config: Config{Channel: "test", CapDefaults: testCaps},
		Env:    twofactor.Env{Store: st, Keys: testKeys(t), Now: clock.Now, Events: &event.Sink{Discard: true}},
	}
	if mod != nil {
		mod(&s)
	}
	is, err := New("test", s.Env, s.Config)
	require.NoError(t, err)
	return &env{clock: clock, store: st, is: is}
}

// newSpyEnv is newEnv with the issuer's store wrapped in a spy that can
// fail chosen operations; e.store is the memory store underneath.
func newSpyEnv(t testing.TB) (*env, *storespy.Spy) {
	t.Helper()
	var spy *storespy.Spy
	e := newEnv(t, func(c *setup) {
		spy = storespy.New(c.Store.(*store.Memory))
		c.Store = spy
	})
	return e, spy
}

// assertNothingStored checks that r left no code, no cooldown and no count
// on any cap.
func (e *env) assertNothingStored(t *testing.T, r Request) {
	t.Helper()
	ctx := context.Background()
	n, err := e.store.CountGroup(ctx, e.is.group(r.Group))
	require.NoError(t, err)
	assert.Zero(t, n, "no code")
	for _, c := range e.is.limitChecks(r, e.is.cooldownKey(r)) {
		n, _, err := e.store.Peek(ctx, c.key)
		require.NoError(t, err)
		assert.Zero(t, n, "counter %s", c.limit)
	}
}

func (e *env) deliver(ctx context.Context, code string, _ time.Time) error {
	e.last = code
	return nil
}

// testCaps are the defaults of the test channel.
var testCaps = Caps{PerUser: 5, PerDestination: 5, PerIP: 20,
	VerifyPerUser: 5, VerifyPerUserDestination: 3, VerifyPerDestination: 7, Window: time.Hour}

var (
	ip1 = netip.MustParseAddr("203.0.113.7")
	ip6 = netip.MustParseAddr("2001:db8:5:6::7")
)

func req(group string) Request {
	return Request{Group: group, Purpose: "login", Binding: "u1", UserID: "u1", Destination: "+14155550112", IP: ip1}
}

func TestNewValidates(t *testing.T) {
	base := func() Config {
		return Config{Channel: "c", CapDefaults: testCaps}
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no channel", func(c *Config) { c.Channel = "" }, "channel"},
		{"short code", func(c *Config) { c.Codes.Length = 4 }, "Codes.Length"},
		{"long code", func(c *Config) { c.Codes.Length = 11 }, "Codes.Length"},
		{"short ttl", func(c *Config) { c.Codes.TTL = time.Second }, "Codes.TTL"},
		{"negative cooldown", func(c *Config) { c.Codes.ResendCooldown = -time.Second }, "Codes.ResendCooldown"},
		{"cooldown over ttl", func(c *Config) { c.Codes.TTL = 2 * time.Minute; c.Codes.ResendCooldown = 3 * time.Minute }, "shorter than Codes.TTL"},
		{"attempts", func(c *Config) { c.Codes.MaxAttempts = 11 }, "Codes.MaxAttempts"},
		{"window", func(c *Config) { c.Caps.Window = time.Second }, "Window"},
		{"negative window", func(c *Config) { c.Caps.Window = -time.Hour }, "Window"},
		{"caps unset", func(c *Config) { c.CapDefaults.VerifyPerDestination = 0 }, "caps are unset"},
		{"one account fills a destination", func(c *Config) { c.Caps.VerifyPerDestination = 2 },
			"VerifyPerDestination 2 must be more than 2"},
		{"one account fills a destination, by default", func(c *Config) { c.CapDefaults.VerifyPerDestination = 1 },
			"VerifyPerDestination 1 must be more than 2"},
	}
	env := twofactor.Env{Store: store.NewMemory(), Keys: testKeys(t)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mod(&cfg)
			is, err := New("test", env, cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Nil(t, is)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "test: "), err.Error())
		})
	}
	_, err := New("test", env, base())
	require.NoError(t, err)
	off := base()
	off.Caps.VerifyPerUserDestination, off.Caps.VerifyPerDestination = -1, -1
	_, err = New("test", env, off)
	require.NoError(t, err, "disabled")
}

func TestIssueAndVerify(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	iss, err := e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(DefaultTTL), iss.ExpiresAt)
	assert.Equal(t, t0.Add(DefaultResendCooldown), iss.ResendAt)
	require.Len(t, e.last, DefaultCodeLength)

	// The stored value is a keyed hash, never the code.
	n, err := e.store.CountGroup(ctx, "otc:test:g1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	wrong := "000000"
	if e.last == wrong {
		wrong = "111111"
	}
	require.Same(t, twofactor.ErrInvalidCode, e.is.Verify(ctx, req("g1"), wrong), "a wrong code while one is live is a guess")
	require.NoError(t, e.is.Verify(ctx, req("g1"), e.last))
	// Consumed: the same code never works twice, and with nothing live to
	// check against, the answer is no guess (the loser of a double submit).
	require.Same(t, twofactor.ErrNoCode, e.is.Verify(ctx, req("g1"), e.last))
	require.ErrorIs(t, e.is.Verify(ctx, req("g1"), e.last), twofactor.ErrInvalidCode)
	require.Same(t, twofactor.ErrNoCode, e.is.Verify(ctx, req("never-sent"), e.last))
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, err := e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)
	e.clock.Advance(DefaultTTL - time.Second)
	code := e.last
	// Still valid one second before expiry: issue again later to check.
	_, err = e.is.Issue(ctx, req("g2"), e.deliver)
	require.NoError(t, err)
	require.NoError(t, e.is.Verify(ctx, req("g1"), code))

	e.clock.Advance(DefaultTTL + time.Second)
	err = e.is.Verify(ctx, req("g2"), e.last)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "users see an expired code as an invalid one")
	assert.Same(t, twofactor.ErrCodeExpired, err, "the detail says expired")
	assert.Equal(t, twofactor.ErrInvalidCode.Error(), err.Error())
}

func TestCooldown(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, err := e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)
	first := e.last

	e.clock.Advance(20 * time.Second)
	_, err = e.is.Issue(ctx, req("g1"), e.deliver)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, twofactor.ErrRateLimited)
	assert.Equal(t, "resend", re.Limit)
	assert.Equal(t, 40*time.Second, re.RetryAfter)
	assert.Equal(t, first, e.last, "nothing delivered inside the cooldown")

	// Another group (another challenge) has its own cooldown.
	_, err = e.is.Issue(ctx, req("g2"), e.deliver)
	require.NoError(t, err)

	e.clock.Advance(40 * time.Second)
	_, err = e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)
	second := e.last
	// The new code replaces the previous one.
	if first != second {
		require.ErrorIs(t, e.is.Verify(ctx, req("g1"), first), twofactor.ErrInvalidCode)
	}
	require.NoError(t, e.is.Verify(ctx, req("g1"), second))
}

func TestCaps(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		limit string
		vary  func(i int, r *Request) // makes each request differ except in the capped dimension
		max   int
	}{
		{"user", "user", func(i int, r *Request) {
			r.Destination = fmt.Sprintf("d%d", i)
			r.IP = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		}, 5},
		{"destination", "destination", func(i int, r *Request) {
			r.UserID = fmt.Sprintf("u%d", i)
			r.IP = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		}, 5},
		{"ip", "ip", func(i int, r *Request) {
			r.UserID = fmt.Sprintf("u%d", i)
			r.Destination = fmt.Sprintf("d%d", i)
		}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			for i := range tt.max {
				r := req(fmt.Sprintf("g%d", i))
				tt.vary(i, &r)
				_, err := e.is.Issue(ctx, r, e.deliver)
				require.NoError(t, err, "send %d", i)
			}
			r := req("over")
			tt.vary(tt.max, &r)
			_, err := e.is.Issue(ctx, r, e.deliver)
			var re *twofactor.RetryError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.limit, re.Limit)
			assert.Equal(t, time.Hour, re.RetryAfter)
			// A capped send starts no cooldown and leaves no code.
			n, _, _ := e.store.Peek(ctx, e.is.cooldownKey(r))
			assert.Zero(t, n)
			cnt, _ := e.store.CountGroup(ctx, e.is.group("over"))
			assert.Zero(t, cnt)

			e.clock.Advance(time.Hour)
			_, err = e.is.Issue(ctx, r, e.deliver)
			require.NoError(t, err, "the window ended")
		})
	}
}

// An IPv6 client is counted by its /64: rotating through the addresses of
// one network does not escape the per-IP cap, while another network has
// its own count. An IPv4-mapped address counts as the IPv4 address.
func TestCapPerIPv6Network(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *setup) { c.Caps.PerIP = 3 })
	send := func(i int, ip string) error {
		r := req(fmt.Sprint("g", i))
		r.UserID, r.Destination, r.IP = fmt.Sprint("u", i), fmt.Sprint("d", i), netip.MustParseAddr(ip)
		_, err := e.is.Issue(ctx, r, e.deliver)
		return err
	}
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:aaaa::7", "2001:db8:1:2:ffff:ffff:ffff:ffff"} {
		require.NoError(t, send(i, ip))
	}
	err := send(3, "2001:db8:1:2:1234:5678:9abc:def0")
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "ip", re.Limit)
	require.NoError(t, send(4, "2001:db8:1:3::1"), "the next /64 is another client")

	for i, ip := range []string{"192.0.2.1", "::ffff:192.0.2.1", "192.0.2.1"} {
		require.NoError(t, send(10+i, ip))
	}
	require.ErrorAs(t, send(13, "::ffff:192.0.2.1"), &re)
	require.NoError(t, send(14, "192.0.2.2"), "IPv4 addresses are counted one by one")
}

// vreq is a verification of dest requested by user.
func vreq(user, dest string) Request {
	return Request{Group: "verify:" + user, Purpose: "email_verify", Binding: dest, UserID: user,
		Destination: dest, IP: ip1, Verification: true}
}

func TestVerificationCaps(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		limit string
		vary  func(i int) Request
		max   int
	}{
		{LimitVerifyUser, func(i int) Request { return vreq("u1", fmt.Sprint("d", i)) }, testCaps.VerifyPerUser},
		{LimitVerifyUserDestination, func(int) Request { return vreq("u1", "d") }, testCaps.VerifyPerUserDestination},
		// The destination's cap counts accounts: one new account a request.
		{LimitVerifyDestination, func(i int) Request { return vreq(fmt.Sprint("u", i), "d") }, testCaps.VerifyPerDestination},
	}
	for _, tt := range tests {
		t.Run(tt.limit, func(t *testing.T) {
			e := newEnv(t, nil)
			for i := range tt.max {
				_, err := e.is.Issue(ctx, tt.vary(i), e.deliver)
				require.NoError(t, err, "send %d", i)
				e.clock.Advance(DefaultResendCooldown)
			}
			over := tt.vary(tt.max)
			_, err := e.is.Issue(ctx, over, e.deliver)
			var re *twofactor.RetryError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.limit, re.Limit)
			n, _, _ := e.store.Peek(ctx, e.is.cooldownKey(over))
			assert.Zero(t, n, "a capped send starts no cooldown")

			// Login codes to the same destination have their own budget.
			for i := range testCaps.PerDestination {
				r := req(fmt.Sprint("login", i))
				r.Destination = over.Destination
				_, err := e.is.Issue(ctx, r, e.deliver)
				require.NoError(t, err, "login %d", i)
			}
			e.clock.Advance(time.Hour)
			_, err = e.is.Issue(ctx, over, e.deliver)
			require.NoError(t, err, "the window ended")
		})
	}
}

// A verification refused by any limit keeps its count on the requester's
// own caps and holds no slot of the destination's; a failed give-back
// only leaves that one count higher.
func TestRefusalGivesBackSharedCount(t *testing.T) {
	ctx := context.Background()
	e, spy := newSpyEnv(t)
	vdest := "otc:cap:vacct:test:" + e.is.destKey("d")
	vpair := "otc:cap:vpair:test:" + e.is.pairKey("evil", "d")
	_, err := e.is.Issue(ctx, vreq("evil", "d"), e.deliver)
	require.NoError(t, err)
	for range 10 { // inside the cooldown
		_, err := e.is.Issue(ctx, vreq("evil", "d"), e.deliver)
		require.ErrorIs(t, err, twofactor.ErrRateLimited)
	}
	e.clock.Advance(DefaultResendCooldown)
	_, err = e.is.Issue(ctx, vreq("evil", "d"), e.deliver)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, LimitVerifyUser, re.Limit, "the refusals counted on the account's own caps")

	peek := func(k string) int64 {
		t.Helper()
		n, _, err := e.store.Peek(ctx, k)
		require.NoError(t, err)
		return n
	}
	assert.Equal(t, int64(testCaps.VerifyPerUserDestination), peek(vpair), "the refusals counted on the pair's cap, up to its bound")
	assert.Equal(t, int64(1), peek(vdest), "the account holds one slot, taken by its first code; refused resends take none")
	assert.Equal(t, int64(1), peek("otc:cap:vheld:test:"+e.is.pairKey("evil", "d")), "refused resends gave their hold count back")

	// Other accounts take the other slots; the next one is refused, and
	// gives back the slot and its hold, so that its next request is
	// checked against the slots again rather than taken for a resend.
	from := func(user string, n byte) Request { // each account from a network of its own
		r := vreq(user, "d")
		r.IP = netip.AddrFrom4([4]byte{10, 0, 0, n})
		return r
	}
	for i := 2; i <= testCaps.VerifyPerDestination; i++ {
		_, err := e.is.Issue(ctx, from(fmt.Sprint("u", i), byte(i)), e.deliver)
		require.NoError(t, err, "account %d", i)
	}
	late := "otc:cap:vheld:test:" + e.is.pairKey("late", "d")
	for range 3 {
		_, err = e.is.Issue(ctx, from("late", 100), e.deliver)
		require.ErrorAs(t, err, &re)
		assert.Equal(t, LimitVerifyDestination, re.Limit)
		assert.Equal(t, int64(testCaps.VerifyPerDestination), peek(vdest))
		assert.Zero(t, peek(late), "a refused first code left a hold: the next request would pass as a resend")
		e.clock.Advance(DefaultResendCooldown)
	}

	spy.Fail("Decr", errors.New("store down"))
	_, err = e.is.Issue(ctx, from("late2", 101), e.deliver)
	require.ErrorAs(t, err, &re, "a failed give-back still refuses")
	assert.Equal(t, int64(testCaps.VerifyPerDestination), peek(vdest), "a refused first code takes no slot")
	assert.Equal(t, int64(1), peek("otc:cap:vheld:test:"+e.is.pairKey("late2", "d")), "a failed give-back only leaves the count higher")
}

// The destination's verification cap counts accounts, not codes: other
// accounts sending all they may to someone's address or number cannot
// keep her from confirming it unless there are as many of them as the
// destination has slots, and once she has a slot her resends are never
// refused by them. Codes to one destination stay bounded by slots × the
// pair cap.
func TestVerificationCapCountsAccounts(t *testing.T) {
	ctx := context.Background()
	slots, pair := testCaps.VerifyPerDestination, testCaps.VerifyPerUserDestination
	n, delivered := byte(0), 0
	send := func(e *env, user string) error {
		n++
		r := vreq(user, "owned") // each account from a network of its own
		r.IP = netip.AddrFrom4([4]byte{10, 1, 0, n})
		_, err := e.is.Issue(ctx, r, func(context.Context, string, time.Time) error {
			delivered++
			return nil
		})
		return err
	}
	// sendAll has each account send every code its own cap allows.
	sendAll := func(e *env, users ...string) {
		t.Helper()
		for range pair {
			for _, u := range users {
				require.NoError(t, send(e, u), "%s", u)
			}
			e.clock.Advance(DefaultResendCooldown)
		}
	}
	others := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprint("other", i))
		}
		return out
	}
	var re *twofactor.RetryError

	t.Run("three accounts", func(t *testing.T) {
		e := newEnv(t, nil)
		sendAll(e, others(0, 3)...)
		sendAll(e, "owner") // her code and both resends
		require.ErrorAs(t, send(e, "owner"), &re)
		assert.Equal(t, LimitVerifyUserDestination, re.Limit, "only her own cap stops her")
	})
	t.Run("one account short of the slots", func(t *testing.T) {
		e := newEnv(t, nil)
		delivered = 0
		sendAll(e, others(0, slots-1)...)
		require.NoError(t, send(e, "owner"), "the last slot is hers")
		require.ErrorAs(t, send(e, "late"), &re)
		assert.Equal(t, LimitVerifyDestination, re.Limit, "no slot is left for another account")
		e.clock.Advance(DefaultResendCooldown)
		require.NoError(t, send(e, "owner"), "her resend needs no new slot")
		e.clock.Advance(DefaultResendCooldown)
		require.NoError(t, send(e, "owner"))
		assert.Equal(t, int64(slots), peekN(t, e, "otc:cap:vacct:test:"+e.is.destKey("owned")))
		assert.Equal(t, slots*pair, delivered, "codes to the destination: slots × the pair cap")
	})
	t.Run("as many accounts as slots", func(t *testing.T) {
		e := newEnv(t, nil)
		sendAll(e, others(0, slots)...)
		require.ErrorAs(t, send(e, "owner"), &re)
		assert.Equal(t, LimitVerifyDestination, re.Limit)
		assert.LessOrEqual(t, re.RetryAfter, time.Hour, "for at most the window")
		e.clock.Advance(re.RetryAfter)
		require.NoError(t, send(e, "owner"), "the window ended")
	})
}

func peekN(t *testing.T, e *env, key string) int64 {
	t.Helper()
	n, _, err := e.store.Peek(context.Background(), key)
	require.NoError(t, err)
	return n
}

// Accounts hammering one destination concurrently, each from many
// requests at once, round after round: no more accounts send than the
// destination has slots, no account sends more than its own cap, and
// once they are done the destination's count is exactly the accounts that
// sent, so refused requests took no slot.
func TestVerificationConcurrentAccounts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	const accounts, tries = 10, 20 // more accounts than the 7 slots
	rounds := testCaps.VerifyPerUserDestination + 1
	var perAccount [accounts]atomic.Int32
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for a := range accounts {
			for i := range tries {
				wg.Go(func() {
					<-start
					r := vreq(fmt.Sprint("u", a), "victim") // one group a user: its resend cooldown
					r.IP = netip.AddrFrom4([4]byte{10, byte(round), byte(a), byte(i)})
					_, err := e.is.Issue(ctx, r, func(context.Context, string, time.Time) error { return nil })
					if err == nil {
						perAccount[a].Add(1)
						return
					}
					if !errors.Is(err, twofactor.ErrRateLimited) {
						t.Errorf("unexpected error: %v", err)
					}
				})
			}
		}
		close(start)
		wg.Wait()
		e.clock.Advance(DefaultResendCooldown)
	}
	total, sent := int32(0), 0
	for a := range accounts {
		n := perAccount[a].Load()
		assert.LessOrEqual(t, n, int32(testCaps.VerifyPerUserDestination), "account %d", a)
		if n > 0 {
			sent++
		}
		total += n
	}
	assert.Equal(t, testCaps.VerifyPerDestination, sent, "accounts that sent")
	assert.LessOrEqual(t, total, int32(testCaps.VerifyPerDestination*testCaps.VerifyPerUserDestination))
	n, _, err := e.store.Peek(ctx, "otc:cap:vacct:test:"+e.is.destKey("victim"))
	require.NoError(t, err)
	assert.Equal(t, int64(sent), n, "slots held")
}

// The send that takes a budget's last unit emits one event naming it; the
// next send is refused until the window ends.
func TestBudgetReachedEvent(t *testing.T) {
	ctx := context.Background()
	var evs []event.Event
	e := newEnv(t, func(c *setup) {
		c.Budgets = Budgets{PerCountry: 2, Countries: map[string]int{"NG": -1}, Total: 3}
		c.Method = twofactor.MethodSMS
		c.Events = &event.Sink{Discard: true, Hook: func(_ context.Context, ev event.Event) { evs = append(evs, ev) }}
	})
	send := func(i int, country string) error {
		r := req(fmt.Sprint("g", i))
		r.UserID, r.Destination, r.Country = fmt.Sprint("u", i), fmt.Sprint("d", i), country
		_, err := e.is.Issue(ctx, r, e.deliver)
		return err
	}
	require.NoError(t, send(0, "GB"))
	assert.Empty(t, evs)
	e.clock.Advance(time.Minute)
	require.NoError(t, send(1, "GB"))
	require.Len(t, evs, 1)
	assert.Equal(t, event.Event{
		Type: event.BudgetReached, Time: t0.Add(time.Minute), UserID: "u1", Method: twofactor.MethodSMS,
		Purpose: "login", Reason: ReasonBudgetCountry, IP: ip1.String(), Count: 2, Until: t0.Add(time.Hour),
		Details: map[string]string{"country": "GB"},
	}, evs[0])

	var re *twofactor.RetryError
	require.ErrorAs(t, send(2, "GB"), &re)
	assert.Equal(t, LimitCountry, re.Limit)
	assert.Equal(t, 59*time.Minute, re.RetryAfter)
	require.NoError(t, send(3, "NG"), "NG has no country budget")
	require.Len(t, evs, 2)
	assert.Equal(t, ReasonBudgetTotal, evs[1].Reason)
	assert.Equal(t, 3, evs[1].Count)
	assert.Nil(t, evs[1].Details, "no country")
	require.ErrorAs(t, send(4, "NG"), &re)
	assert.Equal(t, LimitTotal, re.Limit)
	assert.Len(t, evs, 2, "refusals emit nothing")
}

// A refused send is one store round trip, the bounded increment that
// refused it: no give-back follows. It leaves the budgets shared with
// other accounts and the cooldown as they were, and counts on its own
// caps.
func TestRefusalIsOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	var spy *storespy.Spy
	e := newEnv(t, func(c *setup) {
		c.Budgets = Budgets{PerCountry: 1, Total: 5}
		spy = storespy.New(c.Store.(*store.Memory))
		c.Store = spy
	})
	peek := func(k string) int64 {
		t.Helper()
		n, _, err := e.store.Peek(ctx, k)
		require.NoError(t, err)
		return n
	}
	r := req("g1")
	r.Country = "GB"
	before := spy.Calls.Load()
	_, err := e.is.Issue(ctx, r, e.deliver)
	require.NoError(t, err)
	assert.EqualValues(t, 2, spy.Calls.Load()-before, "an admitted send: the limits, the code")

	total, user := "otc:budget:total:test", "otc:cap:user:test:u1"
	for _, tc := range []struct {
		name, limit string
		r           Request
	}{
		{"cooldown", LimitResend, r},
		{"country budget", LimitCountry, func() Request { r := req("g2"); r.Country = "GB"; return r }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users, totals := peek(user), peek(total)
			before := spy.Calls.Load()
			_, err := e.is.Issue(ctx, tc.r, e.deliver)
			var re *twofactor.RetryError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.limit, re.Limit)
			assert.EqualValues(t, 1, spy.Calls.Load()-before, "a refusal's round trips")
			assert.Equal(t, totals, peek(total), "a refusal takes nothing from a shared budget")
			assert.Equal(t, users+1, peek(user), "a refusal counts on its own caps")
		})
	}
	// The country budget's refusal started no cooldown for its group.
	assert.Zero(t, peek(e.is.cooldownKey(req("g2"))))
}

func TestIssueBadRequest(t *testing.T) {
	ctx := context.Background()
	e, spy := newSpyEnv(t)
	for _, r := range []Request{
		{Purpose: "login"},
		{Group: "g"},
		{Group: "g", Purpose: "v", Destination: "d", Verification: true},
		{Group: "g", Purpose: "v", UserID: "u", Verification: true},
		{Group: "g", Purpose: "login", Country: "GBR1"},
		{Group: "g", Purpose: "login", Country: "g:b"},
	} {
		_, err := e.is.Issue(ctx, r, e.deliver)
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, "%+v", r)
	}
	assert.Zero(t, spy.Calls.Load(), "bad input touches no store")
}

func TestDeliveryFailure(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, err := e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)
	earlier := e.last
	e.clock.Advance(time.Minute)

	boom := errors.New("gateway down")
	var failed string
	_, err = e.is.Issue(ctx, req("g1"), func(_ context.Context, code string, _ time.Time) error {
		failed = code
		return boom
	})
	require.ErrorIs(t, err, ErrDelivery)
	require.ErrorIs(t, err, boom)

	// No usable code is left: neither the undelivered one nor the earlier.
	cnt, err := e.store.CountGroup(ctx, e.is.group("g1"))
	require.NoError(t, err)
	assert.Zero(t, cnt)
	require.ErrorIs(t, e.is.Verify(ctx, req("g1"), failed), twofactor.ErrInvalidCode)
	require.ErrorIs(t, e.is.Verify(ctx, req("g1"), earlier), twofactor.ErrInvalidCode)

	// The cooldown did not start: the user may retry at once.
	_, err = e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)

	// The failed attempt counted toward the hourly caps: 3 sends so far.
	n, _, err := e.store.Peek(ctx, "otc:cap:user:test:u1")
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	n, _, err = e.store.Peek(ctx, "otc:cap:dest:test:"+e.is.destKey("+14155550112"))
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	n, _, err = e.store.Peek(ctx, "otc:cap:ip:test:"+e.is.netKey(ip1))
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
}

// Repeated failures exhaust the caps even though nothing is delivered (SMS
// pumping through numbers that never accept).
func TestDeliveryFailuresSpendCaps(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	fail := func(context.Context, string, time.Time) error { return errors.New("no") }
	for i := range 5 {
		_, err := e.is.Issue(ctx, req("g1"), fail)
		require.ErrorIs(t, err, ErrDelivery, "attempt %d", i)
	}
	_, err := e.is.Issue(ctx, req("g1"), e.deliver)
	require.ErrorIs(t, err, twofactor.ErrRateLimited)
}

func TestAttemptsKillCode(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, err := e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)
	wrong := "000000"
	if e.last == wrong {
		wrong = "111111"
	}
	for range DefaultMaxAttempts {
		require.ErrorIs(t, e.is.Verify(ctx, req("g1"), wrong), twofactor.ErrInvalidCode)
	}
	require.ErrorIs(t, e.is.Verify(ctx, req("g1"), e.last), twofactor.ErrInvalidCode, "the right code after 5 wrong ones")
}

func TestPurposeAndBinding(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	r := req("g1")
	_, err := e.is.Issue(ctx, r, e.deliver)
	require.NoError(t, err)
	code := e.last

	other := []Request{
		{Group: "g1", Purpose: "step_up", Binding: "u1"},
		{Group: "g1", Purpose: "phone_verify", Binding: "u1"},
		{Group: "g1", Purpose: "login", Binding: "u2"},
		{Group: "g2", Purpose: "login", Binding: "u1"},
	}
	for _, o := range other {
		require.ErrorIs(t, e.is.Verify(ctx, o, code), twofactor.ErrInvalidCode, "%+v", o)
	}
	// Another channel with the same store never sees this code.
	e2, err := New("other", twofactor.Env{Store: e.store, Keys: e.is.Env().Keys, Now: e.clock.Now},
		Config{Channel: "other", CapDefaults: testCaps})
	require.NoError(t, err)
	require.ErrorIs(t, e2.Verify(ctx, r, code), twofactor.ErrInvalidCode)

	// A binding mismatch in the same key uses an attempt, so it cannot be
	// used to probe; the right request still works afterwards.
	require.NoError(t, e.is.Verify(ctx, r, code))
}

// tap forwards to a memory store and records every group, key and value
// written to it, so a test can read back each stored record.
type tap struct {
	*store.Memory
	mu       sync.Mutex
	counters []string
	codes    []store.Code
}

// RunBatch runs a batch through the wrapper's own methods (store.RunEach),
// so that what it changes holds in a batch too.
func (tp *tap) RunBatch(ctx context.Context, ops []store.Op) error {
	return store.RunEach(ctx, tp, ops, time.Now())
}

func (tp *tap) Incr(ctx context.Context, key string, w time.Duration) (int64, time.Time, error) {
	tp.mu.Lock()
	tp.counters = append(tp.counters, key)
	tp.mu.Unlock()
	return tp.Memory.Incr(ctx, key, w)
}

func (tp *tap) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	tp.mu.Lock()
	for _, in := range incrs {
		tp.counters = append(tp.counters, in.Key)
	}
	tp.mu.Unlock()
	return tp.Memory.IncrBatch(ctx, incrs)
}

func (tp *tap) IncrBelow(ctx context.Context, incrs []store.BoundedIncr) ([]store.BoundedValue, error) {
	tp.mu.Lock()
	for _, in := range incrs {
		tp.counters = append(tp.counters, in.Key)
	}
	tp.mu.Unlock()
	return tp.Memory.IncrBelow(ctx, incrs)
}

func (tp *tap) PutCode(ctx context.Context, c store.Code) error {
	tp.mu.Lock()
	tp.codes = append(tp.codes, c)
	tp.mu.Unlock()
	return tp.Memory.PutCode(ctx, c)
}

// records reads back from the store every record written through tp and
// returns each as text: a counter as its key and count, a code as its
// group, key and hash. A record the store no longer holds fails the test.
func (tp *tap) records(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []string
	for _, k := range tp.counters {
		n, _, err := tp.Memory.Peek(ctx, k)
		require.NoError(t, err)
		require.Positive(t, n, "counter %q is not stored", k)
		out = append(out, fmt.Sprintf("%s=%d", k, n))
	}
	for _, c := range tp.codes {
		n, err := tp.Memory.CountGroup(ctx, c.Group)
		require.NoError(t, err)
		require.Positive(t, n, "code group %q is not stored", c.Group)
		out = append(out, c.Group, c.Key, string(c.Hash))
	}
	return out
}

func TestNothingSecretStored(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(t0)
	tp := &tap{Memory: store.NewMemory(clock.Now)}
	is, err := New("test", twofactor.Env{Store: tp, Keys: testKeys(t), Now: clock.Now, Events: &event.Sink{Discard: true}},
		Config{Channel: "test", CapDefaults: testCaps, Budgets: Budgets{PerCountry: 10, Total: 10}})
	require.NoError(t, err)

	const number, digits, addr = "+14155550112", "4155550112", "jane.doe@example.com"
	var codes []string
	keep := func(_ context.Context, code string, _ time.Time) error {
		codes = append(codes, code)
		return nil
	}
	// A login code to a number, a phone verification bound to the number,
	// a code to an address and an address verification: every kind of
	// counter (cooldown, network, login and verification caps, budgets).
	reqs := []Request{
		{Group: "g1", Purpose: "login", Binding: "u1", UserID: "u1", Destination: number, IP: ip1, Country: "US"},
		{Group: "enroll:u1", Purpose: "phone_verify", Binding: number, UserID: "u1", Destination: number, IP: ip1,
			Country: "US", Verification: true},
		{Group: "g2", Purpose: "login", Binding: "u2", UserID: "u2", Destination: addr, IP: ip6},
		{Group: "verify:u2", Purpose: "email_verify", Binding: addr, UserID: "u2", Destination: addr, Verification: true},
	}
	for _, r := range reqs {
		_, err := is.Issue(ctx, r, keep)
		require.NoError(t, err)
	}
	require.Len(t, codes, len(reqs))

	recs := tp.records(t)
	for _, prefix := range []string{"otc:cool:", "otc:cap:ip:", "otc:cap:dest:", "otc:cap:user:", "otc:cap:vuser:",
		"otc:cap:vpair:", "otc:cap:vheld:", "otc:cap:vacct:", "otc:budget:country:", "otc:budget:total:"} {
		assert.True(t, slices.ContainsFunc(recs, func(r string) bool { return strings.HasPrefix(r, prefix) }), "no %s record read", prefix)
	}
	// Nor the client's address, in any form it could be written.
	clientAddrs := []string{ip1.String(), "203.0.113", ip6.String(), "2001:db8:5:6", "2001:db8:5:6::/64", "2001:0db8"}
	secrets := append(append([]string{number, digits, addr, "jane.doe"}, clientAddrs...), codes...)
	for _, rec := range recs {
		for _, s := range secrets {
			assert.NotContains(t, rec, s, "a stored record holds a secret")
		}
	}
	// The codes the store holds are the keyed hashes, nothing else.
	for i, c := range tp.codes {
		assert.Equal(t, is.hash(reqs[i], codes[i]), c.Hash)
	}
}

// A store error while counting refuses the send: nothing is delivered and
// nothing is stored, not even a cooldown.
func TestIssueCountingFails(t *testing.T) {
	ctx := context.Background()
	e, spy := newSpyEnv(t)
	boom := errors.New("counters down")
	spy.Fail("Incr", boom)
	delivered := false
	_, err := e.is.Issue(ctx, req("g1"), func(context.Context, string, time.Time) error {
		delivered = true
		return nil
	})
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, twofactor.ErrRateLimited)
	assert.False(t, delivered, "nothing is sent")
	e.assertNothingStored(t, req("g1"))
}

// A store error while storing the code: nothing is delivered, no code is
// left and the cooldown is lifted, so the user may retry at once.
func TestIssueStoringFails(t *testing.T) {
	ctx := context.Background()
	e, spy := newSpyEnv(t)
	boom := errors.New("codes down")
	spy.Fail("PutCode", boom)
	delivered := false
	_, err := e.is.Issue(ctx, req("g1"), func(context.Context, string, time.Time) error {
		delivered = true
		return nil
	})
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, ErrDelivery)
	assert.False(t, delivered, "nothing is sent")
	n, err := e.store.CountGroup(ctx, e.is.group("g1"))
	require.NoError(t, err)
	assert.Zero(t, n, "no code")
	n64, _, err := e.store.Peek(ctx, e.is.cooldownKey(req("g1")))
	require.NoError(t, err)
	assert.Zero(t, n64, "the cooldown is lifted")

	spy.Fail("PutCode", nil)
	_, err = e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err, "retry at once")
	require.NoError(t, e.is.Verify(ctx, req("g1"), e.last))
}

// Delivery fails and the undelivered code cannot be deleted either: the
// error says so (the code is still stored, though nobody received it).
func TestIssueDeliveryAndDeleteFail(t *testing.T) {
	ctx := context.Background()
	e, spy := newSpyEnv(t)
	boom := errors.New("gateway down")
	derr := errors.New("delete refused")
	spy.Fail("DeleteCode", derr)
	_, err := e.is.Issue(ctx, req("g1"), func(context.Context, string, time.Time) error { return boom })
	require.ErrorIs(t, err, ErrDelivery)
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "removing the undelivered code failed")
	assert.Contains(t, err.Error(), derr.Error())
	n, _, err := e.store.Peek(ctx, e.is.cooldownKey(req("g1")))
	require.NoError(t, err)
	assert.Zero(t, n, "the cooldown is lifted")
}

func TestCancelAndDrop(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, err := e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)
	require.NoError(t, e.is.Cancel(ctx, "g1"))
	require.ErrorIs(t, e.is.Verify(ctx, req("g1"), e.last), twofactor.ErrInvalidCode)

	_, err = e.is.Issue(ctx, req("g2"), e.deliver)
	require.NoError(t, err)
	require.NoError(t, e.is.Drop(ctx, "g2", "login"))
	require.ErrorIs(t, e.is.Verify(ctx, req("g2"), e.last), twofactor.ErrInvalidCode)
	_, err = e.is.Issue(ctx, req("g2"), e.deliver)
	require.NoError(t, err, "Drop lifts the cooldown")
}

func TestRaceOneWinner(t *testing.T) {
	ctx := context.Background()
	for round := range 20 {
		e := newEnv(t, func(c *setup) { c.Codes.MaxAttempts = 10 })
		_, err := e.is.Issue(ctx, req("g1"), e.deliver)
		require.NoError(t, err)
		var ok, invalid atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 64 {
			wg.Go(func() {
				<-start
				switch err := e.is.Verify(ctx, req("g1"), e.last); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, twofactor.ErrInvalidCode):
					invalid.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), ok.Load(), "round %d", round)
		require.Equal(t, int32(63), invalid.Load(), "round %d", round)
	}
}

func TestStoreErrorsFailClosed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, err := e.is.Issue(ctx, req("g1"), e.deliver)
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = e.is.Verify(cctx, req("g1"), e.last)
	require.Error(t, err)
	assert.NotErrorIs(t, err, twofactor.ErrInvalidCode, "a store failure is not a wrong code")
	require.NoError(t, e.is.Verify(ctx, req("g1"), e.last))
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{" 123 456 ", "123456", true},
		{"123-456", "123456", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12a456", "", false},
		{"１２３４５６", "", false}, // full-width digits are refused, not folded
		{"", "", false},
		{strings.Repeat(" ", 100) + "123456", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Normalize("test", tt.in, 6)
			if !tt.ok {
				require.ErrorIs(t, err, twofactor.ErrInvalidInput)
				assert.True(t, strings.HasPrefix(err.Error(), "test: "))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "12-34-56", "abc", "", "1234567890", "\x00\xff", "١٢٣٤٥٦"} {
		f.Add(s, 6)
	}
	f.Fuzz(func(t *testing.T, in string, n int) {
		if n < 0 || n > 64 {
			n = 6
		}
		got, err := Normalize("fuzz", in, n)
		if err != nil {
			if !errors.Is(err, twofactor.ErrInvalidInput) {
				t.Fatalf("error %v does not match ErrInvalidInput", err)
			}
			return
		}
		if len(got) != n {
			t.Fatalf("Normalize(%q) = %q, want %d digits", in, got, n)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < '0' || got[i] > '9' {
				t.Fatalf("Normalize(%q) = %q has a non-digit", in, got)
			}
		}
		again, err := Normalize("fuzz", got, n)
		if err != nil || again != got {
			t.Fatalf("Normalize is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}
