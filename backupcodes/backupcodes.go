package backupcodes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// Store is the storage the factor needs: hashed codes in groups, counters
// (codes just submitted, and uses of a set) and enrollment records (when
// a set was made and last used). Every store of this module implements
// it.
type Store interface {
	store.Codes
	store.CodeGroups
	store.Counters
	store.Enrollments
}

// EventLow is emitted after a backup code was used when the user has
// LowThreshold codes or fewer left (Event.Count, which may be 0), so the
// host can prompt the user to make a new set.
const EventLow event.Type = "backup_codes.low"

// EventRecoveryUsed is emitted when a user signed in with an admin-issued
// recovery code, for the audit trail of IssueRecoveryCode.
const EventRecoveryUsed event.Type = "backup_codes.recovery_used"

// Enrollment ids reported by Enrollments and accepted by Remove.
const (
	EnrollmentBackupCodes  = "backup_codes"  // the user's set of backup codes
	EnrollmentRecoveryCode = "recovery_code" // an outstanding admin-issued recovery code
)

// Defaults applied by New to zero fields.
const (
	DefaultCount        = 10
	DefaultGroups       = 3
	DefaultGroupSize    = 4
	DefaultRecoveryTTL  = 24 * time.Hour
	DefaultLowThreshold = 2
)

// Bounds checked by New.
const (
	MaxCount       = 100
	MinBits        = 50 // entropy of a backup code, at least
	MaxCodeLength  = 32 // characters of a backup code, at most
	MaxRecoveryTTL = 7 * 24 * time.Hour
)

// Config configures a Factor: what is specific to backup codes. Zero
// fields take the documented defaults; New validates the whole and reports
// what to fix. The store, the keys (which hash the codes), the events, the
// clock and the randomness come from the twofactor.Env the factor is
// built with.
//
// A Config is a twofactor.FactorConfig: given in twofactor.Config.Factors,
// twofactor.New builds the factor with the Service's Env. The zero Config
// is a complete configuration.
type Config struct {
	// Count is how many codes a set has (BeginEnroll makes one). Zero
	// means 10; 1 to 100. A set keeps the size it was made with.
	Count int

	// Groups and GroupSize shape a code: Groups groups of GroupSize
	// characters from Alphabet, shown with dashes between them. Zero means
	// 3 groups of 4 ("k7qm-3xvt-9fhd", 60 bits). Groups × GroupSize × 5 bits
	// must be at least 50 bits and the code at most 32 characters. An
	// admin-issued recovery code has one group more.
	Groups    int
	GroupSize int

	// RecoveryTTL is how long an admin-issued recovery code stays valid.
	// Zero means 24 hours; at most 7 days.
	RecoveryTTL time.Duration

	// LowThreshold: after a backup code is used, EventLow is emitted when
	// this many codes or fewer are left. Zero means 2; negative disables
	// the event.
	LowThreshold int
}

var _ twofactor.FactorConfig = Config{}

// The optional abilities the pages (package twofactorhttp) use.
var (
	_ twofactor.CodeCounter    = (*Factor)(nil)
	_ twofactor.RecoveryIssuer = (*Factor)(nil)
)

// NewFactor builds the factor with env: twofactor.New calls it for each
// Config in twofactor.Config.Factors.
func (c Config) NewFactor(env twofactor.Env) (twofactor.Factor, error) { return New(env, c) }

// Factor is the backup-code factor: a set of single-use codes the user
// keeps on paper or in a password manager, and recovery codes an
// administrator issues to a locked-out user. It implements
// twofactor.Factor, Enroller, RecoveryFactor (it never counts as the
// user's second factor for a policy), Remover and AnswerChecker. It is
// safe for concurrent use.
//
// Codes are hashed under the Env's keyring; codes made under a key keep
// working while that key is in the ring. Share the store between app
// instances, so that a code is consumed once across all of them.
type Factor struct {
	store        Store
	usesPrefix   string // of the counter of uses of a set of count codes
	keys         *keyring.Ring
	count        int
	layout       layout
	recoveryTTL  time.Duration
	lowThreshold int
	events       *event.Sink
	now          func() time.Time
	rand         io.Reader
}

