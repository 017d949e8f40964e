// Package backupcodes is the backup-code factor: a set of single-use codes
// a user keeps on paper or in a password manager for the day their phone or
// security key is gone, and recovery codes an administrator issues to a
// user who is locked out.
//
// # Walkthrough
//
// The factor needs no settings of its own: its [Config] is a
// twofactor.FactorConfig, and twofactor.New builds the factor with the
// Service's store, keyring, events and clock. The host gets it back by its
// method for [Factor.Remaining] and [Factor.IssueRecoveryCode]:
//
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys,
//		Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Acme"}, backupcodes.Config{}}}) // or Count: 8
//	f, _ := svc.Factor(twofactor.MethodBackupCode)
//	codes := f.(*backupcodes.Factor)
//
// Used alone, [New] builds it with an Env of its own
// (backupcodes.New(twofactor.Env{Store: st, Keys: keys}, backupcodes.Config{})).
// Either way it is complete when built: a missing store or keyring, a
// store without the interfaces of [Store] (named in the error) and a
// setting out of range are errors matching twofactor.ErrConfig then.
//
// When the user turns on two-factor authentication,
// twofactor.Service.ConfirmEnroll of their first factor makes the set
// ([Factor.BeginEnroll]: Config.Count codes, 10 by default) and returns it
// in Enrolled.BackupCodes, in plain text, once: show it, offer a download,
// and forget it. The store only ever sees keyed hashes. The codes work at
// once; there is nothing to confirm. Issuing a set emits
// event.Enroll with Action event.ActionBackupCodesCreated (or
// ActionBackupCodesReplaced for a new set) and Count the codes issued.
//
// At sign-in the factor is offered like any other ([twofactor.MethodBackupCode]);
// the user types a code and [twofactor.Service.Verify] checks it with the
// factor's operations ([Factor.CheckOps], a [twofactor.BatchVerifier]),
// which consume it, in the store round trip that counts the answer
// against the user's lockout, and only when that count admits it; the
// factor reads the outcome ([Factor.VerifyOps]). [Factor.Verify] does the
// same on its own, for a host that calls the factor directly. Input is
// forgiving: case does not
// matter, spaces and dashes are ignored, and the letters left out of the
// alphabet are read as the digit or letter they look like (o as 0, i and l
// as 1, u as v). [Factor.CheckAnswer] rejects input that cannot be a code
// before any store access.
//
// The account page shows the set as an enrollment ("Backup codes (7
// left)", when it was made and last used); [Factor.Remaining] gives the
// count. After a use that leaves LowThreshold codes or fewer (2 by
// default), [EventLow] is emitted, with Count the codes left, so the host
// can prompt the user. A new set replaces the old one (every old code dies
// at once): twofactor.Service.BeginEnroll with twofactor.MethodBackupCode
// returns it in Enrolling.Codes, and asks a user who has any factor,
// backup codes included, for the proof of a fresh step-up first. The
// Service checks that proof; the factor itself never calls the Service.
//
// Support staff call [Factor.IssueRecoveryCode] for a locked-out user,
// after checking their identity by other means: one code, single use, valid
// for 24 hours by default, audited with the administrator's identity
// (a event.AdminAction with Action
// event.ActionRecoveryCodeIssued, Actor and Until, its expiry); using
// it emits [EventRecoveryUsed].
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
//     each code under the server key ([keyring.Ring.Hash]) with the
//     key's id, bound to the user and to the code's kind. A code's hash is
//     also its store key, so checking a code is one keyed hash and one
//     indexed lookup per server key: the time does not depend on how many
//     codes exist, and no code is compared against another. Noticing that
//     the user is low on codes does not count them either: each set
//     comes with a store counter of its uses, one atomic increment per
//     use (run with the code's check, only when the code matched), and
//     the set's size less its uses is what is left.
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
//     instances sharing the store, exactly one succeeds. Each submitted
//     code is also marked, under its keyed hash, for SubmitWindow before
//     it is looked up: the loser of a double submit gets
//     [twofactor.ErrCodeReused] rather than a wrong code, so it does not
//     count toward the user's lockout. Through the Service the mark is
//     made only when the lockout admitted the answer: a guess refused
//     while the user is locked out leaves none, and counts when it is
//     tried again later.
//   - Keys rotate: codes are looked up under every key of the ring, current
//     key first, so a set made before a rotation keeps working while the
//     old key stays in the ring. Dropping a key from the ring voids the
//     codes made under it.
//   - Events never carry a code. Wrong, used and malformed codes all read
//     as [twofactor.ErrInvalidCode]; an expired recovery code is
//     [twofactor.ErrCodeExpired], which prints the same message.
//   - A new set needs a fresh proof when the user has a factor: the
//     Service checks it (Service.BeginEnroll). [Factor.BeginEnroll] itself
//     checks nothing; a host calling it directly must. Two new sets made
//     at once for the same user are not atomic against each other: make
//     one at a time.
package backupcodes
