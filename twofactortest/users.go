package twofactortest

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/totp"
)

// tuser is a test user and what the kit knows to answer for them.
type tuser struct {
	User
	tf       twofactor.User // as the Service knows the user
	secret   []byte         // the authenticator app's key, when enrolled
	totpID   string         // its enrollment
	lastStep int64          // the newest TOTP time step a code was used for
	first    string         // the code that confirmed the app: used once already
	backup   []string       // backup codes not used yet
	phone    string         // E.164, when a phone is enrolled
}

// want says what a new test user has.
type want struct {
	word  string // in the id, to tell users apart in messages
	totp  bool   // an authenticator app, and with it backup codes
	email bool   // an address (email codes, when the factor takes it as enrolled)
	sms   bool   // a phone (with totp: the Service must have the SMS factor)
	admin bool
}

// newUser adds a user to the host and enrolls what w asks through the
// Service, as the user would on the settings pages.
func (k *kit) newUser(t checkT, w want) *tuser {
	t.Helper()
	k.mu.Lock()
	k.users++
	id := fmt.Sprintf("tft-%s-%d-%s", k.run, k.users, w.word)
	k.mu.Unlock()
	u := &tuser{User: User{ID: id, Password: "pw-" + rand.Text(), Admin: w.admin}}
	if w.email {
		u.Email = id + "@example.com"
	}
	if err := k.d.AddUser(u.User); err != nil {
		t.Fatalf("Host.AddUser(%+v): %v", u.User, err)
	}
	ctx := context.Background()
	tf, err := k.svc.Env().User(ctx, id)
	if err != nil {
		t.Fatalf("Host.AddUser added %s, but the Service does not know the user: %v (twofactor.Config.Users must read the table AddUser writes)", id, err)
	}
	if tf.Email != u.Email {
		t.Fatalf("Host.AddUser added %s with the address %q, but the Service's Users gives %q", id, u.Email, tf.Email)
	}
	u.tf = tf
	// The factors are enrolled as for a user with no address yet, so
	// that the first is the first and brings the backup codes.
	bare := tf
	bare.Email = ""
	if w.totp {
		en, err := k.svc.BeginEnroll(ctx, bare, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
		if err != nil {
			t.Fatalf("enrolling an authenticator app for %s: %v", id, err)
		}
		if u.secret, err = totp.DecodeSecret(en.Secret); err != nil {
			t.Fatalf("enrolling an authenticator app for %s: %v", id, err)
		}
		k.remember(kindText, "the authenticator app's secret of "+id, en.Secret)
		step := k.params.Step(k.now())
		code := k.params.StepCode(u.secret, step)
		done, err := k.svc.ConfirmEnroll(ctx, bare, twofactor.MethodTOTP, code)
		if err != nil {
			t.Fatalf("confirming the authenticator app of %s: %v", id, err)
		}
		k.remember(kindDigits, "a code of the authenticator app of "+id, code)
		u.totpID, u.lastStep, u.first, u.backup = done.Enrollment.ID, step, code, done.BackupCodes
		if len(u.backup) == 0 {
			t.Fatalf("enrolling the first factor of %s brought no backup codes: the Service needs a backupcodes factor that the policy allows", id)
		}
		for _, c := range u.backup {
			k.remember(kindText, "a backup code of "+id, c)
		}
	}
	if w.sms {
		k.enrollPhone(t, u, bare)
	}
	return u
}

// enrollPhone enrolls a phone for u (who has an authenticator app), with
// a step-up proof from a backup code.
func (k *kit) enrollPhone(t checkT, u *tuser, bare twofactor.User) {
	t.Helper()
	ctx := context.Background()
	ch, err := k.svc.StepUp(ctx, bare, twofactor.Client{}, twofactor.PurposeEnroll)
	if err != nil {
		t.Fatalf("a step-up to add a phone for %s: %v", u.ID, err)
	}
	code := u.backupCode(t)
	res, err := k.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodBackupCode, Code: code, Purpose: twofactor.PurposeEnroll, UserID: u.ID})
	if err != nil {
		t.Fatalf("a step-up to add a phone for %s: %v", u.ID, err)
	}
	u.used(code)
	n, _ := rand.Int(rand.Reader, big.NewInt(100))
	phone := fmt.Sprintf("+1202555%04d", 100+n.Int64()) // 555-01xx: numbers for fiction
	if _, err := k.svc.BeginEnroll(ctx, bare, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: phone}, res.Proof); err != nil {
		t.Fatalf("adding the phone %s for %s: %v", phone, u.ID, err)
	}
	sent, ok := k.code(phone, k.seenSoFar())
	if !ok {
		t.Fatalf("Host.Code(%q) found no code after the Service sent one to add the phone", phone)
	}
	if _, err := k.svc.ConfirmEnroll(ctx, bare, twofactor.MethodSMS, sent); err != nil {
		t.Fatalf("confirming the phone of %s with the code Host.Code gave (%s): %v", u.ID, sent, err)
	}
	u.phone = phone
	k.remember(kindPhone, "the phone number of "+u.ID, phone)
}

