package twofactorhttp

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/twofactorkit/twofactor"
)

// Setting up a factor: the authenticator app (a QR code, then its code),
// a phone or an email address (a code sent, then typed), a security key
// (the browser's ceremony, on the routes of register.go). A set-up the
// user has begun is remembered in the enrollment cookie, so the page
// shows it again; its state is the factor's, in the store.

// ---- the authenticator app ----

type pendingTOTPOut struct {
	Secret    string       `json:"secret"`
	URI       template.URL `json:"uri"`
	QR        template.URL `json:"qr"`
	ExpiresAt time.Time    `json:"expires_at"`
}

type totpOut struct {
	factorOut
	Status  string          `json:"status,omitempty"` // "pending" after a begin
	Pending *pendingTOTPOut `json:"pending,omitempty"`
}

// totpView describes a pending set-up. The secret is shown in groups of
// four, as apps show it.
func (h *Handler) totpView(en *twofactor.Enrolling, step string) *TOTPView {
	t := &h.text.Settings
	return &TOTPView{QR: en.QR, URI: en.URI, Secret: groupSecret(en.Secret),
		Expires: fmt.Sprintf(t.TOTPExpires, h.dateTime(en.ExpiresAt)), Apps: t.Apps, Step: step,
		Next: h.url(routeSettingsTOTP) + "?step=code", Back: h.url(routeSettingsTOTP)}
}

// groupSecret writes a base32 secret in groups of four characters.
func groupSecret(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// codeView is the form of a confirmation code for m.
func (h *Handler) codeView(m twofactor.Method, action, label string) *CodeView {
	return &CodeView{Action: h.url(action), Method: m, Label: label, Length: h.methodView(m, "").Length}
}

// needsStepUp reports whether adding a factor needs a fresh step-up
// first: the user has an enrollment and no fresh proof.
func (h *Handler) needsStepUp(r *http.Request, u twofactor.User, es []twofactor.Enrollment) bool {
	if len(es) == 0 {
		return false
	}
	_, err := h.freshProof(r, u)
	return err != nil
}

// serveTOTP (GET settings/totp) shows the authenticator app: set up, or
// its pending set-up (the QR code, then with ?step=code the code form),
// or how to start one.
func (h *Handler) serveTOTP(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	h.totpPage(w, r, u, http.StatusOK, nil)
}

func (h *Handler) totpPage(w http.ResponseWriter, r *http.Request, u twofactor.User, status int, e *ErrorView) {
	const m = twofactor.MethodTOTP
	ctx := r.Context()
	back := h.url(routeSettingsTOTP)
	if !h.configured(m) {
		h.fail(w, r, nil, errNotFound)
		return
	}
	es, err := h.svc.Enrollments(ctx, u)
	if err != nil {
		h.settingsFail(w, r, m, "", err, nil)
		return
	}
	fv := h.factorView(m, es)
	v := &SettingsView{Factor: &fv}
	out := totpOut{factorOut: factorJSON(fv)}
	if len(fv.Enrollments) == 0 {
		if _, ok := h.readEnrolling(r, u, m); ok {
			if r.URL.Query().Get("step") == "code" && e == nil {
				v.TOTP = &TOTPView{Step: "code", Back: back}
			} else {
				en, err := h.svc.BeginEnroll(ctx, u, m, twofactor.EnrollRequest{Client: h.client(r)}, h.stepUpProof(r, u.ID))
				switch {
				case err == nil:
					h.setEnrolling(w, r, u, &enrolling{Method: m, Expires: en.ExpiresAt.Unix()})
					v.TOTP = h.totpView(en, "scan")
					out.Pending = &pendingTOTPOut{Secret: en.Secret, URI: en.URI, QR: en.QR, ExpiresAt: en.ExpiresAt.UTC()}
				case e != nil && errors.Is(err, twofactor.ErrStepUpRequired):
					// A wrong code after the step-up went stale: the
					// code form alone, and the way back to the QR code.
					v.TOTP = &TOTPView{Step: "code", Back: back}
				default:
					h.settingsFail(w, r, m, back, err, nil)
					return
				}
			}
			v.Code = h.codeView(m, routeSettingsTOTPCode, h.text.Settings.TOTPCodeLabel)
		} else {
			v.StepUp = h.needsStepUp(r, u, es)
		}
	}
	if wantsJSON(r) {
		if e != nil {
			h.writeJSON(w, status, ErrorBody{Error: e.Code, Message: e.Message})
			return
		}
		h.writeJSON(w, http.StatusOK, out)
		return
	}
	h.settingsPage(w, r, status, PageSettingsTOTP, h.text.Settings.TOTPTitle, v, e)
}

// serveTOTPBegin (POST settings/totp; restart=true for a new secret)
// starts setting up an authenticator app and shows its QR code; JSON
// clients get the secret, the otpauth URI and the QR code.
func (h *Handler) serveTOTPBegin(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	const m = twofactor.MethodTOTP
	back := h.url(routeSettingsTOTP)
	f, err := readSettingsForm(w, r)
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	en, err := h.svc.BeginEnroll(r.Context(), u, m, twofactor.EnrollRequest{Client: h.client(r), Restart: checked(f.get("restart"))},
		h.stepUpProof(r, u.ID))
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	h.setEnrolling(w, r, u, &enrolling{Method: m, Expires: en.ExpiresAt.Unix()})
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, totpOut{
			factorOut: factorOut{Method: m, Name: h.text.method(m).Name, URL: back, Enrollments: []enrollmentOut{}},
			Status:    "pending",
			Pending:   &pendingTOTPOut{Secret: en.Secret, URI: en.URI, QR: en.QR, ExpiresAt: en.ExpiresAt.UTC()},
		})
		return
	}
	seeOther(w, back)
}

