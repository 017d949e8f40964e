package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// -h documents every flag, with its environment variable.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-h"}, &out))
	help := out.String()
	for _, want := range []string{
		"-addr", "$ADDR", "$PORT", "-data", "$TWOFACTOR_DATA", "-db", "$TWOFACTOR_DB", "-prefix", "$TWOFACTOR_PREFIX",
		"-origin", "$TWOFACTOR_ORIGIN", "-smtp", "$TWOFACTOR_SMTP", "-mail-from", "$TWOFACTOR_MAIL_FROM",
		"-sms-gateway", "$TWOFACTOR_SMS_GATEWAY", "-sms-header", "$TWOFACTOR_SMS_HEADER", "-sms-from", "$TWOFACTOR_SMS_FROM",
		"-trusted-proxies", "$TWOFACTOR_TRUSTED_PROXIES", "-proxy-header", "$TWOFACTOR_PROXY_HEADER",
		"$TWOFACTOR_KEYS", "postgres://", "mysql://", "redis://", "sqlite:", "smtps://",
		"-log", "$TWOFACTOR_LOG", "-v", "examples/webapp/.data", "every loopback address",
	} {
		assert.Contains(t, help, want)
	}
}

func TestFlagMistakes(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "8080"},
		{"-trusted-proxies", "10.0.0.0/8,proxy.local"},
		{"-proxy-header", "X-Real-IP"},
		{"-origin", "localhost:8080"},
		{"-origin", "https://example.com/app"},
		{"-sms-header", "Bearer xyz"},
		{"-log", "loud"},
		{"-nope"},
		{"extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			err := run(context.Background(), args, io.Discard)
			var u usageError
			require.ErrorAs(t, err, &u)
		})
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv(envPort, "9999")
	t.Setenv(envProxies, "10.0.0.0/8, 192.0.2.7")
	t.Setenv(envProxyHeader, "forwarded")
	cfg, err := parseConfig(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "localhost:9999", cfg.addr, "the port on localhost, as the app prints it")
	require.Len(t, cfg.proxies, 2)
	assert.Equal(t, "192.0.2.7/32", cfg.proxies[1].String())

	t.Setenv(envAddr, "0.0.0.0:80")
	cfg, err = parseConfig([]string{"-addr", "127.0.0.1:1"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:1", cfg.addr, "a flag wins over the environment")
}

func TestBadStores(t *testing.T) {
	for dsn, want := range map[string]string{
		"ftp://u:s3cret@host/db":         "unknown scheme",
		"redis://u:s3cret@host:6379/x":   "Redis URL",
		"mysql://u:s3cret@host:3306":     "database name",
		"u:s3cret@tcp(host:3306)/db?x=%": "MySQL DSN",
		"sqlite:/tmp/x.db?mode=rwc":      "without ? or #",
	} {
		_, _, err := openStore(context.Background(), dsn, "", t.TempDir(), nil)
		require.Error(t, err, dsn)
		assert.Contains(t, err.Error(), want, dsn)
		assert.NotContains(t, err.Error(), "s3cret", "no password in errors")
	}
}

// The first start makes the key file (owner only) and the database, seeds
// the demo users and prints the URL and the logins, first, and where its
// data is; a second start on the same directory keeps all of it and seeds
// nothing. Without -data, the data is beside the checkout the app runs in.
func TestFirstAndSecondStart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	first := startOnce(t, ctx, dir)
	out := first.out.String()
	assert.True(t, strings.HasPrefix(out, "Acme is running at "+first.URL+" "), "the address is the first line:\n%s", out)
	assert.Regexp(t, `^http://localhost:\d+$`, first.URL)
	for _, a := range demoAccounts() {
		assert.Regexp(t, regexp.MustCompile(`(?m)^  `+a.Login+` +/ `+regexp.QuoteMeta(a.Password)+` `), out)
	}
	assert.Contains(t, out, first.URL+"/outbox")
	assert.Contains(t, out, "\nData: "+dir+"\n")
	assert.NotContains(t, out, "level=INFO", "the routine events of the start are not logged unless asked for")
	fi, err := os.Stat(filepath.Join(dir, "keys"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.NotEmpty(t, first.Seed.TOTPSecret)
	require.Len(t, first.Seed.BackupCodes, 10)
	require.Equal(t, "+12025550143", first.Seed.Phone)
	assert.Empty(t, first.App.smsOutbox.Messages(), "the outbox starts empty")
	cancel()
	require.NoError(t, <-first.done, "a clean shutdown")
	assert.Contains(t, first.out.String(), "Shutting down.")

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	second := startOnce(t, ctx, dir)
	assert.Empty(t, second.Seed.TOTPSecret, "nothing seeded again")
	assert.NotContains(t, second.out.String(), "(new)")
	es, err := second.App.svc.Enrollments(ctx, second.App.users.byLogin["ada"].user())
	require.NoError(t, err)
	var methods []twofactor.Method
	for _, e := range es {
		methods = append(methods, e.Method)
	}
	assert.Equal(t, []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodEmail, twofactor.MethodBackupCode}, methods)
	cancel()
	require.NoError(t, <-second.done)

	// A key file others can read is refused.
	require.NoError(t, os.Chmod(filepath.Join(dir, "keys"), 0o644))
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", dir}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chmod 600")

	// Without -data: run from inside a checkout of this module, the data
	// is in its examples/webapp/.data, so two checkouts have two
	// databases and two keys; run from elsewhere, in the user cache
	// directory. -v logs the start's routine events, after the address.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	var keys []string
	for i, c := range []struct {
		module string
		args   []string
	}{
		{"module github.com/twofactorkit/twofactor // a comment\n\ngo 1.26\n", []string{"-v"}},
		{"// The module.\nmodule \"github.com/twofactorkit/twofactor\"\n", nil},
		{"module example.com/other\n", nil},
	} {
		checkout, err := filepath.EvalSymlinks(t.TempDir())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(checkout, "go.mod"), []byte(c.module), 0o644))
		wd := filepath.Join(checkout, "examples", "webapp", "templates")
		require.NoError(t, os.MkdirAll(wd, 0o755))
		t.Chdir(wd)
		ctx, cancel := context.WithCancel(context.Background())
		o := startOnce(t, ctx, "", c.args...)
		cancel()
		require.NoError(t, <-o.done)
		out := o.out.String()
		data := filepath.Join(checkout, "examples", "webapp", ".data")
		if i == 2 {
			data = filepath.Join(cache, "twofactor-webapp")
		}
		assert.True(t, strings.HasPrefix(out, "Acme is running at "+o.URL+" "), "the address is the first line:\n%s", out)
		assert.Contains(t, out, "\nData: "+data+"\n")
		assert.Contains(t, out, "\nKeys: "+filepath.Join(data, "keys")+" (new)\n")
		key, err := os.ReadFile(filepath.Join(data, "keys"))
		require.NoError(t, err)
		keys = append(keys, string(key))
		if c.args != nil {
			logins := strings.Index(out, "Demo logins")
			enrolled := strings.Index(out, "level=INFO msg=\"twofactor: factor.enrolled\"")
			assert.True(t, logins >= 0 && enrolled > logins, "-v logs the demo users' enrollments, after the logins:\n%s", out)
		} else {
			assert.NotContains(t, out, "level=")
		}
	}
	assert.NotEqual(t, keys[0], keys[1], "two checkouts, two keys")
}

