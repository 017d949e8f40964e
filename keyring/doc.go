// Package keyring holds the server keys of the library: a [Ring] of
// [Key]s, each with an id stored next to whatever it protects, so keys
// can rotate. A ring hashes with HMAC-SHA256 (codes, backup codes), seals
// with AES-256-GCM (TOTP secrets, phone numbers, pending state) and
// signs (proofs, trusted-device tokens), always with its first key, and
// still verifies and opens with the others. Each use derives its own key
// with HKDF (RFC 5869) under a domain name, so one secret never serves two
// purposes.
//
// A [Source] gives the ring to twofactor.Config.Keys when the Service is
// built: [Env] reads it from the environment, [Dev] from a file it makes
// for development, and a *Ring gives itself. Make a key with
// `twofactor keygen` or [GenerateKey].
package keyring
