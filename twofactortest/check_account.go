package twofactortest

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"

	"github.com/twofactorkit/twofactor"
)

// before is what a user holds before a password change or a reset: a
// browser that signed in trusting itself and stepped up, and one waiting
// for its second step.
type before struct {
	trusted  *browser // signed in, with a step-up, trusting itself when the Service trusts devices
	device   bool     // trusted holds a trusted-device cookie
	waiting  *browser // after the password, before the second step
	pendinID string   // waiting's challenge
}

func (k *kit) holdEverything(t checkT, u *tuser) *before {
	t.Helper()
	s := &before{trusted: k.browser(), waiting: k.browser()}
	k.challenge(t, s.trusted, u)
	code := u.backupCode(t)
	if a := s.trusted.verify(twofactor.MethodBackupCode, code, k.trust != nil); !a.ok() {
		t.Fatalf("the kit could not sign %s in with a backup code: %s", u.ID, a)
	}
	u.used(code)
	if k.trust != nil {
		s.device = s.trusted.cookie(k.trust.CookieName()) != ""
		if !s.device {
			t.Logf("signing %s in with \"trust this device\" set no %s cookie: trusted devices are not tried", u.ID, k.trust.CookieName())
		}
	}
	k.stepUp(t, s.trusted, u)
	k.challenge(t, s.waiting, u)
	s.pendinID = s.waiting.challengeID()
	return s
}

// checkPasswordChange: a password change, and an administrator's reset,
// end the user's pending sign-ins, step-up proofs and trusted devices.
func (k *kit) checkPasswordChange(t checkT) {
	ctx := context.Background()
	u := k.newUser(t, want{word: "pwchange", totp: true})
	s := k.holdEverything(t, u)
	const fix = "the host's password change and password reset must call Service.PasswordChanged(ctx, userID)"
	if k.d.ChangePassword != nil {
		pw := "pw2-" + rand.Text()
		if err := k.d.ChangePassword(ctx, u.ID, pw); err != nil {
			t.Fatalf("Host.ChangePassword(%s): %v", u.ID, err)
		}
		u.Password = pw
	} else {
		t.Logf("Host.ChangePassword is nil: the kit called Service.PasswordChanged itself")
		if err := k.svc.PasswordChanged(ctx, u.ID); err != nil {
			t.Fatalf("Service.PasswordChanged(%s): %v", u.ID, err)
		}
	}
	k.allEnded(t, u, s, "a password change of "+u.ID, fix, true)

	r := k.newUser(t, want{word: "reset", totp: true})
	s = k.holdEverything(t, r)
	what := "an administrator's reset of " + r.ID
	done := false
	if k.d.AdminPrefix != "" {
		admin := k.newUser(t, want{word: "resetter", totp: true, admin: true})
		ab := k.browser()
		k.signIn(t, ab, admin)
		a := ab.do(call{method: http.MethodPost, path: k.d.AdminPrefix + "user/reset",
			form: url.Values{"id": {r.ID}, "reason": {"twofactortest: identity checked"}, "identity_checked": {"on"}}})
		if done = a.ok(); !done {
			t.Errorf("an administrator could not reset %s on the administrator pages: %s", r.ID, a)
		}
	}
	if !done {
		what = "Service.AdminReset of " + r.ID
		if err := k.svc.AdminReset(ctx, r.tf, "twofactortest", "twofactortest: identity checked"); err != nil {
			t.Fatalf("Service.AdminReset(%s): %v", r.ID, err)
		}
	}
	r.backup = nil
	k.allEnded(t, r, s, what, "the reset goes through Service.AdminReset (or the administrator pages)", false)
}

// allEnded checks that after what, s's pending sign-in is over, its
// step-up proof void (when the user keeps a factor), and its device no
// longer trusted.
func (k *kit) allEnded(t checkT, u *tuser, s *before, what, fix string, keepsFactors bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := k.svc.Challenge(ctx, s.pendinID); err == nil {
		t.Errorf("after %s, the sign-in begun before it is still pending: %s", what, fix)
	}
	if keepsFactors {
		a := s.waiting.verify(twofactor.MethodBackupCode, u.backupCode(t), false)
		if a.ok() {
			u.used(u.backupCode(t))
			t.Errorf("after %s, the sign-in begun before it was completed with a backup code (%s): %s", what, a, fix)
		}
		// The step-up proof from before the change: a change that needs
		// one must be refused.
		a = s.trusted.do(call{method: http.MethodPost, path: k.d.Prefix + "settings/backup-codes", form: url.Values{}, json: true})
		if a.ok() {
			t.Errorf("after %s, the step-up proof from before it still made new backup codes (%s): %s", what, a, fix)
		}
	}
	if k.trust == nil {
		return
	}
	devs, err := k.trust.List(ctx, u.ID)
	if err != nil {
		t.Fatalf("listing the trusted devices of %s: %v", u.ID, err)
	}
	if len(devs) > 0 {
		t.Errorf("after %s, %d device(s) of %s are still trusted: %s", what, len(devs), u.ID, fix)
	}
	if keepsFactors && s.device {
		s.trusted.logout()
		a := s.trusted.password(u)
		if s.trusted.pending() == "" && s.trusted.isSignedIn(u) {
			t.Errorf("after %s, the device trusted before it still skips the second step (%s): %s", what, a, fix)
		}
	}
}
