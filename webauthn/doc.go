// Package webauthn adds security keys and passkeys (WebAuthn, FIDO2, U2F
// keys such as a YubiKey) as a second factor, built on
// github.com/go-webauthn/webauthn.
//
// A [Factor] plugs into twofactor.Service like every other factor: it
// lists a user's registered keys as enrollments, starts the browser
// ceremony for a login challenge ([Factor.Start]) and verifies the answer
// ([Factor.Verify]). Users may register several keys, alongside or instead
// of the other factors.
//
// # Set-up
//
//	wa, err := webauthn.New(webauthn.Config{
//		Store:     st,   // the store the Service uses
//		Keys:      keys, // the Service's keyring
//		RPID:      "example.com",
//		RPOrigins: []string{"https://example.com"},
//	})
//	svc, err := twofactor.New(twofactor.Config{..., Factors: []twofactor.Factor{totpFactor, wa}})
//
// New checks the relying party: RPID is a bare domain, and every origin is
// https (http://localhost for development) on RPID or a subdomain of it, so
// a configuration browsers would refuse fails at start-up, not at the
// first login.
//
// # Registration
//
//  1. [Factor.BeginRegistration] returns the options for
//     navigator.credentials.create and a registration id. The options
//     exclude the user's keys, so the same authenticator is not added twice.
//  2. The browser creates the credential; [Factor.FinishRegistration]
//     verifies it and stores the credential id, public key, signature
//     counter, transports, AAGUID, backup flags, the user's name for it,
//     and the creation time.
//
// [Factor.Rename] renames a key; removal goes through
// twofactor.Service.RemoveEnrollment, which needs a fresh verification.
//
// # Login as the second factor
//
//  1. After the password, twofactor.Service.Begin creates a challenge that
//     offers twofactor.MethodWebAuthn when the user has a key.
//  2. Service.Start calls [Factor.Start]: request options allowing the
//     user's keys, with the ceremony state stored under the challenge id.
//  3. Service.Verify calls [Factor.Verify] with the browser's assertion.
//
// # HTTP and the browser
//
// [NewHandler] serves the four steps as JSON endpoints and the small
// embedded script (webauthn.js, no dependencies) that calls
// navigator.credentials and converts between base64url and ArrayBuffer. A
// page needs only a button and the script:
//
//	<button data-webauthn="login">Use your security key</button>
//	<script src="/2fa/webauthn/webauthn.js"></script>
//
// The package's end-to-end test drives exactly this page in headless
// Chromium with DevTools virtual authenticators.
//
// # Security notes
//
//   - Ceremony state lives in the store, not in the browser: single use
//     (taken atomically before the response is checked, so of concurrent
//     answers at most one succeeds), expiring after Config.Timeout, and a
//     login ceremony is bound to its challenge and dies with it.
//   - Wrong challenge, origin or relying party, bad signature, missing user
//     presence, an unregistered credential and replays all fail with errors
//     matching twofactor.ErrInvalidCode; malformed responses fail with
//     twofactor.ErrInvalidInput before any store access.
//   - A signature counter that does not increase (a possible cloned key)
//     rejects the login and emits an EventWarning with reason
//     "sign_count_regressed". [SignCountWarn] only warns; it loosens
//     security. Authenticators that always report zero are accepted. The
//     highest counter is also kept as a store.Ledger high-water mark, so
//     the check is atomic across app instances: of concurrent assertions
//     carrying one counter value, one passes.
//   - The user handle given to authenticators is a keyed hash of the user
//     id (HMAC under the keyring), so the host's user id never reaches an
//     authenticator; it is stored with the credentials and reused, so key
//     rotation does not change it.
//   - Public keys and credential ids are not secrets and are stored as
//     they are. A credential id is unique per user: the store interface
//     cannot check uniqueness across users, which only matters to a user
//     who registers the same key on two accounts.
//   - User verification is discouraged by default (the password is the
//     first factor); set Config.UserVerification to Required to demand a
//     PIN or biometric. Attestation is not requested.
//   - The handlers accept only POSTed application/json from the
//     configured origins (net/http CrossOriginProtection plus an Origin
//     check) and answer errors with fixed messages; internal errors are
//     logged, never sent.
//   - Errors from store operations are returned as errors: nothing fails
//     open.
package webauthn
