package webauthn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

const keyRegistration = "webauthn:reg:" // state: pending registration

// regState is a pending registration ceremony, kept in store.States.
type regState struct {
	UserID    string                 `json:"user_id"`
	Name      string                 `json:"name"`
	Session   gowebauthn.SessionData `json:"session"`
	ExpiresAt time.Time              `json:"expires_at"`
}

// BeginRegistration starts adding a security key or passkey for a
// signed-in user, under the user-chosen name (empty means DefaultName). It
// returns the creation options for navigator.credentials.create, as JSON
// ({"publicKey": {...}}), and the registration id to pass to
// FinishRegistration. The options exclude the user's registered
// credentials, so an authenticator is not registered twice.
//
// The host decides who may add a key: if the user already has a second
// factor, check a fresh verification first (Service.CheckProof).
func (f *Factor) BeginRegistration(ctx context.Context, user twofactor.User, name string) (options json.RawMessage, registrationID string, err error) {
	if err := checkUser(user); err != nil {
		return nil, "", err
	}
	name, err = checkName(name)
	if err != nil {
		return nil, "", err
	}
	creds, err := f.load(ctx, user.ID)
	if err != nil {
		return nil, "", err
	}
	if len(creds) >= f.maxCreds {
		return nil, "", fmt.Errorf("%w: the limit is %d", ErrTooManyCredentials, f.maxCreds)
	}
	u := newWAUser(user, f.userHandle(user, creds), creds)
	exclude := make([]protocol.CredentialDescriptor, len(u.creds))
	for i := range u.creds {
		exclude[i] = u.creds[i].Descriptor()
	}
	creation, session, err := f.wa.BeginRegistration(u, gowebauthn.WithExclusions(exclude))
	if err != nil {
		return nil, "", fmt.Errorf("webauthn: beginning registration: %w", err)
	}
	options, err = json.Marshal(creation)
	if err != nil {
		return nil, "", err
	}
	id, err := secure.Token(nil, 32)
	if err != nil {
		return nil, "", err
	}
	st := regState{UserID: user.ID, Name: name, Session: *session, ExpiresAt: f.now().Add(f.timeout)}
	blob, err := json.Marshal(st)
	if err != nil {
		return nil, "", err
	}
	if err := f.store.PutState(ctx, keyRegistration+id, blob, st.ExpiresAt); err != nil {
		return nil, "", fmt.Errorf("webauthn: storing registration: %w", err)
	}
	f.emit(ctx, twofactor.Event{Type: twofactor.EventEnrollBegin, UserID: user.ID})
	return options, id, nil
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

// FinishRegistration verifies the browser's response to the registration
// registrationID and stores the new credential for user. The registration
// is single use: it is consumed whether the response verifies or not.
//
// Errors: a malformed id or response matches twofactor.ErrInvalidInput and
// touches no state; an unknown, used or other user's registration is
// ErrCeremonyNotFound, an old one ErrCeremonyExpired; a response that does
// not verify ErrRejected; an authenticator already registered for the user
// twofactor.ErrAlreadyEnrolled. All but ErrInvalidInput match
// twofactor.ErrInvalidCode, except ErrAlreadyEnrolled and
// ErrTooManyCredentials.
func (f *Factor) FinishRegistration(ctx context.Context, user twofactor.User, registrationID string, response []byte) (twofactor.Enrollment, error) {
	if err := checkUser(user); err != nil {
		return twofactor.Enrollment{}, err
	}
	if err := checkToken(registrationID); err != nil {
		return twofactor.Enrollment{}, err
	}
	parsed, err := parseRegistration(response)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	blob, err := f.store.TakeState(ctx, keyRegistration+registrationID)
	if errors.Is(err, store.ErrNotFound) {
		return twofactor.Enrollment{}, ErrCeremonyNotFound
	}
	if err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("webauthn: reading registration: %w", err)
	}
	var st regState
	if err := json.Unmarshal(blob, &st); err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("webauthn: decoding registration: %w", err)
	}
	if st.UserID != user.ID {
		return twofactor.Enrollment{}, ErrCeremonyNotFound
	}
	now := f.now()
	if !now.Before(st.ExpiresAt) {
		return twofactor.Enrollment{}, ErrCeremonyExpired
	}
	creds, err := f.load(ctx, user.ID)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	if len(creds) >= f.maxCreds {
		return twofactor.Enrollment{}, fmt.Errorf("%w: the limit is %d", ErrTooManyCredentials, f.maxCreds)
	}
	u := newWAUser(user, st.Session.UserID, creds)
	cred, err := f.wa.CreateCredential(u, st.Session, parsed)
	if err != nil {
		return twofactor.Enrollment{}, rejected(err)
	}
	for _, c := range creds {
		if bytes.Equal(c.data.CredentialID, cred.ID) {
			return twofactor.Enrollment{}, fmt.Errorf("webauthn: %w: this authenticator is already registered as %q", twofactor.ErrAlreadyEnrolled, c.rec.Label)
		}
	}
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
	}
	for _, t := range cred.Transport {
		data.Transports = append(data.Transports, string(t))
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return twofactor.Enrollment{}, err
	}
	rec := store.EnrollmentRecord{
		UserID:    user.ID,
		ID:        enrollmentID(cred.ID),
		Method:    string(twofactor.MethodWebAuthn),
		Label:     st.Name,
		Data:      raw,
		CreatedAt: now,
	}
	if data.SignCount > 0 {
		if _, err := f.store.Advance(ctx, signCountKey(user.ID, rec.ID), int64(data.SignCount), now.Add(signCountTTL)); err != nil {
			return twofactor.Enrollment{}, fmt.Errorf("webauthn: recording signature counter: %w", err)
		}
	}
	if err := f.store.PutEnrollment(ctx, rec); err != nil {
		return twofactor.Enrollment{}, fmt.Errorf("webauthn: storing credential: %w", err)
	}
	f.emit(ctx, twofactor.Event{Type: twofactor.EventEnroll, UserID: user.ID,
		Details: map[string]string{"enrollment": rec.ID, "aaguid": formatUUID(data.AAGUID)}})
	return twofactor.Enrollment{ID: rec.ID, Method: twofactor.MethodWebAuthn, Label: rec.Label, CreatedAt: now}, nil
}

// CancelRegistration drops a pending registration (the user closed the
// dialog). Cancelling an unknown one is not an error.
func (f *Factor) CancelRegistration(ctx context.Context, registrationID string) error {
	if err := checkToken(registrationID); err != nil {
		return err
	}
	if err := f.store.DeleteState(ctx, keyRegistration+registrationID); err != nil {
		return fmt.Errorf("webauthn: cancelling registration: %w", err)
	}
	return nil
}
