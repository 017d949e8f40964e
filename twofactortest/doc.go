// Package twofactortest is an attack kit a host runs, in its own tests,
// against its own integration of two-factor authentication. The library's
// tests prove the library; a host can still break the second step in its
// own code: a login route that starts the session before the second
// factor, a settings route without the step-up middleware, a proxy setting
// that lets any client choose its address, a logout that keeps the
// step-up, a password change that leaves the trusted devices. Run drives
// the host's running http.Handler as its users, and an attacker, would,
// and fails with what the host got wrong and how to fix it.
//
// # Adding it to a host's tests
//
// Build the app as main does, with a store and a clock the test owns,
// then describe it in a Host:
//
//	func TestTwoFactor(t *testing.T) {
//		clock := storetest.NewClock(time.Now())
//		app := newApp(config{db: t.TempDir(), now: clock.Now}) // Config.Now and the store's Now
//		twofactortest.Run(t, twofactortest.Host{
//			Handler:  app.Handler(),               // with its middleware
//			Service:  app.twoFactor.Service(),     // *twofactor.Service
//			AddUser:  app.addTestUser,             // func(twofactortest.User) error
//			SignedIn: app.sessions.UserID,         // twofactorhttp.Config.UserID
//			Code:     app.outbox.LastCode,         // the newest code sent to an address or phone
//			Advance:  clock.Advance,
//		})
//	}
//
// Run adds its own users through AddUser and enrolls their factors
// through the Service (an authenticator app, backup codes, an address and
// a phone when the Service has those factors), so the Service needs the
// totp and backupcodes factors. The other fields of Host describe what
// differs from the defaults of twofactorhttp (prefix, cookie names, the
// login and logout routes), the host's own sensitive routes, its
// administrator pages and its proxy.
//
// # The checks
//
// Each check is a subtest (see the Check constants); each makes users of
// its own, so one runs alone with go test -run 'TestTwoFactor/Lockout'.
//
//   - PasswordAlone: after the password of a user with an authenticator
//     app, or with email codes only, no session starts and no protected
//     page opens, for a browser and a JSON client.
//   - SkipSecondStep: after the password alone, no route signs the user
//     in: the host's sign-in routes and the usual callback paths, the
//     layer's routes without a right answer; nor does the pending cookie
//     of a sign-in that completed, replayed; nor the pending cookie and
//     second factor of another user sent with the victim's cookies.
//   - StepUp: a signed-in user without a fresh step-up (none yet, or one
//     an hour old) changes no factor on the settings pages and passes none
//     of the host's step-up routes; nobody but an administrator opens the
//     administrator pages.
//   - CrossOrigin: every unsafe route, the host's (login, logout, its
//     step-up and unsafe routes) and the layer's, refuses a POST from
//     another site with 403.
//   - ForwardedFor: a client that is no trusted proxy names another
//     address in X-Forwarded-For and the like, and the challenge and the
//     trusted device still record its own; a trusted proxy is believed.
//   - Logout: the logout ends the session, removes the step-up proof from
//     the browser and cancels a step-up begun.
//   - PasswordChange: a password change (the host's, through
//     Host.ChangePassword) and an administrator's reset end the pending
//     sign-ins, the step-up proofs and the trusted devices.
//   - UsedCodes: a used backup code, the authenticator code that
//     confirmed the app, a code used to sign in, and an expired email code
//     are refused.
//   - Lockout: one wrong code at a time, the kit learns how many a
//     sign-in takes and how many lock the user out; then many goroutines
//     send wrong codes at once through the host's handler, on one sign-in
//     and across several, and exactly those numbers reach the factor; a
//     locked-out user's right code is refused.
//   - NoSecrets: no page, JSON answer or header the kit saw, in any check,
//     shows a code, an authenticator secret, a backup code or a full phone
//     number it knows.
//
// Parts that need what the description lacks (Host.Advance to age a code
// or a step-up, Host.Code to read an email or SMS code, the
// administrator pages, a trusted proxy) are skipped, and the check logs
// which.
//
// The kit never sleeps: time passes through Host.Advance. Its requests
// come from addresses in networks set aside for documentation, one
// address a browser, so that the limits per client network of one check
// do not meet another's.
package twofactortest
