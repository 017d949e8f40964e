package webauthn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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
	keyHandle = "webauthn:handle:" // state: the account a user handle names
	// ledger: a discovery ceremony that was answered (discoveredKey)
	keyDiscovered = "webauthn:discovered:"
	// maxCeremonyID bounds the id a discovery ceremony is filed under.
	maxCeremonyID = 256
	// maxHandleSize is the longest user handle WebAuthn §5.4.3 allows.
	maxHandleSize = 64
)

const handleIndexDomain = "twofactor webauthn user handle index v1\x00"

// handleKey names the index entry of a user handle. Like claimKey it is a
// plain SHA-256 of the RP id and the handle, not a keyed hash, so that a
// key rotation does not lose the index; the handle is random and says
// nothing of the account, and the entry holds the user id it names.
func (f *Factor) handleKey(handle []byte) string {
	h := sha256.New()
	h.Write([]byte(handleIndexDomain))
	h.Write([]byte(f.rpID))
	h.Write([]byte{0})
	h.Write(handle)
	return keyHandle + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// indexHandle records that handle names the account userID, for as long
// as a claim lasts: a passkey's answer carries the handle, and
// FinishDiscovery finds the account through it.
func (f *Factor) indexHandle(ctx context.Context, userID string, handle []byte) error {
	if err := f.store.PutState(ctx, f.handleKey(handle), []byte(userID), f.now().Add(claimWindow)); err != nil {
		return fmt.Errorf("webauthn: indexing the user handle: %w", err)
	}
	return nil
}

// handleOwner returns the account the index says handle names.
func (f *Factor) handleOwner(ctx context.Context, handle []byte) (string, bool, error) {
	v, err := f.store.GetState(ctx, f.handleKey(handle))
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("webauthn: reading the user handle index: %w", err)
	}
	return string(v), len(v) > 0, nil
}

// holdsHandle reports whether one of creds carries handle.
func holdsHandle(creds []stored, handle []byte) bool {
	for _, c := range creds {
		if bytes.Equal(c.data.UserHandle, handle) {
			return true
		}
	}
	return false
}

// forgetHandle drops the index entry of handle once no credential of the
// user carries it, after a removal: the user's next registration gets a
// new handle. A registration confirmed at the same moment writes its
// record, then the index; so the credentials are read again after the
// delete, and an entry a new credential needs is written back.
func (f *Factor) forgetHandle(ctx context.Context, userID string, handle []byte) error {
	if len(handle) == 0 {
		return nil
	}
	creds, err := f.load(ctx, userID)
	if err != nil {
		return err
	}
	if holdsHandle(creds, handle) {
		return nil
	}
	owner, ok, err := f.handleOwner(ctx, handle)
	if err != nil || !ok || owner != userID {
		return err
	}
	if err := f.store.DeleteState(ctx, f.handleKey(handle)); err != nil {
		return fmt.Errorf("webauthn: deleting the user handle index: %w", err)
	}
	if creds, err = f.load(ctx, userID); err != nil {
		return err
	}
	if holdsHandle(creds, handle) {
		return f.indexHandle(ctx, userID, handle)
	}
	return nil
}

// UserHandle returns the handle the user's credentials carry (user.id,
// WebAuthn §5.4.3), or nil when the user has none. A page gives it, with
// the credential ids of Credentials, to the browser's signal methods
// (PublicKeyCredential.signalAllAcceptedCredentials and
// signalCurrentUserDetails, WebAuthn Level 3), so that passkey managers
// forget credentials the site removed. It is opaque and random, not a
// secret; it says nothing about the account.
func (f *Factor) UserHandle(ctx context.Context, userID string) ([]byte, error) {
	if err := twofactor.CheckUserID(userID); err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	creds, err := f.load(ctx, userID)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(storedHandle(creds)), nil
}

// errDiscovery is every refusal of a discovery answer that parses: an
// unknown ceremony or credential, a handle of no account, a credential of
// another account or not registered as a passkey, a bad signature, no user
// verification, an authenticator the policy refuses, a counter that did
// not increase. One value with one message, so that a refusal says
// nothing about which accounts or credentials exist.
var errDiscovery error = &rejection{"webauthn: passkey not accepted", ReasonRejected, twofactor.ErrInvalidCode}

