package onetime

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutboxServe(t *testing.T) {
	var o Outbox[Entry]
	ctx := context.Background()
	serve := func(method string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		o.Serve(rec, httptest.NewRequest(method, "/outbox", nil), "Test <outbox>", func(e Entry) Entry { return e })
		return rec
	}
	rec := serve(http.MethodGet)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "<title>Test &lt;outbox&gt;</title>")
	assert.Contains(t, rec.Body.String(), "No messages yet.")

	for i, to := range []string{"first@x.test", "second@x.test", "third@x.test"} {
		require.NoError(t, o.Keep(ctx, Entry{Time: t0.Add(time.Duration(i) * time.Second), To: to, Subject: "s", Text: "t"}, 2))
	}
	body := serve(http.MethodGet).Body.String()
	assert.NotContains(t, body, "first@x.test", "beyond max")
	assert.Less(t, strings.Index(body, "third@x.test"), strings.Index(body, "second@x.test"), "newest first")
	assert.Contains(t, body, "2026-03-01 12:00:02 UTC")
	assert.Equal(t, 2, strings.Count(body, "<article>"))

	rec = serve(http.MethodHead)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Empty(t, rec.Body.String())
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec = serve(m)
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, m)
		assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		assert.NotContains(t, rec.Body.String(), "x.test", "nothing shown")
	}
}
