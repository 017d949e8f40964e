package twofactortest

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
)

// staleStepUp is how old a step-up is made for the freshness probe: more
// than any sensible twofactor.Config.StepUpMaxAge.
const staleStepUp = time.Hour + time.Minute

// checkStepUp: a signed-in user without a fresh step-up changes no second
// factor through the settings pages and passes none of the host's
// step-up routes; nobody but an administrator opens the administrator
// pages.
func (k *kit) checkStepUp(t checkT) {
	u := k.newUser(t, want{word: "owner", totp: true})
	b := k.browser()
	k.signIn(t, b, u)
	before := k.enrollmentIDs(t, u)
	k.refusesWithoutStepUp(t, b, u, "signed in without a step-up")
	if k.d.Advance == nil {
		t.Logf("Host.Advance is nil: a step-up that grew old is not tried")
	} else {
		k.stepUp(t, b, u)
		k.d.Advance(staleStepUp)
		if b.isSignedIn(u) {
			k.refusesWithoutStepUp(t, b, u, "with a step-up "+staleStepUp.String()+" old")
		} else {
			t.Logf("the host's session of %s ended within %s: a step-up that grew old is not tried", u.ID, staleStepUp)
		}
	}
	if after := k.enrollmentIDs(t, u); !slices.Equal(before, after) {
		t.Errorf("without a fresh step-up, the second factors of %s changed from %v to %v", u.ID, before, after)
	}
	if k.d.AdminPrefix != "" {
		k.adminOnly(t, b, u)
	}
}

// enrollmentIDs lists u's enrollments as method:id, sorted.
func (k *kit) enrollmentIDs(t checkT, u *tuser) []string {
	t.Helper()
	es, err := k.svc.Enrollments(context.Background(), u.tf)
	if err != nil {
		t.Fatalf("listing the enrollments of %s: %v", u.ID, err)
	}
	var out []string
	for _, e := range es {
		out = append(out, string(e.Method)+":"+e.ID)
	}
	slices.Sort(out)
	return out
}

// refusedForStepUp reports whether a refuses a request that needs a
// fresh step-up: 401 or 403, or a redirect to the step-up or login page.
func (k *kit) refusedForStepUp(a *answer) bool {
	return a.status == http.StatusUnauthorized || a.status == http.StatusForbidden ||
		a.redirectsTo(k.d.Prefix+"step-up") || a.redirectsTo(k.d.LoginPath)
}

// refusesWithoutStepUp tries, as b's signed-in user u, every change of
// the settings pages that needs a fresh step-up, and the host's step-up
// routes, as a browser and as a JSON client.
func (k *kit) refusesWithoutStepUp(t checkT, b *browser, u *tuser, when string) {
	t.Helper()
	s := k.d.Prefix + "settings/"
	layer := []call{
		{method: http.MethodPost, path: s + "disable", form: url.Values{}},
		{method: http.MethodPost, path: s + "backup-codes", form: url.Values{}},
		{method: http.MethodPost, path: s + "remove", form: url.Values{"method": {string(twofactor.MethodTOTP)}, "id": {u.totpID}}},
		{method: http.MethodPost, path: s + "totp", form: url.Values{"restart": {"true"}}},
	}
	if k.has[twofactor.MethodSMS] {
		layer = append(layer, call{method: http.MethodPost, path: s + "phone", form: url.Values{"region": {"US"}, "number": {"+1 202 555 0188"}}})
	}
	for _, c := range layer {
		for _, asJSON := range []bool{false, true} {
			c.json = asJSON
			a := b.do(c)
			if a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed {
				continue // a page of a method the Service does not have
			}
			if !k.refusedForStepUp(a) {
				t.Errorf("%s, %s: a change to %s's second factors went through the settings pages without a fresh step-up", when, a, u.ID)
			}
		}
	}
	for _, r := range k.d.stepUp {
		for _, asJSON := range []bool{false, true} {
			a := b.do(call{method: r.method, path: r.path, form: url.Values{}, json: asJSON})
			switch {
			case a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed:
				t.Errorf("Host.StepUpRoutes: %s is no route of the app (%s)", r, a)
			case !k.refusedForStepUp(a):
				t.Errorf("%s, %s: the route let %s through; put it behind twofactorhttp.Handler.StepUp: mux.Handle(%q, h.StepUp(0).Handler(next))",
					when, a, u.ID, r.String())
			}
		}
	}
}

