package webauthn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

const (
	keyRegistration = "webauthn:reg:"  // owned state: the user's pending registration
	keyClaim        = "webauthn:cred:" // counter: the account a credential id is registered to
	// claimWindow is how long a credential claim lasts: longer than any
	// credential is kept in use.
	claimWindow = 100 * 365 * 24 * time.Hour
)

func registrationKey(userID string) string { return keyRegistration + userID }

const claimDomain = "twofactor webauthn credential v1\x00"

// claimKey names the claim on a credential id. It is a plain SHA-256 of the
// RP id and the credential id, not a keyed hash: a key rotation must not
// change it, or a credential could be registered again by another account
// after every rotation, and credential ids are not secret (the enrollment
// records hold them, and browsers receive them in every allow list).
func (f *Factor) claimKey(credID []byte) string {
	h := sha256.New()
	h.Write([]byte(claimDomain))
	h.Write([]byte(f.rpID))
	h.Write([]byte{0})
	h.Write(credID)
	return keyClaim + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// claim records credID as registered to the caller's account, atomically
// across app instances (store.Counters.Incr: exactly one caller counts 1).
// It reports false when the credential id is claimed already, by any
// account. A loser leaves the count above one, which changes nothing: only
// release (ResetCounter) frees the id.
func (f *Factor) claim(ctx context.Context, credID []byte) (bool, error) {
	n, _, err := f.store.Incr(ctx, f.claimKey(credID), claimWindow)
	if err != nil {
		return false, fmt.Errorf("webauthn: claiming credential id: %w", err)
	}
	return n == 1, nil
}

// release frees a credential id claimed by claim.
func (f *Factor) release(ctx context.Context, credID []byte) error {
	if err := f.store.ResetCounter(ctx, f.claimKey(credID)); err != nil {
		return fmt.Errorf("webauthn: releasing credential id: %w", err)
	}
	return nil
}

// regState is a user's pending registration ceremony, kept in the store
// under the user's id and filed under the user as owner.
type regState struct {
	UserID    string                 `json:"user_id"`
	Name      string                 `json:"name"`
	Session   gowebauthn.SessionData `json:"session"`
	Options   json.RawMessage        `json:"options"`
	ExpiresAt time.Time              `json:"expires_at"`
	// Passkey is set for a passkey registration (EnrollRequest.Passkey).
	Passkey bool `json:"passkey,omitempty"`
}

// BeginEnroll starts adding a security key or passkey for a signed-in
// user, named req.Label (empty means DefaultName). Enrolling.Options holds
// the creation options for navigator.credentials.create, as JSON
// ({"publicKey": {...}}), and ExpiresAt when the registration lapses
// (Config.Timeout). The options exclude the user's registered credentials,
// so an authenticator is not registered twice, and carry the user's
// handle: the one their credentials carry, or a new random one.
//
// With req.Passkey the options ask for a passkey: a discoverable
// credential (residentKey "required"), user verification "required" and
// the credProps extension, whatever Config.ResidentKey and
// UserVerification say. Without it, a security key for the second step,
// as the Config says.
//
// A user has one pending registration. While it lasts, BeginEnroll with
// the same label and kind (req.Passkey) returns it again (its options,
// with the time left as the browser's timeout) and emits nothing;
// req.Restart, another label or the other kind replaces it with a new
// ceremony.
//
// Call it through twofactor.Service.BeginEnroll, which asks a user who
// already has a second factor for a fresh verification first; a host
// calling it directly must check that itself.
func (f *Factor) BeginEnroll(ctx context.Context, user twofactor.User, req twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	name, err := checkName(req.Label)
	if err != nil {
		return nil, err
	}
	now := f.now()
	if !req.Restart {
		if st, ok, err := f.pending(ctx, user.ID); err != nil {
			return nil, err
		} else if ok && st.Name == name && st.Passkey == req.Passkey && now.Before(st.ExpiresAt) {
			return f.enrolling(st, now)
		}
	}
	creds, err := f.load(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	if len(creds) >= f.maxCreds {
		return nil, fmt.Errorf("%w: the limit is %d", ErrTooManyCredentials, f.maxCreds)
	}
	handle, err := f.userHandle(creds)
	if err != nil {
		return nil, err
	}
	u := newWAUser(user, handle, creds)
	exclude := make([]protocol.CredentialDescriptor, len(u.creds))
	for i := range u.creds {
		exclude[i] = u.creds[i].Descriptor()
	}
	opts := []gowebauthn.RegistrationOption{gowebauthn.WithExclusions(exclude)}
	if req.Passkey {
		opts = append(opts, f.passkeyOptions()...)
	}
	creation, session, err := f.wa.BeginRegistration(u, opts...)
	if err != nil {
		return nil, fmt.Errorf("webauthn: beginning registration: %w", err)
	}
	options, err := json.Marshal(creation)
	if err != nil {
		return nil, err
	}
	st := regState{UserID: user.ID, Name: name, Session: *session, Options: options, ExpiresAt: now.Add(f.timeout), Passkey: req.Passkey}
	blob, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	if err := f.store.PutOwnedState(ctx, user.ID, registrationKey(user.ID), blob, st.ExpiresAt); err != nil {
		return nil, fmt.Errorf("webauthn: storing registration: %w", err)
	}
	f.emit(ctx, event.Event{Type: event.EnrollBegin, UserID: user.ID, Label: name,
		IP: ipString(req.Client), UserAgent: req.Client.UserAgent})
	return &twofactor.Enrolling{Method: twofactor.MethodWebAuthn, ExpiresAt: st.ExpiresAt, Options: options}, nil
}

// passkeyOptions are the registration options of a passkey: a
// discoverable credential (residentKey "required", WebAuthn §5.4.6, and
// requireResidentKey true for browsers of Level 1), user verification
// "required" (§5.4.4), and the credProps extension (§10.1.3), by which the
// browser reports whether the credential is discoverable.
func (f *Factor) passkeyOptions() []gowebauthn.RegistrationOption {
	sel := f.wa.Config.AuthenticatorSelection
	sel.ResidentKey = protocol.ResidentKeyRequirementRequired
	sel.RequireResidentKey = protocol.ResidentKeyRequired()
	sel.UserVerification = protocol.VerificationRequired
	return []gowebauthn.RegistrationOption{
		gowebauthn.WithAuthenticatorSelection(sel),
		gowebauthn.WithExtensions(gowebauthn.WithExtensionCredProps()),
	}
}

// pending returns the user's pending registration and its stored form, if
// any.
func (f *Factor) pending(ctx context.Context, userID string) (regState, bool, error) {
	st, _, ok, err := f.pendingBlob(ctx, userID)
	return st, ok, err
}

func (f *Factor) pendingBlob(ctx context.Context, userID string) (regState, []byte, bool, error) {
	blob, err := f.store.GetState(ctx, registrationKey(userID))
	if errors.Is(err, store.ErrNotFound) {
		return regState{}, nil, false, nil
	}
	if err != nil {
		return regState{}, nil, false, fmt.Errorf("webauthn: reading registration: %w", err)
	}
	var st regState
	if err := json.Unmarshal(blob, &st); err != nil {
		return regState{}, nil, false, fmt.Errorf("webauthn: decoding registration: %w", err)
	}
	if st.UserID != userID {
		return regState{}, nil, false, nil
	}
	return st, blob, true, nil
}

// enrolling shows a pending registration again, its browser timeout set to
// the time it has left.
func (f *Factor) enrolling(st regState, now time.Time) (*twofactor.Enrolling, error) {
	var creation protocol.CredentialCreation
	if err := json.Unmarshal(st.Options, &creation); err != nil {
		return nil, fmt.Errorf("webauthn: decoding registration options: %w", err)
	}
	creation.Response.Timeout = int(st.ExpiresAt.Sub(now).Milliseconds())
	options, err := json.Marshal(creation)
	if err != nil {
		return nil, err
	}
	return &twofactor.Enrolling{Method: twofactor.MethodWebAuthn, ExpiresAt: st.ExpiresAt, Options: options}, nil
}

// CheckRegistration checks, without any store access, that response has
// the form of a registration response (the JSON of the PublicKeyCredential
// that navigator.credentials.create returned). It returns an error
// matching twofactor.ErrInvalidInput otherwise.
func CheckRegistration(response []byte) error {
	_, err := parseRegistration(response)
	return err
}

func parseRegistration(response []byte) (*protocol.ParsedCredentialCreationData, error) {
	if err := checkJSONObject(response, MaxAttestationSize); err != nil {
		return nil, err
	}
	p, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, invalidInput("response is not a registration credential")
	}
	return p, nil
}

// ConfirmEnroll verifies attestation, the browser's response to the
// user's pending registration (the JSON of the PublicKeyCredential that
// navigator.credentials.create returned), and stores the new credential.
// Of concurrent confirmations of one registration at most one succeeds;
// the registration ends with it.
//
// A credential id is registered to one account only (WebAuthn §7.1
// "Registering a New Credential"): an id any account holds already is
// refused with twofactor.ErrAlreadyEnrolled, atomically across app
// instances, so of two accounts racing to register one credential
// exactly one wins.
//
// A passkey registration (EnrollRequest.Passkey) also needs the UV flag
// and, when the browser reports credProps, a discoverable credential; the
// credential is recorded as a passkey. The user handle index (see
// UserHandle) is written after the credential; if that write fails, the
// credential is removed again and the error returned.
//
// Errors: a malformed response matches twofactor.ErrInvalidInput and
// touches no store; no pending registration (never begun, expired,
// replaced, ended by a password change, already confirmed, or begun with a
// user handle the user no longer has because another registration was
// confirmed meanwhile) is twofactor.ErrNotEnrolled; a response that does
// not verify, or a passkey without user verification, is ErrRejected
// (matching twofactor.ErrInvalidCode), and the registration stays pending,
// so the browser may try again; a credential already registered, to this
// user or another, is twofactor.ErrAlreadyEnrolled; an authenticator the
// policy refuses (Config.AllowedAAGUIDs, DeniedAAGUIDs, RefuseSynced) is
// ErrAuthenticatorNotAllowed or ErrSyncedRefused (matching
// twofactor.ErrInvalidInput), its credential id left free and the
// registration pending for another authenticator; and
// ErrTooManyCredentials past Config.MaxCredentials.
func (f *Factor) ConfirmEnroll(ctx context.Context, user twofactor.User, attestation string) (twofactor.Enrollment, error) {
	if err := checkUser(user); err != nil {
		return twofactor.Enrollment{}, err
	}
	parsed, err := parseRegistration([]byte(attestation))
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	st, blob, ok, err := f.pendingBlob(ctx, user.ID)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	now := f.now()
	if !ok || !now.Before(st.ExpiresAt) {
		return twofactor.Enrollment{}, fmt.Errorf("webauthn: %w: no registration pending", twofactor.ErrNotEnrolled)
	}
	creds, err := f.load(ctx, user.ID)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	if len(creds) >= f.maxCreds {
		return twofactor.Enrollment{}, fmt.Errorf("%w: the limit is %d", ErrTooManyCredentials, f.maxCreds)
	}
	if h := storedHandle(creds); h != nil && !bytes.Equal(h, st.Session.UserID) {
		// Begun for a user without credentials, with a new handle, while
		// another registration was confirmed with another: a user has
		// one handle, so this one can never be confirmed.
		if err := f.store.DeleteState(ctx, registrationKey(user.ID)); err != nil {
			return twofactor.Enrollment{}, fmt.Errorf("webauthn: ending registration: %w", err)
		}
		return twofactor.Enrollment{}, fmt.Errorf("webauthn: %w: another key was added meanwhile; begin again", twofactor.ErrNotEnrolled)
	}
	cred, err := f.newCredential(user, st, parsed, creds)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	rec, data, err := newRecord(user.ID, st, cred, now)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	won, err := f.claim(ctx, cred.ID)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	if !won {
		return twofactor.Enrollment{}, fmt.Errorf("webauthn: %w: this authenticator is already registered", twofactor.ErrAlreadyEnrolled)
	}
	if data.SignCount > 0 {
		if _, err := f.store.Advance(ctx, signCountKey(user.ID, rec.ID), int64(data.SignCount), now.Add(signCountTTL)); err != nil {
			return twofactor.Enrollment{}, f.unclaim(ctx, cred.ID, fmt.Errorf("webauthn: recording signature counter: %w", err))
		}
	}
	// The registration is single use: of concurrent confirmations, the one
	// that takes it stores its credential. A state that changed since it
	// was read (restarted) is not this registration any more.
	taken, err := f.store.TakeState(ctx, registrationKey(user.ID))
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !bytes.Equal(taken, blob)):
		return twofactor.Enrollment{}, f.unclaim(ctx, cred.ID,
			fmt.Errorf("webauthn: %w: the registration was confirmed or restarted meanwhile", twofactor.ErrNotEnrolled))
	case err != nil:
		return twofactor.Enrollment{}, f.unclaim(ctx, cred.ID, fmt.Errorf("webauthn: ending registration: %w", err))
	}
	// A failed write keeps the claim: the write may have landed. An
	// authenticator makes a new credential id for every registration, so a
	// claim kept without its record refuses nothing a user would do.
	if err := f.store.PutEnrollment(ctx, rec); err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("webauthn: storing credential: %w", err)
	}
	// The index is written after the record, so that a removal of the
	// user's last credential at the same moment, which reads the
	// credentials again after dropping the index, sees this one (see
	// forgetHandle). Without its index a passkey could not sign in: the
	// credential is removed again, and its id released.
	if err := f.indexHandle(ctx, user.ID, data.UserHandle); err != nil {
		if _, derr := f.delete(context.WithoutCancel(ctx), rec); derr != nil {
			err = errors.Join(err, derr)
		}
		return twofactor.Enrollment{}, err
	}
	return twofactor.Enrollment{ID: rec.ID, Method: twofactor.MethodWebAuthn, Label: rec.Label, CreatedAt: now,
		Passkey: data.Passkey, Synced: cred.Flags.BackupEligible}, nil
}