// serveTOTPConfirm (POST settings/totp/verify, code) confirms the pending
// set-up with a code from the app. A wrong code shows the same QR code
// again with the error.
func (h *Handler) serveTOTPConfirm(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	const m = twofactor.MethodTOTP
	h.confirm(w, r, u, m, h.url(routeSettingsTOTP), savedTOTP, func(status int, e *ErrorView) {
		h.totpPage(w, r, u, status, e)
	})
}

// confirm checks a confirmation code for the pending set-up of m
// (Service.ConfirmEnroll). A wrong code calls again; no pending set-up is
// 409 no_pending_enrollment.
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, u twofactor.User, m twofactor.Method, back, saved string, again func(int, *ErrorView)) {
	f, err := readSettingsForm(w, r)
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	out, err := h.svc.ConfirmEnroll(r.Context(), u, m, normalizeCode(m, f.get("code")))
	if errors.Is(err, twofactor.ErrNotEnrolled) {
		h.clearEnrolling(w, r)
		err = errNoEnrollment
		again = nil
	}
	if err != nil {
		h.settingsFail(w, r, m, back, err, again)
		return
	}
	h.clearEnrolling(w, r)
	h.enrolled(w, r, u, out, saved)
}

type enrolledOut struct {
	OK          bool          `json:"ok"`
	Status      string        `json:"status"` // "enrolled"
	Enrollment  enrollmentOut `json:"enrollment"`
	BackupCodes []string      `json:"backup_codes,omitempty"` // with the first factor: shown once
	Next        string        `json:"next"`
}

// enrolled answers a confirmed set-up. When it was the user's first
// factor and brought backup codes, the browser goes to the page that
// shows them once; a JSON client gets them in the answer.
func (h *Handler) enrolled(w http.ResponseWriter, r *http.Request, u twofactor.User, out *twofactor.Enrolled, saved string) {
	next := h.url(routeSettings)
	if len(out.BackupCodes) > 0 {
		h.keepCodes(w, r, u, out.BackupCodes)
		next = h.url(routeSettingsCodes)
	}
	if wantsJSON(r) {
		e := out.Enrollment
		h.writeJSON(w, http.StatusOK, enrolledOut{OK: true, Status: "enrolled", BackupCodes: out.BackupCodes, Next: next,
			Enrollment: enrollmentOut{ID: e.ID, Label: e.Label, CreatedAt: utc(e.CreatedAt), LastUsedAt: utc(e.LastUsedAt)}})
		return
	}
	if len(out.BackupCodes) > 0 {
		seeOther(w, next)
		return
	}
	seeOther(w, next+"?done="+saved)
}

// ---- phone and email: a code sent, then typed ----

type sentOut struct {
	Method      twofactor.Method `json:"method"`
	Destination string           `json:"destination,omitempty"` // masked
	ResendAt    time.Time        `json:"resend_at,omitzero"`
	ResendAfter int              `json:"resend_after"`
}

