package twofactorhttp_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
)

func TestSettingsPhoneForm(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	b := s.as("ben", false)
	b.header.Set("Accept-Language", "en-GB,en;q=0.8")
	w := b.get("/2fa/settings/phone")
	require.Equal(t, http.StatusOK, w.Code)
	body := text(w)
	require.Contains(t, body, `<label for="tf-region">Country or region</label>`)
	require.Contains(t, body, `<option value="GB" selected>United Kingdom (+44)</option>`)
	require.Contains(t, body, `<option value="US">United States (+1)</option>`)
	require.Contains(t, body, `<label for="tf-number">Phone number</label>`)
	require.Contains(t, body, `id="tf-number" name="number" type="tel" required autofocus`)
	require.Contains(t, body, ">Send code</button>")
}

// Numbers that are refused say what is wrong, as a page and as JSON, and
// nothing is sent.
func TestSettingsPhoneBadNumbers(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	for _, tc := range []struct{ region, number, msg string }{
		{"US", "", "Enter your phone number."},
		{"", "415 555 0112", "Choose your country, or start the number with + and its country code."},
		{"US", "41", "That number is too short."},
		{"US", "4155550112999999", "That number is too long."},
		{"", "+999 1234 5678", "That country calling code does not exist."},
		{"US", "(123) 555-0112", "That is not a valid phone number for United States."},
		{"GB", "+44 1234", "That number is too short."},
		{"GB", "+44 7400 12345", "That is not a valid phone number for United Kingdom."},
		{"GB", "0740012345678", "That number is too long."},
		{"", "not a number", "Choose your country"},
		{"US", "1-900-555-0112", "We can't send codes to that number."},
		{"ZZ", "12345", "Choose your country"},
	} {
		t.Run(tc.region+" "+tc.number, func(t *testing.T) {
			b := s.as("ben", false)
			w := b.post("/2fa/settings/phone", url.Values{"region": {tc.region}, "number": {tc.number}})
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			requireAlert(t, w.Body.String(), tc.msg)
			require.Contains(t, w.Body.String(), `name="number"`, "the form again")
			if tc.region != "" && tc.region != "ZZ" {
				require.Contains(t, w.Body.String(), `value="`+tc.region+`" selected`)
			}
			m := requireError(t, s.as("ben", true).post("/2fa/settings/phone", url.Values{"region": {tc.region}, "number": {tc.number}}),
				http.StatusBadRequest, "invalid_phone")
			require.Contains(t, m["message"], tc.msg)
		})
	}
	require.Empty(t, s.text.Messages())
}

