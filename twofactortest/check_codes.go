package twofactortest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
)

const fixStore = "the store must consume codes and record used time steps atomically (run store/storetest against it), " +
	"and every app instance must share it"

// checkUsedCodes: an authenticator code works once (the one that
// confirmed the app, and one used to sign in); a backup code signs in
// once, right after its use and once the layer forgot it was submitted
// (backupcodes.SubmitWindow); an email code is refused once it expired.
func (k *kit) checkUsedCodes(t checkT) {
	u := k.newUser(t, want{word: "codes", totp: true})
	b := k.browser()
	k.challenge(t, b, u)
	// answer answers b's challenge; when it signs u in, it fails t with
	// msg, and b begins a new sign-in.
	answer := func(m twofactor.Method, code, msg string) bool {
		a := b.verify(m, code, false)
		if !a.ok() {
			return false
		}
		t.Errorf("%s (%s): a code works once; %s", msg, a, fixStore)
		b.logout()
		k.challenge(t, b, u)
		return true
	}
	answer(twofactor.MethodTOTP, u.first, "the authenticator code that confirmed the app of "+u.ID+" signed in afterwards")
	if code, ok := k.totpCode(u); !ok {
		t.Logf("Host.Advance is nil and the kit used this time step's codes: a code used to sign in is not replayed")
	} else if a := b.verify(twofactor.MethodTOTP, code, false); !a.ok() {
		t.Logf("a fresh authenticator code of %s was refused (%s): a code used to sign in is not replayed", u.ID, a)
	} else {
		b.logout()
		k.challenge(t, b, u)
		answer(twofactor.MethodTOTP, code, "an authenticator code "+u.ID+" signed in with signed in again")
	}

	code := u.backupCode(t)
	if a := b.verify(twofactor.MethodBackupCode, code, false); !a.ok() {
		t.Fatalf("the kit could not sign %s in with a backup code: %s", u.ID, a)
	}
	u.used(code)
	b.logout()
	k.challenge(t, b, u)
	if !answer(twofactor.MethodBackupCode, code, "a backup code of "+u.ID+" signed in a second time") {
		if k.d.Advance == nil {
			t.Logf("Host.Advance is nil: a used backup code is not tried once the layer forgot it was submitted")
		} else {
			k.d.Advance(backupcodes.SubmitWindow + time.Minute)
			b.logout()
			k.challenge(t, b, u)
			answer(twofactor.MethodBackupCode, code, "a backup code of "+u.ID+" signed in a second time, "+
				(backupcodes.SubmitWindow+time.Minute).String()+" after its first use")
		}
	}
	k.expiredEmailCode(t)
}

// expiredEmailCode: an email code answered after its expiry is refused.
func (k *kit) expiredEmailCode(t checkT) {
	switch {
	case k.d.Advance == nil:
		t.Logf("Host.Advance is nil: an expired email code is not tried")
		return
	case !k.has[twofactor.MethodEmail] || k.d.Code == nil:
		t.Logf("no email factor, or Host.Code is nil: an expired email code is not tried")
		return
	}
	u := k.newUser(t, want{word: "mail", totp: true, email: true})
	if !k.hasMethod(t, u, twofactor.MethodEmail) {
		t.Logf("a user with an address has no email factor (opt-in email): an expired email code is not tried")
		return
	}
	b := k.browser()
	a := k.challenge(t, b, u)
	since := a.idx
	wait := 24*time.Hour + time.Minute // the longest a code lives
	a = b.do(call{method: http.MethodPost, path: k.d.Prefix + "send", form: url.Values{"method": {string(twofactor.MethodEmail)}}, json: true})
	if a.ok() {
		var sent struct {
			ExpiresAt time.Time `json:"expires_at"`
		}
		if json.Unmarshal([]byte(a.body), &sent) == nil && !sent.ExpiresAt.IsZero() {
			wait = sent.ExpiresAt.Sub(k.now()) + time.Second
		}
	} else if a.status != http.StatusTooManyRequests {
		t.Fatalf("the kit could not have an email code sent to %s: %s", u.ID, a)
	}
	code, ok := k.code(u.Email, since)
	if !ok {
		t.Fatalf("Host.Code(%q) found no code after the layer sent one (%s)", u.Email, a)
	}
	k.d.Advance(wait)
	if a := b.verify(twofactor.MethodEmail, code, false); a.ok() {
		t.Errorf("an email code of %s answered %s after it was sent, once it had expired, signed in (%s): "+
			"the store must decide expiry with the clock the Service has (twofactor.Config.Now and the store's Now)", u.ID, wait, a)
	}
}

