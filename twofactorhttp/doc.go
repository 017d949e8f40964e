// Package twofactorhttp is the second step of sign-in, and step-up, for a
// net/http app that already has password login: pages, a JSON API on the
// same routes, and middleware, over a twofactor.Service.
//
// The host keeps its users, its password check and its sessions. It never
// holds a half-signed-in session: between the password and the second
// factor, the pending sign-in lives in a short-lived cookie this package
// seals, and the host's own session starts only in its SignIn callback,
// once the second factor has passed.
//
// # Walkthrough
//
// Build the Handler once, next to the Service, and mount it at its prefix:
//
//	h, err := twofactorhttp.New(twofactorhttp.Config{
//		Service: svc, // its keyring and trusted-device manager are the layer's too
//		SignIn: func(w http.ResponseWriter, r *http.Request, res *twofactor.Result) error {
//			return sessions.Start(w, r, res.User.ID) // the host's own session; renew its token
//		},
//		User: func(r *http.Request) (twofactor.User, bool) { return sessions.User(r) },
//	})
//	mux.Handle("/2fa/", h)
//
// In the login handler, after the password check, hand the user over; the
// Handler answers the request:
//
//	if !checkPassword(user, r.FormValue("password")) { ... }
//	h.Begin(w, r, twofactor.User{ID: user.ID, Email: user.Email})
//
// A trusted device, or a user with no second factor, is signed in at once
// (SignIn, then a redirect to the return path). Anyone else goes to the
// challenge page, GET /2fa/, which offers the methods the challenge allows,
// the one the user last signed in with first: a code form for an
// authenticator app, email or SMS (with send and resend, the masked
// destination and the time until a new code may be asked for), a
// security-key button, "Use a backup code", "Trust this device for N
// days" when Trust is set, and Cancel. A right answer calls SignIn and
// redirects to the return path; Cancel ends the challenge, so every code
// issued for it dies, and leads back to Config.LoginURL.
//
// The return path is the "next" field of the login request
// (/login?next=/account), kept only when it is a path on this site: it starts with one
// "/", holds no "\", control character or space, and neither it nor its
// decoded form names another host. Anything else is replaced by
// Config.ReturnURL, so the layer is no open redirect.
//
// Sensitive pages go behind [StepUp]; under a policy that requires a
// second factor, pages go behind [Enforce]:
//
//	mux.Handle("/account/delete", h.StepUp(0).Handler(deleteAccount))
//	mux.Handle("/", h.Enforce().Handler(app))
//
// # Routes
//
// Relative to the prefix (default "/2fa/"):
//
//	GET  /                      the challenge page (?method= picks a method); JSON: its state
//	POST /send                  send a code: method=email|sms
//	POST /start                 what the browser needs first: {"method": "webauthn"}
//	POST /verify                answer: method, code, remember=on
//	POST /cancel                end the challenge
//	GET  /step-up               the step-up page (?next=); POST /step-up starts a step-up
//	GET  /assets/style.css      the stylesheet
//	GET  /assets/twofactor.js   auto-submit, countdowns, WebOTP
//	GET  /webauthn/webauthn.js     the security-key script, which posts to:
//	POST /webauthn/login/begin     start (WebAuthn request options)
//	POST /webauthn/login/finish    verify the assertion
//	POST /webauthn/register/begin  add a key for the signed-in user (Service.BeginEnroll)
//	POST /webauthn/register/finish confirm it (Service.ConfirmEnroll)
//
// The webauthn routes exist when the Service has a WebAuthn factor; adding
// a key needs Config.User, and a step-up first when the user already has a
// second factor (401 step_up_required otherwise).
//
// # Settings pages
//
// The signed-in user (Config.User) manages their own second factors under
// <prefix>settings/; a signed-out browser goes to the login page and back.
// Link to the overview from the host's account page, and set
// Config.EnrollURL to it when the policy requires a factor:
//
//	GET  settings/                    overview: each method with when it was added and last used,
//	                                  the default method, backup codes left (a prompt at two or
//	                                  fewer), trusted devices; ?done= shows the notice of a change
//	GET  settings/totp                authenticator app: set up, or its pending set-up (QR code as an
//	                                  image, the secret in groups of four with a copy button, apps that
//	                                  work; "Next" goes to ?step=code), or how to start
//	POST settings/totp                begin (restart=true for a new secret)
//	POST settings/totp/verify         code: confirm; a wrong code shows the same QR code again
//	GET  settings/phone               the phone (masked), the country picker and number (?change=1
//	                                  to replace it), or the code form once a code was sent
//	POST settings/phone               region, number: parse to E.164 (errors say what is wrong), text a code
//	POST settings/phone/resend        a new code; POST settings/phone/verify: code
//	GET  settings/keys                security keys: add (named; through the register routes), rename, remove
//	POST settings/keys/rename         id, name
//	GET  settings/email               whether codes go by email, and where (masked)
//	POST settings/email               turn them on: a code to the account's address (opt-in factors)
//	POST settings/email/resend        a new code; POST settings/email/verify: code
//	GET  settings/backup-codes        how many are left; GET settings/backup-codes/new asks before a new set
//	POST settings/backup-codes        a new set (the old one stops working), shown once at:
//	GET  settings/backup-codes/show   the new set, with print; GET settings/backup-codes.txt downloads it
//	POST settings/backup-codes/done   forget the new set
//	GET  settings/devices             trusted devices: label, network, added, last seen, expiry, this device
//	POST settings/devices/revoke      id; POST settings/devices/revoke-all
//	GET  settings/remove?method=&id=  asks before removing a factor; POST settings/remove: method, id
//	GET  settings/disable             asks before turning two-step verification off: what goes (every
//	                                  method, the backup codes, the trusted devices), and that email
//	                                  codes that follow the account's address stay on
//	POST settings/disable             Service.Disable; refused under a policy that requires a factor
//
// A change that removes or replaces a factor, turns two-step verification
// off, makes new backup codes, or
// adds a factor for a user who already has one (email codes on by the
// account's address count) needs a fresh step-up, the proof in the
// step-up cookie: without it a browser goes through the step-up page and
// challenge and comes back to the page it was on, where it repeats the
// change; a JSON client gets 401 step_up_required. The first factor a
// user confirms brings a set of backup codes: a browser goes to the page
// that shows them once (the set is kept, sealed, in a cookie of that
// browser for ten minutes, for its download), a JSON client gets them in
// the answer. A set-up waiting for its code (a QR code, a code sent) is
// remembered in the enrollment cookie, sealed and scoped to the settings
// pages, so the page shows it again.
//
// The JSON answers: the GET routes answer the page's state,
//
//	GET  /2fa/settings/   Accept: application/json
//	200 {"methods": [{"method": "totp", "name": "Authenticator app", "enrolled": true, "url": "/2fa/settings/totp",
//	                  "enrollments": [{"id": "...", "label": "Authenticator app",
//	                                   "created_at": "2026-03-02T09:00:00Z", "last_used_at": "2026-03-04T08:12:00Z"}]}, ...],
//	     "default_method": "email", "backup_codes": {"on": true, "remaining": 2, "low": true},
//	     "trusted_devices": [{"id": "...", "label": "Firefox on Linux", "network": "203.0.113.0/24",
//	                          "created_at": "...", "last_seen_at": "...", "expires_at": "...", "this_device": true}]}
//
// and the POST routes what changed:
//
//	POST /2fa/settings/totp          {}
//	200 {"method": "totp", ..., "status": "pending",
//	     "pending": {"secret": "JBSWY3DP...", "uri": "otpauth://totp/...", "qr": "data:image/png;base64,...", "expires_at": "..."}}
//	POST /2fa/settings/phone         {"region": "US", "number": "(415) 555-0112"}
//	200 {"status": "code_sent", "method": "sms", "destination": "+1 *** *** **12", "resend_at": "...", "resend_after": 60, "expires_at": "..."}
//	400 {"error": "invalid_phone", "message": "That number is too short."}
//	POST /2fa/settings/phone/verify  {"code": "123456"}
//	200 {"ok": true, "status": "enrolled", "enrollment": {"id": "phone", "label": "+1 *** *** **12", ...},
//	     "backup_codes": ["k7qm-3xvt-9fhd", ...], "next": "/2fa/settings/backup-codes/show"}
//	409 {"error": "no_pending_enrollment", ...}
//	POST /2fa/settings/backup-codes  {}
//	200 {"ok": true, "status": "generated", "backup_codes": [...], "next": "/2fa/settings/"}
//	POST /2fa/settings/remove        {"method": "totp", "id": "..."}
//	200 {"ok": true, "status": "removed", "next": "/2fa/settings/totp"}
//	401 {"error": "step_up_required", "next": "/2fa/step-up"}   409 {"error": "last_factor", ...}
//	GET  /2fa/settings/disable
//	200 {"allowed": true, "email_stays_on": true, "methods": [...], "backup_codes": {...}, "trusted_devices": 2}
//	POST /2fa/settings/disable       {}
//	200 {"ok": true, "status": "disabled", "next": "/2fa/settings/"}
//	409 {"error": "last_factor", "message": "Your account needs two-step verification: it cannot be turned off."}
//
// Only the authenticator app's set-up shows a secret, only the answer
// that makes a set of backup codes (and its page and download) shows
// them, and no page shows a full phone number.
//
// # Administrator pages
//
// [Handler.Admin] serves support staff's pages, mounted by the host at
// Config.Admin.Prefix behind its own administrator check: look a user up
// (Config.Admin.User), see their factors, trusted devices and lockout
// (Service.Lockout), reset their two-step verification after checking
// their identity (Service.AdminReset: the page asks for the reason and a
// ticked identity check; audited with Config.Admin.Actor and the reason),
// issue a one-time recovery code (shown once), lift a lockout
// (Service.Unlock), revoke one or every trusted device of the user
// (audited with the actor through Config.Admin.Events, else logged), and
// read the policy: the allowed, default and
// mandatory methods, how long devices stay trusted among the usual
// choices (session only, 1 day, 1 week, 30 days), the users who cannot
// comply (Service.Check over Config.Admin.Users) and those without a
// phone number. The policy is the Service's configuration, fixed when it
// is built: the page shows it and says so.
//
// Every page works without JavaScript; the scripts only submit a code once
// it is complete, count down to a resend, fill an SMS code through WebOTP,
// and run the security-key ceremony.
//
// # JSON
//
// Each route answers JSON when the request asks for it (Accept:
// application/json, or a JSON body), for single-page apps and mobile
// clients; a JSON body and a form are both accepted. Errors are
//
//	{"error": "<code>", "message": "<for people>", "retry_after": <seconds, 429 only>, "next": "<where to go, when relevant>"}
//
// with these statuses: 401 invalid_code (wrong, expired or malformed: one
// message for all); 429 resend_wait (a resend cooldown), rate_limited (a
// cap on sends or answers) or locked (the user's lockout), with
// Retry-After; 410 challenge_ended or too_many_attempts, when the
// challenge is over (expired, cancelled, completed, used up, or no valid
// pending cookie); 403 cross_origin; 400 bad_request or
// method_not_offered; 401 step_up_required or signed_out and 403
// enroll_required or not_enrolled from the middleware and the step-up
// route; on the settings and administrator pages also 409 last_factor,
// 400 invalid_phone, 404 unknown_user and 403 forbidden; 500 internal,
// never detailed. The Code constants list them.
//
// Begin, on the host's login route (its password form stays the host's):
//
//	POST /login?next=/account   Accept: application/json   user=ann&password=...
//	200 {"status": "challenge", "purpose": "login", "next": "/2fa/",
//	     "expires_at": "2026-03-02T09:15:00Z",
//	     "methods": [{"method": "email", "name": "Email", "send": true, "length": 6},
//	                 {"method": "totp", "name": "Authenticator app", "length": 6},
//	                 {"method": "backup_code", "name": "Backup code"}],
//	     "sent": {"method": "email", "destination": "a***@example.com",
//	              "resend_at": "2026-03-02T09:01:00Z", "resend_after": 60},
//	     "remember_device": {"label": "Trust this device for 30 days", "seconds": 2592000}}
//	(or 200 {"ok": true, "status": "signed_in", "next": "/account"} for a
//	trusted device or a user with no factor)
//
// Send:
//
//	POST /2fa/send   {"method": "email"}
//	200 {"method": "email", "destination": "a***@example.com", "expires_at": "2026-03-02T09:16:00Z",
//	     "resend_at": "2026-03-02T09:02:00Z", "resend_after": 60}
//	429 {"error": "resend_wait", "message": "You can ask for a new code in 42 seconds.", "retry_after": 42}
//
// Start (WebAuthn):
//
//	POST /2fa/start   {"method": "webauthn"}
//	200 {"method": "webauthn", "options": {"publicKey": {"challenge": "...", "allowCredentials": [...]}}}
//
// Verify:
//
//	POST /2fa/verify   {"method": "totp", "code": "123456", "remember_device": true}
//	(for WebAuthn: {"method": "webauthn", "credential": {...the assertion...}})
//	200 {"ok": true, "status": "signed_in", "next": "/account"}
//	401 {"error": "invalid_code", "message": "That code didn't work. Check it and try again."}
//	429 {"error": "locked", "message": "Too many wrong codes. For your security, try again in 15 minutes.", "retry_after": 900}
//	410 {"error": "too_many_attempts", "message": "Too many wrong codes for this sign-in. Please sign in again.", "next": "/login"}
//
// Cancel:
//
//	POST /2fa/cancel
//	200 {"ok": true, "status": "cancelled", "next": "/login"}
//	410 {"error": "challenge_ended", "message": "This sign-in has expired or ended. Please sign in again.", "next": "/login"}
//
// Step-up, when the StepUp middleware answered 401 step_up_required:
//
//	POST /2fa/step-up   {"next": "/account/delete"}
//	200 {"status": "challenge", "purpose": "step_up", "next": "/2fa/", "methods": [...], ...}
//	then send/verify as above; verify answers {"ok": true, "status": "stepped_up", "next": "/account/delete"}
//
// # Pages and text
//
// Pages are html/template files embedded in the package: layout.html
// (which defines "layout" and calls {{template "content" .}}), parts.html
// (what the settings and administrator pages share) and one file per page
// defining "content": challenge.html, ended.html, message.html, the
// settings_*.html and the admin_*.html pages (see the Page constants).
// Config.Templates replaces any of them by a file of the same name; each
// receives a [PageData], whose fields are the contract. Every text comes
// from one table, [Strings], which Config.Strings replaces, in pages and
// JSON messages alike. The pages load one stylesheet and their scripts as
// files from the prefix.
//
// A factor may tell the pages the length of its codes with a method
// CodeLength() int; the script submits the form once that many characters
// are typed. Without it, authenticator-app, email and SMS codes are taken
// to be six digits, their default.
//
// # Security notes
//
//   - Every unsafe request, Begin's too, goes through net/http's
//     CrossOriginProtection (Fetch metadata, else Origin against Host):
//     a cross-origin POST is refused with 403 before anything happens.
//     Config.TrustedOrigins lets a known front end on another origin in.
//   - The pending cookie holds the challenge id in the clear and the user
//     id, purpose, return path, expiry and last send sealed with the
//     Keyring (AES-256-GCM, key id), bound to the challenge id and the
//     cookie name: altered, moved to another challenge or expired, it is
//     refused before the Service is asked anything. It is HttpOnly,
//     SameSite=Lax, scoped to the prefix, lives as long as the challenge,
//     and is Secure except on http://localhost. Verify also passes the
//     sealed user id to the Service, which refuses a challenge of another
//     user; a step-up challenge is also refused for anyone but the
//     signed-in user.
//   - The step-up cookie holds the Service's signed proof, sealed to the
//     user; StepUp checks it with Service.CheckProof, so it expires with
//     StepUpMaxAge and dies with a password change or an admin reset.
//     Signing in drops an earlier step-up.
//   - The client address comes from the trust package's ClientIP, which
//     believes forwarding headers only from the configured proxies.
//   - Answers carry no code, secret or full phone number (destinations
//     come masked from the factors); wrong and expired codes get one
//     message; internal errors are logged, never sent. The settings pages
//     show a TOTP secret during its set-up and a new set of backup codes
//     once, and nothing secret anywhere else.
//   - Pages and JSON answers send Cache-Control: no-store,
//     Referrer-Policy: same-origin, X-Content-Type-Options: nosniff,
//     X-Frame-Options: DENY and a Content-Security-Policy with
//     frame-ancestors 'none' and no inline script or style (images from
//     the prefix or data: URIs, for the QR code).
//   - A GET never changes anything: the step-up page asks before it
//     creates a challenge, which may send a code.
//   - When SignIn fails nobody is signed in, and a device the answer
//     trusted is revoked.
package twofactorhttp
