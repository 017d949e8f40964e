package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/totp"
)

// The tests start the app as a user would, through run, with flags.
// Variables that would point it elsewhere are unset for the whole binary.
func TestMain(m *testing.M) {
	for _, name := range []string{envAddr, envPort, envData, envDB, envPrefix, envKeys, envKeys + "_FILE", envOrigin,
		envSMTP, envMailFrom, envSMSGateway, envSMSHeader, envSMSFrom, envProxies, envProxyHeader, envNotifyGrace, envLoadUsers, envLog} {
		os.Unsetenv(name)
	}
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// syncBuffer is the app's stdout in tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testApp is a running copy of the app.
type testApp struct {
	started
	out  *syncBuffer
	data string

	mu    sync.Mutex
	steps map[string]int64 // secret -> the last TOTP step whose code a test used
}

// startApp runs the app on 127.0.0.1:0 with a fresh data directory (or
// the one given), and stops it when the test ends; the stop must be clean.
func startApp(t *testing.T, args ...string) *testApp {
	t.Helper()
	data := t.TempDir()
	return startAppIn(t, data, args...)
}

func startAppIn(t *testing.T, data string, args ...string) *testApp {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan started, 1)
	ctx = context.WithValue(ctx, readyKey{}, func(s started) { ready <- s })
	out := &syncBuffer{}
	done := make(chan error, 1)
	// The offer of a passkey after a sign-in is off but for the tests
	// that ask for it: the others go straight on to the page they wait for.
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-passkey-offer") }) {
		args = append(args, "-passkey-offer=false")
	}
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-data", data}, args...), out)
	}()
	var s started
	select {
	case s = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("the app did not start: %v\n%s", err, out)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("the app did not start within a minute:\n%s", out)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the app did not stop cleanly: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the app did not stop within 30 seconds")
		}
		if t.Failed() {
			t.Logf("the app's output:\n%s", out)
		}
	})
	return &testApp{started: s, out: out, data: data, steps: map[string]int64{s.Seed.TOTPSecret: s.Seed.TOTPStep}}
}

// totpCode is a code of ada's authenticator app that no earlier sign-in
// used: the current time step's, or the next one's when the current one
// was used (codes are accepted one step either side).
func (a *testApp) totpCode(t *testing.T) string {
	t.Helper()
	require.NotEmpty(t, a.Seed.TOTPSecret, "ada's secret was not seeded")
	return a.codeFor(t, a.Seed.TOTPSecret)
}

// codeFor is a fresh code for any secret this app's authenticator factor
// enrolled.
func (a *testApp) codeFor(t *testing.T, secret string) string {
	t.Helper()
	secret = strings.ToUpper(strings.Join(strings.Fields(secret), ""))
	key, err := totp.DecodeSecret(secret)
	require.NoError(t, err)
	p := a.App.totp.Params()
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	step := p.Step(now)
	if last, ok := a.steps[secret]; ok {
		step = max(step, last+1)
	}
	require.LessOrEqual(t, step, p.Step(now)+1, "the test used more TOTP codes than the window holds")
	a.steps[secret] = step
	return p.StepCode(key, step)
}

// repoRoot is the module's root, where go.mod is.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test")
		dir = parent
	}
}

func (a *testApp) String() string { return fmt.Sprintf("app at %s", a.URL) }
