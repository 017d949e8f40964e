package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

// Failed second steps, in two stages.
//
// The grace: the failed answers of one sign-in (one challenge) wait
// together, in memory, until Config.Grace after the first. A success of
// the same challenge in the meantime means the user mistyped and then
// got it right: nothing is sent. The success may be heard by another app
// instance, so it is also recorded in the store (okKey), which the waiting
// instance reads before it sends.
//
// The fold: a sign-in whose grace ends without success is one attempt of
// N wrong answers. One counter per user (gateKey) with a window of
// Config.Period admits the first attempt of each window: its message goes
// out. The attempts that find the window open add their answers to a
// counter of that window (foldKey, named by the window's end, which every
// one of them reads from the same atomic increment), and the first message
// of a later window reports that count, read through the user's last-sent
// state (lastKey). Every step is an atomic store operation, so the rule
// holds across app instances sharing the store: of any number of
// concurrent attempts exactly one sends, and every other one is counted
// once.

const (
	gateKey = "tf:nt:gate:" // counter: failed-second-step messages in the current period
	foldKey = "tf:nt:fold:" // counter: answers folded into the period ending at the key's time
	lastKey = "tf:nt:last:" // state: the period and time of the last message
	okKey   = "tf:nt:ok:"   // counter: the challenge's sign-in succeeded
)

// foldMemory is how long folded attempts wait for the next message: after
// that without another failed second step, they are no longer reported.
const foldMemory = 30 * 24 * time.Hour

// batch is the failed answers of one challenge waiting out their grace.
type batch struct {
	first event.Event // the first answer: its time, method, network and browser
	ctx   context.Context
	count int
	due   time.Time
}

// last is the state kept per user between messages.
type last struct {
	PeriodEnd int64     `json:"p"` // Unix milliseconds: the end of the period the message opened
	SentAt    time.Time `json:"t"`
}

// failed takes one failed answer.
func (n *Notifier) failed(j job) {
	b := &batch{first: j.ev, ctx: j.ctx, count: 1, due: j.ev.Time.Add(n.grace)}
	if n.grace <= 0 {
		n.fold(b)
		return
	}
	n.pmu.Lock()
	if p, ok := n.pending[j.ev.ChallengeID]; ok {
		p.count++
		n.pmu.Unlock()
		return
	}
	if len(n.pending) >= n.maxPending {
		n.pmu.Unlock()
		n.decide(b)
		return
	}
	// Even during Shutdown: the scheduler decides what waits once the
	// workers are done, so a success still in the queue is heard first.
	n.pending[j.ev.ChallengeID] = b
	n.pmu.Unlock()
	n.poke()
}

// succeeded takes a successful sign-in: its challenge's failed answers
// were the user's own.
func (n *Notifier) succeeded(j job) {
	n.pmu.Lock()
	delete(n.pending, j.ev.ChallengeID)
	n.pmu.Unlock()
	ctx, cancel := n.opCtx(j.ctx)
	defer cancel()
	// The failed answers may be waiting on another instance. The mark
	// outlives any grace that began before this success.
	if _, _, err := n.st.Incr(ctx, okKey+j.ev.ChallengeID, 2*n.grace); err != nil {
		n.warn(ctx, j.ev.UserID, FailedSecondStep, ReasonCountFailed, err)
	}
}

// poke wakes the scheduler.
func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// schedule decides the batches whose grace has ended, when it ends; on
// Shutdown, every batch left.
func (n *Notifier) schedule() {
	defer n.scheduler.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-n.wake:
		case <-timer.C:
		case <-n.stop:
			n.runDue(true)
			return
		}
		if next := n.runDue(false); !next.IsZero() {
			timer.Reset(max(next.Sub(n.now()), time.Millisecond))
		}
	}
}

// runDue decides the batches whose grace has ended (all of them when
// force is set) and returns when the next one is due.
func (n *Notifier) runDue(force bool) time.Time {
	now := n.now()
	var due []*batch
	var next time.Time
	n.pmu.Lock()
	for id, b := range n.pending {
		if force || !b.due.After(now) {
			due = append(due, b)
			delete(n.pending, id)
		} else if next.IsZero() || b.due.Before(next) {
			next = b.due
		}
	}
	n.pmu.Unlock()
	for _, b := range due {
		n.decide(b)
	}
	return next
}

// decide sends nothing for a sign-in that succeeded in the end, and
// folds the others.
func (n *Notifier) decide(b *batch) {
	if n.base.Err() != nil {
		n.warn(b.ctx, b.first.UserID, FailedSecondStep, ReasonAbandoned, n.base.Err())
		return
	}
	ctx, cancel := n.opCtx(b.ctx)
	ok, _, err := n.st.Peek(ctx, okKey+b.first.ChallengeID)
	cancel()
	switch {
	case err != nil:
		// Unsure whether the user got in: an alert too many is the safe
		// side.
		n.warn(b.ctx, b.first.UserID, FailedSecondStep, ReasonCountFailed, err)
	case ok > 0:
		return
	}
	n.fold(b)
}

// fold counts one attempt, and sends its message when it is the first of
// the user's period.
func (n *Notifier) fold(b *batch) {
	ctx, cancel := n.opCtx(b.ctx)
	defer cancel()
	uid := b.first.UserID
	warn := func(err error) { n.warn(ctx, uid, FailedSecondStep, ReasonCountFailed, err) }
	gate, periodEnd, err := n.st.Incr(ctx, gateKey+uid, n.period)
	if err != nil {
		warn(err)
		return
	}
	if gate > 1 {
		incrs := make([]store.CounterIncr, b.count)
		for i := range incrs {
			incrs[i] = store.CounterIncr{Key: foldKeyOf(uid, periodEnd), Window: foldMemory}
		}
		if _, err := store.IncrAll(ctx, n.st, incrs); err != nil {
			warn(err)
		}
		return
	}
	// The first attempt of a period: its message reports the attempts
	// folded into the previous one.
	f := facts{kind: FailedSecondStep, time: b.first.Time, method: b.first.Method, ip: b.first.IP,
		browser: browserLabel(b.first.UserAgent), attempts: b.count}
	var prev last
	blob, err := n.st.GetState(ctx, lastKey+uid)
	switch {
	case err == nil:
		if json.Unmarshal(blob, &prev) == nil && prev.PeriodEnd != 0 {
			folded, _, err := n.st.Peek(ctx, foldKeyOf(uid, time.UnixMilli(prev.PeriodEnd)))
			if err != nil {
				warn(err)
			}
			f.foldedCount, f.since = int(folded), prev.SentAt
		}
	case !errors.Is(err, store.ErrNotFound):
		warn(err)
	}
	now := n.now()
	blob, _ = json.Marshal(last{PeriodEnd: periodEnd.UnixMilli(), SentAt: now})
	if err := n.st.PutState(ctx, lastKey+uid, blob, now.Add(foldMemory)); err != nil {
		warn(err)
	}
	if f.foldedCount > 0 {
		// Reported now; the counter's window is over, nothing adds to it.
		if err := n.st.ResetCounter(ctx, foldKeyOf(uid, time.UnixMilli(prev.PeriodEnd))); err != nil {
			warn(err)
		}
	}
	user, ok := n.user(ctx, uid, FailedSecondStep)
	if !ok {
		return
	}
	n.send(ctx, user, f)
}

func foldKeyOf(uid string, periodEnd time.Time) string {
	return foldKey + uid + ":" + strconv.FormatInt(periodEnd.UnixMilli(), 10)
}
