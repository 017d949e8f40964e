package twofactor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/webauthn"
)

// realistic is a Service with the factors a real app offers (an
// authenticator app, backup codes, email codes to the address on file,
// security keys), on a memory store whose calls are counted, and a user
// enrolled in all of them.
type realistic struct {
	svc    *twofactor.Service
	spy    *storespy.Spy
	clock  *storetest.Clock
	mail   *flowtest.Mailbox
	user   twofactor.User
	secret string
}

func newRealistic(t *testing.T, wrap ...func(store.Store) store.Store) *realistic {
	t.Helper()
	ctx := context.Background()
	r := &realistic{clock: storetest.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)), mail: &flowtest.Mailbox{},
		user: twofactor.User{ID: "ada", Email: "ada@example.com"}}
	r.spy = storespy.New(store.NewMemory(r.clock.Now))
	var st store.Store = r.spy
	for _, w := range wrap {
		st = w(st)
	}
	svc, err := twofactor.New(twofactor.Config{
		Store: st, Keys: newKeys(t), Now: r.clock.Now, Events: &event.Sink{Discard: true},
		Factors: []twofactor.FactorConfig{
			totp.Config{Issuer: "Acme"},
			webauthn.Config{RPID: "localhost", RPOrigins: []string{"http://localhost:8080"}},
			emailcode.Config{Sender: r.mail},
			backupcodes.Config{},
		},
	})
	require.NoError(t, err)
	r.svc = svc

	tf, _ := svc.Factor(twofactor.MethodTOTP)
	enr, err := tf.(twofactor.Enroller).BeginEnroll(ctx, r.user, twofactor.EnrollRequest{})
	require.NoError(t, err)
	r.secret = enr.Secret
	_, err = tf.(twofactor.Enroller).ConfirmEnroll(ctx, r.user, r.code(t))
	require.NoError(t, err)
	r.clock.Advance(time.Minute) // the next code is another step
	bc, _ := svc.Factor(twofactor.MethodBackupCode)
	_, err = bc.(twofactor.Enroller).BeginEnroll(ctx, r.user, twofactor.EnrollRequest{})
	require.NoError(t, err)
	key, err := json.Marshal(map[string]any{"credential_id": []byte("cred-1"), "public_key": []byte("cose")})
	require.NoError(t, err)
	require.NoError(t, r.spy.PutEnrollment(ctx, store.EnrollmentRecord{UserID: r.user.ID, ID: "k1", Method: string(twofactor.MethodWebAuthn),
		Label: "YubiKey", Data: key, CreatedAt: r.clock.Now()}))
	return r
}

func (r *realistic) code(t *testing.T) string {
	t.Helper()
	code, err := otptotp.GenerateCode(r.secret, r.clock.Now())
	require.NoError(t, err)
	return code
}

// calls returns the store calls fn made.
func (r *realistic) calls(t *testing.T, fn func() error) int64 {
	t.Helper()
	before := r.spy.Calls.Load()
	require.NoError(t, fn())
	return r.spy.Calls.Load() - before
}

