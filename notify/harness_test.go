package notify_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/notify"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
)

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A backend opens stores on one database: each call gives another app
// instance's store (the memory store is one value shared by both).
type backend struct {
	name string
	new  func(t *testing.T, now func() time.Time) func() twofactor.Store
}

var backends = []backend{
	{"memory", func(t *testing.T, now func() time.Time) func() twofactor.Store {
		m := store.NewMemory(now)
		return func() twofactor.Store { return m }
	}},
	{"sqlite", func(t *testing.T, now func() time.Time) func() twofactor.Store {
		path := filepath.Join(t.TempDir(), "tf.db")
		migrated := false
		return func() twofactor.Store {
			db, err := sqlite.Open(path)
			require.NoError(t, err)
			st, err := sqlstore.New(db, sqlstore.Options{Now: now, SweepInterval: -1})
			require.NoError(t, err)
			if !migrated {
				require.NoError(t, st.Migrate(context.Background()))
				migrated = true
			}
			t.Cleanup(func() {
				st.Close()
				db.Close()
			})
			return st
		}
	}},
}

// eachStore runs fn on the memory store and on SQLite.
func eachStore(t *testing.T, fn func(t *testing.T, open func() twofactor.Store, clk *clock)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			clk := newClock()
			fn(t, b.new(t, clk.Now), clk)
		})
	}
}

var (
	ann = twofactor.User{ID: "u-ann", Email: "ann@example.com", DisplayName: "Ann"}
	bob = twofactor.User{ID: "u-bob", Email: "bob@example.org", DisplayName: "Bob"}
	// nomail has no address: nothing can be sent to them.
	nomail = twofactor.User{ID: "u-nomail"}

	users = map[string]twofactor.User{ann.ID: ann, bob.ID: bob, nomail.ID: nomail}
)

func lookup(_ context.Context, id string) (twofactor.User, error) {
	u, ok := users[id]
	if !ok {
		return twofactor.User{}, twofactor.ErrUnknownUser
	}
	return u, nil
}

const (
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	phone     = "+14155550112"
)

// client is the browser in every test sign-in: its user agent reaches the
// events, and names the browser in messages.
var client = twofactor.Client{IP: netip.MustParseAddr("203.0.113.7"), UserAgent: firefoxUA}

// recorder keeps every event the Service and the notifier emit.
type recorder struct{ eventlog.Log }

// warnings returns the notifier's warnings.
func (r *recorder) warnings() []event.Event {
	var out []event.Event
	for _, ev := range r.OfType(event.Warning) {
		if strings.HasPrefix(string(ev.Reason), "notify_") {
			out = append(out, ev)
		}
	}
	return out
}

// testEnv is an Env for a notifier built on its own: a memory store, the
// users above, and events to rec.
func testEnv(t *testing.T, rec *recorder) twofactor.Env {
	return twofactor.Env{Store: openMemory(newClock()), Keys: newKeys(t), Users: lookup,
		Events: &event.Sink{Discard: true, Hook: rec.Hook}}
}

// app is one app instance: a Service with TOTP, SMS, opt-in email, backup
// codes and trusted devices, and the notifier among its listeners. drain
// shuts the Service down (which sends what its notifier queued) and builds
// it again on the same store, as an app restarted.
type app struct {
	t       *testing.T
	clk     *clock
	st      twofactor.Store
	keys    *keyring.Ring
	svc     *twofactor.Service
	bc      *backupcodes.Factor
	sms     *smscode.Outbox
	codes   *emailcode.Outbox
	mail    *emailcode.Outbox // the notifications
	rec     *recorder
	mod     func(*notify.Config)
	cur     atomic.Pointer[notify.Notifier] // the notifier the Service built
	secrets []string
	totp    map[string]string // user id: TOTP secret
}

