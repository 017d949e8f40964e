// Command webapp is Acme, a small product with its own password login and
// every second factor of this module wired in one place: authenticator apps
// (TOTP), email and SMS codes, backup codes, security keys (WebAuthn) and
// "trust this device", with the challenge, settings and administrator pages
// of package twofactorhttp and the security notifications of package
// notify.
//
// Run it with nothing configured:
//
//	go run ./examples/webapp
//
// and open http://localhost:8080 (it listens on 127.0.0.1 and ::1, both of
// which a browser may try for localhost). It prints its address and the
// demo logins first: alan (nothing enrolled), ada (authenticator app and
// backup codes), grace (SMS) and admin (the administrator). Email and SMS
// codes, and the notification emails, wait in the development outbox at
// /outbox instead of being sent, each with the time it was sent.
//
// On its first start it makes a key (kept in <data>/keys, mode 0600) and a
// SQLite database in <data>: examples/webapp/.data of the checkout it runs
// in, or, run from outside a checkout of this module, the twofactor-webapp
// directory of the user cache directory. It enrolls the demo users'
// factors through the Service, as they would on the settings pages; those
// routine events are logged only with -v. Flags, or the environment
// variables named in -h, switch to PostgreSQL, MySQL or Redis, to a real
// SMTP server and SMS gateway, and set the trusted proxies; several copies
// sharing one store and the same keys behave as one app.
//
// The wiring is in app.go (newApp and wire): one twofactor.New builds the
// whole of two-factor authentication, with one error check: the store
// (opened as it runs, closed by Service.Shutdown), the keys, every factor,
// trusted devices, the security emails as a listener, and the lookup from
// a user id to the app's user. The twofactorhttp Handler is built next,
// on the app's mux, with the app's sessions. The login handler checks the
// password with bcrypt and hands the user's id to Handler.Begin; the
// app's session starts in the SignIn callback, once the second factor has
// passed; the logout handler ends it and calls Handler.SignOut.
//
// The load test (./loadtest, make load) runs two copies of the app with
// $TWOFACTOR_LOAD_USERS=N, which adds N load-test users, load1 to loadN,
// and writes the secrets of their authenticator apps to
// <data>/load-users.json (loadusers.go). It is for load tests only, and
// -h leaves it out.
package main
