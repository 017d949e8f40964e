package webauthn

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// Credential describes one registered security key or passkey, for an
// account page: a page can list the passkeys (Passkey) with where each
// lives, synced between the user's devices (BackupEligible, and
// BackupState once backed up: WebAuthn §6.1.3) or on one device only.
// Nothing in it is secret.
type Credential struct {
	ID             string    // enrollment id, for Rename and RemoveEnrollment
	Name           string    // user-chosen name
	CredentialID   []byte    // the authenticator's credential id
	Transports     []string  // "usb", "nfc", "ble", "internal", "hybrid"...
	AAGUID         string    // authenticator model, as a UUID; all zeros when not disclosed
	BackupEligible bool      // may be synced between devices; false: bound to one device
	BackupState    bool      // backed up or synced when it was registered
	Passkey        bool      // registered as a passkey (EnrollRequest.Passkey): signs in on its own
	CreatedAt      time.Time // when it was registered
	LastUsedAt     time.Time // last successful login; zero if never
}

// record is what Data holds in a store.EnrollmentRecord. The user-chosen
// name and the times live in the record's own fields. It is written once,
// at registration: a login only sets the record's last use
// (store.EnrollmentToucher), so it never races a rename, and the
// signature counters seen since live in the ledger (see Verify).
type record struct {
	CredentialID      []byte   `json:"credential_id"`
	PublicKey         []byte   `json:"public_key"` // COSE_Key
	SignCount         uint32   `json:"sign_count"` // at registration
	Transports        []string `json:"transports,omitempty"`
	AAGUID            []byte   `json:"aaguid,omitempty"`
	Flags             uint8    `json:"flags"` // authenticator data flags (UP, UV, BE, BS)
	UserHandle        []byte   `json:"user_handle"`
	AttestationType   string   `json:"attestation_type,omitempty"`
	AttestationFormat string   `json:"attestation_format,omitempty"`
	Attachment        string   `json:"attachment,omitempty"`
	// Claimed is set when the credential id was claimed for this account
	// at registration, so removing the credential releases the claim.
	Claimed bool `json:"claimed,omitempty"`
	// Passkey is set when the credential was registered as a passkey: a
	// discoverable credential, asked for with user verification required,
	// whose registration carried the UV flag. Only such a credential signs
	// in on its own (FinishDiscovery).
	Passkey bool `json:"passkey,omitempty"`
}

// stored is one decoded credential of a user.
type stored struct {
	rec  store.EnrollmentRecord
	data record
}

func (s *stored) flags() gowebauthn.CredentialFlags {
	return gowebauthn.NewCredentialFlags(protocol.AuthenticatorFlags(s.data.Flags))
}

func (s *stored) webauthn() gowebauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, len(s.data.Transports))
	for i, t := range s.data.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return gowebauthn.Credential{
		ID:                s.data.CredentialID,
		PublicKey:         s.data.PublicKey,
		AttestationType:   s.data.AttestationType,
		AttestationFormat: s.data.AttestationFormat,
		Transport:         ts,
		Flags:             s.flags(),
		Authenticator: gowebauthn.Authenticator{
			AAGUID:     s.data.AAGUID,
			SignCount:  s.data.SignCount,
			Attachment: protocol.AuthenticatorAttachment(s.data.Attachment),
		},
	}
}

func (s *stored) public() Credential {
	f := s.flags()
	c := Credential{
		ID:             s.rec.ID,
		Name:           s.rec.Label,
		CredentialID:   bytes.Clone(s.data.CredentialID),
		Transports:     append([]string(nil), s.data.Transports...),
		AAGUID:         formatUUID(s.data.AAGUID),
		BackupEligible: f.BackupEligible,
		BackupState:    f.BackupState,
		Passkey:        s.data.Passkey,
		CreatedAt:      s.rec.CreatedAt,
		LastUsedAt:     s.rec.LastUsedAt,
	}
	return c
}

