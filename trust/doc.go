// Package trust remembers devices that passed a second factor ("trust this
// device for 30 days"), so the next login from the same browser, network
// and user agent is not asked again. A [Manager] implements
// twofactor.DeviceTrust: give it to twofactor.Config.Trust and the
// Service's Begin consults it for login challenges (never for step-up).
//
// # Walkthrough
//
// Give the Manager's settings to the Service as Config.Trust; twofactor.New
// builds it with the Service's store, keyring, events, clock and
// randomness, and svc.Trust() returns it:
//
//	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys, Factors: factors,
//		Trust: trust.Config{
//			Duration:       trust.Month, // SessionOnly, Day, Week, Month, Quarter, or up to MaxDuration
//			TrustedProxies: lbPrefixes,  // only if a reverse proxy sits in front
//		}})
//	devices := svc.Trust().(*trust.Manager)
//
// Used alone, without a Service, build it with an Env holding at least the
// store and the keyring:
//
//	devices, err := trust.New(twofactor.Env{Store: st, Keys: keys}, trust.Config{Duration: trust.Month})
//
// New checks that the store implements store.Devices and names what is
// missing; it never fails later for want of a store or a key.
//
// In the login handler, describe the request with [Manager.Client], which
// reads the client address safely ([ClientIP]), the User-Agent and the
// device cookie:
//
//	begun, err := svc.Begin(ctx, user, devices.Client(r))
//	if begun.Status == twofactor.StatusTrusted { /* sign in */ }
//
// When the user answers the challenge with "trust this device" ticked,
// set Answer.RememberDevice; the Result then carries a grant to put in the
// cookie with [Manager.SetCookie]:
//
//	res, err := svc.Verify(ctx, twofactor.Answer{..., Client: devices.Client(r), RememberDevice: true})
//	if res.Device != nil { devices.SetCookie(w, *res.Device) }
//
// A "devices" page lists the user's devices with [Manager.List], marks the
// current one with [Manager.DeviceID], and revokes one with
// [Manager.Revoke] or all with [Manager.RevokeAll]. Service.AdminReset,
// Service.Disable and Service.PasswordChanged revoke all of them through
// [Manager.ForgetUser]: one event.DeviceRevoked per device (reason
// "reset"), beside the Service's own event for the reset or password
// change.
//
// # What is stored, what the browser holds
//
// Each trusted device is a store.Device record: a random 128-bit id, the
// user id, a label such as "Firefox on Linux" (from [ParseAgent]), the bound
// address or network, a fingerprint of the user agent (browser family and
// OS, or a keyed hash of the exact header; never the raw header), and the
// creation, expiry and last-seen times. The cookie holds only
// "v1.<id>.<key id>.<signature>", where the signature is HMAC-SHA256 under
// the server key over the id and the user id.
//
// # Bindings
//
// IPBinding: [IPNetwork] (default; same /24 for IPv4, same /64 for IPv6,
// both configurable), [IPExact], or [IPNone]. UABinding: [UAFamily]
// (default; same browser family and OS, so updates keep the trust),
// [UAExact], or [UANone]. When a check finds the environment changed, the
// device is not trusted, its record is deleted, and an
// event.DeviceRevoked says why: "ip_changed", "browser_changed",
// "expired" (when the store still returned an expired record; stores that
// hide expired records answer "not found", and the cookie, whose Max-Age
// matches the record, has normally expired too), "user_mismatch", or
// "binding_changed" when the record was issued under a looser binding than
// the one now configured (tightening a binding revokes older devices
// rather than checking them less than asked).
//
// # Durations
//
// Trust lasts Duration from the moment the second factor passed; using the
// device does not extend it. [SessionOnly] writes a cookie without Max-Age
// or Expires, which the browser drops when it closes; because browsers
// that restore sessions may keep such cookies for long, the record still
// expires after SessionLifetime (24 hours by default). RememberFor lets a
// user pick a shorter or longer duration up to MaxDuration (90 days by
// default).
//
// # Security notes
//
//   - A check verifies the cookie's shape and signature before any store
//     access: a tampered, truncated, foreign or other user's cookie costs
//     no store lookup, so garbage cookies cannot load the store. A valid
//     cookie costs one store read, and a write at most once an hour (to
//     update LastSeenAt).
//   - The signature covers the user id: a cookie left in a shared browser by
//     one user does nothing for another, and does not revoke the owner's
//     device.
//   - Keys rotate: cookies signed with an older key of the ring keep working
//     until that key is removed from the ring, which untrusts them all.
//   - Every error fails closed: a store failure during a check returns an
//     error and false, and the Service then refuses the login step. User
//     ids go through twofactor.CheckUserID before any store access.
//   - Events carry the device's label (Event.Label), the client's IP and
//     user agent, the end of the trust (Event.Until) and, as the extra
//     "device", the first 8 characters of the device id; never the cookie
//     or the whole id. A failed LastSeenAt write is an event.Warning with
//     reason event.ReasonDeviceTouch.
//   - [ClientIP] believes forwarding headers only from TrustedProxies, reads
//     one header (X-Forwarded-For or RFC 7239 Forwarded, as configured;
//     believing both would let a client add the one its proxy does not
//     manage), and walks it right to left past trusted hops only, so
//     entries a client writes itself are never taken for its address. By
//     default no proxy is trusted and the connection address is used.
//   - LastSeenAt is written with PutDevice unless the store implements
//     [DeviceToucher]. PutDevice replaces the whole record, so a check that
//     read the record just before a concurrent revocation may write it back;
//     a store with TouchDevice (update only if present) closes that window.
//   - The cookie is __Host- prefixed, Secure, HttpOnly, SameSite=Lax and
//     Path=/, so scripts cannot read it and sibling subdomains cannot plant
//     one.
package trust
