package twofactor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// A PasskeyCeremony is a passkey sign-in in progress: the options for the
// browser's navigator.credentials.get, and the id its answer names.
type PasskeyCeremony struct {
	ID        string
	Options   json.RawMessage
	ExpiresAt time.Time
}

// A PasskeyAnswer is the browser's answer to a passkey ceremony.
type PasskeyAnswer struct {
	CeremonyID string
	// Answer is the assertion (PublicKeyCredential) as JSON.
	Answer string
	Client Client
}

// A PasskeySignIn is what a passkey answer led to: either the user is
// signed in (Result), or, under PasskeyFirstFactor, the passkey stood for
// the password and the second step follows (Begun, as Begin returns it
// for a first factor of FirstPasskey).
type PasskeySignIn struct {
	User   User
	Result *Result
	Begun  *Begun
}

// errNoDiscoverer: no factor of the Service signs in with passkeys.
var errNoDiscoverer = fmt.Errorf("%w: no factor signs in with passkeys (a webauthn factor does)", ErrMethodNotAllowed)

// discoverer returns the Service's factor that signs in with passkeys.
func (s *Service) discoverer() (Discoverer, bool) {
	for _, f := range s.factors {
		if d, ok := f.(Discoverer); ok {
			return d, true
		}
	}
	return nil, false
}

// BeginPasskey starts a sign-in with a passkey, with no user name and no
// password: the browser offers the passkeys it holds for the site, in a
// login form's autofill (conditional mediation) or behind a "Sign in with
// a passkey" button. The ceremony lives Limits.ChallengeTTL.
//
// Store round trips: none with the webauthn factor, which keeps nothing
// until the ceremony is answered, so that a login page's views cost the
// store nothing.
func (s *Service) BeginPasskey(ctx context.Context, c Client) (*PasskeyCeremony, error) {
	d, ok := s.discoverer()
	if !ok {
		return nil, errNoDiscoverer
	}
	id, err := secure.Token(s.rand, challengeKeyBytes)
	if err != nil {
		return nil, err
	}
	exp := s.now().Add(s.limits.ChallengeTTL)
	opts, err := d.BeginDiscovery(ctx, id, exp)
	if err != nil {
		return nil, fmt.Errorf("twofactor: beginning a passkey sign-in: %w", err)
	}
	return &PasskeyCeremony{ID: id, Options: opts, ExpiresAt: exp}, nil
}

// FinishPasskey checks the browser's answer to a passkey ceremony, once.
//
// A passkey that verified its user signs the user in as both factors,
// unless the user's policy says PasskeyFirstFactor: then it stands for
// the password, and FinishPasskey begins the second step as Begin does for
// a first factor of FirstPasskey (a security key is not offered for it).
// The Result says which: Passwordless, FirstFactor FirstPasskey, the AMR
// of a passkey ("hwk" or "swk", "user", "mfa") and AAL 2, phishing
// resistant.
//
// The limits that protect codes protect this path: every answer is
// counted against the client's network first (Limits.MaxIPAttempts), and
// a user who is locked out is refused (ErrLocked) even with their passkey.
// Every refused answer, whatever the reason (an unknown credential, a
// credential of no account, a bad signature, a spent ceremony), is
// ErrInvalidCode, and the failure event names no user: a failure says
// nothing about which accounts exist. An answer that does not parse is
// ErrMalformedCode. Config.Veto is asked before a sign-in, as for a code.
func (s *Service) FinishPasskey(ctx context.Context, a PasskeyAnswer) (*PasskeySignIn, error) {
	d, ok := s.discoverer()
	if !ok {
		return nil, errNoDiscoverer
	}
	m := d.Method()
	ev := event.Event{Method: m, Purpose: PurposeLogin, IP: ipString(a.Client), UserAgent: a.Client.UserAgent,
		Details: map[string]string{event.DetailSignIn: "passkey"}}
	fail := func(err error) (*PasskeySignIn, error) {
		ev.Type, ev.Reason = event.Failure, reasonOf(err)
		switch {
		case errors.Is(err, ErrRateLimited):
			ev.Type = event.RateLimited
		case errors.Is(err, ErrVetoed):
			ev.Reason = event.ReasonVetoed
		}
		s.emit(ctx, ev)
		return nil, err
	}
	if parseKey(a.CeremonyID) != nil || a.Answer == "" || len(a.Answer) > maxAnswer {
		return fail(ErrMalformedCode)
	}
	if err := s.countPasskeyAnswer(ctx, a.Client); err != nil {
		return fail(err)
	}
	got, err := d.FinishDiscovery(ctx, a.CeremonyID, a.Answer)
	if err != nil {
		return fail(discoveryError(err))
	}
	user, err := s.env.User(ctx, got.UserID)
	if errors.Is(err, ErrUnknownUser) {
		// The account is gone: to the browser, a passkey like any other
		// that does not sign in.
		err = ErrInvalidCode
	}
	if err != nil {
		return fail(err)
	}
	ev.UserID, ev.EnrollmentID = user.ID, got.EnrollmentID
	pol, veto, err := s.passkeyAllowed(ctx, user, m, got, a.Client)
	if veto != nil {
		ev.Details = map[string]string{event.DetailSignIn: "passkey", event.DetailVeto: veto.Error()}
		err = fmt.Errorf("%w: %w", ErrVetoed, veto)
	}
	if err != nil {
		return fail(err)
	}
	ev.Type = event.Success
	out := &PasskeySignIn{User: user}
	if pol.Passkey == PasskeyFirstFactor || !got.UserVerified {
		// The passkey stood for the password: an event says so, then the
		// second step begins, without the security key.
		ev.Details = map[string]string{event.DetailSignIn: "passkey_first_factor"}
		s.emit(ctx, ev)
		c := a.Client
		c.FirstFactor = FirstPasskey
		if out.Begun, err = s.Begin(ctx, user, c); err != nil {
			return nil, err
		}
		return out, nil
	}
	now := s.now()
	res := &Result{User: user, Method: m, Purpose: PurposeLogin, EnrollmentID: got.EnrollmentID, VerifiedAt: now,
		FirstFactor: FirstPasskey, Passwordless: true}
	res.AMR, res.AAL, res.PhishingResistant = passkeyAssurance(got.AMR)
	res.Proof = s.signProof(user.ID, PurposeLogin, m, now, res.AMR, res.PhishingResistant, res.AAL)
	s.emit(ctx, ev)
	out.Result = res
	return out, nil
}

