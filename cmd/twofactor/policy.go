package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/twofactorkit/twofactor"
)

func init() {
	policyCmd.register()
}

// requireAny is the --require value for "some second factor, whichever";
// requireNone, in the require column, is a user whose policy requires
// nothing.
const (
	requireAny  = "any"
	requireNone = "none"
)

var policyCmd = &adminCommand{
	name:     "policy-check",
	synopsis: "[--require METHOD...] [--json] [--db DSN] [--keys FILE] < users.txt",
	summary:  "list the users who cannot comply with a policy before it is enforced",
	help: `
Before an administrator makes a factor mandatory (SMS, say), lists the
users who could not sign in under the new rule: those who have not enrolled
a required method, and with --require any, those who have no second factor
at all (backup codes alone do not count). It reads the store only: the
factors twofactor status lists, counted as twofactor.Service.Check counts
them.

--require takes totp, sms, email, webauthn, backup_code or any; repeat it or
give a comma-separated list. When policies differ by user (a role, a
group, a tenant: twofactor.Config.PolicyFor), give each user's in the
require column instead, methods separated by ";" or spaces ("any",
"sms;totp", or "none" for a user whose policy requires nothing): it
overrides --require for that user, and --require may then be left out. Email counts an address the user confirmed;
an app that uses the address on file (emailcode.EnrollImplicit) has no
email enrollment to check here.

` + usersFormat + ` The phone-enrolled column (yes/no,
true/false, 1/0) is what the app's own records say: it is shown beside the
store's answer.

Exit status 1 when anyone cannot comply, 0 when everyone can.`,
	example: `
twofactor policy-check --require sms < users.txt
psql -Atc "select id, name, email, phone is not null from users" --csv app |
  twofactor policy-check --require sms --json
psql --csv -c "select id, case when role = 'admin' then 'any' else 'none' end as require from users" app |
  twofactor policy-check`,
	maxArgs: 0,
	setup: func(fs *flag.FlagSet) *runner {
		var require methodList
		fs.Var(&require, "require", "a method every user must have: totp, sms, email, webauthn, backup_code, or any (repeatable; comma-separated lists too)")
		var users []inputUser
		return &runner{
			check: func(c *call) error {
				if c.interactive {
					if len(require) == 0 {
						return errors.New("--require is required: totp, sms, email, webauthn, backup_code or any")
					}
					return errors.New("reads the user ids on stdin: twofactor policy-check --require sms < users.txt")
				}
				var err error
				if users, err = readUsers(c.stdin); err != nil {
					return err
				}
				if len(require) == 0 && !slices.ContainsFunc(users, func(u inputUser) bool { return u.require != nil }) {
					return errors.New("--require is required, unless the user list has a require column: totp, sms, email, webauthn, backup_code or any")
				}
				return nil
			},
			run: func(c *call) error { return runPolicyCheck(c, require, users) },
		}
	},
}

// methodList is the --require flag.
type methodList []string

func (l *methodList) String() string { return strings.Join(*l, ",") }

func (l *methodList) Set(v string) error {
	for _, m := range strings.Split(v, ",") {
		m = strings.ToLower(strings.TrimSpace(m))
		if m != requireAny && !isLibraryMethod(twofactor.Method(m)) {
			return fmt.Errorf("%q is not a method: use totp, sms, email, webauthn, backup_code or any", m)
		}
		if !slices.Contains(*l, m) {
			*l = append(*l, m)
		}
	}
	return nil
}