// The store round trips of a login, step by step, with the factor set of
// a real app: each figure is what every host pays on every login, so a
// change that adds one fails here.
//
//   - Begin: the lockout counter and the user's enrollment records (read
//     once for every factor), in one batch; the challenge is sealed into
//     its id, so nothing is written.
//   - Send: the limits (one bounded increment, which also checks the
//     lockout, the challenge's answers and whether it ended), the read of
//     the user's revocation and the code's storing, run only when the
//     limits admit the send, in one batch.
//   - Verify: the count (one bounded increment that also checks the
//     challenge is live, the read of the user's revocation and, for a
//     factor that checks answers against them, the user's records, or for
//     an email code its consumption, or for a backup code its check (the
//     code with its double-submit mark and the count of the set's uses on
//     a match), run only when the count admits it, in one batch), and the
//     completion with the end of the failure run and the enrollment's
//     last use (one batch; for a TOTP code, after
//     its time step's mark, run only when the mark was raised; for an
//     email code, in the count's batch, run only when the code matched).
//   - A TOTP code whose step a concurrent sign-in took: the count, the
//     mark with the completion that did not run, and the count's give-back;
//     one whose drift is reported (the previous step's), or with a Veto:
//     the count, the mark, the completion, and when the drift is new the
//     record's rewrite with it between the last two (a write and a read of
//     the removal's tombstone).
//   - A wrong code: the count (TOTP: nothing more, its record came with
//     the count; email and backup code: nothing more, the code's check
//     came with it, and a backup code's use is counted only on a match).
func TestLoginRoundTrips(t *testing.T) {
	ctx := context.Background()
	r := newRealistic(t)
	var begun *twofactor.Begun
	begin := func() error {
		var err error
		begun, err = r.svc.Begin(ctx, r.user, client)
		return err
	}
	verify := func(m twofactor.Method, code string) func() error {
		return func() error {
			_, err := r.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: m, Code: code, Client: client})
			return err
		}
	}

	assert.EqualValues(t, 1, r.calls(t, begin), "Begin")
	assert.Equal(t, []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodWebAuthn, twofactor.MethodEmail, twofactor.MethodBackupCode},
		begun.Challenge.Methods, "every factor is offered from the one read")
	assert.EqualValues(t, 2, r.calls(t, verify(twofactor.MethodTOTP, r.code(t))), "Verify, TOTP")
	require.NoError(t, begin())
	before := r.spy.Calls.Load()
	require.ErrorIs(t, verify(twofactor.MethodTOTP, r.code(t))(), twofactor.ErrInvalidCode)
	assert.EqualValues(t, 3, r.spy.Calls.Load()-before, "Verify, a TOTP step taken")
	r.clock.Advance(time.Minute)
	prev, err := otptotp.GenerateCode(r.secret, r.clock.Now().Add(-30*time.Second))
	require.NoError(t, err)
	assert.EqualValues(t, 5, r.calls(t, verify(twofactor.MethodTOTP, prev)), "Verify, TOTP, a drift found")
	r.clock.Advance(time.Minute)
	require.NoError(t, begin())
	prev, err = otptotp.GenerateCode(r.secret, r.clock.Now().Add(-30*time.Second))
	require.NoError(t, err)
	assert.EqualValues(t, 3, r.calls(t, verify(twofactor.MethodTOTP, prev)), "Verify, TOTP, the same drift")
	r.clock.Advance(time.Minute)
	require.NoError(t, begin())
	assert.EqualValues(t, 5, r.calls(t, verify(twofactor.MethodTOTP, r.code(t))), "Verify, TOTP, the drift gone")
	r.clock.Advance(time.Minute)
	require.NoError(t, begin())
	assert.EqualValues(t, 2, r.calls(t, verify(twofactor.MethodTOTP, r.code(t))), "Verify, TOTP, no drift again")

	r.clock.Advance(time.Minute)
	require.NoError(t, begin())
	wrong := "000000"
	if r.code(t) == wrong {
		wrong = "111111"
	}
	before = r.spy.Calls.Load()
	require.ErrorIs(t, verify(twofactor.MethodTOTP, wrong)(), twofactor.ErrInvalidCode)
	assert.EqualValues(t, 1, r.spy.Calls.Load()-before, "a wrong code")

	require.NoError(t, begin())
	assert.EqualValues(t, 1, r.calls(t, func() error {
		_, err := r.svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, client)
		return err
	}), "Send")
	code, err := r.mail.Code(r.user.Email)
	require.NoError(t, err)
	wrong = "000000"
	if code == wrong {
		wrong = "111111"
	}
	before = r.spy.Calls.Load()
	require.ErrorIs(t, verify(twofactor.MethodEmail, wrong)(), twofactor.ErrInvalidCode)
	assert.EqualValues(t, 1, r.spy.Calls.Load()-before, "a wrong email code")
	assert.EqualValues(t, 1, r.calls(t, verify(twofactor.MethodEmail, code)), "Verify, email")

	bc, _ := r.svc.Factor(twofactor.MethodBackupCode)
	set, err := bc.(twofactor.Enroller).BeginEnroll(ctx, r.user, twofactor.EnrollRequest{})
	require.NoError(t, err)
	assert.EqualValues(t, 1, r.calls(t, begin), "Begin")
	before = r.spy.Calls.Load()
	require.ErrorIs(t, verify(twofactor.MethodBackupCode, set.Codes[0][:len(set.Codes[0])-1]+wrongLast(set.Codes[0]))(), twofactor.ErrInvalidCode)
	assert.EqualValues(t, 1, r.spy.Calls.Load()-before, "a wrong backup code")
	assert.EqualValues(t, 2, r.calls(t, verify(twofactor.MethodBackupCode, set.Codes[0])), "Verify, backup code")
}

