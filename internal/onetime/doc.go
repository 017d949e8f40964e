// Package onetime is the one-time code issuer shared by the emailcode and
// smscode factors: the rules are the same whatever the channel, only the
// delivery differs.
//
// An [Issuer] is built by [New] from the factor's twofactor.Env (store,
// keys, events, clock, randomness) and a channel's rules ([Config],
// [Codes], [Caps], [Budgets]), validated once: a missing store or keys, a
// store without what [Store] needs, or a rule out of range is an error
// matching twofactor.ErrConfig there, and an Issuer that New returns is
// complete, so no request path returns a configuration error. [Wire] is
// that first check, for the factors' own constructors.
//
// It issues N-digit codes from internal/secure (crypto/rand, no modulo
// bias), stores only a keyed hash of each code (keyring.Ring.Hash, with a
// domain naming the channel, over the group, purpose, binding and code),
// enforces a resend cooldown, hourly caps per user, per destination and
// per client network, and optional budgets per country and in all, in
// store counters (so they hold across app instances), and verifies with
// one atomic ConsumeCode. [Outbox] is the development sender both factors
// wrap, with its page of the messages kept.
//
// # Login and verification budgets
//
// A login or step-up code goes to a destination the user already owns; a
// verification code (Request.Verification: an email address to confirm, a
// phone number to enroll) goes to one an account merely claims, and any
// account can claim anyone's. The two are counted apart: login codes on
// PerUser and PerDestination, verification codes on VerifyPerUser (per
// requesting account), VerifyPerUserDestination (per account and
// destination) and VerifyPerDestination (accounts per destination, against
// spam). So asking to verify a victim's address or number never spends the
// victim's login budget. PerIP counts both.
//
// VerifyPerDestination counts accounts, not codes. If it counted codes, a
// few accounts sending all they may to someone's address or number would
// use it up, and its owner could not
// confirm it for up to an hour. Counted in accounts, an account takes one
// of the destination's slots with its first verification code to it in
// its own window, its resends take none, and the owner is refused only when every slot is
// taken: it takes VerifyPerDestination other accounts (20 for email and
// 10 for SMS by default), or half as many timed across the edge of a
// window, each of them spending one of its VerifyPerUser codes and
// passing the host's sign-up, to keep her from her first code for up to
// an hour, and none at all to refuse her resends once she has a slot.
// What anyone can send to one destination stays bounded, by
// VerifyPerDestination × VerifyPerUserDestination codes a window (60
// emails or 30 SMS at the defaults; for SMS the budgets bound the cost
// too). Whether an account holds a slot is a counter of its own per
// destination, counted in the same step as the caps when the request is
// admitted: a request that finds it at zero is a first code and takes a
// slot, in one more step; a first code the slots refuse gives its hold
// back, so the account's next request is checked against the slots again.
//
// Every limit is checked and counted in one atomic bounded increment
// (store.IncrAllBelow), which refuses the request when a counter is at its
// bound and then leaves alone what a refused request must not spend: the
// cooldown and the budgets shared with other accounts. A refused request
// still counts on its own caps (user, pair, destination, client network),
// up to their bounds: a client ignoring ResendAt spends its own budget.
// Apart from a first code the slots refuse, nothing is given back after a
// refusal, so no concurrent request ever sees a count that is taken back
// later. (On a store without
// store.BoundedCounters the fallback increments and then takes back,
// which is not atomic; every store of this module has it.)
//
// # Budgets
//
// Config.Budgets bound a channel's sends whoever asks: per destination
// country (Request.Country) and in all, per Caps.Window. They are counted
// in the same step as the caps, are shared counters (a refused request
// does not count on them), and the send that takes a budget's last unit
// emits event.BudgetReached through the Env's events: its Reason
// is [ReasonBudgetCountry] (with Details["country"]) or
// [ReasonBudgetTotal], Count the budget and Until the end of its window.
// Only the SMS factor sets them.
//
// # Enrollment
//
// [Issuer.BeginEnroll] and [Issuer.ConfirmEnroll] are the factors'
// twofactor.Enroller steps once the factor has checked the destination:
// a verification code to the destination, which waits as the user's
// pending enrollment (sealed, filed under the user with PutOwnedState, so
// a password change or an admin reset ends it), shown again rather than
// resent until Restart, then checked and handed to the factor's Recorder.
// BeginEnroll emits event.EnrollBegin and a wrong code
// event.Failure, each with the masked destination as Label; the
// Service emits event.Enroll once ConfirmEnroll succeeds.
// [Issuer.Touch] records a login as an enrollment's LastUsedAt, through
// store.EnrollmentToucher when the store has it.
//
// # Store keys
//
// Codes live in group "otc:<channel>:<group>" under key <purpose>, so the
// email and SMS factors never touch each other's codes and a code issued for
// one purpose never satisfies another. A pending enrollment is the state
// "otc:enroll:<channel>:<user id>". Counter keys carry the channel, the
// user id, and keyed hashes (HMAC-SHA256 under the current key, 128 bits
// in base64url, each under a domain of its own) of the destination, of the
// (user, destination) pair and of the client's network: never the address
// or number, and never the client's address. The network is an IPv4
// address, or the /64 of an IPv6 address (a host changes the low 64 bits
// at will, RFC 4291 and RFC 8981). Counters written by earlier versions
// under the client's address in the clear, and the per-destination counts
// of codes ("otc:cap:vdest:"), are no longer read: they expire with their
// window (Caps.Window, an hour by default), and a key rotation starts
// every keyed count again in the same way.
//
// # Delivery failure
//
// The code is stored before delivery, so it works as soon as the message
// arrives. When delivery fails the code is deleted (the previous code for
// the same group and purpose was already replaced, so no usable code is
// left), the cooldown is lifted so the user may retry at once, and the
// hourly caps keep the attempt: a gateway failing on purpose (SMS pumping
// through numbers that never answer) still spends the caps.
//
// # Store round trips
//
// Issue checks and counts the resend cooldown and every cap (per client
// network when known, and the login or verification caps) in one bounded
// increment (store.IncrAllBelow), then stores the code: two round trips,
// and a refusal one. Through the Service's gate (a challenge's send) the
// code's storing joins the count, run only when it admits the send: one
// round trip either way. An account's first verification code to a
// destination in a window adds one bounded increment for the
// destination's slot; only that slot's refusal gives back what the first
// step took (one Decr per shared counter and the hold, one ResetCounter
// for the cooldown), as does a failure to store the code. Verify and
// VerifyChallenge: one ConsumeCode; through the Service none of their
// own, the Service running ConsumeOp's operation in the round trip that
// counts the answer. BeginEnroll: Issue's, one PutOwnedState, and one
// GetState unless Restart.
//
// # Security notes
//
//   - Codes come from secure.Digits (crypto/rand, rejection sampling) and
//     are compared by the store on keyed hashes in constant time.
//   - The hash binds the code to its channel (hash domain), group
//     (challenge), purpose and binding (user id, or the number being
//     verified), so a code can only ever complete the request it was made
//     for, even if a store row were moved.
//   - Expired codes are reported as twofactor.ErrCodeExpired, which users
//     see as an invalid code; events tell them apart.
//   - Every error path fails closed: a store error on Verify is an error,
//     never a success, and a store error on Issue sends nothing.
package onetime
