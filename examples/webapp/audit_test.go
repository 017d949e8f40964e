package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/testenv"
)

// The tour: every page a person can meet in the app, checked with axe-core
// at a laptop's size and a phone's, and photographed at both when
// TWOFACTOR_SCREENSHOTS names a directory (make screenshots). Each tour is
// a table of named stops walked in order, each going from the page of the
// stop before to its own; a new page is a new row. A stop's name is its
// screenshot's: docs/screenshots/<name>.png and <name>-phone.png.

// stop is a page of a tour.
type stop struct {
	name string
	// at brings a tab from the stop before to the page, and returns it.
	at func(t *testing.T) *tab
}

// tour walks stops in order, each a subtest. A page that breaks a rule
// fails its stop and the tour goes on; a page that cannot be reached ends
// the tour, naming the stops it did not reach.
func tour(t *testing.T, stops []stop) {
	t.Helper()
	testenv.Axe(t)
	for i, s := range stops {
		reached := false
		t.Run(s.name, func(t *testing.T) {
			b := s.at(t)
			reached = true
			b.auditAs(s.name)
		})
		if !reached {
			var rest []string
			for _, s := range stops[i+1:] {
				rest = append(rest, s.name)
			}
			t.Fatalf("the tour could not reach %s; not audited: %v", s.name, rest)
		}
	}
}

// on reports whether the tab shows an element sel selects.
func (b *tab) on(sel string) bool {
	b.t.Helper()
	return eval[bool](b, `document.querySelector(`+"`"+sel+"`"+`) !== null`)
}

// onTab is a tab handed to the subtest t: its helpers fail t.
func onTab(t *testing.T, b *tab) *tab {
	c := *b
	c.t = t
	return &c
}

// step is a stop whose page b reaches by do.
func step(b *tab, name string, do func(b *tab)) stop {
	return stop{name, func(t *testing.T) *tab {
		c := onTab(t, b)
		do(c)
		return c
	}}
}

