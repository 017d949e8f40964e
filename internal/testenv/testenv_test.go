package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCI(t *testing.T) {
	for v, want := range map[string]bool{
		"true": true, "TRUE": true, "True": true, "1": true, "yes": true, "YES": true, "Yes": true,
		"t": true, "T": true, "y": true, "on": true, " true\n": true,
		"": false, "false": false, "0": false, "no": false, "off": false, "f": false,
		"2": false, "truthy": false, "enabled": false,
	} {
		t.Setenv("CI", v)
		if got := CI(); got != want {
			t.Errorf("CI=%q: CI() = %v, want %v", v, got, want)
		}
	}
}

// fakeTB records how Missing ends a test instead of ending this one. Like
// testing.T, Fatalf and Skipf stop the goroutine that calls them.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.fatal = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, a ...any) {
	f.skip = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

// missing runs Missing on f in a goroutine of its own, which Fatalf or
// Skipf end.
func missing(f *fakeTB) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		Missing(f, "PostgreSQL", "connection refused")
	}()
	<-done
}

func TestMissing(t *testing.T) {
	for _, tt := range []struct {
		ci   string
		fail bool
	}{{"true", true}, {"1", true}, {"yes", true}, {"false", false}, {"", false}} {
		t.Setenv("CI", tt.ci)
		f := &fakeTB{}
		missing(f)
		if tt.fail && (f.fatal == "" || f.skip != "") {
			t.Errorf("CI=%q: a missing service must fail the test; fatal %q, skip %q", tt.ci, f.fatal, f.skip)
		}
		if !tt.fail && (f.skip == "" || f.fatal != "") {
			t.Errorf("CI=%q: a missing service must skip the test; fatal %q, skip %q", tt.ci, f.fatal, f.skip)
		}
	}
}

// The scripts that set up servers, the browser and axe-core
// (scripts/services.sh, scripts/chromium.sh, scripts/axe.sh) say whether the tests will fail or skip without
// them; they decide what CI means with scripts/ci.sh, which must agree
// with CI for every value.
func TestScriptsAgreeWithCI(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to run the scripts with")
	}
	scripts := filepath.Join("..", "..", "scripts")
	for _, v := range []string{"true", "TRUE", "True", "1", "yes", "YES", "Yes", "t", "T", "y", "Y", "on", "ON", " true\n", "\tyes ",
		"", "false", "0", "no", "off", "f", "2", "truthy", "enabled", "yes please", "tr ue"} {
		t.Setenv("CI", v)
		cmd := exec.Command(bash, "-c", `. "$0" && in_ci`, filepath.Join(scripts, "ci.sh"))
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("running scripts/ci.sh: %v", err)
		}
		if got := err == nil; got != CI() {
			t.Errorf("CI=%q: scripts/ci.sh says CI is %v, CI() says %v", v, got, CI())
		}
	}
	for _, name := range []string{"services.sh", "chromium.sh", "axe.sh"} {
		b, err := os.ReadFile(filepath.Join(scripts, name))
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if !strings.Contains(src, `. "$(dirname "${BASH_SOURCE[0]}")/ci.sh"`) {
			t.Errorf("scripts/%s does not source scripts/ci.sh", name)
		}
		if strings.Contains(src, "${CI") || strings.Contains(src, "$CI") {
			t.Errorf("scripts/%s reads CI itself rather than through in_ci", name)
		}
	}
}

// scripts/axe.sh installs the version of axe-core that Axe looks for, where
// Axe looks for it.
func TestAxeScriptAgrees(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "scripts", "axe.sh"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if !strings.Contains(src, "\nversion="+AxeVersion+"\n") {
		t.Errorf("scripts/axe.sh does not pin axe-core %s, the version AxeVersion names", AxeVersion)
	}
	if !strings.Contains(src, `dir=${XDG_CACHE_HOME:-$HOME/.cache}/twofactor/axe-core-$version`) {
		t.Errorf("scripts/axe.sh does not install into the directory Axe looks in")
	}
	if !strings.Contains(src, "TWOFACTOR_AXE") {
		t.Errorf("scripts/axe.sh does not leave TWOFACTOR_AXE alone")
	}
}

func TestAxe(t *testing.T) {
	write := func(path string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("/*! axe */"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	dir := t.TempDir()
	file := write(filepath.Join(dir, "axe.min.js"))
	t.Setenv("TWOFACTOR_AXE", file)
	if got := Axe(t); got != file {
		t.Errorf("TWOFACTOR_AXE=%s: Axe = %s", file, got)
	}

	// Without TWOFACTOR_AXE, the cache directory scripts/axe.sh fills:
	// XDG_CACHE_HOME, else ~/.cache.
	t.Setenv("TWOFACTOR_AXE", "")
	xdg, home := t.TempDir(), t.TempDir()
	t.Setenv("XDG_CACHE_HOME", xdg)
	t.Setenv("HOME", home)
	cached := write(filepath.Join(xdg, "twofactor", "axe-core-"+AxeVersion, "axe.min.js"))
	if got := Axe(t); got != cached {
		t.Errorf("XDG_CACHE_HOME=%s: Axe = %s, want %s", xdg, got, cached)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	cached = write(filepath.Join(home, ".cache", "twofactor", "axe-core-"+AxeVersion, "axe.min.js"))
	if got := Axe(t); got != cached {
		t.Errorf("HOME=%s: Axe = %s, want %s", home, got, cached)
	}

	// Missing: a failure in CI, a skip elsewhere, saying how to get it.
	for _, tt := range []struct {
		ci   string
		fail bool
	}{{"true", true}, {"", false}} {
		t.Setenv("CI", tt.ci)
		t.Setenv("TWOFACTOR_AXE", filepath.Join(dir, "none.js"))
		f := &fakeTB{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Axe(f)
		}()
		<-done
		msg := f.skip
		if tt.fail {
			msg = f.fatal
		}
		if tt.fail && (f.fatal == "" || f.skip != "") || !tt.fail && (f.skip == "" || f.fatal != "") {
			t.Errorf("CI=%q: missing axe-core must %s the test; fatal %q, skip %q", tt.ci, map[bool]string{true: "fail", false: "skip"}[tt.fail], f.fatal, f.skip)
		}
		if !strings.Contains(msg, "make axe") {
			t.Errorf("CI=%q: the message does not say how to get axe-core: %q", tt.ci, msg)
		}
	}
}
