package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/redisstore"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/webauthn"
)

// backend is a store the commands run against: --db and --prefix for
// the command, and the store itself for the test to seed and inspect.
type backend struct {
	name   string
	db     string
	prefix string
	st     store.Store
}

func randomSuffix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sqliteBackend(t *testing.T) *backend {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sqlite.Open(path)
	require.NoError(t, err)
	st, err := sqlstore.New(db, sqlstore.Options{SweepInterval: -1})
	require.NoError(t, err)
	require.NoError(t, st.Migrate(context.Background()))
	t.Cleanup(func() { st.Close(); db.Close() })
	return &backend{name: "sqlite", db: path, st: st}
}

func postgresBackend(t *testing.T) *backend {
	dsn := testenv.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		testenv.Missing(t, "PostgreSQL", err.Error())
	}
	prefix := "cli" + randomSuffix() + "_"
	st, err := sqlstore.New(db, sqlstore.Options{TablePrefix: prefix, SweepInterval: -1})
	require.NoError(t, err)
	require.NoError(t, st.Migrate(context.Background()))
	t.Cleanup(func() {
		require.NoError(t, st.DropTables(context.Background()))
		st.Close()
	})
	return &backend{name: "postgres", db: dsn, prefix: prefix, st: st}
}

func mysqlBackend(t *testing.T) *backend {
	dsn := testenv.MySQLDSN(t)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		testenv.Missing(t, "MariaDB", err.Error())
	}
	prefix := "cli" + randomSuffix() + "_"
	st, err := sqlstore.New(db, sqlstore.Options{TablePrefix: prefix, SweepInterval: -1})
	require.NoError(t, err)
	require.NoError(t, st.Migrate(context.Background()))
	t.Cleanup(func() {
		require.NoError(t, st.DropTables(context.Background()))
		st.Close()
	})
	return &backend{name: "mysql", db: dsn, prefix: prefix, st: st}
}

func redisBackend(t *testing.T) *backend {
	addr := testenv.RedisAddr(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		testenv.Missing(t, "Redis", err.Error())
	}
	prefix := "clitest" + randomSuffix() + ":"
	st, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return &backend{name: "redis", db: "redis://" + addr + "/0", prefix: prefix, st: st}
}

// eachStore runs f against SQLite, PostgreSQL, MariaDB and Redis. The
// servers are skipped when missing, except in CI, where they must run.
func eachStore(t *testing.T, f func(t *testing.T, b *backend)) {
	for _, mk := range []struct {
		name string
		new  func(*testing.T) *backend
	}{{"sqlite", sqliteBackend}, {"postgres", postgresBackend}, {"mysql", mysqlBackend}, {"redis", redisBackend}} {
		t.Run(mk.name, func(t *testing.T) { f(t, mk.new(t)) })
	}
}

// app is the app the commands administer: a Service on the backend's
// store with every factor, as an app wires it, to seed users with.
type app struct {
	t       *testing.T
	b       *backend
	keys    []keyring.Key
	svc     *twofactor.Service
	totp    *totp.Factor
	sms     *smscode.Factor
	email   *emailcode.Factor
	backup  *backupcodes.Factor
	devices *trust.Manager
	smsBox  *smscode.Outbox
	mailBox *emailcode.Outbox
}

func newKey(t *testing.T, id string) keyring.Key {
	k, err := keyring.GenerateKey(id)
	require.NoError(t, err)
	return k
}

// newApp builds the app on b with the keys given, the first current.
func newApp(t *testing.T, b *backend, keys ...keyring.Key) *app {
	kr, err := keyring.New(keys...)
	require.NoError(t, err)
	a := &app{t: t, b: b, keys: keys, smsBox: &smscode.Outbox{}, mailBox: &emailcode.Outbox{}}
	a.svc, err = twofactor.New(twofactor.Config{
		Store: b.st, Keys: kr, Trust: trust.Config{},
		Factors: []twofactor.FactorConfig{
			totp.Config{Issuer: "Acme"},
			smscode.Config{Sender: a.smsBox},
			emailcode.Config{Sender: a.mailBox, Enrollment: emailcode.EnrollOptIn},
			webauthn.Config{RPID: "example.com", RPOrigins: []string{"https://example.com"}},
			backupcodes.Config{},
		},
		Events: &event.Sink{Discard: true},
	})
	require.NoError(t, err)
	a.totp = factor[*totp.Factor](t, a.svc, twofactor.MethodTOTP)
	a.sms = factor[*smscode.Factor](t, a.svc, twofactor.MethodSMS)
	a.email = factor[*emailcode.Factor](t, a.svc, twofactor.MethodEmail)
	a.backup = factor[*backupcodes.Factor](t, a.svc, twofactor.MethodBackupCode)
	a.devices = a.svc.Trust().(*trust.Manager)
	return a
}