var (
	_ twofactor.Factor         = (*Factor)(nil)
	_ twofactor.Enroller       = (*Factor)(nil)
	_ twofactor.RecoveryFactor = (*Factor)(nil)
	_ twofactor.Remover        = (*Factor)(nil)
	_ twofactor.AnswerChecker  = (*Factor)(nil)
)

// storeParts are the interfaces Store is made of, named in the error for
// a store that lacks some.
var storeParts = []reflect.Type{
	reflect.TypeFor[store.Codes](), reflect.TypeFor[store.CodeGroups](),
	reflect.TypeFor[store.Counters](), reflect.TypeFor[store.Enrollments](),
}

// New validates cfg and returns a Factor built with env, complete: its
// store (which must implement [Store]) and keys come from env, as do its
// events, clock and randomness (env's defaults when nil). Errors wrap
// twofactor.ErrConfig and say what to change: a nil Env.Store or
// Env.Keys, a store lacking one of the interfaces Store is made of
// (named), or a Config field out of range.
//
// Given in twofactor.Config.Factors, the Config is built by twofactor.New
// with the Service's Env; svc.Factor(twofactor.MethodBackupCode) returns
// the factor (for Remaining and IssueRecoveryCode).
func New(env twofactor.Env, cfg Config) (*Factor, error) {
	st, env, err := errs.Store[Store]("backupcodes", env, storeParts...)
	if err != nil {
		return nil, err
	}
	f := &Factor{
		store:        st,
		keys:         env.Keys,
		count:        cmp.Or(cfg.Count, DefaultCount),
		layout:       layout{groups: cmp.Or(cfg.Groups, DefaultGroups), size: cmp.Or(cfg.GroupSize, DefaultGroupSize)},
		recoveryTTL:  cmp.Or(cfg.RecoveryTTL, DefaultRecoveryTTL),
		lowThreshold: cmp.Or(cfg.LowThreshold, DefaultLowThreshold),
		events:       env.Events,
		now:          env.Now,
		rand:         env.Rand,
	}
	switch l := f.layout; {
	case f.count < 0 || f.count > MaxCount:
		return nil, configErr("Count %d is out of range: use 1 to %d (zero means %d)", f.count, MaxCount, DefaultCount)
	case l.groups < 0 || l.size < 0:
		return nil, configErr("Groups and GroupSize must not be negative (zero means %d and %d)", DefaultGroups, DefaultGroupSize)
	case l.groups*l.size*bitsPerChar < MinBits:
		return nil, configErr("codes of %d groups of %d characters carry %d bits; use at least %d characters (%d bits)",
			l.groups, l.size, l.groups*l.size*bitsPerChar, (MinBits+bitsPerChar-1)/bitsPerChar, MinBits)
	case l.groups*l.size > MaxCodeLength:
		return nil, configErr("codes of %d groups of %d characters are longer than %d characters", l.groups, l.size, MaxCodeLength)
	case f.recoveryTTL < 0 || f.recoveryTTL > MaxRecoveryTTL:
		return nil, configErr("RecoveryTTL %s is out of range: use up to %s (zero means %s)", f.recoveryTTL, MaxRecoveryTTL, DefaultRecoveryTTL)
	}
	f.usesPrefix = usesPrefix(f.count)
	return f, nil
}

func configErr(format string, args ...any) error { return errs.Config("backupcodes", format, args...) }

// Method returns twofactor.MethodBackupCode.
func (f *Factor) Method() twofactor.Method { return twofactor.MethodBackupCode }

var _ twofactor.Assurer = (*Factor)(nil)

