package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
)

func init() {
	recoveryCmd.register()
}

var recoveryCmd = &adminCommand{
	name:     "recovery-code",
	synopsis: "USER --actor NAME [--ttl 24h] [--json] [--db DSN] [--keys FILE]",
	summary:  "issue a single-use recovery code to a user (audited)",
	help: `
Prints one single-use recovery code for a user who lost their factors, for
support staff to hand over once they have checked the user's identity by
other means. The user types it where a backup code goes; it stays valid for
--ttl (at most 7 days) and replaces any recovery code issued before
(backupcodes.Factor.IssueRecoveryCode). It is the only code any command
prints: it is shown once and kept only as a keyed hash, under the first key
of --keys, so those must be the app's keys or the code will not work.

The command is audited with an admin.action event (action
"recovery_code_issued") naming --actor, written to stderr as a JSON line;
the event holds when the code expires (until), never the code. A user
who is locked out can use the code only once the lockout lifts: the
command says so (twofactor unlock lifts it).

The library does not know the app's users: check the user id against the
app before issuing a code.`,
	example: `
twofactor recovery-code 42 --actor alice@support
twofactor recovery-code 42 --actor alice@support --ttl 2h --json`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) *runner {
		actor := fs.String("actor", "", "who is issuing the code, for the audit record (required)")
		ttl := fs.Duration("ttl", backupcodes.DefaultRecoveryTTL, "how long the code stays valid, at most 168h")
		return &runner{
			check: func(c *call) error {
				if err := requireText("actor", *actor); err != nil {
					return err
				}
				if *ttl < time.Minute || *ttl > backupcodes.MaxRecoveryTTL {
					return fmt.Errorf("--ttl %s: use 1m to %s", *ttl, backupcodes.MaxRecoveryTTL)
				}
				c.recoveryTTL = *ttl
				return nil
			},
			run: func(c *call) error { return runRecoveryCode(c, *actor) },
		}
	},
}

// recoveryIssued is what recovery-code prints.
type recoveryIssued struct {
	User      string    `json:"user"`
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

func runRecoveryCode(c *call, actor string) error {
	userID := c.args[0]
	ctx, cancel := c.op()
	defer cancel()
	u, err := c.admin.collect(ctx, userID)
	if err != nil {
		return err
	}
	code, expires, err := c.admin.backup.IssueRecoveryCode(ctx, twofactor.User{ID: userID}, actor)
	if err != nil {
		return err
	}
	if u.Lockout.Locked {
		c.note("user %q is locked out until %s: the code works once the lockout lifts (twofactor unlock %s --actor NAME lifts it now)",
			userID, stamp(u.Lockout.Until), userID)
	}
	if c.json {
		return c.printJSON(recoveryIssued{User: userID, Code: code, ExpiresAt: expires})
	}
	fmt.Fprintf(c.stdout, "recovery code for user %s: %s\n", userID, code)
	fmt.Fprintf(c.stdout, "single use, valid until %s; it replaces any recovery code issued before\n", stamp(expires))
	return nil
}
