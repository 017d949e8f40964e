// Package emailcode is the email one-time code factor: a six-digit code
// mailed to the user's address, valid 15 minutes, resent at most once a
// minute, with hourly caps per user, per address and per client network.
//
// It shares its rules with package smscode (both use one code issuer); only
// the channel differs.
//
// # Walkthrough
//
// Build a sender once, at start-up, and give the factor's [Config] to the
// Service, which builds the factor with its twofactor.Env (store, keys,
// events, clock):
//
//	smtp, err := emailcode.NewSMTP(emailcode.SMTPConfig{
//		Host: "smtp.example.com", Username: "mailer", Password: pw,
//		From: "Example <no-reply@example.com>", // STARTTLS on 587 by default
//	})
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys,
//		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: smtp, ProductName: "Example"}}})
//	f, _ := svc.Factor(twofactor.MethodEmail)
//	email := f.(*emailcode.Factor) // for its own methods (BeginEnroll, Rekey)
//
// Used without a Service, [New] builds the factor from an Env of its own:
//
//	email, err := emailcode.New(twofactor.Env{Store: st, Keys: keys}, emailcode.Config{Sender: smtp})
//
// Every configuration error is New's, matching twofactor.ErrConfig: a nil
// Sender (a product learns when it starts, not at a user's first sign-in,
// that mail is not configured), a nil store or keys, or a store lacking an
// interface [Store] needs, by name. A factor New returns is complete. In
// development use an [Outbox]: it keeps messages in memory, and serves
// them as a page (mux.Handle("GET /outbox", outbox)).
//
// Addresses are sealed with the keys. After a key rotation,
// Factor.Rekey re-seals a user's address under the new key; [Rekey] does
// the same with an Env alone, for a tool that sends no mail.
//
// # Which address is enrolled
//
// Config.Enrollment chooses between two product behaviours:
//
//   - [EnrollImplicit] (the default): the address the host gives
//     (twofactor.User.Email) is the user's email factor, with nothing to
//     set up: a user with an address is challenged by email. Codes go to
//     that address at each sign-in. The factor records it, sealed, the
//     first time it sees it, which dates the enrollment (CreatedAt); a
//     changed address is a new enrollment. Only the host can take the
//     factor away, by clearing the address.
//   - [EnrollOptIn]: users turn email codes on, like any other factor, by
//     confirming an address with a code. A user with an address but
//     nothing confirmed is not challenged by email. Codes go to the
//     confirmed address, whatever User.Email becomes; confirming another
//     address moves the factor. Users remove it like any other factor.
//
// Either way, enrolling confirms an address with a code, through the
// Service (which asks a user who already has a factor to prove one first):
//
//	en, err := svc.BeginEnroll(ctx, user, twofactor.MethodEmail,
//		twofactor.EnrollRequest{Destination: "jane@example.com", Client: client}, proof)
//	// show en.Sent.Destination; "resend" is the same call with Restart: true
//	done, err := svc.ConfirmEnroll(ctx, user, twofactor.MethodEmail, typed)
//
// An empty Destination means user.Email. Asked again while a code is
// live, BeginEnroll shows the pending enrollment without sending anything;
// Restart sends a new code. The address waits for its code sealed and filed
// under the user, so a password change, an admin reset or Service.Disable
// ends it. With EnrollImplicit, the factor's own [Factor.BeginEnroll] and
// [Factor.ConfirmEnroll] confirm an address at sign-up or when it changes,
// as the host decides (the Service's would ask for a proof, since the
// address on file already counts); update User.Email once it is
// confirmed.
//
// # Signing in
//
// At sign-in the Service offers email to a user with an enrollment
// ([Factor.Enrollments]: id "email", masked as "j***@example.com"). Then:
//
//	sent, err := svc.Send(ctx, challengeID, twofactor.MethodEmail, client)
//	// show sent.Destination, sent.ExpiresAt; enable "resend" at sent.ResendAt
//	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: challengeID,
//		Method: twofactor.MethodEmail, Code: typed, Client: client})
//
// A resend within the cooldown, or a send over a cap, returns a
// *twofactor.RetryError (errors.As) with RetryAfter. A new code replaces the
// previous one. Cancelling the challenge deletes its codes. A successful
// sign-in asks the Service to record it as the enrollment's LastUsedAt
// (twofactor.Verified.RecordUse), which it does in the round trip that
// ends the challenge. With EnrollImplicit the address is recorded only
// when the user's enrollments are listed (a settings page): until then a
// sign-in has no record whose last use to write, and the Service, which
// saw at Begin that there was none, writes nothing.
//
// # Events
//
// The Service records sends, answers and enrollments; the factor adds
// event.EnrollBegin when it mails a confirmation code and
// event.Failure for a wrong one, each with the masked address as
// Label, and event.Warning with Reason [ReasonDeletePendingFailed] when a
// write after a success fails (the Service's warning for a last use it
// could not record has Reason [ReasonTouchFailed]). A send failure's
// reason is [ReasonDelivery].
//
// # Messages
//
// The subject, a plain-text part (always sent) and an HTML part come from
// text/template and html/template; [Templates] overrides any of them. The
// templates see [Data]: product name, the user's display name
// (twofactor.User.DisplayName, for the greeting; none, no greeting), code,
// minutes left and purpose, and Data.Text, the default message's
// sentences in the message's language. The default subject, "Your Example
// verification code", leaves the code out so it does not show on lock
// screens.
//
// # Languages
//
// The default message's sentences come from the "email." keys of a
// catalogue of package i18n (Config.Languages; nil, the library's seven
// languages). A message speaks the language of the request that sends it:
// twofactorhttp marks each request's language in its context, and a host
// calling the Service itself does so with i18n.WithLanguage. A message
// sent outside such a request speaks twofactor.User.Language, else
// English. The HTML part carries the language's lang and dir attributes.
//
// # Defaults
//
//   - Codes: 15 minutes, resent after 60 seconds, 6 digits, 5 wrong
//     answers per code (see [Codes]).
//   - Login caps per hour: 10 per user, 10 per address. A sign-in needs one
//     or two codes, so 10 an hour leaves room for slips while stopping a
//     script from mail-bombing a user or an address.
//   - Caps on codes confirming an address, per hour: 5 per account, 3 per
//     account and address, 10 per address across accounts. They are
//     separate from the login caps: any account can ask to confirm any
//     address, and must not be able to spend its owner's login codes.
//   - 100 codes of any kind per client network an hour (an IPv4 address,
//     an IPv6 /64): higher because offices and carrier NAT share addresses.
//   - The caps are counted in the store and hold across app instances; see
//     [Caps] for each one and how a refused request is counted.
//
// # Store round trips
//
// Send: two (every cap in one batch, the code), three with EnrollOptIn
// (the confirmed address first). Verify: one (the code, consumed
// atomically; the Service records the last use with the challenge's
// end). Enrollments:
// one read, and a write the first time an address on file is seen.
//
// # Security notes
//
//   - Codes come from crypto/rand without modulo bias; only keyed hashes
//     (HMAC-SHA256 under the keyring) are stored, bound to the challenge,
//     the user and the purpose, and consumed atomically: of concurrent
//     correct answers exactly one succeeds.
//   - An expired code is twofactor.ErrCodeExpired, which prints and matches
//     as twofactor.ErrInvalidCode: users cannot tell expired from wrong,
//     events can.
//   - When the mail server refuses a message the caller gets an error
//     wrapping [ErrDelivery], no usable code is left, the cooldown is lifted
//     and the attempt still counts toward the caps.
//   - No address is stored in the clear: enrolled and pending addresses
//     are sealed (keyring.Ring.Seal, bound to the user and to whether the
//     address was confirmed), labels and events carry the masked address,
//     counter keys a keyed hash of it. Events never carry the code.
//   - Asking to confirm someone else's address spends the asking account's
//     caps and the address's confirmation budget, never the address's
//     login budget; no single account can use up that confirmation budget,
//     so it cannot stop the owner confirming either.
//   - [SMTP] refuses plain-text connections except to a loopback relay, and
//     never sends credentials unencrypted.
//   - The [Outbox] holds live codes in plain text, and so does its page:
//     development only, never served beyond localhost.
package emailcode