// Assurance reports what a backup code assures: "otp", each code being a
// one-time password (not "kba": knowledge-based authentication is
// questions about the user, and these codes are something the user
// has, a look-up secret in NIST SP 800-63B section 5.1.2); AAL2 with a
// password; no channel, since they were shown once and kept by the user
// (on paper, in a password manager). They are not phishing resistant.
func (f *Factor) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"otp"}, AAL: 2}
}

// Recovery returns true: backup codes can answer a challenge, but a user
// with only backup codes has no second factor as far as a policy is
// concerned (twofactor.Service.Check reports such users).
func (f *Factor) Recovery() bool { return true }

// CheckAnswer rejects, without touching the store, an answer that cannot be
// a code: wrong length or a character outside the alphabet once case,
// spaces, dashes and look-alikes are normalized. The error wraps
// twofactor.ErrInvalidInput.
func (f *Factor) CheckAnswer(answer string) error {
	var buf [2 * MaxCodeLength]byte // room for a recovery code of the longest layout
	_, _, err := f.layout.appendNormalized(buf[:0], answer)
	return err
}

// Enrollments reports the user's codes: an enrollment with id
// EnrollmentBackupCodes while unused backup codes remain (labelled "Backup
// codes (7 left)"), and one with id EnrollmentRecoveryCode while an
// admin-issued recovery code is outstanding. CreatedAt is when the set
// was made (the recovery code issued), LastUsedAt when one of its codes
// was last used. Begin asks Offered instead, which counts no codes.
func (f *Factor) Enrollments(ctx context.Context, user twofactor.User) ([]twofactor.Enrollment, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	backup, err := f.store.CountGroup(ctx, group(kindBackup, user.ID))
	if err != nil {
		return nil, fmt.Errorf("backupcodes: counting backup codes: %w", err)
	}
	recovery, err := f.store.CountGroup(ctx, group(kindRecovery, user.ID))
	if err != nil {
		return nil, fmt.Errorf("backupcodes: counting recovery codes: %w", err)
	}
	if backup == 0 && recovery == 0 {
		return nil, nil
	}
	recs, err := f.store.ListEnrollments(ctx, user.ID)
	if err != nil {
		return nil, fmt.Errorf("backupcodes: listing enrollments: %w", err)
	}
	times := func(e twofactor.Enrollment) twofactor.Enrollment {
		for _, r := range recs {
			if r.Method == string(twofactor.MethodBackupCode) && r.ID == e.ID {
				e.CreatedAt, e.LastUsedAt = r.CreatedAt, r.LastUsedAt
			}
		}
		return e
	}
	var out []twofactor.Enrollment
	if backup > 0 {
		out = append(out, times(twofactor.Enrollment{
			ID: EnrollmentBackupCodes, Method: twofactor.MethodBackupCode,
			Label: fmt.Sprintf("Backup codes (%d left)", backup),
		}))
	}
	if recovery > 0 {
		out = append(out, times(twofactor.Enrollment{
			ID: EnrollmentRecoveryCode, Method: twofactor.MethodBackupCode,
			Label: "Recovery code from support",
		}))
	}
	return out, nil
}