// gap reports what the user, enrolled in factors, lacks of the methods
// required (in the order status lists methods), as twofactor.Service.Check would with these methods mandatory
// (and, for "any", a second factor required): a method counts when the
// user has an enrollment of it that is a second factor of the library's
// (not an address on file), and backup codes alone are no second factor.
func (l methodList) gap(userID string, factors []factorRow) (gapRow, bool) {
	has := map[twofactor.Method]bool{}
	primary := false
	for _, f := range factors {
		if f.Note != "" {
			continue
		}
		has[f.Method] = true
		primary = primary || f.Method != twofactor.MethodBackupCode
	}
	g := gapRow{User: userID, Missing: []twofactor.Method{}}
	for _, m := range l {
		switch {
		case m == requireAny:
			g.NoFactor = !primary
		case !has[twofactor.Method(m)]:
			g.Missing = append(g.Missing, twofactor.Method(m))
		}
	}
	slices.SortStableFunc(g.Missing, func(x, y twofactor.Method) int { return methodRank(x) - methodRank(y) })
	return g, g.NoFactor || len(g.Missing) > 0
}

// gapRow is one user who cannot comply.
type gapRow struct {
	User string `json:"user"`
	// Missing lists the required methods the user has not enrolled.
	Missing []twofactor.Method `json:"missing"`
	// NoFactor: --require any, and the user has no second factor.
	NoFactor bool `json:"no_factor"`
	// PhoneEnrolled is the input's phone-enrolled column, when given.
	PhoneEnrolled *bool `json:"phone_enrolled,omitempty"`
	// Require is the user's own requirement, from the require column.
	Require []string `json:"require,omitempty"`
}

// policyReport is what policy-check prints.
type policyReport struct {
	Require      []string `json:"require"`
	Checked      int      `json:"checked"`
	CannotComply []gapRow `json:"cannot_comply"`
}

func runPolicyCheck(c *call, require methodList, users []inputUser) error {
	rep := policyReport{Require: append([]string{}, require...), Checked: len(users), CannotComply: []gapRow{}}
	phoneColumn := false
	for i, u := range users {
		if err := c.ctx.Err(); err != nil {
			return negativef("interrupted after %d of %d users", i, len(users))
		}
		phoneColumn = phoneColumn || u.phone != nil
		ctx, cancel := c.op()
		factors, _, err := c.admin.enrollments(ctx, u.user.ID)
		cancel()
		if err != nil {
			return err
		}
		rule := require
		if u.require != nil {
			rule = u.require
		}
		if g, ok := rule.gap(u.user.ID, factors); ok {
			g.PhoneEnrolled = u.phone
			if u.require != nil {
				g.Require = u.require
			}
			rep.CannotComply = append(rep.CannotComply, g)
		}
	}
	if c.json {
		if err := c.printJSON(rep); err != nil {
			return err
		}
	} else {
		c.printPolicy(rep, phoneColumn)
	}
	if len(rep.CannotComply) > 0 {
		return quietExit(exitNegative)
	}
	return nil
}

func (c *call) printPolicy(rep policyReport, phoneColumn bool) {
	rule := "--require " + strings.Join(rep.Require, ",")
	if len(rep.Require) == 0 {
		rule = "each user's requirement"
	}
	if len(rep.CannotComply) == 0 {
		fmt.Fprintf(c.stdout, "all %d user%s comply with %s\n", rep.Checked, plural(rep.Checked), rule)
		return
	}
	fmt.Fprintf(c.stdout, "%d of %d user%s cannot comply with %s:\n", len(rep.CannotComply), rep.Checked, plural(rep.Checked), rule)
	w := c.table()
	header := "  USER\tLACKS"
	if phoneColumn {
		header += "\tPHONE IN APP"
	}
	fmt.Fprintln(w, header)
	for _, g := range rep.CannotComply {
		var lacks []string
		if g.NoFactor {
			lacks = append(lacks, "any second factor")
		}
		for _, m := range g.Missing {
			lacks = append(lacks, string(m))
		}
		row := "  " + g.User + "\t" + strings.Join(lacks, ", ")
		if phoneColumn {
			switch {
			case g.PhoneEnrolled == nil:
				row += "\t-"
			case *g.PhoneEnrolled:
				row += "\tyes"
			default:
				row += "\tno"
			}
		}
		fmt.Fprintln(w, row)
	}
	w.Flush()
}
