package webauthn

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/twofactorkit/twofactor/internal/bind"
	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/store"
)

// Store is the storage the factor needs: ceremony state (single use,
// expiring, filed under its user so a password change or an admin reset
// ends a pending registration), the users' credentials, a ledger holding
// each credential's highest signature counter, so a counter is accepted
// once even across app instances, and counters, which claim each
// credential id for one account. Every store of this module implements it.
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
	// emits an EventWarning. The default.
	SignCountReject SignCountPolicy = iota
	// SignCountWarn accepts the assertion and only emits the EventWarning.
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

// Config configures a Factor. Zero fields take the documented defaults; New
// validates the whole and says what to fix. Given to twofactor.New, the
// factor needs only the relying party (RPID, RPOrigins): the Service binds
// its store, keyring, events and clock to every one of those fields left
// zero.
type Config struct {
	// Store keeps ceremony state, credentials, signature counters and
	// credential claims. Zero: the Service's store. Used without a Service,
	// set it, with the same clock as Now.
	Store Store

	// Keys derives the opaque user handle given to authenticators, so the
	// host's user id never reaches them. Zero: the Service's keyring. Used
	// without a Service, set it.
	Keys *twofactor.Keyring

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
	// response without user verification fail.
	UserVerification Requirement

	// ResidentKey says whether registration asks for a discoverable
	// credential (a passkey stored on the authenticator). Zero means
	// Discouraged, which saves the few slots hardware keys have.
	ResidentKey Requirement

	// MaxCredentials bounds how many credentials one user may register.
	// Zero means 10; at most 100.
	MaxCredentials int

	// Events receives enrollment and warning events. Zero: the Service's,
	// else slog.Default().
	Events *twofactor.Events

	// Now is the clock. Zero: the Service's, else time.Now.
	Now func() time.Time
}

// Factor is the WebAuthn second factor. It implements twofactor.Factor,
// Enroller, Binder, Starter, Canceler, Remover and AnswerChecker. Build it
// with New; it is safe for concurrent use (with a Service, once
// twofactor.New has returned).
type Factor struct {
	cfg      Config // as given to New: Bind fills only what it left zero
	store    Store
	keys     *twofactor.Keyring
	wa       *gowebauthn.WebAuthn
	rpID     string
	origins  []string
	timeout  time.Duration
	signPol  SignCountPolicy
	uv       Requirement
	rk       Requirement
	maxCreds int
	events   *twofactor.Events
	now      func() time.Time
}

var (
	_ twofactor.Factor        = (*Factor)(nil)
	_ twofactor.Enroller      = (*Factor)(nil)
	_ twofactor.Binder        = (*Factor)(nil)
	_ twofactor.Starter       = (*Factor)(nil)
	_ twofactor.Canceler      = (*Factor)(nil)
	_ twofactor.Remover       = (*Factor)(nil)
	_ twofactor.AnswerChecker = (*Factor)(nil)
)

func configErr(format string, args ...any) error { return errs.Config("webauthn", format, args...) }

// New validates cfg once and returns the factor. Errors wrap
// twofactor.ErrConfig and say what to change. Store and Keys may be left
// zero when the factor is given to twofactor.New, which binds the
// Service's; a factor that has neither (configured nor bound) answers
// every call that needs them with an error matching twofactor.ErrConfig.
func New(cfg Config) (*Factor, error) {
	return build(cfg)
}

// Bind takes the Service's store, keyring, events and clock for every one
// of them the factor's Config left zero (what Config sets wins).
// twofactor.New calls it; a host does not. The Service's store must
// implement [Store].
func (f *Factor) Bind(s twofactor.Shared) error {
	cfg := f.cfg
	if cfg.Store == nil && s.Store != nil {
		st, err := bind.Store[Store]("webauthn", "webauthn.Config.Store", s.Store,
			reflect.TypeFor[store.States](), reflect.TypeFor[store.OwnedStates](), reflect.TypeFor[store.Enrollments](), reflect.TypeFor[store.Ledger](), reflect.TypeFor[store.Counters]())
		if err != nil {
			return err
		}
		cfg.Store = st
	}
	bind.Parts(s, &cfg.Keys, &cfg.Events, &cfg.Now, nil)
	bound, err := build(cfg)
	if err != nil {
		return err
	}
	bound.cfg = f.cfg
	*f = *bound
	return nil
}

// ready reports, as an error matching twofactor.ErrConfig, a factor that
// has no store or keyring: neither configured nor bound by a Service.
func (f *Factor) ready() error {
	switch {
	case f.store == nil:
		return configErr("no store: give the factor to twofactor.New, or set Config.Store (store.NewMemory, sqlstore, redisstore)")
	case f.keys == nil:
		return configErr("no keyring: give the factor to twofactor.New, or set Config.Keys")
	}
	return nil
}

