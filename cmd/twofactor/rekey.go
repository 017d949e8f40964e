package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/smscode"
)

func init() {
	rekeyCmd.register()
}

var rekeyCmd = &adminCommand{
	name:     "rekey",
	synopsis: "[USER...] [--json] [--db DSN] [--keys FILE] [< users.txt]",
	summary:  "re-seal users' stored secrets under the newest key after a rotation",
	help: `
After a key rotation (a new key put first in the app's keys, the old ones
kept after it; see twofactor keygen), re-seals the users' stored secrets
under the new key: TOTP secrets (totp.Factor.Rekey), phone numbers
(smscode.Rekey) and email addresses (emailcode.Rekey). It prints how
many records it re-sealed, and keeps a progress line on stderr when that
is a terminal.

It reads every user first and stops, changing nothing, when one has a
secret sealed under a key the given keys lack. Each record is re-sealed on
its own, so the command is safe to interrupt and to run again: what is
already under the newest key is left as it is.

Once it has run for every user, no TOTP secret, phone number or address
needs an old key. Backup codes and recovery codes are keyed hashes, which
cannot be re-sealed: an old key stays in the ring until the codes made
under it are replaced or used, and until the trusted-device cookies signed
with it have expired (trust.Config.Duration, 30 days by default).

The users are the arguments, or else the list on stdin.
` + usersFormat,
	example: `
twofactor rekey 42 43
psql -Atc "select id from users" app | twofactor rekey --keys /etc/app/twofactor.keys`,
	minArgs: 0, maxArgs: -1,
	setup: func(*flag.FlagSet) *runner {
		var users []inputUser
		return &runner{
			check: func(c *call) error {
				if len(c.args) > 0 {
					var l userList
					for i, id := range c.args {
						if err := l.add(inputUser{user: twofactor.User{ID: id}}, i+1); err != nil {
							return err
						}
					}
					users = l.users
					return nil
				}
				if c.interactive {
					return errors.New("give the user ids as arguments or on stdin: twofactor rekey < users.txt")
				}
				var err error
				users, err = readUsers(c.stdin)
				return err
			},
			run: func(c *call) error { return runRekey(c, users) },
		}
	},
}

// rekeyReport is what rekey prints.
type rekeyReport struct {
	Users int    `json:"users"`
	Key   string `json:"key"` // the newest key, which everything is now sealed under
	// Resealed counts the records re-sealed, by method.
	Resealed map[twofactor.Method]int `json:"resealed"`
	Total    int                      `json:"total"`
}

func runRekey(c *call, users []inputUser) error {
	// First every user is read, so that a missing key stops the command
	// before it has changed anything.
	for i, u := range users {
		if err := c.ctx.Err(); err != nil {
			return negativef("interrupted while checking the keys (%d of %d users): nothing was changed", i, len(users))
		}
		ctx, cancel := c.op()
		_, _, err := userRecords(ctx, c.admin.store, c.admin.keys, u.user.ID)
		cancel()
		if err != nil {
			return err
		}
	}
	rep := rekeyReport{Key: c.admin.keys.CurrentKeyID(), Resealed: map[twofactor.Method]int{
		twofactor.MethodTOTP: 0, twofactor.MethodSMS: 0, twofactor.MethodEmail: 0,
	}}
	p := &progress{c: c, total: len(users)}
	for _, u := range users {
		if err := c.ctx.Err(); err != nil {
			p.done()
			_ = c.printRekey(rep)
			return negativef("interrupted after %d of %d users: run it again to finish", rep.Users, len(users))
		}
		ctx, cancel := c.op()
		err := c.admin.rekeyUser(ctx, u.user.ID, rep.Resealed)
		cancel()
		if err != nil {
			p.done()
			_ = c.printRekey(rep)
			return fmt.Errorf("user %q: %w", u.user.ID, err)
		}
		rep.Users++
		p.update(rep.Users, rep.sum())
	}
	p.done()
	return c.printRekey(rep)
}

func (r *rekeyReport) sum() int {
	n := 0
	for _, v := range r.Resealed {
		n += v
	}
	return n
}

// printRekey prints what rekey did, also when it stopped early.
func (c *call) printRekey(rep rekeyReport) error {
	rep.Total = rep.sum()
	if c.json {
		return c.printJSON(rep)
	}
	_, err := fmt.Fprintf(c.stdout, "re-sealed %d record%s of %d user%s under key %s (totp %d, sms %d, email %d)\n",
		rep.sum(), plural(rep.sum()), rep.Users, plural(rep.Users), rep.Key,
		rep.Resealed[twofactor.MethodTOTP], rep.Resealed[twofactor.MethodSMS], rep.Resealed[twofactor.MethodEmail])
	return err
}

// rekeyUser re-seals the user's TOTP secrets, phone number and email
// address under the current key, counting what it rewrote. The phone
// number and address are re-sealed with the Service's Env alone: no SMS or
// email factor is built, so no sender is needed.
func (a *admin) rekeyUser(ctx context.Context, userID string, counts map[twofactor.Method]int) error {
	n, err := a.totp.Rekey(ctx, userID)
	counts[twofactor.MethodTOTP] += n
	if err != nil {
		return err
	}
	for _, r := range []struct {
		method twofactor.Method
		rekey  func(context.Context, twofactor.Env, string) (int, error)
	}{{twofactor.MethodSMS, smscode.Rekey}, {twofactor.MethodEmail, emailcode.Rekey}} {
		n, err := r.rekey(ctx, a.svc.Env(), userID)
		counts[r.method] += n
		if err != nil {
			return err
		}
	}
	return nil
}

// progress keeps a progress line on stderr when it is a terminal.
type progress struct {
	c     *call
	total int
	last  time.Time
	shown bool
}

func (p *progress) update(users, records int) {
	if !p.c.progress || (users < p.total && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.c.stderr, "\r%s: %d/%d users, %d record%s re-sealed", p.c.cmd.prefix(), users, p.total, records, plural(records))
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.c.stderr)
		p.shown = false
	}
}