// Verify checks a backup code or recovery code for the challenge's user and
// consumes it atomically: of concurrent requests with the same code, on any
// number of app instances sharing the store, exactly one succeeds.
//
// The answer is normalized, then hashed under every key of the ring and
// looked up by its hash, however many codes the user has: under the
// current key first, then (after a rotation, when that finds nothing) one
// store call per earlier key. A wrong or malformed code returns an error matching
// twofactor.ErrInvalidCode; an expired recovery code returns
// twofactor.ErrCodeExpired. Store failures return other errors.
//
// With the lookup, in the same store round trip (store.RunBatch), the
// code is marked as submitted for SubmitWindow (a counter under the keyed
// hash of the code, so nothing secret is stored), and, when the code
// matched, a use of the set is counted (the codes left). A code that did
// not match but was submitted before within the window, such as the twin
// of a double submit on another challenge, gets twofactor.ErrCodeReused:
// it could not succeed, so the Service does not count it toward the
// user's lockout. (A wrong code repeated within the window is not counted
// twice either.) Verify is CheckOps, those operations run, and VerifyOps:
// the Service runs the operations itself in the round trip that counts
// the answer (twofactor.BatchVerifier), so a login by backup code costs
// the factor no round trip of its own.
//
// On success Verified.EnrollmentID says which was used
// (EnrollmentBackupCodes or EnrollmentRecoveryCode) and Verified.Count how
// many backup codes are left; the use of a set asks the Service to record
// it as the set's last use (Verified.RecordUse), and a recovery code's
// record goes with it. When the use of a backup code leaves LowThreshold
// codes or fewer, EventLow is emitted with Count set to the codes left;
// when it leaves none, the set's record goes too, so that Begin no longer
// offers the set (see Offered). Failing to remove the recovery code's
// record or the used-up set's, or to count what is left, does not undo the
// success: it is an event.Warning ([ReasonLastUseFailed],
// [ReasonCountFailed]).
func (f *Factor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	ops, err := f.CheckOps(ch, answer)
	if err != nil {
		return twofactor.Verified{}, err
	}
	if err := store.RunBatch(ctx, f.store, ops, f.now()); err != nil {
		// Nothing was decided: the same code may be tried again at once.
		_ = f.store.ResetCounter(context.WithoutCancel(ctx), ops[0].Incrs[0].Key)
		return twofactor.Verified{}, fmt.Errorf("backupcodes: consuming code: %w", err)
	}
	return f.VerifyOps(ctx, ch, answer, ops)
}

// CheckOps implements twofactor.BatchVerifier: the operations that check
// answer to ch, in order: the mark of the code as submitted, the code's
// consumption under the ring's current key, and, for a backup code when
// LowThreshold is not negative, the count of the set's uses, run only when
// the code matched. A malformed answer, or a challenge with no valid
// user, is the error Verify returns, before any store access.
func (f *Factor) CheckOps(ch *twofactor.Challenge, answer string) ([]store.Op, error) {
	k, in, err := f.normalize(ch, answer)
	if err != nil {
		return nil, err
	}
	userID := ch.User.ID
	hash := f.keys.Hash(hashDomain, in)
	g := group(k, userID)
	ops := make([]store.Op, 2, 3)
	ops[0] = store.Op{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: submittedKey(g, hash), Window: SubmitWindow, Max: math.MaxInt64}}}
	ops[1] = store.Op{Kind: store.OpConsumeCode, Group: g, Key: storeKey(hash), Hash: hash}
	if f.countsUses(k) {
		ops = append(ops, store.Op{Kind: store.OpIncrBelow, If: 2, Incrs: []store.BoundedIncr{{Key: f.usesPrefix + userID, Window: usesWindow, Max: math.MaxInt64}}})
	}
	return ops, nil
}

// countsUses reports whether the check of a code of kind k counts the
// set's uses.
func (f *Factor) countsUses(k kind) bool { return k == kindBackup && f.lowThreshold >= 0 }

// normalize checks ch and answer, and returns the kind of code answer is
// and the input of its keyed hash: the kind, the user and the normalized
// code.
func (f *Factor) normalize(ch *twofactor.Challenge, answer string) (kind, []byte, error) {
	if ch == nil {
		return 0, nil, errors.New("backupcodes: nil challenge")
	}
	if err := checkUser(ch.User); err != nil {
		return 0, nil, err
	}
	userID := ch.User.ID
	in := hashPrefix(make([]byte, 0, 3+len(userID)+f.layout.length(kindRecovery)), userID)
	in, k, err := f.layout.appendNormalized(in, answer)
	if err != nil {
		return 0, nil, errInvalidCode
	}
	in[0] = byte(k)
	return k, in, nil
}

