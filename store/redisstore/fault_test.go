package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// proxy forwards TCP connections to Redis until it is told to go silent:
// from then on it reads what clients send and answers nothing, like a
// server that hangs or a network that drops packets. With hangUp set as
// well, it closes each connection as soon as it has swallowed what a
// client sent: the request is lost and the client learns it at once,
// without waiting for a timer of its own.
type proxy struct {
	ln     net.Listener
	target string
	silent atomic.Bool
	hangUp atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.track(c)
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

// swallow reads what c sends and answers nothing, until c closes or, with
// hangUp, until the first thing it sent is swallowed.
func (p *proxy) swallow(c net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
		if p.hangUp.Load() {
			_ = c.Close()
			return
		}
	}
}

func (p *proxy) serve(c net.Conn) {
	if p.silent.Load() || p.target == "" {
		p.swallow(c)
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.track(up)
	go func() {
		_, _ = io.Copy(c, up)
		_ = c.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			_ = up.Close()
			return
		}
		if p.silent.Load() {
			if p.hangUp.Load() {
				_ = c.Close()
				_ = up.Close()
				return
			}
			continue
		}
		if _, err := up.Write(buf[:n]); err != nil {
			return
		}
	}
}

// impatient are client options for broken servers: short timeouts and no
// retries, so a test waits milliseconds, not seconds.
func impatient(addr string) *redis.Options {
	return &redis.Options{
		Addr:         addr,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  50 * time.Millisecond,
		WriteTimeout: 50 * time.Millisecond,
		PoolTimeout:  200 * time.Millisecond,
		MaxRetries:   -1,
		// One dial attempt per command.
		DialerRetries:      1,
		DialerRetryTimeout: time.Millisecond,
	}
}

// patient are client options for a set-up through the proxy on a machine
// that may be loaded: generous timeouts, so that only the fault a test
// injects fails a command, and no retries, so that the fault is seen.
func patient(addr string) *redis.Options {
	return &redis.Options{
		Addr:               addr,
		DialTimeout:        10 * time.Second,
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       30 * time.Second,
		PoolTimeout:        10 * time.Second,
		MaxRetries:         -1,
		DialerRetries:      1,
		DialerRetryTimeout: time.Millisecond,
	}
}

// op is one store operation; ok reports whether it returned a success
// (a value, a match, a first mark, an advance, a count).
type op struct {
	name string
	call func(ctx context.Context) (ok bool, err error)
}

