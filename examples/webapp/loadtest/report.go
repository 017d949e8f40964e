package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Goals.
const (
	// minRateShare: the logins signed in, per second of the window, must
	// reach this share of the target rate.
	minRateShare = 0.95
	// Memory is flat when, from the end of the warm-up to the end of the
	// run, RSS grows by at most rssGrowth plus rssSlack, and the Go heap
	// left live by the last collection by at most heapGrowth plus
	// heapSlackMB: caches, pools and connections fill during the warm-up,
	// a leak keeps growing after it.
	rssGrowth   = 1.25
	rssSlackKB  = 32 * 1024
	heapGrowth  = 1.5
	heapSlackMB = 8
)

// result is what one store's run measured.
type result struct {
	store, dsn, prefix string
	users, totpUsers   int
	notes              []string // what the instances said of the users
	rate               float64
	window             time.Duration
	ran                time.Duration // the window and the drain
	fired              int64         // logins due
	stats              *stats
	requests           int64
	maxRequests        int64
	capped             bool

	inst     [2]*instance
	mem      [2][3]memSample // start, end of warm-up, end
	samples  [2][]memSample  // every few seconds during the run
	start    time.Time       // when the window began
	end      time.Time       // when the last login ended
	peakKB   [2]int
	stopErr  [2]error
	logErrs  [2]int
	logWarns [2]int
	firstErr [2]string

	cleanup    string
	cleanupErr error
}

// achieved is the logins signed in per second of the window.
func (r *result) achieved() float64 {
	return float64(r.stats.count(countOK)) / r.window.Seconds()
}

// flat says whether memory stayed flat from the warm-up to the end.
func flat(warm, end memSample) (rss, heap bool) {
	rss = warm.rssKB < 0 || end.rssKB < 0 || float64(end.rssKB) <= float64(warm.rssKB)*rssGrowth+rssSlackKB
	heap = warm.heapLive < 0 || end.heapLive < 0 || float64(end.heapLive) <= float64(warm.heapLive)*heapGrowth+heapSlackMB
	return rss, heap
}