// wrongLast returns a last character for code other than its own, from
// the code's own characters, so that the result is well formed.
func wrongLast(code string) string {
	last := code[len(code)-1]
	for i := range len(code) {
		if c := code[i]; c != last && c != '-' && c != ' ' {
			return string(c)
		}
	}
	return "x"
}

// Begin reads the user's enrollment records once for every factor that
// can tell from them whether it is offered; a failure of that read fails
// Begin closed, whatever the factors.
func TestBeginReadsEnrollmentsOnce(t *testing.T) {
	ctx := context.Background()
	r := newRealistic(t)
	r.spy.Fail("ListEnrollments", assert.AnError)
	begun, err := r.svc.Begin(ctx, r.user, client)
	require.ErrorIs(t, err, assert.AnError)
	assert.Nil(t, begun, "a failed read is no \"no factor\"")
}

// With only email codes to the address on file, Begin is one round trip
// too: the lockout counter and the records, which the factor reads only
// when the user has no address on file.
func TestBeginReadsNoRecordsItDoesNotNeed(t *testing.T) {
	spy := storespy.New(store.NewMemory())
	svc, err := twofactor.New(twofactor.Config{Store: spy, Keys: newKeys(t), Events: &event.Sink{Discard: true},
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: &flowtest.Mailbox{}}}})
	require.NoError(t, err)
	before := spy.Calls.Load()
	begun, err := svc.Begin(context.Background(), twofactor.User{ID: "ada", Email: "ada@example.com"}, client)
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{twofactor.MethodEmail}, begun.Challenge.Methods)
	assert.EqualValues(t, 1, spy.Calls.Load()-before)
}

// A grace until a date alone needs nothing from the store: Begin for a
// user in it makes as many store calls as for one whose policy requires a
// factor with no grace (no read of the first prompt or of the skips), and
// writes no counter.
func TestDateGraceReadsNothing(t *testing.T) {
	calls := func(grace twofactor.Grace) (int64, twofactor.Status, *store.Memory) {
		mem := store.NewMemory()
		spy := storespy.New(mem)
		svc, err := twofactor.New(twofactor.Config{Store: spy, Keys: newKeys(t), Events: &event.Sink{Discard: true},
			Policy:  twofactor.Policy{Required: true, Grace: grace},
			Factors: []twofactor.FactorConfig{totp.Config{}}})
		require.NoError(t, err)
		before := spy.Calls.Load()
		begun, err := svc.Begin(context.Background(), twofactor.User{ID: "ada"}, client)
		require.NoError(t, err)
		return spy.Calls.Load() - before, begun.Status, mem
	}
	none, status, _ := calls(twofactor.Grace{})
	require.Equal(t, twofactor.StatusEnrollRequired, status)
	dated, status, mem := calls(twofactor.Grace{Until: time.Now().Add(24 * time.Hour)})
	require.Equal(t, twofactor.StatusEnrollSuggested, status)
	assert.Equal(t, none, dated, "a grace until a date reads nothing more")
	for _, k := range []string{"tf:gp:ada", "tf:gs:ada"} {
		n, _, err := mem.Peek(context.Background(), k)
		require.NoError(t, err)
		assert.Zero(t, n, k)
	}
}

// plainStore hides the memory store's Batcher and EnrollmentToucher: every
// operation is a call of its own, and a last use a read and a rewrite.
type plainStore struct{ store.Store }

// Every sign-in records the enrollment's last use, in the batch that ends
// the challenge on a store with batches and one call after it on a store
// without, also without TouchEnrollment; an answer for a record removed
// meanwhile is refused and brings nothing back.
func TestSignInRecordsLastUse(t *testing.T) {
	ctx := context.Background()
	for name, wrap := range map[string]func(store.Store) store.Store{
		"batch": func(s store.Store) store.Store { return s },
		"plain": func(s store.Store) store.Store { return plainStore{s} },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRealistic(t, wrap)
			r.clock.Advance(time.Minute)
			for _, m := range []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodBackupCode} {
				begun, err := r.svc.Begin(ctx, r.user, client)
				require.NoError(t, err)
				code := r.code(t)
				if m == twofactor.MethodBackupCode {
					bc, _ := r.svc.Factor(m)
					codes, err := bc.(twofactor.Enroller).BeginEnroll(ctx, r.user, twofactor.EnrollRequest{})
					require.NoError(t, err)
					code = codes.Codes[0]
				}
				res, err := r.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: m, Code: code, Client: client})
				require.NoError(t, err)
				rec, err := r.spy.GetEnrollment(ctx, r.user.ID, res.EnrollmentID)
				require.NoError(t, err)
				assert.True(t, rec.LastUsedAt.Equal(r.clock.Now()), "%s: last use %v", m, rec.LastUsedAt)
				r.clock.Advance(time.Minute)
			}

			// Removed before the answer: refused, and not written back.
			begun, err := r.svc.Begin(ctx, r.user, client)
			require.NoError(t, err)
			recs, err := r.spy.ListEnrollments(ctx, r.user.ID)
			require.NoError(t, err)
			for _, rec := range recs {
				if rec.Method == string(twofactor.MethodTOTP) {
					require.NoError(t, r.spy.DeleteEnrollment(ctx, r.user.ID, rec.ID))
					_, err = r.svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodTOTP, Code: r.code(t), Client: client})
					require.Error(t, err, "the enrollment is gone")
					_, err = r.spy.GetEnrollment(ctx, r.user.ID, rec.ID)
					require.ErrorIs(t, err, store.ErrNotFound)
				}
			}
		})
	}
}