// countPasskeyAnswer counts a passkey answer against the client's network
// before the factor sees it, refusing it over Limits.MaxIPAttempts: the
// limit that protects codes.
func (s *Service) countPasskeyAnswer(ctx context.Context, c Client) error {
	if !c.IP.IsValid() {
		return nil
	}
	now := s.now()
	counts, err := store.IncrAllBelow(ctx, s.store, []store.BoundedIncr{{Key: s.ipCounterKey(c.IP), Window: s.limits.IPWindow,
		Max: int64(s.limits.MaxIPAttempts), CountRefused: true}}, now)
	if err != nil {
		return fmt.Errorf("twofactor: counting attempts: %w", err)
	}
	if counts[0].Full {
		return NewRetryError(ErrRateLimited, LimitIP, now, counts[0].ResetAt)
	}
	return nil
}

// discoveryError is what a refused discovery answer is to the caller:
// ErrMalformedCode for one that does not parse, ErrInvalidCode for every
// refusal (a refusal that is also bad input, a key the policy refuses,
// included), else a system error.
func discoveryError(err error) error {
	switch {
	case errors.Is(err, ErrInvalidCode):
		return ErrInvalidCode
	case errors.Is(err, ErrInvalidInput):
		return ErrMalformedCode
	}
	return fmt.Errorf("twofactor: passkey sign-in: %w", err)
}

// passkeyAllowed returns the policy of a user a passkey named, once the
// user is not locked out, the policy allows the passkey's method and the
// host's veto (Config.Veto) lets the sign-in through; else the veto's
// error, or the refusal.
func (s *Service) passkeyAllowed(ctx context.Context, user User, m Method, got Discovered, c Client) (pol Policy, veto, err error) {
	if err := s.checkLocked(ctx, user.ID, c, "", PurposeLogin); err != nil {
		return Policy{}, nil, err
	}
	if pol, err = s.userPolicy(ctx, user); err != nil {
		return Policy{}, nil, err
	}
	if !pol.allows(m) {
		return Policy{}, nil, fmt.Errorf("%w: %s is not allowed for this user", ErrMethodNotAllowed, m)
	}
	if s.veto != nil {
		if veto = s.veto(ctx, VetoInput{User: user, Purpose: PurposeLogin, Method: m, EnrollmentID: got.EnrollmentID,
			Client: c, FirstFactor: FirstPasskey}); veto != nil {
			return Policy{}, veto, nil
		}
	}
	return pol, nil, nil
}

// passkeyAssurance is what a passkey that verified its user proves on its
// own (NIST SP 800-63B, a multi-factor cryptographic authenticator): the
// factor's own AMR ("hwk" or "swk", "user"), "mfa", AAL 2, and phishing
// resistance, since WebAuthn binds the answer to the site's origin.
func passkeyAssurance(factorAMR []string) ([]string, int, bool) {
	amr := make([]string, 0, len(factorAMR)+1)
	amr = append(amr, factorAMR...)
	for _, v := range amr {
		if v == "mfa" {
			return amr, 2, true
		}
	}
	return append(amr, "mfa"), 2, true
}