// build validates cfg and applies every default: the one place they are
// applied, for New and Bind alike.
func build(cfg Config) (*Factor, error) {
	rpID, err := checkRPID(cfg.RPID)
	if err != nil {
		return nil, err
	}
	if len(cfg.RPOrigins) == 0 {
		return nil, configErr("Config.RPOrigins is empty: list the origins your pages are served from, such as %q", "https://"+rpID)
	}
	origins := make([]string, 0, len(cfg.RPOrigins))
	for i, o := range cfg.RPOrigins {
		norm, err := checkOrigin(rpID, o)
		if err != nil {
			return nil, configErr("Config.RPOrigins[%d] %q: %v", i, o, err)
		}
		origins = append(origins, norm)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, configErr("Config.Timeout must not be negative (zero means %s)", DefaultTimeout)
	case cfg.Timeout > MaxTimeout:
		return nil, configErr("Config.Timeout %s is longer than %s; a ceremony is one touch of a key", cfg.Timeout, MaxTimeout)
	case cfg.Timeout != 0 && cfg.Timeout < 10*time.Second:
		return nil, configErr("Config.Timeout %s is too short for a person to touch a key; use at least 10s", cfg.Timeout)
	}
	if cfg.SignCountPolicy != SignCountReject && cfg.SignCountPolicy != SignCountWarn {
		return nil, configErr("Config.SignCountPolicy %d is unknown: use SignCountReject or SignCountWarn", cfg.SignCountPolicy)
	}
	uv := cmp.Or(cfg.UserVerification, Discouraged)
	if !uv.valid() {
		return nil, configErr("Config.UserVerification %q: use Required, Preferred or Discouraged", cfg.UserVerification)
	}
	rk := cmp.Or(cfg.ResidentKey, Discouraged)
	if !rk.valid() {
		return nil, configErr("Config.ResidentKey %q: use Required, Preferred or Discouraged", cfg.ResidentKey)
	}
	maxCreds := cmp.Or(cfg.MaxCredentials, DefaultMaxCredentials)
	if maxCreds < 0 || maxCreds > 100 {
		return nil, configErr("Config.MaxCredentials %d: use 1 to 100 (zero means %d)", maxCreds, DefaultMaxCredentials)
	}
	timeout := cmp.Or(cfg.Timeout, DefaultTimeout)
	name := cmp.Or(strings.TrimSpace(cfg.RPDisplayName), rpID)
	wa, err := gowebauthn.New(&gowebauthn.Config{
		RPID:                  rpID,
		RPDisplayName:         name,
		RPOrigins:             origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirement(rk),
			RequireResidentKey: protocol.ResidentKeyNotRequired(),
			UserVerification:   protocol.UserVerificationRequirement(uv),
		},
		Timeouts: gowebauthn.TimeoutsConfig{
			Login:        gowebauthn.TimeoutConfig{Timeout: timeout, TimeoutUVD: timeout},
			Registration: gowebauthn.TimeoutConfig{Timeout: timeout, TimeoutUVD: timeout},
		},
	})
	if err != nil {
		return nil, configErr("%v", err)
	}
	if rk == Required {
		wa.Config.AuthenticatorSelection.RequireResidentKey = protocol.ResidentKeyRequired()
	}
	f := &Factor{
		cfg:      cfg,
		store:    cfg.Store,
		keys:     cfg.Keys,
		wa:       wa,
		rpID:     rpID,
		origins:  origins,
		timeout:  timeout,
		signPol:  cfg.SignCountPolicy,
		uv:       uv,
		rk:       rk,
		maxCreds: maxCreds,
		events:   cfg.Events,
		now:      cfg.Now,
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.events == nil {
		f.events = &twofactor.Events{Now: f.now}
	}
	return f, nil
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

// RPID returns the relying-party id.
func (f *Factor) RPID() string { return f.rpID }

// Origins returns the accepted origins, in canonical form.
func (f *Factor) Origins() []string { return append([]string(nil), f.origins...) }

func (f *Factor) emit(ctx context.Context, ev twofactor.Event) {
	if ev.Time.IsZero() {
		ev.Time = f.now()
	}
	ev.Method = twofactor.MethodWebAuthn
	f.events.Emit(ctx, ev)
}

// Errors. Those about a browser response match twofactor.ErrInvalidCode, so
// the Service counts them as wrong answers; match them with errors.Is for
// detail.
var (
	// ErrRejected means the browser's response did not verify: wrong
	// challenge, wrong origin or relying party, bad signature, missing user
	// presence or verification, or a response that is not a credential.
	ErrRejected error = &rejection{"webauthn: response rejected", "rejected", twofactor.ErrInvalidCode}

	// ErrUnknownCredential means the response was made by a credential that
	// is not registered for the user (another key, a removed key).
	ErrUnknownCredential error = &rejection{"webauthn: credential not registered for this user", "unknown_credential", twofactor.ErrInvalidCode}

	// ErrSignCountRegressed means the authenticator's signature counter did
	// not increase: the key may have been cloned. Verify refuses the login
	// unless Config.SignCountPolicy is SignCountWarn.
	ErrSignCountRegressed error = &rejection{"webauthn: signature counter did not increase (possible cloned authenticator)", "sign_count_regressed", twofactor.ErrInvalidCode}

	// ErrCeremonyNotFound means there is no pending login ceremony for
	// the response: never started, cancelled, or already used (a replay).
	// It matches twofactor.ErrCodeReused. (A registration with none
	// pending is twofactor.ErrNotEnrolled.)
	ErrCeremonyNotFound error = &rejection{"webauthn: no pending ceremony (never started, cancelled or already used)", twofactor.ReasonReplay, twofactor.ErrCodeReused}

	// ErrCeremonyExpired means the login ceremony's state outlived
	// Config.Timeout. It matches twofactor.ErrCodeExpired.
	ErrCeremonyExpired error = &rejection{"webauthn: ceremony expired", twofactor.ReasonExpired, twofactor.ErrCodeExpired}

	// ErrTooManyCredentials means the user already has Config.MaxCredentials
	// credentials.
	ErrTooManyCredentials = errors.New("webauthn: too many credentials registered")
)

// rejection is a sentinel that matches (unwraps to) a root error and names
// its reason for the Service's failure events.
type rejection struct {
	msg    string
	reason string
	base   error
}

func (e *rejection) Error() string         { return e.msg }
func (e *rejection) Unwrap() error         { return e.base }
func (e *rejection) FailureReason() string { return e.reason }

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
