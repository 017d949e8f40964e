package twofactor

import (
	"slices"
	"time"
)

// A Channel is the way a factor reaches its user, in the sense that
// matters for independence: whoever controls the channel controls every
// factor on it. Two codes sent to one mailbox are one factor, not two.
// The zero Channel means none: a factor that shares a channel with
// nothing else (backup codes on paper).
type Channel string

// Channels of the library's factors. A host's own factor may use one of
// these (a code by voice call is ChannelPhone) or a name of its own.
const (
	ChannelEmail Channel = "email" // the user's mailbox: email codes, email sign-in links
	ChannelPhone Channel = "phone" // the user's phone number: SMS and voice codes
	ChannelApp   Channel = "app"   // an authenticator app's shared secret (TOTP)
	// ChannelAuthenticator is a WebAuthn authenticator: a security key or
	// a passkey.
	ChannelAuthenticator Channel = "authenticator"
)

// Assurance is what a factor says about the verifications it makes, for
// [Result], the step-up proof and [Claims]. A factor reports it through
// [Assurer].
type Assurance struct {
	// AMR are the factor's Authentication Method Reference values, as
	// registered by RFC 8176 section 2 ("otp", "sms", "hwk"...). A
	// verification may report its own through [Verified].AMR.
	AMR []string
	// Channel is the factor's channel. Begin never offers a factor on the
	// channel the first step of sign-in used ([Client].FirstFactor).
	Channel Channel
	// PhishingResistant reports that an answer cannot be relayed by a
	// site that impersonates this one: the authenticator binds its answer
	// to the origin it talks to (WebAuthn, NIST SP 800-63B section 5.2.5,
	// "verifier impersonation resistance"). No code a user types is.
	PhishingResistant bool
	// AAL is the highest NIST SP 800-63B authenticator assurance level a
	// sign-in reaches with a password and this factor: 1 for a factor
	// 800-63B does not accept as a second factor (a code by email,
	// section 5.1.3.1), 2 for one it accepts (sections 5.1.2 to 5.1.9), 3
	// only for a hardware-based authenticator, attested as such, that is
	// also PhishingResistant (section 4.3). Zero means 1.
	AAL int
}

// Assurer is a factor that says what its verifications assure: its RFC
// 8176 method references, its channel, whether it resists phishing, the
// assurance level it can reach. A factor that is not an Assurer claims
// nothing: no method references, no channel, AAL1, not phishing
// resistant, and it is never offered where a step-up requires a
// phishing-resistant factor.
type Assurer interface {
	Factor
	Assurance() Assurance
}

// assurance returns what f says of itself, with AAL in range.
func assurance(f Factor) Assurance {
	a, ok := f.(Assurer)
	if !ok {
		return Assurance{AAL: 1}
	}
	as := a.Assurance()
	switch {
	case as.AAL >= 3 && as.PhishingResistant:
		as.AAL = 3
	case as.AAL >= 2:
		as.AAL = 2
	default:
		as.AAL = 1
	}
	return as
}

// A FirstFactor says how the first step of sign-in was done, before the
// second factor: Begin never offers a second factor on the same channel,
// and [Result] reports the sign-in's assurance from both.
type FirstFactor string

// First factors. The zero value is FirstPassword: the flow the library
// was made for, and what a host that does not say means.
const (
	// FirstPassword: the host checked a password (a memorized secret,
	// NIST SP 800-63B section 5.1.1). It shares a channel with no factor.
	FirstPassword FirstFactor = ""
	// FirstEmail: a sign-in link or code sent by email. Email codes are
	// not offered after it: whoever reads the mailbox has both.
	FirstEmail FirstFactor = "email"
	// FirstSMS: a code sent by SMS. SMS codes are not offered after it.
	FirstSMS FirstFactor = "sms"
	// FirstPasskey: a passkey or security key (WebAuthn). WebAuthn is not
	// offered after it: the library cannot tell one of the user's
	// credentials from another that signs in the same way.
	FirstPasskey FirstFactor = "passkey"
	// FirstSocial: an identity provider (sign in with Google, GitHub...).
	// It shares no channel the library can see; if the provider also
	// holds the user's mailbox (a Gmail address after Google sign-in),
	// pass FirstEmail instead, so that no email code is the second step.
	FirstSocial FirstFactor = "social"
)

// channel returns the channel the first factor used.
func (f FirstFactor) channel() Channel {
	switch f {
	case FirstEmail:
		return ChannelEmail
	case FirstSMS:
		return ChannelPhone
	case FirstPasskey:
		return ChannelAuthenticator
	}
	return ""
}

// amr returns the RFC 8176 value of the first factor, or "": "pwd" for a
// password. An email link, a passkey whose kind of key the host did not
// say, and a federated sign-in have none the library can vouch for; a
// host adds its own to the claims.
func (f FirstFactor) amr() string {
	switch f {
	case FirstPassword:
		return "pwd"
	case FirstSMS:
		return "sms"
	}
	return ""
}

