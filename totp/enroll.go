package totp

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// ErrNoPending means there is no pending enrollment to confirm: it was never
// started, it expired (Config.PendingTTL), it was already confirmed, or a
// newer BeginEnroll replaced it. The user should start again (show a new QR
// code).
var ErrNoPending = errors.New("totp: no pending enrollment (expired, replaced or already confirmed)")

// Pending is an enrollment waiting for the user to prove they scanned it.
// Show the QR code (or the secret, for typing in by hand), then ask for a
// code and pass it to ConfirmEnroll with ID.
type Pending struct {
	ID        string    // pass to ConfirmEnroll
	Secret    string    // base32, for manual entry; show once, never log it
	URI       string    // otpauth:// URI; the QR code encodes it
	PNG       []byte    // QR code image
	DataURI   string    // "data:image/png;base64,...", for <img src>
	ExpiresAt time.Time // after this, ConfirmEnroll returns ErrNoPending
}

// pendingState is the store's copy of a pending enrollment. The secret is
// sealed, bound to the user and the pending id.
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

// accountName is what the app shows under the issuer: the user's name,
// else their email, else their id.
func accountName(u twofactor.User) string {
	switch {
	case u.Name != "":
		return u.Name
	case u.Email != "":
		return u.Email
	}
	return u.ID
}

// BeginEnroll starts a TOTP enrollment for user: a new secret with the
// otpauth URI and QR code to show. It stays pending until ConfirmEnroll
// gets a valid code, for Config.PendingTTL. A user has one pending
// enrollment at a time: beginning again replaces the previous one (its QR
// code stops working). A user who already has TOTP gets
// twofactor.ErrAlreadyEnrolled.
func (f *Factor) BeginEnroll(ctx context.Context, user twofactor.User) (*Pending, error) {
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
	secret, err := secure.Bytes(f.rand, f.secretSize)
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	defer clear(secret)
	id, err := secure.Token(f.rand, 16)
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	k := Key{Secret: secret, Issuer: f.issuer, Account: accountName(user), Params: f.params}
	uri := k.URI()
	png, err := qrcode.Encode(uri, qrcode.Medium, f.qrSize)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	sealed, err := f.keys.Seal(secret, pendingAD(user.ID, id))
	if err != nil {
		return nil, fmt.Errorf("totp: sealing secret: %w", err)
	}
	exp := f.now().Add(f.pendingTTL)
	blob, err := json.Marshal(pendingState{V: 1, ID: id, UserID: user.ID, Secret: sealed, Params: f.params, ExpiresAt: exp})
	if err != nil {
		return nil, fmt.Errorf("totp: encoding pending enrollment: %w", err)
	}
	if err := f.store.PutState(ctx, pendingKey(user.ID), blob, exp); err != nil {
		return nil, fmt.Errorf("totp: saving pending enrollment: %w", err)
	}
	f.events.Emit(ctx, twofactor.Event{Type: twofactor.EventEnrollBegin, UserID: user.ID, Method: twofactor.MethodTOTP})
	return &Pending{
		ID: id, Secret: EncodeSecret(secret), URI: uri, PNG: png,
		DataURI:   "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
		ExpiresAt: exp,
	}, nil
}

// maxPendingID bounds pending ids before any store access.
const maxPendingID = 64

// ConfirmEnroll activates the pending enrollment pendingID of user when code
// is valid for it (current step, within Config.Skew). A wrong code returns
// twofactor.ErrInvalidCode and leaves it pending; a malformed code an error
// wrapping twofactor.ErrInvalidInput, with nothing changed. An unknown,
// expired, replaced or already confirmed pending enrollment gives
// ErrNoPending. Confirmation is single-use: of concurrent confirmations
// exactly one succeeds. The confirming code's step is recorded in the
// replay ledger, so it cannot be used again to sign in. Emits EventEnroll.
//
// Wrong codes are not limited here: the secret was just shown to the caller,
// so guessing gains nothing. Guard the page that starts enrollment instead
// (Service.StepUp with PurposeEnroll when the user already has a factor).
func (f *Factor) ConfirmEnroll(ctx context.Context, user twofactor.User, pendingID, code string) (twofactor.Enrollment, error) {
	if err := checkUser(user); err != nil {
		return twofactor.Enrollment{}, err
	}
	if pendingID == "" || len(pendingID) > maxPendingID {
		return twofactor.Enrollment{}, fmt.Errorf("%w: totp: pending id must be 1 to %d bytes", twofactor.ErrInvalidInput, maxPendingID)
	}
	if err := f.CheckAnswer(code); err != nil {
		return twofactor.Enrollment{}, err
	}
	key := pendingKey(user.ID)
	blob, err := f.store.GetState(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return twofactor.Enrollment{}, ErrNoPending
	}
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("totp: loading pending enrollment: %w", err)
	}
	var ps pendingState
	if err := json.Unmarshal(blob, &ps); err != nil || ps.V != 1 || ps.Params.Check() != nil {
		return twofactor.Enrollment{}, fmt.Errorf("%w (pending enrollment of user %q)", ErrCorrupt, user.ID)
	}
	now := f.now()
	if subtle.ConstantTimeCompare([]byte(ps.ID), []byte(pendingID)) != 1 || ps.UserID != user.ID || !now.Before(ps.ExpiresAt) {
		return twofactor.Enrollment{}, ErrNoPending
	}
	secret, err := f.keys.Open(ps.Secret, pendingAD(user.ID, ps.ID))
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("%w (pending enrollment of user %q): %w", ErrCorrupt, user.ID, err)
	}
	defer clear(secret)
	step, off, ok, err := ps.Params.Match(secret, code, now, f.skew)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	if !ok {
		return twofactor.Enrollment{}, twofactor.ErrInvalidCode
	}

	// The code is right: take the pending state, exactly once.
	taken, err := f.store.TakeState(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return twofactor.Enrollment{}, ErrNoPending
	}
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("totp: taking pending enrollment: %w", err)
	}
	if !bytes.Equal(taken, blob) {
		// A newer BeginEnroll replaced it meanwhile and we took that one.
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
	details := map[string]string{"enrollment": id, "drift": driftString(off)}
	f.events.Emit(ctx, twofactor.Event{Type: twofactor.EventEnroll, UserID: user.ID, Method: twofactor.MethodTOTP, Details: details})
	return twofactor.Enrollment{ID: id, Method: twofactor.MethodTOTP, Label: f.label, CreatedAt: now}, nil
}

// CancelEnroll deletes the user's pending enrollment, if any.
func (f *Factor) CancelEnroll(ctx context.Context, user twofactor.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if err := f.store.DeleteState(ctx, pendingKey(user.ID)); err != nil {
		return fmt.Errorf("totp: deleting pending enrollment: %w", err)
	}
	return nil
}
