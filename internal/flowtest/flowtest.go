// Package flowtest runs complete second-factor flows against a store, for
// the multi-instance race tests and the login throughput benchmarks that
// every server store (SQL, Redis) runs. It builds real factors (email
// codes, TOTP, backup codes) on the store under test.
package flowtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
)

// Mailbox is an email sender that keeps the last code sent to each
// address, for tests that must read codes quickly from many goroutines.
type Mailbox struct{ last sync.Map }

// Send implements emailcode.Sender.
func (m *Mailbox) Send(_ context.Context, msg emailcode.Message) error {
	m.last.Store(msg.To, msg.Text)
	return nil
}

// Code returns the six-digit code of the last message to addr.
func (m *Mailbox) Code(addr string) (string, error) {
	v, ok := m.last.Load(addr)
	if !ok {
		return "", fmt.Errorf("no message to %s", addr)
	}
	text := v.(string)
	for i := 0; i+6 <= len(text); i++ {
		if isDigits(text[i:i+6]) && (i == 0 || !isDigit(text[i-1])) && (i+6 == len(text) || !isDigit(text[i+6])) {
			return text[i : i+6], nil
		}
	}
	return "", fmt.Errorf("no code in message to %s", addr)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// Instance is one app instance: a Service and its factors on a store. Two
// instances built on two connections to the same database behave as two
// app servers behind a load balancer.
type Instance struct {
	Service *twofactor.Service
	Email   *emailcode.Factor
	TOTP    *totp.Factor
	Backup  *backupcodes.Factor
	Mail    *Mailbox
}

// Options configure an instance.
type Options struct {
	Keys *keyring.Ring    // shared by every instance; required by NewInstance
	Now  func() time.Time // the clock the store was given; nil: time.Now
	Mail *Mailbox         // shared mailbox; nil: a new one
	// DefaultCaps keeps the email factor's sending caps at their
	// defaults; otherwise they are raised out of the way.
	DefaultCaps bool
}

// NewInstance builds an instance on st. The per-IP limit is raised, since
// every request comes from one test client; the user lockout keeps its
// defaults, so races also show that a lost double submit is no guess.
func NewInstance(tb testing.TB, st store.Store, o Options) *Instance {
	tb.Helper()
	if o.Mail == nil {
		o.Mail = &Mailbox{}
	}
	events := &event.Sink{Discard: true, Now: o.Now}
	caps := emailcode.Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30}
	if o.DefaultCaps {
		caps = emailcode.Caps{}
	}
	// The factors take the store, keys, events and clock from the Service.
	svc, err := twofactor.New(twofactor.Config{
		Store: st, Keys: o.Keys,
		Factors: []twofactor.FactorConfig{
			emailcode.Config{Sender: o.Mail, Caps: caps},
			totp.Config{Issuer: "Flowtest"},
			backupcodes.Config{},
		},
		Limits: twofactor.Limits{MaxIPAttempts: 1 << 30},
		Events: events, Now: o.Now,
	})
	require.NoError(tb, err)
	email, _ := svc.Factor(twofactor.MethodEmail)
	tf, _ := svc.Factor(twofactor.MethodTOTP)
	bc, _ := svc.Factor(twofactor.MethodBackupCode)
	return &Instance{Service: svc, Email: email.(*emailcode.Factor), TOTP: tf.(*totp.Factor), Backup: bc.(*backupcodes.Factor), Mail: o.Mail}
}

// NewPair builds two instances, as two copies of an app, on sa and sb
// (one store, or two clients of one database), with one key ring and one
// mailbox: o's, or new ones when they are nil.
func NewPair(tb testing.TB, sa, sb store.Store, o Options) (a, b *Instance) {
	tb.Helper()
	if o.Keys == nil {
		key, err := keyring.GenerateKey("pair")
		require.NoError(tb, err)
		o.Keys, err = keyring.New(key)
		require.NoError(tb, err)
	}
	if o.Mail == nil {
		o.Mail = &Mailbox{}
	}
	return NewInstance(tb, sa, o), NewInstance(tb, sb, o)
}