// code reads the newest code sent to an address or a phone through
// Host.Code, and remembers it as a secret shown by no answer from the
// since'th on (the answer that sent it).
func (k *kit) code(to string, since int) (string, bool) {
	if k.d.Code == nil {
		return "", false
	}
	c, ok := k.d.Code(to)
	if !ok || c == "" {
		return "", false
	}
	k.rememberSince(kindDigits, "a code sent to "+to, c, since)
	return c, true
}

// seenSoFar is the number of answers seen: the index of the next one.
func (k *kit) seenSoFar() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.seen)
}

// backupCode returns one of u's backup codes not used yet.
func (u *tuser) backupCode(t checkT) string {
	t.Helper()
	if len(u.backup) == 0 {
		t.Fatalf("the kit used every backup code of %s", u.ID)
	}
	return u.backup[0]
}

// used drops a backup code that was accepted.
func (u *tuser) used(code string) {
	u.backup = slices.DeleteFunc(u.backup, func(c string) bool { return c == code })
}

// totpCode returns a code of u's app for a time step no earlier answer
// used: the current one, or the next, which apps' clocks may show. With
// Host.Advance the clock moves on instead when both are used; without, ok
// is false.
func (k *kit) totpCode(u *tuser) (code string, ok bool) {
	for range 3 {
		cur := k.params.Step(k.now())
		step := max(cur, u.lastStep+1)
		if step == cur || (step == cur+1 && k.d.Advance == nil) {
			u.lastStep = step
			code = k.params.StepCode(u.secret, step)
			k.remember(kindDigits, "a code of the authenticator app of "+u.ID, code)
			return code, true
		}
		if k.d.Advance == nil {
			return "", false
		}
		k.d.Advance(k.params.StepTime(cur + 1).Sub(k.now()))
	}
	return "", false
}

// wrongCodes returns n different codes that u's app shows at no time near
// now.
func (k *kit) wrongCodes(u *tuser, n int) []string {
	near := map[string]bool{}
	cur := k.params.Step(k.now())
	for s := cur - totp.MaxSkew - 2; s <= cur+totp.MaxSkew+2; s++ {
		near[k.params.StepCode(u.secret, s)] = true
	}
	limit := big.NewInt(1)
	for range k.params.Digits {
		limit.Mul(limit, big.NewInt(10))
	}
	var out []string
	seen := map[string]bool{}
	for len(out) < n {
		v, _ := rand.Int(rand.Reader, limit)
		c := fmt.Sprintf("%0*d", k.params.Digits, v)
		if near[c] || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

// Secrets the kit knows, for the scan of every answer.

type secretKind int

const (
	kindText   secretKind = iota // a secret or backup code: anywhere, in any case, with or without separators
	kindDigits                   // a numeric code: as a number of its own
	kindPhone                    // a full phone number, in any usual form
)

type secret struct {
	kind  secretKind
	what  string
	value string
	since int // answers before this one were seen before the secret existed
}

func (k *kit) remember(kind secretKind, what, value string) {
	k.rememberSince(kind, what, value, k.seenSoFar())
}

func (k *kit) rememberSince(kind secretKind, what, value string, since int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.secrets = append(k.secrets, secret{kind: kind, what: what, value: value, since: since})
}
