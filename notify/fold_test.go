package notify_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/notify"
	"github.com/twofactorkit/twofactor/store"
)

// TestFoldConcurrent: 64 failed second steps at once, half through each of
// two Service instances sharing a store, each with its own notifier: one
// message, and the 63 others reported in the next, an hour later. With the
// grace on, both instances decide their waiting sign-ins at the same time.
func TestFoldConcurrent(t *testing.T) {
	for _, grace := range []time.Duration{notify.NoGrace, notify.DefaultGrace} {
		t.Run(fmt.Sprintf("grace=%v", grace > 0), func(t *testing.T) {
			eachStore(t, func(t *testing.T, open func() twofactor.Store, clk *clock) {
				testFoldConcurrent(t, open, clk, grace)
			})
		})
	}
}

func testFoldConcurrent(t *testing.T, open func() twofactor.Store, clk *clock, grace time.Duration) {
	const n = 64
	keys := newKeys(t)
	mail := &emailcode.Outbox{Max: 1000}
	mod := func(c *notify.Config) { c.Grace = grace }
	a := newApp(t, open(), clk, keys, mail, mod)
	b := newApp(t, open(), clk, keys, mail, mod)
	a.turnOn(ann)
	b.totp = a.totp
	a.drain()
	mail.Reset()

	instances := []*app{a, b}
	challenges := make([]string, n)
	for i := range challenges {
		challenges[i] = instances[i%2].begin(ann)
	}
	wrong := a.wrong(ann)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, ch := range challenges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := instances[i%2].svc.Verify(context.Background(), twofactor.Answer{ChallengeID: ch, Method: twofactor.MethodTOTP,
				Code: wrong, UserID: ann.ID, Client: client})
			assert.Error(t, err)
		}()
	}
	close(start)
	wg.Wait()

	if grace > 0 {
		require.Eventually(t, func() bool { return a.n().PendingForTest()+b.n().PendingForTest() == n },
			10*time.Second, time.Millisecond, "every failed sign-in waits out its grace")
		assert.Empty(t, about(mail.Messages(), notify.FailedSecondStep), "nothing during the grace")
		clk.Advance(grace + time.Second)
		var due sync.WaitGroup
		for _, in := range instances {
			due.Add(1)
			go func() {
				defer due.Done()
				in.n().RunDueForTest()
			}()
		}
		due.Wait()
	}
	a.drain()
	b.drain()

	failed := about(to(mail, ann.Email), notify.FailedSecondStep)
	require.Len(t, failed, 1, "one message for %d failures", n)
	assert.NotContains(t, failed[0].Text, "more attempts")
	count, _, err := a.st.Peek(context.Background(), notify.GateKeyForTest+ann.ID)
	require.NoError(t, err)
	assert.EqualValues(t, n, count, "every failure counted")

	// The next failure, after the hour, reports the others.
	clk.Advance(time.Hour)
	require.ErrorIs(t, b.fail(ann, b.begin(ann)), twofactor.ErrInvalidCode)
	a.drain()
	b.drain()
	failed = about(to(mail, ann.Email), notify.FailedSecondStep)
	require.Len(t, failed, 2)
	assert.Contains(t, failed[1].Text, fmt.Sprintf("%d more attempts since our previous message.", n-1))
	requireClean(t, mail.Messages(), append(a.secrets, b.secrets...))
	assert.Empty(t, a.rec.warnings())
	assert.Empty(t, b.rec.warnings())

	// And the one after that, another hour later, reports none.
	clk.Advance(time.Hour + time.Second)
	require.ErrorIs(t, a.fail(ann, a.begin(ann)), twofactor.ErrInvalidCode)
	a.drain()
	failed = about(to(mail, ann.Email), notify.FailedSecondStep)
	require.Len(t, failed, 3)
	assert.NotContains(t, failed[2].Text, "more attempts")
}

