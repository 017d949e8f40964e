// Package smscode is the SMS one-time code factor with phone enrollment: a
// six-digit code texted to the user's one confirmed phone number, valid 15
// minutes, resent at most once a minute, with hourly caps per user, per
// number and per client network, and hourly budgets per destination
// country and in all.
//
// It shares its rules with package emailcode (both use one code issuer);
// only the channel, and the phone enrollment, differ.
//
// # Walkthrough
//
// Build a sender at start-up and give the factor's [Config] to the
// Service, which builds the factor with its twofactor.Env (store, keys,
// events, clock):
//
//	gw, err := smscode.NewTwilio(smscode.TwilioConfig{
//		AccountSID: sid, AuthToken: token, From: "+15005550006"})
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys,
//		Factors: []twofactor.FactorConfig{smscode.Config{
//			Sender: gw, ProductName: "Example",
//			WebOTPDomain: "example.com", AllowedRegions: []string{"US", "CA", "GB"},
//		}}})
//	f, _ := svc.Factor(twofactor.MethodSMS)
//	sms := f.(*smscode.Factor) // for its own methods (ParsePhone, Rekey)
//
// Used without a Service, [New] builds the factor from an Env of its own:
//
//	sms, err := smscode.New(twofactor.Env{Store: st, Keys: keys}, smscode.Config{Sender: gw})
//
// Every configuration error is New's, matching twofactor.ErrConfig: a nil
// Sender, a nil store or keys, a store lacking an interface [Store] needs
// (by name), an unknown region. A factor New returns is complete. Any
// HTTP gateway works through [NewGateway] (URL, auth header, form or JSON
// body); a development [Outbox] keeps messages in memory and serves them
// as a page (mux.Handle("GET /sms-outbox", outbox)).
//
// Numbers are sealed with the keys. After a key rotation, Factor.Rekey
// re-seals a user's number under the new key; [Rekey] does the same with
// an Env alone, for a tool that sends no SMS.
//
// Adding a phone takes two steps through the Service, which asks a user
// who already has a factor to prove one first (changing the number a code
// goes to is sensitive):
//
//	en, err := svc.BeginEnroll(ctx, user, twofactor.MethodSMS, twofactor.EnrollRequest{
//		Destination: "(415) 555-0112", Region: "US", Client: client}, proof)
//	// show en.Sent.Destination; "resend" is the same call with Restart: true
//	done, err := svc.ConfirmEnroll(ctx, user, twofactor.MethodSMS, typed)
//
// BeginEnroll parses the number with the region from the country picker
// (github.com/nyaruka/phonenumbers), refuses invalid numbers, premium-rate
// and similar numbers, and regions outside AllowedRegions with typed errors
// before touching the store. The same parsing is exported for a page to
// check a number first and say what is wrong with it: [ParsePhone], and
// [Factor.ParsePhone] with AllowedRegions. A refused number is a
// [*PhoneError] (with the Region it was read as) wrapping one reason:
// [ErrPhoneEmpty], [ErrPhoneNotNumber], [ErrPhoneNeedsRegion],
// [ErrPhoneUnknownRegion], [ErrPhoneCountryCode], [ErrPhoneTooShort],
// [ErrPhoneTooLong] or [ErrPhoneInvalidForRegion] (each matching
// [ErrInvalidPhone]), [ErrNumberType] or [ErrRegionNotAllowed]; all match
// twofactor.ErrInvalidInput:
//
//	p, err := sms.ParsePhone(number, region)
//	var pe *smscode.PhoneError
//	switch {
//	case errors.Is(err, smscode.ErrPhoneTooShort):
//		// "That number is too short."
//	case errors.As(err, &pe) && errors.Is(err, smscode.ErrPhoneInvalidForRegion):
//		// "That is not a valid number for " + name(pe.Region) + "."
//	}
//
// The number is recorded with its region, so a send counts it on its
// country's budget without parsing it again. Asked again for
// the same number while its code is live, it shows the pending enrollment
// without sending anything; Restart sends a new code, another number
// replaces the pending one. The pending number is sealed and filed under
// the user, so a password change, an admin reset or Service.Disable ends
// it. ConfirmEnroll makes the number the user's phone; a previous phone is
// replaced only then. A user has one phone (enrollment id "phone"), shown
// masked as "+1 *** *** **12"; Service.RemoveEnrollment removes it, with
// any number awaiting its code.
//
// At sign-in a user with a phone is offered SMS; Service.Send texts the
// code and Service.Verify checks it, as for email, and records the phone's
// LastUsedAt. With WebOTPDomain set, the message ends with the line
// "@example.com #123456" so browsers and phones offer to fill the code in.
//
// To make SMS the default and mandatory second factor, set Policy.Default
// and Policy.Mandatory to twofactor.MethodSMS; Service.Check then lists
// the users who have no phone yet, before you enforce it.
//
// # Defaults
//
//   - Codes: 15 minutes, resent after 60 seconds, 6 digits (the length
//     phones autofill), 5 wrong answers per code (see [Codes]).
//   - Login caps per hour: 5 per user, 5 per number. Every SMS is paid
//     for, and SMS pumping earns a fraudster money per message delivered
//     to numbers they profit from, so the caps are lower than email's: a
//     sign-in needs one or two messages.
//   - Caps on codes confirming a number ([Factor.BeginEnroll]), per hour: 5
//     per account, 3 per account and number, 7 per number across accounts
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
// # Store round trips
//
// Send: three (the phone, every cap and budget in one batch, the code).
// ParsePhone, and so BeginEnroll, parses the number once; Send reads the
// region recorded with it.
// Verify: one (the code, consumed atomically; the Service records the
// phone's last use with the challenge's end). BeginEnroll: four (the pending enrollment, the
// batch, the code, the pending number), three with Restart.
//
// # Security notes
//
//   - Phone numbers are stored sealed (keyring.Ring.Seal, bound to the user and
//     the record), both the enrolled and the pending one; labels and
//     events carry the masked number only, counter keys a keyed hash of it.
//   - Codes are stored as keyed hashes bound to the challenge (or the
//     enrollment), the purpose and the user (or the number being
//     confirmed): a code confirming a number never satisfies a login, and a
//     code sent to one number never confirms another.
//   - Starting to enroll someone else's number spends the asking account's
//     caps and the number's confirmation budget, never the number's login
//     budget; no single account can use up that confirmation budget.
//   - SMS pumping (toll fraud) is bounded at every level: refused number
//     types and AllowedRegions at enrollment, caps per account, number and
//     client network, and the [Budgets] per country and in all. A send over
//     a budget is refused for everyone until the window ends (Limit
//     [LimitCountry] or [LimitTotal]); the send that takes a budget's last
//     unit emits event.BudgetReached: alert on it.
//   - Delivery failures: the caller gets an error wrapping [ErrDelivery]
//     ([*GatewayError] for an HTTP status), no usable code is left, the
//     cooldown is lifted, and the caps keep the attempt (pumping defence).
//   - Gateway errors never include the response body, which often echoes
//     the number. Gateways must use https (http only to loopback).
//   - The [Outbox] holds live codes and full numbers, and so does its
//     page: development only, never served beyond localhost.
//
// # Events
//
// The Service records sends, answers and enrollments; the factor adds
// event.EnrollBegin when it texts a confirmation code and
// event.Failure for a wrong one, each with the masked number as
// Label; event.BudgetReached (Reason [ReasonBudgetCountry] or
// [ReasonBudgetTotal], Count the budget, Until the end of the window,
// Details["country"] for a country's budget); and event.Warning
// with Reason [ReasonDeletePendingFailed] when a write after a success
// fails (the Service's warning for a last use it could not record has
// Reason [ReasonTouchFailed]). A send failure's reason is
// [ReasonDelivery].
package smscode
