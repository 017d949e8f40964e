package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The README promises two-factor authentication in 20 added lines: the
// diff between the two apps stays within it, and both build.
func TestDiffBudget(t *testing.T) {
	out, err := exec.Command("git", "diff", "--no-index", "--numstat", "before/main.go", "main.go").Output()
	// git diff --no-index exits 1 when the files differ.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("git diff: %v", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 {
		t.Fatalf("git diff --numstat said %q", out)
	}
	added, err := strconv.Atoi(fields[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines added, %s removed", added, fields[1])
	if added > 20 {
		t.Errorf("examples/minimal adds %d lines to the app before it; the README promises 20 or fewer", added)
	}
	if out, err := exec.Command("go", "build", "-o", t.TempDir(), ".", "./before").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

// The README shows the diff as it is.
func TestReadmeShowsDiff(t *testing.T) {
	out, err := exec.Command("git", "-C", "../..", "diff", "--no-index",
		"examples/minimal/before/main.go", "examples/minimal/main.go").Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("git diff: %v", err)
	}
	// Drop the "diff --git" and "index" lines: the hashes say nothing.
	lines := strings.SplitN(string(out), "\n", 3)
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "index ") {
		t.Fatalf("git diff said %q", out)
	}
	want := "```diff\n" + strings.TrimRight(lines[2], "\n") + "\n```"
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not show the current diff of examples/minimal; put this in its section \"Add 2FA to an existing net/http app\":\n%s", want)
	}
}

// A sign-in through the app: the password, the email code from the
// development outbox, then the page for signed-in users.
func TestLogin(t *testing.T) {
	t.Chdir(t.TempDir()) // the SQLite file goes here
	h := app()
	jar := map[string]string{}
	do := func(method, target string, form url.Values) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, "http://localhost:8080"+target, strings.NewReader(form.Encode()))
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range jar {
			r.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			if c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c.Value
			}
		}
		return w
	}
	redirect := func(w *httptest.ResponseRecorder, to string) {
		t.Helper()
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != to {
			t.Fatalf("got %d to %q, want 303 to %q: %s", w.Code, w.Header().Get("Location"), to, w.Body)
		}
	}

	redirect(do("GET", "/", nil), "/login")
	if w := do("POST", "/login", url.Values{"user": {"ada"}, "password": {"babbage"}}); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", w.Code)
	}
	redirect(do("POST", "/login", url.Values{"user": {"ada"}, "password": {"lovelace"}}), "/2fa/")
	if _, ok := jar["session"]; ok {
		t.Fatal("signed in before the second step")
	}
	page := do("GET", "/2fa/", nil).Body.String()
	if !strings.Contains(page, "We sent a code to a") || !strings.Contains(page, "Trust this device for 30 days") {
		t.Fatalf("challenge page:\n%s", page)
	}
	outbox := do("GET", "/outbox", nil).Body.String()
	if !regexp.MustCompile(`<time datetime="\d{4}-\d\d-\d\dT`).MatchString(outbox) {
		t.Fatalf("the outbox does not say when the message was sent:\n%s", outbox)
	}
	code := regexp.MustCompile(`\b\d{6}\b`).FindString(outbox)
	if code == "" {
		t.Fatal("no code in the outbox")
	}
	redirect(do("POST", "/2fa/verify", url.Values{"method": {"email"}, "code": {code}, "remember": {"on"}}), "/")
	if w := do("GET", "/", nil); !strings.Contains(w.Body.String(), "Hello ada") {
		t.Fatalf("after sign-in: %d %s", w.Code, w.Body)
	}
	// Signed out, the trusted device signs in with the password alone.
	redirect(do("POST", "/logout", url.Values{}), "/login")
	redirect(do("POST", "/login", url.Values{"user": {"ada"}, "password": {"lovelace"}}), "/")
	if w := do("GET", "/", nil); !strings.Contains(w.Body.String(), "Hello ada") {
		t.Fatalf("trusted device: %d %s", w.Code, w.Body)
	}
}