// TestFoldPeriod: within the period one message; the failures after it
// are counted per answer, and the attempts of a sign-in that failed twice
// say so.
func TestFoldPeriod(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() twofactor.Store, clk *clock) {
		mail := &emailcode.Outbox{}
		a := newApp(t, open(), clk, newKeys(t), mail, func(c *notify.Config) {
			c.Grace = time.Minute
			c.Off = []notify.Kind{notify.TurnedOn}
		})
		a.turnOn(ann)
		// One sign-in, two wrong answers: one attempt of two answers.
		ch := a.begin(ann)
		require.Error(t, a.fail(ann, ch))
		require.Error(t, a.fail(ann, ch))
		require.Eventually(t, func() bool { return a.n().PendingForTest() == 2 }, 10*time.Second, time.Millisecond)
		clk.Advance(time.Minute)
		a.n().RunDueForTest()
		a.drain()
		msgs := mail.Messages()
		require.Len(t, msgs, 1)
		assert.Contains(t, msgs[0].Text, "Wrong answers: 2")

		// Within the hour: three more answers, nothing sent.
		clk.Advance(20 * time.Minute)
		for range 3 {
			require.Error(t, a.fail(ann, a.begin(ann)))
		}
		a.drain()
		require.Len(t, mail.Messages(), 1)

		clk.Advance(41 * time.Minute)
		require.Error(t, a.fail(ann, a.begin(ann)))
		a.drain()
		msgs = mail.Messages()
		require.Len(t, msgs, 2)
		assert.Contains(t, msgs[1].Text, "3 more attempts since our previous message.")
		assert.NotContains(t, msgs[1].Text, "Wrong answers")
	})
}

// TestGrace: a mistyped code corrected in the same sign-in sends nothing,
// even when the success is heard by another instance; an uncorrected one
// sends when the grace ends, not before.
func TestGrace(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() twofactor.Store, clk *clock) {
		keys := newKeys(t)
		mail := &emailcode.Outbox{}
		mod := func(c *notify.Config) { c.Grace = notify.DefaultGrace; c.Off = []notify.Kind{notify.TurnedOn} }
		a := newApp(t, open(), clk, keys, mail, mod)
		b := newApp(t, open(), clk, keys, mail, mod)
		a.turnOn(ann)
		b.totp = a.totp

		// Corrected on the same instance.
		ch := a.begin(ann)
		require.Error(t, a.fail(ann, ch))
		a.pass(ann, ch, false)
		a.drain()
		assert.Empty(t, mail.Messages())
		// Corrected on the other instance.
		ch = a.begin(ann)
		require.Error(t, a.fail(ann, ch))
		require.Eventually(t, func() bool { return a.n().PendingForTest() == 1 }, 10*time.Second, time.Millisecond)
		b.pass(ann, ch, false)
		require.Eventually(t, func() bool {
			n, _, err := b.st.Peek(context.Background(), notify.OKKeyForTest+(&twofactor.Challenge{ID: ch}).Key())
			return err == nil && n > 0
		}, 10*time.Second, time.Millisecond, "the success is recorded for the other instance")
		clk.Advance(notify.DefaultGrace)
		a.n().RunDueForTest()
		a.drain()
		b.drain()
		assert.Empty(t, mail.Messages())

		// Not corrected: the message waits for the grace.
		ch = a.begin(ann)
		require.Error(t, a.fail(ann, ch))
		require.Eventually(t, func() bool { return a.n().PendingForTest() == 1 }, 10*time.Second, time.Millisecond)
		clk.Advance(notify.DefaultGrace - time.Second)
		a.n().RunDueForTest()
		assert.Equal(t, 1, a.n().PendingForTest())
		assert.Empty(t, mail.Messages())
		clk.Advance(time.Second)
		a.n().RunDueForTest()
		assert.Equal(t, 0, a.n().PendingForTest())
		a.drain()
		require.Len(t, about(mail.Messages(), notify.FailedSecondStep), 1)

		// Shutdown decides what still waits, at once.
		clk.Advance(time.Hour)
		require.Error(t, b.fail(ann, b.begin(ann)))
		require.Eventually(t, func() bool { return b.n().PendingForTest() == 1 }, 10*time.Second, time.Millisecond)
		b.drain()
		require.Len(t, about(mail.Messages(), notify.FailedSecondStep), 2)
		assert.Empty(t, a.rec.warnings())
		assert.Empty(t, b.rec.warnings())
	})
}

// TestGraceTimer: without a test driving it, the scheduler's timer decides
// a waiting sign-in when its grace ends by the real clock.
func TestGraceTimer(t *testing.T) {
	mail := &emailcode.Outbox{}
	rec := &recorder{}
	env := testEnv(t, rec)
	env.Store = store.NewMemory() // the real clock, as the notifier's (Env.Now nil)
	n, err := notify.New(env, notify.Config{Sender: mail, Grace: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	ev := event.Event{Type: event.Failure, Time: time.Now(), UserID: ann.ID, ChallengeID: "ch-1",
		Method: twofactor.MethodTOTP, Purpose: twofactor.PurposeLogin, Reason: event.ReasonInvalid, IP: "203.0.113.7"}
	n.HandleEvent(context.Background(), ev)
	require.Eventually(t, func() bool { return len(mail.Messages()) == 1 }, 10*time.Second, time.Millisecond)
	assert.Empty(t, rec.warnings())
}
