package totp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Store is the storage the factor needs: active enrollments (secret
// sealed), pending enrollments as states filed under their user, and the
// replay ledger. Every store of this module implements it. A store that
// also implements store.EnrollmentToucher records each sign-in's time
// without rewriting the enrollment.
type Store interface {
	store.States
	store.OwnedStates
	store.Ledger
	store.Enrollments
}

// storeParts are the interfaces Store is made of, named in the error for
// a store that lacks some.
var storeParts = []reflect.Type{
	reflect.TypeFor[store.States](), reflect.TypeFor[store.OwnedStates](),
	reflect.TypeFor[store.Ledger](), reflect.TypeFor[store.Enrollments](),
}

// Defaults applied to zero Config fields.
const (
	DefaultIssuer     = "twofactor"
	DefaultDigits     = 6
	DefaultPeriod     = 30 * time.Second
	DefaultSkew       = 1
	DefaultSecretSize = 20 // 160 bits, RFC 4226 section 4's recommendation
	DefaultPendingTTL = 10 * time.Minute
	DefaultQRSize     = 256
	DefaultLabel      = "Authenticator app"
)

// NoSkew is the Config.Skew value that accepts the current time step only.
const NoSkew = -1

// Config configures a Factor: what is specific to TOTP. Every zero field
// takes the documented default, and New validates the whole once. The
// store, the keys, the events, the clock and the randomness come from the
// twofactor.Env the factor is built with.
//
// A Config is a twofactor.FactorConfig: given in twofactor.Config.Factors,
// twofactor.New builds the factor with the Service's Env.
type Config struct {
	// Issuer is the service name apps show above the code. Zero means
	// "twofactor"; set it to your product's name.
	Issuer string

	// Algorithm of new enrollments. Zero means SHA1, the only one every app
	// supports (some silently fall back to SHA1 and show wrong codes).
	Algorithm Algorithm

	// Digits of new enrollments' codes: 6 or 8. Zero means 6.
	Digits int

	// Period is the time step of new enrollments, whole seconds. Zero means
	// 30 s; most apps ignore any other value.
	Period time.Duration

	// Skew is how many steps either side of the current one are accepted,
	// for clocks that are off and codes typed slowly. Zero means 1 (the
	// previous, current and next codes); NoSkew accepts the current step
	// only; at most MaxSkew. Each step more adds 2 in 10^Digits to a guess's
	// chance.
	Skew int

	// SecretSize is the secret length in bytes for new enrollments: 16 to
	// 64. Zero means 20 (160 bits).
	SecretSize int

	// PendingTTL is how long a started enrollment can be confirmed. Zero
	// means 10 minutes.
	PendingTTL time.Duration

	// QRSize is the QR code's width and height in pixels, 64 to 1024. Zero
	// means 256.
	QRSize int

	// Label is the enrollment label shown on account pages. Zero means
	// "Authenticator app".
	Label string
}

var _ twofactor.FactorConfig = Config{}

var _ twofactor.CodeFormat = (*Factor)(nil)

// NewFactor builds the factor with env: twofactor.New calls it for each
// Config in twofactor.Config.Factors.
func (c Config) NewFactor(env twofactor.Env) (twofactor.Factor, error) { return New(env, c) }

// Factor is the TOTP second factor: authenticator apps. It implements
// twofactor.Factor, twofactor.Enroller, twofactor.Remover and
// twofactor.AnswerChecker, and is safe for concurrent use.
//
// Secrets are sealed with the Env's keyring (keyring.Ring.Seal). Put a new key
// first to rotate: secrets sealed under older keys still open while those
// keys stay in the ring, and [Factor.Rekey] re-encrypts them. Share the
// store between app instances, so that a code is accepted once across all
// of them.
//
// A user has at most one active TOTP enrollment: beginning another returns
// twofactor.ErrAlreadyEnrolled until the first is removed
// (Service.RemoveEnrollment after a fresh verification, Service.Disable,
// or Service.AdminReset).
type Factor struct {
	store      Store
	keys       *keyring.Ring
	issuer     string
	params     Params
	skew       int
	secretSize int
	pendingTTL time.Duration
	qrSize     int
	label      string
	events     *event.Sink
	now        func() time.Time
	rand       io.Reader
}

var (
	_ twofactor.RecordVerifier = (*Factor)(nil)
	_ twofactor.Factor         = (*Factor)(nil)
	_ twofactor.Enroller       = (*Factor)(nil)
	_ twofactor.Remover        = (*Factor)(nil)
	_ twofactor.AnswerChecker  = (*Factor)(nil)
)

func configErr(format string, args ...any) error { return errs.Config("totp", format, args...) }

// New validates cfg and returns a Factor built with env, complete: its
// store (which must implement [Store]) and keys come from env, as do its
// events, clock and randomness (env's defaults when nil). Errors wrap
// twofactor.ErrConfig and say what to fix: a nil Env.Store or Env.Keys,
// a store lacking one of the interfaces Store is made of (named), or a
// Config field out of range.
//
// Given in twofactor.Config.Factors, the Config is built by twofactor.New
// with the Service's Env; svc.Factor(twofactor.MethodTOTP) returns the
// factor.
func New(env twofactor.Env, cfg Config) (*Factor, error) {
	st, env, err := errs.Store[Store]("totp", env, storeParts...)
	if err != nil {
		return nil, err
	}
	f := &Factor{
		store: st, keys: env.Keys, issuer: cfg.Issuer,
		params: Params{Algorithm: cfg.Algorithm, Digits: cfg.Digits},
		skew:   cfg.Skew, secretSize: cfg.SecretSize, pendingTTL: cfg.PendingTTL,
		qrSize: cfg.QRSize, label: cfg.Label, events: env.Events, now: env.Now, rand: env.Rand,
	}
	if err := f.applyDefaults(cfg.Period); err != nil {
		return nil, err
	}
	return f, nil
}

// applyDefaults fills the zero settings with their defaults and validates
// them: the one place they are applied.
func (f *Factor) applyDefaults(period time.Duration) error {
	if f.issuer == "" {
		f.issuer = DefaultIssuer
	}
	if f.params.Algorithm == "" {
		f.params.Algorithm = SHA1
	}
	if f.params.Digits == 0 {
		f.params.Digits = DefaultDigits
	}
	if period == 0 {
		period = DefaultPeriod
	}
	if period%time.Second != 0 || period < time.Second || period > MaxPeriod*time.Second {
		return configErr("Config.Period %s must be whole seconds from 1s to %ds", period, MaxPeriod)
	}
	f.params.Period = int(period / time.Second)
	switch f.params.Algorithm {
	case SHA1, SHA256, SHA512:
	default:
		return configErr("Config.Algorithm %q: use SHA1, SHA256 or SHA512", f.params.Algorithm)
	}
	if f.params.Digits != 6 && f.params.Digits != 8 {
		return configErr("Config.Digits %d: use 6 or 8", f.params.Digits)
	}
	switch {
	case f.skew == 0:
		f.skew = DefaultSkew
	case f.skew == NoSkew:
		f.skew = 0
	case f.skew < 0 || f.skew > MaxSkew:
		return configErr("Config.Skew %d: use 1 to %d, or NoSkew", f.skew, MaxSkew)
	}
	if f.secretSize == 0 {
		f.secretSize = DefaultSecretSize
	}
	if f.secretSize < 16 || f.secretSize > 64 {
		return configErr("Config.SecretSize %d: use 16 to 64 bytes", f.secretSize)
	}
	if f.pendingTTL == 0 {
		f.pendingTTL = DefaultPendingTTL
	}
	if f.pendingTTL < time.Minute || f.pendingTTL > 24*time.Hour {
		return configErr("Config.PendingTTL %s: use 1m to 24h", f.pendingTTL)
	}
	if f.qrSize == 0 {
		f.qrSize = DefaultQRSize
	}
	if f.qrSize < 64 || f.qrSize > 1024 {
		return configErr("Config.QRSize %d: use 64 to 1024 pixels", f.qrSize)
	}
	if f.label == "" {
		f.label = DefaultLabel
	}
	return nil
}

// Method returns twofactor.MethodTOTP.
func (f *Factor) Method() twofactor.Method { return twofactor.MethodTOTP }

var _ twofactor.Assurer = (*Factor)(nil)

// Assurance reports what a TOTP verification assures: "otp" (RFC 8176
// section 2 names RFC 6238 under it), on the authenticator app's channel,
// AAL2 with a password (a single-factor OTP device, NIST SP 800-63B
// section 5.1.4). Not "swk": the secret is shared with the server, and
// where the app keeps it the server cannot tell. A code the user types
// can be relayed by a look-alike site, so it is not phishing resistant.
func (f *Factor) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"otp"}, Channel: twofactor.ChannelApp, AAL: 2}
}

