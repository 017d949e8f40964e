package twofactorhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// Many submits of the right answer at once (a double click, a retrying
// client): exactly one signs the user in; the others are told the code
// did not work or the sign-in is over, and the host's SignIn runs once.
func TestConcurrentVerify(t *testing.T) {
	for _, m := range []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP} {
		t.Run(string(m), func(t *testing.T) {
			e := newEnv(t, envOpt{})
			b := e.browser()
			b.login("alice", "/account")
			id := b.challengeID()
			code := appCode
			if m == twofactor.MethodEmail {
				code = e.email.code(id)
			}
			pendingCookie := b.cookies[twofactorhttp.DefaultPendingCookie].Value

			const n = 8
			codes := make([]int, n)
			locs := make([]string, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					form := url.Values{"method": {string(m)}, "code": {code}}
					r := httptest.NewRequest(http.MethodPost, "https://example.com/2fa/verify", strings.NewReader(form.Encode()))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.AddCookie(&http.Cookie{Name: twofactorhttp.DefaultPendingCookie, Value: pendingCookie})
					w := httptest.NewRecorder()
					e.mux.ServeHTTP(w, r)
					codes[i], locs[i] = w.Code, w.Header().Get("Location")
				})
			}
			wg.Wait()
			ok := 0
			for i, c := range codes {
				switch c {
				case http.StatusSeeOther:
					ok++
					assert.Equal(t, "/account", locs[i])
				case http.StatusUnauthorized, http.StatusGone:
				default:
					t.Errorf("answer %d: status %d", i, c)
				}
			}
			assert.Equal(t, 1, ok, "statuses %v", codes)
			require.Len(t, e.signIns(), 1)
			_, err := e.svc.Challenge(context.Background(), id)
			require.ErrorIs(t, err, twofactor.ErrChallengeNotFound)
		})
	}
}

// Concurrent sends inside one cooldown deliver one code.
func TestConcurrentSend(t *testing.T) {
	e := newEnv(t, envOpt{layer: func(c *twofactorhttp.Config) { c.ManualSend = true }})
	b := e.browser()
	b.login("alice", "")
	pendingCookie := b.cookies[twofactorhttp.DefaultPendingCookie].Value
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodPost, "https://example.com/2fa/send", strings.NewReader("method=email"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(&http.Cookie{Name: twofactorhttp.DefaultPendingCookie, Value: pendingCookie})
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, r)
			codes[i] = w.Code
		})
	}
	wg.Wait()
	sent := 0
	for _, c := range codes {
		if c == http.StatusSeeOther {
			sent++
		} else {
			assert.Equal(t, http.StatusTooManyRequests, c)
		}
	}
	assert.Equal(t, 1, sent, "statuses %v", codes)
	assert.EqualValues(t, 1, e.email.sends.Load())
}