// adminOnly: a signed-out browser and b, signed in as u who is no
// administrator, open none of the administrator pages and change nobody's
// factors there; an administrator opens them.
func (k *kit) adminOnly(t checkT, b *browser, u *tuser) {
	t.Helper()
	admin := k.newUser(t, want{word: "admin", totp: true, admin: true})
	ab := k.browser()
	k.signIn(t, ab, admin)
	if a := ab.get(k.d.AdminPrefix); a.status != http.StatusOK {
		t.Fatalf("an administrator (a User with Admin set) cannot open %s (%s): Host.AddUser must make such a user an administrator, or fix Host.AdminPrefix", k.d.AdminPrefix, a)
	}
	v := k.newUser(t, want{word: "managed", totp: true})
	before := k.enrollmentIDs(t, v)
	p := k.d.AdminPrefix
	id := url.Values{"id": {v.ID}}
	reset := url.Values{"id": {v.ID}, "reason": {"twofactortest: identity checked"}, "identity_checked": {"on"}}
	calls := []call{
		{method: http.MethodGet, path: p},
		{method: http.MethodGet, path: p + "user", form: id},
		{method: http.MethodGet, path: p + "user", form: id, json: true},
		{method: http.MethodGet, path: p + "policy"},
		{method: http.MethodPost, path: p + "user/reset", form: reset},
		{method: http.MethodPost, path: p + "user/reset", form: reset, json: true},
		{method: http.MethodPost, path: p + "user/recovery-code", form: id},
		{method: http.MethodPost, path: p + "user/unlock", form: id},
		{method: http.MethodPost, path: p + "user/devices/revoke-all", form: id},
	}
	for _, who := range []struct {
		name string
		b    *browser
	}{{"a signed-out browser", k.browser()}, {u.ID + ", signed in and no administrator", b}} {
		for _, c := range calls {
			a := who.b.do(c)
			if a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed {
				continue
			}
			refused := a.status == http.StatusUnauthorized || a.status == http.StatusForbidden ||
				(a.status >= 300 && a.status < 400 && !strings.HasPrefix(a.header.Get("Location"), p))
			if !refused {
				t.Errorf("%s: %s: twofactorhttp.Config.Admin.Guard must let administrators only through (check the signed-in user's role; refuse others with 403)", who.name, a)
			}
		}
	}
	if after := k.enrollmentIDs(t, v); !slices.Equal(before, after) {
		t.Errorf("a user who is no administrator changed the second factors of %s on the administrator pages: %v, then %v", v.ID, before, after)
	}
}

// checkLogout: the host's logout ends the session, the step-up proof in
// the browser, and a step-up begun and not finished (its codes die).
func (k *kit) checkLogout(t checkT) {
	u := k.newUser(t, want{word: "logout", totp: true})
	b := k.browser()
	k.signIn(t, b, u)
	k.stepUp(t, b, u)
	a := b.do(call{method: http.MethodPost, path: k.d.Prefix + "step-up", form: url.Values{}, json: true})
	id := b.challengeID()
	if id == "" {
		t.Fatalf("the kit could not begin a second step-up for %s: %s", u.ID, a)
	}
	a = b.logout()
	if b.isSignedIn(u) {
		t.Errorf("after the logout (%s) the host's session still says %s is signed in: end the session in the logout handler", a, u.ID)
	} else if p, pa := k.seesProtected(b); p != "" {
		t.Errorf("after the logout (%s) the protected page %s answers %d as to a signed-in user: end the session in the logout handler", a, p, pa.status)
	}
	const fix = "call twofactorhttp.Handler.SignOut(w, r) in the logout handler, beside ending the host's session"
	if b.cookie(k.d.StepUpCookie) != "" {
		t.Errorf("the logout (%s) left the step-up proof (the %s cookie) in the browser: %s", a, k.d.StepUpCookie, fix)
	}
	if _, err := k.svc.Challenge(context.Background(), id); err == nil {
		t.Errorf("after the logout (%s) the step-up %s began before it is still pending, and a code sent for it still works: %s", a, u.ID, fix)
	}
}
