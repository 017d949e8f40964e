package twofactor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

// passkeys is a Discoverer for the Service's tests: an answer
// "ok:<user>:<credential>" is a passkey that verified its user,
// "nouv:<user>" one that did not, "bad" a bad signature, "unknown" a
// credential of no account and "garbage" one that does not parse. A
// ceremony answers once.
type passkeys struct {
	st       store.States
	finishes atomic.Int64
}

func (p *passkeys) Method() twofactor.Method { return twofactor.MethodWebAuthn }

func (p *passkeys) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	if u.ID == "alice" || u.ID == "bob" {
		return []twofactor.Enrollment{{ID: "key-1", Method: twofactor.MethodWebAuthn, Label: "passkey"}}, nil
	}
	return nil, nil
}

func (p *passkeys) Verify(context.Context, *twofactor.Challenge, string) (twofactor.Verified, error) {
	return twofactor.Verified{}, twofactor.ErrInvalidCode
}

func (p *passkeys) BeginDiscovery(ctx context.Context, id string, exp time.Time) (json.RawMessage, error) {
	if err := p.st.PutState(ctx, "test:disc:"+id, []byte("x"), exp); err != nil {
		return nil, err
	}
	return json.RawMessage(`{"publicKey":{"challenge":"` + id + `"}}`), nil
}

func (p *passkeys) FinishDiscovery(ctx context.Context, id, answer string) (twofactor.Discovered, error) {
	p.finishes.Add(1)
	if _, err := p.st.TakeState(ctx, "test:disc:"+id); err != nil {
		return twofactor.Discovered{}, fmt.Errorf("passkey: %w", twofactor.ErrInvalidCode)
	}
	kind, rest, _ := strings.Cut(answer, ":")
	user, _, _ := strings.Cut(rest, ":")
	switch kind {
	case "ok":
		return twofactor.Discovered{UserID: user, Verified: twofactor.Verified{EnrollmentID: "key-1", AMR: []string{"swk", "user"}},
			UserVerified: true}, nil
	case "nouv":
		return twofactor.Discovered{UserID: user, Verified: twofactor.Verified{EnrollmentID: "key-1"}}, nil
	case "garbage":
		return twofactor.Discovered{}, fmt.Errorf("passkey: %w", twofactor.ErrInvalidInput)
	case "refusedinput":
		// A refusal that is also a bad input (a key the policy refuses):
		// a refusal, not a malformed answer.
		return twofactor.Discovered{}, fmt.Errorf("passkey: %w: %w", twofactor.ErrInvalidCode, twofactor.ErrInvalidInput)
	}
	return twofactor.Discovered{}, fmt.Errorf("passkey: %w", twofactor.ErrInvalidCode)
}

func (p *passkeys) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"swk"}, Channel: twofactor.ChannelAuthenticator, PhishingResistant: true, AAL: 2}
}

var _ twofactor.Discoverer = (*passkeys)(nil)

func passkeyEnv(t *testing.T, mod func(*twofactor.Config)) (*env, *passkeys) {
	t.Helper()
	var pk *passkeys
	e := newEnv(t, func(c *twofactor.Config) {
		pk = &passkeys{st: c.Store.(store.States)}
		c.Factors = append(c.Factors, factors(pk)...)
		c.Users = func(_ context.Context, id string) (twofactor.User, error) {
			switch id {
			case "alice":
				return alice, nil
			case "bob":
				return twofactor.User{ID: "bob"}, nil
			}
			return twofactor.User{}, twofactor.ErrUnknownUser
		}
		if mod != nil {
			mod(c)
		}
	})
	return e, pk
}

func (e *env) passkey(answer string) (*twofactor.PasskeySignIn, error) {
	e.t.Helper()
	c, err := e.svc.BeginPasskey(context.Background(), client)
	require.NoError(e.t, err)
	return e.svc.FinishPasskey(context.Background(), twofactor.PasskeyAnswer{CeremonyID: c.ID, Answer: answer, Client: client})
}

