package webauthn

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// Store is the storage the factor needs: registration state (single use,
// expiring, filed under its user so a password change or an admin reset
// ends a pending registration), the users' credentials, a ledger holding
// each credential's highest signature counter, so a counter is accepted
// once even across app instances, and the login and passkey ceremonies
// that were answered, so each takes one answer, and counters, which claim
// each credential id for one account. Every store of this module implements it;
// New checks that the Env's store does, and names what it lacks.
type Store interface {
	store.States
	store.OwnedStates
	store.Enrollments
	store.Ledger
	store.Counters
}

// A Requirement is a WebAuthn preference level, used for user verification
// and for discoverable (resident) credentials.
type Requirement string

// Requirement levels, as in the WebAuthn specification.
const (
	Required    Requirement = "required"
	Preferred   Requirement = "preferred"
	Discouraged Requirement = "discouraged"
)

func (r Requirement) valid() bool { return r == Required || r == Preferred || r == Discouraged }

// SignCountPolicy says what Verify does when an authenticator's signature
// counter does not increase, the sign of a possibly cloned key.
type SignCountPolicy int

const (
	// SignCountReject refuses the assertion with ErrSignCountRegressed and
	// emits an event.Warning. The default.
	SignCountReject SignCountPolicy = iota
	// SignCountWarn accepts the assertion and only emits the event.Warning.
	// It loosens security: use it only when your users' authenticators are
	// known to report unreliable counters.
	SignCountWarn
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout        = 5 * time.Minute
	DefaultMaxCredentials = 10
	// MaxTimeout bounds Config.Timeout: a ceremony is a user touching a key.
	MaxTimeout = 30 * time.Minute
	// MaxNameLength bounds a credential's user-chosen name, in characters.
	MaxNameLength = 64
	// DefaultName is the name of a credential registered without one.
	DefaultName = "Security key"
)

// Size limits on browser responses, checked before any parsing.
const (
	// MaxAssertionSize bounds a login response (assertion) in bytes.
	MaxAssertionSize = 16 << 10
	// MaxAttestationSize bounds a registration response (attestation) in
	// bytes; attestation certificate chains make it larger than an assertion.
	MaxAttestationSize = 64 << 10
)

// Config configures a Factor: the relying party and the ceremony's
// settings. Zero fields take the documented defaults; New validates the
// whole and says what to fix. The store, the keyring, the events and the
// clock come from the twofactor.Env the factor is built with.
//
// A Config is a twofactor.FactorConfig: give it to twofactor.Config.Factors
// and twofactor.New builds the factor with the Service's Env.
type Config struct {
	// RPID is the relying-party id: the registrable domain the credentials
	// are bound to, such as "example.com" (no scheme, no port). Required.
	// Credentials only work on this domain and its subdomains, so changing
	// it later makes every registered key unusable.
	RPID string

	// RPDisplayName is the site name authenticators may show. Empty means
	// RPID.
	RPDisplayName string

	// RPOrigins lists the exact origins the pages run at, such as
	// "https://example.com" or "https://login.example.com:8443". At least one
	// is required. Each must be https, except http://localhost for
	// development, and its host must be RPID or a subdomain of it.
	RPOrigins []string

	// Timeout is how long the browser waits for the user and how long a
	// ceremony's state lives on the server. Zero means 5 minutes; at most
	// 30 minutes. A login ceremony never outlives its challenge.
	Timeout time.Duration

	// SignCountPolicy says what a signature counter that does not increase
	// does. Zero rejects the login.
	SignCountPolicy SignCountPolicy

	// UserVerification asks authenticators to verify the user (PIN,
	// biometrics). Zero means Discouraged: the password already is the
	// first factor and a security key proves possession. Required makes a
	// response without user verification fail. Passkeys (registered with
	// EnrollRequest.Passkey, and their sign-in) always require it.
	UserVerification Requirement

	// ResidentKey says whether registration asks for a discoverable
	// credential (a passkey stored on the authenticator). Zero means
	// Discouraged, which saves the few slots hardware keys have. A passkey
	// registration (EnrollRequest.Passkey) always requires one.
	ResidentKey Requirement

	// MaxCredentials bounds how many credentials one user may register.
	// Zero means 10; at most 100.
	MaxCredentials int

	// AllowedAAGUIDs, when set, lists the only authenticator models that
	// may be registered and used, by AAGUID (WebAuthn §6.5.2, attested
	// credential data), as UUIDs in their usual text form such as
	// "cb69481e-8ff7-4039-93ec-0a2729a154a8". An authenticator that
	// discloses no model (the all-zero AAGUID) is refused. New normalises
	// them and refuses a malformed one, the nil UUID, and a list set
	// together with DeniedAAGUIDs.
	//
	// Setting either list makes registration ask for "direct" attestation
	// (WebAuthn §5.4.7), so that browsers pass the authenticator's AAGUID
	// on; with attestation "none" a browser may replace it with zeros. The
	// AAGUID is what the authenticator says it is: without attestation
	// trust anchors (metadata) the factor does not check the claim, so the
	// lists keep honest authenticators out, not a forged one.
	AllowedAAGUIDs []string

	// DeniedAAGUIDs lists authenticator models that may not be registered
	// or used, in the form of AllowedAAGUIDs. It may hold the nil UUID to
	// refuse authenticators that do not disclose their model.
	DeniedAAGUIDs []string

	// RefuseSynced refuses credentials that may be backed up or synced
	// between devices (the backup eligibility flag, WebAuthn §6.1), for
	// hosts that require keys bound to one device.
	RefuseSynced bool
}

