package webauthn_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

// handleKey is the store key of a user handle's index entry: SHA-256 of a
// domain string, the RP id and the handle, as the factor writes it.
func handleKey(rpID string, handle []byte) string {
	h := sha256.New()
	h.Write([]byte("twofactor webauthn user handle index v1\x00"))
	h.Write([]byte(rpID))
	h.Write([]byte{0})
	h.Write(handle)
	return "webauthn:handle:" + b64.EncodeToString(h.Sum(nil))
}

// indexed returns the user id the index holds for handle, "" for none.
func (fx *fixture) indexed(handle []byte) string {
	fx.t.Helper()
	v, err := fx.mem.GetState(fx.ctx, handleKey(testRPID, handle))
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	require.NoError(fx.t, err)
	return string(v)
}

func (fx *fixture) handle(user twofactor.User) []byte {
	fx.t.Helper()
	h, err := fx.f.UserHandle(fx.ctx, user.ID)
	require.NoError(fx.t, err)
	return h
}

var bob = twofactor.User{ID: "user-2", Name: "bob", Email: "bob@example.com"}

// A passkey registration asks for a discoverable credential with user
// verification and the credProps extension; a security-key registration
// stays as it was.
func TestPasskeyRegistrationOptions(t *testing.T) {
	fx := newFixture(t)
	o := parseOptions(t, fx.beginPasskey(fx.user, "phone"))
	sel := o.PublicKey.AuthenticatorSelection
	assert.Equal(t, "required", sel.ResidentKey)
	require.NotNil(t, sel.RequireResidentKey)
	assert.True(t, *sel.RequireResidentKey)
	assert.Equal(t, "required", sel.UserVerification)
	assert.Equal(t, true, o.PublicKey.Extensions["credProps"])
	assert.Equal(t, "none", o.PublicKey.Attestation)

	o = parseOptions(t, fx.begin("key"))
	sel = o.PublicKey.AuthenticatorSelection
	assert.Equal(t, "discouraged", sel.ResidentKey)
	assert.True(t, sel.RequireResidentKey == nil || !*sel.RequireResidentKey)
	assert.Equal(t, "discouraged", sel.UserVerification)
	assert.NotContains(t, o.PublicKey.Extensions, "credProps")
}