// defaultMaxUserFailures is the Service's documented default of
// Limits.MaxUserFailures, which the instances keep.
const defaultMaxUserFailures = 10

var client = twofactor.Client{IP: netip.MustParseAddr("198.51.100.20"), UserAgent: "flowtest"}

// race runs fn(i) for i in [0, n) from n goroutines released together and
// returns how many returned true.
func race(n int, fn func(i int) bool) int {
	var wins atomic.Int64
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			if fn(i) {
				wins.Add(1)
			}
		}()
	}
	close(gate)
	wg.Wait()
	return int(wins.Load())
}

// MultiInstance races goroutines split across instances a and b (separate
// connection pools on one database) on one email code, one TOTP step and
// one backup code, rounds times, and requires exactly one success each
// time. clock must be the clock both stores and instances use; it is
// advanced 30 s per round so each round has a fresh TOTP step.
func MultiInstance(t *testing.T, a, b *Instance, clock *storetest.Clock, rounds, goroutines int) {
	ctx := context.Background()
	inst := func(i int) *Instance { return pick(a, b, i) }
	prefix := fmt.Sprintf("mi%d-", time.Now().UnixNano())
	for r := 0; r < rounds; r++ {
		clock.Advance(30 * time.Second)
		user := twofactor.User{ID: fmt.Sprintf("%s%d", prefix, r), Email: fmt.Sprintf("%s%d@example.com", prefix, r)}

		// Enroll TOTP on a, backup codes on b.
		secret := EnrollTOTP(t, a, b, clock, user)
		params := a.TOTP.Params()
		set, err := b.Backup.BeginEnroll(ctx, user, twofactor.EnrollRequest{})
		require.NoError(t, err)
		codes := set.Codes

		// One email code, many verifiers on both instances.
		begun, err := a.Service.Begin(ctx, user, client)
		require.NoError(t, err)
		require.Equal(t, twofactor.StatusChallenge, begun.Status)
		ch := begun.Challenge
		_, err = b.Service.Send(ctx, ch.ID, twofactor.MethodEmail, client)
		require.NoError(t, err)
		code, err := a.Mail.Code(user.Email)
		require.NoError(t, err)
		wins := race(goroutines, func(i int) bool {
			res, err := inst(i).Service.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodEmail, Code: code, UserID: user.ID, Client: client})
			return err == nil && res != nil
		})
		require.Equal(t, 1, wins, "round %d: one email code accepted %d times", r, wins)

		// One TOTP step and one backup code, each submitted on many
		// challenges of the same user.
		for _, m := range []struct {
			method twofactor.Method
			answer string
		}{
			{twofactor.MethodTOTP, params.Code(secret, clock.Now())},
			{twofactor.MethodBackupCode, strings.ToUpper(codes[r%len(codes)])},
		} {
			// The challenges are begun concurrently too: setup, not the race.
			ids := make([]string, goroutines)
			errs := make([]error, goroutines)
			race(goroutines, func(i int) bool {
				begun, err := inst(i).Service.Begin(ctx, user, client)
				if err == nil {
					ids[i] = begun.Challenge.ID
				}
				errs[i] = err
				return err == nil
			})
			for _, err := range errs {
				require.NoError(t, err)
			}
			wins := race(goroutines, func(i int) bool {
				res, err := inst(i).Service.Verify(ctx, twofactor.Answer{ChallengeID: ids[i], Method: m.method, Code: m.answer, UserID: user.ID, Client: client})
				return err == nil && res != nil
			})
			require.Equal(t, 1, wins, "round %d: one %s answer accepted %d times", r, m.method, wins)
		}
	}
}