// Params returns the parameters new enrollments get.
func (f *Factor) Params() Params { return f.params }

// Issuer returns the service name the factor writes in otpauth URIs:
// Config.Issuer, or DefaultIssuer when it was not set.
func (f *Factor) Issuer() string { return f.issuer }

// CheckAnswer rejects an answer that cannot be a code of this factor (not
// digits, wrong length) without any store access. The error wraps
// twofactor.ErrInvalidInput. Codes of enrollments made with other Digits
// settings are accepted too (6 to 8 digits).
func (f *Factor) CheckAnswer(answer string) error {
	if _, n, ok := scanCode(answer); !ok || n < MinDigits {
		return errCodeFormat
	}
	return nil
}

// CodeLength is the number of digits of new enrollments' codes
// (Config.Digits), for pages that size their code field: an older
// enrollment made with other digits is still accepted by Verify.
func (f *Factor) CodeLength() int { return f.params.Digits }

// NumericCode reports that codes are digits.
func (f *Factor) NumericCode() bool { return true }

// record is the enrollment's Data, as JSON. Secret is sealed with the
// keyring, bound to the user id and the enrollment id.
type record struct {
	V      int    `json:"v"`
	Secret string `json:"secret"` // keyring.Ring.Seal output
	Params
	Drift int `json:"drift"` // offset of the last accepted code
}

