package webauthn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

const (
	keyLogin     = "webauthn:login:" // ledger: an answered login ceremony, by challenge key and nonce
	keySignCount = "webauthn:sc:"    // ledger: highest signature counter of a credential
	keyCounts    = "webauthn:scnz:"  // state: a credential registered with counter zero has counted since
	// signCountTTL is how long a counter mark is kept; the record keeps the
	// counter too, so an expired mark only loses the atomicity.
	signCountTTL = 10 * 365 * 24 * time.Hour
)

func signCountKey(userID, enrollmentID string) string {
	return keySignCount + enrollmentID + ":" + userID
}

func countsKey(userID, enrollmentID string) string {
	return keyCounts + enrollmentID + ":" + userID
}

// A login ceremony keeps nothing in the store until it is answered, as a
// discovery ceremony does: its challenge (WebAuthn §13.4.3) is its end, as
// 8 bytes of Unix milliseconds, a random nonce of its own, then a keyed
// hash (keyring.Ring.Hash) of the relying party, the challenge's key, the
// user, the nonce and that end, so an answer is checked against the
// challenge the authenticator signed, and cannot be moved to another
// challenge, user or end. An answer marks its ceremony (the challenge's
// key and the nonce) answered in the Ledger until the end
// (store.Ledger.MarkUsed): one answer a ceremony.
const (
	loginDomain = "twofactor webauthn login challenge v1\x00"
	nonceSize   = 16
)

// loginChallenge returns the challenge of a new ceremony of ch ending at
// end (Unix milliseconds).
func (f *Factor) loginChallenge(ch *twofactor.Challenge, end int64) ([]byte, error) {
	nonce, err := secure.Bytes(f.rand, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("webauthn: drawing a nonce: %w", err)
	}
	out := binary.BigEndian.AppendUint64(nil, uint64(end))
	out = append(out, nonce...)
	return append(out, f.keys.Hash(loginDomain, f.ceremonyInput(end, ch.Key(), ch.User.ID, string(nonce)))...), nil
}

// loginEnd checks that challenge is one loginChallenge made for ch under a
// key of the ring, and returns the end it carries and the ledger key that
// marks its ceremony answered.
func (f *Factor) loginEnd(ch *twofactor.Challenge, challenge []byte) (end int64, mark string, ok bool) {
	if len(challenge) <= 8+nonceSize {
		return 0, "", false
	}
	end = int64(binary.BigEndian.Uint64(challenge[:8]))
	nonce := challenge[8 : 8+nonceSize]
	if !f.keys.MatchHash(loginDomain, f.ceremonyInput(end, ch.Key(), ch.User.ID, string(nonce)), challenge[8+nonceSize:]) {
		return 0, "", false
	}
	return end, keyLogin + ch.Key() + ":" + base64.RawURLEncoding.EncodeToString(nonce), true
}

// ceremonyInput is what the hash of a ceremony's challenge covers: the
// relying party and parts, each length-prefixed, then the ceremony's end.
func (f *Factor) ceremonyInput(end int64, parts ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(f.rpID)))
	b = append(b, f.rpID...)
	for _, part := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	return binary.BigEndian.AppendUint64(b, uint64(end))
}

// Start begins the login ceremony for a challenge: it returns the request
// options for navigator.credentials.get as JSON ({"publicKey": {...}}),
// allowing the user's registered credentials, valid until Config.Timeout
// or the challenge's end, whichever comes first. It reads the user's
// credentials and writes nothing. Each Start makes a ceremony of its own,
// which takes one answer. A user with no credential gets
// twofactor.ErrNotEnrolled.
func (f *Factor) Start(ctx context.Context, ch *twofactor.Challenge) (json.RawMessage, error) {
	return f.start(ctx, ch, nil)
}

// StartRecords is Start with the user's enrollment records already read
// (twofactor.RecordStarter): the Service reads them in the round trip
// that checks that the challenge can still be answered.
func (f *Factor) StartRecords(ctx context.Context, ch *twofactor.Challenge, records []store.EnrollmentRecord) (json.RawMessage, error) {
	if records == nil {
		records = []store.EnrollmentRecord{}
	}
	return f.start(ctx, ch, records)
}