// EnrollTOTP enrolls a TOTP app for user, begun through a and confirmed
// through b, and returns its secret. The clock moves past the confirming
// step.
func EnrollTOTP(t *testing.T, a, b *Instance, clock *storetest.Clock, user twofactor.User) []byte {
	t.Helper()
	ctx := context.Background()
	p, err := a.TOTP.BeginEnroll(ctx, user, twofactor.EnrollRequest{})
	require.NoError(t, err)
	secret, err := totp.DecodeSecret(p.Secret)
	require.NoError(t, err)
	_, err = b.TOTP.ConfirmEnroll(ctx, user, a.TOTP.Params().Code(secret, clock.Now()))
	require.NoError(t, err)
	clock.Advance(30 * time.Second)
	return secret
}

// wrongTOTP returns n distinct six-digit codes that no step of the
// verification window accepts now.
func wrongTOTP(a *Instance, secret []byte, now time.Time, n int) []string {
	params := a.TOTP.Params()
	valid := map[string]bool{}
	for d := -2; d <= 2; d++ {
		valid[params.Code(secret, now.Add(time.Duration(d)*30*time.Second))] = true
	}
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		if c := fmt.Sprintf("%06d", 100000+i*7919%900000); !valid[c] {
			out = append(out, c)
		}
	}
	return out
}

// LockoutRace is an attacker who knows the password: on each of rounds
// fresh users it opens challenges goroutines/5 at a time across both
// instances, then fires five distinct wrong TOTP codes at each at once.
// However the requests interleave across the instances, exactly the
// user's limit of answers may reach the factor; the rest are refused as
// locked, and the failure count left is the limit.
func LockoutRace(t *testing.T, a, b *Instance, clock *storetest.Clock, rounds, goroutines int) {
	prefix := fmt.Sprintf("lr%d-", time.Now().UnixNano())
	for r := 0; r < rounds; r++ {
		user := twofactor.User{ID: fmt.Sprintf("%s%d", prefix, r)}
		secret := EnrollTOTP(t, a, b, clock, user)
		ids := openChallenges(t, a, b, user, goroutines/5, nil)
		codes := wrongTOTP(a, secret, clock.Now(), goroutines)
		lockoutRace(t, a, b, user, r, goroutines, func(i int) twofactor.Answer {
			return twofactor.Answer{ChallengeID: ids[i%len(ids)], Method: twofactor.MethodTOTP, Code: codes[i]}
		})
	}
}

// LockoutRaceEmail is LockoutRace with email codes, whose check goes in
// the round trip that counts the answer and runs only when the count
// admits it: on each of rounds fresh users it opens goroutines/5
// challenges across both instances, sends a code on each, then fires five
// wrong codes at each at once. Exactly the user's limit of answers reach
// a code (refused as wrong); the rest are refused as locked, and none of
// those is checked against a code: checked, the codes the instances'
// stores checked (storespy.Spy.Checked of each), grows by exactly the
// limit. The instances' sending caps must be out of the way (not
// Options.DefaultCaps).
func LockoutRaceEmail(t *testing.T, a, b *Instance, checkedCodes func() int64, rounds, goroutines int) {
	ctx := context.Background()
	prefix := fmt.Sprintf("lre%d-", time.Now().UnixNano())
	for r := 0; r < rounds; r++ {
		user := twofactor.User{ID: fmt.Sprintf("%s%d", prefix, r), Email: fmt.Sprintf("%s%d@example.com", prefix, r)}
		var wrong []string
		ids := openChallenges(t, a, b, user, goroutines/5, func(i int, id string) {
			_, err := pick(a, b, i+1).Service.Send(ctx, id, twofactor.MethodEmail, client)
			require.NoError(t, err)
			code, err := a.Mail.Code(user.Email)
			require.NoError(t, err)
			wrong = append(wrong, fmt.Sprintf("%06d", (atoi(code)+1)%1000000))
		})
		before := checkedCodes()
		lockoutRace(t, a, b, user, r, goroutines, func(i int) twofactor.Answer {
			j := i % len(ids)
			return twofactor.Answer{ChallengeID: ids[j], Method: twofactor.MethodEmail, Code: wrong[j]}
		})
		require.EqualValues(t, defaultMaxUserFailures, checkedCodes()-before, "round %d: codes the stores checked", r)
	}
}