func allOps(s *Store, now time.Time) []op {
	exp := now.Add(time.Minute)
	hash := []byte("hash")
	return []op{
		{"PutState", func(ctx context.Context) (bool, error) { return false, s.PutState(ctx, "st", []byte("v"), exp) }},
		{"GetState", func(ctx context.Context) (bool, error) { v, err := s.GetState(ctx, "st"); return v != nil, err }},
		{"TakeState", func(ctx context.Context) (bool, error) { v, err := s.TakeState(ctx, "st"); return v != nil, err }},
		{"DeleteState", func(ctx context.Context) (bool, error) { return false, s.DeleteState(ctx, "st") }},
		{"PutCode", func(ctx context.Context) (bool, error) {
			return false, s.PutCode(ctx, store.Code{Group: "g", Key: "k", Hash: hash, ExpiresAt: exp, MaxAttempts: 3})
		}},
		{"ConsumeCode", func(ctx context.Context) (bool, error) {
			st, err := s.ConsumeCode(ctx, "g", "k", hash)
			return st != store.CodeNotFound, err
		}},
		{"DeleteCode", func(ctx context.Context) (bool, error) { return false, s.DeleteCode(ctx, "g", "k") }},
		{"DeleteGroup", func(ctx context.Context) (bool, error) { return false, s.DeleteGroup(ctx, "g") }},
		{"CountGroup", func(ctx context.Context) (bool, error) { n, err := s.CountGroup(ctx, "g"); return n != 0, err }},
		{"Incr", func(ctx context.Context) (bool, error) {
			n, r, err := s.Incr(ctx, "c", time.Minute)
			return n != 0 || !r.IsZero(), err
		}},
		{"Peek", func(ctx context.Context) (bool, error) {
			n, r, err := s.Peek(ctx, "c")
			return n != 0 || !r.IsZero(), err
		}},
		{"ResetCounter", func(ctx context.Context) (bool, error) { return false, s.ResetCounter(ctx, "c") }},
		{"IncrBelow", func(ctx context.Context) (bool, error) {
			out, err := s.IncrBelow(ctx, []store.BoundedIncr{{Key: "c", Window: time.Minute, Max: 5}, {Key: "c2", Window: time.Minute, Max: 5}})
			return out != nil, err
		}},
		{"Decr", func(ctx context.Context) (bool, error) { return false, s.Decr(ctx, "c") }},
		{"RunBatch", func(ctx context.Context) (bool, error) {
			ops := []store.Op{{Kind: store.OpGetState, Key: "st"}, {Kind: store.OpMarkUsed, Key: "m2", Time: exp}}
			err := s.RunBatch(ctx, ops)
			return ops[0].Found || ops[1].First, err
		}},
		{"PutOwnedState", func(ctx context.Context) (bool, error) {
			return false, s.PutOwnedState(ctx, "u", "os", []byte("v"), exp)
		}},
		{"DeleteOwnedStates", func(ctx context.Context) (bool, error) { return false, s.DeleteOwnedStates(ctx, "u") }},
		{"MarkUsed", func(ctx context.Context) (bool, error) { return s.MarkUsed(ctx, "m", exp) }},
		{"Advance", func(ctx context.Context) (bool, error) { return s.Advance(ctx, "a", 42, exp) }},
		{"PutEnrollment", func(ctx context.Context) (bool, error) {
			return false, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u", ID: "e", Method: "totp"})
		}},
		{"GetEnrollment", func(ctx context.Context) (bool, error) {
			e, err := s.GetEnrollment(ctx, "u", "e")
			return e.ID != "", err
		}},
		{"ListEnrollments", func(ctx context.Context) (bool, error) {
			l, err := s.ListEnrollments(ctx, "u")
			return len(l) > 0, err
		}},
		{"DeleteEnrollment", func(ctx context.Context) (bool, error) { return false, s.DeleteEnrollment(ctx, "u", "e") }},
		{"PutDevice", func(ctx context.Context) (bool, error) {
			return false, s.PutDevice(ctx, store.Device{ID: "d", UserID: "u", ExpiresAt: exp})
		}},
		{"GetDevice", func(ctx context.Context) (bool, error) { d, err := s.GetDevice(ctx, "d"); return d.ID != "", err }},
		{"ListDevices", func(ctx context.Context) (bool, error) {
			l, err := s.ListDevices(ctx, "u")
			return len(l) > 0, err
		}},
		{"DeleteDevice", func(ctx context.Context) (bool, error) { return false, s.DeleteDevice(ctx, "d") }},
		{"Sweep", func(ctx context.Context) (bool, error) { n, err := s.Sweep(ctx); return n != 0, err }},
	}
}

// TestFaults checks that every operation on a dead connection returns an
// error and never a success: a closed client, a refused address, and a
// server that accepts connections but never answers.
func TestFaults(t *testing.T) {
	addr := testenv.RedisAddr(t)
	// go-redis logs every failed dial to stderr; the failures are the point
	// here. (The logger is global; no other test needs it.)
	redis.SetLogger(quietLogger{})
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	clients := []struct {
		name string
		rdb  func(t *testing.T) redis.UniversalClient
	}{
		{"closed client", func(t *testing.T) redis.UniversalClient {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			require.NoError(t, rdb.Ping(context.Background()).Err(), "the client worked before it was closed")
			require.NoError(t, rdb.Close())
			return rdb
		}},
		{"connection refused", func(t *testing.T) redis.UniversalClient {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			dead := ln.Addr().String()
			require.NoError(t, ln.Close())
			rdb := redis.NewClient(impatient(dead))
			t.Cleanup(func() { _ = rdb.Close() })
			return rdb
		}},
		{"server never answers", func(t *testing.T) redis.UniversalClient {
			p := startProxy(t, "")
			rdb := redis.NewClient(impatient(p.addr()))
			t.Cleanup(func() { _ = rdb.Close() })
			return rdb
		}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.rdb(t), Options{Prefix: "tftest:faults:", Now: clk.Now})
			require.NoError(t, err)
			for _, o := range allOps(s, clk.Now()) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				ok, err := o.call(ctx)
				cancel()
				assert.Error(t, err, "%s on a dead connection", o.name)
				assert.False(t, ok, "%s reported a success on a dead connection", o.name)
				assert.False(t, errors.Is(err, store.ErrNotFound), "%s: a failure is not 'not found'", o.name)
			}
		})
	}
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// testFactor is a minimal host-written factor: Send issues a six-digit code
// for the challenge through store.Codes, Verify consumes it.
type testFactor struct {
	codes store.Codes
	keys  *keyring.Ring
	now   func() time.Time

	mu   sync.Mutex
	sent map[string]string // challenge id -> code (what the user would read)
}

