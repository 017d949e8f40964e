package twofactortest

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/twofactorkit/twofactor"
)

const fixBegin = "after the password check the login handler calls twofactorhttp.Handler.Begin(w, r, userID) and nothing else; " +
	"the host's session starts only in twofactorhttp.Config.SignIn, which the layer calls once the second factor passed"

// checkPasswordAlone: the password of a user with a second factor opens
// no protected page and starts no session, whatever the factor, for a
// browser and a JSON client.
func (k *kit) checkPasswordAlone(t checkT) {
	users := []*tuser{k.newUser(t, want{word: "app", totp: true})}
	if k.has[twofactor.MethodEmail] {
		e := k.newUser(t, want{word: "emailonly", email: true})
		if k.hasMethod(t, e, twofactor.MethodEmail) {
			users = append(users, e)
		} else {
			t.Logf("a user with an address has no email factor (opt-in email): only a user with an authenticator app is tried")
		}
	}
	for _, u := range users {
		ms := k.methodsOf(t, u)
		for _, asJSON := range []bool{false, true} {
			kind := "a browser"
			if asJSON {
				kind = "a JSON client"
			}
			b := k.browser()
			a := b.do(call{method: http.MethodPost, path: k.d.LoginPath, form: k.d.LoginForm(u.User), json: asJSON})
			if id, ok := b.signedIn(); ok {
				t.Errorf("after the password alone of %s (second factor: %v), as %s, the host's session says %q is signed in (%s): %s", u.ID, ms, kind, id, a, fixBegin)
				continue
			}
			if p, pa := k.seesProtected(b); p != "" {
				t.Errorf("after the password alone of %s (second factor: %v), as %s, the protected page %s answers %d as to a signed-in user (%d signed out): %s", u.ID, ms, kind, p, pa.status, k.signedOut[p], fixBegin)
				continue
			}
			if b.pending() == "" {
				t.Errorf("the password of %s (second factor: %v), as %s, began no second step (%s, no %s cookie): a user with a second factor must be handed to twofactorhttp.Handler.Begin", u.ID, ms, kind, a, k.d.PendingCookie)
			}
		}
	}
}

// hasMethod reports whether the Service counts u as enrolled in m.
func (k *kit) hasMethod(t checkT, u *tuser, m twofactor.Method) bool {
	return slices.Contains(k.methodsOf(t, u), m)
}

func (k *kit) methodsOf(t checkT, u *tuser) []twofactor.Method {
	t.Helper()
	es, err := k.svc.Enrollments(context.Background(), u.tf)
	if err != nil {
		t.Fatalf("listing the enrollments of %s: %v", u.ID, err)
	}
	var ms []twofactor.Method
	for _, e := range es {
		if !slices.Contains(ms, e.Method) {
			ms = append(ms, e.Method)
		}
	}
	return ms
}

// usualCallbacks are paths hosts give routes that end a sign-in: tried
// beside Host.SignInRoutes.
var usualCallbacks = []string{"/login/callback", "/login/complete", "/login/done", "/login/continue", "/login/finish",
	"/auth/callback", "/callback", "/oauth/callback", "/signin/callback", "/session/new"}