// pick is a for even i, b for odd: the instance of request i.
func pick(a, b *Instance, i int) *Instance {
	if i%2 == 0 {
		return a
	}
	return b
}

// openChallenges begins n challenges of user across a and b, calling
// then, when set, on each as it is begun.
func openChallenges(t *testing.T, a, b *Instance, user twofactor.User, n int, then func(i int, id string)) []string {
	ids := make([]string, n)
	for i := range ids {
		begun, err := pick(a, b, i).Service.Begin(context.Background(), user, client)
		require.NoError(t, err)
		ids[i] = begun.Challenge.ID
		if then != nil {
			then(i, ids[i])
		}
	}
	return ids
}

// lockoutRace sends the wrong answers answer(0) … answer(goroutines-1)
// of user at once across a and b, and checks that exactly the user's
// limit of them reached the factor (refused as wrong, or as the last of a
// challenge's answers), that the others were refused as locked, and that
// the user is locked out after.
func lockoutRace(t *testing.T, a, b *Instance, user twofactor.User, round, goroutines int, answer func(i int) twofactor.Answer) {
	ctx := context.Background()
	var checked, locked, other atomic.Int64
	race(goroutines, func(i int) bool {
		ans := answer(i)
		ans.UserID, ans.Client = user.ID, client
		_, err := pick(a, b, i).Service.Verify(ctx, ans)
		switch {
		case errors.Is(err, twofactor.ErrLocked):
			locked.Add(1)
		case errors.Is(err, twofactor.ErrInvalidCode), errors.Is(err, twofactor.ErrTooManyAttempts):
			checked.Add(1)
		default:
			other.Add(1)
		}
		return false
	})
	require.Zero(t, other.Load(), "round %d: answers that were neither checked nor refused", round)
	require.EqualValues(t, defaultMaxUserFailures, checked.Load(), "round %d: wrong answers that reached the factor", round)
	require.EqualValues(t, goroutines-defaultMaxUserFailures, locked.Load(), "round %d", round)
	_, err := b.Service.Begin(ctx, user, client)
	require.ErrorIs(t, err, twofactor.ErrLocked, "round %d", round)
}

// atoi is the value of a string of decimal digits.
func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// UserIDBounds runs a whole flow for a user id of exactly
// twofactor.MaxUserIDLen bytes (non-ASCII) on the store, and checks that
// longer ids and ids with control characters are refused with
// ErrInvalidInput before they reach it.
func UserIDBounds(t *testing.T, a, b *Instance, clock *storetest.Clock) {
	ctx := context.Background()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	id += strings.Repeat("ü", (twofactor.MaxUserIDLen-len(id))/2)
	id += strings.Repeat("x", twofactor.MaxUserIDLen-len(id))
	require.Len(t, id, twofactor.MaxUserIDLen)
	user := twofactor.User{ID: id, Email: "bounds@example.com"}
	secret := EnrollTOTP(t, a, b, clock, user)
	_, err := b.Backup.BeginEnroll(ctx, user, twofactor.EnrollRequest{})
	require.NoError(t, err)

	// A wrong answer, then the email code, then TOTP: every counter and
	// state key of the user is written.
	begun, err := a.Service.Begin(ctx, user, client)
	require.NoError(t, err)
	_, err = b.Service.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodTOTP, Code: wrongTOTP(a, secret, clock.Now(), 1)[0], Client: client})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	_, err = a.Service.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	code, err := a.Mail.Code(user.Email)
	require.NoError(t, err)
	res, err := b.Service.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail, Code: code, Client: client})
	require.NoError(t, err)
	require.Equal(t, id, res.User.ID)
	begun, err = b.Service.Begin(ctx, user, client)
	require.NoError(t, err)
	_, err = a.Service.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodTOTP, Code: a.TOTP.Params().Code(secret, clock.Now()), Client: client})
	require.NoError(t, err)
	require.NoError(t, a.Service.PasswordChanged(ctx, id))

	for _, bad := range []string{id + "x", "nul\x00byte", "new\nline", "\xff"} {
		_, err := a.Service.Begin(ctx, twofactor.User{ID: bad}, client)
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, "%q", bad)
		_, err = a.TOTP.BeginEnroll(ctx, twofactor.User{ID: bad}, twofactor.EnrollRequest{})
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, "%q", bad)
		_, err = a.Backup.BeginEnroll(ctx, twofactor.User{ID: bad}, twofactor.EnrollRequest{})
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, "%q", bad)
	}
}