// Adding a phone: a code texted, the code field, a wrong code keeps the
// pending number, the right one makes it the user's phone; replacing it
// and removing it go through step-up.
func TestSettingsPhone(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	const number = "+14155550112"
	b := s.as("ben", false)
	w := b.post("/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"(415) 555-0112"}})
	requireRedirect(t, w, "/2fa/settings/phone")
	w = b.get("/2fa/settings/phone")
	body := text(w)
	require.Contains(t, body, "We sent a code to +1 *** *** **12.")
	require.Contains(t, body, `<label for="tf-code">Code from the text message</label>`)
	require.Contains(t, body, `data-length="6"`)
	require.Contains(t, body, "data-webotp")
	require.Contains(t, body, `data-countdown="60"`)
	require.Contains(t, body, `href="/2fa/settings/phone?change=1"`)
	require.NotContains(t, body, `name="number"`)
	code := s.smsCode(number)

	// A resend inside the cooldown: the code form with the wait.
	w = b.post("/2fa/settings/phone/resend", nil)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	requireAlert(t, w.Body.String(), "You can ask for a new code in")
	require.NotEmpty(t, w.Header().Get("Retry-After"))

	w = b.post("/2fa/settings/phone/verify", url.Values{"code": {wrongCode(code)}})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	requireAlert(t, w.Body.String(), "That code didn't work.")
	require.Contains(t, w.Body.String(), `name="code"`)

	s.clock.Advance(61 * time.Second)
	requireRedirect(t, b.post("/2fa/settings/phone/resend", nil), "/2fa/settings/phone")
	require.NotEqual(t, code, "", "a new code")
	code = s.smsCode(number)
	w = b.post("/2fa/settings/phone/verify", url.Values{"code": {code}})
	requireRedirect(t, w, "/2fa/settings/backup-codes/show")

	w = b.get("/2fa/settings/phone")
	body = text(w)
	require.Contains(t, body, "Codes are texted to +1 *** *** **12.")
	require.Contains(t, body, `href="/2fa/settings/phone?change=1">Replace`)
	require.Contains(t, body, removeForm("sms", "phone"))

	// Replacing it: the form says one phone per account, and needs a
	// step-up first (ben now has a factor).
	w = b.get("/2fa/settings/phone?change=1")
	require.Contains(t, text(w), "One phone number per account")
	require.Contains(t, text(w), "confirm it's you before this change")
	w = b.post("/2fa/settings/phone", url.Values{"region": {"GB"}, "number": {"07400 123456"}})
	requireRedirect(t, w, "/2fa/step-up?next="+url.QueryEscape("/2fa/settings/phone"))
	require.Len(t, s.text.Messages(), 2, "nothing sent")
	// The number waits for the step-up in the sealed set-up cookie: the
	// page offers to send its code, masked, with the note before the
	// step-up and without it after; one click sends the code. No GET
	// sends anything, and the number is never on a page.
	held := `<input type="hidden" name="held" value="on">`
	body = text(b.get("/2fa/settings/phone"))
	require.Contains(t, body, "Send a code to +44 **** ****56 to finish adding it.")
	require.Contains(t, body, held)
	require.Contains(t, body, "confirm it's you before this change")
	// The step-up, by a text to the phone ben has.
	requireRedirect(t, b.post("/2fa/step-up", url.Values{"next": {"/2fa/settings/phone"}}), "/2fa/")
	require.Len(t, s.text.Messages(), 3, "the step-up's code")
	requireRedirect(t, b.post("/2fa/verify", url.Values{"method": {"sms"}, "code": {s.smsCode(number)}}), "/2fa/settings/phone")
	body = text(b.get("/2fa/settings/phone"))
	require.Contains(t, body, "Send a code to +44 **** ****56 to finish adding it.")
	require.Contains(t, body, held)
	require.Contains(t, body, `href="/2fa/settings/phone?change=1">Use another number`)
	require.NotContains(t, body, "confirm it's you before this change")
	// Another number: the empty form.
	body = text(b.get("/2fa/settings/phone?change=1"))
	require.Contains(t, body, `id="tf-number"`)
	require.NotContains(t, body, held)
	require.Len(t, s.text.Messages(), 3, "nothing sent by a GET")
	s.clock.Advance(61 * time.Second) // the step-up's text started the resend wait
	requireRedirect(t, b.post("/2fa/settings/phone", url.Values{"held": {"on"}}), "/2fa/settings/phone")
	require.Len(t, s.text.Messages(), 4, "the click sends the code")
	last, ok := s.text.Last("+447400123456")
	require.True(t, ok, "to the number held")
	require.NotEmpty(t, last.Body)
	require.Contains(t, text(b.get("/2fa/settings/phone")), "+44 **** ****56")

	// JSON: the state, a send refused for the step-up.
	api := s.as("ben", true)
	m := decodeJSON(t, api.get("/2fa/settings/phone"))
	require.Equal(t, true, m["enrolled"])
	require.Equal(t, "+1 *** *** **12", m["enrollments"].([]any)[0].(map[string]any)["label"])
	requireError(t, api.post("/2fa/settings/phone", url.Values{"region": {"GB"}, "number": {"07400 123456"}}), http.StatusUnauthorized, "step_up_required")

	for _, w := range append(b.seen, api.seen...) {
		require.NotContains(t, w.Body.String(), number)
		require.NotContains(t, w.Body.String(), "4155550112")
		for _, c := range w.Result().Cookies() {
			require.NotContains(t, c.Value, "555")
		}
	}
}

func TestSettingsPhoneJSON(t *testing.T) {
	s := newSettingsEnv(t, senvOpt{})
	api := s.as("ben", true)
	m := decodeJSON(t, api.post("/2fa/settings/phone", url.Values{"region": {""}, "number": {"+44 7400 123456"}}))
	require.Equal(t, "code_sent", m["status"])
	require.Equal(t, "sms", m["method"])
	p := m["pending"].(map[string]any)
	require.Equal(t, "+44 **** ****56", p["destination"])
	require.Equal(t, float64(60), p["resend_after"])
	require.NotEmpty(t, p["expires_at"])
	m = decodeJSON(t, api.get("/2fa/settings/phone"))
	require.Equal(t, "+44 **** ****56", m["pending"].(map[string]any)["destination"])
	code := s.smsCode("+447400123456")
	requireError(t, api.post("/2fa/settings/phone/verify", url.Values{"code": {wrongCode(code)}}), http.StatusUnauthorized, "invalid_code")
	m = decodeJSON(t, api.post("/2fa/settings/phone/verify", url.Values{"code": {code}}))
	require.Equal(t, "enrolled", m["status"])
	require.Equal(t, "phone", m["enrollment"].(map[string]any)["id"])
	require.Len(t, m["backup_codes"], 10)
	requireError(t, api.post("/2fa/settings/phone/resend", url.Values{}), http.StatusConflict, "no_pending_enrollment")

	es, err := s.svc.Enrollments(t.Context(), ben)
	require.NoError(t, err)
	require.Equal(t, twofactor.MethodSMS, es[0].Method)
}

// wrongCode returns a six-digit code other than c.
func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}