// emailApp is a Service with the email factor alone, on a memory store
// that a spy counts, signing in ada.
type emailApp struct {
	t      *testing.T
	svc    *twofactor.Service
	spy    *storespy.Spy
	outbox *emailcode.Outbox
	clock  *storetest.Clock
}

var ada = twofactor.User{ID: "ada", Email: "ada@example.com"}

func newEmailApp(t *testing.T, limits twofactor.Limits, codes emailcode.Codes, opts ...func(*twofactor.Config)) *emailApp {
	e := &emailApp{t: t, outbox: &emailcode.Outbox{}, clock: storetest.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))}
	e.spy = storespy.New(store.NewMemory(e.clock.Now))
	cfg := twofactor.Config{Store: e.spy, Keys: newKeys(t), Events: &event.Sink{Discard: true}, Now: e.clock.Now,
		Limits: limits, Factors: []twofactor.FactorConfig{emailcode.Config{Sender: e.outbox, Codes: codes}}}
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	e.svc, err = twofactor.New(cfg)
	require.NoError(t, err)
	return e
}

// calls returns the store round trips fn made.
func (e *emailApp) calls(fn func()) int64 {
	before := e.spy.Calls.Load()
	fn()
	return e.spy.Calls.Load() - before
}

// fails is ada's run of wrong answers.
func (e *emailApp) fails() int64 {
	e.t.Helper()
	n, _, err := e.spy.Peek(context.Background(), "tf:fail:"+ada.ID)
	require.NoError(e.t, err)
	return n
}

// A right email code ends the challenge and the user's run of wrong
// answers in the round trip that counts it and checks the code, each
// step conditional on the one before: nothing ends on a wrong code, the
// challenge ends once, and a Veto, which must judge between the check and
// the end, takes its round trip back. A right code to a revoked challenge
// is refused all the same.
func TestEmailVerifyEndsInItsCount(t *testing.T) {
	e := newEmailApp(t, twofactor.Limits{}, emailcode.Codes{})
	id := e.begin()
	require.NoError(t, e.send(id))
	code := e.lastCode()
	assert.EqualValues(t, 1, e.calls(func() { require.ErrorIs(t, e.verify(id, wrongOf(code)), twofactor.ErrInvalidCode) }))
	require.EqualValues(t, 1, e.fails(), "a wrong code ends nothing")
	assert.EqualValues(t, 1, e.calls(func() { require.NoError(t, e.verify(id, code)) }))
	assert.Zero(t, e.fails(), "the right code ended the run")
	require.ErrorIs(t, e.verify(id, code), twofactor.ErrChallengeNotFound, "the challenge ended")

	vetoed := newEmailApp(t, twofactor.Limits{}, emailcode.Codes{}, func(cfg *twofactor.Config) {
		cfg.Veto = func(context.Context, twofactor.VetoInput) error { return errBlocked }
	})
	id = vetoed.begin()
	require.NoError(t, vetoed.send(id))
	code = vetoed.lastCode()
	require.ErrorIs(t, vetoed.verify(id, wrongOf(code)), twofactor.ErrInvalidCode)
	assert.Greater(t, vetoed.calls(func() { require.ErrorIs(t, vetoed.verify(id, code), twofactor.ErrVetoed) }), int64(1))
	assert.EqualValues(t, 1, vetoed.fails(), "a vetoed sign-in does not end the run")

	id = e.begin()
	require.NoError(t, e.send(id))
	code = e.lastCode()
	require.NoError(t, e.svc.PasswordChanged(context.Background(), ada.ID))
	require.ErrorIs(t, e.verify(id, code), twofactor.ErrChallengeNotFound, "a right code to a revoked challenge")
}