// The app's own pages and the challenge of each method ada and grace
// have: the login page, a wrong password, the challenge by app, email and
// backup code, a wrong code, the page of an ended challenge, the home page,
// the outbox and the app's error page; then a step-up to make new backup
// codes.
func TestTourSignIn(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	var pending *network.Cookie
	codes := app.Seed.BackupCodes
	require.GreaterOrEqual(t, len(codes), 2)

	tour(t, []stop{
		step(b, "login", func(b *tab) { b.open("/login", "#user") }),
		step(b, "login-wrong-password", func(b *tab) {
			b.do(chromedp.SendKeys(chromedp.ID("user"), "ada"), chromedp.SendKeys(chromedp.ID("password"), "nope"),
				chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
			b.await(onLogin + ` ` + alert)
		}),
		step(b, "challenge", func(b *tab) {
			b.signIn("ada", "lovelace")
			b.await(`section.tf-method[data-method="totp"]`)
		}),
		step(b, "challenge-wrong-code", func(b *tab) {
			b.enterCode(wrongCode(app.totpCode(b.t)))
			b.await(alert)
		}),
		step(b, "challenge-email", func(b *tab) {
			b.chooseMethod("email")
			b.press(`form.tf-send button`, `p.tf-sent`)
		}),
		step(b, "challenge-backup-code", func(b *tab) {
			b.chooseMethod("backup_code")
			pending = b.cookie("tf_pending")
			require.NotNil(b.t, pending, "the pending sign-in's cookie")
		}),
		step(b, "ended", func(b *tab) {
			// Cancelled, then opened again with the cookie put back.
			b.press(`form.tf-cancel button`, onLogin)
			b.setCookie(pending)
			b.open("/2fa/", alert)
		}),
		step(b, "home", func(b *tab) {
			b.signIn("ada", "lovelace")
			b.await(onChallenge)
			b.chooseMethod("backup_code")
			b.enterCode(codes[0])
			b.await(onHome)
		}),
		step(b, "outbox", func(b *tab) { b.open("/outbox", `body[data-page="outbox"] article.msg`) }),
		step(b, "error", func(b *tab) { b.open("/admin/2fa/", `body[data-page="error"] `+alert) }),
		step(b, "settings-backup", func(b *tab) {
			b.open("/2fa/settings/backup-codes", `body[data-page="settings_backup"]`)
		}),
		// The step-up: a page that asks to continue, or straight the
		// challenge.
		step(b, "step-up", func(b *tab) { b.press(`main a.tf-button`, stepUpForm+", "+onChallenge) }),
		step(b, "step-up-challenge", func(b *tab) {
			if eval[bool](b, `document.querySelector(`+"`"+stepUpForm+"`"+`) !== null`) {
				b.press(stepUpForm, onChallenge)
			}
		}),
		// The page that asks before a step-up, which a link from another
		// site, or an address typed in, meets.
		step(b, "step-up-page", func(b *tab) {
			b.open("/2fa/step-up?next="+url.QueryEscape("/2fa/settings/backup-codes"), stepUpForm+", "+onChallenge)
		}),
		// Back from the step-up: the page that asks to confirm, or the
		// backup codes page again, where "Make new codes" now leads there.
		step(b, "settings-new-codes-confirm", func(b *tab) {
			b.chooseMethod("backup_code")
			b.enterCode(codes[1])
			b.await(onConfirm + `, body[data-page="settings_backup"]`)
			if !b.on(onConfirm) {
				b.press(`main a.tf-button`, onConfirm+`, `+onCodes)
			}
		}),
		step(b, "backup-codes", func(b *tab) {
			if b.on(onConfirm) {
				b.do(chromedp.Click(chromedp.CSS(`main form[method="post"] button`)))
			}
			b.await(onCodes)
		}),
	})
}

// heldPhone is the button that sends the code of a phone number held for
// a step-up.
const heldPhone = `form.tf-phone input[name="held"] ~ button`

// The settings of alan, who starts with nothing: the overview, setting up
// the authenticator app step by step, the backup codes that come with it,
// the phone (held for its step-up, then its code) and email pages,
// trusted devices, removing a method and turning two-step verification
// off.
func TestTourSettings(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)
	var secret string
	var codes []string

	tour(t, []stop{
		step(b, "home-two-step-off", func(b *tab) { b.signInWithoutFactor() }),
		step(b, "settings-overview", func(b *tab) { b.open("/2fa/settings/", onSettings) }),
		step(b, "settings-totp", func(b *tab) {
			b.open("/2fa/settings/totp", `body[data-page="settings_totp"]`)
		}),
		step(b, "totp-setup", func(b *tab) {
			b.press(`form[action="/2fa/settings/totp"] button`, `.tf-qr img`)
			secret = b.text("#tf-secret")
		}),
		step(b, "totp-setup-code", func(b *tab) { b.press(`main a.tf-button:not([href^="otpauth:"])`, codeField) }),
		step(b, "totp-setup-wrong-code", func(b *tab) {
			b.enterCode(wrongCode(app.codeFor(b.t, secret)))
			b.await(alert)
		}),
		step(b, "first-backup-codes", func(b *tab) {
			b.enterCode(app.codeFor(b.t, secret))
			codes = b.shownCodes()
			require.NotEmpty(b.t, codes)
		}),
		step(b, "settings-overview-on", func(b *tab) {
			b.press(`form.tf-done button`, afterCodes)
			b.open("/2fa/settings/", onSettings)
		}),
		step(b, "settings-phone", func(b *tab) { b.open("/2fa/settings/phone", "#tf-number") }),
		step(b, "settings-phone-wrong-number", func(b *tab) {
			b.chooseRegion("US")
			b.do(chromedp.SendKeys(chromedp.ID("tf-number"), "555 01"),
				chromedp.Click(chromedp.CSS(`form.tf-phone button`)))
			b.await(alert)
		}),
		step(b, "settings-phone-held", func(b *tab) {
			b.chooseRegion("US")
			eval[bool](b, `(document.querySelector("#tf-number").value = "") === ""`)
			b.do(chromedp.SendKeys(chromedp.ID("tf-number"), "(202) 555-0175"), chromedp.Click(chromedp.CSS(`form.tf-phone button`)))
			// A second method is a change that asks for a step-up first;
			// after it, the page offers to send the code to the number.
			b.await(stepUpForm + `, ` + stepUpChallenge)
			if b.on(stepUpForm) {
				b.press(stepUpForm, stepUpChallenge)
			}
			b.chooseMethod("backup_code")
			b.enterCode(codes[0])
			b.await(heldPhone)
		}),
		step(b, "settings-phone-code", func(b *tab) { b.press(heldPhone, codeField) }),
		step(b, "settings-email", func(b *tab) { b.open("/2fa/settings/email", `body[data-page="settings_email"]`) }),
		step(b, "settings-backup-remaining", func(b *tab) {
			b.open("/2fa/settings/backup-codes", `body[data-page="settings_backup"]`)
		}),
		step(b, "challenge-trust-device", func(b *tab) {
			b.signOut()
			b.signIn("alan", "turing")
			b.await(onChallenge)
			b.chooseMethod("backup_code")
			b.do(chromedp.Click(chromedp.ID("tf-remember")))
		}),
		step(b, "trusted-devices", func(b *tab) {
			b.enterCode(codes[1])
			b.await(onHome)
			b.open("/2fa/settings/devices", `ul.tf-devices`)
		}),
		step(b, "settings-revoke-all-confirm", func(b *tab) {
			b.do(chromedp.Click(chromedp.CSS(`main a[href$="/revoke-all"]`)))
			b.throughStepUp(`body[data-page="settings_confirm"]`, func() {
				b.chooseMethod("backup_code")
				b.enterCode(codes[2])
			})
		}),
		step(b, "settings-remove-confirm", func(b *tab) {
			b.open("/2fa/settings/totp", removeButton)
			b.do(chromedp.Click(chromedp.CSS(removeButton)))
			b.throughStepUp(`body[data-page="settings_confirm"]`, func() {
				b.chooseMethod("backup_code")
				b.enterCode(codes[3])
			})
		}),
		step(b, "settings-disable-confirm", func(b *tab) {
			b.do(chromedp.Navigate(b.app.URL + "/2fa/settings/disable"))
			b.throughStepUp(onConfirm+`, body[data-page="settings_disable"]`, func() {
				b.chooseMethod("backup_code")
				b.enterCode(codes[4])
			})
		}),
	})
}