// factor returns the Service's factor for m.
func factor[F twofactor.Factor](t *testing.T, svc *twofactor.Service, m twofactor.Method) F {
	f, ok := svc.Factor(m)
	require.True(t, ok, "no %s factor", m)
	return f.(F)
}

// keysFile writes the keys in the form twofactor keygen writes and
// returns the file's path.
func keysFile(t *testing.T, keys ...keyring.Key) string {
	var b strings.Builder
	b.WriteString("# test keys, current first\n")
	for _, k := range keys {
		b.WriteString(k.Encode() + "\n")
	}
	path := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

var ctx = context.Background()

// enrollTOTP gives the user an authenticator app and returns its secret.
func (a *app) enrollTOTP(userID string) []byte {
	u := twofactor.User{ID: userID}
	en, err := a.totp.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	require.NoError(a.t, err)
	secret, err := totp.DecodeSecret(en.Secret)
	require.NoError(a.t, err)
	_, err = a.totp.ConfirmEnroll(ctx, u, a.totp.Params().Code(secret, time.Now()))
	require.NoError(a.t, err)
	return secret
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// enrollSMS gives the user a phone, e.g. "+14155550112".
func (a *app) enrollSMS(userID, number string) {
	u := twofactor.User{ID: userID}
	_, err := a.sms.BeginEnroll(ctx, u, twofactor.EnrollRequest{Destination: number})
	require.NoError(a.t, err)
	m, ok := a.smsBox.Last(number)
	require.True(a.t, ok)
	_, err = a.sms.ConfirmEnroll(ctx, u, sixDigits.FindString(m.Body))
	require.NoError(a.t, err)
}

// enrollEmail gives the user a confirmed email address.
func (a *app) enrollEmail(userID, addr string) {
	u := twofactor.User{ID: userID}
	_, err := a.email.BeginEnroll(ctx, u, twofactor.EnrollRequest{Destination: addr})
	require.NoError(a.t, err)
	m, ok := a.mailBox.Last(addr)
	require.True(a.t, ok)
	_, err = a.email.ConfirmEnroll(ctx, u, sixDigits.FindString(m.Text))
	require.NoError(a.t, err)
}

// backupCodes gives the user a set of backup codes and returns them.
func (a *app) backupCodes(userID string) []string {
	en, err := a.backup.BeginEnroll(ctx, twofactor.User{ID: userID}, twofactor.EnrollRequest{})
	require.NoError(a.t, err)
	return en.Codes
}

// securityKey stores a WebAuthn credential for the user, as a registration
// leaves it.
func (a *app) securityKey(userID, name string) {
	credID := []byte("credential-" + userID)
	data, err := json.Marshal(map[string]any{
		"credential_id": credID, "public_key": []byte("cose-key"),
		"user_handle": []byte("handle"), "flags": 1, "claimed": true,
	})
	require.NoError(a.t, err)
	require.NoError(a.t, a.b.st.PutEnrollment(ctx, store.EnrollmentRecord{
		UserID: userID, ID: "cred-" + userID, Method: string(twofactor.MethodWebAuthn),
		Label: name, Data: data, CreatedAt: time.Now().Add(-time.Hour).UTC().Truncate(time.Second),
	}))
	_, _, err = a.b.st.Incr(ctx, claimKey("example.com", credID), 24*time.Hour)
	require.NoError(a.t, err)
}

// claimKey is the store key of a credential id's claim under rpID, as the
// webauthn package writes it at registration. The form is stored, so it
// is spelled out here: a change to it would orphan every claim.
func claimKey(rpID string, credID []byte) string {
	h := sha256.New()
	h.Write([]byte("twofactor webauthn credential v1\x00" + rpID + "\x00"))
	h.Write(credID)
	return "webauthn:cred:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// claimed reports whether the security key securityKey gave userID is
// still claimed.
func (a *app) claimed(userID string) bool {
	n, _, err := a.b.st.Peek(ctx, claimKey("example.com", []byte("credential-"+userID)))
	require.NoError(a.t, err)
	return n > 0
}

// trustDevice trusts a browser for the user and returns its cookie value.
func (a *app) trustDevice(userID string) string {
	g, err := a.devices.Remember(ctx, twofactor.User{ID: userID}, twofactor.Client{
		IP: netip.MustParseAddr("203.0.113.7"), UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	})
	require.NoError(a.t, err)
	return g.Token
}

// wrongAnswers gives n wrong TOTP codes for the user, five per
// challenge, as someone who has the password but not the phone would.
func (a *app) wrongAnswers(userID string, secret []byte, n int) {
	valid := map[string]bool{}
	now := time.Now()
	for d := -2; d <= 2; d++ {
		valid[a.totp.Params().Code(secret, now.Add(time.Duration(d)*30*time.Second))] = true
	}
	wrong := "000000"
	for i := 1; valid[wrong]; i++ {
		wrong = strings.Repeat(string(rune('0'+i)), 6)
	}
	for n > 0 {
		b, err := a.svc.Begin(ctx, twofactor.User{ID: userID}, twofactor.Client{})
		require.NoError(a.t, err)
		require.Equal(a.t, twofactor.StatusChallenge, b.Status)
		for i := 0; i < 5 && n > 0; i, n = i+1, n-1 {
			_, err := a.svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodTOTP, Code: wrong})
			if !errors.Is(err, twofactor.ErrTooManyAttempts) {
				require.ErrorIs(a.t, err, twofactor.ErrInvalidCode)
			}
		}
	}
}

// snapshot is what the store holds for a user, to compare before and
// after a command that must change nothing.
type snapshot struct {
	Enrollments []store.EnrollmentRecord
	Devices     []store.Device
	BackupLeft  int
	Lockout     twofactor.Lockout
}

func (a *app) snapshot(userID string) snapshot {
	var s snapshot
	var err error
	s.Enrollments, err = a.b.st.ListEnrollments(ctx, userID)
	require.NoError(a.t, err)
	for i := range s.Enrollments {
		s.Enrollments[i].CreatedAt = s.Enrollments[i].CreatedAt.UTC()
		s.Enrollments[i].LastUsedAt = s.Enrollments[i].LastUsedAt.UTC()
	}
	s.Devices, err = a.b.st.ListDevices(ctx, userID)
	require.NoError(a.t, err)
	for i := range s.Devices {
		d := &s.Devices[i]
		d.CreatedAt, d.ExpiresAt, d.LastSeenAt = d.CreatedAt.UTC(), d.ExpiresAt.UTC(), d.LastSeenAt.UTC()
	}
	s.BackupLeft, err = a.backup.Remaining(ctx, twofactor.User{ID: userID})
	require.NoError(a.t, err)
	s.Lockout, err = a.svc.Lockout(ctx, userID)
	require.NoError(a.t, err)
	s.Lockout.Until = s.Lockout.Until.UTC()
	return s
}

// result is the outcome of one command.
type result struct {
	status         int
	stdout, stderr string
}

// events returns the JSON event lines on stderr.
func (r result) events(t *testing.T) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	for sc.Scan() {
		line := sc.Text()
		// An event may follow a prompt that a terminal would end with the
		// answer's echo.
		i := strings.Index(line, `{"time":`)
		if i < 0 {
			continue
		}
		line = line[i:]
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		out = append(out, ev)
	}
	return out
}

