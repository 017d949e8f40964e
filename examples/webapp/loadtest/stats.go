package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// due is when the i-th login (from 0) of a run that starts at start is
// due, at rate logins per second: open-loop pacing, so when a login is
// due never depends on how long the ones before it take.
func due(start time.Time, rate float64, i int64) time.Time {
	return start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
}

// clock is the pacer's time: the real one, or a test's.
type clock interface {
	Now() time.Time
	// SleepUntil returns at t, or earlier with ctx's error.
	SleepUntil(ctx context.Context, t time.Time) error
}

// pace calls fire for each login due within window from start, at rate
// per second, when it is due (or at once when the pacer is already late:
// a login is never skipped, its lag is the caller's to record). fire must
// not block: it starts the login and returns. pace returns how many it
// fired, fewer only when ctx ends first or fire returns false.
func pace(ctx context.Context, c clock, start time.Time, rate float64, window time.Duration, fire func(i int64, due, now time.Time) bool) int64 {
	end := start.Add(window)
	var i int64
	for ; ; i++ {
		t := due(start, rate, i)
		if !t.Before(end) {
			return i
		}
		if err := c.SleepUntil(ctx, t); err != nil {
			return i
		}
		if !fire(i, t, c.Now()) {
			return i + 1
		}
	}
}

// realClock is time itself.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, ascending samples: the smallest sample with at least p% of the
// samples at or below it. It is 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Steps whose latency is reported, in the order the report lists them.
const (
	stepPassword = "password" // POST /login with the password: starts a challenge (and sends an email code)
	stepSend     = "send"     // POST /2fa/send: an explicit send or a resend
	stepOutbox   = "outbox"   // GET /outbox: reading the email code
	stepVerify   = "verify"   // POST /2fa/verify: right, wrong and replayed codes
	stepTrusted  = "trusted"  // POST /login from a trusted device: signed in at once
	stepCancel   = "cancel"   // POST /2fa/cancel after a refused replay
)

var stepOrder = []string{stepPassword, stepSend, stepOutbox, stepVerify, stepTrusted, stepCancel}

// stats gathers what one run measures. It is safe for concurrent use.
type stats struct {
	mu        sync.Mutex
	latencies map[string][]time.Duration
	lags      []time.Duration // how late each login started after it was due
	counts    map[string]int  // named counters: see the count* constants
	errors    map[string]int  // unexpected outcomes by kind
	examples  map[string]string
	kinds     map[string]int // logins by kind, signed in
	// For the timeline: when each request ended and how long it took,
	// and when each login was signed in.
	ended    []timed
	signedAt []time.Time
}

type timed struct {
	at time.Time
	d  time.Duration
}

// Counters of expected outcomes and of the goals.
const (
	countOK            = "logins signed in"
	countWrongRefused  = "wrong codes refused (401, expected)"
	countEarlyResend   = "early resends refused (429 resend_wait, expected)"
	countResent        = "resends after the cooldown"
	countReplays       = "replays of a used code"
	countReplayRefused = "replays refused (401 or 410, expected)"
	countTwice         = "codes accepted twice"
	countLost          = "codes lost (a right code refused)"
	countNoUser        = "logins not started: no free user"
	countNoSlot        = "logins not started: too many in flight"
	countRemembered    = "devices remembered"
)

func newStats() *stats {
	return &stats{latencies: map[string][]time.Duration{}, counts: map[string]int{}, errors: map[string]int{},
		examples: map[string]string{}, kinds: map[string]int{}}
}

func (s *stats) observe(step string, d time.Duration) {
	now := time.Now()
	s.mu.Lock()
	s.latencies[step] = append(s.latencies[step], d)
	s.ended = append(s.ended, timed{now, d})
	s.mu.Unlock()
}

func (s *stats) lag(d time.Duration) {
	s.mu.Lock()
	s.lags = append(s.lags, d)
	s.mu.Unlock()
}

