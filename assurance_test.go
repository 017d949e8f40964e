package twofactor_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
)

// assuredSender is a code factor with a send step that says what it
// assures.
type assuredSender struct {
	sendingFactor
	as twofactor.Assurance
}

func (a assuredSender) Assurance() twofactor.Assurance { return a.as }

// assuredCode is a code factor that says what it assures.
type assuredCode struct {
	*codeFactor
	as twofactor.Assurance
}

func (a assuredCode) Assurance() twofactor.Assurance { return a.as }

// keyFactor stands for a security key: it accepts "777777", resists
// phishing, and reports its own method references per verification.
type keyFactor struct{ *codeFactor }

func (keyFactor) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"swk"}, Channel: twofactor.ChannelAuthenticator, PhishingResistant: true, AAL: 3}
}

func (k keyFactor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	v, err := k.codeFactor.Verify(ctx, ch, answer)
	if err == nil {
		v.AMR = []string{"hwk", "user", "bad,value", "hwk"}
	}
	return v, err
}

// assuredEnv is an env whose factors say what they assure: email codes
// (AAL1, the email channel), an authenticator app (AAL2), a security key
// (phishing resistant) and, when plain is set, a factor that says
// nothing. key and plain are enrolled for the users listed.
type assuredEnv struct {
	*env
	key   *codeFactor
	plain *codeFactor
}

func newAssuredEnv(t *testing.T, keyUsers []string, mod func(*twofactor.Config)) *assuredEnv {
	ae := &assuredEnv{}
	ae.env = newEnv(t, func(cfg *twofactor.Config) {
		ae.key = &codeFactor{method: twofactor.MethodWebAuthn, static: "777777", now: time.Now, enrolled: map[string]bool{}}
		ae.plain = &codeFactor{method: "push", static: "888888", now: time.Now, enrolled: map[string]bool{}}
		for _, u := range keyUsers {
			ae.key.enrolled[u] = true
		}
		email := cfg.Factors[0]
		app := cfg.Factors[1]
		f0, _ := email.NewFactor(twofactor.Env{})
		f1, _ := app.NewFactor(twofactor.Env{})
		cfg.Factors = factors(
			assuredSender{f0.(sendingFactor), twofactor.Assurance{AMR: []string{"otp"}, Channel: twofactor.ChannelEmail, AAL: 1}},
			assuredCode{f1.(*codeFactor), twofactor.Assurance{AMR: []string{"otp"}, Channel: twofactor.ChannelApp, AAL: 2}},
			keyFactor{ae.key},
			ae.plain,
		)
		if mod != nil {
			mod(cfg)
		}
	})
	return ae
}

func (e *env) beginAs(u twofactor.User, c twofactor.Client) (*twofactor.Begun, error) {
	return e.svc.Begin(context.Background(), u, c)
}

// sendAndVerify answers ch with m, sending a code first for email.
func (e *env) answer(ch *twofactor.Challenge, m twofactor.Method) (*twofactor.Result, error) {
	code := map[twofactor.Method]string{twofactor.MethodEmail: "123456", twofactor.MethodTOTP: "654321", twofactor.MethodWebAuthn: "777777", "push": "888888"}[m]
	if m == twofactor.MethodEmail {
		if _, err := e.svc.Send(context.Background(), ch.ID, m, client); err != nil {
			return nil, err
		}
	}
	return e.svc.Verify(context.Background(), twofactor.Answer{ChallengeID: ch.ID, Method: m, Code: code, UserID: ch.User.ID, Client: client, Purpose: ch.Purpose})
}