// VerificationSpendsNoLoginBudget: accounts of an attacker on both
// instances ask to verify the victim's address until refused; the victim
// still gets a login code. The instances must keep the default caps
// (Options.DefaultCaps).
func VerificationSpendsNoLoginBudget(t *testing.T, a, b *Instance) {
	ctx := context.Background()
	prefix := fmt.Sprintf("vb%d-", time.Now().UnixNano())
	victim := twofactor.User{ID: prefix + "victim", Email: prefix + "victim@example.com"}
	refused := 0
	for i := 0; i < 60; i++ {
		attacker := twofactor.User{ID: fmt.Sprintf("%sattacker%d", prefix, i%3), Email: victim.Email}
		if _, err := inst2(a, b, i).Email.BeginEnroll(ctx, attacker, twofactor.EnrollRequest{Client: client, Restart: true}); err != nil {
			require.ErrorIs(t, err, twofactor.ErrRateLimited)
			refused++
		}
	}
	require.NotZero(t, refused, "verification sends are capped")
	home := twofactor.Client{IP: netip.MustParseAddr("192.0.2.44"), UserAgent: "victim"}
	for i := 0; i < 3; i++ {
		begun, err := inst2(a, b, i).Service.Begin(ctx, victim, home)
		require.NoError(t, err)
		_, err = inst2(a, b, i+1).Service.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, home)
		require.NoError(t, err, "login code %d for the victim", i+1)
	}
}

func inst2(a, b *Instance, i int) *Instance {
	if i%2 == 0 {
		return a
	}
	return b
}

// ClientTrail runs on in every step that counts a client network (Begin,
// a login code sent, a wrong and a right answer, an address verification
// sent) from an IPv4 client and an IPv6 one, and returns every form in
// which their addresses could be written down: the store tests read
// every record afterwards and check that none holds any of them.
func ClientTrail(t *testing.T, in *Instance) []string {
	t.Helper()
	ctx := context.Background()
	prefix := fmt.Sprintf("ct%d-", time.Now().UnixNano())
	clients := []twofactor.Client{
		{IP: netip.MustParseAddr("203.0.113.77"), UserAgent: "trail"},
		{IP: netip.MustParseAddr("2001:db8:77:1::abcd"), UserAgent: "trail"},
	}
	for i, c := range clients {
		u := twofactor.User{ID: fmt.Sprintf("%suser%d", prefix, i), Email: fmt.Sprintf("%suser%d@example.com", prefix, i)}
		begun, err := in.Service.Begin(ctx, u, c)
		require.NoError(t, err)
		require.Equal(t, twofactor.StatusChallenge, begun.Status)
		_, err = in.Service.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, c)
		require.NoError(t, err)
		code, err := in.Mail.Code(u.Email)
		require.NoError(t, err)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		a := twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail, Code: wrong, UserID: u.ID, Client: c}
		_, err = in.Service.Verify(ctx, a)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
		a.Code = code
		_, err = in.Service.Verify(ctx, a)
		require.NoError(t, err)
		_, err = in.Email.BeginEnroll(ctx, twofactor.User{ID: u.ID + "-other", Email: u.Email}, twofactor.EnrollRequest{Client: c, Restart: true})
		require.NoError(t, err, "a verification send")
	}
	return []string{"203.0.113.77", "203.0.113", "2001:db8:77:1::abcd", "2001:db8:77:1", "2001:db8:77:1::/64", "2001:0db8", "20010db8"}
}