// A method's list of what is set up, its remove button, and the page
// that asks to confirm a change.
const (
	onConfirm    = `body[data-page="settings_confirm"]`
	enrolled     = `ul.tf-enrollments, ul.tf-keys`
	removeButton = `form.tf-remove button, a.tf-action`
)

// Security keys: the page to add one, the key in the list, and the
// challenge that asks for it.
func TestTourSecurityKey(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	b := newTab(t, app)

	tour(t, []stop{
		step(b, "settings-keys", func(b *tab) {
			b.signInWithoutFactor()
			b.addAuthenticator()
			b.open("/2fa/settings/keys", "#tf-key-name")
		}),
		step(b, "settings-keys-on", func(b *tab) {
			b.do(chromedp.SendKeys(chromedp.ID("tf-key-name"), "Blue key"),
				ready(addSecurityKey), chromedp.Click(chromedp.CSS(addSecurityKey)))
			// The first method may bring backup codes.
			b.await(onCodes + `, ` + enrolled)
			if eval[bool](b, `document.querySelector(`+"`"+onCodes+"`"+`) !== null`) {
				b.press(`form.tf-done button`, afterCodes)
			}
			b.open("/2fa/settings/keys", enrolled)
		}),
		step(b, "challenge-security-key", func(b *tab) {
			b.open("/", onHome)
			b.signOut()
			b.signIn("alan", "turing")
			b.await(`section.tf-method[data-method="webauthn"]`)
		}),
	})
}