// checkSkipSecondStep: with the password alone, no route signs the user
// in: not the host's own callbacks, not the layer's routes without a
// right answer, not the pending cookie of a sign-in that completed, not
// the pending cookie and second factor of another user.
func (k *kit) checkSkipSecondStep(t checkT) {
	v := k.newUser(t, want{word: "victim", totp: true})
	a := k.newUser(t, want{word: "attacker", totp: true})
	b := k.browser()
	k.challenge(t, b, v)
	if b.isSignedIn(v) {
		t.Skipf("the password alone signs %s in: see %s", v.ID, CheckPasswordAlone)
	}
	k.noCallbackSignsIn(t, b, v, "after the password alone")

	// The layer's routes, without a right answer.
	pre := k.d.Prefix
	for _, c := range []call{
		{method: http.MethodGet, path: pre},
		{method: http.MethodGet, path: pre + "?method=" + string(twofactor.MethodBackupCode)},
		{method: http.MethodGet, path: pre, json: true},
		{method: http.MethodPost, path: pre + "verify", form: url.Values{"method": {string(twofactor.MethodBackupCode)}, "code": {""}}},
		{method: http.MethodPost, path: pre + "verify", form: url.Values{"method": {"none"}, "code": {"000000"}}, json: true},
		{method: http.MethodPost, path: pre + "verify", form: url.Values{"code": {"000000"}}, json: true},
		{method: http.MethodPost, path: pre + "start", form: url.Values{}, json: true},
		{method: http.MethodPost, path: pre + "cancel", form: url.Values{}},
	} {
		ans := b.do(c)
		if b.isSignedIn(v) {
			t.Fatalf("after the password alone, %s signed %s in: only a right answer to the second step may", ans, v.ID)
		}
	}

	// The pending cookie of a sign-in that completed, replayed.
	done := k.browser()
	k.challenge(t, done, v)
	stolen := done.pending()
	code := v.backupCode(t)
	if ans := done.verify(twofactor.MethodBackupCode, code, false); !ans.ok() || !done.isSignedIn(v) {
		t.Fatalf("the kit could not sign %s in with a backup code: %s", v.ID, ans)
	}
	v.used(code)
	done.logout()
	for _, x := range []*browser{done, k.browser()} {
		x.setCookie(k.d.PendingCookie, stolen)
		ans := x.verify(twofactor.MethodBackupCode, v.backupCode(t), false)
		if ans.ok() || x.isSignedIn(v) {
			t.Errorf("the pending cookie of a sign-in of %s that completed, sent again with another backup code, signed %s in again (%s): a completed challenge must stay over", v.ID, v.ID, ans)
			v.used(v.backupCode(t))
		}
		k.noCallbackSignsIn(t, x, v, "with the pending cookie of a sign-in that completed")
	}

	// Another user's pending cookie: the attacker knows the victim's
	// password, not their second factor, and has an account of their own.
	x := k.browser()
	k.challenge(t, x, v)
	y := k.browser()
	k.challenge(t, y, a)
	x.setCookie(k.d.PendingCookie, y.pending())
	code = a.backupCode(t)
	ans := x.verify(twofactor.MethodBackupCode, code, false)
	if ans.ok() {
		a.used(code)
	}
	if x.isSignedIn(v) {
		t.Errorf("after the password step of %s, the pending cookie of %s with a backup code of %s signed %s in (%s): "+
			"twofactorhttp.Config.SignIn must start the session of the userID it is given, never of a user the host remembered at the password step (a cookie, the session)",
			v.ID, a.ID, a.ID, v.ID, ans)
	}
	z := k.browser()
	k.challenge(t, z, v)
	ans = z.verify(twofactor.MethodBackupCode, a.backupCode(t), false)
	if ans.ok() || z.isSignedIn(v) {
		t.Errorf("the sign-in of %s took a backup code of %s (%s): an answer must be checked against the user of the challenge", v.ID, a.ID, ans)
	}
}

// noCallbackSignsIn calls the host's sign-in routes, and the usual
// callback paths, in b, naming u as the user every usual way: none may
// sign u in.
func (k *kit) noCallbackSignsIn(t checkT, b *browser, u *tuser, when string) {
	t.Helper()
	rs := slices.Clone(k.d.signIn)
	for _, p := range usualCallbacks {
		rs = append(rs, route{http.MethodGet, p}, route{http.MethodPost, p})
	}
	who := url.Values{"user": {u.ID}, "user_id": {u.ID}, "id": {u.ID}, "next": {"/"}}
	for _, r := range rs {
		a := b.do(call{method: r.method, path: r.path, form: who})
		if b.isSignedIn(u) {
			t.Fatalf("%s, %s signed %s in: a route that ends a sign-in must leave that to the layer, which calls twofactorhttp.Config.SignIn once the second factor passed; "+
				"remove the route, or make it call twofactorhttp.Handler.Begin after a password check of its own", when, a, u.ID)
		}
	}
}