var _ twofactor.FactorConfig = Config{}

// The optional abilities the pages (package twofactorhttp) use.
var _ twofactor.Renamer = (*Factor)(nil)

// NewFactor builds the factor with env: twofactor.New calls it for each of
// Config.Factors.
func (c Config) NewFactor(env twofactor.Env) (twofactor.Factor, error) {
	f, err := New(env, c)
	if err != nil {
		return nil, err // a nil interface, not a nil *Factor in one
	}
	return f, nil
}

// Factor is the WebAuthn second factor, and signs in with passkeys. It
// implements twofactor.Factor, Enroller, Starter, Canceler, Remover,
// AnswerChecker and Discoverer. Build it with New, or get the one
// twofactor.New built with svc.Factor(twofactor.MethodWebAuthn); it is
// safe for concurrent use.
type Factor struct {
	store    Store
	keys     *keyring.Ring
	wa       *gowebauthn.WebAuthn
	rpID     string
	origins  []string
	timeout  time.Duration
	signPol  SignCountPolicy
	uv       Requirement
	rk       Requirement
	maxCreds int
	events   *event.Sink
	now      func() time.Time
	rand     io.Reader
	// The authenticator policy (Config.AllowedAAGUIDs, DeniedAAGUIDs and
	// RefuseSynced), the AAGUIDs in canonical form.
	allowed, denied map[string]bool
	refuseSynced    bool
}

var (
	_ twofactor.Factor            = (*Factor)(nil)
	_ twofactor.RecordVerifier    = (*Factor)(nil)
	_ twofactor.CounterVerifier   = (*Factor)(nil)
	_ twofactor.BatchMarkVerifier = (*Factor)(nil)
	_ twofactor.Enroller          = (*Factor)(nil)
	_ twofactor.RecordStarter     = (*Factor)(nil)
	_ twofactor.Canceler          = (*Factor)(nil)
	_ twofactor.Remover           = (*Factor)(nil)
	_ twofactor.AnswerChecker     = (*Factor)(nil)
	_ twofactor.Discoverer        = (*Factor)(nil)
)

func configErr(format string, args ...any) error { return errs.Config("webauthn", format, args...) }