type once struct {
	started
	out  *syncBuffer
	done chan error
}

// startOnce runs the app until ctx ends, with its data in dir (with no
// -data when dir is ""); the caller waits on done.
func startOnce(t *testing.T, ctx context.Context, dir string, args ...string) *once {
	t.Helper()
	ready := make(chan started, 1)
	o := &once{out: &syncBuffer{}, done: make(chan error, 1)}
	flags := []string{"-addr", "127.0.0.1:0"}
	if dir != "" {
		flags = append(flags, "-data", dir)
	}
	go func() {
		o.done <- run(context.WithValue(ctx, readyKey{}, func(s started) { ready <- s }),
			append(flags, args...), o.out)
	}()
	select {
	case o.started = <-ready:
	case err := <-o.done:
		t.Fatalf("the app did not start: %v\n%s", err, o.out)
	case <-time.After(time.Minute):
		t.Fatalf("the app did not start within a minute\n%s", o.out)
	}
	return o
}

// client is a browser without a browser: cookies, no redirects followed,
// JSON answers.
type client struct {
	t    *testing.T
	http *http.Client
}

func newClient(t *testing.T) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// post sends form to base+path asking for JSON, and returns the status
// and the decoded answer.
func (c *client) post(base, path string, form url.Values) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		c.t.Fatalf("POST %s: %d, not JSON: %v", path, res.StatusCode, err)
	}
	return res.StatusCode, body
}

