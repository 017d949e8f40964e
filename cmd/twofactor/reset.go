package main

import (
	"bufio"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/webauthn"
)

func init() {
	resetCmd.register()
}

// rpIDEnv is where --rp-id defaults from.
const rpIDEnv = "TWOFACTOR_RP_ID"

var resetCmd = &adminCommand{
	name:     "reset",
	synopsis: "USER --actor NAME --reason TEXT [--rp-id DOMAIN] [--yes] [--json] [--db DSN] [--keys FILE]",
	summary:  "remove every factor and trusted device of a user (audited)",
	help: `
Resets a user's two-factor authentication, for support staff who have
checked the user's identity by other means (a user who lost their phone):
removes every enrolled factor and backup code (the stored enrollments of
the app's own factors too), revokes every trusted device, ends pending
sign-ins and enrollments, and lifts a lockout
(twofactor.Service.AdminReset). The user then signs in with their password
alone, or with a recovery code (twofactor recovery-code), and enrolls again.

The reset is audited with an admin.reset event naming --actor and
--reason, written to stderr as a JSON line with the other events.

On a terminal the command shows what it will remove and asks for the user
id to be typed to confirm; --yes skips the question (required when stdin
is not a terminal). A user the store holds nothing for answers exit status
1 and nothing is changed. An email address the app has on file for the
user (emailcode.EnrollImplicit) counts again at their next sign-in: only
the app can take it away.

A security key's registration claims its credential id across the store,
under the app's WebAuthn RP ID, so that no two accounts hold the same key.
To reset a user with security keys, give the RP ID (--rp-id, default
$TWOFACTOR_RP_ID) so the claims are freed and the user can register the
same keys again. Without it, or with an RP ID the keys were not
registered under, the command changes nothing and says so.`,
	example: `
twofactor reset 42 --actor alice@support --reason "lost phone, ticket 1234"
twofactor reset 42 --actor alice@support --reason "ticket 1234" --yes --json
twofactor reset 42 --actor alice@support --reason "ticket 1234" --rp-id example.com`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) *runner {
		actor := fs.String("actor", "", "who is resetting, for the audit record (required)")
		reason := fs.String("reason", "", "why, for the audit record: a ticket, how the identity was checked (required)")
		yes := fs.Bool("yes", false, "reset without asking for confirmation")
		rpID := fs.String("rp-id", "", "the app's WebAuthn RP ID, needed when the user has security keys (default $"+rpIDEnv+")")
		return &runner{
			check: func(c *call) error {
				if err := requireText("actor", *actor); err != nil {
					return err
				}
				if err := requireText("reason", *reason); err != nil {
					return err
				}
				if !*yes && !c.interactive {
					return errors.New("reset asks for confirmation on a terminal: pass --yes to reset without asking")
				}
				c.rpID = strings.TrimSpace(cmp.Or(*rpID, c.getenv(rpIDEnv)))
				return nil
			},
			run: func(c *call) error { return runReset(c, *actor, *reason, *yes) },
		}
	},
}

// resetDone is what reset prints.
type resetDone struct {
	User           string      `json:"user"`
	Removed        []factorRow `json:"removed"`
	RevokedDevices []deviceRow `json:"revoked_devices"`
	LockoutBefore  lockoutRow  `json:"lockout_before"`
	// Left lists enrollments the store holds after the reset: ones made
	// while it ran.
	Left []factorRow `json:"left"`
}