// A discovery ceremony keeps nothing in the store until it is answered:
// anyone may open a login page, and each view would otherwise write a
// ceremony. Its challenge (WebAuthn §13.4.3) carries what an answer is
// checked against instead: the ceremony's end, as 8 bytes of Unix
// milliseconds, then a keyed hash (keyring.Ring.Hash) of the relying
// party, the ceremony's id and that end. The id is random and the hash
// keyed, so the challenge is as unpredictable as a random one; the
// authenticator signs the client data that holds it, so an answer cannot
// move the end. An answer that parses is recorded under the id in the
// Ledger until the end (store.Ledger.MarkUsed), so each ceremony takes one.
const discoveryDomain = "twofactor webauthn discovery challenge v1\x00"

// discoveredKey is the Ledger key that marks ceremony id answered: a
// SHA-256 of the id, so that the key stays within store.MaxKeyLen for
// every id BeginDiscovery accepts.
func discoveredKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return keyDiscovered + base64.RawURLEncoding.EncodeToString(sum[:])
}

// discoveryChallenge returns the challenge of ceremony id ending at end.
func (f *Factor) discoveryChallenge(id string, end int64) []byte {
	out := binary.BigEndian.AppendUint64(nil, uint64(end))
	return append(out, f.keys.Hash(discoveryDomain, f.ceremonyInput(end, id))...)
}

// discoveryEnd checks that challenge is one discoveryChallenge made for
// ceremony id under a key of the ring, and returns the end it carries.
func (f *Factor) discoveryEnd(id string, challenge []byte) (time.Time, bool) {
	if len(challenge) <= 8 {
		return time.Time{}, false
	}
	end := int64(binary.BigEndian.Uint64(challenge[:8]))
	if !f.keys.MatchHash(discoveryDomain, f.ceremonyInput(end, id), challenge[8:]) {
		return time.Time{}, false
	}
	return time.UnixMilli(end), true
}

// discoverySession is the go-webauthn session of a discovery ceremony
// whose challenge is challenge, as BeginDiscovery made it.
func (f *Factor) discoverySession(challenge []byte) (*protocol.CredentialAssertion, *gowebauthn.SessionData, error) {
	return f.wa.BeginDiscoverableLogin(gowebauthn.WithUserVerification(protocol.VerificationRequired), gowebauthn.WithChallenge(challenge))
}

// BeginDiscovery starts a sign-in with a passkey (twofactor.Discoverer):
// it returns the request options for navigator.credentials.get as JSON
// ({"publicKey": {...}}, as Start does), with no allow list, so the
// browser offers every passkey it holds for the relying party, and user
// verification required. Whether the browser asks in a login form's
// autofill (mediation "conditional") or in a dialog is the page's choice;
// the options name none. The ceremony is valid under id until expiresAt
// (to the millisecond), and the browser's timeout is the time until then.
// It writes nothing: the challenge itself carries what the answer is
// checked against, so a login page costs no store call however often it
// is opened.
func (f *Factor) BeginDiscovery(_ context.Context, id string, expiresAt time.Time) (json.RawMessage, error) {
	if id == "" || len(id) > maxCeremonyID {
		return nil, invalidInput("a ceremony id is 1 to %d bytes", maxCeremonyID)
	}
	now := f.now()
	end := expiresAt.UnixMilli()
	if end <= now.UnixMilli() {
		return nil, invalidInput("the ceremony would expire before it starts")
	}
	assertion, _, err := f.discoverySession(f.discoveryChallenge(id, end))
	if err != nil {
		return nil, fmt.Errorf("webauthn: beginning discovery: %w", err)
	}
	assertion.Response.Timeout = int(time.UnixMilli(end).Sub(now).Milliseconds())
	return json.Marshal(assertion)
}