// The README names the demo logins and shows the screenshots: both stay
// true.
func TestReadme(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	readme := string(b)
	assert.True(t, strings.Contains(readme, "go run ./examples/webapp "), "the README's first command")
	assert.Contains(t, readme, "first run compiles", "the README says why the first run is silent a while")
	assert.Contains(t, readme, "`examples/webapp/.data`", "the README says where the data is")
	// make example says what it does before the silent first build.
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	example := regexp.MustCompile(`(?m)^example:\n\t@echo "Building the example app; the first build takes a minute or two…"\n`)
	assert.Regexp(t, example, string(mk))
	ignore, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^/examples/webapp/\.data/$`, string(ignore), "the data beside the checkout is never committed")
	for _, a := range demoAccounts() {
		login := "`" + a.Login + "` / `" + a.Password + "`"
		assert.True(t, strings.Contains(readme, login), "the README names the login %s", login)
	}
	// Every screenshot the README shows is one the tour takes.
	shown := regexp.MustCompile(`src="(docs/screenshots/[a-z0-9-]+\.png)"`).FindAllStringSubmatch(readme, -1)
	assert.GreaterOrEqual(t, len(shown), 8, "the README shows the screenshots")
	for _, m := range shown {
		assert.FileExists(t, filepath.Join(root, m[1]))
	}
	assert.Contains(t, readme, "`make screenshots`", "the README says how to take them again")
}

// Listening beyond this machine, the app says what the outbox exposes.
func TestWarnsBeyondLoopback(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	o := startOnce(t, ctx, t.TempDir(), "-addr", "0.0.0.0:0")
	assert.True(t, strings.Contains(o.out.String(), "WARNING: listening on "), "the warning")
	cancel()
	require.NoError(t, <-o.done)

	ctx, cancel = context.WithCancel(context.Background())
	o = startOnce(t, ctx, t.TempDir())
	assert.NotContains(t, o.out.String(), "WARNING")
	cancel()
	require.NoError(t, <-o.done)
}

// The app prints http://localhost:<port>: it listens on every address a
// browser may try for localhost, 127.0.0.1 and, where the machine has
// IPv6, ::1, on that one port; an address given as an IP is listened on
// alone.
func TestLocalhostIsEveryLoopbackAddress(t *testing.T) {
	ipv6 := false
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ipv6 = true
		ln.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := startOnce(t, ctx, t.TempDir(), "-addr", "localhost:0")
	u, err := url.Parse(o.URL)
	require.NoError(t, err)
	want := []string{"127.0.0.1:" + u.Port()}
	if ipv6 {
		want = append(want, "[::1]:"+u.Port())
	}
	assert.Equal(t, want, o.Addrs)
	for _, addr := range want {
		res, err := http.Get("http://" + addr + "/login")
		if assert.NoError(t, err, addr) {
			res.Body.Close()
			assert.Equal(t, http.StatusOK, res.StatusCode, addr)
		}
	}
	out := o.out.String()
	assert.True(t, strings.HasPrefix(out, "Acme is running at http://localhost:"+u.Port()+" "), out)
	for _, alarming := range []string{"WARNING", "level=WARN", "level=ERROR", "::1", "error"} {
		assert.NotContains(t, out, alarming)
	}
	cancel()
	require.NoError(t, <-o.done)

	ctx, cancel = context.WithCancel(context.Background())
	o = startOnce(t, ctx, t.TempDir(), "-addr", "127.0.0.1:0")
	assert.Equal(t, []string{o.Addr}, o.Addrs, "an address given as an IP, alone")
	cancel()
	require.NoError(t, <-o.done)
}

// The outbox says when each message was sent, newest first: the time of
// day, with how long ago for today's, the day before for older ones, the
// whole date and time in a tooltip, and an RFC 3339 datetime.
func TestOutboxTimes(t *testing.T) {
	now := time.Date(2026, time.June, 15, 15, 0, 0, 0, time.Local)
	clock := storetest.NewClock(now)
	cfg, err := parseConfig([]string{"-data", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	cfg.now = clock.Now
	a, err := newApp(cfg, "http://localhost:8080", io.Discard)
	require.NoError(t, err)
	t.Cleanup(func() { a.close(context.Background()) })

	ctx := context.Background()
	mail := func(to string, at time.Time) {
		require.NoError(t, a.mailOutbox.Send(ctx, emailcode.Message{To: to, Subject: "Your code", Text: "Your code is 123456.", Time: at}))
	}
	sms := func(to string, at time.Time) {
		require.NoError(t, a.smsOutbox.Send(ctx, smscode.Message{To: to, Body: "Your code is 654321.", Time: at}))
	}
	mail("year@example.com", time.Date(2025, time.December, 31, 23, 59, 58, 0, time.Local))
	mail("hours@example.com", now.Add(-3*time.Hour-time.Minute))
	sms("+12025550143", now.Add(-2*time.Minute-30*time.Second))
	mail("march@example.com", time.Date(2026, time.March, 2, 9, 5, 7, 0, time.Local))
	mail("yesterday@example.com", now.Add(-26*time.Hour))
	mail("one@example.com", now.Add(-time.Minute))
	sms("+12025550144", now.Add(-20*time.Second))
	require.NoError(t, a.mailOutbox.Send(ctx, emailcode.Message{To: "clock@example.com", Subject: "Notice", Text: "No time given."}))

	rec := httptest.NewRecorder()
	a.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/outbox", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	page := rec.Body.String()

	type shown struct{ to, datetime, text string }
	var got []shown
	msg := regexp.MustCompile(`(?s)<article class="msg" data-kind="\w+" data-to="([^"]+)">.*?<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>`)
	for _, m := range msg.FindAllStringSubmatch(page, -1) {
		at, err := time.Parse(time.RFC3339, m[2])
		if assert.NoError(t, err, "the datetime of %s", m[1]) {
			assert.Equal(t, at.Local().Format("Monday 2 January 2006, 15:04:05 MST"), html.UnescapeString(m[3]), "the tooltip of %s", m[1])
		}
		got = append(got, shown{html.UnescapeString(m[1]), m[2], html.UnescapeString(m[4])})
	}
	utc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	assert.Equal(t, []shown{
		{"clock@example.com", utc(now), "15:00:00 (just now)"},
		{"+12025550144", utc(now.Add(-20 * time.Second)), "14:59:40 (just now)"},
		{"one@example.com", utc(now.Add(-time.Minute)), "14:59:00 (1 minute ago)"},
		{"+12025550143", utc(now.Add(-150 * time.Second)), "14:57:30 (2 minutes ago)"},
		{"hours@example.com", utc(now.Add(-181 * time.Minute)), "11:59:00 (3 hours ago)"},
		{"yesterday@example.com", utc(now.Add(-26 * time.Hour)), "yesterday, 13:00:00"},
		{"march@example.com", utc(time.Date(2026, time.March, 2, 9, 5, 7, 0, time.Local)), "2 Mar, 09:05:07"},
		{"year@example.com", utc(time.Date(2025, time.December, 31, 23, 59, 58, 0, time.Local)), "31 Dec 2025, 23:59:58"},
	}, got, "newest first, each with its time")

	// A time ahead of the page's (another clock) is shown without an age.
	assert.Equal(t, "15:00:05", sentAt{now.Add(5 * time.Second), now}.Text())
	assert.Equal(t, "14:00:00 (1 hour ago)", sentAt{now.Add(-time.Hour), now}.Text())
}
