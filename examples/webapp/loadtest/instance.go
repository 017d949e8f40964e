package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// instance is one copy of the web app, run as a child process with its
// output in a log file. GODEBUG=gctrace=1 makes the Go runtime print a
// line at each garbage collection, with the heap left live after it: the
// app's Go heap, read without any debug endpoint in the app.
type instance struct {
	target
	cmd    *exec.Cmd
	log    *os.File
	ready  chan struct{} // closed once it serves
	exited chan struct{} // closed once it has exited; err says how

	mu        sync.Mutex
	err       error
	heapLive  int // MB after the last collection; -1 before the first
	heapGoal  int
	gcs       int
	errLines  int
	warnLines int
	firstErr  string
	notes     []string // lines worth repeating in the report (the load-test users)
}

// gcLine matches gctrace's "4->4->2 MB, 5 MB goal".
var gcLine = regexp.MustCompile(`^gc \d+ @.* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// lineWriter hands each complete line written to it to fn.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(line []byte)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// freePort returns a port of 127.0.0.1 that nothing listens on now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startInstance runs the web app at bin with args, its output in logPath,
// and waits until it serves (its first start seeds the load-test users,
// which takes a while) or exits.
func startInstance(ctx context.Context, name, bin string, args, env []string, logPath string, wait time.Duration) (*instance, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	in := &instance{target: target{name: name, base: "http://" + addr}, log: f, ready: make(chan struct{}),
		exited: make(chan struct{}), heapLive: -1, heapGoal: -1}
	var once sync.Once
	var logMu sync.Mutex
	write := func(line []byte) {
		logMu.Lock()
		f.Write(line)
		f.Write([]byte{'\n'})
		logMu.Unlock()
	}
	stdout := &lineWriter{fn: func(line []byte) {
		write(line)
		s := string(line)
		in.mu.Lock()
		switch {
		case strings.Contains(s, " level=ERROR "):
			in.errLines++
			if in.firstErr == "" {
				in.firstErr = s
			}
		case strings.Contains(s, " level=WARN "):
			in.warnLines++
		case strings.HasPrefix(s, "Load-test users:"):
			in.notes = append(in.notes, s)
		}
		in.mu.Unlock()
		if strings.Contains(s, " is running at ") {
			once.Do(func() { close(in.ready) })
		}
	}}
	stderr := &lineWriter{fn: func(line []byte) {
		if m := gcLine.FindSubmatch(line); m != nil {
			live, _ := strconv.Atoi(string(m[3]))
			goal, _ := strconv.Atoi(string(m[4]))
			in.mu.Lock()
			in.heapLive, in.heapGoal = live, goal
			in.gcs++
			in.mu.Unlock()
			return // one a collection: kept out of the log
		}
		write(line)
	}}
	in.cmd = exec.Command(bin, append([]string{"-addr", addr}, args...)...)
	in.cmd.Env = env
	in.cmd.Stdout, in.cmd.Stderr = stdout, stderr
	// The app ends with this process, even when it is killed.
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := in.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		err := in.cmd.Wait()
		in.mu.Lock()
		in.err = err
		in.mu.Unlock()
		close(in.exited)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-in.ready:
		return in, nil
	case <-in.exited:
		in.log.Close()
		return nil, fmt.Errorf("instance %s exited before it served (%v): see %s", name, in.err, logPath)
	case <-timer.C:
		err = fmt.Errorf("instance %s did not serve within %s: see %s", name, wait, logPath)
	case <-ctx.Done():
		err = ctx.Err()
	}
	in.stop(10 * time.Second)
	return nil, err
}

// memSample is an instance's memory at one moment.
type memSample struct {
	at       time.Time
	rssKB    int // resident set (VmRSS)
	hwmKB    int // its peak so far (VmHWM)
	heapLive int // MB live after the last collection, -1 if none yet
	gcs      int
}

// memory reads the instance's RSS from /proc and its heap from the last
// gctrace line.
func (in *instance) memory() memSample {
	s := memSample{at: time.Now(), rssKB: -1, hwmKB: -1}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", in.cmd.Process.Pid)); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			switch k {
			case "VmRSS":
				s.rssKB = n
			case "VmHWM":
				s.hwmKB = n
			}
		}
	}
	in.mu.Lock()
	s.heapLive, s.gcs = in.heapLive, in.gcs
	in.mu.Unlock()
	return s
}

// stop asks the instance to shut down (SIGTERM), as an operator would,
// and kills it after timeout. It returns how it exited: nil for a clean
// shutdown.
func (in *instance) stop(timeout time.Duration) error {
	defer in.log.Close()
	select {
	case <-in.exited:
	default:
		in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-in.exited:
		case <-time.After(timeout):
			in.cmd.Process.Kill()
			<-in.exited
			return fmt.Errorf("instance %s did not stop within %s: killed", in.name, timeout)
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

// logCounts is what the instance logged at levels WARN and ERROR.
func (in *instance) logCounts() (errs, warns int, first string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.errLines, in.warnLines, in.firstErr
}