// endedMidBatch is a memory store on which, once armed, another instance
// completes a challenge between the check of an email code and the end
// that the batch makes conditional on it, as may happen on a store whose
// batch is not one atomic step (a Redis pipeline).
type endedMidBatch struct {
	*store.Memory
	clock *storetest.Clock
	armed atomic.Bool
}

func (l *endedMidBatch) RunBatch(ctx context.Context, ops []store.Op) error {
	cut := slices.IndexFunc(ops, func(op store.Op) bool { return op.If > 0 && ops[op.If-1].Kind == store.OpConsumeCode })
	if !l.armed.Load() || cut < 0 {
		return l.Memory.RunBatch(ctx, ops)
	}
	if err := l.Memory.RunBatch(ctx, ops[:cut]); err != nil {
		return err
	}
	if _, err := l.Memory.IncrBelow(ctx, []store.BoundedIncr{{Key: ops[cut].Incrs[0].Key, Window: time.Minute, Max: 1}}); err != nil {
		return err
	}
	for i := cut; i < len(ops); i++ {
		if !store.SkipOp(ops, i) {
			if err := store.RunOp(ctx, l.Memory, &ops[i], l.clock.Now()); err != nil {
				return err
			}
		}
	}
	return nil
}

// A right email code whose challenge another answer completed between
// its check and its end lets nobody in, and still ends the user's run of
// wrong answers: the factor accepted it.
func TestEmailCodeLosingTheEnd(t *testing.T) {
	var lr *endedMidBatch
	e := newEmailApp(t, twofactor.Limits{}, emailcode.Codes{}, func(cfg *twofactor.Config) {
		lr = &endedMidBatch{Memory: store.NewMemory(cfg.Now)}
		cfg.Store = lr
	})
	lr.clock = e.clock
	id := e.begin()
	require.NoError(t, e.send(id))
	code := e.lastCode()
	require.ErrorIs(t, e.verify(id, wrongOf(code)), twofactor.ErrInvalidCode)
	lr.armed.Store(true)
	require.ErrorIs(t, e.verify(id, code), twofactor.ErrChallengeNotFound)
	n, _, err := lr.Peek(context.Background(), "tf:fail:"+ada.ID)
	require.NoError(t, err)
	assert.Zero(t, n, "the right code ended the run")
}

// wrongOf returns a six-digit code other than code.
func wrongOf(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func (e *emailApp) begin() string {
	e.t.Helper()
	b, err := e.svc.Begin(context.Background(), ada, client)
	require.NoError(e.t, err)
	return b.Challenge.ID
}

func (e *emailApp) send(id string) error {
	_, err := e.svc.Send(context.Background(), id, twofactor.MethodEmail, client)
	return err
}

func (e *emailApp) verify(id, code string) error {
	_, err := e.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: id, Method: twofactor.MethodEmail, Code: code, Client: client})
	return err
}

// lastCode is the code of the last message to ada.
func (e *emailApp) lastCode() string {
	e.t.Helper()
	m, ok := e.outbox.Last(ada.Email)
	require.True(e.t, ok)
	return regexp.MustCompile(`\b\d{6}\b`).FindString(m.Text)
}

// A send through the email factor joins the Service's checks to its own
// limits (a GatedSender): it is refused, and sends nothing, when the user
// is locked out, the challenge used up its answers, ended, or was revoked
// by a password change.
func TestGatedSendRefusals(t *testing.T) {
	e := newEmailApp(t, twofactor.Limits{MaxAttempts: 2, MaxUserFailures: 2}, emailcode.Codes{})
	sent := func() int { return len(e.outbox.Messages()) }

	// Completed: refused.
	done := e.begin()
	require.NoError(t, e.send(done))
	require.NoError(t, e.verify(done, e.lastCode()))
	n := sent()
	require.ErrorIs(t, e.send(done), twofactor.ErrChallengeNotFound, "a completed challenge")

	// Revoked: refused.
	revoked := e.begin()
	require.NoError(t, e.svc.PasswordChanged(context.Background(), ada.ID))
	require.ErrorIs(t, e.send(revoked), twofactor.ErrChallengeNotFound, "a revoked challenge")
	assert.Equal(t, n, sent())
	e.clock.Advance(time.Second) // challenges begun at the revocation's millisecond are void too

	// Spent, then locked out: refused.
	held, spent := e.begin(), e.begin()
	require.NoError(t, e.send(spent)) // a code to answer wrongly: an answer with none is no guess
	n = sent()
	for i := range 2 {
		require.Error(t, e.verify(spent, fmt.Sprintf("00000%d", i)))
	}
	require.ErrorIs(t, e.send(spent), twofactor.ErrTooManyAttempts, "a spent challenge")
	require.ErrorIs(t, e.send(held), twofactor.ErrLocked, "a locked-out user")
	assert.Equal(t, n, sent(), "no refused send sent a code")
}