// newCredential verifies the browser's answer to the registration st and
// returns the new credential: one of a passkey that verified its user
// when st asks for a passkey, not one of creds, and one the
// authenticator policy accepts. The policy is checked before the
// credential id is claimed, so a refused credential leaves its id free.
func (f *Factor) newCredential(user twofactor.User, st regState, parsed *protocol.ParsedCredentialCreationData, creds []stored) (*gowebauthn.Credential, error) {
	u := newWAUser(user, st.Session.UserID, creds)
	cred, err := f.wa.CreateCredential(u, st.Session, parsed)
	if err != nil {
		return nil, rejected(err)
	}
	if st.Passkey {
		if err := checkPasskey(cred, parsed); err != nil {
			return nil, err
		}
	}
	for _, c := range creds {
		if bytes.Equal(c.data.CredentialID, cred.ID) {
			return nil, fmt.Errorf("webauthn: %w: this authenticator is already registered as %q", twofactor.ErrAlreadyEnrolled, c.rec.Label)
		}
	}
	if err := f.checkAuthenticator(cred.Authenticator.AAGUID, cred.Flags.BackupEligible); err != nil {
		return nil, err
	}
	return cred, nil
}

// checkPasskey checks what a passkey registration (EnrollRequest.Passkey)
// needs beyond the registration checks: the authenticator verified the
// user (the UV flag, WebAuthn §6.1; the ceremony required it, and the
// factor checks the flag itself too), and the credential is discoverable
// when the browser says (credProps, §10.1.3; browsers that do not report
// it made a discoverable credential or none, since residentKey was
// "required"). A refusal is ErrRejected, and the registration stays
// pending for another authenticator.
func checkPasskey(cred *gowebauthn.Credential, parsed *protocol.ParsedCredentialCreationData) error {
	if !cred.Flags.UserVerified || !parsed.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		return fmt.Errorf("%w: the authenticator did not verify the user, which a passkey needs", ErrRejected)
	}
	if p := parsed.ClientExtensionResults.CredProps; p != nil && p.RK != nil && !*p.RK {
		return fmt.Errorf("%w: the credential is not discoverable, which a passkey needs", ErrRejected)
	}
	return nil
}