// ErrCorrupt reports stored TOTP data that does not decode or decrypt (an
// altered record, or one sealed under a key no longer in the ring). It is a
// system error: the user is not let in.
var ErrCorrupt = errors.New("totp: stored enrollment is corrupt or sealed under an unknown key")

func enrollmentAD(userID, id string) []byte {
	return []byte("totp enrollment\x00" + userID + "\x00" + id)
}

// enrolled is an active enrollment with its secret opened and its replay
// ledger key.
type enrolled struct {
	rec    store.EnrollmentRecord
	data   record
	secret []byte
	ledger string
}

func (f *Factor) decode(rec store.EnrollmentRecord) (*enrolled, error) {
	var d record
	if err := json.Unmarshal(rec.Data, &d); err != nil || d.V != 1 || d.Params.Check() != nil {
		return nil, fmt.Errorf("%w (user %q, enrollment %q)", ErrCorrupt, rec.UserID, rec.ID)
	}
	secret, err := f.keys.Open(d.Secret, enrollmentAD(rec.UserID, rec.ID))
	if err != nil {
		return nil, fmt.Errorf("%w (user %q, enrollment %q): %w", ErrCorrupt, rec.UserID, rec.ID, err)
	}
	return &enrolled{rec: rec, data: d, secret: secret, ledger: ledgerKey(rec.UserID, rec.ID)}, nil
}

// list returns the user's TOTP enrollment records.
func (f *Factor) list(ctx context.Context, userID string) ([]store.EnrollmentRecord, error) {
	all, err := f.store.ListEnrollments(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("totp: listing enrollments: %w", err)
	}
	out := all[:0]
	for _, r := range all {
		if r.Method == string(twofactor.MethodTOTP) {
			out = append(out, r)
		}
	}
	return out, nil
}

// activeOf returns the user's TOTP enrollment, or
// twofactor.ErrNotEnrolled, from records (every method's, as
// ListEnrollments returns them), or read from the store when records is
// nil. A record of another user is never taken.
func (f *Factor) activeOf(ctx context.Context, userID string, records []store.EnrollmentRecord) (*enrolled, error) {
	if records == nil {
		var err error
		if records, err = f.list(ctx, userID); err != nil {
			return nil, err
		}
	}
	for _, r := range records {
		if r.Method == string(twofactor.MethodTOTP) && r.UserID == userID {
			return f.decode(r)
		}
	}
	return nil, twofactor.ErrNotEnrolled
}

// Offered reports whether the user's enrollment records hold a
// TOTP enrollment: Begin reads the records once for every factor.
func (f *Factor) Offered(_ twofactor.User, records func() ([]store.EnrollmentRecord, error)) (bool, error) {
	recs, err := records()
	return slices.ContainsFunc(recs, func(r store.EnrollmentRecord) bool { return r.Method == string(twofactor.MethodTOTP) }), err
}