// A passkey that verified its user signs them in as both factors: no
// password, no second step, and the Result says so.
func TestPasskeyBothFactors(t *testing.T) {
	e, _ := passkeyEnv(t, nil)
	c, err := e.svc.BeginPasskey(context.Background(), client)
	require.NoError(t, err)
	require.Len(t, c.ID, 43, "a ceremony's id is 32 random bytes in base64url")
	assert.JSONEq(t, `{"publicKey":{"challenge":"`+c.ID+`"}}`, string(c.Options))
	assert.True(t, c.ExpiresAt.After(e.clock.Now()))

	got, err := e.svc.FinishPasskey(context.Background(), twofactor.PasskeyAnswer{CeremonyID: c.ID, Answer: "ok:alice", Client: client})
	require.NoError(t, err)
	require.NotNil(t, got.Result)
	assert.Nil(t, got.Begun)
	r := got.Result
	assert.Equal(t, alice, r.User)
	assert.True(t, r.Passwordless)
	assert.Equal(t, twofactor.FirstPasskey, r.FirstFactor)
	assert.Equal(t, twofactor.MethodWebAuthn, r.Method)
	assert.Equal(t, []string{"swk", "user", "mfa"}, r.AMR)
	assert.Equal(t, 2, r.AAL)
	assert.True(t, r.PhishingResistant)
	assert.NotEmpty(t, r.Proof)
	ok := e.eventsOf(event.Success)
	require.Len(t, ok, 1)
	assert.Equal(t, "alice", ok[0].UserID)
	assert.Equal(t, "passkey", ok[0].Details[event.DetailSignIn])

	// The ceremony answers once.
	_, err = e.svc.FinishPasskey(context.Background(), twofactor.PasskeyAnswer{CeremonyID: c.ID, Answer: "ok:alice", Client: client})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
}

// Under PasskeyFirstFactor the passkey stands for the password: the
// second step follows, on another device than a security key.
func TestPasskeyFirstFactor(t *testing.T) {
	e, _ := passkeyEnv(t, func(c *twofactor.Config) { c.Policy.Passkey = twofactor.PasskeyFirstFactor })
	got, err := e.passkey("ok:alice")
	require.NoError(t, err)
	assert.Nil(t, got.Result, "no sign-in yet")
	require.NotNil(t, got.Begun)
	require.Equal(t, twofactor.StatusChallenge, got.Begun.Status)
	ch := got.Begun.Challenge
	assert.Equal(t, twofactor.FirstPasskey, ch.FirstFactor)
	assert.NotContains(t, ch.Methods, twofactor.MethodWebAuthn, "not the same key twice")
	assert.Contains(t, ch.Methods, twofactor.MethodTOTP)
	res, err := e.verify(ch, twofactor.MethodTOTP, "654321")
	require.NoError(t, err)
	assert.False(t, res.Passwordless)
	assert.Equal(t, twofactor.FirstPasskey, res.FirstFactor)

	// A passkey that did not verify its user is a first factor at most,
	// whatever the policy.
	e, _ = passkeyEnv(t, nil)
	got, err = e.passkey("nouv:alice")
	require.NoError(t, err)
	assert.Nil(t, got.Result)
	require.NotNil(t, got.Begun)
}

// Every refused answer is the same error, and its event names no user:
// an unknown credential, a bad signature, a deleted account, a spent
// ceremony.
func TestPasskeyFailuresAlike(t *testing.T) {
	e, _ := passkeyEnv(t, nil)
	var msgs []string
	for _, answer := range []string{"unknown", "bad", "ok:carol"} {
		_, err := e.passkey(answer)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, answer)
		msgs = append(msgs, err.Error())
	}
	assert.Equal(t, msgs[0], msgs[1])
	assert.Equal(t, msgs[0], msgs[2])
	for _, ev := range e.eventsOf(event.Failure) {
		assert.Empty(t, ev.UserID, "a failure names no account")
	}
	_, err := e.passkey("refusedinput")
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	require.NotErrorIs(t, err, twofactor.ErrMalformedCode)
	_, err = e.passkey("garbage")
	require.ErrorIs(t, err, twofactor.ErrMalformedCode)
	_, err = e.svc.FinishPasskey(context.Background(), twofactor.PasskeyAnswer{CeremonyID: "not-an-id", Answer: "ok:alice", Client: client})
	require.ErrorIs(t, err, twofactor.ErrMalformedCode)
}