func newApp(t *testing.T, st twofactor.Store, clk *clock, keys *keyring.Ring, mail *emailcode.Outbox, mod func(*notify.Config)) *app {
	t.Helper()
	a := &app{t: t, clk: clk, st: st, keys: keys, sms: &smscode.Outbox{}, codes: &emailcode.Outbox{}, mail: mail,
		rec: &recorder{}, mod: mod, totp: map[string]string{}}
	a.build()
	t.Cleanup(func() { a.svc.Shutdown(context.Background()) })
	return a
}

// captured is the test's notify.Config in the Service's listeners: it
// builds the notifier through notify.Config.NewListener and keeps it, so
// a test can drive its grace.
type captured struct {
	notify.Config
	into *atomic.Pointer[notify.Notifier]
}

func (c captured) NewListener(env twofactor.Env) (twofactor.Listener, error) {
	l, err := c.Config.NewListener(env)
	if err != nil {
		return nil, err
	}
	c.into.Store(l.(*notify.Notifier))
	return l, nil
}

// build makes the Service, and the notifier with it.
func (a *app) build() {
	a.t.Helper()
	svc, err := twofactor.New(twofactor.Config{
		Store: a.st, Keys: a.keys,
		Factors: []twofactor.FactorConfig{
			totp.Config{Issuer: "Example"},
			smscode.Config{Sender: a.sms},
			emailcode.Config{Sender: a.codes, Enrollment: emailcode.EnrollOptIn},
			backupcodes.Config{Count: 4},
		},
		Trust:     trust.Config{},
		Listeners: []twofactor.ListenerConfig{captured{a.config(), &a.cur}},
		Users:     lookup,
		// Every event, and the notifier's warnings, go to the recorder.
		Events: &event.Sink{Discard: true, Now: a.clk.Now, Hook: a.rec.Hook},
		Now:    a.clk.Now,
	})
	require.NoError(a.t, err)
	f, ok := svc.Factor(twofactor.MethodBackupCode)
	require.True(a.t, ok)
	a.bc = f.(*backupcodes.Factor)
	a.svc = svc
}

// config is the notifier's configuration in these tests.
func (a *app) config() notify.Config {
	cfg := notify.Config{
		Sender: a.mail, ProductName: "Example",
		Links: notify.Links{Security: "https://example.com/settings/security", Devices: "https://example.com/settings/devices",
			Password: "https://example.com/settings/password"},
		Grace: notify.NoGrace,
	}
	if a.mod != nil {
		a.mod(&cfg)
	}
	return cfg
}

// drain sends everything queued, and builds the Service and a fresh
// notifier again.
func (a *app) drain() {
	a.t.Helper()
	require.NoError(a.t, a.svc.Shutdown(context.Background()))
	a.build()
}

func (a *app) n() *notify.Notifier { return a.cur.Load() }

// code returns the user's current TOTP code, and moves the clock past its
// step so the next call gives a fresh one.
func (a *app) code(u twofactor.User) string {
	a.t.Helper()
	c, err := pqtotp.GenerateCode(a.totp[u.ID], a.clk.Now())
	require.NoError(a.t, err)
	a.clk.Advance(30 * time.Second)
	a.secrets = append(a.secrets, c)
	return c
}

// wrong returns a code that the user's authenticator does not show now.
func (a *app) wrong(u twofactor.User) string {
	for _, w := range []string{"000000", "111111", "222222"} {
		ok := false
		for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
			c, err := pqtotp.GenerateCode(a.totp[u.ID], a.clk.Now().Add(d))
			require.NoError(a.t, err)
			ok = ok || c == w
		}
		if !ok {
			return w
		}
	}
	panic("no wrong code")
}

// turnOn enrolls an authenticator app as the user's first factor.
func (a *app) turnOn(u twofactor.User) {
	a.t.Helper()
	ctx := context.Background()
	en, err := a.svc.BeginEnroll(ctx, u, twofactor.MethodTOTP, twofactor.EnrollRequest{Client: client}, "")
	require.NoError(a.t, err)
	a.totp[u.ID] = en.Secret
	a.secrets = append(a.secrets, en.Secret, en.URI)
	done, err := a.svc.ConfirmEnroll(ctx, u, twofactor.MethodTOTP, a.code(u))
	require.NoError(a.t, err)
	require.NotEmpty(a.t, done.BackupCodes)
	a.secrets = append(a.secrets, done.BackupCodes...)
}

