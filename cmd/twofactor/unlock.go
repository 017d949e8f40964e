package main

import (
	"flag"
	"fmt"
)

func init() {
	unlockCmd.register()
}

var unlockCmd = &adminCommand{
	name:     "unlock",
	synopsis: "USER --actor NAME [--json] [--db DSN] [--keys FILE]",
	summary:  "lift a user's lockout after wrong answers (audited)",
	help: `
Lifts the lockout of a user who gave too many wrong second-factor answers
in a row, and forgets the run of wrong answers, including one that reached
the limit after which only an administrator, a password change or a reset
lifts it (twofactor.Service.Unlock). Their factors stay as they are.

Someone who has the user's password may be guessing: check with the user
before unlocking, and consider a password change. The command is audited
with an admin.action event (action "unlock") naming --actor, written to
stderr as a JSON line. A user with no wrong answers answers exit status 1
and nothing is changed.`,
	example: `
twofactor unlock 42 --actor alice@support`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) *runner {
		actor := fs.String("actor", "", "who is unlocking, for the audit record (required)")
		return &runner{
			check: func(*call) error { return requireText("actor", *actor) },
			run:   func(c *call) error { return runUnlock(c, *actor) },
		}
	},
}

// unlocked is what unlock prints.
type unlocked struct {
	User          string     `json:"user"`
	LockoutBefore lockoutRow `json:"lockout_before"`
}

func runUnlock(c *call, actor string) error {
	userID := c.args[0]
	ctx, cancel := c.op()
	defer cancel()
	u, err := c.admin.collect(ctx, userID)
	if err != nil {
		return err
	}
	if u.Lockout.Failures == 0 {
		return negativef("user %q is not locked out and has no wrong answers: nothing to unlock", userID)
	}
	if err := c.admin.svc.Unlock(ctx, userID, actor); err != nil {
		return err
	}
	if c.json {
		return c.printJSON(unlocked{User: userID, LockoutBefore: u.Lockout})
	}
	if u.Lockout.Locked {
		fmt.Fprintf(c.stdout, "unlocked user %s: was %s\n", userID, lockoutText(u.Lockout))
	} else {
		fmt.Fprintf(c.stdout, "user %s was not locked; cleared %d wrong answer%s in a row\n", userID, u.Lockout.Failures, plural(u.Lockout.Failures))
	}
	return nil
}