// A passkey registration refuses a credential without the UV flag, and
// one the browser reports as not discoverable; the registration stays
// pending for another authenticator. The credential registered is marked
// as a passkey; a security key is not.
func TestPasskeyRegistration(t *testing.T) {
	fx := newFixture(t)
	opts := fx.beginPasskey(fx.user, "phone")

	noUV := newSoftKey(t, testRPID, testOrigin)
	_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(noUV.create(t, opts)))
	require.ErrorIs(t, err, webauthn.ErrRejected)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)

	notRK := newPasskey(t, testRPID, testOrigin)
	rk := false
	notRK.credProps = &rk
	_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, string(notRK.create(t, opts)))
	require.ErrorIs(t, err, webauthn.ErrRejected)
	assert.Contains(t, err.Error(), "not discoverable")
	assert.Empty(t, fx.credentials())

	k := newPasskey(t, testRPID, testOrigin)
	rk = true
	k.credProps = &rk
	e, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, opts)))
	require.NoError(t, err, "the registration was still pending")
	cs := fx.credentials()
	require.Len(t, cs, 1)
	assert.Equal(t, e.ID, cs[0].ID)
	assert.True(t, cs[0].Passkey)
	assert.True(t, e.Passkey)
	assert.False(t, e.Synced)

	// A security key, even one that verifies its user, is not a passkey.
	key := newPasskey(t, testRPID, testOrigin)
	key.flags |= flagBE
	fx.register(key, "key")
	cs = fx.credentials()
	require.Len(t, cs, 2)
	for _, c := range cs {
		assert.Equal(t, c.Name == "phone", c.Passkey, c.Name)
	}
	es, err := fx.f.Enrollments(fx.ctx, fx.user)
	require.NoError(t, err)
	require.Len(t, es, 2)
	for _, e := range es {
		assert.Equal(t, e.Label == "phone", e.Passkey, e.Label)
		assert.Equal(t, e.Label == "key", e.Synced, e.Label)
	}

	// What the browser's signal methods need: the handle and every
	// credential id.
	ids, err := fx.f.CredentialIDs(fx.ctx, fx.user.ID)
	require.NoError(t, err)
	assert.ElementsMatch(t, [][]byte{k.credID, key.credID}, ids)
	assert.Equal(t, k.userHandle, fx.handle(fx.user))
	_, err = fx.f.CredentialIDs(fx.ctx, "")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)

	// One credential's id, by its enrollment, for signalUnknownCredential
	// once it is removed.
	for _, e := range es {
		id, err := fx.f.CredentialID(fx.ctx, fx.user.ID, e.ID)
		require.NoError(t, err)
		want := key.credID
		if e.Label == "phone" {
			want = k.credID
		}
		assert.Equal(t, want, id, e.Label)
	}
	_, err = fx.f.CredentialID(fx.ctx, fx.user.ID, "webauthn-nope")
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	_, err = fx.f.CredentialID(fx.ctx, "", es[0].ID)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// A pending registration remembers its kind: a request of the other kind
// with the same label starts a new ceremony instead of showing it again.
func TestPendingRegistrationKind(t *testing.T) {
	fx := newFixture(t)
	begin := func(passkey bool) options {
		en, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: "k", Passkey: passkey})
		require.NoError(t, err)
		return parseOptions(t, en.Options)
	}
	key := begin(false)
	assert.Equal(t, key.PublicKey.Challenge, begin(false).PublicKey.Challenge, "the same request shows it again")
	pk := begin(true)
	assert.NotEqual(t, key.PublicKey.Challenge, pk.PublicKey.Challenge)
	assert.Equal(t, "required", pk.PublicKey.AuthenticatorSelection.ResidentKey)
	assert.Equal(t, pk.PublicKey.Challenge, begin(true).PublicKey.Challenge)
	key2 := begin(false)
	assert.NotEqual(t, pk.PublicKey.Challenge, key2.PublicKey.Challenge)
	assert.Equal(t, "discouraged", key2.PublicKey.AuthenticatorSelection.ResidentKey)

	// What is confirmed is what is pending: a security key now.
	en, err := fx.f.BeginEnroll(fx.ctx, fx.user, twofactor.EnrollRequest{Label: "k"})
	require.NoError(t, err)
	_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, string(newPasskey(t, testRPID, testOrigin).create(t, en.Options)))
	require.NoError(t, err)
	assert.False(t, fx.credentials()[0].Passkey)
}

// countingReader serves bytes 0, 1, 2... and counts what it served.
type countingReader struct {
	mu sync.Mutex
	n  int
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p {
		p[i] = byte(r.n)
		r.n++
	}
	return len(p), nil
}

// The user handle comes from the Env's randomness: 32 bytes, nothing of
// the user id, email or name.
func TestUserHandleFromEnvRand(t *testing.T) {
	rnd := &countingReader{}
	fx := newFixture(t, func(env *twofactor.Env, _ *webauthn.Config) { env.Rand = rnd })
	o := parseOptions(t, fx.begin("key"))
	want := make([]byte, 32)
	for i := range want {
		want[i] = byte(i)
	}
	assert.Equal(t, b64.EncodeToString(want), o.PublicKey.User.ID)
	assert.Equal(t, 32, rnd.n)
}

// A user handle is random: 32 bytes, different for two users and for the
// same user id under two factors (two sites), with nothing of the user id,
// email or name in it; a user keeps it for every credential, and the index
// names them.
func TestUserHandle(t *testing.T) {
	fx := newFixture(t)
	fx.user.Email = "alice@example.com"
	assert.Nil(t, fx.handle(fx.user), "no credential, no handle")

	fx.register(newSoftKey(t, testRPID, testOrigin), "key")
	h := fx.handle(fx.user)
	require.Len(t, h, 32)
	for _, s := range []string{fx.user.ID, fx.user.Email, fx.user.Name} {
		assert.False(t, bytes.Contains(h, []byte(s)), "handle holds %q", s)
	}
	sum := sha256.Sum256([]byte(fx.user.ID))
	assert.NotEqual(t, sum[:], h)
	assert.Equal(t, fx.user.ID, fx.indexed(h))

	// The second credential, a passkey, gets the same handle.
	o := parseOptions(t, fx.beginPasskey(fx.user, "phone"))
	assert.Equal(t, b64.EncodeToString(h), o.PublicKey.User.ID)
	k := newPasskey(t, testRPID, testOrigin)
	_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, string(k.create(t, fx.beginPasskey(fx.user, "phone"))))
	require.NoError(t, err)
	assert.Equal(t, h, k.userHandle)
	assert.Equal(t, h, fx.handle(fx.user))

	// Another user, and the same user id under another factor.
	fx.registerPasskey(bob, newPasskey(t, testRPID, testOrigin), "phone")
	hb := fx.handle(bob)
	require.Len(t, hb, 32)
	assert.NotEqual(t, h, hb)
	assert.Equal(t, bob.ID, fx.indexed(hb))
	other := newFixture(t)
	other.register(newSoftKey(t, testRPID, testOrigin), "key")
	assert.NotEqual(t, h, other.handle(other.user))

	_, err = fx.f.UserHandle(fx.ctx, "")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// A user whose credentials were registered with a handle of the earlier
