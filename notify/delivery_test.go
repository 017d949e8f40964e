package notify_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/smtptest"
	"github.com/twofactorkit/twofactor/notify"
)

// TestFailingSender: with the mail server refusing everything, sign-ins,
// enrollments and failures go on as if nothing were sent; each lost
// message is a warning event, which names no address.
func TestFailingSender(t *testing.T) {
	eachStore(t, func(t *testing.T, open func() twofactor.Store, clk *clock) {
		mail := &emailcode.Outbox{}
		mail.FailWith(errors.New("550 mailbox <ann@example.com> unavailable"))
		a := newApp(t, open(), clk, newKeys(t), mail, nil)
		a.turnOn(ann)
		require.ErrorIs(t, a.fail(ann, a.begin(ann)), twofactor.ErrInvalidCode)
		res := a.pass(ann, a.begin(ann), true)
		assert.NotNil(t, res.Device)
		a.drain()

		assert.Empty(t, mail.Messages())
		ws := a.rec.warnings()
		kinds := map[string]bool{}
		for _, w := range ws {
			assert.Equal(t, notify.ReasonSendFailed, w.Reason)
			assert.Equal(t, ann.ID, w.UserID)
			assert.Contains(t, w.Details["error"], "a***@example.com")
			kinds[w.Details["notification"]] = true
			for _, v := range w.Details {
				assert.NotContains(t, v, ann.Email)
			}
		}
		assert.Equal(t, map[string]bool{"turned_on": true, "failed_second_step": true, "device_trusted": true}, kinds)
	})
}

// blockingSender holds every message until released, and honours its
// context.
type blockingSender struct {
	release chan struct{}
	mu      sync.Mutex
	sent    []emailcode.Message
	started chan struct{}
}

func newBlockingSender() *blockingSender {
	return &blockingSender{release: make(chan struct{}), started: make(chan struct{}, 100)}
}

func (s *blockingSender) Send(ctx context.Context, m emailcode.Message) error {
	s.started <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.sent = append(s.sent, m)
	s.mu.Unlock()
	return nil
}

func (s *blockingSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// TestSendingNeverBlocks: a mail server that hangs does not hold up the
// flows that emit events; a full queue drops events with a warning; the
// messages go out once the server answers.
func TestSendingNeverBlocks(t *testing.T) {
	clk := newClock()
	sender := newBlockingSender()
	a := newApp(t, openMemory(clk), clk, newKeys(t), &emailcode.Outbox{}, func(c *notify.Config) {
		c.Sender, c.Workers, c.QueueSize = sender, 1, 2
	})

	a.turnOn(ann)
	<-sender.started // the worker is stuck on the first message
	for range 4 {
		require.ErrorIs(t, a.fail(ann, a.begin(ann)), twofactor.ErrInvalidCode)
	}
	full := 0
	for _, w := range a.rec.warnings() {
		if w.Reason == notify.ReasonQueueFull {
			full++
		}
	}
	assert.Equal(t, 2, full, "a queue of 2 takes two of the four failures")
	close(sender.release)
	require.NoError(t, a.svc.Shutdown(context.Background()))
	// The first message, and one failure that opened the hour: the other
	// queued one was folded.
	assert.Equal(t, 2, sender.count())
}

// TestShutdownDeadline: Shutdown gives up when its context ends, cancels
// the send under way, and the notifier takes no more events.
func TestShutdownDeadline(t *testing.T) {
	sender := newBlockingSender()
	rec := &recorder{}
	n, err := notify.New(testEnv(t, rec), notify.Config{Sender: sender})
	require.NoError(t, err)
	n.HandleEvent(context.Background(), event.Event{Type: event.Disabled, UserID: ann.ID, Time: t0})
	<-sender.started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, n.Shutdown(ctx), context.DeadlineExceeded)
	require.NoError(t, n.Close(), "a later call waits for the first one's work")
	n.HandleEvent(context.Background(), event.Event{Type: event.Disabled, UserID: ann.ID, Time: t0})
	var reasons []event.Reason
	for _, w := range rec.warnings() {
		reasons = append(reasons, w.Reason)
	}
	assert.Equal(t, []event.Reason{notify.ReasonSendFailed, notify.ReasonClosed}, reasons)
	assert.Zero(t, sender.count())
}

// TestNobodyToWrite: a user the host cannot look up, or without an
// address, gets nothing, and the host hears of it.
func TestNobodyToWrite(t *testing.T) {
	mail := &emailcode.Outbox{}
	rec := &recorder{}
	n, err := notify.New(testEnv(t, rec), notify.Config{Sender: mail})
	require.NoError(t, err)
	for _, id := range []string{nomail.ID, "u-gone"} {
		n.HandleEvent(context.Background(), event.Event{Type: event.Disabled, UserID: id, Time: t0})
	}
	require.NoError(t, n.Close())
	assert.Empty(t, mail.Messages())
	ws := rec.warnings()
	require.Len(t, ws, 2)
	got := map[string]event.Reason{}
	for _, w := range ws {
		got[w.UserID] = w.Reason
	}
	assert.Equal(t, map[string]event.Reason{nomail.ID: notify.ReasonNoAddress, "u-gone": notify.ReasonUserFailed}, got)
	for _, w := range ws {
		if w.UserID == "u-gone" {
			assert.Contains(t, w.Details["error"], twofactor.ErrUnknownUser.Error())
		}
	}
}

// TestSMTP: a failed second step reaches a real SMTP server, to the
// user's address, with a subject, a text part and an HTML part.
func TestSMTP(t *testing.T) {
	srv := smtptest.New(t, false)
	smtp, err := emailcode.NewSMTP(emailcode.SMTPConfig{Host: srv.Host, Port: srv.Port, Username: srv.User, Password: srv.Pass,
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs}, From: "Example <security@example.com>", Timeout: 5 * time.Second})
	require.NoError(t, err)
	clk := newClock()
	a := newApp(t, openMemory(clk), clk, newKeys(t), &emailcode.Outbox{}, func(c *notify.Config) { c.Sender = smtp })
	a.turnOn(ann)
	require.ErrorIs(t, a.fail(ann, a.begin(ann)), twofactor.ErrInvalidCode)
	require.NoError(t, a.svc.Shutdown(context.Background()))
	assert.Empty(t, a.rec.warnings())

	got := srv.Received()
	require.Len(t, got, 2, "turned on, and the failed second step")
	want := "Example: Someone signed in with your password but did not pass the second step"
	var msg *mail.Message
	for _, m := range got {
		assert.Equal(t, []string{ann.Email}, m.To)
		parsed, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		require.NoError(t, err)
		subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		require.NoError(t, err)
		if subject == want {
			msg = parsed
		}
	}
	require.NotNil(t, msg, "a message with the subject %q", want)
	subject := want
	parts := readParts(t, msg)
	require.Contains(t, parts, "text/plain")
	require.Contains(t, parts, "text/html")
	assert.Contains(t, parts["text/plain"], "Network: 203.0.113.7")
	assert.Contains(t, parts["text/html"], "<li>Browser: Firefox on Linux</li>")
	requireClean(t, []emailcode.Message{{To: ann.Email, Subject: subject, Text: parts["text/plain"], HTML: parts["text/html"]}}, a.secrets)
}

// readParts returns a multipart/alternative message's parts by type,
// decoded.
func readParts(t *testing.T, msg *mail.Message) map[string]string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	r := multipart.NewReader(msg.Body, params["boundary"])
	out := map[string]string{}
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		ct, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		b, err := io.ReadAll(p) // multipart decodes quoted-printable
		require.NoError(t, err)
		out[ct] = string(b)
	}
}
