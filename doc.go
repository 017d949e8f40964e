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
// [RecoveryFactor], [AnswerChecker], [Offerer], and those pages use: [CodeFormat],
// [Renamer], [CodeCounter], [RecoveryIssuer], [OptInFactor]). The
// library's factors live in their own packages (totp, emailcode, smscode,
// backupcodes, webauthn), each usable alone with an Env of its own; a host
// adds its own by implementing Factor and giving it as a [FactorFunc].
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