// event returns the first event of the type for the user, or nil.
func (r result) event(t *testing.T, typ, userID string) map[string]any {
	for _, ev := range r.events(t) {
		if ev["event"] == typ && ev["user"] == userID {
			return ev
		}
	}
	return nil
}

// errLines returns stderr without the event lines.
func (r result) errLines() string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(r.stderr, "\n") {
		if line != "" && !strings.HasPrefix(line, "{") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// cli runs commands against a backend with a keys file, no terminal and
// an environment of its own.
type cli struct {
	t           *testing.T
	b           *backend
	keys        string // path of the keys file; "" for none
	env         map[string]string
	stdin       string
	interactive bool
	progress    bool
}

func newCLI(t *testing.T, b *backend, keys ...keyring.Key) *cli {
	c := &cli{t: t, b: b, env: map[string]string{}}
	if len(keys) > 0 {
		c.keys = keysFile(t, keys...)
	}
	return c
}

// run runs the command with --db, --prefix and --keys added.
func (c *cli) run(args ...string) result {
	full := append([]string{}, args...)
	if c.b != nil {
		full = append(full, "--db", c.b.db)
		if c.b.prefix != "" {
			full = append(full, "--prefix", c.b.prefix)
		}
	}
	if c.keys != "" {
		full = append(full, "--keys", c.keys)
	}
	return c.raw(full...)
}

// raw runs the command with exactly args.
func (c *cli) raw(args ...string) result {
	var out, errb bytes.Buffer
	e := &env{
		stdin: strings.NewReader(c.stdin), stdout: &out, stderr: &errb,
		getenv:      func(k string) string { return c.env[k] },
		interactive: c.interactive, progress: c.progress,
	}
	status := runEnv(e, args)
	return result{status: status, stdout: out.String(), stderr: errb.String()}
}

// storeRecord is an enrollment record of a factor of the app's own.
func storeRecord(userID, id, method, label string) store.EnrollmentRecord {
	return store.EnrollmentRecord{UserID: userID, ID: id, Method: method, Label: label, Data: []byte("{}"),
		CreatedAt: time.Now().UTC().Truncate(time.Second)}
}
