package backupcodes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// Store is the storage the factor needs: hashed codes in groups. Every
// store of this module implements it.
type Store interface {
	store.Codes
	store.CodeGroups
}

// ProofChecker checks a step-up proof: nil when proof shows that the user
// verified a current factor recently, otherwise an error matching
// twofactor.ErrStepUpRequired. *twofactor.Service implements it.
type ProofChecker interface {
	CheckProof(ctx context.Context, proof, userID string, purpose twofactor.Purpose) error
}

// EventLow is emitted after a backup code was used when the user has
// LowThreshold codes or fewer left (Details["remaining"]), so the host can
// prompt the user to make a new set.
const EventLow twofactor.EventType = "backup_codes.low"

// EventRecoveryUsed is emitted when a user signed in with an admin-issued
// recovery code, for the audit trail of IssueRecoveryCode.
const EventRecoveryUsed twofactor.EventType = "backup_codes.recovery_used"

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

// Config configures a Factor. Zero fields take the documented defaults;
// New validates the whole and reports what to fix.
type Config struct {
	// Store keeps the hashed codes. Required; use the store the Service
	// uses, so codes are consumed once across app instances.
	Store Store

	// Keys hashes the codes (HMAC-SHA256). Required; use the Service's
	// keyring. Codes made under a key keep working while that key is in
	// the ring.
	Keys *twofactor.Keyring

	// Count is how many codes Generate and Regenerate make. Zero means 10;
	// at most 100.
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

	// Proofs checks the step-up proof Regenerate asks for. Usually the
	// *twofactor.Service; since the Service is built from its factors, it
	// may instead be set after New with SetProofs. Without one, Regenerate
	// fails.
	Proofs ProofChecker

	// Events receives the factor's events (generated, low, recovery code
	// issued and used). Nil logs to slog.Default(). Use the Service's.
	Events *twofactor.Events

	// Now is the clock. Nil means time.Now. Give the store the same clock.
	Now func() time.Time

	// Rand is the source of codes. Nil means crypto/rand; set it only in
	// tests.
	Rand io.Reader
}

// Factor is the backup-code factor: a set of single-use codes the user
// keeps on paper or in a password manager, and recovery codes an
// administrator issues to a locked-out user. It implements
// twofactor.Factor, RecoveryFactor (it never counts as the user's second
// factor for a policy), Remover and AnswerChecker. It is safe for
// concurrent use.
type Factor struct {
	store        Store
	keys         *twofactor.Keyring
	count        int
	layout       layout
	recoveryTTL  time.Duration
	lowThreshold int
	proofs       atomic.Pointer[ProofChecker]
	events       *twofactor.Events
	now          func() time.Time
	rand         io.Reader
}

var (
	_ twofactor.Factor         = (*Factor)(nil)
	_ twofactor.RecoveryFactor = (*Factor)(nil)
	_ twofactor.Remover        = (*Factor)(nil)
	_ twofactor.AnswerChecker  = (*Factor)(nil)
	_ ProofChecker             = (*twofactor.Service)(nil)
)