func runReset(c *call, actor, reason string, yes bool) error {
	userID := c.args[0]
	ctx, cancel := c.op()
	before, err := c.admin.collect(ctx, userID)
	cancel()
	if err != nil {
		return err
	}
	if before.empty() {
		return negativef("the store holds nothing for user %q: nothing to reset", userID)
	}
	if err := c.checkKeyClaims(before); err != nil {
		return err
	}
	if !yes {
		if err := c.confirmReset(before); err != nil {
			return err
		}
	}
	ctx, cancel = c.op()
	defer cancel()
	if err := c.admin.svc.AdminReset(ctx, twofactor.User{ID: userID}, actor, reason); err != nil {
		return err
	}
	after, err := c.admin.collect(ctx, userID)
	if err != nil {
		return err
	}
	done := resetDone{User: userID, Removed: []factorRow{}, RevokedDevices: before.TrustedDevices,
		LockoutBefore: before.Lockout, Left: after.Factors}
	left := map[[2]string]bool{}
	for _, f := range after.Factors {
		left[[2]string{string(f.Method), f.ID}] = true
	}
	for _, f := range before.Factors {
		if !left[[2]string{string(f.Method), f.ID}] {
			done.Removed = append(done.Removed, f)
		}
	}
	if len(after.Factors) > 0 {
		c.note("%d enrollment%s made while the reset ran %s left: twofactor status %s lists them", len(after.Factors), plural(len(after.Factors)), isAre(len(after.Factors)), userID)
	}
	if c.json {
		return c.printJSON(done)
	}
	fmt.Fprintf(c.stdout, "reset user %s:\n", userID)
	w := c.table()
	fmt.Fprintf(w, "  removed:\t%s\n", factorList(done.Removed))
	fmt.Fprintf(w, "  trusted devices revoked:\t%d\n", len(done.RevokedDevices))
	lo := before.Lockout
	switch {
	case lo.Locked:
		fmt.Fprintf(w, "  lockout:\tlifted (was locked until %s after %d wrong answers in a row)\n", stamp(lo.Until), lo.Failures)
	case lo.Failures > 0:
		fmt.Fprintf(w, "  lockout:\tnone; %d wrong answer%s in a row forgotten\n", lo.Failures, plural(lo.Failures))
	default:
		fmt.Fprintf(w, "  lockout:\tnone\n")
	}
	w.Flush()
	return nil
}

// checkKeyClaims refuses a reset that would leave security keys' credential
// ids claimed: one without the RP ID (the WebAuthn factor is then not
// built, and the records alone would go), or with an RP ID under which the
// keys hold no claim.
func (c *call) checkKeyClaims(u *userState) error {
	keys := 0
	for _, f := range u.Factors {
		if f.Method == twofactor.MethodWebAuthn {
			keys++
		}
	}
	if keys == 0 {
		return nil
	}
	if c.admin.webauthn == nil {
		return usageErrf("user %q has %d security key%s: pass --rp-id with the app's WebAuthn RP ID (or set $%s), so the keys can be registered again after the reset; nothing was changed", u.User, keys, plural(keys), rpIDEnv)
	}
	ctx, cancel := c.op()
	defer cancel()
	err := c.admin.webauthn.CheckClaims(ctx, twofactor.User{ID: u.User})
	if errors.Is(err, webauthn.ErrClaimNotFound) {
		return usageErrf("%v: is --rp-id the app's WebAuthn RP ID? Nothing was changed", err)
	}
	return err
}

// confirmReset shows what a reset removes and reads the user id back from
// stdin.
func (c *call) confirmReset(u *userState) error {
	fmt.Fprintf(c.stderr, "Reset two-factor authentication of user %q?\n", u.User)
	fmt.Fprintf(c.stderr, "  factors to remove: %s\n", factorList(u.Factors))
	fmt.Fprintf(c.stderr, "  trusted devices to revoke: %d\n", len(u.TrustedDevices))
	switch lo := u.Lockout; {
	case lo.Locked:
		fmt.Fprintf(c.stderr, "  lockout to lift: locked until %s (%d wrong answers in a row)\n", stamp(lo.Until), lo.Failures)
	case lo.Failures > 0:
		fmt.Fprintf(c.stderr, "  wrong answers to forget: %d in a row (not locked)\n", lo.Failures)
	}
	fmt.Fprint(c.stderr, "Type the user id to confirm: ")
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(line) != u.User {
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(c.stderr)
		}
		return negativef("not confirmed: nothing was changed")
	}
	return nil
}

// factorList names factors for a line of text: "totp (Authenticator app),
// sms (+1 *** *** **12)", or "none".
func factorList(fs []factorRow) string {
	if len(fs) == 0 {
		return "none"
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s (%s)", f.Method, f.Label)
	}
	return strings.Join(parts, ", ")
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
