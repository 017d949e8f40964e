// Command minimal is a small net/http app with a password login and one
// page for signed-in users, with two-factor authentication added through
// package twofactorhttp: authenticator apps (TOTP), email codes (kept in a
// development outbox at /outbox instead of being mailed), backup codes and
// "trust this device", on the embedded SQLite store. before/main.go is the
// same app without it; the difference is the whole of the work:
//
//	git diff --no-index examples/minimal/before/main.go examples/minimal/main.go
//
// Run it with go run ./examples/minimal and open http://localhost:8080
// (user ada, password lovelace); the code is at http://localhost:8080/outbox.
// Its server key is a development key, made in minimal.keys on the first
// start (keyring.Dev); a real app loads its keys with
// keyring.Env("TWOFACTOR_KEYS") from a key made by `twofactor keygen`.
package main