type codeSentOut struct {
	sentOut
	Status    string    `json:"status"` // "code_sent"
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

type sendingOut struct {
	factorOut
	Pending *sentOut `json:"pending,omitempty"` // a code was sent and awaits confirmation
}

// sentView describes the code a set-up sent.
func (h *Handler) sentView(e *enrolling) *SentView {
	t := h.text
	s := &SentView{Text: t.Sent}
	if e.Destination != "" {
		s.Text = fmt.Sprintf(t.SentTo, e.Destination)
	}
	if left := time.UnixMilli(e.ResendAt).Sub(h.now()); e.ResendAt > 0 && left > 0 {
		s.ResendIn = ceil(left, time.Second)
		s.Wait = fmt.Sprintf(t.ResendIn, t.wait(left))
	}
	return s
}

func (h *Handler) sentJSONOf(e *enrolling) *sentOut {
	out := &sentOut{Method: e.Method, Destination: e.Destination}
	if e.ResendAt > 0 {
		out.ResendAt = time.UnixMilli(e.ResendAt).UTC()
		if left := out.ResendAt.Sub(h.now()); left > 0 {
			out.ResendAfter = ceil(left, time.Second)
		}
	}
	return out
}

// sendCode begins (or, with restart, sends again) the set-up of m to
// dest, remembers it, and moves to the page back; again re-renders the
// form with an error a form can show.
func (h *Handler) sendCode(w http.ResponseWriter, r *http.Request, u twofactor.User, m twofactor.Method, dest string, restart bool,
	back, stepUpBack string, again func(int, *ErrorView)) {
	en, err := h.svc.BeginEnroll(r.Context(), u, m, twofactor.EnrollRequest{Client: h.client(r), Destination: dest, Restart: restart},
		h.stepUpProof(r, u.ID))
	if errors.Is(err, twofactor.ErrInvalidInput) && m == twofactor.MethodSMS {
		err = &phoneError{h.text.Settings.PhoneRefused}
	}
	if err != nil {
		if errors.Is(err, twofactor.ErrStepUpRequired) {
			back = stepUpBack
		}
		h.settingsFail(w, r, m, back, err, again)
		return
	}
	e := &enrolling{Method: m, Number: "", Expires: en.ExpiresAt.Add(max(en.ExpiresAt.Sub(h.now()), 10*time.Minute)).Unix()}
	if m == twofactor.MethodSMS {
		e.Number = dest
	}
	if s := en.Sent; s != nil {
		e.Destination = stripControl(s.Destination)
		e.ResendAt = s.ResendAt.UnixMilli()
	}
	h.setEnrolling(w, r, u, e)
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, codeSentOut{sentOut: *h.sentJSONOf(e), Status: "code_sent", ExpiresAt: utc(en.ExpiresAt)})
		return
	}
	seeOther(w, back)
}

// resend sends a new code for the set-up of m the cookie remembers.
func (h *Handler) resend(w http.ResponseWriter, r *http.Request, u twofactor.User, m twofactor.Method, back string, again func(int, *ErrorView)) {
	if _, err := readSettingsForm(w, r); err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	e, ok := h.readEnrolling(r, u, m)
	if !ok {
		h.settingsFail(w, r, m, back, errNoEnrollment, nil)
		return
	}
	h.sendCode(w, r, u, m, e.Number, true, back, back, again)
}

// ---- the phone ----

// phoneError is a phone number refused, with what is wrong with it. It
// matches twofactor.ErrInvalidInput.
type phoneError struct{ message string }

func (e *phoneError) Error() string        { return "twofactorhttp: phone number refused: " + e.message }
func (e *phoneError) Is(target error) bool { return target == twofactor.ErrInvalidInput }

