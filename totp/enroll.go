package totp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// ErrNoPending means there is no pending enrollment to confirm: it was never
// started, it expired (Config.PendingTTL), it was already confirmed, or it
// was ended (a restart, a password change, an admin reset). It matches
// twofactor.ErrNotEnrolled. The user should start again (show a new QR
// code).
var ErrNoPending error = noPending{}

type noPending struct{}

func (noPending) Error() string {
	return "totp: no pending enrollment (expired, ended or already confirmed)"
}
func (noPending) Is(target error) bool { return target == twofactor.ErrNotEnrolled }

// pendingState is the store's copy of a pending enrollment, filed under its
// user (store.OwnedStates) so that a password change or an admin reset ends
// it. The secret is sealed, bound to the user and the pending id.
type pendingState struct {
	V         int       `json:"v"`
	ID        string    `json:"id"`
	UserID    string    `json:"user"`
	Secret    string    `json:"secret"`
	Params    Params    `json:"params"`
	ExpiresAt time.Time `json:"expires_at"`
}

func pendingKey(userID string) string { return "totp:pending:" + userID }

func pendingAD(userID, id string) []byte {
	return []byte("totp pending\x00" + userID + "\x00" + id)
}

func checkUser(u twofactor.User) error {
	if err := twofactor.CheckUserID(u.ID); err != nil {
		return fmt.Errorf("totp: %w", err)
	}
	return nil
}

// GroupSecret writes a base32 secret in groups of four characters
// ("JBSW Y3DP EHPK 3PXP") for people to read and type; apps, and
// DecodeSecret, ignore the spaces.
func GroupSecret(secret string) string {
	var b strings.Builder
	b.Grow(len(secret) + len(secret)/4)
	for i := 0; i < len(secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(secret[i:min(i+4, len(secret))])
	}
	return b.String()
}