// start is Start, with the credentials read when records is nil.
func (f *Factor) start(ctx context.Context, ch *twofactor.Challenge, records []store.EnrollmentRecord) (json.RawMessage, error) {
	if ch == nil || ch.ID == "" {
		return nil, invalidInput("no challenge")
	}
	if err := checkUser(ch.User); err != nil {
		return nil, err
	}
	now := f.now()
	if !now.Before(ch.ExpiresAt) {
		return nil, twofactor.ErrChallengeNotFound
	}
	var creds []stored
	var err error
	if records == nil {
		creds, err = f.load(ctx, ch.User.ID)
	} else {
		creds, err = decodeCreds(ch.User.ID, records)
	}
	if err != nil {
		return nil, err
	}
	if len(creds) == 0 {
		return nil, twofactor.ErrNotEnrolled
	}
	handle, err := f.userHandle(creds)
	if err != nil {
		return nil, err
	}
	end := min(now.Add(f.timeout).UnixMilli(), ch.ExpiresAt.UnixMilli())
	if end <= now.UnixMilli() {
		return nil, twofactor.ErrChallengeNotFound
	}
	challenge, err := f.loginChallenge(ch, end)
	if err != nil {
		return nil, err
	}
	assertion, _, err := f.wa.BeginLogin(newWAUser(ch.User, handle, creds), gowebauthn.WithChallenge(challenge))
	if err != nil {
		return nil, fmt.Errorf("webauthn: beginning login: %w", err)
	}
	assertion.Response.Timeout = int(end - now.UnixMilli())
	return json.Marshal(assertion)
}

// Cancel has nothing to delete: a login ceremony keeps nothing in the
// store, and the Service refuses every answer to a challenge that ended
// before a factor sees it.
func (f *Factor) Cancel(context.Context, *twofactor.Challenge) error { return nil }

// CheckAnswer checks, without any store access, that answer has the form
// of a login response: a JSON object of at most MaxAssertionSize bytes that
// parses as a WebAuthn assertion. It returns an error matching
// twofactor.ErrInvalidInput otherwise.
func (f *Factor) CheckAnswer(answer string) error {
	_, err := parseAssertion([]byte(answer))
	return err
}

func parseAssertion(b []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if err := checkJSONObject(b, MaxAssertionSize); err != nil {
		return nil, err
	}
	p, err := protocol.ParseCredentialRequestResponseBytes(b)
	if err != nil {
		return nil, invalidInput("response is not an assertion credential")
	}
	return p, nil
}

// Verify checks the browser's assertion (the JSON of the
// PublicKeyCredential that navigator.credentials.get returned) for the
// challenge. Once the answer parses and its challenge is one Start made for
// this challenge and user, unexpired, the ceremony is marked answered
// before anything else is checked, so each Start allows one Verify, right
// or wrong. On success Verified.RecordUse asks the Service to record the
// credential's last use; nothing else of its record is written.
//
// The signature counter check follows WebAuthn §7.2
// "Verifying an Authentication Assertion" and §6.1.1: a counter that does
// not increase, or zero after a counter that was not, may be a cloned
// authenticator. The highest counter seen is kept as a store.Ledger
// high-water mark, which makes the check atomic across app instances: of
// concurrent assertions carrying one counter value (copies of one key),
// one passes.
//
// Errors: a malformed answer matches twofactor.ErrInvalidInput and touches
// no state. ErrCeremonyNotFound (an answered ceremony: a replay),
// ErrCeremonyExpired, ErrRejected (a challenge Start did not make for
// this challenge, a wrong origin, signature...),
// ErrUnknownCredential and ErrSignCountRegressed all match
// twofactor.ErrInvalidCode and change nothing but the used ceremony. A
// credential that verifies but that the authenticator policy (Config.
// AllowedAAGUIDs, DeniedAAGUIDs, RefuseSynced) refuses, registered before
// the policy changed, fails with ErrAuthenticatorNotAllowed or
// ErrSyncedRefused, which match twofactor.ErrInvalidInput. Any other
// error is a system failure; none lets the user in.
func (f *Factor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	return f.verify(ctx, ch, answer, how{})
}

// VerifyRecords is Verify with the user's enrollment records already read
// (twofactor.RecordVerifier): the Service reads them in the round trip
// that counts the answer.
func (f *Factor) VerifyRecords(ctx context.Context, ch *twofactor.Challenge, answer string, records []store.EnrollmentRecord) (twofactor.Verified, error) {
	return f.verify(ctx, ch, answer, how{records: given(records)})
}