// aalBase reports whether the first factor is an authenticator NIST SP
// 800-63B accepts (a memorized secret, section 5.1.1; a cryptographic
// authenticator, sections 5.1.7 to 5.1.9; an SMS code, restricted,
// section 5.1.3.3), so that a second one can reach AAL2. A sign-in link
// by email is not one (section 5.1.3.1), and a federated sign-in's
// assurance is the identity provider's to state (NIST SP 800-63C), so
// after either a sign-in is AAL1 here.
func (f FirstFactor) aalBase() bool {
	return f == FirstPassword || f == FirstPasskey || f == FirstSMS
}

func (f FirstFactor) valid() bool {
	switch f {
	case FirstPassword, FirstEmail, FirstSMS, FirstPasskey, FirstSocial:
		return true
	}
	return false
}

// signInAssurance returns what a sign-in whose first step was first and
// whose second was a factor with assurance as (and the verification's own
// method references amr, when it has them) reaches: its method references
// (the first factor's, the second's, and "mfa" for two independent
// factors, RFC 8176 section 2), its level and whether it resists
// phishing.
func signInAssurance(first FirstFactor, as Assurance, amr []string, purpose Purpose) (refs []string, aal int, phr bool) {
	if len(amr) == 0 {
		amr = as.AMR
	}
	// One allocation: the first factor's value, the second's, "mfa".
	refs = make([]string, 0, len(amr)+2)
	if a := first.amr(); a != "" && purpose == PurposeLogin {
		refs = append(refs, a)
	}
	refs = append(refs, amr...)
	// Begin offered only factors on another channel than the first's, so
	// a completed login used two independent factors.
	if purpose == PurposeLogin {
		refs = append(refs, "mfa")
	}
	refs = dedupe(refs)
	aal = 1
	if first.aalBase() {
		aal = as.AAL
	}
	return refs, aal, as.PhishingResistant
}

// dedupe removes repeated values, keeping the first of each, and any
// value that is not a short token of letters, digits, "_" and "-" (as
// every registered one is), so none can break the proof's encoding. It
// works in place: ss must be the caller's own.
func dedupe(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if amrToken(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func amrToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Claims are what a completed verification assures, in a form for a
// host's session or a token (JWT, OpenID Connect ID token): the names are
// those of the OpenID Connect Core 1.0 claims where one exists ("amr",
// "auth_time"), and AAL is the NIST SP 800-63B level as a number.
// AuthTime marshals as RFC 3339 text; a JWT wants AuthTime.Unix().
type Claims struct {
	// AMR are the RFC 8176 Authentication Method Reference values of the
	// verification: of the first step of a login when the library can
	// vouch for it ("pwd"), of the factor ("otp", "sms", "hwk", "swk",
	// "user"), and "mfa" for a login that used two independent factors.
	AMR []string `json:"amr"`
	// AAL is the NIST SP 800-63B authenticator assurance level reached:
	// 1, 2 or 3.
	AAL int `json:"aal"`
	// PhishingResistant reports that the factor bound its answer to this
	// site (WebAuthn).
	PhishingResistant bool `json:"phishing_resistant"`
	// AuthTime is when the factor was verified.
	AuthTime time.Time `json:"auth_time"`
}

// Claims returns what the verification assures, for the host's session
// or tokens.
func (r *Result) Claims() Claims {
	return Claims{AMR: slices.Clone(r.AMR), AAL: r.AAL, PhishingResistant: r.PhishingResistant, AuthTime: r.VerifiedAt}
}

// Claims returns what the verification the proof states assures. A proof
// from before proofs carried assurance (version 2) has no method
// references, AAL1, and is not phishing resistant.
func (p Proof) Claims() Claims {
	return Claims{AMR: slices.Clone(p.AMR), AAL: max(p.AAL, 1), PhishingResistant: p.PhishingResistant, AuthTime: p.VerifiedAt}
}

// A Requirement is what a sensitive action asks of the step-up before it:
// [Service.StepUpFor] offers only the methods that meet it, and
// [Service.CheckProofFor] accepts only a proof that does. The zero
// Requirement asks for a fresh verification of any factor.
type Requirement struct {
	// PhishingResistant asks for a factor that binds its answer to this
	// site (WebAuthn): a code the user types can be relayed by a
	// look-alike site, a security key's answer cannot.
	PhishingResistant bool
	// MaxAge is how old the verification may be. Zero, or more than
	// Config.StepUpMaxAge, means StepUpMaxAge.
	MaxAge time.Duration
}

// qualifies reports whether a factor with assurance as meets r.
func (r Requirement) qualifies(as Assurance) bool {
	return !r.PhishingResistant || as.PhishingResistant
}