// proof verifies the user's authenticator for purpose and returns the
// proof.
func (a *app) proof(u twofactor.User, p twofactor.Purpose) string {
	a.t.Helper()
	ctx := context.Background()
	ch, err := a.svc.StepUp(ctx, u, client, p)
	require.NoError(a.t, err)
	res, err := a.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: a.code(u),
		Purpose: p, UserID: u.ID, Client: client})
	require.NoError(a.t, err)
	a.secrets = append(a.secrets, res.Proof)
	return res.Proof
}

// addPhone enrolls a phone number for text messages.
func (a *app) addPhone(u twofactor.User) {
	a.t.Helper()
	ctx := context.Background()
	_, err := a.svc.BeginEnroll(ctx, u, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: phone, Client: client},
		a.proof(u, twofactor.PurposeEnroll))
	require.NoError(a.t, err)
	m, ok := a.sms.Last(phone)
	require.True(a.t, ok)
	c := regexp.MustCompile(`\d{6}`).FindString(m.Body)
	a.secrets = append(a.secrets, c)
	_, err = a.svc.ConfirmEnroll(ctx, u, twofactor.MethodSMS, c)
	require.NoError(a.t, err)
}

// begin starts a login challenge.
func (a *app) begin(u twofactor.User) string {
	a.t.Helper()
	b, err := a.svc.Begin(context.Background(), u, client)
	require.NoError(a.t, err)
	require.Equal(a.t, twofactor.StatusChallenge, b.Status)
	a.secrets = append(a.secrets, b.Challenge.ID)
	return b.Challenge.ID
}

// fail answers the challenge wrongly, as someone with the password would.
func (a *app) fail(u twofactor.User, chID string) error {
	_, err := a.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: chID, Method: twofactor.MethodTOTP, Code: a.wrong(u),
		UserID: u.ID, Client: client})
	return err
}

// pass answers the challenge rightly.
func (a *app) pass(u twofactor.User, chID string, remember bool) *twofactor.Result {
	a.t.Helper()
	res, err := a.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: chID, Method: twofactor.MethodTOTP, Code: a.code(u),
		UserID: u.ID, Client: client, RememberDevice: remember})
	require.NoError(a.t, err)
	a.secrets = append(a.secrets, res.Proof)
	if res.Device != nil {
		a.secrets = append(a.secrets, res.Device.Token)
	}
	return res
}

// to returns the notifications sent to addr, oldest first.
func to(box *emailcode.Outbox, addr string) []emailcode.Message {
	var out []emailcode.Message
	for _, m := range box.Messages() {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

// about returns the messages whose subject says what kind k's does.
func about(msgs []emailcode.Message, k notify.Kind) []emailcode.Message {
	subject := notify.DefaultStrings().Kinds[k].Subject
	var out []emailcode.Message
	for _, m := range msgs {
		if strings.HasSuffix(m.Subject, subject) {
			out = append(out, m)
		}
	}
	return out
}

var longDigits = regexp.MustCompile(`\d{6,}`)

// requireClean fails when a message holds a secret the test handled, a
// run of six digits or more (a code, a phone number), or the phone number
// in any spelling.
func requireClean(t *testing.T, msgs []emailcode.Message, secrets []string) {
	t.Helper()
	for _, m := range msgs {
		for _, part := range []string{m.Subject, m.Text, m.HTML} {
			for _, s := range secrets {
				if s != "" {
					require.NotContains(t, part, s, "a secret in a message to %s", m.To)
				}
			}
			require.NotRegexp(t, longDigits, part, "a code or number in a message to %s", m.To)
			for _, p := range []string{"555-0112", "555 0112", "5550112", "(415)"} {
				require.NotContains(t, part, p)
			}
		}
		require.NotContains(t, m.Subject, "@")
	}
}