// kind (a keyed hash of the user id) keeps it for new credentials.
func TestUserHandleKeptForExistingUsers(t *testing.T) {
	fx := newFixture(t)
	fx.register(newSoftKey(t, testRPID, testOrigin), "key")
	recs, err := fx.mem.ListEnrollments(fx.ctx, fx.user.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	legacy := bytes.Repeat([]byte{0xa5}, 32)
	recs[0].Data = bytes.Replace(recs[0].Data, []byte(`"user_handle":"`+b64std(fx.handle(fx.user))+`"`),
		[]byte(`"user_handle":"`+b64std(legacy)+`"`), 1)
	require.NoError(t, fx.mem.PutEnrollment(fx.ctx, recs[0]))
	require.Equal(t, legacy, fx.handle(fx.user))

	k := newPasskey(t, testRPID, testOrigin)
	fx.registerPasskey(fx.user, k, "phone")
	assert.Equal(t, legacy, k.userHandle)
	assert.Equal(t, fx.user.ID, fx.indexed(legacy), "the index is written for the kept handle")
}

// The index entry stays while a credential carries the handle, and goes
// with the user's last credential, by Remove or RemoveAll; the next
// registration gets a new handle.
func TestHandleIndexRemoved(t *testing.T) {
	fx := newFixture(t)
	first := fx.register(newSoftKey(t, testRPID, testOrigin), "one")
	second := fx.registerPasskey(fx.user, newPasskey(t, testRPID, testOrigin), "two")
	h := fx.handle(fx.user)

	require.NoError(t, fx.f.Remove(fx.ctx, fx.user, first.ID))
	assert.Equal(t, fx.user.ID, fx.indexed(h), "a credential still carries it")
	require.NoError(t, fx.f.Remove(fx.ctx, fx.user, second.ID))
	assert.Empty(t, fx.indexed(h))
	assert.Nil(t, fx.handle(fx.user))

	fx.register(newSoftKey(t, testRPID, testOrigin), "three")
	h2 := fx.handle(fx.user)
	assert.NotEqual(t, h, h2)
	fx.register(newSoftKey(t, testRPID, testOrigin), "four")
	require.NoError(t, fx.f.RemoveAll(fx.ctx, fx.user))
	assert.Empty(t, fx.indexed(h2))
}

// Without its index entry a passkey could not sign in: a failed index
// write undoes the registration and frees the credential id.
func TestHandleIndexWriteFails(t *testing.T) {
	fx := newFixture(t)
	k := newPasskey(t, testRPID, testOrigin)
	resp := string(k.create(t, fx.beginPasskey(fx.user, "phone")))
	fx.st.Fail("PutState", errStore)
	_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, resp)
	require.ErrorIs(t, err, errStore)
	fx.st.Fail("PutState", nil)
	assert.Empty(t, fx.credentials())
	fx.registerPasskey(fx.user, k, "phone")
	assert.Len(t, fx.credentials(), 1)
}