// New validates cfg once and returns the factor, built with env's store,
// keyring, events and clock. The store must implement [Store]. Errors
// wrap twofactor.ErrConfig and say what to change: a nil Env.Store or
// Env.Keys, a store missing an interface (named), or a relying party
// browsers would refuse.
func New(env twofactor.Env, cfg Config) (*Factor, error) {
	st, env, err := errs.Store[Store]("webauthn", env, reflect.TypeFor[store.States](), reflect.TypeFor[store.OwnedStates](),
		reflect.TypeFor[store.Enrollments](), reflect.TypeFor[store.Ledger](), reflect.TypeFor[store.Counters]())
	if err != nil {
		return nil, err
	}
	s, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	wa, err := gowebauthn.New(s.goConfig(cmp.Or(strings.TrimSpace(cfg.RPDisplayName), s.rpID)))
	if err != nil {
		return nil, configErr("%v", err)
	}
	if s.rk == Required {
		wa.Config.AuthenticatorSelection.RequireResidentKey = protocol.ResidentKeyRequired()
	}
	return &Factor{
		store:    st,
		keys:     env.Keys,
		wa:       wa,
		rpID:     s.rpID,
		origins:  s.origins,
		timeout:  s.timeout,
		signPol:  cfg.SignCountPolicy,
		uv:       s.uv,
		rk:       s.rk,
		maxCreds: s.maxCreds,
		events:   env.Events,
		now:      env.Now,
		rand:     env.Rand,

		allowed:      s.allowed,
		denied:       s.denied,
		refuseSynced: cfg.RefuseSynced,
	}, nil
}

// settings is a validated Config with its defaults applied.
type settings struct {
	rpID     string
	origins  []string
	timeout  time.Duration
	uv, rk   Requirement
	maxCreds int
	// allowed and denied are Config.AllowedAAGUIDs and DeniedAAGUIDs in
	// canonical form; nil when not set.
	allowed, denied map[string]bool
}

// checkConfig validates cfg and applies every default.
func checkConfig(cfg Config) (settings, error) {
	rpID, err := checkRPID(cfg.RPID)
	if err != nil {
		return settings{}, err
	}
	if len(cfg.RPOrigins) == 0 {
		return settings{}, configErr("Config.RPOrigins is empty: list the origins your pages are served from, such as %q", "https://"+rpID)
	}
	s := settings{rpID: rpID, origins: make([]string, 0, len(cfg.RPOrigins))}
	for i, o := range cfg.RPOrigins {
		norm, err := checkOrigin(rpID, o)
		if err != nil {
			return settings{}, configErr("Config.RPOrigins[%d] %q: %v", i, o, err)
		}
		s.origins = append(s.origins, norm)
	}
	switch {
	case cfg.Timeout < 0:
		return settings{}, configErr("Config.Timeout must not be negative (zero means %s)", DefaultTimeout)
	case cfg.Timeout > MaxTimeout:
		return settings{}, configErr("Config.Timeout %s is longer than %s; a ceremony is one touch of a key", cfg.Timeout, MaxTimeout)
	case cfg.Timeout != 0 && cfg.Timeout < 10*time.Second:
		return settings{}, configErr("Config.Timeout %s is too short for a person to touch a key; use at least 10s", cfg.Timeout)
	}
	if cfg.SignCountPolicy != SignCountReject && cfg.SignCountPolicy != SignCountWarn {
		return settings{}, configErr("Config.SignCountPolicy %d is unknown: use SignCountReject or SignCountWarn", cfg.SignCountPolicy)
	}
	s.uv = cmp.Or(cfg.UserVerification, Discouraged)
	if !s.uv.valid() {
		return settings{}, configErr("Config.UserVerification %q: use Required, Preferred or Discouraged", cfg.UserVerification)
	}
	s.rk = cmp.Or(cfg.ResidentKey, Discouraged)
	if !s.rk.valid() {
		return settings{}, configErr("Config.ResidentKey %q: use Required, Preferred or Discouraged", cfg.ResidentKey)
	}
	s.maxCreds = cmp.Or(cfg.MaxCredentials, DefaultMaxCredentials)
	if s.maxCreds < 0 || s.maxCreds > 100 {
		return settings{}, configErr("Config.MaxCredentials %d: use 1 to 100 (zero means %d)", s.maxCreds, DefaultMaxCredentials)
	}
	s.timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	if len(cfg.AllowedAAGUIDs) > 0 && len(cfg.DeniedAAGUIDs) > 0 {
		return settings{}, configErr("Config.AllowedAAGUIDs and DeniedAAGUIDs are both set: use one (an allow list refuses every other model already)")
	}
	if s.allowed, err = checkAAGUIDs("AllowedAAGUIDs", cfg.AllowedAAGUIDs); err != nil {
		return settings{}, err
	}
	if s.denied, err = checkAAGUIDs("DeniedAAGUIDs", cfg.DeniedAAGUIDs); err != nil {
		return settings{}, err
	}
	return s, nil
}