func TestResultAssurance(t *testing.T) {
	tests := []struct {
		name   string
		first  twofactor.FirstFactor
		method twofactor.Method
		amr    []string
		aal    int
		phr    bool
	}{
		{"password then app", twofactor.FirstPassword, twofactor.MethodTOTP, []string{"pwd", "otp", "mfa"}, 2, false},
		// NIST SP 800-63B 5.1.3.1: email is no out-of-band authenticator.
		{"password then email code", twofactor.FirstPassword, twofactor.MethodEmail, []string{"pwd", "otp", "mfa"}, 1, false},
		// The verification's own references replace the factor's, and
		// anything that is no token is dropped; AAL3 is claimed only by a
		// factor that says so and resists phishing.
		{"password then key", twofactor.FirstPassword, twofactor.MethodWebAuthn, []string{"pwd", "hwk", "user", "mfa"}, 3, true},
		// A sign-in link by email is no authenticator for SP 800-63B.
		{"email link then app", twofactor.FirstEmail, twofactor.MethodTOTP, []string{"otp", "mfa"}, 1, false},
		{"social then app", twofactor.FirstSocial, twofactor.MethodTOTP, []string{"otp", "mfa"}, 1, false},
		{"sms then app", twofactor.FirstSMS, twofactor.MethodTOTP, []string{"sms", "otp", "mfa"}, 2, false},
		// A factor that is no Assurer claims nothing.
		{"password then a factor that says nothing", twofactor.FirstPassword, "push", []string{"pwd", "mfa"}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAssuredEnv(t, []string{"alice"}, nil)
			e.plain.enrolled["alice"] = true
			c := client
			c.FirstFactor = tt.first
			b, err := e.beginAs(alice, c)
			require.NoError(t, err)
			require.Equal(t, tt.first, b.Challenge.FirstFactor)
			res, err := e.answer(b.Challenge, tt.method)
			require.NoError(t, err)
			assert.Equal(t, tt.amr, res.AMR)
			assert.Equal(t, tt.aal, res.AAL)
			assert.Equal(t, tt.phr, res.PhishingResistant)
			assert.Equal(t, tt.first, res.FirstFactor)

			cl := res.Claims()
			assert.Equal(t, twofactor.Claims{AMR: tt.amr, AAL: tt.aal, PhishingResistant: tt.phr, AuthTime: res.VerifiedAt}, cl)
			p, err := e.svc.ParseProof(res.Proof)
			require.NoError(t, err)
			assert.Equal(t, 3, p.Version)
			pc := p.Claims()
			assert.True(t, pc.AuthTime.Equal(cl.AuthTime))
			pc.AuthTime = cl.AuthTime
			assert.Equal(t, cl, pc, "the proof states what the Result does")
		})
	}
}

func TestClaimsJSON(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	b, err := json.Marshal(twofactor.Claims{AMR: []string{"pwd", "hwk"}, AAL: 2, PhishingResistant: true, AuthTime: at})
	require.NoError(t, err)
	assert.JSONEq(t, `{"amr":["pwd","hwk"],"aal":2,"phishing_resistant":true,"auth_time":"2026-11-23T12:00:00Z"}`, string(b))
}

