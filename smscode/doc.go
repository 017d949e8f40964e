// Package smscode is the SMS one-time code factor with phone enrollment: a
// six-digit code texted to the user's one verified phone number, valid 15
// minutes, resent at most once a minute, with hourly caps per user, per
// number and per client network, and hourly budgets per destination
// country and in all.
//
// It shares its rules with package emailcode (both use one code issuer);
// only the channel, and the phone enrollment, differ.
//
// # Walkthrough
//
// Build a sender and the factor at start-up:
//
//	gw, err := smscode.NewTwilio(smscode.TwilioConfig{
//		AccountSID: sid, AuthToken: token, From: "+15005550006"})
//	sms, err := smscode.New(smscode.Config{
//		Store: st, Keys: keys, Sender: gw, ProductName: "Example",
//		WebOTPDomain: "example.com", AllowedRegions: []string{"US", "CA", "GB"},
//	})
//
// Any HTTP gateway works through [NewGateway] (URL, auth header, form or
// JSON body); a development [Outbox] keeps messages in memory.
//
// Enrolling a phone takes two steps, like the seed's "add a phone number":
//
//	sent, err := sms.BeginPhone(ctx, user, "(415) 555-0112", "US", client)
//	// the user types the texted code
//	enr, err := sms.ConfirmPhone(ctx, user, typed)
//
// BeginPhone parses the number with the region from the country picker
// (github.com/nyaruka/phonenumbers), refuses invalid numbers, premium-rate
// and similar numbers, and regions outside AllowedRegions with typed errors
// ([ErrInvalidPhone], [ErrNumberType], [ErrRegionNotAllowed], all matching
// twofactor.ErrInvalidInput) before touching the store. ConfirmPhone makes
// the number the user's phone; a previous phone is replaced only then. A
// user has one phone (enrollment id "phone"), shown masked as
// "+1 *** *** **12".
//
// At sign-in a user with a phone is offered SMS; Service.Send texts the
// code and Service.Verify checks it, as for email. With WebOTPDomain set,
// the message ends with the line "@example.com #123456" so browsers and
// phones offer to fill the code in.
//
// Seed 004 (SMS by default, phone mandatory): set Policy.Default and
// Policy.Mandatory to twofactor.MethodSMS; Service.Check then lists the
// users who have no phone yet.
//
// # Defaults
//
//   - TTL 15 minutes, resend cooldown 60 seconds, 6 digits (the seed's
//     code auto-submits at 6 characters), 5 wrong answers per code.
//   - Login caps per hour: 5 per user, 5 per number. Every SMS is paid
//     for, and SMS pumping earns a fraudster money per message delivered
//     to numbers they profit from, so the caps are lower than email's: a
//     sign-in needs one or two messages.
//   - Phone verification caps per hour ([Factor.BeginPhone]): 5 per
//     account, 3 per account and number, 7 per number across accounts
//     (many fake accounts, one premium number). They are separate from the
//     login caps: any account can start enrolling any number, and must not
//     be able to spend its owner's login codes (an SMS-only user would be
//     locked out).
//   - 30 SMS of any kind per client network an hour (an IPv4 address, an
//     IPv6 /64, so rotating addresses does not escape it), allowing for
//     offices and carrier NAT.
//   - Budgets per hour ([Budgets]): 200 SMS per destination country and
//     1000 in all, whoever asks, sized for a small-to-medium app. They bound
//     what a toll-fraud run spread over many accounts, numbers and networks
//     can cost; raise them to about twice your busiest hour, with a budget
//     of their own for your main countries (Budgets.Countries).
//   - The caps and budgets are counted in the store and hold across app
//     instances; see [Caps] for each cap and how a refused request is
//     counted.
//
// # Security notes
//
//   - Phone numbers are stored encrypted (Keyring.Seal, bound to the user
//     and the record), both the enrolled and the pending one; labels and
//     events carry the masked number only, counter keys a keyed hash of it.
//   - Codes are stored as keyed hashes bound to the challenge (or the
//     enrollment), the purpose and the user (or the number being verified):
//     a phone verification code never satisfies a login, and a code sent to
//     one number never confirms another.
//   - Starting to enroll someone else's number spends the asking account's
//     verification caps and the number's verification budget, never the
//     number's login budget; no single account can use up that
//     verification budget.
//   - SMS pumping (toll fraud) is bounded at every level: refused number
//     types and AllowedRegions at enrollment, caps per account, number and
//     client network, and the [Budgets] per country and in all. A send over
//     a budget is refused for everyone until the window ends (Limit
//     [LimitCountry] or [LimitTotal]); the send that takes a budget's last
//     unit emits twofactor.EventRateLimited with Reason
//     [ReasonBudgetReached]: alert on it.
//   - Delivery failures: the caller gets an error wrapping [ErrDelivery]
//     ([*GatewayError] for an HTTP status), no usable code is left, the
//     cooldown is lifted, and the caps keep the attempt (pumping defence).
//   - Gateway errors never include the response body, which often echoes
//     the number. Gateways must use https (http only to loopback).
//   - Changing a phone is sensitive: guard BeginPhone with
//     Service.CheckProof when the user already has a factor.
//   - The [Outbox] holds live codes and full numbers: development only.
package smscode
