package emailcode_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
)

func TestOutbox(t *testing.T) {
	o := &emailcode.Outbox{Max: 2}
	ctx := context.Background()
	for i := range 3 {
		require.NoError(t, o.Send(ctx, emailcode.Message{To: fmt.Sprintf("u%d@x.test", i)}))
	}
	msgs := o.Messages()
	require.Len(t, msgs, 2)
	assert.Equal(t, "u1@x.test", msgs[0].To)
	_, ok := o.Last("u0@x.test")
	assert.False(t, ok)
	m, ok := o.Last("U2@X.test")
	assert.True(t, ok)
	assert.Equal(t, "u2@x.test", m.To)
	o.Reset()
	assert.Empty(t, o.Messages())
}

// get serves a request of method for path through a mux that has h at
// "GET /outbox", as a development server would.
func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /outbox", h)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

// The outbox's page lists the messages newest first, each with its time,
// recipient, subject and text, every one of them escaped.
func TestOutboxPage(t *testing.T) {
	ctx := context.Background()
	later := t0.Add(5 * time.Second)
	o := &emailcode.Outbox{Now: func() time.Time { return later }}

	rec := get(t, o, http.MethodGet, "/outbox")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "No messages yet.")

	require.NoError(t, o.Send(ctx, emailcode.Message{To: "alice@example.com", Subject: "Your Acme verification code",
		Text: "Your code is:\n\n    123456\n", Time: t0}))
	hostile := `<script>alert("x")</script> & <img src=x onerror=alert(1)>`
	require.NoError(t, o.Send(ctx, emailcode.Message{To: `"Mallory" <mallory@evil.test>`, Subject: hostile, Text: "</pre><b>bold</b>"}))

	rec = get(t, o, http.MethodGet, "/outbox")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
	body := rec.Body.String()
	assert.True(t, strings.HasPrefix(body, "<!DOCTYPE html>"), body)

	// Each message, with its time: the one it was sent with, or the
	// outbox's clock's.
	for _, want := range []string{
		"alice@example.com", "Your Acme verification code", "Your code is:\n\n    123456\n",
		`<time datetime="2026-03-01T12:00:00Z">2026-03-01 12:00:00 UTC</time>`,
		`<time datetime="2026-03-01T12:00:05Z">2026-03-01 12:00:05 UTC</time>`,
	} {
		assert.Contains(t, body, want)
	}
	assert.Less(t, strings.Index(body, "mallory@evil.test"), strings.Index(body, "alice@example.com"), "newest first")

	// Escaped: nothing of the hostile subject, address or text is markup.
	assert.NotContains(t, body, "<script>")
	assert.NotContains(t, body, "<img")
	assert.NotContains(t, body, "<b>bold</b>")
	assert.Contains(t, body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;")
	assert.Contains(t, body, "&#34;Mallory&#34; &lt;mallory@evil.test&gt;")
	assert.Contains(t, body, "&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;")
	assert.Equal(t, 2, strings.Count(body, "</pre>"), "the page's own <pre> tags only")

	// HEAD: the headers, no body. Other methods: 405.
	rec = get(t, o, http.MethodHead, "/outbox")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Body.String())
	rec = httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/outbox", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

// A code the factor mails carries the time of the factor's clock; a
// message sent to an Outbox without a clock gets the time it was kept.
func TestOutboxTimes(t *testing.T) {
	fx := newFixture(t, nil)
	fx.clock.Advance(42 * time.Second)
	_, err := fx.f.Send(context.Background(), challenge("chal-1", twofactor.PurposeLogin), client)
	require.NoError(t, err)
	m, ok := fx.outbox.Last(alice.Email)
	require.True(t, ok)
	assert.Equal(t, t0.Add(42*time.Second), m.Time)
	assert.Contains(t, get(t, fx.outbox, http.MethodGet, "/outbox").Body.String(), "2026-03-01 12:00:42 UTC")

	o := &emailcode.Outbox{}
	before := time.Now()
	require.NoError(t, o.Send(context.Background(), emailcode.Message{To: "a@b.test"}))
	got := o.Messages()[0].Time
	assert.False(t, got.Before(before) || got.After(time.Now()), "time.Now: %v", got)
}

func TestOutboxPageConcurrent(t *testing.T) {
	o := &emailcode.Outbox{}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			_ = o.Send(context.Background(), emailcode.Message{To: fmt.Sprintf("u%d@x.test", i), Subject: "s", Text: "t"})
			assert.Equal(t, http.StatusOK, get(t, o, http.MethodGet, "/outbox").Code)
		})
	}
	wg.Wait()
	assert.Equal(t, 32, strings.Count(get(t, o, http.MethodGet, "/outbox").Body.String(), "<article>"))
}