// BackupCodeDoubleSubmitService is BackupCodeDoubleSubmit through the
// Service, which runs the factor's check in the round trip that counts
// the answer (twofactor.BatchVerifier): twins challenges of one user, one
// per goroutine, begun across a and b, are answered at once with the
// same backup code. Exactly one is let in, and none of the others counts
// toward the user's lockout: each was a reuse, taken back, or was
// refused before it reached the code, so the user's run of wrong answers
// (read with peek) is empty after every round.
func BackupCodeDoubleSubmitService(t *testing.T, a, b *Instance, peek func(key string) int64, prefix string, rounds, twins int) {
	t.Helper()
	ctx := context.Background()
	for round := range rounds {
		user := twofactor.User{ID: fmt.Sprint(prefix, round)}
		set, err := a.Backup.BeginEnroll(ctx, user, twofactor.EnrollRequest{})
		require.NoError(t, err)
		ids := openChallenges(t, a, b, user, twins, nil)
		errs := make(chan error, twins)
		start := make(chan struct{})
		for i, id := range ids {
			go func() {
				<-start
				_, err := pick(a, b, i).Service.Verify(ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodBackupCode, Code: set.Codes[0], Client: client})
				errs <- err
			}()
		}
		close(start)
		accepted := 0
		for range twins {
			switch err := <-errs; {
			case err == nil:
				accepted++
			case !errors.Is(err, twofactor.ErrInvalidCode) && !errors.Is(err, twofactor.ErrLocked):
				t.Fatalf("round %d: a twin's answer was %v", round, err)
			}
		}
		require.Equal(t, 1, accepted, "round %d", round)
		require.Zero(t, peek("tf:fail:"+user.ID), "round %d: a twin counted toward the lockout", round)
	}
}

// BackupCodeDoubleSubmit submits one backup code on the challenges of
// twins goroutines at once, half through each instance, for each of
// rounds fresh users (named prefix and the round), and requires that the
// code is accepted exactly once and that every other submission is a
// reuse (twofactor.ErrCodeReused, which the lockout does not count),
// never a wrong code. That holds only when the factor's batch (the
// submission's count, the code's consumption) runs isolated from its
// twins', so that the twin that counted the submission first is the one
// that finds the code.
func BackupCodeDoubleSubmit(t *testing.T, a, b *Instance, now func() time.Time, prefix string, rounds, twins int) {
	t.Helper()
	ctx := context.Background()
	for round := range rounds {
		user := twofactor.User{ID: fmt.Sprint(prefix, round)}
		set, err := a.Backup.BeginEnroll(ctx, user, twofactor.EnrollRequest{})
		require.NoError(t, err)
		ch := &twofactor.Challenge{User: user, Purpose: twofactor.PurposeLogin, ExpiresAt: now().Add(time.Minute)}
		errs := make(chan error, twins)
		for i := range twins {
			f := a.Backup
			if i%2 == 1 {
				f = b.Backup
			}
			go func() {
				_, err := f.Verify(ctx, ch, set.Codes[0])
				errs <- err
			}()
		}
		accepted := 0
		for range twins {
			switch err := <-errs; {
			case err == nil:
				accepted++
			case !errors.Is(err, twofactor.ErrCodeReused):
				t.Fatalf("round %d: a twin's answer was %v, not a reuse", round, err)
			}
		}
		require.Equal(t, 1, accepted, "round %d", round)
	}
}