// misses lists the goals the run missed.
func (r *result) misses() []string {
	var m []string
	if a := r.achieved(); a < r.rate*minRateShare {
		m = append(m, fmt.Sprintf("%.2f logins/s signed in, under %.0f%% of %g", a, minRateShare*100, r.rate))
	}
	if n := r.stats.errorCount(); n > 0 {
		m = append(m, fmt.Sprintf("%d errors", n))
	}
	if n := r.stats.count(countTwice); n > 0 {
		m = append(m, fmt.Sprintf("%d codes accepted twice", n))
	}
	if n := r.stats.count(countLost); n > 0 {
		m = append(m, fmt.Sprintf("%d codes lost", n))
	}
	if r.capped {
		m = append(m, fmt.Sprintf("the cap of %d requests was reached", r.maxRequests))
	}
	for i, in := range r.inst {
		rss, heap := flat(r.mem[i][1], r.mem[i][2])
		if !rss {
			m = append(m, fmt.Sprintf("instance %s's RSS grew", in.name))
		}
		if !heap {
			m = append(m, fmt.Sprintf("instance %s's Go heap grew", in.name))
		}
		if r.logErrs[i] > 0 {
			m = append(m, fmt.Sprintf("instance %s logged %d errors", in.name, r.logErrs[i]))
		}
		if r.stopErr[i] != nil {
			m = append(m, fmt.Sprintf("instance %s did not stop cleanly: %v", in.name, r.stopErr[i]))
		}
	}
	if r.cleanupErr != nil {
		m = append(m, fmt.Sprintf("cleaning the store: %v", r.cleanupErr))
	}
	return m
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func mib(kb int) string {
	if kb < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

func heapMB(mb int) string {
	if mb < 0 {
		return "?"
	}
	return fmt.Sprintf("%d MB", mb)
}

// print writes the report of the run.
func (r *result) print(w io.Writer) {
	s := r.stats
	fmt.Fprintf(w, "== %s: %s, prefix %s ==\n", storeName(r.store), r.dsn, r.prefix)
	for _, in := range r.inst {
		fmt.Fprintf(w, "Instance %s: %s, pid %d\n", in.name, in.base, in.cmd.Process.Pid)
	}
	for _, n := range r.notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintf(w, "Users: %d, %d with an authenticator app, %d with email codes only\n\n", r.users, r.totpUsers, r.users-r.totpUsers)

	ok := s.count(countOK)
	a := r.achieved()
	fmt.Fprintf(w, "Logins: %d due at %g/s over %s; %d signed in: %.2f/s, %.1f%% of the target  [goal >= %.0f%%: %s]\n",
		r.fired, r.rate, r.window, ok, a, 100*a/r.rate, minRateShare*100, verdict(a >= r.rate*minRateShare))
	fmt.Fprintf(w, "  by kind: %s\n", s.kindLine())
	lag := s.startLag()
	fmt.Fprintf(w, "  not started: %d (no free user), %d (too many in flight); start lag after due: p50 %s, p99 %s, max %s\n",
		s.count(countNoUser), s.count(countNoSlot), ms(lag.p50), ms(lag.p99), ms(lag.max))
	fmt.Fprintf(w, "  window and drain: %s\n\n", r.ran.Round(time.Millisecond))

	fmt.Fprintf(w, "%-26s %8s %9s %9s %9s\n", "Latency per step", "count", "p50", "p99", "max")
	names := map[string]string{
		stepPassword: "password POST",
		stepSend:     "send / resend",
		stepOutbox:   "outbox (read email code)",
		stepVerify:   "verify",
		stepTrusted:  "trusted sign-in",
		stepCancel:   "cancel",
	}
	for _, st := range stepOrder {
		x := s.step(st)
		fmt.Fprintf(w, "  %-24s %8d %9s %9s %9s\n", names[st], x.n, ms(x.p50), ms(x.p99), ms(x.max))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "Expected refusals and variations:")
	for _, c := range []string{countWrongRefused, countEarlyResend, countResent, countRemembered, countReplays, countReplayRefused} {
		fmt.Fprintf(w, "  %6d  %s\n", s.count(c), c)
	}
	errs := s.errorCount()
	fmt.Fprintf(w, "Errors: %d  [goal 0: %s]\n", errs, verdict(errs == 0))
	for _, l := range s.errorLines() {
		fmt.Fprintln(w, "  "+l)
	}
	twice, lost := s.count(countTwice), s.count(countLost)
	fmt.Fprintf(w, "Codes accepted twice: %d of %d replays  [goal 0: %s]\n", twice, s.count(countReplays), verdict(twice == 0))
	fmt.Fprintf(w, "Codes lost (a right code refused): %d  [goal 0: %s]\n\n", lost, verdict(lost == 0))

	r.printTimeline(w)

	fmt.Fprintf(w, "%-22s %12s %12s %12s %12s\n", "Memory", "start", "warmed up", "end", "peak RSS")
	for i, in := range r.inst {
		m := r.mem[i]
		rss, heap := flat(m[1], m[2])
		fmt.Fprintf(w, "  %s RSS               %12s %12s %12s %12s  [goal flat: %s]\n", in.name,
			mib(m[0].rssKB), mib(m[1].rssKB), mib(m[2].rssKB), mib(r.peakKB[i]), verdict(rss))
		fmt.Fprintf(w, "  %s Go heap, live     %12s %12s %12s %12s  [goal flat: %s] (%d collections)\n", in.name,
			heapMB(m[0].heapLive), heapMB(m[1].heapLive), heapMB(m[2].heapLive), "", verdict(heap), m[2].gcs)
	}
	fmt.Fprintln(w)
	for i, in := range r.inst {
		stop := "clean shutdown"
		if r.stopErr[i] != nil {
			stop = r.stopErr[i].Error()
		}
		fmt.Fprintf(w, "Instance %s: %d errors, %d warnings logged; %s\n", in.name, r.logErrs[i], r.logWarns[i], stop)
		if r.firstErr[i] != "" {
			fmt.Fprintf(w, "  first error: %s\n", truncate(r.firstErr[i], 300))
		}
	}
	fmt.Fprintf(w, "Requests: %d (cap %d)\n", r.requests, r.maxRequests)
	if r.cleanupErr != nil {
		fmt.Fprintf(w, "Store: NOT cleaned: %v\n", r.cleanupErr)
	} else {
		fmt.Fprintf(w, "Store: %s\n", r.cleanup)
	}
	if m := r.misses(); len(m) > 0 {
		fmt.Fprintf(w, "%s: FAIL: %s\n\n", storeName(r.store), strings.Join(m, "; "))
	} else {
		fmt.Fprintf(w, "%s: PASS\n\n", storeName(r.store))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// timelineWidth is the interval of the timeline: a tenth of the window,
// in whole 5 seconds, at least 5 seconds.
func timelineWidth(window time.Duration) time.Duration {
	w := (window/10 + 5*time.Second - 1) / (5 * time.Second) * (5 * time.Second)
	return max(w, 5*time.Second)
}

// lastSample is the last of samples taken before t.
func lastSample(samples []memSample, t time.Time) (memSample, bool) {
	var out memSample
	ok := false
	for _, s := range samples {
		if s.at.Before(t) {
			out, ok = s, true
		}
	}
	return out, ok
}

// printTimeline writes, per interval of the run (the drain included),
// the logins signed in and requests answered per second, the p99 of
// those requests, and each instance's memory at its end.
func (r *result) printTimeline(w io.Writer) {
	if r.start.IsZero() || !r.end.After(r.start) {
		return
	}
	width := timelineWidth(r.window)
	fmt.Fprintf(w, "%-14s %12s %12s %10s %11s %11s %8s %8s\n", "Timeline", "signed in/s", "requests/s", "p99", "RSS A", "RSS B", "heap A", "heap B")
	for _, b := range r.stats.timeline(r.start, r.end, width) {
		secs := b.to.Sub(b.from).Seconds()
		mem := [4]string{"", "", "", ""}
		for i := range r.inst {
			if s, ok := lastSample(r.samples[i], b.to); ok && !s.at.Before(b.from) {
				mem[i], mem[2+i] = mib(s.rssKB), heapMB(s.heapLive)
			}
		}
		label := fmt.Sprintf("%s–%s", b.from.Sub(r.start).Round(time.Second), b.to.Sub(r.start).Round(time.Second))
		fmt.Fprintf(w, "  %-12s %12.1f %12.1f %10s %11s %11s %8s %8s\n", label, float64(b.signedIn)/secs, float64(b.requests)/secs,
			ms(b.p99), mem[0], mem[1], mem[2], mem[3])
	}
	fmt.Fprintln(w)
}
