// Package webauthn adds security keys and passkeys (WebAuthn, FIDO2, U2F
// keys such as a YubiKey) as a second factor, and passkeys as a sign-in of
// their own, built on github.com/go-webauthn/webauthn.
//
// A [Factor] plugs into twofactor.Service like every other factor: it
// lists a user's registered keys as enrollments, starts the browser
// ceremony for a login challenge ([Factor.Start]) and verifies the answer
// ([Factor.Verify]). Users may register several keys, alongside or instead
// of the other factors. It is also a twofactor.Discoverer: a passkey signs
// in with no user name and no password (see Passkeys).
//
// # Set-up
//
// The factor's Config holds the relying party; give it to twofactor.New,
// which builds the factor with the Service's store, keyring, events and
// clock:
//
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys,
//		Factors: []twofactor.FactorConfig{
//			totp.Config{Issuer: "Example"},
//			webauthn.Config{RPID: "example.com", RPOrigins: []string{"https://example.com"}},
//		}})
//	f, _ := svc.Factor(twofactor.MethodWebAuthn)
//	wa := f.(*webauthn.Factor) // for Credentials and Rename
//
// Used without a Service, build it with an Env holding at least the store
// and the keyring:
//
//	wa, err := webauthn.New(twofactor.Env{Store: st, Keys: keys}, webauthn.Config{RPID: "example.com",
//		RPOrigins: []string{"https://example.com"}})
//
// New checks everything once, so a configuration browsers would refuse
// fails at start-up, not at the first login: RPID is a bare domain, every
// origin is https (http://localhost for development) on RPID or a
// subdomain of it, and the store implements [Store] (the error names any
// interface it lacks).
//
// # Registration
//
// The factor is a twofactor.Enroller: add keys through
// twofactor.Service.BeginEnroll and ConfirmEnroll, which ask a user who
// already has a second factor for a fresh verification first.
//
//  1. [Factor.BeginEnroll] returns, in Enrolling.Options, the options for
//     navigator.credentials.create, and keeps the pending registration
//     under the user (a password change, an admin reset or
//     Service.Disable ends it). The options exclude the user's keys, so
//     the same authenticator is not added twice. While it is pending, the
//     same request shows it again; EnrollRequest.Restart starts anew.
//  2. The browser creates the credential; [Factor.ConfirmEnroll] verifies
//     it and stores the credential id, public key, signature counter,
//     transports, AAGUID, backup flags, the user's name for it
//     (EnrollRequest.Label), and the creation time. The Service then
//     emits the event.Enroll; the factor itself emits only the
//     event.EnrollBegin of step 1, with the label.
//
// A user may register several keys (Config.MaxCredentials, 10 by
// default). [Factor.Rename] renames a key; removal goes through
// twofactor.Service.RemoveEnrollment, which needs a fresh verification.
//
// # Passkeys
//
// A passkey is a discoverable credential that verifies its user (a PIN or
// a biometric on the device): it names the account itself, so it signs in
// on its own.
//
//   - Registration: twofactor.EnrollRequest.Passkey asks
//     [Factor.BeginEnroll] for one: residentKey "required" (WebAuthn
//     §5.4.6; requireResidentKey true for older browsers), userVerification
//     "required" (§5.4.4) and the credProps extension (§10.1.3).
//     [Factor.ConfirmEnroll] refuses a credential whose authenticator data
//     lacks the UV flag, or that the browser reports as not discoverable,
//     and records the credential as a passkey ([Credential].Passkey,
//     twofactor.Enrollment.Passkey). Without EnrollRequest.Passkey a
//     registration is a security key for the second step, as before. A
//     pending registration is of one kind: a request of the other kind
//     starts a new one.
//   - The user handle (user.id, WebAuthn §5.4.3) is 32 random bytes from
//     the Env's Rand, made for a user's first credential and stored with
//     every credential; it is never the user id, the email or the name,
//     nor derived from them (§14.6.1, "User Handle Contents"). Users whose
//     credentials were registered with the handle of earlier versions (a
//     keyed hash of the user id) keep it. An index from handle to user id
//     lives in the store's States (key "webauthn:handle:" and a SHA-256
//     of the RP ID and the handle), written at ConfirmEnroll and deleted
//     with the user's last credential; the next registration then gets a
//     new handle. [Factor.UserHandle] and [Factor.CredentialIDs] give a page
//     what the browser's signal methods need
//     (PublicKeyCredential.signalAllAcceptedCredentials), so passkey
//     managers forget credentials the site removed.
//   - Sign-in: twofactor.Service.BeginPasskey calls
//     [Factor.BeginDiscovery], which returns request options with no allow
//     list and user verification required, in the shape Start returns,
//     for navigator.credentials.get (the page chooses the mediation:
//     "conditional" for a login form's autofill, or a dialog behind a
//     button), and writes nothing: the challenge carries the ceremony's
//     end and a keyed hash of the relying party, the ceremony's id and
//     that end. Service.FinishPasskey calls [Factor.FinishDiscovery], which
//     checks that challenge, marks the ceremony answered until its end
//     (single use), finds the account through the answer's user handle,
//     checks that the credential is that account's,
//     carries that handle and was registered as a passkey, verifies the
//     signature with the user verified (§7.2), applies the authenticator
//     policy and the signature counter check of Verify, and returns
//     twofactor.Discovered: the user id, the credential's EnrollmentID,
//     the answer's method references and UserVerified. Every refusal of an
//     answer that parses is one error value, matching
//     twofactor.ErrInvalidCode, with no user and no event naming one, so a
//     refusal says nothing about which accounts or credentials exist.
//   - A passkey also answers login challenges as the second factor, like
//     any registered key.
//
// # Authenticator policy
//
// Config.AllowedAAGUIDs or DeniedAAGUIDs restrict the authenticator
// models, by AAGUID (WebAuthn §6.5.2); Config.RefuseSynced refuses
// credentials that may be backed up or synced between devices (the backup
// eligibility flag, §6.1.3), for hosts that require keys bound to one
// device. ConfirmEnroll refuses such a credential with
// [ErrAuthenticatorNotAllowed] or [ErrSyncedRefused] (both match
// twofactor.ErrInvalidInput, so the pages answer 400), leaving its
// credential id free. A credential registered before the policy changed
// fails at login: in Verify with the same errors, in FinishDiscovery with
// its one refusal.
//
// With attestation "none", browsers may replace the AAGUID with zeros
// (§5.4.7), which an allow list refuses: so either list makes registration
// ask for "direct" attestation. The AAGUID is the authenticator's own
// claim: without attestation trust anchors (metadata) the factor does not
// check it, so the lists keep honest authenticators out, not a forged one.
//
// # Login as the second factor
//
//  1. After the password, twofactor.Service.Begin creates a challenge that
//     offers twofactor.MethodWebAuthn when the user has a key.
//  2. Service.Start checks that the challenge can still be answered (not
//     ended, not used up, its user not locked out), reading the user's
//     keys in the same round trip, and calls [Factor.StartRecords] with
//     them: request options allowing the user's keys, whose challenge
//     carries the ceremony (nothing is written).
//  3. Service.Verify calls [Factor.VerifyOpsMarked] with the browser's
//     assertion, the user's keys and whether the key, if it registered
//     with a zero signature counter, has counted since, both read with
//     the count of the answer; the Service runs the ceremony's single-use
//     mark, then the signature counter, then the challenge's end with the
//     key's last use, each on the one before it, in one round trip.
//
// A login through the Service costs four store round trips: Begin one,
// Start one (the check with the user's keys), Verify two (the count with
// the user's records and the key's "counts" mark, then the ceremony's
// mark with the counter and the challenge's end). The first count of a
// key that registered with zero costs one more, which records that it
// counts (a zero afterwards is refused); so does every login under
// [SignCountWarn], whose counter is written before the end.
//
// # HTTP and the browser
//
// Package twofactorhttp serves it to browsers, with the second step of
// every other factor: its challenge page shows a security-key button when
// the challenge offers WebAuthn, and it serves the small script (no
// dependencies) that calls navigator.credentials, converts between
// base64url and ArrayBuffer, and posts to its routes, which run
// Service.Start and Service.Verify for a login and Service.BeginEnroll and
// Service.ConfirmEnroll to add a key. A host page that adds keys needs only
// a button and the script:
//
//	<button data-webauthn="register" data-webauthn-name="My key">Add a security key</button>
//	<script src="/2fa/webauthn/webauthn.js"></script>
//
// The package's end-to-end test drives the script and the challenge page in
// headless Chromium with DevTools virtual authenticators.
//
// # Security notes
//
//   - A registration's ceremony state lives in the store, not in the
//     browser: single use (of concurrent confirmations one stores its
//     credential), expiring after Config.Timeout.
//   - A login's or a passkey sign-in's ceremony keeps nothing in the store
//     until it is answered: its challenge is its end, a random nonce (a
//     login) and a keyed hash, under the server's keys, of the relying
//     party, the challenge and user (a login) or the ceremony's id (a
//     passkey sign-in), the nonce and the end. The authenticator signs
//     the client data that holds it, so a forged challenge, or one moved
//     to another challenge, user or end, fails the keyed hash. An answer
//     marks its ceremony answered (store.Ledger.MarkUsed, until the end)
//     atomically, before it is checked ([Factor.Verify]) or, through the
//     Service, after the check, in the round trip that ends the
//     challenge, which ends only when the mark was new; a wrong answer
//     then marks it after its check. Either way each ceremony takes one
//     answer, right or wrong, and of concurrent answers at most one
//     succeeds; an answer submitted twice is a replay, never a fallen
//     counter. A login ceremony ends with
//     Config.Timeout or its challenge, whichever comes first; the Service
//     refuses every answer to a challenge that ended or was cancelled.
//   - Wrong challenge, origin or relying party, bad signature, missing user
//     presence, an unregistered credential and replays all fail with errors
//     matching twofactor.ErrInvalidCode; malformed responses fail with
//     twofactor.ErrInvalidInput before any store access.
//   - A signature counter that does not increase, or that falls back to
//     zero after counting (a possible cloned key, WebAuthn §6.1.1),
//     rejects the login and emits an event.Warning with reason
//     event.ReasonSignCount, the credential's EnrollmentID and
//     Label, the counter received as Count, and the policy as the extra
//     "policy". [SignCountWarn] only warns; it loosens
//     security. Authenticators that always report zero are accepted. The
//     counters seen after registration are kept only in a store.Ledger
//     high-water mark, which makes the check atomic across app instances:
//     of concurrent assertions carrying one counter value, one passes.
//   - A login writes only the credential's last use, with
//     store.EnrollmentToucher where the store has it, so a rename at the
//     same moment is never lost (on stores without it, the record is read
//     and written again).
//   - The user handle given to authenticators is random (see Passkeys), so
//     the host's user id, email and name never reach an authenticator, and
//     nothing about the account predicts it; it is stored with the
//     credentials and reused, so key rotation does not change it.
//   - Public keys and credential ids are not secrets and are stored as
//     they are. A credential id is registered to one account at most
//     (WebAuthn §7.1, "Registering a New Credential"): registration
//     claims it in the store, atomically across app instances, before
//     writing the credential, and removing the credential releases it. Credentials
//     registered before claims existed hold none, so they are not
//     protected against a second registration elsewhere.
//   - User verification is discouraged by default for security keys (the
//     password is the first factor); set Config.UserVerification to
//     Required to demand a PIN or biometric. Passkeys always require it.
//     Attestation is not requested unless an AAGUID list is set (see
//     Authenticator policy), and no attestation chain is checked.
//   - Every response must name an origin of Config.RPOrigins in its client
//     data and the relying party's id hash in its authenticator data;
//     twofactorhttp refuses cross-origin requests before they reach the
//     factor (net/http CrossOriginProtection).
//   - Errors from store operations are returned as errors: nothing fails
//     open.
package webauthn