// A registration begun with a new handle, confirmed after another
// registration gave the user a different handle, cannot be confirmed: a
// user has one handle.
func TestRegistrationWithStaleHandle(t *testing.T) {
	fx := newFixture(t)
	stale := fx.beginPasskey(fx.user, "phone")
	k := newPasskey(t, testRPID, testOrigin)
	resp := string(k.create(t, stale))

	blob, err := fx.mem.GetState(fx.ctx, "webauthn:reg:"+fx.user.ID)
	require.NoError(t, err)

	// Another registration is begun and confirmed meanwhile (another tab,
	// another app instance), with a handle of its own; the stale one is
	// then pending again, as if its page had been shown before.
	fx.register(newSoftKey(t, testRPID, testOrigin), "key")
	require.NoError(t, fx.mem.PutOwnedState(fx.ctx, fx.user.ID, "webauthn:reg:"+fx.user.ID, blob, t0.Add(time.Minute)))

	_, err = fx.f.ConfirmEnroll(fx.ctx, fx.user, resp)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	assert.Contains(t, err.Error(), "begin again")
	assert.Len(t, fx.credentials(), 1)
	_, err = fx.mem.GetState(fx.ctx, "webauthn:reg:"+fx.user.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "the stale registration is ended")
}

// passkeyFixture is a fixture whose user has a passkey, k.
func passkeyFixture(t *testing.T, mod ...func(*twofactor.Env, *webauthn.Config)) (*fixture, *softKey, twofactor.Enrollment) {
	fx := newFixture(t, mod...)
	k := newPasskey(t, testRPID, testOrigin)
	e := fx.registerPasskey(fx.user, k, "phone")
	return fx, k, e
}

// BeginDiscovery returns request options as Start does, with no allow
// list and user verification required, and writes nothing: a login page
// that anyone may open costs no store call. The challenge carries the
// ceremony's end, and differs between ceremonies.
func TestBeginDiscovery(t *testing.T) {
	fx := newFixture(t)
	exp := t0.Add(3 * time.Minute)
	calls := fx.st.Calls.Load()
	opts, err := fx.f.BeginDiscovery(fx.ctx, "ceremony-1", exp)
	require.NoError(t, err)
	assert.Equal(t, calls, fx.st.Calls.Load(), "a ceremony begins with no store call")
	o := parseOptions(t, opts)
	assert.NotEmpty(t, o.PublicKey.Challenge)
	assert.Equal(t, testRPID, o.PublicKey.RPID)
	assert.Empty(t, o.PublicKey.AllowCredentials)
	assert.Equal(t, "required", o.PublicKey.UserVerification)
	assert.Equal(t, 180000, o.PublicKey.Timeout)
	assert.NotContains(t, string(opts), "mediation", "the page chooses the mediation")
	assert.True(t, strings.HasPrefix(string(opts), `{"publicKey":{`))
	challenge, err := b64.DecodeString(o.PublicKey.Challenge)
	require.NoError(t, err)
	assert.Equal(t, uint64(exp.UnixMilli()), binary.BigEndian.Uint64(challenge[:8]), "the challenge carries the end")
	assert.GreaterOrEqual(t, len(challenge)-8, 32)
	other, err := fx.f.BeginDiscovery(fx.ctx, "ceremony-2", exp)
	require.NoError(t, err)
	assert.NotEqual(t, o.PublicKey.Challenge, parseOptions(t, other).PublicKey.Challenge)

	_, err = fx.f.BeginDiscovery(fx.ctx, "", t0.Add(time.Hour))
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = fx.f.BeginDiscovery(fx.ctx, "x", fx.clk.Now())
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
}

// A passkey signs in on its own: FinishDiscovery names its user and its
// enrollment, with the method references of a verified user, and sets its
// last use. The ceremony is single use.
func TestFinishDiscovery(t *testing.T) {
	fx, k, e := passkeyFixture(t)
	fx.clk.Advance(time.Minute)
	id, opts := fx.discovery()
	answer := string(k.get(t, opts))
	d, err := fx.f.FinishDiscovery(fx.ctx, id, answer)
	require.NoError(t, err)
	assert.Equal(t, twofactor.Discovered{UserID: fx.user.ID, UserVerified: true,
		Verified: twofactor.Verified{EnrollmentID: e.ID, AMR: []string{"hwk", "user", "mfa"}}}, d)
	assert.Equal(t, t0.Add(time.Minute), fx.credentials()[0].LastUsedAt)

	_, err = fx.f.FinishDiscovery(fx.ctx, id, answer)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a spent ceremony")
	assert.Equal(t, t0.Add(time.Minute), fx.credentials()[0].LastUsedAt)

	// A passkey that keeps no counter (it reports zero, as synced ones
	// do): only the ceremony's single use stops the same answer twice.
	zero := uint32(0)
	fz, kz, _ := passkeyFixture(t)
	id, opts = fz.discovery()
	answer = string(kz.get(t, opts, assertOpts{count: &zero}))
	_, err = fz.f.FinishDiscovery(fz.ctx, id, answer)
	require.NoError(t, err)
	_, err = fz.f.FinishDiscovery(fz.ctx, id, answer)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a spent ceremony, with no counter to stop it")

	// A synced passkey says so.
	fx2, k2, _ := passkeyFixture(t, func(*twofactor.Env, *webauthn.Config) {})
	_ = k2
	synced := newPasskey(t, testRPID, testOrigin)
	synced.flags |= flagBE | flagBS
	fx2.registerPasskey(bob, synced, "synced")
	id, opts = fx2.discovery()
	d, err = fx2.f.FinishDiscovery(fx2.ctx, id, string(synced.get(t, opts)))
	require.NoError(t, err)
	assert.Equal(t, bob.ID, d.UserID)
	assert.Equal(t, []string{"swk", "user", "mfa"}, d.AMR)
	cs, err := fx2.f.Credentials(fx2.ctx, bob)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.True(t, cs[0].Passkey)
	assert.True(t, cs[0].BackupEligible)
	assert.True(t, cs[0].BackupState)
}