const testHashDomain = "redisstore-test-code"

func (f *testFactor) Method() twofactor.Method { return "testcode" }

func (f *testFactor) Enrollments(context.Context, twofactor.User) ([]twofactor.Enrollment, error) {
	return []twofactor.Enrollment{{ID: "tc-1", Method: "testcode"}}, nil
}

func (f *testFactor) Send(ctx context.Context, ch *twofactor.Challenge, _ twofactor.Client) (twofactor.Sent, error) {
	code, err := secure.Digits(nil, 6)
	if err != nil {
		return twofactor.Sent{}, err
	}
	exp := f.now().Add(10 * time.Minute)
	err = f.codes.PutCode(ctx, store.Code{Group: ch.ID, Key: "code", Hash: f.keys.Hash(testHashDomain, []byte(code)), ExpiresAt: exp, MaxAttempts: 3})
	if err != nil {
		return twofactor.Sent{}, err
	}
	f.mu.Lock()
	f.sent[ch.ID] = code
	f.mu.Unlock()
	return twofactor.Sent{ExpiresAt: exp}, nil
}

func (f *testFactor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	st, err := f.codes.ConsumeCode(ctx, ch.ID, "code", f.keys.Hash(testHashDomain, []byte(answer)))
	if err != nil {
		return twofactor.Verified{}, err
	}
	switch st {
	case store.CodeMatched:
		return twofactor.Verified{EnrollmentID: "tc-1"}, nil
	case store.CodeExpired:
		return twofactor.Verified{}, twofactor.ErrCodeExpired
	}
	return twofactor.Verified{}, twofactor.ErrInvalidCode
}

func (f *testFactor) code(chID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[chID]
}

// flow is a Service on a Redis store.
type flow struct {
	svc    *twofactor.Service
	factor *testFactor
	client twofactor.Client
}

func newFlow(t *testing.T, rdb redis.UniversalClient, prefix string, now func() time.Time) *flow {
	t.Helper()
	s, err := New(rdb, Options{Prefix: prefix, Now: now})
	require.NoError(t, err)
	key, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	f := &testFactor{codes: s, keys: keys, now: now, sent: map[string]string{}}
	svc, err := twofactor.New(twofactor.Config{
		Store:   s,
		Keys:    keys,
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) { return f, nil })},
		Events:  &event.Sink{Discard: true},
		Now:     now,
	})
	require.NoError(t, err)
	return &flow{svc: svc, factor: f, client: twofactor.Client{IP: netip.MustParseAddr("203.0.113.7")}}
}

// begin starts a challenge and sends its code; it returns the answer.
func (fl *flow) begin(t *testing.T) twofactor.Answer {
	t.Helper()
	ctx := context.Background()
	b, err := fl.svc.Begin(ctx, twofactor.User{ID: "alice"}, fl.client)
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, b.Status)
	_, err = fl.svc.Send(ctx, b.Challenge.ID, "testcode", fl.client)
	require.NoError(t, err)
	code := fl.factor.code(b.Challenge.ID)
	require.Len(t, code, 6)
	return twofactor.Answer{ChallengeID: b.Challenge.ID, Method: "testcode", Code: code, Client: fl.client}
}

// TestFlowFailsClosed runs the login flow of a Service on the Redis store
// and breaks the connection between Send and Verify: Verify must return an
// error and no Result, even though the answer is right.
func TestFlowFailsClosed(t *testing.T) {
	addr := testenv.RedisAddr(t)
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()

	t.Run("healthy", func(t *testing.T) {
		rdb := newClient(t)
		fl := newFlow(t, rdb, testPrefix(t, rdb), clk.Now)
		a := fl.begin(t)
		res, err := fl.svc.Verify(ctx, a)
		require.NoError(t, err, "the right code verifies while Redis is up")
		require.NotNil(t, res)
		assert.Equal(t, "alice", res.User.ID)
		res, err = fl.svc.Verify(ctx, a)
		require.ErrorIs(t, err, twofactor.ErrChallengeNotFound, "a completed challenge is gone")
		assert.Nil(t, res)
	})

	t.Run("client closed", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		prefix := testPrefix(t, newClient(t))
		fl := newFlow(t, rdb, prefix, clk.Now)
		a := fl.begin(t)
		require.NoError(t, rdb.Close())
		res, err := fl.svc.Verify(ctx, a)
		require.Error(t, err)
		assert.ErrorIs(t, err, redis.ErrClosed)
		assert.Nil(t, res, "no Result on a store failure")
	})

	t.Run("server stops answering", func(t *testing.T) {
		// The set-up goes through the proxy with generous timeouts, so a
		// loaded machine cannot fail it; the fault is the proxy's, set
		// before Verify runs: every request from then on is swallowed and
		// its connection dropped, whatever the machine's speed.
		p := startProxy(t, addr)
		rdb := redis.NewClient(patient(p.addr()))
		t.Cleanup(func() { _ = rdb.Close() })
		prefix := testPrefix(t, newClient(t))
		fl := newFlow(t, rdb, prefix, clk.Now)
		a := fl.begin(t)
		p.hangUp.Store(true)
		p.silent.Store(true)
		res, err := fl.svc.Verify(ctx, a)
		require.Error(t, err)
		assert.Nil(t, res, "no Result on a store failure")
		assert.NotErrorIs(t, err, twofactor.ErrInvalidCode)
		_, err = fl.svc.Begin(ctx, twofactor.User{ID: "alice"}, fl.client)
		assert.Error(t, err, "Begin fails too")
	})
}