// unclaim releases a credential id claimed by a registration that then
// failed with cause, and returns cause (joined with a failure to release).
func (f *Factor) unclaim(ctx context.Context, credID []byte, cause error) error {
	if err := f.release(context.WithoutCancel(ctx), credID); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// newRecord returns the enrollment record of a new, claimed credential.
func newRecord(userID string, st regState, cred *gowebauthn.Credential, now time.Time) (store.EnrollmentRecord, record, error) {
	data := record{
		CredentialID:      cred.ID,
		PublicKey:         cred.PublicKey,
		SignCount:         cred.Authenticator.SignCount,
		AAGUID:            cred.Authenticator.AAGUID,
		Flags:             uint8(cred.Flags.ProtocolValue()),
		UserHandle:        st.Session.UserID,
		AttestationType:   cred.AttestationType,
		AttestationFormat: cred.AttestationFormat,
		Attachment:        string(cred.Authenticator.Attachment),
		Claimed:           true,
		Passkey:           st.Passkey,
	}
	for _, t := range cred.Transport {
		data.Transports = append(data.Transports, string(t))
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return store.EnrollmentRecord{}, record{}, err
	}
	return store.EnrollmentRecord{
		UserID:    userID,
		ID:        enrollmentID(cred.ID),
		Method:    string(twofactor.MethodWebAuthn),
		Label:     st.Name,
		Data:      raw,
		CreatedAt: now,
	}, data, nil
}
