package twofactortest

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// fakeT is a checkT that records failures by check instead of failing the
// test: the kit's own tests run it against hosts with planted mistakes
// and look at which checks failed. What it does not override (Helper,
// Cleanup, TempDir, Context) is the real test's.
type fakeT struct {
	testing.TB
	name string
	log  *fakeLog

	mu      sync.Mutex
	failed  bool
	skipped bool
}

// fakeLog collects, for a whole run, the messages of each check.
type fakeLog struct {
	mu       sync.Mutex
	failures map[string][]string // check name ("" for Run itself) -> its failure messages
	skips    map[string]string
	logs     []string
}

func (l *fakeLog) failed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for n := range l.failures {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (l *fakeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := ""
	for n, ms := range l.failures {
		for _, m := range ms {
			s += fmt.Sprintf("  %s: %s\n", n, m)
		}
	}
	return s
}

// runFake runs the kit against host and returns what it recorded.
func runFake(t testing.TB, host Host) *fakeLog {
	l := &fakeLog{failures: map[string][]string{}, skips: map[string]string{}}
	f := &fakeT{TB: t, log: l}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(f, host)
	}()
	<-done
	return l
}

func (f *fakeT) fail(msg string) {
	f.mu.Lock()
	f.failed = true
	f.mu.Unlock()
	f.log.mu.Lock()
	f.log.failures[f.name] = append(f.log.failures[f.name], msg)
	f.log.mu.Unlock()
}

func (f *fakeT) Name() string                      { return f.name }
func (f *fakeT) Error(args ...any)                 { f.fail(fmt.Sprint(args...)) }
func (f *fakeT) Errorf(format string, args ...any) { f.fail(fmt.Sprintf(format, args...)) }
func (f *fakeT) Fail()                             { f.fail("Fail") }
func (f *fakeT) FailNow()                          { f.fail("FailNow"); runtime.Goexit() }
func (f *fakeT) Fatal(args ...any)                 { f.fail(fmt.Sprint(args...)); runtime.Goexit() }
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fail(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (f *fakeT) Log(args ...any) { f.Logf("%s", fmt.Sprint(args...)) }
func (f *fakeT) Logf(format string, args ...any) {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	f.log.logs = append(f.log.logs, f.name+": "+fmt.Sprintf(format, args...))
}
func (f *fakeT) Skip(args ...any) { f.skip(fmt.Sprint(args...)) }
func (f *fakeT) SkipNow()         { f.skip("SkipNow") }
func (f *fakeT) Skipf(format string, args ...any) {
	f.skip(fmt.Sprintf(format, args...))
}
func (f *fakeT) skip(msg string) {
	f.mu.Lock()
	f.skipped = true
	f.mu.Unlock()
	f.log.mu.Lock()
	f.log.skips[f.name] = msg
	f.log.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}
func (f *fakeT) Skipped() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.skipped
}

// run runs a check in a goroutine of its own, as testing does, so that
// Fatal and Skip end the check alone.
func (f *fakeT) run(name string, fn func(checkT)) bool {
	c := &fakeT{TB: f.TB, name: name, log: f.log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(c)
	}()
	<-done
	if c.Failed() {
		f.mu.Lock()
		f.failed = true
		f.mu.Unlock()
	}
	return !c.Failed()
}