// failHook breaks the connection at a chosen command: once armed, command
// number at (1-based) and every later one fail. With lost set, the command
// reaches the server and only its reply is lost, so the server may have
// done what was asked (consumed a code, taken the challenge).
type failHook struct {
	mu    sync.Mutex
	armed bool
	at    int
	lost  bool
	seen  []string
	ends  []bool // per command seen: whether it may end a challenge
}

var errInjected = errors.New("connection reset (injected)")

func (h *failHook) arm(at int, lost bool) {
	h.mu.Lock()
	h.armed, h.at, h.lost, h.seen, h.ends = true, at, lost, nil, nil
	h.mu.Unlock()
}

func (h *failHook) disarm() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = false
	return h.seen
}

// ending returns the 1-based number of the last command seen since arm
// that may end a challenge: a GETDEL (the challenge taken), or a command
// that names a challenge's done counter (counted from 0 to 1; the count
// of an answer only reads it, earlier). It returns 0 for none.
func (h *failHook) ending() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for i, e := range h.ends {
		if e {
			n = i + 1
		}
	}
	return n
}

// fails records cmd and reports whether it must fail.
func (h *failHook) fails(cmd redis.Cmder) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.armed || handshake(cmd) {
		return false
	}
	h.seen = append(h.seen, cmd.Name())
	h.ends = append(h.ends, cmd.Name() == "getdel" || strings.Contains(fmt.Sprint(cmd.Args()...), "tf:done:"))
	return h.at > 0 && len(h.seen) >= h.at
}

func (h *failHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !h.fails(cmd) {
			return next(ctx, cmd)
		}
		if h.lost {
			_ = next(ctx, cmd)
		}
		cmd.SetErr(errInjected)
		return errInjected
	}
}

func (h *failHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		fail := false
		for _, cmd := range cmds {
			fail = h.fails(cmd) || fail
		}
		if !fail {
			return next(ctx, cmds)
		}
		if h.lost {
			_ = next(ctx, cmds)
		}
		for _, cmd := range cmds {
			cmd.SetErr(errInjected)
		}
		return errInjected
	}
}

// TestFlowFailsClosedAtEveryStep breaks the connection at each round trip
// Verify makes up to and including the one that completes the challenge,
// both before the command reaches Redis and after (reply lost): Verify
// never returns a Result.
func TestFlowFailsClosedAtEveryStep(t *testing.T) {
	clk := storetest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	rdb := newClient(t)
	hook := &failHook{}
	rdb.AddHook(hook)
	fl := newFlow(t, rdb, testPrefix(t, rdb), clk.Now)
	ctx := context.Background()

	// A healthy Verify, to learn its round trips.
	a := fl.begin(t)
	hook.arm(0, false)
	res, err := fl.svc.Verify(ctx, a)
	complete := hook.ending()
	cmds := hook.disarm()
	require.NoError(t, err)
	require.NotNil(t, res)
	require.Positive(t, complete, "Verify completes the challenge with a GETDEL or its done counter; saw %v", cmds)
	t.Logf("Verify round trips: %v", cmds)

	for _, lost := range []bool{false, true} {
		for at := 1; at <= complete; at++ {
			a := fl.begin(t)
			hook.arm(at, lost)
			res, err := fl.svc.Verify(ctx, a)
			seen := hook.disarm()
			require.Error(t, err, "failure at round trip %d (%s), reply lost %v", at, seen[at-1], lost)
			assert.ErrorIs(t, err, errInjected)
			require.Nil(t, res, "failure at round trip %d (%s), reply lost %v: got a Result", at, seen[at-1], lost)
		}
	}
}