// VerifyMarked is VerifyRecords for a caller that runs the ceremony's
// single-use mark itself (twofactor.MarkVerifier, CounterVerifier): the
// assertion is checked first, and the mark is returned unwritten as
// Verified.Mark, a store.OpAdvance to 1 of the key Verify marks with
// store.Ledger.MarkUsed, which the ledger takes for the same mark. Under
// SignCountReject, a counter above the one the credential registered
// with is returned unwritten too, as Verified.CounterMark, the
// credential's high-water mark raised to it: the Service runs both in
// the round trip that ends the challenge, the counter only when the mark
// was new, so that an answer submitted twice is a replay and never
// passes for a cloned key, and it ends the challenge only when the
// counter rose (else it asks CounterRefused). A zero counter of a
// credential that registered with zero is checked first, by a read, as
// Verify checks it (VerifyOpsMarked has it read with the count); every
// counter under SignCountWarn, which refuses nothing, is written first.
// A signature counter that did not increase and is known to be so
// without the ledger is refused, or warned of, before anything is
// written.
func (f *Factor) VerifyMarked(ctx context.Context, ch *twofactor.Challenge, answer string, records []store.EnrollmentRecord) (twofactor.Verified, error) {
	return f.verify(ctx, ch, answer, how{records: given(records), leave: true})
}

// CheckOps returns the read that the Service runs in the round trip that
// counts answer (twofactor.BatchVerifier, BatchMarkVerifier): whether
// the credential that signed it, should it have registered with a zero
// signature counter, has counted since. A zero counter of such a
// credential is then checked, and a first count recorded, with no round
// trip of their own. An answer that is not an assertion is
// twofactor.ErrInvalidInput.
func (f *Factor) CheckOps(ch *twofactor.Challenge, answer string) ([]store.Op, error) {
	op, err := countsOp(ch, answer)
	if err != nil {
		return nil, err
	}
	return []store.Op{op}, nil
}

// countsOp is CheckOps's read, of the "counts" mark of the credential
// that signed answer, by the id that registration gives its record. It
// reads the credential's id alone, as the full parse reads it: verify
// parses the answer, and holds the read to that parse's id.
func countsOp(ch *twofactor.Challenge, answer string) (store.Op, error) {
	if ch == nil || ch.ID == "" {
		return store.Op{}, invalidInput("no challenge")
	}
	if err := checkJSONObject([]byte(answer), MaxAssertionSize); err != nil {
		return store.Op{}, err
	}
	var a struct {
		RawID protocol.URLEncodedBase64 `json:"rawId"`
	}
	if err := json.Unmarshal([]byte(answer), &a); err != nil || len(a.RawID) == 0 {
		return store.Op{}, invalidInput("response is not an assertion credential")
	}
	return store.Op{Kind: store.OpGetState, Key: countsKey(ch.User.ID, enrollmentID(a.RawID))}, nil
}

// VerifyOps is Verify with ops, CheckOps's read, run (twofactor.
// BatchVerifier).
func (f *Factor) VerifyOps(ctx context.Context, ch *twofactor.Challenge, answer string, ops []store.Op) (twofactor.Verified, error) {
	h, err := countsRead(ops)
	if err != nil {
		return twofactor.Verified{}, err
	}
	return f.verify(ctx, ch, answer, h)
}

// VerifyOpsMarked is VerifyMarked with ops, CheckOps's read, run
// (twofactor.BatchMarkVerifier): the Service runs it with the count and
// the records.
func (f *Factor) VerifyOpsMarked(ctx context.Context, ch *twofactor.Challenge, answer string, ops []store.Op, records []store.EnrollmentRecord) (twofactor.Verified, error) {
	h, err := countsRead(ops)
	if err != nil {
		return twofactor.Verified{}, err
	}
	h.records, h.leave = given(records), true
	return f.verify(ctx, ch, answer, h)
}

// errForeignRead is the error of a read handed back to VerifyOps or
// VerifyOpsMarked that is not the one CheckOps made for the answer, or
// that did not run: an error, never a finding.
var errForeignRead = errors.New("webauthn: the signature counter's read is not the one CheckOps gave, or did not run")

// countsRead returns how verify checks an answer with ops, CheckOps's
// read once run: knowing whether the credential counts, from a read of
// the key that verify holds to the answer.
func countsRead(ops []store.Op) (how, error) {
	if len(ops) != 1 || ops[0].Kind != store.OpGetState || ops[0].Skipped {
		return how{}, errForeignRead
	}
	counts := ops[0].Found
	return how{counts: &counts, countsKey: ops[0].Key}, nil
}

