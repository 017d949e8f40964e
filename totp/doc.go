// Package totp is the authenticator-app second factor: time-based one-time
// passwords (RFC 6238) that any standard app computes (Google Authenticator,
// Microsoft Authenticator, Okta Verify, Duo, LastPass, Authy...).
//
// # Construction
//
// The factor's [Config] holds only what is specific to it; the store, the
// keys, the events, the clock and the randomness come from the
// twofactor.Env it is built with. A Config is a twofactor.FactorConfig:
// given to twofactor.New, it is built with the Service's Env, and the
// host gets the factor back by its method when it needs its own methods
// (Rekey, CancelEnroll):
//
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys,
//		Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Example"}}})
//	f, _ := svc.Factor(twofactor.MethodTOTP)
//	app := f.(*totp.Factor)
//
// Used alone, without a Service, [New] builds it with an Env of its own:
//
//	app, err := totp.New(twofactor.Env{Store: st, Keys: keys}, totp.Config{Issuer: "Example"})
//
// Either way the factor is complete when it is built: a missing store or
// keyring, a store without the interfaces of [Store] (named in the error)
// and a setting out of range are errors matching twofactor.ErrConfig then,
// never later.
//
// # Enrollment
//
// Enrollment stays pending until the user proves they scanned the QR code.
// Through the Service (which asks a user who already has a factor to prove
// it first):
//
//	p, err := svc.BeginEnroll(ctx, user, twofactor.MethodTOTP, twofactor.EnrollRequest{}, proof)
//	// show p.QR in an <img>, p.URI as a link, totp.GroupSecret(p.Secret) for typing
//	done, err := svc.ConfirmEnroll(ctx, user, twofactor.MethodTOTP, code) // code typed from the app
//
// Enrolling.URI is the otpauth:// URI and Enrolling.QR the PNG of its QR
// code. A page built with html/template marks the URI, and the PNG as a
// data: URI ("data:image/png;base64,..."), as template.URL, so they reach
// an href and an <img src> as they are (see the example of
// [Factor.BeginEnroll]). The app shows user.AccountName() under
// Config.Issuer. Service.ConfirmEnroll emits the event.Enroll;
// the factor emits event.EnrollBegin when an enrollment starts.
//
// A wrong code leaves the enrollment pending (twofactor.ErrInvalidCode), and
// beginning again shows the same secret and QR code until
// Config.PendingTTL (10 minutes) has passed since it started, or
// EnrollRequest.Restart asks for a new secret. After that, ConfirmEnroll
// returns [ErrNoPending] (which matches twofactor.ErrNotEnrolled). The
// pending enrollment is filed under the user in the store, so
// Service.PasswordChanged, Service.AdminReset and Service.Disable end it. A
// user has one TOTP enrollment at most: BeginEnroll returns
// twofactor.ErrAlreadyEnrolled until it is removed.
//
// Defaults are what every app accepts: SHA1, 6 digits, a 30-second step and a
// 160-bit secret. SHA256, SHA512 and 8 digits are configurable, but several
// popular apps ignore them and show wrong codes; keep the defaults unless you
// control the apps.
//
// # Sign-in
//
// Register the factor with the service (twofactor.Config.Factors) and the
// login flow offers it to every user with an enrollment; [Factor.Verify]
// checks the code and records the enrollment's last use
// (twofactor.Enrollment.LastUsedAt, for an account page). Used alone, call
// Verify with a Challenge naming the user.
//
// # Removal
//
// Removing TOTP needs a current second factor: Service.RemoveEnrollment
// and Service.Disable take a fresh step-up proof, and keep the policy
// (twofactor.ErrLastFactor while a factor is required). A user who lost
// the device goes through Service.AdminReset (support, after checking
// identity by other means). They use [Factor.Remove] and
// [Factor.RemoveAll].
//
// # Outside the factor
//
// [Params], [Key], [ParseURI] and [Params.Match] work on plain values: the
// twofactor command's "totp" subcommands use them to print and check codes.
//
// # Security notes
//
//   - Secrets are sealed with the keyring (AES-256-GCM, key id in the value),
//     bound to the user id and the enrollment (or pending) id, so a
//     ciphertext copied to another record does not open. The store never
//     holds a secret in any encoding; [Factor.Rekey] re-encrypts under the
//     current key after a rotation.
//   - Each accepted time step is recorded in the store's ledger as a
//     high-water mark per enrollment (store.Ledger.Advance): a code is
//     accepted once, and a code older than the newest accepted one is
//     refused (twofactor.ErrCodeReused), across every app instance sharing
//     the store. The confirming code of an enrollment is burnt the same way.
//     Through the Service, a code that matched with no clock drift has its
//     mark written in the round trip that ends the challenge, the end
//     waiting on it ([Factor.VerifyMarked], twofactor.MarkVerifier): a
//     sign-in with an authenticator app is two store round trips, and a
//     code whose step a concurrent sign-in took ends nothing.
//   - Codes are compared in constant time; a wrong code is compared with
//     every step of the skew window, so timing says no more than the answer.
//     Config.Skew widens the window; each step more on each side adds 2 in
//     10^digits to a guess's chance, so keep it small. Attempts are
//     limited by the service (per challenge, user and IP).
//   - Malformed codes are rejected before any store access
//     (twofactor.ErrInvalidInput, and twofactor.ErrInvalidCode: to the
//     user they are wrong codes). Store and decryption errors are
//     returned, never read as "no TOTP": the user is not let in.
//   - Events carry the user id, enrollment id and drift, never a code or a
//     secret. A non-zero drift (the matched step was not the current one) is
//     an event.Warning with Reason event.ReasonClockDrift, the
//     EnrollmentID and Details["drift"] ("+1"), so support can spot a phone
//     whose clock is off.
//   - Enrolling.Secret, Enrolling.URI and the QR code reveal the secret:
//     show them to the user over HTTPS, with caching off, and never log
//     them. While an enrollment is pending, BeginEnroll shows them again to
//     whoever may begin one for the user (the Service asks a user with a
//     factor to prove it first).
package totp
