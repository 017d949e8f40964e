// Package emailcode is the email one-time code factor: a six-digit code
// mailed to the user's address, valid 15 minutes, resent at most once a
// minute, with hourly caps per user, per address and per client network.
//
// It shares its rules with package smscode (both use one code issuer); only
// the channel differs.
//
// # Walkthrough
//
// Build a sender and the factor once, at start-up, and give the factor to
// the Service:
//
//	smtp, err := emailcode.NewSMTP(emailcode.SMTPConfig{
//		Host: "smtp.example.com", Username: "mailer", Password: pw,
//		From: "Example <no-reply@example.com>", // STARTTLS on 587 by default
//	})
//	email, err := emailcode.New(emailcode.Config{
//		Store: st, Keys: keys, Sender: smtp, ProductName: "Example",
//	})
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys,
//		Factors: []twofactor.Factor{email}})
//
// A nil Sender is a configuration error at New (email needs an SMTP server
// configured first). In development use an [Outbox]: it keeps messages in
// memory for the example app to display.
//
// At sign-in, a user with an address (twofactor.User.Email) is offered
// email: [Factor.Enrollments] reports the address as the factor's one
// implicit enrollment, masked as "j***@example.com". Then:
//
//	sent, err := svc.Send(ctx, challengeID, twofactor.MethodEmail, client)
//	// show sent.Destination, sent.ExpiresAt; enable "resend" at sent.ResendAt
//	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: challengeID,
//		Method: twofactor.MethodEmail, Code: typed, Client: client})
//
// A resend within the cooldown, or a send over a cap, returns a
// *twofactor.RetryError (errors.As) with RetryAfter. A new code replaces the
// previous one. Cancelling the challenge deletes its codes.
//
// [Factor.SendVerification] and [Factor.ConfirmVerification] prove that a
// user owns an address (at sign-up, or when it changes), with codes that
// never satisfy a login and vice versa, and caps of their own.
//
// # Messages
//
// The subject, a plain-text part (always sent) and an HTML part come from
// text/template and html/template; [Templates] overrides any of them. The
// templates see [Data]: product name, user name, code, minutes left. The
// default subject, "Your Example verification code", leaves the code out so
// it does not show on lock screens.
//
// # Defaults
//
//   - TTL 15 minutes, resend cooldown 60 seconds, 6 digits, 5 wrong answers
//     per code (the seeds' values).
//   - Login caps per hour: 10 per user, 10 per address. A sign-in needs one
//     or two codes, so 10 an hour leaves room for slips while stopping a
//     script from mail-bombing a user or an address.
//   - Verification caps per hour ([Factor.SendVerification]): 5 per
//     account, 3 per account and address, 10 per address across accounts.
//     They are separate from the login caps: any account can ask to verify
//     any address, and must not be able to spend its owner's login codes.
//   - 100 codes of any kind per client network an hour (an IPv4 address,
//     an IPv6 /64): higher because offices and carrier NAT share addresses.
//   - The caps are counted in the store and hold across app instances; see
//     [Caps] for each one and how a refused request is counted.
//
// # Security notes
//
//   - Codes come from crypto/rand without modulo bias; only keyed hashes
//     (HMAC-SHA256 under the Keyring) are stored, bound to the challenge,
//     the user and the purpose, and consumed atomically: of concurrent
//     correct answers exactly one succeeds.
//   - An expired code is twofactor.ErrCodeExpired, which prints and matches
//     as twofactor.ErrInvalidCode: users cannot tell expired from wrong,
//     events can.
//   - When the mail server refuses a message the caller gets an error
//     wrapping [ErrDelivery], no usable code is left, the cooldown is lifted
//     and the attempt still counts toward the caps.
//   - Events carry the masked address only, never the code. Counter keys
//     carry a keyed hash of the address, not the address.
//   - Asking to verify someone else's address spends the asking account's
//     verification caps and the address's verification budget, never the
//     address's login budget; no single account can use up that
//     verification budget, so it cannot stop the owner verifying either.
//   - [SMTP] refuses plain-text connections except to a loopback relay, and
//     never sends credentials unencrypted.
//   - The [Outbox] holds live codes in plain text: development only.
package emailcode
