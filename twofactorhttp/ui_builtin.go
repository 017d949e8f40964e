package twofactorhttp

import (
	"github.com/twofactorkit/twofactor"
)

// The built-in UIs of the library's five factors. These are the only
// place the pages name a method of the library: everything else serves a
// method by its MethodUI and by what its factor implements.

// builtinUIs are the built-in UIs, in the order the pages list them when
// Config.Methods does not say otherwise.
func builtinUIs() []MethodUI {
	return []MethodUI{TOTPUI(), SecurityKeyUI(), PhoneUI(), EmailUI(), BackupCodesUI()}
}

// TOTPUI returns the pages of the authenticator app (package totp): its
// settings page at settings/totp shows the QR code and the secret of a
// set-up, then ("Next") the code field.
func TOTPUI() MethodUI {
	return MethodUI{Method: twofactor.MethodTOTP, Route: "totp", Page: PageSettingsTOTP,
		Code: CodeField{Length: 6, Numeric: true}, kind: totpKind{}}
}

// SecurityKeyUI returns the pages of security keys and passkeys (package
// webauthn): the challenge runs the browser's ceremony through the
// security-key script, and settings/keys lists the keys, adds one through
// the script and renames them. It adds the script's routes under the
// prefix: webauthn/webauthn.js, webauthn/login/begin and finish,
// webauthn/register/begin and finish.
func SecurityKeyUI() MethodUI {
	return MethodUI{Method: twofactor.MethodWebAuthn, Route: "keys", Page: PageSettingsKeys, kind: keysKind{}}
}

// PhoneUI returns the pages of codes by text message (package smscode):
// settings/phone asks for the number with a country picker, checks it
// with smscode.ParsePhone (saying what is wrong with a number refused),
// and texts it a code; the code field lets the browser fill it in.
func PhoneUI() MethodUI {
	return MethodUI{Method: twofactor.MethodSMS, Route: "phone", Page: PageSettingsPhone,
		Code: CodeField{Length: 6, Numeric: true, WebOTP: true}, kind: phoneKind{}}
}

// EmailUI returns the pages of codes by email (package emailcode):
// settings/email says whether codes go by email and where (masked), and
// turns them on with a code to the account's address when the factor is
// opt-in.
func EmailUI() MethodUI {
	return MethodUI{Method: twofactor.MethodEmail, Route: "email", Page: PageSettingsEmail,
		Code: CodeField{Length: 6, Numeric: true}, kind: emailKind{}}
}

// BackupCodesUI returns the pages of backup codes (package backupcodes):
// settings/backup-codes says how many are left and asks, at
// settings/backup-codes/new, before making a new set, which the page of
// new codes shows once.
func BackupCodesUI() MethodUI {
	return MethodUI{Method: twofactor.MethodBackupCode, Route: "backup-codes", Page: PageSettingsBackup, kind: codesKind{}}
}

// emailKind: one address per account, the account's own; a factor that
// follows it stays on when two-step verification is turned off.
type emailKind struct{ baseKind }

func (emailKind) row(_ *Handler, _ *Strings, fv *FactorView) {
	fv.CanAdd = fv.CanAdd && len(fv.Enrollments) == 0
}

// hidden: without an address, and so without codes by email, the user
// could not turn them on.
func (emailKind) hidden(u twofactor.User, fv *FactorView) bool {
	return u.Email == "" && len(fv.Enrollments) == 0
}

func (emailKind) page(h *Handler, tx *Strings, p *methodPage) {
	fv := p.v.Factor
	e := &EmailView{}
	switch {
	case len(fv.Enrollments) > 0:
		e.On, e.Address, e.Implicit = true, fv.Enrollments[0].Label, fv.Implicit
	case p.u.Email == "":
		e.NoAddress = true
		p.v.Code, p.v.StepUp = nil, false
	case p.v.Code == nil && fv.CanAdd:
		e.TurnOn = h.settingsURL(p.ui)
	}
	p.v.Email = e
}

func (emailKind) stays(h *Handler, tx *Strings, _ *methodUI) string {
	return tx.Settings.DisableEmailStays
}

func (emailKind) codeLabel(t *Strings) string { return t.Settings.EmailCodeLabel }

// totpKind: the code field's label names the app.
type totpKind struct{ baseKind }

func (totpKind) codeLabel(t *Strings) string { return t.Settings.TOTPCodeLabel }
