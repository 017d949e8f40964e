package twofactorhttp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// No settings or administrator page, JSON answer, header or cookie holds
// a TOTP secret except the authenticator app's set-up, a backup code
// except the answer that shows a new set once (and its download), a
// recovery code except the page that issues it, or a full phone number
// anywhere: across every route, in HTML and JSON.
func TestSettingsNothingSecretInAnswers(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	var all []*browser
	var secrets, codes, recovery []string
	const number = "+14155550112"
	for _, asJSON := range []bool{false, true} {
		s.mail.Reset()
		s.text.Reset()
		b := s.as("ben", asJSON)
		all = append(all, b)
		walk := func() {
			for _, p := range []string{"/2fa/settings/", "/2fa/settings/totp", "/2fa/settings/totp?step=code", "/2fa/settings/phone",
				"/2fa/settings/phone?change=1", "/2fa/settings/keys", "/2fa/settings/email", "/2fa/settings/backup-codes",
				"/2fa/settings/backup-codes/new", "/2fa/settings/devices", "/2fa/settings/backup-codes/show",
				"/2fa/settings/remove?method=sms&id=phone", "/2fa/settings/remove?method=totp&id=x"} {
				b.get(p)
			}
		}
		walk()
		// An authenticator app: begun, a wrong code, the right one.
		b.post("/2fa/settings/totp", url.Values{})
		w := b.get("/2fa/settings/totp")
		var secret string
		if asJSON {
			secret = decodeJSON(t, w)["pending"].(map[string]any)["secret"].(string)
		} else {
			secret = strings.ReplaceAll(pageSecret(t, w.Body.String()), " ", "")
		}
		secrets = append(secrets, secret)
		b.get("/2fa/settings/totp?step=code")
		b.post("/2fa/settings/totp/verify", url.Values{"code": {"000000"}})
		w = b.post("/2fa/settings/totp/verify", url.Values{"code": {s.totpCode(secret)}})
		if asJSON {
			for _, c := range decodeJSON(t, w)["backup_codes"].([]any) {
				codes = append(codes, c.(string))
			}
		} else {
			codes = append(codes, pageCodes(b.get("/2fa/settings/backup-codes/show").Body.String())...)
		}
		b.get("/2fa/settings/backup-codes.txt")
		b.post("/2fa/settings/backup-codes/done", url.Values{})
		walk()

		// A step-up by backup code, then a phone, new codes, removals.
		b.post("/2fa/step-up", url.Values{"next": {"/2fa/settings/"}})
		b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {"999999"}})
		s.clock.Advance(30 * time.Second)
		b.post("/2fa/verify", url.Values{"method": {"totp"}, "code": {s.totpCode(secret)}})
		b.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"(123) 555-0199"}}) // invalid for US
		b.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"(415) 555-0112"}})
		b.post("/2fa/settings/phone/resend", url.Values{})
		b.post("/2fa/settings/phone/verify", url.Values{"code": {wrongCode(s.smsCode(number))}})
		b.post("/2fa/settings/phone/verify", url.Values{"code": {s.smsCode(number)}})
		w = b.post("/2fa/settings/backup-codes", url.Values{})
		if asJSON {
			for _, c := range decodeJSON(t, w)["backup_codes"].([]any) {
				codes = append(codes, c.(string))
			}
		} else {
			codes = append(codes, pageCodes(b.get("/2fa/settings/backup-codes/show").Body.String())...)
		}
		walk()
		b.post("/2fa/settings/remove", url.Values{"method": {"sms"}, "id": {"phone"}})
		b.post("/2fa/settings/remove", url.Values{"method": {"totp"}, "id": {"nope"}})
		walk()

		// The administrator's pages.
		a := s.admin(asJSON)
		all = append(all, a)
		a.get("/admin/2fa/")
		a.get("/admin/2fa/user?id=ben")
		a.get("/admin/2fa/policy")
		a.post("/admin/2fa/user/unlock", url.Values{"id": {"ben"}})
		a.post("/admin/2fa/user/reset", url.Values{"id": {"ben"}, "reason": {"test"}})
		w = a.post("/admin/2fa/user/recovery-code", url.Values{"id": {"cat"}})
		if asJSON {
			recovery = append(recovery, decodeJSON(t, w)["code"].(string))
		} else {
			recovery = append(recovery, recoveryRe.FindStringSubmatch(w.Body.String())[1])
		}
		a.get("/admin/2fa/user?id=cat")
		a.post("/admin/2fa/user/reset", url.Values{"id": {"ben"}, "reason": {"test"}, "identity_checked": {"on"}})
		a.get("/admin/2fa/user?id=ben")
		s.clock.Advance(time.Hour)
	}
	require.Len(t, secrets, 2)
	require.Len(t, codes, 40)
	require.Len(t, recovery, 2)

	secretOK := map[string]bool{"GET /2fa/settings/totp": true, "POST /2fa/settings/totp": true, "POST /2fa/settings/totp/verify": true}
	codesOK := map[string]bool{"GET /2fa/settings/backup-codes/show": true, "GET /2fa/settings/backup-codes.txt": true,
		"POST /2fa/settings/backup-codes": true, "POST /2fa/settings/totp/verify": true, "POST /2fa/settings/phone/verify": true}
	phones := []string{number, "4155550112", "415 555 0112", "(415) 555-0112", "1235550199", "555-0199"}
	n := 0
	for _, b := range all {
		for i, w := range b.seen {
			n++
			asked := b.asked[i]
			var sb strings.Builder
			sb.WriteString(w.Body.String())
			for k, vs := range w.Header() {
				sb.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
			}
			text := sb.String()
			for _, p := range phones {
				require.NotContains(t, text, p, "%s", asked)
			}
			for _, k := range s.rawKeys {
				require.NotContains(t, text, string(k))
			}
			if !secretOK[asked] {
				for _, sec := range secrets {
					require.NotContains(t, text, sec, "%s", asked)
					require.NotContains(t, text, sec[:8], "%s", asked)
					require.NotContains(t, text, sec[:4]+" "+sec[4:8], "%s", asked)
				}
			}
			if !codesOK[asked] {
				for _, c := range codes {
					require.NotContains(t, text, c, "%s", asked)
				}
			}
			if asked != "POST /admin/2fa/user/recovery-code" {
				for _, c := range recovery {
					require.NotContains(t, text, c, "%s", asked)
				}
			}
			if w.Code >= http.StatusInternalServerError {
				t.Errorf("%s: %d %s", asked, w.Code, w.Body.String())
			}
		}
	}
	require.Greater(t, n, 100)
}