// An answer that does not parse is ErrInvalidInput, not a wrong answer,
// and costs no store call: it is no answer, and the ceremony stays open
// for the browser's (Service.FinishPasskey counts it against the client's
// network all the same).
func TestFinishDiscoveryMalformed(t *testing.T) {
	fx, k, _ := passkeyFixture(t)
	id, opts := fx.discovery()
	calls := fx.st.Calls.Load()
	_, err := fx.f.FinishDiscovery(fx.ctx, id, `{"id":`)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	assert.NotErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Equal(t, calls, fx.st.Calls.Load())
	d, err := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts)))
	require.NoError(t, err)
	assert.Equal(t, fx.user.ID, d.UserID)
}

// The challenge binds the answer to its ceremony, its end and the server's
// keys: an answer given under another ceremony's id, one whose challenge
// names a later end, one made under keys the server does not hold, and one
// to a ceremony begun for another relying party are all refused, and none
// marks a ceremony answered. A ceremony begun before a key rotation still
// finishes while the old key is in the ring.
func TestFinishDiscoveryChallengeBinding(t *testing.T) {
	fx, k, _ := passkeyFixture(t)
	id, opts := fx.discovery()
	other, _ := fx.discovery()
	_, err := fx.f.FinishDiscovery(fx.ctx, other, string(k.get(t, opts)))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "an answer under another ceremony's id")

	challenge, err := b64.DecodeString(parseOptions(t, opts).PublicKey.Challenge)
	require.NoError(t, err)
	later := bytes.Clone(challenge)
	binary.BigEndian.PutUint64(later, uint64(t0.Add(time.Hour).UnixMilli()))
	_, err = fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts, assertOpts{challenge: b64.EncodeToString(later)})))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a challenge moved to a later end")

	stranger := newFixture(t) // other keys, same relying party
	_, strangerOpts := stranger.discovery()
	_, err = fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, strangerOpts)))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a challenge under keys the server does not hold")

	elsewhere := newFixture(t, func(e *twofactor.Env, c *webauthn.Config) {
		e.Keys = fx.keys
		c.RPID, c.RPOrigins = "other.example", []string{"https://other.example"}
	})
	elsewhereOpts, err := elsewhere.f.BeginDiscovery(fx.ctx, id, fx.clk.Now().Add(time.Minute))
	require.NoError(t, err)
	_, err = fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, elsewhereOpts)))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a ceremony of another relying party")

	d, err := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts)))
	require.NoError(t, err, "no refusal above spent the ceremony")
	assert.Equal(t, fx.user.ID, d.UserID)

	// A rotation between the ceremony's begin and its answer.
	oldKey, err := keyring.GenerateKey("old")
	require.NoError(t, err)
	newKey, err := keyring.GenerateKey("new")
	require.NoError(t, err)
	before, err := keyring.New(oldKey)
	require.NoError(t, err)
	rotated, err := keyring.New(newKey, oldKey)
	require.NoError(t, err)
	rx, rk, _ := passkeyFixture(t, func(e *twofactor.Env, _ *webauthn.Config) { e.Keys = before })
	id, opts = rx.discovery()
	after, err := webauthn.New(twofactor.Env{Store: rx.st, Keys: rotated, Now: rx.clk.Now, Events: rx.env.Events}, rx.cfg)
	require.NoError(t, err)
	d, err = after.FinishDiscovery(rx.ctx, id, string(rk.get(t, opts)))
	require.NoError(t, err)
	assert.Equal(t, rx.user.ID, d.UserID)
}