// how says how verify checks an answer: against records, the user's
// records (nil: read them); with leave, leaving the ceremony's mark, and
// under SignCountReject a counter that rose, to the caller
// (VerifyMarked); knowing, when counts is set, whether the credential,
// registered with a zero counter, has counted since, as read under
// countsKey (else read when needed).
type how struct {
	records   []store.EnrollmentRecord
	leave     bool
	counts    *bool
	countsKey string
}

// given is records, as the Service gives them: none is an empty list, not
// nil, which would make verify read them.
func given(records []store.EnrollmentRecord) []store.EnrollmentRecord {
	if records == nil {
		return []store.EnrollmentRecord{}
	}
	return records
}

// CounterRefused reports an answer that VerifyMarked or VerifyOpsMarked
// accepted as got whose signature counter, got.CounterMark, the Service
// found did not rise: another assertion with that counter or a higher one
// was accepted first, a sign of a cloned authenticator (WebAuthn §6.1.1).
// It emits the event.Warning with reason event.ReasonSignCount that
// Verify emits, and returns ErrSignCountRegressed.
func (f *Factor) CounterRefused(ctx context.Context, ch *twofactor.Challenge, got twofactor.Verified, records []store.EnrollmentRecord) error {
	if ch == nil {
		return invalidInput("no challenge")
	}
	label := ""
	for _, r := range records {
		if r.ID == got.EnrollmentID && r.UserID == ch.User.ID && r.Method == string(twofactor.MethodWebAuthn) {
			label = r.Label
		}
	}
	f.emit(ctx, f.signCountWarning(event.Event{UserID: ch.User.ID, ChallengeID: ch.Key(), Purpose: ch.Purpose, Label: label},
		got.EnrollmentID, uint32(got.CounterMark.Mark)))
	return ErrSignCountRegressed
}

// signCountWarning completes warn, the event of a verification, as the
// warning of a signature counter got of enrollment id that did not rise.
func (f *Factor) signCountWarning(warn event.Event, id string, got uint32) event.Event {
	warn.Type, warn.Reason, warn.EnrollmentID, warn.Count = event.Warning, event.ReasonSignCount, id, signCount(got)
	warn.Details = map[string]string{event.DetailPolicy: f.signPolicyName()}
	return warn
}

// verify is Verify, checking the answer as h says.
func (f *Factor) verify(ctx context.Context, ch *twofactor.Challenge, answer string, h how) (twofactor.Verified, error) {
	if ch == nil || ch.ID == "" {
		return twofactor.Verified{}, invalidInput("no challenge")
	}
	parsed, err := parseAssertion([]byte(answer))
	if err != nil {
		return twofactor.Verified{}, err
	}
	if h.counts != nil && h.countsKey != countsKey(ch.User.ID, enrollmentID(parsed.RawID)) {
		return twofactor.Verified{}, errForeignRead
	}
	challenge, err := base64.RawURLEncoding.DecodeString(parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return twofactor.Verified{}, ErrRejected
	}
	end, mark, ok := f.loginEnd(ch, challenge)
	if !ok {
		return twofactor.Verified{}, ErrRejected // not a ceremony Start made for ch
	}
	now := f.now()
	if now.UnixMilli() >= end {
		return twofactor.Verified{}, ErrCeremonyExpired
	}
	if !h.leave {
		if err := f.spend(ctx, mark, end); err != nil {
			return twofactor.Verified{}, err
		}
		return f.check(ctx, ch, parsed, challenge, now, h)
	}
	v, err := f.check(ctx, ch, parsed, challenge, now, h)
	if err != nil {
		// A wrong answer spends its ceremony as Verify's does: the mark
		// comes after the check, here, and a ceremony answered already
		// makes the answer a replay.
		if serr := f.spend(ctx, mark, end); serr != nil {
			return twofactor.Verified{}, serr
		}
		return twofactor.Verified{}, err
	}
	v.Mark = store.Op{Kind: store.OpAdvance, Key: mark, Mark: 1, Time: time.UnixMilli(end)}
	return v, nil
}

// spend marks the login ceremony mark, ending at end (Unix ms), answered
// (store.Ledger.MarkUsed), and returns ErrCeremonyNotFound when it was.
func (f *Factor) spend(ctx context.Context, mark string, end int64) error {
	first, err := f.store.MarkUsed(ctx, mark, time.UnixMilli(end))
	if err != nil {
		return fmt.Errorf("webauthn: marking the login ceremony answered: %w", err)
	}
	if !first {
		return ErrCeremonyNotFound
	}
	return nil
}

