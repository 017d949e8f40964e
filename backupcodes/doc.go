// Package backupcodes is the backup-code factor: a set of single-use codes
// a user keeps on paper or in a password manager for the day their phone or
// security key is gone, and recovery codes an administrator issues to a
// user who is locked out.
//
// # Walkthrough
//
// Build the factor with the Service's store, keyring and events, give it to
// the Service, and let it check step-up proofs with that Service:
//
//	codes, err := backupcodes.New(backupcodes.Config{Store: st, Keys: keys, Events: events})
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys, Events: events,
//		Factors: []twofactor.Factor{totpFactor, codes}})
//	codes.SetProofs(svc)
//
// When the user turns on two-factor authentication (right after their
// first factor is verified), [Factor.Generate] makes the set (10 codes by
// default) and returns it in plain text, once: show it, offer a download,
// and forget it. The store only ever sees keyed hashes.
//
// At sign-in the factor is offered like any other ([twofactor.MethodBackupCode]);
// the user types a code and [twofactor.Service.Verify] passes it to
// [Factor.Verify], which consumes it. Input is forgiving: case does not
// matter, spaces and dashes are ignored, and the letters left out of the
// alphabet are read as the digit or letter they look like (o as 0, i and l
// as 1, u as v). [Factor.CheckAnswer] rejects input that cannot be a code
// before any store access.
//
// [Factor.Remaining] gives the count for the account page; after a use that
// leaves LowThreshold codes or fewer (2 by default), [EventLow] is emitted
// so the host can prompt the user. [Factor.Regenerate] replaces the whole
// set (every old code dies at once) and needs a fresh step-up proof
// ([twofactor.Result.Proof]).
//
// Support staff call [Factor.IssueRecoveryCode] for a locked-out user,
// after checking their identity by other means: one code, single use, valid
// for 24 hours by default, audited with the administrator's identity
// ([twofactor.EventAdminAction]); using it emits [EventRecoveryUsed].
//
// Backup codes are a fallback, not a second factor: [Factor.Recovery]
// reports true, so a user left with backup codes only is reported by
// [twofactor.Service.Check] as having no factor when the policy requires
// one, and should be asked to enroll a factor again.
//
// # Code format
//
// A code is 3 groups of 4 characters ("k7qm-3xvt-9fhd") from [Alphabet],
// Crockford's base 32 in lower case: 32 characters, none of which look
// alike, 5 bits each, so 60 bits per code. An admin-issued recovery code
// has one group more (80 bits); the length alone tells the two apart, so
// each answer is looked up in one place only.
//
// # Security notes
//
//   - Codes are drawn from crypto/rand without modulo bias
//     (internal/secure) and returned once; the store holds HMAC-SHA256 of
//     each code under the server key ([twofactor.Keyring.Hash]) with the
//     key's id, bound to the user and to the code's kind. A code's hash is
//     also its store key, so checking a code is one keyed hash and one
//     indexed lookup per server key: the time does not depend on how many
//     codes exist, and no code is compared against another. Noticing that
//     the user is low on codes does not count them either while many are
//     left: each set has a small tally record whose attempt limit runs out
//     when LowThreshold is reached, and only then are the codes counted.
//   - No slow password hash (bcrypt, Argon2) is used, on purpose. A slow
//     hash protects low-entropy secrets that people choose; these codes
//     carry at least 50 bits (60 by default) chosen by crypto/rand. Without
//     the server key a stolen database gives nothing to guess against;
//     with the key, an offline search still needs about 2^59 HMACs per
//     code on average. Online guessing goes through the Service, whose
//     attempt limits (per challenge, per user, per IP) allow a few dozen
//     guesses per window against a space of 2^60 × the number of codes. A
//     slow hash per code would add little to that, but would force a scan
//     of every stored code per attempt (each bcrypt hash is salted, so it
//     cannot be looked up): with bcrypt at cost 10 and 10 codes, a few
//     hundred thousand times slower (see BenchmarkVerify), and an easy way
//     to exhaust the server's CPU.
//   - Each code works once. Consuming is one atomic store operation, so of
//     concurrent requests with the same code, on any number of app
//     instances sharing the store, exactly one succeeds.
//   - Keys rotate: codes are looked up under every key of the ring, current
//     key first, so a set made before a rotation keeps working while the
//     old key stays in the ring. Dropping a key from the ring voids the
//     codes made under it.
//   - Events never carry a code. Wrong, used and malformed codes all read
//     as [twofactor.ErrInvalidCode]; an expired recovery code is
//     [twofactor.ErrCodeExpired], which prints the same message.
//   - Generate refuses to replace unused codes; Regenerate needs a fresh
//     proof. Generate for a user without codes is not atomic against a
//     concurrent Generate for the same user: call it once, from the
//     enrollment flow.
package backupcodes