// An answer of the longest length accepted reaches the factor; a longer
// one is refused unseen.
func TestPasskeyAnswerBound(t *testing.T) {
	e, pk := passkeyEnv(t, nil)
	const longest = 16 << 10
	answer := "ok:alice:" + strings.Repeat("x", longest-len("ok:alice:"))
	got, err := e.passkey(answer)
	require.NoError(t, err)
	require.NotNil(t, got.Result)
	before := pk.finishes.Load()
	_, err = e.passkey(answer + "x")
	require.ErrorIs(t, err, twofactor.ErrMalformedCode)
	assert.Equal(t, before, pk.finishes.Load(), "not seen by the factor")
}

// The client network's limit on answers covers passkeys; a locked-out
// user is refused even with their passkey; the host's veto is asked.
func TestPasskeyLimits(t *testing.T) {
	e, pk := passkeyEnv(t, func(c *twofactor.Config) { c.Limits.MaxIPAttempts = 3 })
	for range 3 {
		_, err := e.passkey("bad")
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	before := pk.finishes.Load()
	_, err := e.passkey("ok:alice")
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, twofactor.LimitIP, re.Limit)
	assert.Equal(t, before, pk.finishes.Load(), "refused before the factor sees it")

	e, _ = passkeyEnv(t, func(c *twofactor.Config) { c.Limits.MaxUserFailures = 2 })
	ch := e.begin()
	for i := range 2 {
		_, _ = e.verify(ch, twofactor.MethodTOTP, wrongCode(i))
	}
	_, err = e.passkey("ok:alice")
	require.ErrorIs(t, err, twofactor.ErrLocked)

	vetoed := errors.New("risk too high")
	e, _ = passkeyEnv(t, func(c *twofactor.Config) {
		c.Veto = func(_ context.Context, in twofactor.VetoInput) error {
			if in.FirstFactor == twofactor.FirstPasskey && in.User.ID == "bob" {
				return vetoed
			}
			return nil
		}
	})
	_, err = e.passkey("ok:bob")
	require.ErrorIs(t, err, twofactor.ErrVetoed)
	require.ErrorIs(t, err, vetoed)
	fails := e.eventsOf(event.Failure)
	require.NotEmpty(t, fails)
	assert.Equal(t, "risk too high", fails[len(fails)-1].Details[event.DetailVeto])
	assert.Equal(t, event.ReasonVetoed, fails[len(fails)-1].Reason)
	got, err := e.passkey("ok:alice")
	require.NoError(t, err)
	require.NotNil(t, got.Result)
}

// Of many answers to one ceremony at once, exactly one signs in.
func TestPasskeyConcurrentAnswers(t *testing.T) {
	e, _ := passkeyEnv(t, nil)
	c, err := e.svc.BeginPasskey(context.Background(), client)
	require.NoError(t, err)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			got, err := e.svc.FinishPasskey(context.Background(), twofactor.PasskeyAnswer{CeremonyID: c.ID, Answer: "ok:alice", Client: client})
			if err == nil && got.Result != nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, wins.Load())
}

// Without a factor that discovers its user, passkey sign-in is off.
func TestPasskeyOff(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.svc.BeginPasskey(context.Background(), client)
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
	_, err = e.svc.FinishPasskey(context.Background(), twofactor.PasskeyAnswer{})
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)

	// A policy that does not allow security keys refuses them here too.
	e, _ = passkeyEnv(t, func(c *twofactor.Config) {
		c.Policy.Methods = []twofactor.Method{twofactor.MethodTOTP, twofactor.MethodEmail}
	})
	_, err = e.passkey("ok:alice")
	require.ErrorIs(t, err, twofactor.ErrMethodNotAllowed)
}