// check verifies parsed, an answer to ch whose ceremony has challenge, at
// now, against the user's credentials, and checks its signature counter,
// as h says; with h.leave, a counter that rose under SignCountReject is
// returned as Verified.CounterMark (VerifyMarked).
func (f *Factor) check(ctx context.Context, ch *twofactor.Challenge, parsed *protocol.ParsedCredentialAssertionData, challenge []byte,
	now time.Time, h how) (twofactor.Verified, error) {
	var creds []stored
	var err error
	if h.records == nil {
		creds, err = f.load(ctx, ch.User.ID)
	} else {
		creds, err = decodeCreds(ch.User.ID, h.records)
	}
	if err != nil {
		return twofactor.Verified{}, err
	}
	idx := -1
	for i := range creds {
		if bytes.Equal(creds[i].data.CredentialID, parsed.RawID) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return twofactor.Verified{}, ErrUnknownCredential
	}
	handle, err := f.userHandle(creds)
	if err != nil {
		return twofactor.Verified{}, err
	}
	u := newWAUser(ch.User, handle, creds)
	_, session, err := f.wa.BeginLogin(u, gowebauthn.WithChallenge(challenge))
	if err != nil {
		return twofactor.Verified{}, fmt.Errorf("webauthn: login session: %w", err)
	}
	if _, err := f.wa.ValidateLogin(u, *session, parsed); err != nil {
		var unknown *protocol.ErrorUnknownCredential
		if errors.As(err, &unknown) {
			return twofactor.Verified{}, ErrUnknownCredential
		}
		return twofactor.Verified{}, rejected(err)
	}
	c := creds[idx]
	if err := f.checkAuthenticator(c.data.AAGUID, c.flags().BackupEligible); err != nil {
		return twofactor.Verified{}, err
	}
	if c.rec.ID != enrollmentID(parsed.RawID) {
		h.counts = nil // read under another record id than its own: read again
	}
	got := parsed.Response.AuthenticatorData.Counter
	if !h.leave || f.signPol != SignCountReject || got <= c.data.SignCount {
		return f.accept(ctx, ch.User.ID, c, parsed, now,
			event.Event{UserID: ch.User.ID, ChallengeID: ch.Key(), Purpose: ch.Purpose, Label: c.rec.Label}, false, false, h.counts)
	}
	if c.data.SignCount == 0 && (h.counts == nil || !*h.counts) {
		// The credential counts: its zero counters are refused from now
		// on, whether or not this one rises.
		if err := f.store.PutState(ctx, countsKey(ch.User.ID, c.rec.ID), []byte{1}, now.Add(signCountTTL)); err != nil {
			return twofactor.Verified{}, fmt.Errorf("webauthn: recording signature counter: %w", err)
		}
	}
	v := f.verified(c, parsed, false)
	v.CounterMark = store.Op{Kind: store.OpAdvance, Key: signCountKey(ch.User.ID, c.rec.ID), Mark: int64(got), Time: now.Add(signCountTTL)}
	return v, nil
}

// accept ends a verified assertion by credential c of user userID, for
// Verify and FinishDiscovery: the signature counter check (WebAuthn
// §6.1.1), then the last use: written here with touch (FinishDiscovery,
// which no challenge ends), else left to the Service, which writes it in
// the round trip that completes the challenge (Verified.RecordUse), for
// the answer that completes it. A counter that did not increase emits
// warn as an event.Warning with reason event.ReasonSignCount, the
// credential's EnrollmentID, the counter received and the policy, and
// fails with ErrSignCountRegressed under SignCountReject; with anonymous,
// the warning of a refusal names neither the user nor the credential's
// label. counts, when set, says whether the credential, registered with a
// zero counter, has counted since (else it is read when needed).
func (f *Factor) accept(ctx context.Context, userID string, c stored, parsed *protocol.ParsedCredentialAssertionData,
	now time.Time, warn event.Event, anonymous, touch bool, counts *bool) (twofactor.Verified, error) {
	got := parsed.Response.AuthenticatorData.Counter
	regressed, err := f.signCountRegressed(ctx, userID, c, got, now, counts)
	if err != nil {
		return twofactor.Verified{}, err
	}
	if regressed {
		warn = f.signCountWarning(warn, c.rec.ID, got)
		refused := f.signPol == SignCountReject
		if refused && anonymous {
			warn.UserID, warn.Label = "", ""
		}
		f.emit(ctx, warn)
		if refused {
			return twofactor.Verified{}, ErrSignCountRegressed
		}
	}
	v := f.verified(c, parsed, touch)
	if touch {
		if err := f.touch(ctx, c.rec, now); err != nil {
			return twofactor.Verified{}, err
		}
	}
	return v, nil
}