// formatUUID formats a 16-byte AAGUID; anything else reads as the nil UUID.
func formatUUID(b []byte) string {
	if len(b) != 16 {
		b = make([]byte, 16)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// load returns the user's WebAuthn credentials. A record that does not
// decode is an error: the factor fails closed rather than ignore it.
func (f *Factor) load(ctx context.Context, userID string) ([]stored, error) {
	recs, err := f.store.ListEnrollments(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("webauthn: listing credentials: %w", err)
	}
	return decodeCreds(userID, recs)
}

// Offered reports whether the user's enrollment records hold a
// credential: Begin reads the records once for every factor. A credential
// that does not decode is an error, as in Enrollments.
func (f *Factor) Offered(user twofactor.User, records func() ([]store.EnrollmentRecord, error)) (bool, error) {
	recs, err := records()
	if err != nil {
		return false, err
	}
	creds, err := decodeCreds(user.ID, recs)
	return len(creds) > 0, err
}

// decodeCreds returns the WebAuthn credentials among recs, the records of
// user userID. A record that does not decode is an error.
func decodeCreds(userID string, recs []store.EnrollmentRecord) ([]stored, error) {
	var out []stored
	for _, r := range recs {
		if r.Method != string(twofactor.MethodWebAuthn) || r.UserID != userID {
			continue
		}
		s := stored{rec: r}
		if err := json.Unmarshal(r.Data, &s.data); err != nil || len(s.data.CredentialID) == 0 || len(s.data.PublicKey) == 0 {
			return nil, fmt.Errorf("webauthn: credential %q of user %q does not decode", r.ID, userID)
		}
		out = append(out, s)
	}
	return out, nil
}

// waUser adapts a user and their credentials to go-webauthn.
type waUser struct {
	handle  []byte
	name    string
	display string
	creds   []gowebauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                           { return u.handle }
func (u *waUser) WebAuthnName() string                         { return u.name }
func (u *waUser) WebAuthnDisplayName() string                  { return u.display }
func (u *waUser) WebAuthnCredentials() []gowebauthn.Credential { return u.creds }

// handleSize is the length of a new user handle: WebAuthn §5.4.3 allows at
// most 64 bytes, and 32 random bytes are as unguessable as any.
const handleSize = 32

// storedHandle returns the handle the user's credentials carry: the one
// authenticators know the user by. Nil when the user has none.
func storedHandle(creds []stored) []byte {
	for _, c := range creds {
		if len(c.data.UserHandle) > 0 {
			return c.data.UserHandle
		}
	}
	return nil
}

// userHandle returns the opaque handle authenticators know the user by
// (user.id, WebAuthn §5.4.3): the one stored with the user's credentials,
// so a user keeps one handle for every credential, or, for a user with
// none, 32 new random bytes. It is never derived from the user id, the
// email or the name: an authenticator shows nothing of the account in it,
// and nothing about the account predicts it (WebAuthn §14.6.1, "User
// Handle Contents"). A new handle is kept once a registration with it is
// confirmed; a handle of a user who removes every credential is forgotten.
func (f *Factor) userHandle(creds []stored) ([]byte, error) {
	if h := storedHandle(creds); h != nil {
		return h, nil
	}
	h, err := secure.Bytes(f.rand, handleSize)
	if err != nil {
		return nil, fmt.Errorf("webauthn: making a user handle: %w", err)
	}
	return h, nil
}

func newWAUser(user twofactor.User, handle []byte, creds []stored) *waUser {
	name := user.Name
	if name == "" {
		name = user.Email
	}
	if name == "" {
		name = user.ID
	}
	u := &waUser{handle: handle, name: name, display: name}
	for i := range creds {
		u.creds = append(u.creds, creds[i].webauthn())
	}
	return u
}

// Enrollments returns the user's credentials as enrollments, labelled with
// their names, oldest first, with the time each was registered and last
// used; Passkey marks those registered as passkeys, and Synced those that
// may be backed up or synced between devices (the backup eligibility
// flag, WebAuthn §6.1.3).
func (f *Factor) Enrollments(ctx context.Context, user twofactor.User) ([]twofactor.Enrollment, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	creds, err := f.load(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	out := make([]twofactor.Enrollment, 0, len(creds))
	for _, c := range creds {
		out = append(out, twofactor.Enrollment{
			ID: c.rec.ID, Method: twofactor.MethodWebAuthn, Label: c.rec.Label,
			CreatedAt: c.rec.CreatedAt, LastUsedAt: c.rec.LastUsedAt,
			Passkey: c.data.Passkey, Synced: c.flags().BackupEligible,
		})
	}
	return out, nil
}

// Credentials returns the details of the user's credentials, oldest first.
func (f *Factor) Credentials(ctx context.Context, user twofactor.User) ([]Credential, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	creds, err := f.load(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Credential, 0, len(creds))
	for i := range creds {
		out = append(out, creds[i].public())
	}
	return out, nil
}

// CredentialIDs returns the credential ids of the user's credentials,
// oldest first: with UserHandle, what the browser's
// PublicKeyCredential.signalAllAcceptedCredentials needs, so that passkey
// managers forget the credentials the site no longer accepts.
func (f *Factor) CredentialIDs(ctx context.Context, userID string) ([][]byte, error) {
	if err := twofactor.CheckUserID(userID); err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	creds, err := f.load(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(creds))
	for _, c := range creds {
		out = append(out, bytes.Clone(c.data.CredentialID))
	}
	return out, nil
}

// CredentialID returns the credential id of the user's enrollment id, or
// an error matching twofactor.ErrNotEnrolled: what a page needs to tell
// the browser, once the credential is removed, that the site no longer
// accepts it (WebAuthn's signalUnknownCredential). Credential ids are not
// secret: the browser holds them and sends them at each sign-in.
func (f *Factor) CredentialID(ctx context.Context, userID, enrollmentID string) ([]byte, error) {
	if err := twofactor.CheckUserID(userID); err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	c, err := f.get(ctx, userID, enrollmentID)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(c.data.CredentialID), nil
}

// get returns one of the user's credentials, or twofactor.ErrNotEnrolled.
func (f *Factor) get(ctx context.Context, userID, id string) (stored, error) {
	r, err := f.store.GetEnrollment(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return stored{}, twofactor.ErrNotEnrolled
	}
	if err != nil {
		return stored{}, fmt.Errorf("webauthn: reading credential: %w", err)
	}
	if r.Method != string(twofactor.MethodWebAuthn) {
		return stored{}, twofactor.ErrNotEnrolled
	}
	s := stored{rec: r}
	if err := json.Unmarshal(r.Data, &s.data); err != nil {
		return stored{}, fmt.Errorf("webauthn: credential %q does not decode", id)
	}
	return s, nil
}

// Rename changes a credential's name. An unknown id gives
// twofactor.ErrNotEnrolled; a bad name twofactor.ErrInvalidInput, and
// nothing changes. Logins never rewrite the record (they only set its last
// use), so a rename is never lost to a login at the same moment; two
// renames at once keep one of the names.
func (f *Factor) Rename(ctx context.Context, user twofactor.User, id, name string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	name, err := checkName(name)
	if err != nil {
		return err
	}
	s, err := f.get(ctx, user.ID, id)
	if err != nil {
		return err
	}
	s.rec.Label = name
	if err := f.store.PutEnrollment(ctx, s.rec); err != nil {
		return fmt.Errorf("webauthn: renaming credential: %w", err)
	}
	return nil
}

// Remove deletes one credential and frees its credential id, so it may be
// registered again (to this account or another). Call it through
// twofactor.Service.RemoveEnrollment, which first checks a fresh
// verification. Removing a missing credential is not an error; an id that
// belongs to another factor gives twofactor.ErrNotEnrolled.
func (f *Factor) Remove(ctx context.Context, user twofactor.User, enrollmentID string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	r, err := f.store.GetEnrollment(ctx, user.ID, enrollmentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("webauthn: reading credential: %w", err)
	}
	if r.Method != string(twofactor.MethodWebAuthn) {
		return twofactor.ErrNotEnrolled
	}
	handle, err := f.delete(ctx, r)
	return errors.Join(err, f.forgetHandle(ctx, user.ID, handle))
}

// delete removes a credential's record, then releases its credential id
// if its registration claimed it. The order matters: released first, a
// failed delete would leave a credential another account could register
// too. It returns the user handle the removed credential carried, nil
// when the record was not removed.
func (f *Factor) delete(ctx context.Context, r store.EnrollmentRecord) ([]byte, error) {
	if err := f.store.DeleteEnrollment(ctx, r.UserID, r.ID); err != nil {
		return nil, fmt.Errorf("webauthn: removing credential: %w", err)
	}
	var data record
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return nil, nil
	}
	if !data.Claimed || len(data.CredentialID) == 0 {
		return data.UserHandle, nil
	}
	return data.UserHandle, f.release(ctx, data.CredentialID)
}

// RemoveAll deletes every credential of the user (admin reset,
// Service.Disable) and frees their credential ids.
func (f *Factor) RemoveAll(ctx context.Context, user twofactor.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	recs, err := f.store.ListEnrollments(ctx, user.ID)
	if err != nil {
		return fmt.Errorf("webauthn: listing credentials: %w", err)
	}
	var errs []error
	var handles [][]byte
	for _, r := range recs {
		if r.Method != string(twofactor.MethodWebAuthn) {
			continue
		}
		handle, err := f.delete(ctx, r)
		if err != nil {
			errs = append(errs, err)
		}
		if len(handle) > 0 && !slices.ContainsFunc(handles, func(h []byte) bool { return bytes.Equal(h, handle) }) {
			handles = append(handles, handle)
		}
	}
	for _, h := range handles {
		if err := f.forgetHandle(ctx, user.ID, h); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("webauthn: removing credentials: %w", err)
	}
	return nil
}

// ErrClaimNotFound is returned by CheckClaims when a credential registered
// with a claim on its id has no claim under the Factor's RP ID: the
// Factor was built with another RP ID than the one the credential was
// registered under, so removing the credential through it would leave the
// id claimed, and the key could not be registered again.
var ErrClaimNotFound = errors.New("webauthn: credential id not claimed under this RP ID")

// CheckClaims checks, without changing anything, that every credential of
// the user whose registration claimed its id holds that claim under the
// Factor's RP ID, so that RemoveAll (an administrator's reset) frees the
// ids. A tool that builds the Factor only to remove credentials calls it
// first: a mistyped RP ID is then an error that names the credential
// (matching ErrClaimNotFound) instead of ids that stay claimed for good.
// Credentials registered before claims existed hold none and pass.
func (f *Factor) CheckClaims(ctx context.Context, user twofactor.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	recs, err := f.store.ListEnrollments(ctx, user.ID)
	if err != nil {
		return fmt.Errorf("webauthn: listing credentials: %w", err)
	}
	creds, err := decodeCreds(user.ID, recs)
	if err != nil {
		return err
	}
	for _, c := range creds {
		if !c.data.Claimed {
			continue
		}
		n, _, err := f.store.Peek(ctx, f.claimKey(c.data.CredentialID))
		if err != nil {
			return fmt.Errorf("webauthn: reading the claim of credential %q: %w", c.rec.Label, err)
		}
		if n < 1 {
			return fmt.Errorf("%w: credential %q of user %q (RP ID %q)", ErrClaimNotFound, c.rec.Label, user.ID, f.rpID)
		}
	}
	return nil
}
