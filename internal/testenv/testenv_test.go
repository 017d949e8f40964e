package testenv

import (
	"fmt"
	"runtime"
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