// verified is what a verified assertion by credential c proves; with
// touch, the caller writes its last use itself.
func (f *Factor) verified(c stored, parsed *protocol.ParsedCredentialAssertionData, touch bool) twofactor.Verified {
	return twofactor.Verified{EnrollmentID: c.rec.ID, AMR: assertionAMR(parsed.Response.AuthenticatorData.Flags), RecordUse: !touch}
}

// assertionAMR returns the RFC 8176 method references of an assertion
// with authenticator data flags fl (W3C WebAuthn Level 3 section 6.1):
// "hwk" for a credential that cannot be backed up (device-bound) or
// "swk" for one that can (a synced passkey), "user" for user presence,
// and "mfa" when the authenticator verified the user. See
// Factor.Assurance.
func assertionAMR(fl protocol.AuthenticatorFlags) []string {
	amr := make([]string, 0, 3)
	if fl.HasBackupEligible() {
		amr = append(amr, "swk")
	} else {
		amr = append(amr, "hwk")
	}
	if fl.HasUserPresent() {
		amr = append(amr, "user")
	}
	if fl.HasUserVerified() {
		amr = append(amr, "mfa")
	}
	return amr
}

// signCountRegressed reports whether got, the counter of a verified
// assertion by credential c, fails to increase. The record holds the
// counter of the registration; every counter accepted since is in the
// ledger, as a high-water mark (raising it is the check) and, once a
// credential registered with zero reports more, as a mark that it counts,
// so that a zero afterwards is refused as well. counts, when set, is that
// mark, read already.
func (f *Factor) signCountRegressed(ctx context.Context, userID string, c stored, got uint32, now time.Time, counts *bool) (bool, error) {
	had := c.data.SignCount
	switch {
	case got == 0 && had == 0 && counts != nil:
		return *counts, nil
	case got == 0 && had == 0:
		// An authenticator without a counter reports zero every time; one
		// that counted since registration must not go back to zero.
		_, err := f.store.GetState(ctx, countsKey(userID, c.rec.ID))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("webauthn: reading signature counter: %w", err)
		}
		return true, nil
	case got <= had:
		return true, nil
	}
	advanced, err := f.store.Advance(ctx, signCountKey(userID, c.rec.ID), int64(got), now.Add(signCountTTL))
	if err != nil {
		return false, fmt.Errorf("webauthn: recording signature counter: %w", err)
	}
	if advanced && had == 0 && (counts == nil || !*counts) {
		if err := f.store.PutState(ctx, countsKey(userID, c.rec.ID), []byte{1}, now.Add(signCountTTL)); err != nil {
			return false, fmt.Errorf("webauthn: recording signature counter: %w", err)
		}
	}
	return !advanced, nil
}

// touch records a successful login as the credential's last use: with
// store.EnrollmentToucher, which sets that field alone, so a rename at the
// same moment is kept; on other stores by rewriting the record, where a
// rename racing the login may be lost.
func (f *Factor) touch(ctx context.Context, rec store.EnrollmentRecord, now time.Time) error {
	if t, ok := f.store.(store.EnrollmentToucher); ok {
		if err := t.TouchEnrollment(ctx, rec.UserID, rec.ID, now); err != nil {
			return fmt.Errorf("webauthn: recording last use: %w", err)
		}
		return nil
	}
	cur, err := f.store.GetEnrollment(ctx, rec.UserID, rec.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // removed meanwhile: not brought back
	}
	if err != nil {
		return fmt.Errorf("webauthn: recording last use: %w", err)
	}
	if !now.After(cur.LastUsedAt) {
		return nil
	}
	cur.LastUsedAt = now
	if err := f.store.PutEnrollment(ctx, cur); err != nil {
		return fmt.Errorf("webauthn: recording last use: %w", err)
	}
	return nil
}

func (f *Factor) signPolicyName() string {
	if f.signPol == SignCountWarn {
		return "warn"
	}
	return "reject"
}

// signCount is a received signature counter as an event's Count, clamped
// where int is 32 bits wide.
func signCount(n uint32) int {
	if uint64(n) > math.MaxInt {
		return math.MaxInt
	}
	return int(n)
}