// checkLockout: guesses sent at once through the host's handler get no
// further than guesses sent one at a time. One at a time, the kit learns
// how many wrong codes a sign-in takes, and how many lock the user out;
// then exactly those numbers hold when the codes arrive together.
func (k *kit) checkLockout(t checkT) {
	ctx := context.Background()
	// One guess at a time.
	s := k.newUser(t, want{word: "serial", totp: true})
	wrong := k.wrongCodes(s, 400)
	perSignIn, guesses, locked := -1, 0, false
	for signIns := 0; !locked; signIns++ {
		if guesses > 300 || signIns > 100 {
			t.Fatalf("%d wrong codes in %d sign-ins did not lock %s out: limit wrong answers (twofactor.Limits.MaxUserFailures)", guesses, signIns, s.ID)
		}
		b := k.browser()
		a := b.password(s)
		if b.pending() == "" {
			if a.status == http.StatusTooManyRequests {
				locked = true
				break
			}
			t.Fatalf("the password step of %s began no second step: %s", s.ID, a)
		}
		n := 0
	answers:
		for {
			a := b.verify(twofactor.MethodTOTP, wrong[guesses], false)
			guesses++
			switch {
			case a.status == http.StatusUnauthorized:
				n++
			case a.status == http.StatusGone:
				break answers
			case a.status == http.StatusTooManyRequests:
				locked = true
				break answers
			default:
				t.Fatalf("a wrong code for %s got %s", s.ID, a)
			}
		}
		if perSignIn < 0 {
			perSignIn = n
		}
	}
	lk, err := k.svc.Lockout(ctx, s.ID)
	if err != nil {
		t.Fatalf("Service.Lockout(%s): %v", s.ID, err)
	}
	if !lk.Locked {
		t.Fatalf("the host answered that %s is locked out, but Service.Lockout says not: %+v", s.ID, lk)
	}
	allowed := lk.Failures
	t.Logf("one at a time: a sign-in takes %d wrong codes (then it ends), %d lock the user out", perSignIn, allowed)
	if perSignIn < 1 {
		t.Fatalf("a sign-in of %s ended at its first wrong code: the kit cannot count", s.ID)
	}

	// One sign-in, guesses at once: no more reach the factor.
	if g := min(allowed, 4*(perSignIn+1)); g <= perSignIn+1 {
		t.Logf("a user is locked out (%d) before a sign-in ends (%d): guesses at once on one sign-in are not tried", allowed, perSignIn)
	} else {
		c := k.newUser(t, want{word: "burst", totp: true})
		b := k.browser()
		k.challenge(t, b, c)
		n := count(k.storm(b, twofactor.MethodTOTP, k.wrongCodes(c, g)))
		if n[http.StatusUnauthorized] != perSignIn {
			t.Errorf("%d wrong codes sent at once to one sign-in of %s got %d \"wrong code\" answers (statuses %v), where one at a time a sign-in takes %d: "+
				"guesses sent together passed the limit. The store's counters must be atomic (store.Counters.Incr; run store/storetest against the store)",
				g, c.ID, n[http.StatusUnauthorized], n, perSignIn)
		} else if n[http.StatusGone]+n[http.StatusTooManyRequests] != g-perSignIn {
			t.Errorf("%d wrong codes sent at once to one sign-in of %s got the statuses %v: each beyond the first %d should end the sign-in (410)", g, c.ID, n, perSignIn)
		}
		if a := b.verify(twofactor.MethodBackupCode, c.backupCode(t), false); a.ok() {
			c.used(c.backupCode(t))
			t.Errorf("after its wrong codes, the sign-in of %s still took a right code (%s)", c.ID, a)
		}
	}

	// Several sign-ins, guesses at once: exactly the user's allowance
	// reaches the factor, then the user is locked out.
	l := k.newUser(t, want{word: "lockout", totp: true})
	var bs []*browser
	var codes [][]string
	left := allowed
	for left > 0 {
		b := k.browser()
		k.challenge(t, b, l)
		n := min(left, perSignIn)
		bs, codes = append(bs, b), append(codes, k.wrongCodes(l, n))
		left -= n
	}
	n := count(k.stormAll(bs, codes))
	lk, err = k.svc.Lockout(ctx, l.ID)
	if err != nil {
		t.Fatalf("Service.Lockout(%s): %v", l.ID, err)
	}
	if n[http.StatusUnauthorized] != allowed || !lk.Locked || lk.Failures != allowed {
		t.Errorf("%d wrong codes sent at once across %d sign-ins of %s got %d \"wrong code\" answers (statuses %v) and left the lockout at %d wrong answers (locked: %v), "+
			"where one at a time %d lock the user out: the count of wrong answers lost some. The store's counters must be atomic (store.Counters.Incr; run store/storetest against the store)",
			allowed, len(bs), l.ID, n[http.StatusUnauthorized], n, lk.Failures, lk.Locked, allowed)
	}
	// Locked out: more guesses at once reach nothing, and a right code is
	// refused too.
	more := make([][]string, len(bs))
	for i := range bs {
		more[i] = k.wrongCodes(l, 2)
	}
	if n := count(k.stormAll(bs, more)); n[http.StatusUnauthorized] > 0 {
		t.Errorf("%s is locked out, yet %d of %d more wrong codes sent at once reached the factor (statuses %v)", l.ID, n[http.StatusUnauthorized], 2*len(bs), n)
	}
	b := k.browser()
	a := b.password(l)
	if b.pending() != "" {
		a = b.verify(twofactor.MethodBackupCode, l.backupCode(t), false)
	}
	if a.ok() {
		t.Errorf("%s is locked out, yet a right backup code was taken (%s)", l.ID, a)
	}
}

// stormAll sends codes[i] to bs[i]'s pending challenge, every code at once.
func (k *kit) stormAll(bs []*browser, codes [][]string) []*answer {
	var shots []shot
	for i, b := range bs {
		for _, c := range codes[i] {
			shots = append(shots, shot{b, twofactor.MethodTOTP, c})
		}
	}
	return k.fire(shots)
}