const nilUUID = "00000000-0000-0000-0000-000000000000"

// checkAAGUIDs validates one of the Config's AAGUID lists and returns it
// as a set of canonical UUIDs (lower case), nil when empty.
func checkAAGUIDs(field string, list []string) (map[string]bool, error) {
	if len(list) == 0 {
		return nil, nil
	}
	set := make(map[string]bool, len(list))
	for i, s := range list {
		id, ok := parseUUID(strings.TrimSpace(s))
		switch {
		case !ok:
			return nil, configErr("Config.%s[%d] %q is not a UUID such as \"cb69481e-8ff7-4039-93ec-0a2729a154a8\"", field, i, s)
		case id == nilUUID && field == "AllowedAAGUIDs":
			return nil, configErr("Config.%s[%d] is the nil UUID, which names no authenticator model: browsers send it for every authenticator whose model they hide", field, i)
		}
		set[id] = true
	}
	return set, nil
}

// parseUUID returns s, a UUID in its usual text form (8-4-4-4-12
// hexadecimal digits), in lower case.
func parseUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// policyRefusal is an authenticator the Config's policy refuses. It
// matches twofactor.ErrInvalidInput: a request the server will not grant,
// not a wrong answer.
type policyRefusal struct{ msg, why string }

func (e *policyRefusal) Error() string { return e.msg }
func (e *policyRefusal) Unwrap() error { return twofactor.ErrInvalidInput }

// KeyRefusal says why, for a page: "model" or "synced".
func (e *policyRefusal) KeyRefusal() string { return e.why }

// Errors of the authenticator policy (Config.AllowedAAGUIDs,
// DeniedAAGUIDs and RefuseSynced), returned by ConfirmEnroll for a new
// credential and by Verify for one registered before the policy changed.
// Both match twofactor.ErrInvalidInput; the error returned wraps one and
// says which model or flag was refused.
var (
	// ErrAuthenticatorNotAllowed means the authenticator's model (its
	// AAGUID) is not on Config.AllowedAAGUIDs, or is on DeniedAAGUIDs.
	ErrAuthenticatorNotAllowed error = &policyRefusal{"webauthn: this authenticator model is not allowed", "model"}

	// ErrSyncedRefused means the credential may be backed up or synced
	// between devices (a synced passkey) and Config.RefuseSynced is set.
	ErrSyncedRefused error = &policyRefusal{"webauthn: passkeys that sync between devices are not allowed: use a key bound to this device", "synced"}
)

// checkAuthenticator applies the authenticator policy to a credential of
// model aaguid (16 bytes; anything else reads as the nil UUID) whose
// backup eligibility flag is be.
func (f *Factor) checkAuthenticator(aaguid []byte, be bool) error {
	id := formatUUID(aaguid)
	switch {
	case f.allowed != nil && !f.allowed[id]:
		return fmt.Errorf("%w: AAGUID %s is not on the allow list", ErrAuthenticatorNotAllowed, id)
	case f.denied[id]:
		return fmt.Errorf("%w: AAGUID %s is denied", ErrAuthenticatorNotAllowed, id)
	case f.refuseSynced && be:
		return ErrSyncedRefused
	}
	return nil
}

// goConfig is the go-webauthn configuration of the relying party.
func (s settings) goConfig(displayName string) *gowebauthn.Config {
	attestation := protocol.PreferNoAttestation
	if s.allowed != nil || s.denied != nil {
		// Browsers may zero the AAGUID of a credential registered with
		// attestation "none" (WebAuthn §5.4.7): the lists need the model.
		attestation = protocol.PreferDirectAttestation
	}
	return &gowebauthn.Config{
		RPID:                  s.rpID,
		RPDisplayName:         displayName,
		RPOrigins:             s.origins,
		AttestationPreference: attestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirement(s.rk),
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			UserVerification:   protocol.UserVerificationRequirement(s.uv),
		},
		Timeouts: gowebauthn.TimeoutsConfig{
			Login:        gowebauthn.TimeoutConfig{Timeout: s.timeout, TimeoutUVD: s.timeout},
			Registration: gowebauthn.TimeoutConfig{Timeout: s.timeout, TimeoutUVD: s.timeout},
		},
	}
}