func (s *stats) add(counter string, n int) {
	s.mu.Lock()
	s.counts[counter] += n
	s.mu.Unlock()
}

func (s *stats) signedIn(kind string) {
	s.mu.Lock()
	s.counts[countOK]++
	s.kinds[kind]++
	s.signedAt = append(s.signedAt, time.Now())
	s.mu.Unlock()
}

// fail records an unexpected outcome: kind is a short, stable name; the
// first detail of each kind is kept as its example.
func (s *stats) fail(kind, detail string) {
	s.mu.Lock()
	s.errors[kind]++
	if _, ok := s.examples[kind]; !ok {
		s.examples[kind] = detail
	}
	s.mu.Unlock()
}

func (s *stats) count(counter string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[counter]
}

func (s *stats) errorCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.errors {
		n += c
	}
	return n
}

// summary is the percentiles of one step.
type summary struct {
	n             int
	p50, p99, max time.Duration
}

func summarize(ds []time.Duration) summary {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	s := summary{n: len(sorted), p50: percentile(sorted, 50), p99: percentile(sorted, 99)}
	if len(sorted) > 0 {
		s.max = sorted[len(sorted)-1]
	}
	return s
}

func (s *stats) step(name string) summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return summarize(s.latencies[name])
}

func (s *stats) startLag() summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return summarize(s.lags)
}

// errorLines lists the errors by kind, most frequent first, each with its
// first example.
func (s *stats) errorLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	kinds := make([]string, 0, len(s.errors))
	for k := range s.errors {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if s.errors[kinds[i]] != s.errors[kinds[j]] {
			return s.errors[kinds[i]] > s.errors[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	var out []string
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("%6d  %s (e.g. %s)", s.errors[k], k, s.examples[k]))
	}
	return out
}

func (s *stats) kindLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for _, k := range []string{kindTOTP, kindEmail, kindTOTPEmail, kindTrusted} {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.kinds[k]))
	}
	return strings.Join(parts, ", ")
}

// ms writes a duration in milliseconds, to a tenth below 100 ms.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	if f < 100 {
		return fmt.Sprintf("%.1fms", f)
	}
	return fmt.Sprintf("%.0fms", f)
}

// bucket is one interval of the timeline.
type bucket struct {
	from, to time.Time
	signedIn int
	requests int
	p99      time.Duration // of the requests that ended in it
}

// timeline cuts [from, to) into intervals of width and counts what ended
// in each.
func (s *stats) timeline(from, to time.Time, width time.Duration) []bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return timeline(from, to, width, s.signedAt, s.ended)
}

func timeline(from, to time.Time, width time.Duration, signed []time.Time, ended []timed) []bucket {
	if width <= 0 || !to.After(from) {
		return nil
	}
	n := int((to.Sub(from) + width - 1) / width)
	// A last interval under half the width (the tail of the drain) joins
	// the one before it, so that few events over a short time do not
	// read as a high rate.
	if n > 1 && to.Sub(from)-time.Duration(n-1)*width < width/2 {
		n--
	}
	bs := make([]bucket, n)
	lat := make([][]time.Duration, n)
	for i := range bs {
		bs[i].from = from.Add(time.Duration(i) * width)
		bs[i].to = bs[i].from.Add(width)
		if i == n-1 {
			bs[i].to = to
		}
	}
	index := func(t time.Time) int {
		if t.Before(from) || !t.Before(to) {
			return -1
		}
		return min(int(t.Sub(from)/width), n-1)
	}
	for _, t := range signed {
		if i := index(t); i >= 0 {
			bs[i].signedIn++
		}
	}
	for _, e := range ended {
		if i := index(e.at); i >= 0 {
			bs[i].requests++
			lat[i] = append(lat[i], e.d)
		}
	}
	for i := range bs {
		slices.Sort(lat[i])
		bs[i].p99 = percentile(lat[i], 99)
	}
	return bs
}
