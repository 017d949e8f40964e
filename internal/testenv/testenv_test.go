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

// The scripts that set up servers and the browser (scripts/services.sh,
// scripts/chromium.sh) say whether the tests will fail or skip without
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
	for _, name := range []string{"services.sh", "chromium.sh"} {
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