// Grace's text message, her lockout after too many wrong codes, the
// prompt to set up two-step verification of staff in their week of grace,
// and the administrator's pages: the index, the policy, a user, a locked
// user, a reset, a recovery code and a user who does not exist.
func TestTourLockoutAndAdmin(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	grace := newTab(t, app)
	staff := newTab(t, app)
	admin := newTab(t, app)

	tour(t, []stop{
		step(grace, "challenge-email-sent", func(b *tab) {
			b.signIn("grace", "hopper")
			b.await(`section.tf-method[data-method="email"] p.tf-sent`)
		}),
		step(grace, "challenge-sms", func(b *tab) {
			b.chooseMethod("sms")
			b.press(`form.tf-send button`, `p.tf-sent`)
		}),
		step(grace, "lockout", func(b *tab) {
			lockOutUser(b.t, app, "grace", "hopper")
			b.signIn("grace", "hopper")
			// The answer to the login form: a page of the library's.
			b.await(`body.tf-host main h1`)
		}),
		step(staff, "enroll-prompt", func(b *tab) {
			b.signIn("katherine", "johnson")
			b.await(onPrompt)
		}),
		step(admin, "admin-index", func(b *tab) {
			b.signIn("admin", "admin")
			b.await(`section.tf-method[data-method="email"]`)
			code := b.outboxCode("Email", "admin@example.com", "")
			b.open("/2fa/", codeField)
			b.enterCode(code)
			b.await(onHome)
			b.open("/admin/2fa/", "#tf-user")
		}),
		step(admin, "admin-user-locked", func(b *tab) {
			b.open("/admin/2fa/user?id="+url.QueryEscape(app.App.users.byLogin["grace"].ID), `body[data-page="admin_user"]`)
		}),
		step(admin, "admin-user-unlocked", func(b *tab) {
			b.press(`form[action="/admin/2fa/user/unlock"] button`, `p.tf-notice`)
		}),
		step(admin, "admin-policy", func(b *tab) { b.open("/admin/2fa/policy", `body[data-page="admin_policy"]`) }),
		step(admin, "admin-user", func(b *tab) {
			b.open("/admin/2fa/user?id="+url.QueryEscape(app.App.users.byLogin["ada"].ID), `body[data-page="admin_user"]`)
		}),
		step(admin, "admin-user-reset", func(b *tab) {
			b.do(chromedp.SendKeys(chromedp.ID("tf-reason"), "Lost her phone; identity checked on a video call"),
				chromedp.Click(chromedp.CSS(`form.tf-reset input[name="identity_checked"]`)),
				chromedp.Click(chromedp.CSS(`form.tf-reset button`)))
			b.await(`p.tf-notice`)
		}),
		step(admin, "admin-recovery-code", func(b *tab) {
			b.press(`form[action="/admin/2fa/user/recovery-code"] button`, `body[data-page="admin_code"]`)
		}),
		step(admin, "admin-no-such-user", func(b *tab) {
			b.open("/admin/2fa/user?id=nobody", `main h1`)
		}),
	})
}

// lockOutUser types wrong codes for user from a client of its own until the
// user is locked out.
func lockOutUser(t *testing.T, app *testApp, user, password string) {
	t.Helper()
	c := newClient(t)
	form := url.Values{"user": {user}, "password": {password}}
	for range 10 {
		status, body := c.post(app.URL, "/login", form)
		if status == http.StatusTooManyRequests && body["error"] == "locked" {
			return
		}
		require.Equal(t, http.StatusOK, status, "%v", body)
		// The email code goes first; a code that differs from it in
		// every digit is wrong.
		m, ok := app.App.mailOutbox.Last(app.App.users.byLogin[user].Email)
		require.True(t, ok, "an email code for %s", user)
		wrong := wrongCode(sixDigits.FindString(m.Text))
		for range 5 {
			status, _ = c.post(app.URL, "/2fa/verify", url.Values{"method": {"email"}, "code": {wrong}})
			if status != http.StatusUnauthorized {
				break
			}
		}
	}
	t.Fatalf("%s was not locked out", user)
}

// The audit finds what axe-core finds: a field without a label and an
// image without a text alternative, at both sizes.
func TestAuditFindsViolations(t *testing.T) {
	t.Parallel()
	testenv.Axe(t)
	app := startApp(t)
	b := newTab(t, app)
	b.open("/login", "#user")
	b.audit() // the login page passes
	eval[bool](b, `(() => {
		const f = document.createElement("input"); f.type = "text";
		const i = document.createElement("img"); i.src = "/static/app.css";
		document.querySelector("main").append(f, i);
		return true;
	})()`)
	var ids []string
	for _, v := range b.axe() {
		ids = append(ids, v.ID)
		require.NotEmpty(t, v.Nodes, v.ID)
		require.NotEmpty(t, v.Help, v.ID)
	}
	require.Subset(t, ids, []string{"label", "image-alt"})

	// The audit reports them at both sizes, with where and why.
	report := b.auditReport("")
	require.Len(t, report, 2, "a report at each size")
	for i, size := range []string{"/login at 1280x800 ", "/login at 390x844 "} {
		assert.True(t, strings.HasPrefix(report[i], size), report[i])
		for _, want := range []string{"label (critical)", "image-alt (critical)", "dequeuniversity.com", "Fix any of the following"} {
			assert.Contains(t, report[i], want)
		}
	}
}