// VerifyOps implements twofactor.BatchVerifier: what Verify returns for
// answer, from ops, CheckOps's operations for it once they ran. A code
// not found under the ring's current key is looked up under the earlier
// ones, one store call each (after a rotation), and its use counted when
// it matched there.
func (f *Factor) VerifyOps(ctx context.Context, ch *twofactor.Challenge, answer string, ops []store.Op) (twofactor.Verified, error) {
	if ch == nil {
		return twofactor.Verified{}, errors.New("backupcodes: nil challenge")
	}
	userID := ch.User.ID
	k := kindBackup
	if len(ops) > 1 && ops[1].Group == group(kindRecovery, userID) {
		k = kindRecovery
	}
	countUses := f.countsUses(k)
	if len(ops) != 2+b2i(countUses) || ops[0].Skipped || ops[1].Skipped || len(ops[0].Bounded) != 1 || ops[1].Group != group(k, userID) {
		return twofactor.Verified{}, errors.New("backupcodes: VerifyOps: not the operations of CheckOps for this answer, run")
	}
	st := ops[1].Status
	var uses int64
	if countUses && st == store.CodeMatched {
		if ops[2].Skipped || len(ops[2].Bounded) != 1 {
			return twofactor.Verified{}, errors.New("backupcodes: VerifyOps: the count of a matched code's use did not run")
		}
		uses = ops[2].Bounded[0].N
	}
	if st == store.CodeNotFound {
		// Under an earlier key of the ring, after a rotation (none when
		// the ring has one key).
		_, in, err := f.normalize(ch, answer)
		if err != nil {
			return twofactor.Verified{}, err
		}
		if st, err = f.consume(ctx, ops[1].Group, f.keys.HashEarlier(hashDomain, in)); err != nil {
			_ = f.store.ResetCounter(context.WithoutCancel(ctx), ops[0].Incrs[0].Key)
			return twofactor.Verified{}, err
		}
		if st == store.CodeMatched && countUses {
			uses = f.countUse(ctx, userID)
		}
	}
	// The twin of a double submit that counted the submission second is a
	// reuse. That the other twin consumed the code is known because the
	// two checks do not interleave: on SQL the submission's row lock
	// orders them, the memory store runs one batch at a time, and Redis
	// runs the commands on the keys of one slot as a transaction (the
	// mark carries the codes' group tag, so on a cluster it is in their
	// slot). They may interleave only on Redis, while a script is not yet
	// cached on its server (its first call after a restart or a
	// failover), when the batch's commands go in two transactions: then
	// the twin that counted first can find the code gone and be answered
	// as a wrong code, one more failure counted, the safe side.
	switch {
	case st == store.CodeMatched:
	case ops[0].Bounded[0].N > 1:
		return twofactor.Verified{}, errCodeReused
	case st == store.CodeExpired:
		return twofactor.Verified{}, twofactor.ErrCodeExpired
	default:
		return twofactor.Verified{}, errInvalidCode
	}
	return f.matched(ctx, ch, k, uses), nil
}