// A step-up proves one factor again: its references are the factor's
// alone, with no "pwd" and no "mfa".
func TestStepUpAssurance(t *testing.T) {
	e := newAssuredEnv(t, []string{"alice"}, nil)
	ch, err := e.svc.StepUp(context.Background(), alice, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := e.answer(ch, twofactor.MethodTOTP)
	require.NoError(t, err)
	assert.Equal(t, []string{"otp"}, res.AMR)
	assert.Equal(t, 2, res.AAL)
}

func stepUpProofWith(t *testing.T, e *assuredEnv, m twofactor.Method) string {
	t.Helper()
	ch, err := e.svc.StepUp(context.Background(), alice, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := e.answer(ch, m)
	require.NoError(t, err)
	return res.Proof
}

func TestCheckProofForRequirement(t *testing.T) {
	ctx := context.Background()
	e := newAssuredEnv(t, []string{"alice"}, nil)
	phr := twofactor.Requirement{PhishingResistant: true}

	code := stepUpProofWith(t, e, twofactor.MethodTOTP)
	require.NoError(t, e.svc.CheckProofFor(ctx, code, "alice", twofactor.PurposeStepUp, twofactor.Requirement{}))
	err := e.svc.CheckProofFor(ctx, code, "alice", twofactor.PurposeStepUp, phr)
	assert.ErrorIs(t, err, twofactor.ErrStepUpRequired, "a typed code is no phishing-resistant proof")

	key := stepUpProofWith(t, e, twofactor.MethodWebAuthn)
	require.NoError(t, e.svc.CheckProofFor(ctx, key, "alice", twofactor.PurposeStepUp, phr))
	require.NoError(t, e.svc.CheckProofFor(ctx, key, "alice", twofactor.PurposeEnroll, phr))
	assert.ErrorIs(t, e.svc.CheckProofFor(ctx, key, "bob", twofactor.PurposeStepUp, phr), twofactor.ErrStepUpRequired)

	e.clock.Advance(2 * time.Minute)
	assert.ErrorIs(t, e.svc.CheckProofFor(ctx, key, "alice", twofactor.PurposeStepUp, twofactor.Requirement{PhishingResistant: true, MaxAge: time.Minute}),
		twofactor.ErrStepUpRequired, "older than the requirement's MaxAge")
	require.NoError(t, e.svc.CheckProofFor(ctx, key, "alice", twofactor.PurposeStepUp, twofactor.Requirement{MaxAge: 3 * time.Minute}))

	// A MaxAge longer than Config.StepUpMaxAge does not lengthen it.
	e.clock.Advance(defaultStepUpMaxAge)
	assert.ErrorIs(t, e.svc.CheckProofFor(ctx, key, "alice", twofactor.PurposeStepUp, twofactor.Requirement{MaxAge: time.Hour}), twofactor.ErrStepUpRequired)

	assert.ErrorIs(t, e.svc.CheckProofFor(ctx, key, "alice", twofactor.PurposeStepUp, twofactor.Requirement{MaxAge: -1}), twofactor.ErrInvalidInput)
}

func TestStepUpForOffersOnlyQualifyingMethods(t *testing.T) {
	ctx := context.Background()
	e := newAssuredEnv(t, []string{"alice"}, nil)
	phr := twofactor.Requirement{PhishingResistant: true}
	ch, err := e.svc.StepUpFor(ctx, alice, client, twofactor.PurposeStepUp, phr)
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{twofactor.MethodWebAuthn}, ch.Methods)

	_, err = e.answer(ch, twofactor.MethodTOTP)
	assert.ErrorIs(t, err, twofactor.ErrMethodNotAllowed, "the challenge does not take a code")
	_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	assert.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	res, err := e.answer(ch, twofactor.MethodWebAuthn)
	require.NoError(t, err)
	require.NoError(t, e.svc.CheckProofFor(ctx, res.Proof, "alice", twofactor.PurposeStepUp, phr))

	// Without a security key there is nothing to offer, and StepUpFor says
	// why.
	delete(e.key.enrolled, "alice")
	_, err = e.svc.StepUpFor(ctx, alice, client, twofactor.PurposeStepUp, phr)
	assert.ErrorIs(t, err, twofactor.ErrNoQualifyingMethod)
	assert.False(t, errors.Is(err, twofactor.ErrNotEnrolled), "the user has factors, just none that qualifies")
	evs := e.eventsOf(event.NoFactor)
	require.NotEmpty(t, evs)
	assert.Equal(t, event.ReasonNoQualifying, evs[len(evs)-1].Reason)

	// The zero Requirement still offers every method.
	ch, err = e.svc.StepUpFor(ctx, alice, client, twofactor.PurposeStepUp, twofactor.Requirement{})
	require.NoError(t, err)
	assert.ElementsMatch(t, []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP}, ch.Methods)
}