func checkRPID(id string) (string, error) {
	if id == "" {
		return "", configErr("Config.RPID is empty: set it to your site's domain, such as \"example.com\" (\"localhost\" for development)")
	}
	if strings.Contains(id, "://") || strings.ContainsAny(id, "/:?#@ ") {
		return "", configErr("Config.RPID %q must be a bare domain such as \"example.com\": no scheme, port or path", id)
	}
	if net.ParseIP(id) != nil {
		return "", configErr("Config.RPID %q is an IP address, which browsers refuse as a relying-party id: use a domain (\"localhost\" for development)", id)
	}
	if id != strings.ToLower(id) {
		return "", configErr("Config.RPID %q must be lower case", id)
	}
	if strings.HasPrefix(id, ".") || strings.HasSuffix(id, ".") || strings.Contains(id, "..") || len(id) > 253 {
		return "", configErr("Config.RPID %q is not a valid domain name", id)
	}
	if err := protocol.ValidateRPID(id); err != nil {
		return "", configErr("Config.RPID %q is not a valid domain: %v", id, err)
	}
	return id, nil
}

// checkOrigin validates one origin against the RP id and returns it in
// canonical form (lower-case scheme and host, no trailing slash).
func checkOrigin(rpID, o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", errors.New("must be an absolute origin such as \"https://" + rpID + "\"")
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", errors.New("must be scheme://host[:port] only, without user, path, query or fragment")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	switch scheme {
	case "https":
	case "http":
		if host != "localhost" {
			return "", errors.New("must use https (plain http is allowed only for http://localhost during development)")
		}
	default:
		return "", fmt.Errorf("scheme %q is not https", u.Scheme)
	}
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return "", fmt.Errorf("host %q is neither the RPID %q nor a subdomain of it, so browsers would refuse every ceremony", host, rpID)
	}
	out := scheme + "://" + host
	if p := u.Port(); p != "" {
		out += ":" + p
	}
	return out, nil
}

// Method returns twofactor.MethodWebAuthn.
func (f *Factor) Method() twofactor.Method { return twofactor.MethodWebAuthn }

var _ twofactor.Assurer = (*Factor)(nil)

// Assurance reports what a security key or passkey assures: it is
// phishing resistant (the browser binds the assertion to this site's
// origin, which the factor checks: NIST SP 800-63B section 5.2.5), on the
// authenticator's channel, and AAL2 with a password. Never AAL3: that
// needs a hardware authenticator (section 4.3), and the factor checks no
// attestation, so it cannot tell a hardware key from a synced passkey,
// which is not one. Each verification reports its method references
// (Verified.AMR): "hwk" for a device-bound credential (backup eligible
// flag clear, W3C WebAuthn Level 3 section 6.1), "swk" for a synced one,
// "user" for the user presence the factor requires, and "mfa" when the
// authenticator verified the user (a PIN or biometric: a multi-factor
// authenticator, section 5.1.9; the flag does not say which). The
// method references given here, "swk", are the weaker claim, for a
// verification that reports none.
func (f *Factor) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"swk"}, Channel: twofactor.ChannelAuthenticator, PhishingResistant: true, AAL: 2}
}

// RPID returns the relying-party id.
func (f *Factor) RPID() string { return f.rpID }

// Origins returns the accepted origins, in canonical form.
func (f *Factor) Origins() []string { return append([]string(nil), f.origins...) }

func (f *Factor) emit(ctx context.Context, ev event.Event) {
	if ev.Time.IsZero() {
		ev.Time = f.now()
	}
	ev.Method = twofactor.MethodWebAuthn
	f.events.Emit(ctx, ev)
}

// Reasons of the failure events of refused responses, besides the root
// package's (event.ReasonReplay, ReasonExpired, ReasonSignCount).
const (
	// ReasonRejected: the response did not verify (challenge, origin,
	// relying party, signature, user presence or verification).
	ReasonRejected event.Reason = "rejected"
	// ReasonUnknownCredential: the response was made by a credential not
	// registered for the user.
	ReasonUnknownCredential event.Reason = "unknown_credential"
)