// New validates cfg once and returns a Factor. Errors wrap
// twofactor.ErrConfig and say what to change.
func New(cfg Config) (*Factor, error) {
	if cfg.Store == nil {
		return nil, configErr("Config.Store is nil: pass the store the Service uses (store.NewMemory, sqlstore, redisstore)")
	}
	if cfg.Keys == nil {
		return nil, configErr("Config.Keys is nil: pass the Service's keyring (twofactor.NewKeyring)")
	}
	f := &Factor{
		store:        cfg.Store,
		keys:         cfg.Keys,
		count:        cmp.Or(cfg.Count, DefaultCount),
		layout:       layout{groups: cmp.Or(cfg.Groups, DefaultGroups), size: cmp.Or(cfg.GroupSize, DefaultGroupSize)},
		recoveryTTL:  cfg.RecoveryTTL,
		lowThreshold: cmp.Or(cfg.LowThreshold, DefaultLowThreshold),
		events:       cfg.Events,
		now:          cfg.Now,
		rand:         cfg.Rand,
	}
	if f.recoveryTTL == 0 {
		f.recoveryTTL = DefaultRecoveryTTL
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
	if f.now == nil {
		f.now = time.Now
	}
	if f.events == nil {
		f.events = &twofactor.Events{Now: f.now}
	}
	if cfg.Proofs != nil {
		f.SetProofs(cfg.Proofs)
	}
	return f, nil
}

// SetProofs sets the checker Regenerate uses, typically the Service built
// with this factor:
//
//	f, _ := backupcodes.New(cfg)
//	svc, _ := twofactor.New(twofactor.Config{Factors: []twofactor.Factor{totpFactor, f}, ...})
//	f.SetProofs(svc)
//
// It is safe to call concurrently with Regenerate.
func (f *Factor) SetProofs(p ProofChecker) {
	if p == nil {
		f.proofs.Store(nil)
		return
	}
	f.proofs.Store(&p)
}

func configErr(format string, args ...any) error {
	return fmt.Errorf("backupcodes: %w: %s", twofactor.ErrConfig, fmt.Sprintf(format, args...))
}

// Method returns twofactor.MethodBackupCode.
func (f *Factor) Method() twofactor.Method { return twofactor.MethodBackupCode }

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
// admin-issued recovery code is outstanding. Either makes the factor
// offered at sign-in.
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
	var out []twofactor.Enrollment
	if backup > 0 {
		out = append(out, twofactor.Enrollment{
			ID: EnrollmentBackupCodes, Method: twofactor.MethodBackupCode,
			Label: fmt.Sprintf("Backup codes (%d left)", backup),
		})
	}
	if recovery > 0 {
		out = append(out, twofactor.Enrollment{
			ID: EnrollmentRecoveryCode, Method: twofactor.MethodBackupCode,
			Label: "Recovery code from support",
		})
	}
	return out, nil
}

// Verify checks a backup code or recovery code for the challenge's user and
// consumes it atomically: of concurrent requests with the same code, on any
// number of app instances sharing the store, exactly one succeeds.
//
// The answer is normalized, then hashed under every key of the ring and
// looked up by its hash: one store call per key, however many codes the
// user has. A wrong, used or malformed code returns an error matching
// twofactor.ErrInvalidCode; an expired recovery code returns
// twofactor.ErrCodeExpired. Store failures return other errors.
//
// Verified.Details holds "kind" ("backup" or "recovery") and, when the
// use of a backup code leaves LowThreshold codes or fewer, "remaining"; in
// that case EventLow is emitted too.
func (f *Factor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if ch == nil {
		return twofactor.Verified{}, errors.New("backupcodes: nil challenge")
	}
	if err := checkUser(ch.User); err != nil {
		return twofactor.Verified{}, err
	}
	userID := ch.User.ID
	in := hashPrefix(make([]byte, 0, 3+len(userID)+f.layout.length(kindRecovery)), userID)
	in, k, err := f.layout.appendNormalized(in, answer)
	if err != nil {
		return twofactor.Verified{}, errInvalidCode
	}
	in[0] = byte(k)
	st, err := f.consume(ctx, k, userID, in)
	if err != nil {
		return twofactor.Verified{}, err
	}
	switch st {
	case store.CodeMatched:
	case store.CodeExpired:
		return twofactor.Verified{}, twofactor.ErrCodeExpired
	default:
		return twofactor.Verified{}, errInvalidCode
	}

	if k == kindRecovery {
		f.events.Emit(ctx, twofactor.Event{Type: EventRecoveryUsed, UserID: userID, ChallengeID: ch.ID,
			Method: twofactor.MethodBackupCode, Purpose: ch.Purpose})
		return twofactor.Verified{EnrollmentID: EnrollmentRecoveryCode, Details: map[string]string{"kind": "recovery"}}, nil
	}
	v := twofactor.Verified{EnrollmentID: EnrollmentBackupCodes, Details: map[string]string{"kind": "backup"}}
	// The code matched and is gone: the decision is made. What follows only
	// informs the user, so a failure is reported, not fatal.
	left, counted, err := f.countIfLow(ctx, userID)
	if err != nil {
		f.events.Emit(ctx, twofactor.Event{Type: twofactor.EventWarning, UserID: userID, ChallengeID: ch.ID,
			Method: twofactor.MethodBackupCode, Reason: "count_failed"})
		return v, nil
	}
	if counted && left <= f.lowThreshold {
		remaining := strconv.Itoa(left)
		v.Details["remaining"] = remaining
		f.events.Emit(ctx, twofactor.Event{Type: EventLow, UserID: userID, ChallengeID: ch.ID,
			Method: twofactor.MethodBackupCode, Details: map[string]string{"remaining": remaining}})
	}
	return v, nil
}