// Enrollments returns the user's TOTP enrollment, if any, with when it
// was made and last used to sign in.
func (f *Factor) Enrollments(ctx context.Context, user twofactor.User) ([]twofactor.Enrollment, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	recs, err := f.list(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	out := make([]twofactor.Enrollment, 0, len(recs))
	for _, r := range recs {
		out = append(out, twofactor.Enrollment{ID: r.ID, Method: twofactor.MethodTOTP, Label: r.Label, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt})
	}
	return out, nil
}

// Verify checks a code from the user's authenticator app for ch.User. It
// accepts the current time step and Config.Skew steps either side, each at
// most once: the step is recorded in the store's ledger as a high-water
// mark, so the same code, and any code older than the newest accepted one,
// is refused with twofactor.ErrCodeReused. A wrong code gives
// twofactor.ErrInvalidCode; a malformed one an error wrapping
// twofactor.ErrInvalidInput (and matching ErrInvalidCode, so it counts as a
// wrong answer); a user without TOTP twofactor.ErrNotEnrolled; anything
// else is a store or decryption failure. No error lets the user in.
//
// A successful verification asks the Service to record it as the
// enrollment's last use (Verified.RecordUse), in the store round trip that
// completes the challenge; when the drift changed, the factor rewrites the
// record with the drift and the last use itself, in one store write
// (which, like every rewrite, never brings back an enrollment removed
// meanwhile).
//
// Verified.Details["drift"] is the matched offset ("-1", "0", "+1"); a
// non-zero drift is also reported as an event.Warning with Reason
// event.ReasonClockDrift, the EnrollmentID and Details["drift"], and
// the last drift is kept with the enrollment (in the same write as the
// last use).
func (f *Factor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	return f.verify(ctx, ch, answer, nil, false)
}

// VerifyRecords is Verify with the user's enrollment records already read
// (twofactor.RecordVerifier): the Service reads them in the round trip
// that counts the answer, so a login reads nothing more.
func (f *Factor) VerifyRecords(ctx context.Context, ch *twofactor.Challenge, answer string, records []store.EnrollmentRecord) (twofactor.Verified, error) {
	if records == nil {
		records = []store.EnrollmentRecord{}
	}
	return f.verify(ctx, ch, answer, records, false)
}

// VerifyMarked is VerifyRecords, for a caller that runs the time step's
// replay mark itself (twofactor.MarkVerifier): when the code matched at
// the enrollment's own drift, and that drift is none, the mark is not
// written but returned as Verified.Mark, a store.OpAdvance of the
// enrollment's ledger to the matched step, and the code holds only when
// it raises it (RFC 6238, section 5.2: a code is accepted once). The
// Service runs it in the round trip that ends the challenge. A code that
// matched at another offset writes the mark first, as Verify does, so
// that the clock-drift warning and the record's rewrite follow a step
// that was new.
func (f *Factor) VerifyMarked(ctx context.Context, ch *twofactor.Challenge, answer string, records []store.EnrollmentRecord) (twofactor.Verified, error) {
	if records == nil {
		records = []store.EnrollmentRecord{}
	}
	return f.verify(ctx, ch, answer, records, true)
}

// verify is Verify, with the records read when records is nil; with
// leave, a step matched with no drift is left to the caller to mark
// (VerifyMarked).
func (f *Factor) verify(ctx context.Context, ch *twofactor.Challenge, answer string, records []store.EnrollmentRecord, leave bool) (twofactor.Verified, error) {
	if ch == nil {
		return twofactor.Verified{}, fmt.Errorf("%w: totp: nil challenge", twofactor.ErrInvalidInput)
	}
	if err := checkUser(ch.User); err != nil {
		return twofactor.Verified{}, err
	}
	if err := f.CheckAnswer(answer); err != nil {
		return twofactor.Verified{}, invalidCode{err}
	}
	e, err := f.activeOf(ctx, ch.User.ID, records)
	if err != nil {
		return twofactor.Verified{}, err
	}
	defer clear(e.secret)
	now := f.now()
	step, off, err := f.match(e, answer, now)
	if err != nil {
		return twofactor.Verified{}, err
	}
	if leave && off == 0 && e.data.Drift == 0 {
		return twofactor.Verified{EnrollmentID: e.rec.ID, RecordUse: true, Details: map[string]string{event.DetailDrift: driftString(off)},
			Mark: f.markOp(e, step)}, nil
	}
	if err := f.mark(ctx, e, step, off); err != nil {
		return twofactor.Verified{}, err
	}
	if off != e.data.Drift {
		// The drift changed: the record is rewritten with it and the last
		// use, in one store write.
		if now.After(e.rec.LastUsedAt) {
			e.rec.LastUsedAt = now
		}
		if err := f.rewrite(ctx, e, off); err != nil {
			return twofactor.Verified{}, err
		}
		return twofactor.Verified{EnrollmentID: e.rec.ID, Details: map[string]string{event.DetailDrift: driftString(off)}}, nil
	}
	return twofactor.Verified{EnrollmentID: e.rec.ID, RecordUse: true, Details: map[string]string{event.DetailDrift: driftString(off)}}, nil
}

// invalidCode marks a malformed answer as both invalid input and an invalid
// code, so the service counts it as a failed attempt.
type invalidCode struct{ err error }

func (e invalidCode) Error() string { return e.err.Error() }
func (e invalidCode) Unwrap() []error {
	return []error{e.err, twofactor.ErrInvalidCode}
}

func driftString(off int) string {
	if off > 0 {
		return "+" + strconv.Itoa(off)
	}
	return strconv.Itoa(off)
}

func ledgerKey(userID, enrollmentID string) string {
	return "totp:" + userID + ":" + enrollmentID
}

// markTTL is how long a replay mark is kept after the step it records. It
// only has to outlive the skew window; a day also covers server clocks
// stepping back.
const markTTL = 24 * time.Hour

// match matches code against e at now: the time step it matched and its
// offset from now's.
func (f *Factor) match(e *enrolled, code string, now time.Time) (step int64, off int, err error) {
	step, off, ok, err := e.data.Params.Match(e.secret, code, now, f.skew)
	if err != nil {
		return 0, 0, invalidCode{err}
	}
	if !ok {
		return 0, 0, twofactor.ErrInvalidCode
	}
	return step, off, nil
}

// markOp is the advance of e's replay ledger to step: a step, and every
// one before it, is accepted once.
func (f *Factor) markOp(e *enrolled, step int64) store.Op {
	return store.Op{Kind: store.OpAdvance, Key: e.ledger, Mark: step, Time: e.data.Params.StepTime(step).Add(markTTL)}
}

// mark consumes the step that e matched at offset off in the ledger
// (markOp). A non-zero drift is reported as a warning.
func (f *Factor) mark(ctx context.Context, e *enrolled, step int64, off int) error {
	op := f.markOp(e, step)
	adv, err := f.store.Advance(ctx, op.Key, op.Mark, op.Time)
	if err != nil {
		return fmt.Errorf("totp: replay ledger: %w", err)
	}
	if !adv {
		return twofactor.ErrCodeReused
	}
	if off != 0 {
		f.events.Emit(ctx, event.Event{
			Type: event.Warning, UserID: e.rec.UserID, Method: twofactor.MethodTOTP,
			Reason: event.ReasonClockDrift, EnrollmentID: e.rec.ID,
			Details: map[string]string{event.DetailDrift: driftString(off)},
		})
	}
	return nil
}

// rewrite saves e with the given drift (recordUse calls it when the drift
// changed; Rekey after resealing). A removal racing with it must not bring
// the record back: Remove writes a tombstone before deleting, and rewrite
// looks for it after writing, deleting its own write when it finds one.
// With a linearizable store one of the two deletes always comes last.
func (f *Factor) rewrite(ctx context.Context, e *enrolled, off int) error {
	d := e.data
	d.Drift = off
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("totp: encoding enrollment: %w", err)
	}
	rec := e.rec
	rec.Data = data
	return f.putChecked(ctx, rec)
}

func tombstoneKey(userID, id string) string { return "totp:removed:" + userID + ":" + id }

// tombstoneTTL outlives any in-flight verification.
const tombstoneTTL = time.Hour

// putChecked writes rec unless the enrollment is being removed.
func (f *Factor) putChecked(ctx context.Context, rec store.EnrollmentRecord) error {
	if err := f.store.PutEnrollment(ctx, rec); err != nil {
		return fmt.Errorf("totp: saving enrollment: %w", err)
	}
	_, err := f.store.GetState(ctx, tombstoneKey(rec.UserID, rec.ID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err == nil:
		if err := f.store.DeleteEnrollment(ctx, rec.UserID, rec.ID); err != nil {
			return fmt.Errorf("totp: enrollment removed concurrently; undoing write: %w", err)
		}
		return twofactor.ErrNotEnrolled
	default:
		return fmt.Errorf("totp: checking removal: %w", err)
	}
}