// parsePhone reads a number as typed, with region from the country picker
// ("US"; empty when the number starts with +), and returns it in E.164
// form, or a *phoneError saying what is wrong. The SMS factor parses it
// again and has the last word (number types, allowed regions).
func (h *Handler) parsePhone(number, region string) (e164 string, err error) {
	t := &h.text.Settings
	number = strings.TrimSpace(number)
	region = strings.ToUpper(strings.TrimSpace(region))
	switch {
	case number == "":
		return "", &phoneError{t.PhoneEmpty}
	case len(number) > 64:
		return "", &phoneError{t.PhoneTooLong}
	}
	if !phonenumbers.GetSupportedRegions()[region] {
		region = ""
	}
	if region == "" && !strings.HasPrefix(number, "+") {
		return "", &phoneError{t.PhoneNeedRegion}
	}
	num, err := parseNumber(number, region)
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return "", &phoneError{t.PhoneBadCountry}
	case errors.Is(err, phonenumbers.ErrTooShortNSN):
		return "", &phoneError{t.PhoneTooShort}
	case err != nil:
		return "", &phoneError{t.PhoneInvalidAny}
	}
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.TOO_SHORT:
		return "", &phoneError{t.PhoneTooShort}
	case phonenumbers.TOO_LONG:
		return "", &phoneError{t.PhoneTooLong}
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "", &phoneError{t.PhoneBadCountry}
	}
	if !phonenumbers.IsValidNumber(num) {
		cc := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
		if region != "" && phonenumbers.GetCountryCodeForRegion(region) == int(num.GetCountryCode()) {
			cc = region
		}
		if name := h.regionName(cc); name != "" {
			return "", &phoneError{fmt.Sprintf(t.PhoneInvalid, name)}
		}
		return "", &phoneError{t.PhoneInvalidAny}
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// parseNumber calls phonenumbers.Parse and turns a panic in it (hostile
// input reaching a corner of the library) into an error.
func parseNumber(number, region string) (num *phonenumbers.PhoneNumber, err error) {
	defer func() {
		if recover() != nil {
			num, err = nil, errors.New("phone number parser failed")
		}
	}()
	return phonenumbers.Parse(number, region)
}

func (h *Handler) regionName(code string) string {
	if n := h.text.Settings.Regions[code]; n != "" {
		return n
	}
	return RegionNames[code]
}

// pickedRegion is the country picker's default: the region of the
// browser's first language with one ("en-GB" gives "GB").
func pickedRegion(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		fields := strings.Split(tag, "-")
		for _, f := range fields[1:] {
			if f = strings.ToUpper(f); len(f) == 2 && phonenumbers.GetSupportedRegions()[f] {
				return f
			}
		}
	}
	return ""
}

// servePhone (GET settings/phone) shows the phone: the number codes go
// to (masked), the form to add or replace it (?change=1), or the code
// form once a code was sent.
func (h *Handler) servePhone(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	h.phonePage(w, r, u, http.StatusOK, nil, "")
}

func (h *Handler) phonePage(w http.ResponseWriter, r *http.Request, u twofactor.User, status int, e *ErrorView, region string) {
	const m = twofactor.MethodSMS
	if !h.configured(m) {
		h.fail(w, r, nil, errNotFound)
		return
	}
	es, err := h.svc.Enrollments(r.Context(), u)
	if err != nil {
		h.settingsFail(w, r, m, "", err, nil)
		return
	}
	fv := h.factorView(m, es)
	v := &SettingsView{Factor: &fv}
	out := sendingOut{factorOut: factorJSON(fv)}
	change := r.URL.Query().Get("change") != "" || r.URL.Path == h.url(routeSettingsPhone) && r.Method == http.MethodPost
	if p, ok := h.readEnrolling(r, u, m); ok && !change {
		v.Code = h.codeView(m, routeSettingsPhoneCode, h.text.Settings.PhoneCodeLabel)
		v.Code.Sent = h.sentView(p)
		v.Code.Resend = h.url(routeSettingsPhoneSend)
		v.Code.Other = &Link{URL: h.url(routeSettingsPhone) + "?change=1", Text: h.text.Settings.OtherNumber}
		out.Pending = h.sentJSONOf(p)
	} else if len(fv.Enrollments) == 0 || change {
		if region == "" {
			region = pickedRegion(r)
		}
		v.Phone = &PhoneView{Action: h.url(routeSettingsPhone), Regions: h.regions(region)}
		v.StepUp = fv.CanAdd && h.needsStepUp(r, u, es)
	}
	if wantsJSON(r) {
		if e != nil {
			h.writeJSON(w, status, ErrorBody{Error: e.Code, Message: e.Message, RetryAfter: e.RetryAfter})
			return
		}
		h.writeJSON(w, http.StatusOK, out)
		return
	}
	h.settingsPage(w, r, status, PageSettingsPhone, h.text.Settings.PhoneTitle, v, e)
}