// Two codes on one channel are not two factors: after a sign-in link by
// email, the mailbox is the first factor, and an email code would be the
// same mailbox again.
func TestTwoCodesOnOneChannelAreNotTwoFactors(t *testing.T) {
	e := newAssuredEnv(t, nil, nil)
	delete(e.app.enrolled, "alice") // alice has email codes only
	c := client
	c.FirstFactor = twofactor.FirstEmail
	_, err := e.beginAs(alice, c)
	require.ErrorIs(t, err, twofactor.ErrNoIndependentFactor)
	evs := e.eventsOf(event.NoFactor)
	require.Len(t, evs, 1)
	assert.Equal(t, event.ReasonSameChannel, evs[0].Reason)
	assert.Equal(t, []twofactor.Method{twofactor.MethodEmail}, evs[0].Methods)
	assert.Empty(t, e.eventsOf(event.Begin), "no challenge was made")

	// After a password the same email code is a second factor.
	b, err := e.beginAs(alice, client)
	require.NoError(t, err)
	assert.Equal(t, []twofactor.Method{twofactor.MethodEmail}, b.Challenge.Methods)
}

func TestNoEmailCodeAfterEmailLink(t *testing.T) {
	ctx := context.Background()
	e := newAssuredEnv(t, nil, nil)
	c := client
	c.FirstFactor = twofactor.FirstEmail
	b, err := e.beginAs(alice, c)
	require.NoError(t, err)
	ch := b.Challenge
	assert.Equal(t, []twofactor.Method{twofactor.MethodTOTP}, ch.Methods)

	// The challenge records what it offers: no code is sent by email for
	// it, and an email answer is refused before it reaches the factor.
	_, err = e.svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	assert.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	_, err = e.verify(ch, twofactor.MethodEmail, "123456")
	assert.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	assert.Zero(t, e.email.verifies.Load())

	loaded, err := e.svc.Challenge(ctx, ch.ID)
	require.NoError(t, err)
	assert.Equal(t, twofactor.FirstEmail, loaded.FirstFactor, "the first factor is kept with the challenge")
	res, err := e.answer(ch, twofactor.MethodTOTP)
	require.NoError(t, err)
	assert.Equal(t, twofactor.FirstEmail, res.FirstFactor)
}

func TestFirstFactorChannels(t *testing.T) {
	tests := []struct {
		first twofactor.FirstFactor
		want  []twofactor.Method
	}{
		{twofactor.FirstPassword, []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP, twofactor.MethodWebAuthn}},
		{twofactor.FirstSocial, []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP, twofactor.MethodWebAuthn}},
		{twofactor.FirstEmail, []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodWebAuthn}},
		{twofactor.FirstPasskey, []twofactor.Method{twofactor.MethodEmail, twofactor.MethodTOTP}},
	}
	for _, tt := range tests {
		t.Run(string(tt.first)+"-first", func(t *testing.T) {
			e := newAssuredEnv(t, []string{"alice"}, nil)
			c := client
			c.FirstFactor = tt.first
			b, err := e.beginAs(alice, c)
			require.NoError(t, err)
			assert.Equal(t, tt.want, b.Challenge.Methods)
		})
	}
	t.Run("unknown", func(t *testing.T) {
		e := newAssuredEnv(t, nil, nil)
		c := client
		c.FirstFactor = "carrier-pigeon"
		_, err := e.beginAs(alice, c)
		assert.ErrorIs(t, err, twofactor.ErrInvalidInput)
	})
}

