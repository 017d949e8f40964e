// Package totp is the authenticator-app second factor: time-based one-time
// passwords (RFC 6238) that any standard app computes (Google Authenticator,
// Microsoft Authenticator, Okta Verify, Duo, LastPass, Authy...).
//
// # Enrollment
//
// Enrollment stays pending until the user proves they scanned the QR code:
//
//	f, err := totp.New(totp.Config{Store: st, Keys: keys, Issuer: "Example"})
//	p, err := f.BeginEnroll(ctx, user)      // show p.DataURI as <img>, p.Secret for typing
//	e, err := f.ConfirmEnroll(ctx, user, p.ID, code) // code typed from the app
//
// A wrong code leaves the enrollment pending (twofactor.ErrInvalidCode); after
// Config.PendingTTL (10 minutes) it is gone and ConfirmEnroll returns
// [ErrNoPending]. A user has one TOTP enrollment at most: BeginEnroll returns
// twofactor.ErrAlreadyEnrolled until it is disabled or removed.
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
// checks the code. Used alone, call Verify with a Challenge naming the user.
//
// # Removal
//
// [Factor.Disable] needs a current code (seed: resetting 2FA requires the
// current code). Service.RemoveEnrollment (after a fresh verification) and
// Service.AdminReset (support, after checking identity by other means) use
// [Factor.Remove] and [Factor.RemoveAll].
//
// # Outside the factor
//
// [Params], [Key], [ParseURI] and [Params.Match] work on plain values: the
// twofactor command's "totp" subcommands use them to print and check codes.
//
// # Security notes
//
//   - Secrets are sealed with the Keyring (AES-256-GCM, key id in the value),
//     bound to the user id and the enrollment (or pending) id, so a
//     ciphertext copied to another record does not open. The store never
//     holds a secret in any encoding; [Factor.Rekey] re-encrypts under the
//     current key after a rotation.
//   - Each accepted time step is recorded in the store's ledger as a
//     high-water mark per enrollment (store.Ledger.Advance): a code is
//     accepted once, and a code older than the newest accepted one is
//     refused (twofactor.ErrCodeReused), across every app instance sharing
//     the store. The confirming code of an enrollment is burnt the same way.
//   - Codes are compared in constant time; a wrong code is compared with
//     every step of the skew window, so timing says no more than the answer.
//     Config.Skew widens the window; each step more on each side adds 2 in
//     10^digits to a guess's chance, so keep it small. Sign-in attempts are
//     limited by the service (per challenge, user and IP); Disable, which
//     is called outside a challenge, has its own per-user limit
//     (Config.MaxDisableAttempts).
//   - Malformed codes are rejected before any store access
//     (twofactor.ErrInvalidInput). Store and decryption errors are returned,
//     never read as "no TOTP": the user is not let in.
//   - Events carry the user id, enrollment id and drift, never a code or a
//     secret. A non-zero drift (the matched step was not the current one) is
//     an EventWarning with reason "clock_drift", so support can spot a phone
//     whose clock is off.
//   - Pending.Secret, Pending.URI and the QR code reveal the secret: show
//     them to the user once, over HTTPS, and never log them.
package totp