// servePhoneSend (POST settings/phone, region and number) checks the
// number and texts it a code. The user's current phone stays until the
// new one is confirmed.
func (h *Handler) servePhoneSend(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	const m = twofactor.MethodSMS
	back := h.url(routeSettingsPhone)
	f, err := readSettingsForm(w, r)
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	region := strings.ToUpper(strings.TrimSpace(f.get("region")))
	again := func(status int, e *ErrorView) { h.phonePage(w, r, u, status, e, region) }
	e164, err := h.parsePhone(f.get("number"), region)
	if err != nil {
		h.settingsFail(w, r, m, back, err, again)
		return
	}
	h.sendCode(w, r, u, m, e164, false, back, back+"?change=1", again)
}

// servePhoneResend (POST settings/phone/resend) texts a new code to the
// number being confirmed.
func (h *Handler) servePhoneResend(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	h.resend(w, r, u, twofactor.MethodSMS, h.url(routeSettingsPhone), func(status int, e *ErrorView) {
		h.phonePage(w, r, u, status, e, "")
	})
}

// servePhoneConfirm (POST settings/phone/verify, code) makes the number
// the user's phone, replacing the previous one.
func (h *Handler) servePhoneConfirm(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	h.confirm(w, r, u, twofactor.MethodSMS, h.url(routeSettingsPhone), savedPhone, func(status int, e *ErrorView) {
		h.phonePage(w, r, u, status, e, "")
	})
}

// ---- email ----

// serveEmail (GET settings/email) shows whether codes go by email, and
// where (masked).
func (h *Handler) serveEmail(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	h.emailPage(w, r, u, http.StatusOK, nil)
}

func (h *Handler) emailPage(w http.ResponseWriter, r *http.Request, u twofactor.User, status int, e *ErrorView) {
	const m = twofactor.MethodEmail
	if !h.configured(m) {
		h.fail(w, r, nil, errNotFound)
		return
	}
	es, err := h.svc.Enrollments(r.Context(), u)
	if err != nil {
		h.settingsFail(w, r, m, "", err, nil)
		return
	}
	t := &h.text.Settings
	fv := h.factorView(m, es)
	v := &SettingsView{Factor: &fv, Email: &EmailView{}}
	out := sendingOut{factorOut: factorJSON(fv)}
	switch {
	case len(fv.Enrollments) > 0:
		v.Email.On = true
		v.Email.Address = fv.Enrollments[0].Label
		v.Email.Implicit = !h.emailOptIn()
	case u.Email == "":
		v.Email.NoAddress = true
	default:
		if p, ok := h.readEnrolling(r, u, m); ok {
			v.Code = h.codeView(m, routeSettingsEmailCode, t.EmailCodeLabel)
			v.Code.Sent = h.sentView(p)
			v.Code.Resend = h.url(routeSettingsEmailSend)
			out.Pending = h.sentJSONOf(p)
		} else if fv.CanAdd {
			v.Email.TurnOn = h.url(routeSettingsEmail)
			v.StepUp = h.needsStepUp(r, u, es)
		}
	}
	if wantsJSON(r) {
		if e != nil {
			h.writeJSON(w, status, ErrorBody{Error: e.Code, Message: e.Message, RetryAfter: e.RetryAfter})
			return
		}
		h.writeJSON(w, http.StatusOK, out)
		return
	}
	h.settingsPage(w, r, status, PageSettingsEmail, t.EmailTitle, v, e)
}

// serveEmailSend (POST settings/email) mails a code that confirms the
// account's address, to turn email codes on.
func (h *Handler) serveEmailSend(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	const m = twofactor.MethodEmail
	back := h.url(routeSettingsEmail)
	if _, err := readSettingsForm(w, r); err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	h.sendCode(w, r, u, m, "", false, back, back, func(status int, e *ErrorView) { h.emailPage(w, r, u, status, e) })
}

// serveEmailResend (POST settings/email/resend) mails a new code.
func (h *Handler) serveEmailResend(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	h.resend(w, r, u, twofactor.MethodEmail, h.url(routeSettingsEmail), func(status int, e *ErrorView) {
		h.emailPage(w, r, u, status, e)
	})
}

// serveEmailConfirm (POST settings/email/verify, code) turns email codes
// on.
func (h *Handler) serveEmailConfirm(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	h.confirm(w, r, u, twofactor.MethodEmail, h.url(routeSettingsEmail), savedEmail, func(status int, e *ErrorView) {
		h.emailPage(w, r, u, status, e)
	})
}