// Every byte of a proof is covered by its signature: altering any one is
// refused.
func TestProofAlteredByteRefused(t *testing.T) {
	e := newAssuredEnv(t, []string{"alice"}, nil)
	proof := stepUpProofWith(t, e, twofactor.MethodWebAuthn)
	_, err := e.svc.ParseProof(proof)
	require.NoError(t, err)
	for i := range len(proof) {
		for _, c := range []byte{'A', 'x', '0', '.', '-'} {
			if proof[i] == c {
				continue
			}
			altered := proof[:i] + string(c) + proof[i+1:]
			_, err := e.svc.ParseProof(altered)
			require.ErrorIs(t, err, twofactor.ErrStepUpRequired, "byte %d set to %q", i, c)
			require.ErrorIs(t, e.svc.CheckProof(context.Background(), altered, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired)
		}
	}
}

// v2Proof signs a proof as versions before 3 did.
func v2Proof(e *env, userID string, p twofactor.Purpose, m twofactor.Method, at time.Time) string {
	payload := userID + "\x00" + string(p) + "\x00" + string(m) + "\x00" + strconv.FormatInt(at.UnixMilli(), 10)
	kid, sig := e.keys.Sign("twofactor proof v2", []byte(payload))
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + kid + "." + enc.EncodeToString(sig)
}

// A proof issued before proofs carried assurance is still read for the
// minutes it lives, as assuring nothing: it never meets a requirement
// for a phishing-resistant factor.
func TestProofV2StillRead(t *testing.T) {
	ctx := context.Background()
	e := newAssuredEnv(t, []string{"alice"}, nil)
	old := v2Proof(e.env, "alice", twofactor.PurposeStepUp, twofactor.MethodWebAuthn, e.clock.Now())
	p, err := e.svc.ParseProof(old)
	require.NoError(t, err)
	assert.Equal(t, 2, p.Version)
	assert.Equal(t, twofactor.MethodWebAuthn, p.Method)
	assert.Equal(t, twofactor.Claims{AAL: 1, AuthTime: p.VerifiedAt}, p.Claims())
	require.NoError(t, e.svc.CheckProof(ctx, old, "alice", twofactor.PurposeStepUp))
	assert.ErrorIs(t, e.svc.CheckProofFor(ctx, old, "alice", twofactor.PurposeStepUp, twofactor.Requirement{PhishingResistant: true}),
		twofactor.ErrStepUpRequired)
	e.clock.Advance(defaultStepUpMaxAge + time.Second)
	assert.ErrorIs(t, e.svc.CheckProof(ctx, old, "alice", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired, "and it expires as before")
}

// A payload signed as one version never reads as the other: the domain
// names the version.
func TestProofVersionsDoNotCross(t *testing.T) {
	e := newAssuredEnv(t, []string{"alice"}, nil)
	enc := base64.RawURLEncoding
	now := strconv.FormatInt(e.clock.Now().UnixMilli(), 10)
	v3payload := "alice\x00step_up\x00webauthn\x00" + now + "\x00hwk\x00true\x003"
	kid, sig := e.keys.Sign("twofactor proof v2", []byte(v3payload))
	_, err := e.svc.ParseProof(enc.EncodeToString([]byte(v3payload)) + "." + kid + "." + enc.EncodeToString(sig))
	assert.ErrorIs(t, err, twofactor.ErrStepUpRequired, "a version 3 payload under the version 2 domain")

	v2payload := "alice\x00step_up\x00webauthn\x00" + now
	kid, sig = e.keys.Sign("twofactor proof v3", []byte(v2payload))
	_, err = e.svc.ParseProof(enc.EncodeToString([]byte(v2payload)) + "." + kid + "." + enc.EncodeToString(sig))
	assert.ErrorIs(t, err, twofactor.ErrStepUpRequired, "a version 2 payload under the version 3 domain")

	for _, bad := range []string{"\x00hwk\x00yes\x003", "\x00hwk\x00true\x004", "\x00hwk\x00true\x000"} {
		payload := "alice\x00step_up\x00webauthn\x00" + now + bad
		kid, sig = e.keys.Sign("twofactor proof v3", []byte(payload))
		_, err = e.svc.ParseProof(enc.EncodeToString([]byte(payload)) + "." + kid + "." + enc.EncodeToString(sig))
		assert.ErrorIs(t, err, twofactor.ErrStepUpRequired, "%q", bad)
	}
}