// An answered ceremony is marked until its end, and no longer: the mark
// does not outlive the ceremony.
func TestFinishDiscoveryMarkLastsUntilTheEnd(t *testing.T) {
	fx, k, _ := passkeyFixture(t)
	id, opts := fx.discovery()
	_, err := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts)))
	require.NoError(t, err)
	first, err := fx.mem.MarkUsed(fx.ctx, discoveredKey(id), fx.clk.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, first, "the ceremony is marked answered")
	fx.clk.Advance(10 * time.Minute)
	first, err = fx.mem.MarkUsed(fx.ctx, discoveredKey(id), fx.clk.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, first, "the mark ends with the ceremony")
}

// Every refusal of an answer that parses is the same error, with no user:
// an unknown credential, a known one with a bad signature, another
// account's credential, a security key, a handle of no account...
func TestFinishDiscoveryRefusals(t *testing.T) {
	type answer func(t *testing.T, fx *fixture, k *softKey, opts []byte) string
	tests := []struct {
		name   string
		mod    func(*twofactor.Env, *webauthn.Config)
		answer answer
	}{
		{"unknown credential", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			stranger := newPasskey(t, testRPID, testOrigin)
			stranger.userHandle = k.userHandle
			return string(stranger.get(t, opts))
		}},
		{"bad signature", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			return string(k.get(t, opts, assertOpts{badSignature: true}))
		}},
		{"handle of no account", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			return string(k.get(t, opts, assertOpts{userHandle: bytes.Repeat([]byte{7}, 32)}))
		}},
		{"no handle", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			k.discoverable = false
			return string(k.get(t, opts))
		}},
		{"handle of another account", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			fx.registerPasskey(bob, newPasskey(t, testRPID, testOrigin), "bob's phone")
			return string(k.get(t, opts, assertOpts{userHandle: fx.handle(bob)}))
		}},
		{"another account's credential under its handle", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			bobs := newPasskey(t, testRPID, testOrigin)
			fx.registerPasskey(bob, bobs, "bob's phone")
			return string(bobs.get(t, opts, assertOpts{userHandle: k.userHandle}))
		}},
		{"handle the credential does not carry", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			// A second handle of the same account (as a user with two
			// handles would have): the credential must carry the handle
			// the answer names.
			other := bytes.Repeat([]byte{9}, 32)
			require.NoError(t, fx.mem.PutState(fx.ctx, handleKey(testRPID, other), []byte(fx.user.ID), t0.Add(time.Hour)))
			return string(k.get(t, opts, assertOpts{userHandle: other}))
		}},
		{"security key", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			key := newPasskey(t, testRPID, testOrigin)
			fx.register(key, "key")
			return string(key.get(t, opts))
		}},
		{"no user verification", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			k.flags &^= flagUV
			return string(k.get(t, opts))
		}},
		{"wrong challenge", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			return string(k.get(t, opts, assertOpts{challenge: b64.EncodeToString(bytes.Repeat([]byte{1}, 32))}))
		}},
		{"wrong origin", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			return string(k.get(t, opts, assertOpts{origin: "https://evil.test"}))
		}},
		{"counter did not increase", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			n := uint32(0)
			k.count = 5
			return string(k.get(t, opts, assertOpts{count: &n}))
		}},
		{"expired ceremony", nil, func(t *testing.T, fx *fixture, k *softKey, opts []byte) string {
			a := string(k.get(t, opts))
			fx.clk.Advance(10 * time.Minute)
			return a
		}},
	}
	var first error
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx, k, _ := passkeyFixture(t)
			id, opts := fx.discovery()
			answer := tt.answer(t, fx, k, opts)
			if tt.name == "counter did not increase" {
				// A counter seen before, so that zero is a regression.
				id2, opts2 := fx.discovery()
				_, err := fx.f.FinishDiscovery(fx.ctx, id2, string(k.get(t, opts2)))
				require.NoError(t, err)
			}
			fx.mu.Lock()
			fx.evs = nil
			fx.mu.Unlock()
			before := fx.credentials()
			d, err := fx.f.FinishDiscovery(fx.ctx, id, answer)
			require.ErrorIs(t, err, twofactor.ErrInvalidCode)
			assert.Equal(t, twofactor.Discovered{}, d)
			assert.Equal(t, "webauthn: passkey not accepted", err.Error())
			if first == nil {
				first = err
			}
			assert.True(t, first == err, "the same error value for every refusal")
			assert.Equal(t, before, fx.credentials(), "a refusal changes nothing")
			for _, ev := range fx.evs {
				assert.Empty(t, ev.UserID, "event %s names a user", ev.Type)
				assert.Empty(t, ev.Label)
			}
		})
	}
}