// A user's set of backup codes comes with a tally: a record in its own
// group whose wrong-attempt limit is the number of uses the set allows
// before the user is low on codes (Count - LowThreshold - 1). Each use of a
// backup code spends one attempt; while the tally answers "mismatch" the
// user has more than LowThreshold codes left and nothing needs counting, so
// a successful Verify costs a fixed number of store calls however many
// codes exist. Once the tally is spent (or missing: a set made before it
// existed, a swept record, a small set) the codes are counted, and the
// count, not the tally, decides whether EventLow is emitted.
var (
	tallyHash  = []byte("tally")
	tallyProbe = []byte("use")
)

const tallyKey = "uses"

func tallyGroup(userID string) string { return "backup-uses:" + userID }

// tally returns the tally record for a new set, or false when every use
// of the set must be counted.
func (f *Factor) tally(userID string, count int) (store.Code, bool) {
	k := count - f.lowThreshold - 1
	if f.lowThreshold < 0 || k < 1 {
		return store.Code{}, false
	}
	return store.Code{Group: tallyGroup(userID), Key: tallyKey, Hash: tallyHash, MaxAttempts: k}, true
}

// countIfLow records one use of a backup code on the tally and, when the
// user may be low on codes, counts them (counted is true).
func (f *Factor) countIfLow(ctx context.Context, userID string) (left int, counted bool, err error) {
	if f.lowThreshold < 0 {
		return 0, false, nil
	}
	st, err := f.store.ConsumeCode(ctx, tallyGroup(userID), tallyKey, tallyProbe)
	if err != nil {
		return 0, false, err
	}
	if st == store.CodeMismatch {
		return 0, false, nil
	}
	left, err = f.store.CountGroup(ctx, group(kindBackup, userID))
	if err != nil {
		return 0, false, err
	}
	return left, true, nil
}

// consume looks a code up by its hash input (see hashInput) under each key
// of the ring, current key first, and consumes it. It stops at the first
// answer other than "not found", and at the first store error (fail
// closed).
func (f *Factor) consume(ctx context.Context, k kind, userID string, in []byte) (store.CodeStatus, error) {
	g := group(k, userID)
	for _, h := range f.keys.HashAll(hashDomain, in) {
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

// Remove deletes the user's backup codes (EnrollmentBackupCodes) or
// outstanding recovery code (EnrollmentRecoveryCode). Another id returns an
// error matching twofactor.ErrNotEnrolled.
func (f *Factor) Remove(ctx context.Context, user twofactor.User, enrollmentID string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	var k kind
	switch enrollmentID {
	case EnrollmentBackupCodes:
		k = kindBackup
	case EnrollmentRecoveryCode:
		k = kindRecovery
	default:
		return fmt.Errorf("backupcodes: %w: no enrollment %q", twofactor.ErrNotEnrolled, enrollmentID)
	}
	if err := f.store.DeleteGroup(ctx, group(k, user.ID)); err != nil {
		return fmt.Errorf("backupcodes: deleting codes: %w", err)
	}
	if k == kindBackup {
		if err := f.store.DeleteGroup(ctx, tallyGroup(user.ID)); err != nil {
			return fmt.Errorf("backupcodes: deleting codes: %w", err)
		}
	}
	return nil
}

// RemoveAll deletes every backup and recovery code of the user (admin
// reset).
func (f *Factor) RemoveAll(ctx context.Context, user twofactor.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	var errs []error
	for _, g := range []string{group(kindBackup, user.ID), tallyGroup(user.ID), group(kindRecovery, user.ID)} {
		if err := f.store.DeleteGroup(ctx, g); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("backupcodes: deleting codes: %w", err)
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
