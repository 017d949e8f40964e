// Package notify tells users by email when something changes in their
// two-factor authentication, and when someone who knows their password
// fails the second step of a sign-in. It listens to the Service's events
// and sends through an emailcode.Sender (SMTP, or the development
// Outbox), after the response: a notification never slows a request, and
// failing to send one never fails it.
//
// # Walkthrough
//
// Give a [Config] to the Service's listeners, with the lookup that turns
// a user id into the user (events carry ids, never addresses: they are
// logged). The Service builds the notifier with its store, its Users
// lookup, its events and its clock, hands it every event (its own and
// every factor's), and stops it in Shutdown:
//
//	svc, err := twofactor.New(twofactor.Config{
//		Store: st, Keys: keyring.Env("TWOFACTOR_KEYS"),
//		Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Example"}, backupcodes.Config{}},
//		Users: func(ctx context.Context, id string) (twofactor.User, error) {
//			return users.Lookup(ctx, id) // ID, Email, DisplayName
//		},
//		Listeners: []twofactor.ListenerConfig{notify.Config{
//			Sender:      smtp, // the same emailcode.Sender as the email factor's, or another
//			ProductName: "Example",
//			Links: notify.Links{
//				Security: "https://example.com/settings/security",
//				Devices:  "https://example.com/settings/devices",
//				Password: "https://example.com/settings/password",
//			},
//		}},
//	})
//	defer svc.Shutdown(ctx) // sends what is queued
//
// Without twofactor.Config.Users the notifier has no address to write
// to, and New refuses the configuration. Everything a message says comes
// from the events' typed fields: FirstFactor tells turning two-factor
// authentication on from adding another method, LastFactor turning it off
// from removing one method, Label names the method or device, UserAgent
// the browser (the Service records the twofactor.Client's), Count and
// Until the numbers and times. [New] builds a notifier outside a Service,
// from a twofactor.Env, for a host that feeds it events itself
// ([Notifier.HandleEvent]).
//
// # Notifications
//
// Every kind is on by default. Switch one off by naming it in Config.Off:
//
//	notify.Config{..., Off: []notify.Kind{notify.DeviceTrusted}}
//
// The kinds, and the events that send them:
//
//   - [TurnedOn]: the first second factor became active (event.Enroll
//     with FirstFactor).
//   - [TurnedOff]: two-factor authentication was turned off
//     (event.Disabled), or the last second factor removed (event.Remove
//     with LastFactor).
//   - [MethodAdded]: another method was added (event.Enroll): which one, by
//     its name and masked label ("Text message (+1 *** *** **12)").
//   - [MethodRemoved]: a method was removed (event.Remove), by its name.
//   - [BackupCodesRegenerated]: a new set of backup codes replaced the old
//     (event.Enroll with ActionBackupCodesReplaced).
//   - [BackupCodesLow]: a backup code was used and two or fewer are left
//     (backupcodes.EventLow): how many.
//   - [DeviceTrusted]: a browser was trusted to skip the second step
//     (event.DeviceRemembered): its label ("Firefox on Linux"), network and
//     until when, with a link to Links.Devices.
//   - [AdminReset]: an administrator removed every factor
//     (event.AdminReset): who and when.
//   - [RecoveryCodeIssued]: an administrator issued a recovery code
//     (backupcodes.Factor.IssueRecoveryCode): who, when, until when.
//   - [Lockout]: wrong codes locked sign-in (event.Lockout): how many, from
//     which network and browser, until when.
//   - [FailedSecondStep]: "someone signed in with your password but did
//     not pass the second step", with the network, the browser and the
//     time, and the advice to change the password.
//
// A settings page lists them with [Kinds], names them with [Config.Name]
// and says which are on with [Config.On] or [Config.Enabled]: it needs the
// Config it gave the Service, not the notifier built from it.
//
// # Failed second steps
//
// A correct password followed by a wrong second factor means the password
// is probably known to someone else, and only the owner can act on that.
// What counts is a login challenge's answer refused as wrong ("invalid"),
// expired, already used ("replay"), or refused because the challenge was
// used up or the user locked out. A malformed answer (letters where
// digits go) reached no factor and names no user in its event; a refused
// request for a code, or an answer refused by a rate limit, is no answer:
// none of these counts.
//
// Two rules keep the owner's inbox useful:
//
//   - The grace (Config.Grace, 5 minutes): the wrong answers of one sign-in
//     wait that long after the first, and when the same sign-in then
//     succeeds (a mistyped code, corrected) nothing is sent. The success
//     is recorded in the store, so it counts whichever app instance heard
//     it: one counter write per successful sign-in, off the response path.
//     NoGrace sends at once.
//   - The fold (Config.Period, 1 hour): at most one message per user per
//     period. Later failed sign-ins within it are counted in the store,
//     and the next message says "3 more attempts since our previous
//     message". The counting holds across app instances sharing the
//     store; of any number of concurrent failures, exactly one sends.
//
// # Messages
//
// Every message has a plain-text part and an HTML part, from templates
// ([Templates]) that see [Data]: the texts of [Strings], put together,
// and the facts they were made from. The subject says what happened
// ("Example: Two-step verification was turned off") and, like the whole
// message, never holds a code, a secret, an email address or a full
// phone number: events hold none, and the labels they carry are masked.
//
// # Languages
//
// The texts come from the "notify." keys of a catalogue of package i18n
// (Config.Languages; nil, the library's seven languages). A message
// speaks the language of the request whose event it tells of, which
// twofactorhttp marks in the request's context (i18n.WithLanguage), else
// the user's own (twofactor.User.Language), else English: a notification
// after an administrator's reset follows the user's language, not the
// administrator's. Config.EnabledNames names the kinds on a settings page
// in the page's language.
//
// # Delivery
//
// [Notifier.HandleEvent] never blocks: it queues the event
// (Config.QueueSize) for the workers (Config.Workers), which look the
// user up, render and send. A full queue drops the event; a failed lookup
// or send is reported as a event.Warning to the Service's events
// (Env.Events), with a reason starting "notify_" ([ReasonSendFailed],
// [ReasonQueueFull], ...), and never reaches the flow that emitted the
// event. A failed send is not retried, and the attempts a failed
// FailedSecondStep message covered are not reported again.
// [Notifier.Shutdown], called by the Service's Shutdown, stops taking
// events and sends what is queued.
//
// # What the events lack
//
// An event.Remove names the enrollment's id and, when the Service knows
// it, its label; a removal without a label is named by its method only.
// An event without a user agent (a client the host did not describe)
// says the browser is unknown.
package notify