// The two refusals an attacker would most like to tell apart, an unknown
// credential and a known credential with a bad signature, cannot be.
func TestFinishDiscoveryIndistinguishable(t *testing.T) {
	fx, k, _ := passkeyFixture(t)
	id, opts := fx.discovery()
	stranger := newPasskey(t, testRPID, testOrigin)
	stranger.userHandle = k.userHandle
	_, unknown := fx.f.FinishDiscovery(fx.ctx, id, string(stranger.get(t, opts)))
	id, opts = fx.discovery()
	_, badSig := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts, assertOpts{badSignature: true})))
	require.Error(t, unknown)
	require.Error(t, badSig)
	assert.Equal(t, unknown, badSig)
	assert.Equal(t, unknown.Error(), badSig.Error())
	assert.Empty(t, fx.events(event.Warning))
}

// A counter that did not increase, under SignCountWarn, signs in and
// warns, naming the user; under SignCountReject the warning of the refusal
// names no one.
func TestFinishDiscoverySignCount(t *testing.T) {
	for _, pol := range []webauthn.SignCountPolicy{webauthn.SignCountReject, webauthn.SignCountWarn} {
		fx, k, e := passkeyFixture(t, withConfig(func(c *webauthn.Config) { c.SignCountPolicy = pol }))
		id, opts := fx.discovery()
		_, err := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts)))
		require.NoError(t, err)
		id, opts = fx.discovery()
		same := k.count
		d, err := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts, assertOpts{count: &same})))
		ws := fx.events(event.Warning)
		require.Len(t, ws, 1)
		assert.Equal(t, event.ReasonSignCount, ws[0].Reason)
		assert.Equal(t, e.ID, ws[0].EnrollmentID)
		if pol == webauthn.SignCountReject {
			require.ErrorIs(t, err, twofactor.ErrInvalidCode)
			assert.Empty(t, ws[0].UserID)
			assert.Empty(t, ws[0].Label)
		} else {
			require.NoError(t, err)
			assert.Equal(t, fx.user.ID, d.UserID)
			assert.Equal(t, fx.user.ID, ws[0].UserID)
		}
	}
}

// TestFinishDiscoveryRace: of 20 concurrent answers with the same valid
// assertion to one ceremony, exactly one succeeds. The passkey keeps no
// signature counter (it always reports zero, as synced passkeys do), so
// the ceremony's single use alone stops the replays.
func TestFinishDiscoveryRace(t *testing.T) {
	fx, k, _ := passkeyFixture(t)
	id, opts := fx.discovery()
	zero := uint32(0)
	answer := string(k.get(t, opts, assertOpts{count: &zero}))
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			d, err := fx.f.FinishDiscovery(fx.ctx, id, answer)
			switch {
			case err == nil && d.UserID == fx.user.ID:
				ok.Add(1)
			case errors.Is(err, twofactor.ErrInvalidCode) && d.UserID == "":
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), ok.Load())
	assert.Equal(t, int64(19), refused.Load())
}

// Store failures are system errors, not refusals, and let no one in.
func TestFinishDiscoveryStoreErrors(t *testing.T) {
	for _, op := range []string{"MarkUsed", "GetState", "ListEnrollments", "Advance", "TouchEnrollment"} {
		t.Run(op, func(t *testing.T) {
			fx, k, _ := passkeyFixture(t)
			id, opts := fx.discovery()
			fx.st.Fail(op, errStore)
			d, err := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts)))
			require.ErrorIs(t, err, errStore)
			assert.NotErrorIs(t, err, twofactor.ErrInvalidCode)
			assert.Empty(t, d.UserID)
		})
	}
}