// FinishDiscovery checks the browser's answer to discovery ceremony id
// (the JSON of the PublicKeyCredential that navigator.credentials.get
// returned) and returns the account whose passkey answered
// (twofactor.Discoverer). Once the answer parses and its challenge is the
// ceremony's, unexpired, the ceremony is marked answered, before anything
// else is checked: each BeginDiscovery allows one answer, right or wrong,
// and of concurrent answers at most one succeeds.
//
// The answer's user handle names the account, through the index
// ConfirmEnroll keeps; the credential must be one of that account's,
// carry the same handle, and have been registered as a passkey
// (EnrollRequest.Passkey); the signature must verify (WebAuthn §7.2), with
// the user verified (the UV flag); the authenticator policy of the Config
// must accept it; and its signature counter must increase, as in Verify.
// On success the credential's last use is set, and Discovered holds the
// user id, the credential's EnrollmentID, the method references of the
// answer, and UserVerified.
//
// Errors: an answer that does not parse matches twofactor.ErrInvalidInput.
// Every other refusal is one error value, matching
// twofactor.ErrInvalidCode, whatever the cause, and returns no user: it
// says nothing about which accounts or credentials exist. A refusal emits
// no event that names a user (a counter that did not increase emits an
// event.Warning with the credential's EnrollmentID alone). Any other
// error is a system failure; none lets anyone in.
func (f *Factor) FinishDiscovery(ctx context.Context, id, answer string) (twofactor.Discovered, error) {
	if id == "" || len(id) > maxCeremonyID {
		return twofactor.Discovered{}, errDiscovery
	}
	parsed, err := parseAssertion([]byte(answer))
	if err != nil {
		return twofactor.Discovered{}, err
	}
	challenge, err := base64.RawURLEncoding.DecodeString(parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return twofactor.Discovered{}, errDiscovery
	}
	end, ok := f.discoveryEnd(id, challenge)
	now := f.now()
	if !ok || !now.Before(end) {
		return twofactor.Discovered{}, errDiscovery
	}
	first, err := f.store.MarkUsed(ctx, discoveredKey(id), end)
	if err != nil {
		return twofactor.Discovered{}, fmt.Errorf("webauthn: marking the discovery ceremony answered: %w", err)
	}
	if !first {
		return twofactor.Discovered{}, errDiscovery
	}
	_, session, err := f.discoverySession(challenge)
	if err != nil {
		return twofactor.Discovered{}, fmt.Errorf("webauthn: discovery session: %w", err)
	}
	handle := []byte(parsed.Response.UserHandle)
	if len(handle) == 0 || len(handle) > maxHandleSize {
		return twofactor.Discovered{}, errDiscovery
	}
	userID, ok, err := f.handleOwner(ctx, handle)
	if err != nil {
		return twofactor.Discovered{}, err
	}
	if !ok {
		return twofactor.Discovered{}, errDiscovery
	}
	creds, err := f.load(ctx, userID)
	if err != nil {
		return twofactor.Discovered{}, err
	}
	idx := -1
	for i := range creds {
		if bytes.Equal(creds[i].data.CredentialID, parsed.RawID) {
			idx = i
			break
		}
	}
	if idx < 0 || !creds[idx].data.Passkey || !bytes.Equal(creds[idx].data.UserHandle, handle) {
		return twofactor.Discovered{}, errDiscovery
	}
	c := creds[idx]
	u := newWAUser(twofactor.User{ID: userID}, handle, creds[idx:idx+1])
	owner := func(_, _ []byte) (gowebauthn.User, error) { return u, nil }
	if _, _, err := f.wa.ValidatePasskeyLogin(owner, *session, parsed); err != nil {
		return twofactor.Discovered{}, errDiscovery
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if !flags.HasUserVerified() {
		return twofactor.Discovered{}, errDiscovery
	}
	if f.checkAuthenticator(c.data.AAGUID, c.flags().BackupEligible) != nil {
		return twofactor.Discovered{}, errDiscovery
	}
	v, err := f.accept(ctx, userID, c, parsed, now,
		event.Event{UserID: userID, Label: c.rec.Label, Purpose: twofactor.PurposeLogin}, true, true, nil)
	if errors.Is(err, ErrSignCountRegressed) {
		return twofactor.Discovered{}, errDiscovery
	}
	if err != nil {
		return twofactor.Discovered{}, err
	}
	return twofactor.Discovered{UserID: userID, Verified: v, UserVerified: true}, nil
}
