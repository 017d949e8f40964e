package smscode_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/smscode"
)

// The SMS outbox's page lists the messages newest first, each with its
// time (the factor's clock's), number and text, escaped.
func TestOutboxPage(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.ProductName = `<Acme & "Co">` })
	ctx := context.Background()
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err)
	code := fx.lastCode(t, usNumber)
	fx.clock.Advance(90 * time.Second)
	require.NoError(t, fx.outbox.Send(ctx, smscode.Message{To: ukNumber, Body: "<script>alert(1)</script>"}))

	mux := http.NewServeMux()
	mux.Handle("GET /sms-outbox", fx.outbox)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sms-outbox", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	body := rec.Body.String()
	assert.Contains(t, body, "<title>SMS outbox</title>")
	shown := func(num string) string { return "&#43;" + num[1:] } // html/template writes + as &#43;
	assert.Contains(t, body, "<strong>"+shown(usNumber)+"</strong>")
	assert.Contains(t, body, code+" is your &lt;Acme &amp; &#34;Co&#34;&gt; verification code.")
	assert.Contains(t, body, `<time datetime="2026-03-01T12:00:00Z">2026-03-01 12:00:00 UTC</time>`, "the factor's clock")
	assert.NotContains(t, body, "<script>")
	assert.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Less(t, strings.Index(body, shown(ukNumber)), strings.Index(body, shown(usNumber)), "newest first")
	assert.NotContains(t, body, "<h2>", "an SMS has no subject")

	rec = httptest.NewRecorder()
	fx.outbox.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/sms-outbox", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