// deleteHook is a store that runs a function once, before the first
// DeleteState of a key, as another app instance would act at that moment.
type deleteHook struct {
	*store.Memory
	key  string
	once sync.Once
	fn   func()
}

func (h *deleteHook) DeleteState(ctx context.Context, key string) error {
	if key == h.key {
		h.once.Do(h.fn)
	}
	return h.Memory.DeleteState(ctx, key)
}

// A registration confirmed while the user's last credential is removed,
// between the removal's look at the credentials and its delete of the
// index entry, keeps its entry: the removal looks again and writes it
// back, and the new passkey signs in.
func TestHandleIndexRemovalRacesRegistration(t *testing.T) {
	hook := &deleteHook{}
	fx := newFixture(t, func(env *twofactor.Env, _ *webauthn.Config) {
		hook.Memory = store.NewMemory(env.Now)
		env.Store = hook
	})
	old := fx.register(newSoftKey(t, testRPID, testOrigin), "old key")
	h := fx.handle(fx.user)
	k := newPasskey(t, testRPID, testOrigin)
	resp := string(k.create(t, fx.beginPasskey(fx.user, "phone")))
	hook.key = handleKey(testRPID, h)
	hook.fn = func() {
		_, err := fx.f.ConfirmEnroll(fx.ctx, fx.user, resp)
		require.NoError(t, err)
	}
	require.NoError(t, fx.f.Remove(fx.ctx, fx.user, old.ID))
	cs := fx.credentials()
	require.Len(t, cs, 1)
	assert.Equal(t, "phone", cs[0].Name)
	v, err := hook.GetState(fx.ctx, handleKey(testRPID, h))
	require.NoError(t, err, "the index entry was written back")
	assert.Equal(t, fx.user.ID, string(v))

	id, opts := fx.discovery()
	d, err := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts)))
	require.NoError(t, err)
	assert.Equal(t, fx.user.ID, d.UserID)
}

// Removing a credential while another carries the handle leaves the index
// entry alone: deleted and written back, it would be missing for a moment,
// and a passkey signing in then would fail.
func TestHandleIndexKeptWhileHeld(t *testing.T) {
	hook := &deleteHook{}
	fx := newFixture(t, func(env *twofactor.Env, _ *webauthn.Config) {
		hook.Memory = store.NewMemory(env.Now)
		env.Store = hook
	})
	first := fx.register(newSoftKey(t, testRPID, testOrigin), "one")
	fx.registerPasskey(fx.user, newPasskey(t, testRPID, testOrigin), "two")
	hook.key = handleKey(testRPID, fx.handle(fx.user))
	hook.fn = func() { t.Error("the index entry was deleted") }
	require.NoError(t, fx.f.Remove(fx.ctx, fx.user, first.ID))
}

// A discovery challenge too short to hold a ceremony is refused, and a
// ceremony's id is 1 to 256 bytes, at begin and at the answer.
func TestDiscoveryBounds(t *testing.T) {
	fx, k, _ := passkeyFixture(t)
	id, opts := fx.discovery()
	for _, n := range []int{1, 4, 8, 9} {
		_, err := fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts, assertOpts{challenge: b64.EncodeToString(make([]byte, n))})))
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "%d bytes", n)
	}
	longest := strings.Repeat("i", 256)
	opts, err := fx.f.BeginDiscovery(fx.ctx, longest, fx.clk.Now().Add(time.Minute))
	require.NoError(t, err)
	d, err := fx.f.FinishDiscovery(fx.ctx, longest, string(k.get(t, opts)))
	require.NoError(t, err)
	assert.Equal(t, fx.user.ID, d.UserID)
	assert.LessOrEqual(t, len(discoveredKey(longest)), store.MaxKeyLen, "the mark's key fits every store")
	first, err := fx.mem.MarkUsed(fx.ctx, discoveredKey(longest), fx.clk.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, first, "the longest id's ceremony is marked answered")
	_, err = fx.f.BeginDiscovery(fx.ctx, longest+"i", fx.clk.Now().Add(time.Minute))
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	_, err = fx.f.FinishDiscovery(fx.ctx, longest+"i", string(k.get(t, opts)))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
}

// discoveredKey is the Ledger key of an answered discovery ceremony, as
// the factor writes it: a SHA-256 of the ceremony's id.
func discoveredKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "webauthn:discovered:" + b64.EncodeToString(sum[:])
}
