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
// The host gives the Service its user table once, as
// twofactor.Config.Users; everything here knows a user by id and asks the
// Service who that is. Build the Handler next to the Service, on the
// host's mux: New mounts its routes there, at the prefix.
//
//	svc, err := twofactor.New(twofactor.Config{
//		// Store, Keys, Factors, Trust ...
//		Users: func(ctx context.Context, id string) (twofactor.User, error) {
//			return users.Find(ctx, id) // the host's table; twofactor.ErrUnknownUser when there is none
//		},
//	})
//	h, err := twofactorhttp.New(twofactorhttp.Config{
//		Service: svc,            // its keys, clock, users and trusted devices are the layer's too
//		Mux:     mux,            // the routes are mounted at /2fa/
//		SignIn:  sessions.Start, // func(w, r, userID) error: the host's own session; renew its token
//		UserID:  sessions.UserID, // func(r) (userID string, ok bool)
//	})
//
// Or give the Service's configuration as Config.TwoFactor instead of
// Service, and the whole set-up is one call with one error to check.
// SignIn may read what was verified (the method, the proof) with
// ResultFrom(r).
//
// In the login handler, after the password check, hand the user over by
// id; the Handler answers the request:
//
//	if !checkPassword(user, r.FormValue("password")) { ... }
//	h.Begin(w, r, user.ID)
//
// In the logout handler, beside ending the host's session, end the
// layer's: the step-up proof and any pending sign-in.
//
//	sessions.End(w, r)
//	h.SignOut(w, r)
//
// A trusted device, or a user with no second factor, is signed in at once
// (SignIn, then a redirect to the return path). Anyone else goes to the
// challenge page, GET /2fa/, which offers the methods the challenge allows,
// the one the user last signed in with first: a code form for an
// authenticator app, email or SMS (with send and resend, the masked
// destination and the time until a new code may be asked for), a
// security-key button, "Use a backup code", "Trust this device for N
// days" when the Service trusts devices, and Cancel. A right answer calls
// SignIn and redirects to the return path, unless SignIn answered the
// request itself (its own redirect, a welcome page): the layer's cookies
// go out with its answer. Cancel ends the challenge, so every code issued
// for it dies, and leads back to Config.LoginURL.
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
// Each user's policy is the one the Service's PolicyFor names for them
// (twofactor.Config.Policies), asked again at every request: the settings
// pages offer only the methods it allows, Enforce guards only the users
// it requires a factor of, and a policy that changes applies at the next
// request. While a required policy's grace (twofactor.Policy.Grace) lasts,
// a user without a factor is signed in and sent to the enrollment prompt,
// which says what is left ("You have 5 days left to set up two-step
// verification") and offers Set up now (Config.EnrollURL) and Skip for
// now; Enforce sends them back to it until they skip, for the session,
// and to EnrollURL once the grace is over:
//
//	GET  enroll-prompt    the prompt (JSON: until, skips_left, set_up, skip, next)
//	POST enroll-prompt    next: skip for now (Service.SkipEnroll), then the return path
//
// A signed-in id the Service's Users does not know (an account deleted
// since) fails closed wherever the layer meets it, with a page that asks
// to sign in again (403 unknown_user).
//
// # Stronger step-up, vetoes and the first step
//
// SignIn reads what the second step assured with ResultFrom(r): its
// Claims (RFC 8176 "amr", the NIST SP 800-63B level, phishing resistance,
// the time) go into the host's session or tokens in one call.
//
// A route that needs a security key or passkey asks for it:
//
//	mux.Handle("/account/payout", h.StepUp(2*time.Minute).PhishingResistant().Handler(payout))
//
// Its step-up (the step-up route with ?require=phishing_resistant) offers
// only such factors; a user without one gets a page that says why, with
// a link to the security-key settings page (JSON: 403
// {"error": "no_qualifying_method", "next": "/2fa/settings/keys"}).
//
// When the Service's Veto refuses a verification whose code was right,
// the challenge has ended: the page says "We couldn't verify this
// sign-in", with Config.Support's line when the host gave one, and leads
// back to the login page (JSON: 403 {"error": "vetoed"}). Nobody is signed
// in, no device is trusted, no step-up proof is kept.
//
// A host whose first step is not a password hands the user over with
// Handler.BeginAfter and the kind of first step
// (twofactor.FirstEmail for a sign-in link by email, ...): the challenge
// offers no factor on the same channel, and a user with nothing else gets
// 403 no_independent_factor.
//
// # Construction
//
// New checks everything once: the paths, the cookie names, the string
// table, each page (rendered with sample data: a replaced layout that
// leaves out the page's content fails here), each method's UI, and the
// mounting itself. A mux that already routes the prefix, or a pattern of
// the host that would take one of the routes, is a configuration error
// that says what to change; no request meets a configuration error later.
//
// # Methods
//
// Each method has a [MethodUI]: its form on the challenge page, its row
// on the settings overview, and its settings page. The library's five
// factors have theirs; any other factor gets [GenericUI], built from what
// it implements (a code field sized by twofactor.CodeFormat, a send
// button for a twofactor.Sender, remove for a twofactor.Remover, a set-up
// page for a twofactor.Enroller that shows what its Enrolling holds, a
// rename form for a twofactor.Renamer, codes left for a
// twofactor.CodeCounter). Config.Methods registers UIs by method and
// orders them, for every page at once (the policy's default method
// first). The pages list a method the policy names, or one a user has
// enrolled, even without a UI registered for it.
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
//	GET  /step-up               a step-up (?next=): straight to its challenge page, sending nothing; POST /step-up starts one and sends a first code
//	GET  /assets/style.css      the stylesheet
//	GET  /assets/twofactor.js   auto-submit, countdowns, WebOTP
//	GET  /webauthn/webauthn.js     the security-key script, which posts to:
//	POST /webauthn/login/begin     start (WebAuthn request options)
//	POST /webauthn/login/finish    verify the assertion
//	POST /webauthn/register/begin  add a key, or a passkey ({"passkey": true}), for the signed-in user (Service.BeginEnroll)
//	POST /webauthn/register/finish confirm it (Service.ConfirmEnroll)
//	POST /webauthn/passkey/begin   a passkey sign-in, with no user named (Service.BeginPasskey)
//	POST /webauthn/passkey/finish  its answer (Service.FinishPasskey): signed in, or on to the second step
//	GET  /passkey-offer            after a sign-in with a password and a code, the offer to create a passkey
//	POST /passkey-offer            "Not now": put it off in this browser (Config.PasskeyOffer)
//
// The webauthn routes are SecurityKeyUI's, and exist when the Service has
// a WebAuthn factor; adding a key needs Config.UserID, and a step-up first
// when the user already has a second factor (401 step_up_required
// otherwise). Every route answers 404 and 405 (with Allow) as a page or
// as JSON.
//
// # Passkey sign-in
//
// With a webauthn factor, a passkey signs a user in from the host's login
// page with no user name and no password. The login page needs three
// things: "webauthn" in its user-name field's autocomplete, so that the
// browser offers the site's passkeys in that field's autofill (WebAuthn
// conditional mediation); a button for browsers and people that do not
// use the autofill; and the security-key script, whose data-next is where
// to go once signed in:
//
//	<input name="user" autocomplete="username webauthn">
//	<button type="button" data-webauthn="passkey" data-webauthn-status="#passkey-status">Sign in with a passkey</button>
//	<p id="passkey-status" role="alert"></p>
//	<script src="/2fa/webauthn/webauthn.js" defer data-next="/inbox"></script>
//
// A passkey that verified its user (a PIN or a biometric) is both factors:
// Config.SignIn runs with a Result whose Passwordless is set. Under a
// policy whose Passkey is twofactor.PasskeyFirstFactor it stands for the
// password, and the challenge of the second step follows. Every refusal
// is the same 401 invalid_code, so a refusal says nothing about which
// accounts exist. The keys page creates passkeys and lists each as synced
// or on one device; it tells the browser which of the user's passkeys the
// site still accepts, and which one it removed (the WebAuthn signal
// methods), so that a password manager stops offering a dead passkey.
// After a sign-in with a password and a second factor, a user without a
// passkey is offered to create one (Config.PasskeyOffer).
//
// # Settings pages
//
// The signed-in user (Config.UserID) manages their own second factors
// under <prefix>settings/; a signed-out browser goes to the login page and
// back. Link to the overview from the host's account page, and set
// Config.EnrollURL to it when the policy requires a factor. Each method's
// page is at the route of its MethodUI, with the same routes for every
// method:
//
//	GET  settings/                    overview: each method with when it was added and last used,
//	                                  the default method, codes left (a prompt at two or fewer),
//	                                  trusted devices; ?done= shows the notice of a change
//	GET  settings/<route>             a method: its enrollments, a set-up waiting for its code
//	                                  (?step=code: the code form alone; ?change=1: the set-up form
//	                                  instead), or how to set it up
//	POST settings/<route>             begin a set-up (restart=true for a new one; the UI reads its
//	                                  fields: region and number for a phone, name)
//	POST settings/<route>/verify      code: confirm; a wrong code shows the page again
//	POST settings/<route>/resend      a new code for the set-up waiting for one
//	POST settings/<route>/rename      id, name (a twofactor.Renamer)
//	GET  settings/remove?method=&id=  asks before removing a factor; POST settings/remove: method, id
//	GET  settings/backup-codes/show   a new set of codes, shown once, with print;
//	GET  settings/backup-codes.txt    its download; POST settings/backup-codes/done forgets it
//	GET  settings/devices             trusted devices: label, network, added, last seen, expiry, this device
//	POST settings/devices/revoke      id
//	GET  settings/devices/revoke-all  asks before revoking every trusted device;
//	POST settings/devices/revoke-all  confirm=yes: revokes them (without it nothing changes: the page that asks,
//	                                  or 400 confirm_required)
//	GET  settings/disable             asks before turning two-step verification off: what goes (every
//	                                  method, the codes, the trusted devices), and what stays
//	                                  (email codes that follow the account's address)
//	POST settings/disable             Service.Disable; refused under a policy that requires a factor
//
// The built-in routes: settings/totp (the QR code as an image, the
// secret in groups of four with a copy button, apps that work; "Next"
// goes to ?step=code), settings/phone (the phone, masked; the country
// picker and number, checked with smscode's parser, whose refusals say
// what is wrong), settings/keys (add, named, through the register
// routes; rename, remove), settings/email (whether codes go by email, and
// where; turned on with a code to the account's address when opt-in), and
// settings/backup-codes (how many are left; GET settings/backup-codes/new
// asks before a new set, which POST settings/backup-codes makes).
//
// A change that removes or replaces a factor, turns two-step verification
// off, makes new codes, or adds a factor for a user who already has one
// (email codes on by the account's address count) needs a fresh step-up,
// the proof in the step-up cookie: without it a browser goes through the
// step-up page and challenge and comes back to the page it was on, where
// it repeats the change; a JSON client gets 401 step_up_required. A
// set-up asked for before its step-up goes on after it: an authenticator
// app's page shows its QR code at once, and a phone number waits, sealed
// in the set-up cookie, for one click on "Send code" (a GET never sends).
// Revoking every trusted device needs no step-up, only a confirmation: it
// takes away nothing but the skipping of the second step, and a user who
// fears a device was stolen must be able to do it at once, even without
// the factor a step-up would ask for; the confirmation keeps one press on
// the devices page from signing every browser out of its trust. The
// first factor a user confirms brings a set of backup codes: a browser
// goes to the page that shows them once (the set is kept, sealed, in a
// cookie of that browser for ten minutes, for its download), a JSON
// client gets them in the answer. A set-up waiting for its code (a QR
// code, a code sent) is remembered in the enrollment cookie, sealed and
// scoped to the settings pages, so the page shows it again.
//
// The JSON answers: the GET routes answer the page's state,
//
//	GET  /2fa/settings/   Accept: application/json
//	200 {"methods": [{"method": "totp", "name": "Authenticator app", "enrolled": true, "url": "/2fa/settings/totp",
//	                  "enrollments": [{"id": "...", "label": "Authenticator app",
//	                                   "created_at": "2026-03-02T09:00:00Z", "last_used_at": "2026-03-04T08:12:00Z"}]}, ...,
//	                 {"method": "backup_code", "name": "Backup codes", "enrolled": true, "recovery": true,
//	                  "remaining": 2, "low": true, ...}],
//	     "default_method": "email",
//	     "trusted_devices": [{"id": "...", "label": "Firefox on Linux", "network": "203.0.113.0/24",
//	                          "created_at": "...", "last_seen_at": "...", "expires_at": "...", "this_device": true}]}
//
// and the POST routes what changed:
//
//	POST /2fa/settings/totp          {}
//	200 {"method": "totp", ..., "status": "pending",
//	     "pending": {"secret": "JBSWY3DP...", "uri": "otpauth://totp/...", "qr": "data:image/png;base64,...", "expires_at": "..."}}
//	POST /2fa/settings/phone         {"region": "US", "number": "(415) 555-0112"}
//	200 {"method": "sms", ..., "status": "code_sent",
//	     "pending": {"method": "sms", "destination": "+1 *** *** **12", "resend_at": "...", "resend_after": 60, "expires_at": "..."}}
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
//	200 {"allowed": true, "stays_on": ["email"], "methods": [...], "trusted_devices": 2}
//	POST /2fa/settings/disable       {}
//	200 {"ok": true, "status": "disabled", "next": "/2fa/settings/"}
//	GET  /2fa/settings/devices/revoke-all
//	200 {"message": "Revoke every trusted device?", "warning": "...", "trusted_devices": [...], "confirm": "yes"}
//	POST /2fa/settings/devices/revoke-all  {"confirm": "yes"}
//	200 {"ok": true, "status": "revoked", "next": "/2fa/settings/devices"}
//	400 {"error": "confirm_required", "message": "...", "next": "/2fa/settings/devices/revoke-all"}
//	409 {"error": "last_factor", "message": "Your account needs two-step verification: it cannot be turned off."}
//
// Only a set-up's page shows a secret, only the answer that makes a set
// of codes (and its page and download) shows them, and no page shows a
// full phone number.
//
// # Administrator pages
//
// With Config.Admin.Actor set, New mounts support staff's pages at
// Config.Admin.Prefix (default "/admin/2fa/") behind Config.Admin.Guard,
// the host's own administrator check: look a user up (by id, through the
// Service's Users), see their factors, trusted devices and lockout
// (Service.Lockout), reset their two-step verification after checking
// their identity (Service.AdminReset: the page asks for the reason and a
// ticked identity check; audited with Config.Admin.Actor and the reason),
// issue a one-time recovery code (shown once; a twofactor.RecoveryIssuer),
// lift a lockout (Service.Unlock), revoke one or every trusted device of
// the user (audited with the actor through the Service's Events), and
// read the policy: the allowed, default and mandatory methods, how long
// devices stay trusted (beside the usual durations: session only, 1 day,
// 1 week, 30 days), the users who cannot comply (Service.Check over
// Config.Admin.Users) and, when the policy requires a phone number, those
// without one; the named policies (twofactor.Config.Policies) with what
// each asks. A user's page names their policy and, for a user in an
// enrollment grace, until when it lasts and the skips left. The policy is the Service's configuration, fixed when it
// is built: the page shows it and says so, and changes nothing. People
// are named as the host names them (twofactor.User.DisplayName), with
// their account name and address beside it; a lockout says how many
// wrong codes led to it and when it lifts. A refusal keeps the
// administrator's navigation (PageData.Admin), and an id nobody has
// gives the lookup page again with that id.
//
//	GET  /                    look a user up (?id= goes to their page); the link to the policy
//	GET  /user?id=            the user's factors, trusted devices and lockout
//	POST /user/reset          id, reason, identity_checked=on: Service.AdminReset, audited
//	POST /user/recovery-code  id: a one-time recovery code, shown once
//	POST /user/unlock         id: Service.Unlock
//	POST /user/devices/revoke      id, device: end the trust of one of the user's devices, audited
//	POST /user/devices/revoke-all  id: end the trust of every device of the user, audited
//	GET  /policy              the policy, and the users who cannot comply
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
// route; 403 unknown_user for a signed-in id the Service does not know;
// on the settings and administrator pages also 409 last_factor, 400
// invalid_phone, 404 unknown_user (a user an administrator looks up) and
// 403 forbidden; 500 internal, never detailed. The Code constants list
// them.
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
// defining "content": challenge.html, ended.html, message.html,
// locked.html (the lockout page), the
// settings_*.html and the admin_*.html pages (see the Page constants),
// settings_method.html being the page of a method without one of its own.
// Config.Templates replaces any of them by a file of the same name, and
// holds the page a MethodUI names; each receives a [PageData], whose
// fields are the contract. Every page, the challenge, step-up, lockout
// and error pages included, tells a host's layout who is signed in
// (PageData.SignedIn and User, from Config.UserID) and carries what
// Config.Layout returns for the request (PageData.Host), so the host's
// navigation is the same on every page:
//
//	{{if .SignedIn}}<a href="/">Home</a> <form method="post" action="/logout">…</form>{{end}}
//
// Config.Support adds a help line (text, and a link when it has a URL)
// to the lockout page and to the pages of a sign-in that ended or failed.
// The pages load one stylesheet and their scripts as files from the
// prefix.
//
// # Languages
//
// Every text, in pages and JSON messages alike, comes from a catalogue of
// package i18n (Config.Languages; nil, the library's English, German,
// French, Spanish, Brazilian Portuguese, Japanese and Arabic), one
// [Strings] per language. Each request is served in the language
// Config.Language chooses (the user's setting, a cookie), else the one
// i18n.WithLanguage put in its context, else its Accept-Language
// header's, matched with golang.org/x/text/language ("de-AT" gets
// German, "pt-PT" Brazilian Portuguese). The layer marks that language in
// the request's context, so the emails and text messages the Service
// sends while serving it speak it too. Counts use the language's plural
// forms, waits its words ("in 15 Minuten"), dates its month names, the
// country picker its names of regions in its order; a right-to-left
// language gets dir="rtl" and a layout that follows, codes and numbers
// staying left to right. A host changes a few strings, or adds a
// language, with i18n.Catalog.With; Config.Strings gives one table for
// every request instead.
//
// A factor tells the pages the shape of its codes by implementing
// twofactor.CodeFormat; the script submits the form once that many
// characters are typed. Without it, its MethodUI's CodeField says (six
// digits for the built-in authenticator app, email and SMS UIs).
//
// # Security notes
//
//   - Every unsafe request, Begin's too, goes through net/http's
//     CrossOriginProtection (Fetch metadata, else Origin against Host):
//     a cross-origin POST is refused with 403 before anything happens.
//     Config.TrustedOrigins lets a known front end on another origin in.
//   - The pending cookie holds the challenge id in the clear and the user
//     id, purpose, return path, expiry and last send sealed with the
//     Service's keys (AES-256-GCM, key id), bound to the challenge id and the
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
//   - A GET sends nothing. GET /step-up creates a step-up challenge
//     (a store write, as a sign-in's Begin) only for the browser's own
//     navigations (Sec-Fetch-Site same-origin or none; others get a page
//     with a Continue button, whose POST CrossOriginProtection checks),
//     takes up a pending one rather than make another, reads the lockout
//     without counting anything, and makes no security email.
//   - A lockout covers every method, backup codes included: the lockout
//     page offers none, and says when it lifts.
//   - When SignIn fails nobody is signed in, and a device the answer
//     trusted is revoked.
package twofactorhttp
