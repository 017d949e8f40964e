package twofactor

import (
	"context"
	"encoding/json"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// Factor is a second factor the service can offer. It is all the root
// package knows of TOTP, email, SMS, backup codes and WebAuthn; a host adds
// its own factor by implementing it (see the package example).
//
// A factor may also implement any of these, which the Service discovers by
// type assertion:
//
//   - [Enroller]: let users add it themselves, begin then confirm;
//   - [Sender]: a send step that delivers a code (email, SMS);
//   - [Starter]: data the client needs before answering (WebAuthn); a
//     [RecordStarter] makes it from the user's records, which the Service
//     reads with its check that the challenge can still be answered;
//   - [Canceler]: per-challenge state to end with the challenge;
//   - [Remover]: enrollments the Service may remove;
//   - [RecoveryFactor]: a fallback that is not a second factor of its own
//     (backup codes);
//   - [AnswerChecker]: reject a malformed answer before any store access;
//   - [Offerer]: tell from the user's records, read once by Begin for
//     every factor, whether to offer it;
//   - [Assurer]: what its verifications assure (RFC 8176 method
//     references, its channel, phishing resistance, the NIST SP 800-63B
//     level it can reach), for Result, proofs and step-up requirements.
//
// and, for the pages and tools built on the Service (package
// twofactorhttp), which find them the same way:
//
//   - [CodeFormat]: the length and alphabet of its codes;
//   - [OptInFactor]: whether users enroll it themselves, or it follows the
//     account (email codes to the account's address);
//   - [Renamer]: users may rename their enrollments (security keys);
//   - [CodeCounter]: how many single-use codes a user has left (backup
//     codes);
//   - [RecoveryIssuer]: support staff may issue a one-time recovery code.
//
// An error a factor returns may name its reason for the events through
// [FailureReasoner].
type Factor interface {
	// Method returns the factor's method name, unique within a Service.
	Method() Method

	// Enrollments returns the user's active enrollments of this factor; none
	// means the factor is not offered to the user. An error fails the
	// operation (it is never read as "not enrolled").
	Enrollments(ctx context.Context, user User) ([]Enrollment, error)

	// Verify checks answer for the challenge and consumes whatever it used
	// (a code, a TOTP step) atomically, so the same answer succeeds at most
	// once. A wrong answer returns an error matching ErrInvalidCode
	// (ErrCodeExpired, ErrCodeReused, ErrNoCode for detail); any other
	// error is a system failure. Either way the user is not let in.
	Verify(ctx context.Context, ch *Challenge, answer string) (Verified, error)
}

// Verified is what a factor reports about a successful verification.
type Verified struct {
	// EnrollmentID is the enrollment that matched, if the factor has several.
	EnrollmentID string
	// RecordUse asks the Service to record this sign-in as the last use of
	// the user's enrollment record EnrollmentID (store.EnrollmentRecord's
	// LastUsedAt), in the store round trip that completes the challenge,
	// so that a factor that sets it writes nothing more on a login. A
	// record that is gone is not created again.
	RecordUse bool
	// Count is a number the success event carries: backup codes left
	// after the one used.
	Count int
	// Details are added to the success event. They must hold nothing secret:
	// no code, no secret, no full phone number.
	Details map[string]string
	// AMR, if set, are the RFC 8176 method references of this
	// verification, in place of the factor's Assurance().AMR: a security
	// key reports whether its key is device-bound ("hwk") or synced
	// ("swk"), and whether it verified the user.
	AMR []string
	// Mark, returned by MarkVerifier.VerifyMarked only, is the replay
	// mark (a store.OpAdvance) on which the answer holds: the Service
	// runs it in the round trip that ends the challenge, which ends only
	// when it raised the mark, and refuses the answer as ErrCodeReused
	// when it did not. Zero (Kind 0): the factor wrote what it needed.
	Mark store.Op
	// CounterMark, with Mark, returned by CounterVerifier.VerifyMarked
	// only, is a second store.OpAdvance on which the answer holds: a
	// counter the authenticator raises with every signature (WebAuthn
	// §6.1.1), which must rise. The Service runs it in the same round
	// trip, after Mark and only when Mark raised its mark, and ends the
	// challenge only when it raised its own; when it did not, nothing of
	// the end is written, and the answer is refused with the error of
	// CounterVerifier.CounterRefused.
	CounterMark store.Op
}

// A Discoverer is a factor that names the user itself: a passkey, a
// discoverable WebAuthn credential, carries the opaque handle of its
// account, so a sign-in can start with no user name and no password
// (Service.BeginPasskey and FinishPasskey). Package webauthn's factor is
// one.
type Discoverer interface {
	Factor
	// BeginDiscovery returns the options of a ceremony in which the
	// browser offers every passkey it holds for the site (no allow list,
	// user verification required), valid under id until expiresAt. Anyone
	// may open a login page, so it should keep nothing in the store (the
	// webauthn factor derives the challenge from id and expiresAt with
	// the server's keys instead).
	BeginDiscovery(ctx context.Context, id string, expiresAt time.Time) (json.RawMessage, error)
	// FinishDiscovery verifies the answer to ceremony id once: an answer
	// that parses spends the ceremony whatever the outcome. It returns the user
	// whose credential answered, and what the answer proves. Every
	// failure (an unknown credential, a credential of no account, a bad
	// signature, a spent or unknown ceremony, a key that may not sign in
	// alone) returns an error matching ErrInvalidCode and no user, so
	// that failures say nothing about which accounts exist; an answer
	// that does not parse returns ErrInvalidInput.
	FinishDiscovery(ctx context.Context, id, answer string) (Discovered, error)
}

// Discovered is who answered a discovery ceremony, and how.
type Discovered struct {
	UserID string
	Verified
	// UserVerified reports that the authenticator verified its user in
	// this answer (the UV flag) and that the credential was registered as
	// a passkey, with user verification: such an answer may count as both
	// factors (PasskeyBothFactors).
	UserVerified bool
}

// An Offerer is a factor that can tell whether to offer itself to a user
// from the User and the user's enrollment records
// (store.Enrollments.ListEnrollments), which Begin reads at most once for
// every such factor: a login's first step costs one read of what the user
// has, however many factors there are, and none when no factor needs the
// records. Offered answers what a non-empty Enrollments would; it calls
// records only when it needs them, and makes no other store call. An
// error (of records too) fails Begin, as an error of Enrollments does. A
// factor that keeps what it offers elsewhere (or a host's own factor) need
// not implement it: Begin asks its Enrollments.
type Offerer interface {
	Factor
	Offered(user User, records func() ([]store.EnrollmentRecord, error)) (bool, error)
}

// A RecordVerifier is a factor that checks an answer against the user's
// enrollment records (an authenticator app's sealed secret). The Service
// reads the records in the store round trip that counts the answer and
// hands them to VerifyRecords in place of Verify, which saves the factor a
// read. VerifyRecords does what Verify does, with records the user's
// records as store.Enrollments.ListEnrollments returns them (every
// method's: the factor picks its own).
type RecordVerifier interface {
	Factor
	VerifyRecords(ctx context.Context, ch *Challenge, answer string, records []store.EnrollmentRecord) (Verified, error)
}

// A MarkVerifier is a RecordVerifier whose check of an answer ends with a
// replay mark that decides whether the answer holds: an authenticator
// app's code is accepted once per time step (RFC 6238, section 5.2),
// which the ledger's high-water mark (store.Ledger.Advance) enforces.
// VerifyMarked does what VerifyRecords does, except that it may leave
// that mark unwritten and return it as Verified.Mark, a store.OpAdvance:
// the Service then runs it in the round trip that ends the challenge,
// with the end, the end of the user's run of wrong answers and the last
// use on its condition (store.Op.If), so that a right code costs one
// round trip less. The answer holds only when the advance raised the
// mark; when it did not (a concurrent sign-in took the step), the Service
// refuses it as ErrCodeReused, as the factor would have, and nothing of
// the end was written. The Service calls VerifyMarked only when it can
// run the mark so: on a store.Batcher, with no Veto (whose verdict comes
// before the end); otherwise it calls VerifyRecords. A factor may still
// write the mark itself and leave Verified.Mark unset (when what it
// reports depends on the mark's outcome, as a clock-drift warning does).
type MarkVerifier interface {
	RecordVerifier
	VerifyMarked(ctx context.Context, ch *Challenge, answer string, records []store.EnrollmentRecord) (Verified, error)
}

// A CounterVerifier is a MarkVerifier whose answers also carry a counter
// that must rise with each one: a security key's signature counter
// (WebAuthn §6.1.1), whose fall or standstill may betray a cloned key.
// VerifyMarked may return it, unwritten, as Verified.CounterMark beside
// the ceremony's single-use mark, Verified.Mark: the Service runs the two
// in the round trip that ends the challenge, the counter only when the
// mark was new (a double submit is a replay, not a fallen counter), and
// the end only when the counter rose. A factor that is not a
// CounterVerifier and returns a CounterMark fails the answer as its own
// fault.
type CounterVerifier interface {
	MarkVerifier
	// CounterRefused returns the error of the answer that VerifyMarked
	// accepted as got, with the user's records as it had them, whose
	// counter the Service found did not rise, and reports it as the
	// factor reports such an answer (an event.Warning). The Service
	// counts the answer as wrong when the error matches ErrInvalidCode,
	// and fails it as a system error otherwise.
	CounterRefused(ctx context.Context, ch *Challenge, got Verified, records []store.EnrollmentRecord) error
}

// A BatchMarkVerifier is a MarkVerifier that also reads, to check an
// answer, what the user's records do not hold, with operations of its own
// (BatchVerifier.CheckOps): whether a security key that registered with
// a zero signature counter has counted since. The Service runs them in
// the round trip that counts the answer, beside the records, and hands
// both to VerifyOpsMarked in place of VerifyMarked, with the rules of
// VerifyMarked. It calls VerifyRecords when it cannot run the marks (a
// Veto, a store without batches; the operations have run, and the factor
// reads what it needs again), and never VerifyOps: a BatchVerifier that is
// a RecordVerifier is always given the records.
type BatchMarkVerifier interface {
	MarkVerifier
	BatchVerifier
	// VerifyOpsMarked does what VerifyMarked does, with ops the
	// operations CheckOps returned for answer, once run.
	VerifyOpsMarked(ctx context.Context, ch *Challenge, answer string, ops []store.Op, records []store.EnrollmentRecord) (Verified, error)
}

// A CodeConsumer is a factor that checks an answer by consuming a code it
// stored (email and SMS codes), one store operation. The Service runs that
// operation in the round trip that counts the answer, on the condition
// that the count refused nothing (store.Op.If: a locked-out user's or a
// spent challenge's answer never reaches the code), and hands the result
// to VerifyConsumed in place of Verify, which saves a round trip on every
// answer. With no Veto, the challenge's end goes in that round trip too,
// on the condition that the code matched, so a right code is one round
// trip: the Service learns beforehand what a match verifies by calling
// VerifyConsumed with an OpConsumeCode whose Status is CodeMatched, which
// VerifyConsumed must therefore answer from op alone, with no store
// access or other effect. The operation runs on the Service's store, the
// Env's: a factor whose codes live in another store must not be a
// CodeConsumer.
type CodeConsumer interface {
	Factor
	// ConsumeOp returns the operation that checks answer to ch, an
	// OpConsumeCode, or the error Verify returns before any store access
	// (a malformed code).
	ConsumeOp(ch *Challenge, answer string) (store.Op, error)
	// VerifyConsumed returns what Verify returns, from op, the operation
	// of ConsumeOp, once it ran.
	VerifyConsumed(ctx context.Context, ch *Challenge, op store.Op) (Verified, error)
}

// A BatchVerifier is a factor that checks an answer with several store
// operations of its own: a backup code's check marks the code as
// submitted (so that the second of a double submit is told from a wrong
// code), consumes it, and counts a use of the user's set on a match. The
// Service runs them in the round trip that counts the answer, each on the
// condition that the count refused nothing (a locked-out user's answer,
// or one to a spent challenge, never reaches them), and hands them, once
// run, to VerifyOps in place of Verify, which saves a round trip on every
// answer. An operation of CheckOps with no If is made conditional on the
// count; an If among them names one of them (one-based, the first being
// 1). Unlike a CodeConsumer's check, they do not take the challenge's end
// with them: what a match verifies is known only once they ran. They run
// on the Service's store, the Env's: a factor that keeps its codes in
// another store must not be a BatchVerifier. When the round trip fails,
// or the challenge turns out to have been revoked (a password change, an
// administrator's reset), some or all of them may have run, and
// VerifyOps is not called. A factor that is also a CodeConsumer is used
// as a CodeConsumer; one that is also a RecordVerifier is given the
// user's records through its methods (see BatchMarkVerifier), not
// VerifyOps.
type BatchVerifier interface {
	Factor
	// CheckOps returns the operations that check answer to ch, or the
	// error Verify returns before any store access (a malformed code).
	CheckOps(ch *Challenge, answer string) ([]store.Op, error)
	// VerifyOps returns what Verify returns for answer, from ops, the
	// operations CheckOps returned for it, once they ran.
	VerifyOps(ctx context.Context, ch *Challenge, answer string, ops []store.Op) (Verified, error)
}

// Enroller is a factor users add themselves, in two steps, through
// [Service.BeginEnroll] and [Service.ConfirmEnroll]: begin returns what the
// user needs to prove possession (a QR code, a code sent to their phone,
// the browser's creation options) and keeps a pending enrollment; confirm
// checks the proof and makes the enrollment active.
type Enroller interface {
	Factor
	// BeginEnroll starts, or shows again, an enrollment for user. A
	// pending one of the same kind is returned again unless req.Restart
	// is set or req asks for something else (another phone number).
	BeginEnroll(ctx context.Context, user User, req EnrollRequest) (*Enrolling, error)
	// ConfirmEnroll checks answer (the code the app or the message shows,
	// the browser's attestation JSON) against the pending enrollment and
	// makes it active. A wrong answer returns an error matching
	// ErrInvalidCode and keeps the pending enrollment; none pending
	// returns ErrNotEnrolled.
	ConfirmEnroll(ctx context.Context, user User, answer string) (Enrollment, error)
}

// EnrollRequest says what to enroll. Factors read the fields that concern
// them.
type EnrollRequest struct {
	Client Client
	// Label is the user's name for the enrollment ("YubiKey 5").
	Label string
	// Destination is a phone number for SMS (as typed; see Region) or an
	// email address for email.
	Destination string
	// Region is the ISO 3166 region of a phone number typed without its
	// country code ("US").
	Region string
	// Restart drops a pending enrollment of the same kind and starts over.
	Restart bool
	// Passkey asks a WebAuthn factor for a passkey: a discoverable
	// credential that verifies its user, which can sign in on its own
	// (Discoverer), rather than a security key for the second step.
	Passkey bool
}

// Enrolling describes a pending enrollment: what the user needs to see to
// prove possession. Each factor fills the fields that concern it.
type Enrolling struct {
	Method    Method
	ExpiresAt time.Time
	// Sent is where a confirmation code went (email, SMS).
	Sent *Sent
	// Secret is the TOTP secret in base32, for typing into an app.
	Secret string
	// URI is the otpauth:// URI of a TOTP secret, for a link.
	URI string
	// QR is the TOTP URI as a PNG QR code, for an image (a page shows it
	// as a data: URI).
	QR []byte
	// Options is what the browser needs to create a credential (WebAuthn).
	Options json.RawMessage
	// Codes are backup codes, shown once: they are active already, and no
	// confirmation follows.
	Codes []string
}

// Sender is a factor with a send step: it issues a code for the challenge and
// delivers it (email, SMS). Errors are typed: *RetryError for cooldowns and
// caps; a delivery failure leaves no usable code behind.
type Sender interface {
	Factor
	Send(ctx context.Context, ch *Challenge, c Client) (Sent, error)
}

// A GatedSender is a Sender that joins the Service's checks of a send to
// the store round trip that counts its own limits, so that a send costs
// no round trip of the Service's: during Service.Send, ch.Gate() is set,
// and the factor counts its limits with [SendGate.Admit] and refuses the
// send when the gate does. A Sender that is not one is checked by the
// Service first, in a round trip of its own.
type GatedSender interface {
	Sender
	// Gated reports that Send admits through ch.Gate() whenever it is
	// set.
	Gated() bool
}

// A SendGate is what the Service asks of a send on a challenge besides
// the factor's own limits: that the user is not locked out, and that the
// challenge did not end, use up its answers or get revoked. Its checks
// are bounded increments that are never counted (store.BoundedIncr.Check)
// and its reads plain ones, so they join the factor's own increment.
type SendGate struct {
	s       *Service
	ch      *Challenge
	c       Client
	refused error // what Admit refused the send with, for Service.Send
}

// Gate returns the gate of a send on c during Service.Send, or nil.
func (c *Challenge) Gate() *SendGate { return c.gate }

// Admit counts incrs, the send's own limits, as store.IncrAllBelow would,
// in one store round trip with the gate's checks and reads
// (store.RunBatch), and returns incrs' results. When the gate refuses the
// send, refused is its error (matching ErrLocked, ErrChallengeNotFound or
// ErrTooManyAttempts), and the factor sends nothing: a lockout or a
// challenge that ended refuses incrs in the same step (only CountRefused
// entries count), while a revocation, which only a password change or an
// administrator's reset makes, is seen after incrs were admitted, so the
// factor gives back what it took, as for a code it could not send.
func (g *SendGate) Admit(ctx context.Context, st any, incrs []store.BoundedIncr, now time.Time) (counts []store.BoundedValue, refused error, err error) {
	return g.AdmitThen(ctx, st, incrs, now, nil)
}

// AdmitThen is Admit, and runs then, the operations that follow an
// admitted send (the code's storing, store.OpPutCode), in the same round
// trip, on the condition that nothing refused the send there
// (store.Op.If): on a refusal none of them runs and each is Skipped. Their
// If is set here; their results are set when err is nil. An operation
// that ran for a send that a revocation refused is not undone.
func (g *SendGate) AdmitThen(ctx context.Context, st any, incrs []store.BoundedIncr, now time.Time, then []store.Op) (counts []store.BoundedValue, refused error, err error) {
	s, ch := g.s, g.ch
	key := ch.Key()
	all := make([]store.BoundedIncr, 0, len(incrs)+3)
	all = append(all, incrs...)
	all = append(all,
		store.BoundedIncr{Key: keyUserFail + ch.User.ID, Window: s.limits.FailureMemory, Max: int64(s.limits.MaxUserFailures), Steps: s.failSteps, Check: true},
		store.BoundedIncr{Key: keyDone + key, Window: time.Millisecond, Max: 1, Check: true},
		store.BoundedIncr{Key: keyAttempts + key, Window: time.Millisecond, Max: int64(s.limits.MaxAttempts), Check: true},
	)
	// The read first, so that on SQL the limits' rows (some shared by
	// every account) are locked only from the increment to the commit.
	ops := append(make([]store.Op, 0, 2+len(then)),
		store.Op{Kind: store.OpGetState, Key: keyProofsBefore + ch.User.ID}, store.Op{Kind: store.OpIncrBelow, Incrs: all})
	for _, op := range then {
		op.If = 2
		ops = append(ops, op)
	}
	if err := store.RunBatch(ctx, st, ops, now); err != nil {
		return nil, nil, err
	}
	copy(then, ops[2:])
	vals := ops[1].Bounded
	gate := vals[len(incrs):]
	revoked, err := revokedAt(ch, ops[0])
	switch {
	case err != nil:
		return nil, nil, err
	case revoked || gate[1].Full:
		refused = ErrChallengeNotFound
	case gate[2].Full:
		refused = ErrTooManyAttempts
	case gate[0].Full:
		refused = s.lockedErr(ctx, store.CounterValue{N: gate[0].N, ResetAt: gate[0].ResetAt}, ch.User.ID, g.c, key, ch.Purpose)
		if refused == nil { // the bound and the schedule agree; never send past a full check
			refused = NewRetryError(ErrLocked, LimitUser, now, gate[0].ResetAt)
		}
	}
	g.refused = refused
	return vals[:len(incrs)], refused, nil
}

// Sent describes a delivered code for the user interface.
type Sent struct {
	Destination string    // masked: "j***@example.com", "+1 *** *** **12"
	ExpiresAt   time.Time // when the code stops working
	ResendAt    time.Time // earliest time a new code may be requested
}

// Starter is a factor whose client needs data before it can answer (WebAuthn
// assertion options). Start returns that data as JSON.
type Starter interface {
	Factor
	Start(ctx context.Context, ch *Challenge) (json.RawMessage, error)
}

// A RecordStarter is a Starter whose start step needs only the user's
// enrollment records (a security key's credentials). The Service reads
// them in the store round trip that checks that the challenge can still be
// answered, and hands them to StartRecords in place of Start, so a start
// costs one round trip. StartRecords does what Start does, with records
// as store.Enrollments.ListEnrollments returns them (every method's: the
// factor picks its own).
type RecordStarter interface {
	Starter
	StartRecords(ctx context.Context, ch *Challenge, records []store.EnrollmentRecord) (json.RawMessage, error)
}

// Canceler is a factor that keeps state per challenge (issued codes, ceremony
// state), under the challenge's Key. The service calls Cancel when the
// challenge is cancelled or spent (too many answers), so nothing issued
// for it stays usable while the challenge's id does. A challenge that is
// completed is marked done instead, and the other factors' state is left
// to expire with it: every answer checks that mark first, so none of it
// can be used. The factor whose
// Verify completed the challenge must itself have consumed what it issued
// for it (one code or ceremony per challenge).
type Canceler interface {
	Factor
	Cancel(ctx context.Context, ch *Challenge) error
}

// Remover is a factor whose enrollments the service can remove: one (after a
// fresh verification, [Service.RemoveEnrollment]) or all (admin reset,
// [Service.Disable]).
type Remover interface {
	Factor
	Remove(ctx context.Context, user User, enrollmentID string) error
	RemoveAll(ctx context.Context, user User) error
}

// RecoveryFactor is implemented by factors that are a fallback only (backup
// codes): they can answer a challenge, but do not count as the user's second
// factor when a policy requires one, and they are removed with the user's
// last second factor.
type RecoveryFactor interface {
	Factor
	Recovery() bool
}

func isRecovery(f Factor) bool {
	r, ok := f.(RecoveryFactor)
	return ok && r.Recovery()
}

// AnswerChecker is implemented by factors that can reject a malformed answer
// (letters in a numeric code, JSON that does not parse) without touching the
// store. Verify calls it before any store access and answers
// ErrMalformedCode when it returns an error.
type AnswerChecker interface {
	CheckAnswer(answer string) error
}

// CodeFormat is a factor answered with a code typed by the user, of a
// known shape: pages size the input, offer a numeric keypad for digits,
// take spaces and dashes out of pasted digits, and submit once the code
// is complete. A factor that is not one is answered by a free text field.
type CodeFormat interface {
	Factor
	// CodeLength is the number of characters of a code; 0 when it varies.
	CodeLength() int
	// NumericCode reports whether codes are digits only.
	NumericCode() bool
}

// OptInFactor is a factor that says whether users enroll it themselves.
// A factor whose OptIn is false counts an enrollment from what the host
// gives in the User (email codes to the account's address): users can
// neither add nor remove it, and it stays on when they turn two-factor
// authentication off, for as long as the User holds it. A factor that is
// not an OptInFactor is opt-in.
type OptInFactor interface {
	Factor
	OptIn() bool
}

// Renamer is a factor whose enrollments users may rename (security keys,
// "Blue YubiKey"). An id that is not one of the user's enrollments is
// ErrNotEnrolled; a name the factor refuses (empty, too long) is
// ErrInvalidInput.
type Renamer interface {
	Factor
	Rename(ctx context.Context, user User, enrollmentID, name string) error
}

// CodeCounter is a factor of single-use codes (backup codes) that tells
// how many unused codes a user has left, so that pages can prompt for a
// new set before the last one is gone.
type CodeCounter interface {
	Factor
	Remaining(ctx context.Context, user User) (int, error)
}

// RecoveryIssuer is a factor that issues a one-time recovery code to a
// user, for support staff who checked the user's identity by other means:
// the user types it where the factor's codes go. actor names the
// administrator, for the audit event; the code is returned once, with
// when it expires.
type RecoveryIssuer interface {
	Factor
	IssueRecoveryCode(ctx context.Context, user User, actor string) (code string, expires time.Time, err error)
}
