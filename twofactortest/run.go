package twofactortest

import "testing"

// The names of Run's subtests, one a check, in the order they run. A host
// runs one alone with go test -run 'TestTwoFactor/CrossOrigin'.
const (
	CheckPasswordAlone  = "PasswordAlone"  // no protected page after the password alone
	CheckSkipSecondStep = "SkipSecondStep" // no sign-in by a callback route, a replayed or another user's pending cookie
	CheckStepUp         = "StepUp"         // settings and step-up routes want a fresh step-up; the administrator pages want an administrator
	CheckCrossOrigin    = "CrossOrigin"    // every unsafe route refuses a cross-origin POST
	CheckForwardedFor   = "ForwardedFor"   // the client address is not chosen with X-Forwarded-For
	CheckLogout         = "Logout"         // logout ends the session, the step-up and a pending step-up
	CheckPasswordChange = "PasswordChange" // a password change and a reset end pending sign-ins, proofs and trusted devices
	CheckUsedCodes      = "UsedCodes"      // a used backup code, a replayed TOTP code and an expired email code are refused
	CheckLockout        = "Lockout"        // the limits hold under concurrent guesses
	CheckNoSecrets      = "NoSecrets"      // no answer shows a code, a secret or a full phone number
)

// checks are run in this order: NoSecrets last, as it scans every answer
// the others saw.
var checks = []struct {
	name string
	run  func(*kit, checkT)
}{
	{CheckPasswordAlone, (*kit).checkPasswordAlone},
	{CheckSkipSecondStep, (*kit).checkSkipSecondStep},
	{CheckStepUp, (*kit).checkStepUp},
	{CheckCrossOrigin, (*kit).checkCrossOrigin},
	{CheckForwardedFor, (*kit).checkForwardedFor},
	{CheckLogout, (*kit).checkLogout},
	{CheckPasswordChange, (*kit).checkPasswordChange},
	{CheckUsedCodes, (*kit).checkUsedCodes},
	{CheckLockout, (*kit).checkLockout},
	{CheckNoSecrets, (*kit).checkNoSecrets},
}

// Run attacks the host's integration of two-factor authentication, one
// subtest a check (see the Check constants), with the users it adds
// through Host.AddUser. A failure says what the host got wrong and how to
// fix it. Run first checks that it can sign a user in at all, and stops
// there when the description does not match the app.
func Run(t *testing.T, host Host) {
	t.Helper()
	run(realT{t}, host)
}

// checkT is what the checks need of a test: a testing.TB with subtests.
// Run gives a *testing.T; this package's tests give one that records
// which checks failed.
type checkT interface {
	testing.TB
	run(name string, f func(checkT)) bool
}

type realT struct{ *testing.T }

func (r realT) run(name string, f func(checkT)) bool {
	return r.Run(name, func(t *testing.T) { f(realT{t}) })
}

func run(t checkT, host Host) {
	t.Helper()
	k, err := newKit(host)
	if err != nil {
		t.Fatal(err)
	}
	k.setup(t)
	for _, c := range checks {
		t.run(c.name, func(t checkT) { c.run(k, t) })
	}
}

// setup learns how each protected page answers a signed-out browser, and
// checks that a user can sign in and then sees them: without that, no
// check means anything.
func (k *kit) setup(t checkT) {
	t.Helper()
	out := k.browser()
	for _, p := range k.d.Protected {
		a := out.get(p)
		if a.status >= 200 && a.status < 300 {
			t.Fatalf("Host.Protected: a signed-out browser sees %s (%s): list pages only signed-in users see", p, a)
		}
		k.signedOut[p] = a.status
	}
	u := k.newUser(t, want{word: "setup", totp: true})
	b := k.browser()
	k.signIn(t, b, u)
	for _, p := range k.d.Protected {
		if a := b.get(p); a.status < 200 || a.status >= 300 {
			t.Fatalf("Host.Protected: %s, signed in, does not see %s (%s): list pages signed-in users see", u.ID, p, a)
		}
	}
}

// seesProtected returns the first protected page b sees as a signed-in
// browser does, or "".
func (k *kit) seesProtected(b *browser) (string, *answer) {
	for _, p := range k.d.Protected {
		a := b.get(p)
		if a.status >= 200 && a.status < 300 && a.status != k.signedOut[p] {
			return p, a
		}
	}
	return "", nil
}
