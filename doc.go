// Package twofactor adds a second factor to the password login of an
// existing Go web application: authenticator apps (TOTP), codes by email and
// SMS, backup codes, WebAuthn security keys, and "trust this device".
//
// The host keeps its users, passwords and sessions. After the password
// check it asks the [Service] for a second factor; the library owns the
// flows and the security rules, and keeps its state in a store the host
// picks (package store and its sub-packages).
//
// # The login flow
//
//  1. The host checks the password, then calls [Service.Begin] with the
//     user and the [Client] (IP, user agent, trusted-device cookie).
//  2. If the device is trusted, Begin answers [StatusTrusted]: done.
//     Otherwise it returns a [Challenge] listing the methods this user has
//     enrolled that the [Policy] allows. The host keeps Challenge.ID in its
//     session and shows the choices.
//  3. For email and SMS, [Service.Send] issues and delivers a code; for
//     WebAuthn, [Service.Start] returns the browser's options.
//  4. [Service.Verify] checks the answer. Limits are checked first (per
//     challenge, per user, per client IP, all kept in the store so they hold
//     across app instances); then the factor verifies and consumes the
//     answer, and the challenge completes atomically, once.
//  5. [Service.Cancel] ends a challenge; every code issued for it dies.
//
// Every step emits an event (package event: typed, with the facts a
// consumer branches on in typed fields) to log/slog, an optional hook and
// the Service's listeners (package notify sends security emails from
// them). Events never carry codes, secrets or full phone numbers.
//
// # Building it: one call
//
// [New] builds everything from one [Config], with one error to check: it
// opens the store (or takes the one given), loads the server keys (package
// keyring), and builds every factor, the trusted-device manager and every
// listener from their configs with one [Env]: the store, the keys, the
// events, the clock, the randomness and the host's user lookup. Each part
// checks, as it is built, that the store has what it needs and names what
// is missing; once New returns, every part is complete and no request can
// meet a configuration error.
//
//	svc, err := twofactor.New(twofactor.Config{
//		OpenStore: sqlite.File("twofactor.db"),
//		Keys:      keyring.Env("TWOFACTOR_KEYS"),
//		Factors:   []twofactor.FactorConfig{totp.Config{Issuer: "Acme"}, emailcode.Config{Sender: mailer}},
//		Trust:     trust.Config{Duration: trust.Month},
//		Users:     users.Lookup, // user id -> twofactor.User
//	})
//
// Package twofactorhttp takes the same Config and builds the Service and
// its pages in the same call.
//
// # Factors
//
// The root package knows factors only through the [Factor] interface and
// the optional interfaces its documentation lists in one place
// ([Enroller], [Sender], [Starter], [Canceler], [Remover],
// [RecoveryFactor], [AnswerChecker], [Offerer], [Assurer], and those pages use: [CodeFormat],
// [Renamer], [CodeCounter], [RecoveryIssuer], [OptInFactor]). The
// library's factors live in their own packages (totp, emailcode, smscode,
// backupcodes, webauthn), each usable alone with an Env of its own; a host
// adds its own by implementing Factor and giving it as a [FactorFunc].
// A factor that checks answers in the store may hand that check to the
// Service, which runs it in the round trip that counts the answer, so
// that a login costs fewer round trips: [RecordVerifier] (the user's
// records read with the count), [MarkVerifier] (a replay mark run with
// the challenge's end), [CounterVerifier] (with the mark, a counter that
// must rise, as a security key's signature counter), [BatchMarkVerifier]
// (reads of its own beside the records, with marks), [CodeConsumer] (one
// code's consumption) and
// [BatchVerifier] (several operations of the factor's own).
// [Service.Methods] is the one order of methods, everywhere.
//
// # Enrollment
//
// Users add factors through [Service.BeginEnroll] and [Service.ConfirmEnroll]
// (a QR code then a code, a code sent to a phone, a security key's
// attestation): one vocabulary for every factor. A user who already has a
// factor proves one first (a step-up proof), the same rule as for removing
// one ([Service.RemoveEnrollment]); the first factor comes with a set of
// backup codes; [Service.Disable] turns everything off after a step-up.
// Package twofactorhttp serves all of it as pages and a JSON API.
//
// # Policies
//
// A [Policy] says which methods users may use, which one comes first,
// which they must all have, and whether a second factor is required. One
// policy, Config.Policy, serves everyone; a host whose users differ (a
// role, a group, a tenant, an attribute) names more in Config.Policies and
// says whose each is with Config.PolicyFor, which returns a name ("" for
// Config.Policy). A list of rules is a function:
//
//	Policies: map[string]twofactor.Policy{
//		"admin": {Required: true, Methods: []twofactor.Method{twofactor.MethodWebAuthn, twofactor.MethodBackupCode}},
//		"staff": {Required: true, Grace: twofactor.Grace{Days: 14}},
//	},
//	PolicyFor: func(ctx context.Context, u twofactor.User) (string, error) {
//		switch role := roles.Of(ctx, u.ID); { // the host's own lookup
//		case role == "admin":
//			return "admin", nil // first match wins
//		case strings.HasSuffix(u.Email, "@acme.example"):
//			return "staff", nil
//		}
//		return "", nil // everyone else: Config.Policy
//	},
//
// New checks every named policy as it checks Config.Policy. PolicyFor is
// asked wherever a policy applies ([Service.Begin], enrollment, removal,
// [Service.Disable], [Service.Check], and in package twofactorhttp the
// settings pages, the Enforce middleware and the administrator pages) and
// its answer is never kept, so a change applies at the next request; its
// error, or a name Config.Policies lacks, fails the request closed.
// [Service.PolicyFor] gives a user's policy and its name.
//
// A required policy may give users without a second factor a [Grace]: a
// date, a number of days from their first prompt, a number of skips, or
// several of these (the first reached ends it). Meanwhile Begin answers
// [StatusEnrollSuggested] with what is left ([GraceLeft]); the host
// prompts the user to set one up and may let them skip
// ([Service.SkipEnroll]); once it is over, Begin answers
// [StatusEnrollRequired]. The store keeps two counters per user for it,
// written only when such a user is first prompted and when they skip,
// never at the sign-in of a user who has a factor: the time of the first
// prompt (for Days) and the skips (for Skips); [Service.GraceRecord] reads
// them, [Service.EnrollGrace] says what is left.
//
// # Limits and the odds they leave
//
// Every answer is counted in the store before a factor sees it, so the
// limits hold however requests interleave across app instances:
// [Limits].MaxAttempts answers per challenge (5), MaxIPAttempts per client
// network per IPWindow (100 per 15 minutes; IPv6 clients by their /64), and
// the user's run of wrong answers in a row across challenges. The run
// escalates: 10 wrong answers, then a 15-minute lockout; 10 more, then 30
// minutes; then 1 hour, 2 hours, and so on, doubling. After 100 wrong
// answers in a row (the most NIST SP 800-63B allows) the user stays locked
// until [Service.PasswordChanged], [Service.Unlock] or [Service.AdminReset]
// lifts it, or a year has passed since the run began. A correct answer
// ends the run; so does a password change, since the wrong answers came
// from someone who had the old password. A trusted device still signs its
// owner in while the account is locked.
//
// With these defaults an attacker who knows the password and answers as
// fast as allowed gets at most 100 wrong answers checked until the user
// next signs in with a second factor. The bound is per year, not for
// ever: the run is remembered for [Limits].FailureMemory (a year) from its
// first wrong answer, so a year later, if nobody lifted the lock sooner,
// the run starts again and the same attacker gets 100 more. A TOTP
// code is accepted within a window of three time steps, 3 codes in 10^6, so
// the attacker's chance is at most 100 × 3/10^6 = 0.03% a year; against a
// six-digit email or SMS code, 0.01%; against a backup code (60 bits),
// nil in practice. Each lockout emits an event.Lockout (with the count and
// when it lifts): tell the user that someone who has their password is
// trying to sign in, and have them change it, which also ends the run.
// Answers that are no guess do not count: one refused by a limit, the
// loser of a double submit, a replayed code ([ErrCodeReused], [ErrNoCode]),
// an answer to a method whose enrollment was removed meanwhile.
//
// # What a verification assures
//
// A [Result] says what was verified, and its proof carries the same, so a
// step-up can ask for more than freshness: [Result.Claims] gives it to a
// session or a token in one call ({"amr": ["pwd","otp","mfa"], "aal": 2,
// "phishing_resistant": false, "auth_time": ...}). Factors say what they
// assure through [Assurer]; a host's own factor can too, and one that
// does not claims nothing (AAL1, no references, not phishing resistant).
//
// Method references are values of the registry RFC 8176 (section 2)
// creates: "pwd" for the password of a login, "mfa" for a login's two
// independent factors, then the factor's own:
//
//   - authenticator app (TOTP): "otp", the value RFC 8176 gives RFC 6238.
//     Not "swk": the secret is shared with the server, and how the app
//     keeps it the server cannot know.
//   - email code: "otp". RFC 8176 registers no value for email; the code
//     is a one-time password.
//   - SMS code: "sms".
//   - backup code: "otp", each code used once. Not "kba", which is
//     knowledge-based authentication (questions about the user); a backup
//     code is something the user has.
//   - security key or passkey (WebAuthn): "hwk" for a device-bound
//     credential, "swk" for a synced passkey (its backup eligible flag,
//     W3C WebAuthn Level 3 section 6.1), "user" for the user presence
//     every assertion proves, and "mfa" when the authenticator verified
//     the user (a PIN or a biometric; the flag does not say which, so
//     neither "pin" nor "fpt" is claimed).
//
// The assurance level follows NIST SP 800-63B. A password and a second
// factor it accepts reach AAL2 (section 4.2): an authenticator app
// (section 5.1.4), SMS (restricted, section 5.1.3.3), backup codes (look-up
// secrets, section 5.1.2), a security key or passkey (sections 5.1.7 to
// 5.1.9). An email code is AAL1: email proves no possession of a device
// and is no out-of-band authenticator (section 5.1.3.1). AAL3 needs a
// hardware-based authenticator that resists verifier impersonation
// (section 4.3). The webauthn factor asks for no attestation, so it cannot
// tell a hardware key from a synced passkey, which does not qualify; it
// never claims AAL3, and only a host's own factor that knows its
// authenticators (attested hardware, phishing resistant) can. After a
// first step that is no 800-63B authenticator (a sign-in link by email, a
// federated login, whose assurance the identity provider states under NIST
// SP 800-63C) a sign-in is AAL1 here. Phishing resistance is WebAuthn's
// alone: the browser binds the answer to the site's origin (section
// 5.2.5); a code the user types can be relayed by a look-alike site.
//
// A proof's format is versioned: proofs carry their version in the
// domain they are signed under, and a proof issued before they carried
// assurance is still read for the minutes it lives (Config.StepUpMaxAge),
// as assuring nothing.
//
// # Step-up that asks for more
//
// A sensitive action may ask for a [Requirement]: a phishing-resistant
// factor, a verification younger than Config.StepUpMaxAge.
// [Service.StepUpFor] offers only the user's methods that meet it (so a
// code cannot complete it) and answers [ErrNoQualifyingMethod] to a user
// who has none; [Service.CheckProofFor] accepts only a proof that meets it.
//
// # Independent factors
//
// Two codes sent to one mailbox are one factor: whoever reads the mailbox
// has both. The host tells Begin how the first step was done
// ([Client].FirstFactor: a password, a sign-in link by email, an SMS code,
// a passkey, a social login), and Begin offers no second factor on its
// channel ([Assurance].Channel): no email code after a sign-in link by
// email, no SMS code after an SMS code, no WebAuthn after a passkey. The
// challenge records what it offers, so Send and Verify refuse the rest. A
// user whose every factor is on that channel gets [ErrNoIndependentFactor]
// from Begin: sign them in another way, or have them add another factor.
//
// # Vetoing a verification
//
// Config.Veto lets the host refuse a verification the factor accepted (a
// risk score, a blocked network). It runs after the factor consumed the
// answer and before the challenge completes. A veto is never a success:
// Verify returns an error matching [ErrVetoed] (and the veto's own), with
// no Result, proof or trusted device; the challenge ends, with every code
// issued for it; what the factor consumed stays consumed. The answer was
// right, so it is no guess: it does not count toward the lockout, and it
// does not end the user's run of wrong answers either. A failure event
// with reason event.ReasonVetoed carries the veto's error.
//
// # Metrics and traces
//
// The Service reports through the OpenTelemetry API only; the host picks
// the SDK and the exporter. Config.MeterProvider and Config.TracerProvider
// give the providers: the host's own, or OpenTelemetry's global ones
// (otel.GetMeterProvider(), otel.GetTracerProvider()). With neither, or
// with only OpenTelemetry's no-op providers, the Service is built without
// telemetry: no instruments, no spans, the store given to the parts as it
// is, so a login costs what it cost before (BenchmarkLoginTelemetryCost
// compares the no-op providers with none). The meter and the tracer are
// made once, in [New], under [InstrumentationName].
//
// Metrics, most of them counted from the Service's events in one place:
//
//   - twofactor.verifications {verification}: answers, by twofactor.method,
//     twofactor.purpose and twofactor.outcome (success, invalid, expired,
//     replay, no_code, malformed, locked, rate_limited, too_many_attempts,
//     vetoed, method_not_allowed, error...);
//   - twofactor.lockouts {lockout}: users locked out;
//   - twofactor.codes.sent {code}: codes issued by [Service.Send], by
//     method and outcome (sent, rate_limited, error...);
//   - twofactor.budgets.reached {budget}: sending budgets used up;
//   - twofactor.enrollments and twofactor.removals {enrollment}: by method
//     ("all" for an administrator's reset or a user's disable);
//   - twofactor.device.checks {check}: trusted-device tokens checked at
//     Begin, by outcome (trusted, untrusted, error);
//   - twofactor.step.duration (s): each step (begin, step_up, send, start,
//     verify, cancel, begin_enroll, confirm_enroll, remove_enrollment,
//     disable, admin_reset), by twofactor.step and outcome;
//   - twofactor.store.duration (s): each store call, by
//     twofactor.store.operation and outcome (ok, not_found, error).
//
// Each step is a span ("twofactor.Verify"), a child of the span in the
// context the host passes (its request's), and each store call within a
// step that records is a child span ("twofactor.store.IncrBelow").
// Durations are measured on the monotonic clock, not Config.Now.
//
// No attribute ever holds a user id, a name, an address, a phone number, a
// code, a token or an error's text: only the constants above, and a
// method only when it is one of the configured factors' ("other"
// otherwise, since an answer's method comes from the client). A span's
// error status says the outcome, not the error.
//
// To time and trace the store, a Service with telemetry gives every part
// the store wrapped,
// with exactly the optional interfaces of package store that it has
// ([UnwrapStore] returns the host's). A store that lacks some of
// store.Store's interfaces is not wrapped, and its calls are neither timed
// nor traced.
//
// # Security notes
//
//   - Codes come from crypto/rand without modulo bias and are compared in
//     constant time. Stores keep only keyed hashes of codes (HMAC-SHA256
//     under a server key, package keyring) and AES-256-GCM ciphertexts of TOTP secrets,
//     each tagged with its key id so keys rotate.
//   - A wrong code and an expired code are the same [ErrInvalidCode] to the
//     user; events say which it was.
//   - Every error path fails closed: a store or delivery error is returned
//     as an error, never as a success.
//   - Removing a factor needs a fresh verification ([Result.Proof],
//     [Service.CheckProof]); support staff use [Service.AdminReset], which is
//     audited.
package twofactor