// Errors. Those about a browser response match twofactor.ErrInvalidCode, so
// the Service counts them as wrong answers; match them with errors.Is for
// detail.
var (
	// ErrRejected means the browser's response did not verify: wrong
	// challenge, wrong origin or relying party, bad signature, missing user
	// presence or verification, or a response that is not a credential.
	ErrRejected error = &rejection{"webauthn: response rejected", ReasonRejected, twofactor.ErrInvalidCode}

	// ErrUnknownCredential means the response was made by a credential that
	// is not registered for the user (another key, a removed key).
	ErrUnknownCredential error = &rejection{"webauthn: credential not registered for this user", ReasonUnknownCredential, twofactor.ErrInvalidCode}

	// ErrSignCountRegressed means the authenticator's signature counter did
	// not increase: the key may have been cloned. Verify refuses the login
	// unless Config.SignCountPolicy is SignCountWarn.
	ErrSignCountRegressed error = &rejection{"webauthn: signature counter did not increase (possible cloned authenticator)", event.ReasonSignCount, twofactor.ErrInvalidCode}

	// ErrCeremonyNotFound means there is no pending login ceremony for
	// the response: never started, cancelled, or already used (a replay).
	// It matches twofactor.ErrCodeReused. (A registration with none
	// pending is twofactor.ErrNotEnrolled.)
	ErrCeremonyNotFound error = &rejection{"webauthn: no pending ceremony (never started, cancelled or already used)", event.ReasonReplay, twofactor.ErrCodeReused}

	// ErrCeremonyExpired means the login ceremony's state outlived
	// Config.Timeout. It matches twofactor.ErrCodeExpired.
	ErrCeremonyExpired error = &rejection{"webauthn: ceremony expired", event.ReasonExpired, twofactor.ErrCodeExpired}

	// ErrTooManyCredentials means the user already has Config.MaxCredentials
	// credentials.
	ErrTooManyCredentials = errors.New("webauthn: too many credentials registered")
)

// rejection is a sentinel that matches (unwraps to) a root error and names
// its reason for the Service's failure events.
type rejection struct {
	msg    string
	reason event.Reason
	base   error
}

func (e *rejection) Error() string               { return e.msg }
func (e *rejection) Unwrap() error               { return e.base }
func (e *rejection) FailureReason() event.Reason { return e.reason }

// rejected wraps ErrRejected with what the verifier said (never the
// response itself).
func rejected(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Type != "" {
		return fmt.Errorf("%w: %s", ErrRejected, pe.Type)
	}
	return ErrRejected
}

func invalidInput(format string, args ...any) error {
	return fmt.Errorf("webauthn: %w: %s", twofactor.ErrInvalidInput, fmt.Sprintf(format, args...))
}

// checkName validates and normalises a user-chosen credential name.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return DefaultName, nil
	}
	if !utf8.ValidString(name) {
		return "", invalidInput("name is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > MaxNameLength {
		return "", invalidInput("name is longer than %d characters", MaxNameLength)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", invalidInput("name contains a control character")
		}
	}
	return name, nil
}

func checkUser(u twofactor.User) error {
	if err := twofactor.CheckUserID(u.ID); err != nil {
		return fmt.Errorf("webauthn: %w", err)
	}
	return nil
}

// enrollmentID derives a credential's enrollment id from its credential
// id: stable, short, and unique per user across factors thanks to the
// prefix.
func enrollmentID(credID []byte) string {
	sum := sha256.Sum256(credID)
	return "webauthn-" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// checkJSONObject is the cheap first check of a browser response.
func checkJSONObject(b []byte, limit int) error {
	if len(b) == 0 || len(b) > limit {
		return invalidInput("response must be 1 to %d bytes", limit)
	}
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	if i == len(b) || b[i] != '{' || !json.Valid(b) {
		return invalidInput("response is not a JSON object")
	}
	return nil
}

func ipString(c twofactor.Client) string {
	if !c.IP.IsValid() {
		return ""
	}
	return c.IP.String()
}
