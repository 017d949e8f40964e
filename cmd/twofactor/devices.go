package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/trust"
)

func init() {
	devicesCmd.register()
	revokeDevicesCmd.register()
}

var devicesCmd = &adminCommand{
	name:     "devices",
	synopsis: "USER [--json] [--db DSN] [--keys FILE]",
	summary:  "list a user's trusted devices",
	help: `
Lists the devices the user chose to trust ("trust this device"), which skip
the second factor at sign-in until they expire: id, browser and system, the
network it is bound to, when it was trusted and last seen, and when its
trust ends. Pass an id to revoke-devices --device to end one. A user with no
trusted device answers exit status 1.`,
	example: `
twofactor devices 42 --db postgres://app@db.internal/app --keys /etc/app/twofactor.keys`,
	minArgs: 1, maxArgs: 1,
	setup: func(*flag.FlagSet) *runner { return &runner{run: runDevices} },
}

// userDevices is what devices prints.
type userDevices struct {
	User           string      `json:"user"`
	TrustedDevices []deviceRow `json:"trusted_devices"`
}

func runDevices(c *call) error {
	ctx, cancel := c.op()
	defer cancel()
	u, err := c.admin.collect(ctx, c.args[0])
	if err != nil {
		return err
	}
	if c.json {
		if err := c.printJSON(userDevices{User: u.User, TrustedDevices: u.TrustedDevices}); err != nil {
			return err
		}
	} else {
		c.printDevices(u.TrustedDevices)
	}
	if len(u.TrustedDevices) == 0 {
		return negativef("user %q has no trusted device", u.User)
	}
	return nil
}

var revokeDevicesCmd = &adminCommand{
	name:     "revoke-devices",
	synopsis: "USER --actor NAME [--device ID] [--json] [--db DSN] [--keys FILE]",
	summary:  "end the trust of a user's devices, all or one",
	help: `
Ends the trust of every trusted device of the user, or of the one --device
names (an id from twofactor devices): its next sign-in asks for the second
factor again. Each revoked device is audited with a device.revoked event,
and the command with an admin.action event naming --actor (action
"revoke_devices", count the devices revoked, device the one --device
names), all written to stderr as JSON lines. A user without trusted
devices, or a --device that is not one of theirs, answers exit status 1
and changes nothing.`,
	example: `
twofactor revoke-devices 42 --actor alice@support
twofactor revoke-devices 42 --actor alice@support --device N0wlgrHEPiHgOK051PxTvA`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) *runner {
		actor := fs.String("actor", "", "who is revoking, for the audit record (required)")
		device := fs.String("device", "", "revoke only this device (an id from twofactor devices)")
		return &runner{
			check: func(*call) error { return requireText("actor", *actor) },
			run:   func(c *call) error { return runRevokeDevices(c, *actor, *device) },
		}
	},
}

// revoked is what revoke-devices prints.
type revoked struct {
	User    string      `json:"user"`
	Revoked []deviceRow `json:"revoked"`
}

func runRevokeDevices(c *call, actor, device string) error {
	ctx, cancel := c.op()
	defer cancel()
	userID := c.args[0]
	u, err := c.admin.collect(ctx, userID)
	if err != nil {
		return err
	}
	out := revoked{User: userID, Revoked: []deviceRow{}}
	if device != "" {
		for _, d := range u.TrustedDevices {
			if d.ID == device {
				out.Revoked = append(out.Revoked, d)
			}
		}
		if len(out.Revoked) == 0 {
			return negativef("user %q has no trusted device %q (twofactor devices %s lists them)", userID, device, userID)
		}
		err := c.admin.devices.Revoke(ctx, userID, device)
		if errors.Is(err, trust.ErrNotFound) {
			return negativef("user %q has no trusted device %q: it expired or was revoked meanwhile", userID, device)
		}
		if err != nil {
			return err
		}
	} else {
		if len(u.TrustedDevices) == 0 {
			return negativef("user %q has no trusted device: nothing to revoke", userID)
		}
		out.Revoked = u.TrustedDevices
		if err := c.admin.devices.RevokeAll(ctx, userID, trust.ReasonRevoked); err != nil {
			return err
		}
	}
	ev := event.Event{Type: event.AdminAction, UserID: userID, Actor: actor,
		Action: event.ActionRevokeDevices, Count: len(out.Revoked)}
	if device != "" {
		ev.Details = map[string]string{event.DetailDevice: device}
	}
	c.admin.events.Emit(ctx, ev)
	if c.json {
		return c.printJSON(out)
	}
	fmt.Fprintf(c.stdout, "revoked %d trusted device%s of user %s:\n", len(out.Revoked), plural(len(out.Revoked)), userID)
	c.printDeviceRows(out.Revoked)
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