// BeginEnroll starts a TOTP enrollment for user, or shows again the one
// that is pending: the secret (Enrolling.Secret, base32; [GroupSecret]
// spaces it for reading), the otpauth URI (Enrolling.URI, Key URI Format)
// and the URI as a QR code (Enrolling.QR, the PNG's bytes, Config.QRSize
// pixels square). A page shows the QR code as a data: URI
// ("data:image/png;base64,...") and marks it and the URI as template.URL
// itself, which is safe: the URI is built here from a fixed scheme and
// escaped names. The account name apps show is user.AccountName(), under
// Config.Issuer.
//
// The enrollment stays pending until ConfirmEnroll gets a valid code, for
// Config.PendingTTL from when it started (showing it again does not extend
// it). A user has one pending enrollment: while it lasts, BeginEnroll
// returns the same secret and QR code, so a page can show them again after
// a wrong confirmation code; req.Restart replaces it with a new secret
// (the old QR code stops working), as does a pending enrollment that no
// longer opens (sealed under a key that has left the ring). Concurrent
// first calls each start one, and the last stored wins. A user who already
// has TOTP gets twofactor.ErrAlreadyEnrolled. Starting one emits
// event.EnrollBegin; showing it again emits nothing.
//
// The pending enrollment is filed under the user in the store, so
// Service.PasswordChanged, Service.AdminReset and Service.Disable end it.
func (f *Factor) BeginEnroll(ctx context.Context, user twofactor.User, req twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	recs, err := f.list(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 {
		return nil, twofactor.ErrAlreadyEnrolled
	}
	if !req.Restart {
		ps, secret, err := f.loadPending(ctx, user.ID)
		switch {
		case err == nil:
			defer clear(secret)
			return f.enrolling(user, secret, ps.Params, ps.ExpiresAt)
		case !errors.Is(err, ErrNoPending) && !errors.Is(err, ErrCorrupt):
			return nil, err
		}
	}
	secret, err := secure.Bytes(f.rand, f.secretSize)
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	defer clear(secret)
	id, err := secure.Token(f.rand, 16)
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	exp := f.now().Add(f.pendingTTL)
	out, err := f.enrolling(user, secret, f.params, exp)
	if err != nil {
		return nil, err
	}
	sealed, err := f.keys.Seal(secret, pendingAD(user.ID, id))
	if err != nil {
		return nil, fmt.Errorf("totp: sealing secret: %w", err)
	}
	blob, err := json.Marshal(pendingState{V: 1, ID: id, UserID: user.ID, Secret: sealed, Params: f.params, ExpiresAt: exp})
	if err != nil {
		return nil, fmt.Errorf("totp: encoding pending enrollment: %w", err)
	}
	if err := f.store.PutOwnedState(ctx, user.ID, pendingKey(user.ID), blob, exp); err != nil {
		return nil, fmt.Errorf("totp: saving pending enrollment: %w", err)
	}
	f.events.Emit(ctx, event.Event{Type: event.EnrollBegin, UserID: user.ID, Method: twofactor.MethodTOTP})
	return out, nil
}

// enrolling describes a pending enrollment of secret for user.
func (f *Factor) enrolling(user twofactor.User, secret []byte, p Params, exp time.Time) (*twofactor.Enrolling, error) {
	k := Key{Secret: secret, Issuer: f.issuer, Account: user.AccountName(), Params: p}
	uri := k.URI()
	png, err := qrcode.Encode(uri, qrcode.Medium, f.qrSize)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	return &twofactor.Enrolling{
		Method:    twofactor.MethodTOTP,
		ExpiresAt: exp,
		Secret:    EncodeSecret(secret),
		URI:       uri,
		QR:        png,
	}, nil
}

// loadPending returns the user's pending enrollment and its opened secret.
// It returns ErrNoPending when there is none, or it has expired by its own
// time (a store may sweep late), and an error matching ErrCorrupt when it
// does not decode or open.
func (f *Factor) loadPending(ctx context.Context, userID string) (pendingState, []byte, error) {
	blob, err := f.store.GetState(ctx, pendingKey(userID))
	if errors.Is(err, store.ErrNotFound) {
		return pendingState{}, nil, ErrNoPending
	}
	if err != nil {
		return pendingState{}, nil, fmt.Errorf("totp: loading pending enrollment: %w", err)
	}
	ps, err := decodePending(blob, userID)
	if err != nil {
		return pendingState{}, nil, err
	}
	if !f.now().Before(ps.ExpiresAt) {
		return pendingState{}, nil, ErrNoPending
	}
	secret, err := f.keys.Open(ps.Secret, pendingAD(userID, ps.ID))
	if err != nil {
		return pendingState{}, nil, fmt.Errorf("%w (pending enrollment of user %q): %w", ErrCorrupt, userID, err)
	}
	return ps, secret, nil
}

func decodePending(blob []byte, userID string) (pendingState, error) {
	var ps pendingState
	if err := json.Unmarshal(blob, &ps); err != nil || ps.V != 1 || ps.Params.Check() != nil || ps.UserID != userID || ps.ID == "" {
		return pendingState{}, fmt.Errorf("%w (pending enrollment of user %q)", ErrCorrupt, userID)
	}
	return ps, nil
}

// ConfirmEnroll activates the user's pending enrollment when code is valid
// for it (current step, within Config.Skew). A wrong code returns
// twofactor.ErrInvalidCode and keeps it pending, as does a malformed code
// (an error matching both twofactor.ErrInvalidCode and
// twofactor.ErrInvalidInput, found before any store access). No pending
// enrollment (never started, expired, ended, already confirmed) gives
// ErrNoPending, which matches twofactor.ErrNotEnrolled. Confirmation is
// single-use: of concurrent confirmations exactly one succeeds. The
// confirming code's step is recorded in the replay ledger, so it cannot be
// used again to sign in. It emits no event: Service.ConfirmEnroll emits the
// event.Enroll.
//
// Wrong codes are not limited here: the secret was just shown to the caller,
// so guessing gains nothing. Service.BeginEnroll guards the step that shows
// it (a user who has a factor proves it first).
func (f *Factor) ConfirmEnroll(ctx context.Context, user twofactor.User, code string) (twofactor.Enrollment, error) {
	if err := checkUser(user); err != nil {
		return twofactor.Enrollment{}, err
	}
	if err := f.CheckAnswer(code); err != nil {
		return twofactor.Enrollment{}, invalidCode{err}
	}
	ps, secret, err := f.loadPending(ctx, user.ID)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	defer clear(secret)
	now := f.now()
	step, off, ok, err := ps.Params.Match(secret, code, now, f.skew)
	if err != nil {
		return twofactor.Enrollment{}, invalidCode{err}
	}
	if !ok {
		return twofactor.Enrollment{}, twofactor.ErrInvalidCode
	}

	// The code is right: take the pending state, exactly once.
	taken, err := f.store.TakeState(ctx, pendingKey(user.ID))
	if errors.Is(err, store.ErrNotFound) {
		return twofactor.Enrollment{}, ErrNoPending
	}
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("totp: taking pending enrollment: %w", err)
	}
	if got, err := decodePending(taken, user.ID); err != nil || got.ID != ps.ID {
		// A restart replaced it meanwhile, and we took the new one: the
		// code was for a secret that is no longer pending.
		return twofactor.Enrollment{}, ErrNoPending
	}
	recs, err := f.list(ctx, user.ID)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	if len(recs) > 0 {
		return twofactor.Enrollment{}, twofactor.ErrAlreadyEnrolled
	}

	id, err := secure.Token(f.rand, 16)
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("totp: %w", err)
	}
	sealed, err := f.keys.Seal(secret, enrollmentAD(user.ID, id))
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("totp: sealing secret: %w", err)
	}
	data, err := json.Marshal(record{V: 1, Secret: sealed, Params: ps.Params, Drift: off})
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("totp: encoding enrollment: %w", err)
	}
	// Burn the confirming step first, so the code cannot sign in too.
	if _, err := f.store.Advance(ctx, ledgerKey(user.ID, id), step, ps.Params.StepTime(step).Add(markTTL)); err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("totp: replay ledger: %w", err)
	}
	rec := store.EnrollmentRecord{UserID: user.ID, ID: id, Method: string(twofactor.MethodTOTP), Label: f.label, Data: data, CreatedAt: now}
	if err := f.store.PutEnrollment(ctx, rec); err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("totp: saving enrollment: %w", err)
	}
	return twofactor.Enrollment{ID: id, Method: twofactor.MethodTOTP, Label: f.label, CreatedAt: now}, nil
}

// CancelEnroll ends the user's pending enrollment, if any (a "cancel"
// button on the enrollment page).
func (f *Factor) CancelEnroll(ctx context.Context, user twofactor.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := f.store.DeleteState(ctx, pendingKey(user.ID)); err != nil {
		return fmt.Errorf("totp: deleting pending enrollment: %w", err)
	}
	return nil
}
