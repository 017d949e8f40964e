package twofactorhttp_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
)

// No page, JSON answer, header or cookie ever holds a code (sent, right or
// wrong), a backup code, a secret or a full phone number, whatever the
// route and outcome.
func TestNothingSecretInAnswers(t *testing.T) {
	e := newEnv(t, envOpt{svc: func(c *twofactor.Config) { c.Limits.MaxUserFailures = 6 }})
	var all []*browser
	wrong := []string{"111111", "000000", "987654"}
	for _, asJSON := range []bool{false, true} {
		b := e.browser()
		b.json = asJSON
		all = append(all, b)

		b.login("alice", "/account")
		id := b.challengeID()
		b.get("/2fa/")
		b.post("/2fa/send", url.Values{"method": {"sms"}})  // a first SMS
		b.post("/2fa/send", url.Values{"method": {"sms"}})  // inside the cooldown
		b.post("/2fa/send", url.Values{"method": {"totp"}}) // no send step
		b.get("/2fa/?method=sms")
		b.get("/2fa/?method=backup_code")
		for _, c := range wrong {
			b.post("/2fa/verify", url.Values{"method": {"sms"}, "code": {c}})
		}
		b.post("/2fa/verify", url.Values{"method": {"sms"}, "code": {"12 34"}})
		e.clock.Advance(11 * time.Minute)
		b.post("/2fa/verify", url.Values{"method": {"sms"}, "code": {e.sms.code(id)}}) // expired
		b.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {"WXYZ-WXYZ-WXYZ"}})
		b.post("/2fa/verify", url.Values{"method": {"backup_code"}, "code": {backupCode}, "remember": {"on"}})
		e.backup.left[backupCode] = true

		// A step-up, with its errors, and a cancelled sign-in.
		b.post("/2fa/step-up", url.Values{"next": {"/danger"}})
		b.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"555555"}})
		b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {appCode}})
		b.get("/danger")

		c := e.browser()
		c.json = asJSON
		all = append(all, c)
		c.login("alice", "")
		c.post("/2fa/cancel", nil)
		c.post("/2fa/verify", url.Values{"method": {"email"}, "code": {"123123"}})
		e.clock.Advance(time.Hour)
	}

	secrets := append([]string{appCode, backupCode, fullPhone, "WXYZ-WXYZ-WXYZ", "555555", "123123", "12 34"}, wrong...)
	for _, f := range []*sendFactor{e.email, e.sms} {
		f.mu.Lock()
		for _, c := range f.codes {
			secrets = append(secrets, c)
		}
		f.mu.Unlock()
	}
	require.Greater(t, len(secrets), 12, "codes were sent")
	for _, k := range e.rawKeys {
		secrets = append(secrets, base64.RawURLEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(k), string(k))
	}

	n := 0
	for _, b := range all {
		for _, w := range b.seen {
			n++
			var sb strings.Builder
			sb.WriteString(w.Body.String())
			for k, vs := range w.Header() {
				sb.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
			}
			text := sb.String()
			for _, s := range secrets {
				require.NotContains(t, text, s, "answer %d (%d) holds a secret", n, w.Code)
			}
			if w.Code >= http.StatusInternalServerError {
				t.Errorf("answer %d: %d %s", n, w.Code, w.Body.String())
			}
		}
	}
	require.Greater(t, n, 40)
}
