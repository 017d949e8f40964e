package webauthn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/stretchr/testify/require"
)

// testingT is what the software authenticator needs of a test: a
// *testing.T, or exampleT in examples.
type testingT interface {
	require.TestingT
	Helper()
}

// exampleT fails an example loudly.
type exampleT struct{}

func (exampleT) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (exampleT) FailNow()                          { panic("example failed") }
func (exampleT) Helper()                           {}

// softKey is a software authenticator for tests without a browser: an
// ECDSA P-256 key answering creation options with a "none" attestation and
// request options with signed assertions, as a browser would relay them.
// newPasskey makes one that acts as a passkey: discoverable, verifying
// its user.
type softKey struct {
	priv   *ecdsa.PrivateKey
	credID []byte
	count  uint32
	rpID   string
	origin string
	flags  byte // authenticator data flags of assertions; UP by default
	aaguid [16]byte
	// userHandle is the user.id of the options the key last answered with
	// create: what a discoverable credential keeps.
	userHandle []byte
	// discoverable makes assertions carry userHandle, as a passkey's do.
	discoverable bool
	// credProps, when set, is the credProps.rk the browser reports at
	// registration.
	credProps *bool
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

func newSoftKey(t testingT, rpID, origin string) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	id := make([]byte, 32)
	_, err = rand.Read(id)
	require.NoError(t, err)
	k := &softKey{priv: priv, credID: id, rpID: rpID, origin: origin, flags: flagUP}
	copy(k.aaguid[:], "twofactor-softky")
	return k
}

// newPasskey returns a soft key that acts as a passkey: its assertions
// carry the user handle it was registered with, and it verifies the user
// (UV), at registration too.
func newPasskey(t testingT, rpID, origin string) *softKey {
	t.Helper()
	k := newSoftKey(t, rpID, origin)
	k.discoverable = true
	k.flags |= flagUV
	return k
}

var b64 = base64.RawURLEncoding

// options is what the tests read from creation and request options.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
		UserVerification       string `json:"userVerification"`
		Timeout                int    `json:"timeout"`
		Attestation            string `json:"attestation"`
		AuthenticatorSelection struct {
			ResidentKey        string `json:"residentKey"`
			RequireResidentKey *bool  `json:"requireResidentKey"`
			UserVerification   string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Extensions map[string]any `json:"extensions"`
	} `json:"publicKey"`
}

func parseOptions(t testingT, raw []byte) options {
	t.Helper()
	var o options
	require.NoError(t, json.Unmarshal(raw, &o))
	return o
}

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

func (k *softKey) cose(t testingT) []byte {
	t.Helper()
	pub, err := k.priv.PublicKey.Bytes() // 0x04 | X | Y
	require.NoError(t, err)
	b, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:65]})
	require.NoError(t, err)
	return b
}

// create answers creation options with a registration response.
func (k *softKey) create(t testingT, raw []byte) []byte {
	t.Helper()
	o := parseOptions(t, raw)
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	require.NoError(t, err)
	k.userHandle = handle
	cd := k.clientData("webauthn.create", o.PublicKey.Challenge)
	rp := sha256.Sum256([]byte(k.rpID))
	auth := append([]byte{}, rp[:]...)
	auth = append(auth, k.flags|flagAT)
	auth = binary.BigEndian.AppendUint32(auth, k.count)
	auth = append(auth, k.aaguid[:]...)
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(k.credID)))
	auth = append(auth, k.credID...)
	auth = append(auth, k.cose(t)...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	require.NoError(t, err)
	ext := map[string]any{}
	if k.credProps != nil {
		ext["credProps"] = map[string]any{"rk": *k.credProps}
	}
	out, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.credID), "rawId": b64.EncodeToString(k.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": ext,
	})
	require.NoError(t, err)
	return out
}

// assertOpts change one thing in an assertion, to make it wrong.
type assertOpts struct {
	challenge string // instead of the options' challenge
	origin    string // instead of the key's origin
	rpID      string // instead of the key's RP id
	count     *uint32
	// userHandle is sent instead of the key's own (discoverable keys).
	userHandle []byte
	// badSignature spoils the signature.
	badSignature bool
}

// get answers request options with an assertion, counting up.
func (k *softKey) get(t testingT, raw []byte, mod ...assertOpts) []byte {
	t.Helper()
	o := parseOptions(t, raw)
	var m assertOpts
	if len(mod) > 0 {
		m = mod[0]
	}
	challenge, origin, rpID := o.PublicKey.Challenge, k.origin, k.rpID
	if m.challenge != "" {
		challenge = m.challenge
	}
	if m.origin != "" {
		origin = m.origin
	}
	if m.rpID != "" {
		rpID = m.rpID
	}
	k.count++
	count := k.count
	if m.count != nil {
		count = *m.count
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": challenge, "origin": origin, "crossOrigin": false})
	rp := sha256.Sum256([]byte(rpID))
	auth := append([]byte{}, rp[:]...)
	auth = append(auth, k.flags)
	auth = binary.BigEndian.AppendUint32(auth, count)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	require.NoError(t, err)
	if m.badSignature {
		sig[len(sig)-1] ^= 0x01
	}
	response := map[string]any{
		"clientDataJSON":    b64.EncodeToString(cd),
		"authenticatorData": b64.EncodeToString(auth),
		"signature":         b64.EncodeToString(sig),
	}
	switch {
	case m.userHandle != nil:
		response["userHandle"] = b64.EncodeToString(m.userHandle)
	case k.discoverable:
		response["userHandle"] = b64.EncodeToString(k.userHandle)
	}
	out, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.credID), "rawId": b64.EncodeToString(k.credID), "type": "public-key",
		"response":               response,
		"clientExtensionResults": map[string]any{},
	})
	require.NoError(t, err)
	return out
}