// countUse counts a use of the user's set outside a check's batch (a code
// found under an earlier key of the ring), and returns the count after it,
// or 0, which counts the codes left in the store instead (see left), when
// the count fails.
func (f *Factor) countUse(ctx context.Context, userID string) int64 {
	n, _, err := f.store.Incr(ctx, f.usesPrefix+userID, usesWindow)
	if err != nil {
		return 0
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Reasons of the warnings Verify emits when recording a use that already
// let the user in fails.
const (
	ReasonLastUseFailed event.Reason = "last_use_failed" // the use could not be recorded on the set's (or recovery code's) record
	ReasonCountFailed   event.Reason = "count_failed"    // the codes left could not be counted
)

// matched records the use of a code of kind k that matched for ch, and
// reports it. The code is gone and the decision is made, so what fails
// here is reported as an event.Warning, not returned.
//
// uses is the count of the set's uses after this one, as the lookup's
// batch took it (zero when it did not count).
func (f *Factor) matched(ctx context.Context, ch *twofactor.Challenge, k kind, uses int64) twofactor.Verified {
	userID := ch.User.ID
	warn := func(reason event.Reason) {
		f.events.Emit(ctx, event.Event{Type: event.Warning, UserID: userID, ChallengeID: ch.Key(),
			Method: twofactor.MethodBackupCode, Reason: reason})
	}
	if k == kindRecovery {
		// A recovery code is used once: its record goes with it, so that
		// Begin (Offered) no longer offers it.
		if err := f.store.DeleteEnrollment(ctx, userID, EnrollmentRecoveryCode); err != nil {
			warn(ReasonLastUseFailed)
		}
		f.events.Emit(ctx, event.Event{Type: EventRecoveryUsed, UserID: userID, ChallengeID: ch.Key(),
			Method: twofactor.MethodBackupCode, Purpose: ch.Purpose, EnrollmentID: EnrollmentRecoveryCode})
		return twofactor.Verified{EnrollmentID: EnrollmentRecoveryCode}
	}
	v := twofactor.Verified{EnrollmentID: EnrollmentBackupCodes, RecordUse: true}
	if f.lowThreshold < 0 {
		return v
	}
	left, err := f.left(ctx, userID, uses)
	if err != nil {
		warn(ReasonCountFailed)
		return v
	}
	v.Count = left
	if left == 0 {
		if err := f.retireSet(ctx, userID); err != nil {
			warn(ReasonLastUseFailed)
		}
	}
	if left <= f.lowThreshold {
		f.events.Emit(ctx, event.Event{Type: EventLow, UserID: userID, ChallengeID: ch.Key(),
			Method: twofactor.MethodBackupCode, EnrollmentID: EnrollmentBackupCodes, Count: left})
	}
	return v
}

// SubmitWindow is how long a submitted code is remembered, so that the
// same code submitted again meanwhile (the twin of a double submit) is
// recognised as a reuse rather than counted as a wrong code.
const SubmitWindow = 5 * time.Minute

const keySubmitted = "backupcodes:sub:" // counter: a code was submitted, under its keyed hash

// errCodeReused is the answer to a code submitted again within
// SubmitWindow.
var errCodeReused = fmt.Errorf("backupcodes: code submitted again: %w", twofactor.ErrCodeReused)

// A set's uses are counted in a store counter, created at 1 with the set
// (BeginEnroll) and raised by each use, so after a use the set has
// size - (count - 1) codes left: one atomic increment, however many codes
// are stored. The set's size is in the counter's name: a set made under
// another Count (the setting changed since) or before the counter existed
// finds no counter, which its first increment shows by answering 1, and
// is counted in the store instead (CountGroup), exactly, use after use.
const (
	keyUses    = "backupcodes:uses:"
	usesWindow = 100 * 365 * 24 * time.Hour // as long as a set may live
)

func usesKey(size int, userID string) string {
	return usesPrefix(size) + userID
}

func usesPrefix(size int) string { return keyUses + strconv.Itoa(size) + ":" }

// left returns how many codes the user's set has left, n being the count
// of its uses after this one (the set's counter starts at 1 when it is
// made): when the counter was missing (n is 1, the increment made it),
// the codes are counted instead and the counter dropped, so that the
// next use counts again.
func (f *Factor) left(ctx context.Context, userID string, n int64) (int, error) {
	key := f.usesPrefix + userID
	if n > 1 {
		return max(f.count-int(n-1), 0), nil
	}
	// No counter for a set of this size: count the codes, and drop the
	// counter this increment made, so that the next use counts again.
	left, err := f.store.CountGroup(ctx, group(kindBackup, userID))
	if err != nil {
		return 0, err
	}
	return left, f.store.ResetCounter(ctx, key)
}

// consume looks a code up by its hashes under the earlier keys of the
// ring, in order, and consumes it.
// It stops at the first answer other than "not found", and at the first
// store error (fail closed).
func (f *Factor) consume(ctx context.Context, g string, hashes [][]byte) (store.CodeStatus, error) {
	for _, h := range hashes {
		st, err := f.store.ConsumeCode(ctx, g, storeKey(h), h)
		if err != nil {
			return store.CodeNotFound, fmt.Errorf("backupcodes: consuming code: %w", err)
		}
		if st != store.CodeNotFound {
			return st, nil
		}
	}
	return store.CodeNotFound, nil
}

// retireSet removes the record of the user's set once its last code was
// used, so that Begin (Offered) stops offering a set that can only refuse,
// as Enrollments stops listing it. A new set made meanwhile stores its
// codes before its record, so when codes are found after the removal the
// record was the new set's, and it is put back.
func (f *Factor) retireSet(ctx context.Context, userID string) error {
	ctx = context.WithoutCancel(ctx)
	if err := f.store.DeleteEnrollment(ctx, userID, EnrollmentBackupCodes); err != nil {
		return err
	}
	n, err := f.store.CountGroup(ctx, group(kindBackup, userID))
	if err != nil || n == 0 {
		return err
	}
	return f.putSetRecord(ctx, userID, f.count)
}

// Offered reports whether the user's enrollment records hold a set
// of backup codes or an outstanding recovery code: Begin reads the records
// once for every factor. A set is offered while its record is kept: until
// it is removed or replaced, or its last code is used (Verify then removes
// the record, when it counts the codes left, that is unless
// Config.LowThreshold is negative). A set used up otherwise stays offered
// and only refuses the codes typed into it; such a user has another
// factor too, since the codes go with the last one.
func (f *Factor) Offered(_ twofactor.User, records func() ([]store.EnrollmentRecord, error)) (bool, error) {
	recs, err := records()
	return slices.ContainsFunc(recs, func(r store.EnrollmentRecord) bool {
		return r.Method == string(twofactor.MethodBackupCode) && (r.ID == EnrollmentBackupCodes || r.ID == EnrollmentRecoveryCode)
	}), err
}

// Remove deletes the user's backup codes (EnrollmentBackupCodes) or
// outstanding recovery code (EnrollmentRecoveryCode). Another id returns an
// error matching twofactor.ErrNotEnrolled.
func (f *Factor) Remove(ctx context.Context, user twofactor.User, enrollmentID string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	switch enrollmentID {
	case EnrollmentBackupCodes:
		return f.removeSet(ctx, user.ID)
	case EnrollmentRecoveryCode:
		return f.removeRecovery(ctx, user.ID)
	}
	return fmt.Errorf("backupcodes: %w: no enrollment %q", twofactor.ErrNotEnrolled, enrollmentID)
}

// RemoveAll deletes every backup and recovery code of the user (admin
// reset, Service.Disable, removal of the user's last second factor).
func (f *Factor) RemoveAll(ctx context.Context, user twofactor.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	return errors.Join(f.removeSet(ctx, user.ID), f.removeRecovery(ctx, user.ID))
}

// removeRecovery deletes the user's recovery code and its record.
func (f *Factor) removeRecovery(ctx context.Context, userID string) error {
	if err := f.store.DeleteGroup(ctx, group(kindRecovery, userID)); err != nil {
		return fmt.Errorf("backupcodes: deleting the recovery code: %w", err)
	}
	if err := f.store.DeleteEnrollment(ctx, userID, EnrollmentRecoveryCode); err != nil {
		return fmt.Errorf("backupcodes: deleting the recovery code's record: %w", err)
	}
	return nil
}

// errInvalidCode is the answer to a wrong, used or malformed code, made
// once: it is the path every guess takes.
var errInvalidCode = fmt.Errorf("backupcodes: %w", twofactor.ErrInvalidCode)

func checkUser(u twofactor.User) error {
	if err := twofactor.CheckUserID(u.ID); err != nil {
		return fmt.Errorf("backupcodes: %w", err)
	}
	return nil
}