// The code's storing goes with the count of its send, and its check with
// the count of the answer, each run only when the count refused nothing:
// a send refused by the resend cooldown leaves the code already sent
// usable (it stores no other), and a right code answered while the user
// is locked out is neither consumed nor counted against the code, so it
// still completes the challenge once the lockout lifts.
func TestRefusedStepsLeaveTheCode(t *testing.T) {
	e := newEmailApp(t, twofactor.Limits{MaxUserFailures: 2, ChallengeTTL: 2 * time.Hour}, emailcode.Codes{TTL: time.Hour})
	id := e.begin()
	require.NoError(t, e.send(id))
	code := e.lastCode()
	var re *twofactor.RetryError
	before := e.spy.Calls.Load()
	require.ErrorAs(t, e.send(id), &re, "a resend within the cooldown")
	require.True(t, re.Cooldown())
	assert.EqualValues(t, 1, e.spy.Calls.Load()-before, "a refused send is one round trip")

	// Lock the user out with wrong answers on another challenge.
	other := e.begin()
	e.clock.Advance(2 * time.Minute)
	require.NoError(t, e.send(other))
	wrong := "000000"
	if e.lastCode() == wrong || code == wrong {
		wrong = "111111"
	}
	for range 2 {
		require.ErrorIs(t, e.verify(other, wrong), twofactor.ErrInvalidCode)
	}
	before, checked := e.spy.Calls.Load(), e.spy.Checked.Load()
	err := e.verify(id, code)
	require.ErrorIs(t, err, twofactor.ErrLocked, "the right code while locked out")
	assert.EqualValues(t, 1, e.spy.Calls.Load()-before, "a refused answer is one round trip")
	assert.Equal(t, checked, e.spy.Checked.Load(), "a refused answer checked no code")
	require.ErrorAs(t, err, &re)
	e.clock.Advance(re.RetryAfter)
	require.NoError(t, e.verify(id, code), "the code the cooldown and the lockout left alone")
}

// An email address the host gives is recorded as an enrollment only when
// the user's enrollments are listed: a sign-in by a user whose address
// was never recorded writes no last use (there is no row to write), and
// once it is recorded, every sign-in writes it, on a store with batches
// and on one without.
func TestImplicitEmailLastUse(t *testing.T) {
	ctx := context.Background()
	for name, plain := range map[string]bool{"batch": false, "plain": true} {
		t.Run(name, func(t *testing.T) {
			e := newEmailApp(t, twofactor.Limits{}, emailcode.Codes{}, func(c *twofactor.Config) {
				if plain {
					c.Store = plainStore{c.Store.(*storespy.Spy)}
				}
			})
			login := func() {
				t.Helper()
				id := e.begin()
				require.NoError(t, e.send(id))
				require.NoError(t, e.verify(id, e.lastCode()))
			}
			// Without batches the Service's last use is a read and a rewrite
			// (plainStore hides TouchEnrollment), which the spy does not
			// count as a touch; the times below hold on both.
			login()
			assert.Zero(t, e.spy.Touches.Load(), "no record: no last use to write")
			_, err := e.spy.GetEnrollment(ctx, ada.ID, emailcode.EnrollmentID)
			require.ErrorIs(t, err, store.ErrNotFound, "a sign-in does not record the address")

			f, _ := e.svc.Factor(twofactor.MethodEmail)
			es, err := f.Enrollments(ctx, ada)
			require.NoError(t, err)
			require.Len(t, es, 1)
			e.clock.Advance(time.Minute)
			login()
			if !plain {
				assert.Equal(t, int64(1), e.spy.Touches.Load(), "recorded: the sign-in is its last use")
			}
			rec, err := e.spy.GetEnrollment(ctx, ada.ID, emailcode.EnrollmentID)
			require.NoError(t, err)
			assert.True(t, rec.LastUsedAt.Equal(e.clock.Now()), "last use %v", rec.LastUsedAt)
		})
	}
}
