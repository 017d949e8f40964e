package twofactorhttp

import (
	"time"

	"github.com/twofactorkit/twofactor"
)

// samplePage is the data New renders each page with, to find a page that
// fails or a layout that leaves the content out before any request does:
// every view of every page, filled.
func (h *Handler) samplePage(tx *Strings, page string) *PageData {
	const m = twofactor.Method("sample")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	mv := MethodView{Method: m, MethodText: tx.method(m), URL: h.url(routeChallenge), Active: true, Sends: true, Numeric: true, Length: 6}
	backup := mv
	backup.Active = false
	sent := &SentView{Text: tx.Sent, ResendIn: 30, Wait: tx.Sent}
	link := &Link{URL: h.returnURL, Text: tx.Continue}
	d := &PageData{
		Page: page, Title: "Sample", T: tx, Prefix: h.prefix, Status: 200,
		Error:   &ErrorView{Code: CodeInvalidCode, Message: tx.InvalidCode},
		Purpose: twofactor.PurposeLogin, Intro: tx.IntroLogin,
		Methods: []MethodView{mv}, Backup: &backup, Active: &mv, Sent: sent,
		Trust:  &TrustView{Label: tx.TrustSession},
		Verify: h.url(routeVerify), Send: h.url(routeSend), Cancel: h.url(routeCancel),
		Message: tx.ChallengeEnded, Link: link,
		Locked: &LockedView{Until: at, Clock: tx.Dates.Format(at, tx.ClockTime), Before: tx.LockedAt, All: tx.LockedAll,
			NotYou: tx.LockedNotYou, Purpose: twofactor.PurposeLogin},
		SignedIn: true, User: &twofactor.User{ID: "sample", Name: "Sample", Email: "sample@example.com"},
		Support:  &Link{URL: h.returnURL, Text: "Sample"},
		Form:     &Form{Action: h.url(routeStepUp), Next: h.returnURL, Back: h.returnURL, Button: tx.Continue, Cancel: link},
		Settings: h.sampleSettings(tx, m, at, sent),
		Admin:    h.sampleAdmin(tx, m),
	}
	d.Offer = &OfferView{Next: h.returnURL, Later: h.url(routePasskeyOffer), StepUp: h.url(routeStepUp), Codes: h.url(routeSettingsCodes)}
	d.Prompt = &PromptView{Left: "Sample", Skips: "Sample", Reason: "Sample", SetUp: *link,
		Skip: Form{Action: h.url(routeEnrollPrompt), Next: h.returnURL, Button: tx.Continue}}
	return d
}

func (h *Handler) sampleSettings(tx *Strings, m twofactor.Method, at time.Time, sent *SentView) *SettingsView {
	t := &tx.Settings
	ev := EnrollmentView{ID: "sample", Label: "Sample", Added: tx.date(at), LastUsed: t.NeverUsed, AddedAt: at,
		Remove: h.removeURL(m, "sample")}
	fv := FactorView{Method: m, MethodText: tx.method(m), URL: h.url(routeSettings + "sample"), Enrollments: []EnrollmentView{ev},
		CanAdd: true, Remaining: 7, Status: tx.n(t.BackupLeft, 7), Low: true, New: h.url(routeSettings + "sample/new"),
		Rename: h.url(routeSettings + "sample/rename")}
	dev := DeviceView{ID: "sample", Label: "Sample", Network: "Sample", Added: tx.date(at), LastSeen: tx.date(at), Expires: tx.date(at), This: true}
	return &SettingsView{
		Base: h.url(routeSettings), Notice: t.Saved[savedRemoved],
		Methods: []FactorView{fv}, Default: t.Default,
		Devices: &DevicesView{URL: h.url(routeSettingsDevices), List: []DeviceView{dev}, Revoke: h.url(routeSettingsRevoke),
			RevokeAll: h.url(routeSettingsRevokeAll)},
		Disable:       h.url(routeSettingsDisable),
		Notifications: []string{"Sample"},
		Factor:        &fv,
		Enrolling: &EnrollingView{QR: pngURI([]byte("sample")), URI: "otpauth://totp/sample", Secret: "SAMP LE",
			Expires: tx.date(at), Step: "scan", Next: fv.URL, Back: fv.URL},
		Code: &CodeView{Action: fv.URL + "/verify", Method: m, Label: t.Verify, CodeField: CodeField{Length: 6, Numeric: true},
			Sent: sent, Resend: fv.URL + "/resend", Other: &Link{URL: fv.URL, Text: t.OtherNumber}},
		Phone:    &PhoneView{Action: fv.URL, Regions: []RegionView{{Code: "US", Name: "United States", Calling: "+1", Selected: true}}},
		Email:    &EmailView{On: true, Address: "Sample", TurnOn: fv.URL},
		Keys:     &KeysView{StepUp: h.url(routeStepUp), Done: fv.URL, ShowCodes: h.url(routeSettingsCodes)},
		Codes:    []string{"sample"},
		Download: h.url(routeSettingsCodesTxt),
		Confirm: &ConfirmView{Message: t.RemoveWarn, Warning: t.RemoveWarn, Note: t.RemoveWarn, Action: h.url(routeSettingsRemove),
			Button: t.Remove, Method: m, ID: "sample", Cancel: fv.URL},
		StepUp: true,
	}
}

func (h *Handler) sampleAdmin(tx *Strings, m twofactor.Method) *AdminView {
	fv := FactorView{Method: m, MethodText: tx.method(m), Remaining: -1,
		Enrollments: []EnrollmentView{{ID: "sample", Label: "Sample"}}}
	gap := AdminGapView{ID: "sample", Name: "Sample", DisplayName: "Sample", URL: h.adminURL(routeAdminUser), Problem: "Sample"}
	return &AdminView{
		Base: h.adminURL(""), Notice: "Sample", Lookup: h.adminURL(routeAdminUser), Policy: h.adminURL(routeAdminPolicy),
		User: &AdminUserView{ID: "sample", Name: "Sample", DisplayName: "Sample", Email: "Sample", Factors: []FactorView{fv},
			Devices: []DeviceView{{ID: "sample", Label: "Sample"}}, Lockout: "Sample", Lifts: "Sample", Locked: true, Failures: 1,
			Reset: h.adminURL(routeAdminReset), Recovery: h.adminURL(routeAdminRecovery), Unlock: h.adminURL(routeAdminUnlock),
			Revoke: h.adminURL(routeAdminRevoke), RevokeAll: h.adminURL(routeAdminRevokeAll),
			Policy: "Sample", Rule: "Sample", Grace: "Sample"},
		Code: &AdminCodeView{Code: "sample", Text: "Sample", Back: h.adminURL(""), ID: "sample", Name: "Sample", DisplayName: "Sample",
			Email: "Sample", BackText: "Sample"},
		PolicyView: &AdminPolicyView{Fixed: "Sample", Allowed: []string{"Sample"}, Default: "Sample", Mandatory: []string{"Sample"},
			Trust: "Sample", Choices: []TrustChoice{{Label: "Sample", Current: true}}, Checked: true, Users: 1,
			Gaps: []AdminGapView{gap}, Without: []AdminWithoutView{{Method: m, Heading: "Sample", Users: []AdminGapView{gap}}},
			Rules: []AdminRuleView{{Name: "Sample", Rule: "Sample"}}},
	}
}
