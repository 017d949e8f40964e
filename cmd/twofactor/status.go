package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

func init() {
	statusCmd.register()
}

var statusCmd = &adminCommand{
	name:     "status",
	synopsis: "USER [--grace-days N] [--json] [--db DSN] [--keys FILE]",
	summary:  "show a user's factors, backup codes, trusted devices, lockout and enrollment grace",
	help: `
Shows what the store holds for one user: each enrolled factor (method,
label, when it was added and last used), how many backup codes are left,
the trusted devices, whether the user is locked out and until when, and
the ids of the keys their stored secrets are sealed under. It never shows a
secret, a code or a full phone number: labels are masked ("+1 *** *** **12").

A user whose policy requires a second factor with a grace
(twofactor.Policy.Grace) is shown in grace: when they were first prompted
to set one up and how often they skipped. The command does not know the
app's policies: --grace-days gives the policy's Grace.Days, to show until
when the grace lasts.

The library does not know the app's users: a user id the store holds
nothing for (no factor, code, device or wrong answer) answers exit status 1.
Email addresses count when the user confirmed them; an address on file in
the app (emailcode.EnrollImplicit) is shown as the app last recorded it.
Factors of the app's own that this command does not know are listed from
their stored records.`,
	example: `
twofactor status 42 --db postgres://app@db.internal/app --keys /etc/app/twofactor.keys
TWOFACTOR_DB=redis://cache:6379/0 twofactor status 42 --json`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *flag.FlagSet) *runner {
		days := fs.Int("grace-days", 0, "the policy's Grace.Days, to show until when a user in grace may skip enrolling")
		return &runner{
			check: func(*call) error {
				if *days < 0 {
					return errors.New("--grace-days must not be negative")
				}
				return nil
			},
			run: func(c *call) error { return runStatus(c, *days) },
		}
	},
}

// factorRow is one enrollment, as status shows it.
type factorRow struct {
	Method     twofactor.Method `json:"method"`
	ID         string           `json:"id"`
	Label      string           `json:"label"`
	CreatedAt  time.Time        `json:"created_at,omitzero"`
	LastUsedAt time.Time        `json:"last_used_at,omitzero"`
	// Note qualifies a row that is not a second factor of the library's:
	// "address on file", "not a factor this command knows".
	Note string `json:"note,omitempty"`
}

// deviceRow is one trusted device. The user-agent fingerprint is left
// out: it identifies nothing a person can read.
type deviceRow struct {
	ID         string    `json:"id"`
	Label      string    `json:"label"`
	IP         string    `json:"ip,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at,omitzero"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
}

// lockoutRow is the user's run of wrong answers.
type lockoutRow struct {
	Failures int       `json:"failures"`
	Locked   bool      `json:"locked"`
	Until    time.Time `json:"until,omitzero"`
}

// userState is everything status shows of a user.
type userState struct {
	User            string      `json:"user"`
	Factors         []factorRow `json:"factors"`
	BackupCodesLeft int         `json:"backup_codes_left"`
	TrustedDevices  []deviceRow `json:"trusted_devices"`
	Lockout         lockoutRow  `json:"lockout"`
	// SealedUnder lists the ids of the keys the user's stored secrets are
	// sealed under.
	SealedUnder []string `json:"sealed_under"`
	// Grace is the user's enrollment grace record, when they were ever
	// prompted or skipped.
	Grace *graceRow `json:"grace,omitempty"`
}

// graceRow is what the store keeps of a user's enrollment grace.
type graceRow struct {
	Prompted time.Time `json:"first_prompted,omitzero"`
	Skips    int       `json:"skips"`
	// Until is the first prompt plus --grace-days, when given.
	Until time.Time `json:"until,omitzero"`
}

// empty reports whether the store holds nothing for the user.
func (u *userState) empty() bool {
	return len(u.Factors) == 0 && len(u.TrustedDevices) == 0 && u.Lockout.Failures == 0 && u.Grace == nil
}

// methods lists the user's methods, each once, in factor order.
func (u *userState) methods() []string {
	var out []string
	for _, f := range u.Factors {
		m := string(f.Method)
		if len(out) == 0 || out[len(out)-1] != m {
			out = append(out, m)
		}
	}
	return out
}

// libraryMethods are the methods of the library's factors, in the order
// status lists them. The command builds the TOTP and backup codes
// factors; the others it reads from their stored records.
var libraryMethods = []twofactor.Method{
	twofactor.MethodTOTP, twofactor.MethodSMS, twofactor.MethodEmail, twofactor.MethodWebAuthn, twofactor.MethodBackupCode,
}

// collect reads the user's state. It checks the keys first: a ring that
// lacks a key the user's secrets are sealed under is an error naming it.
func (a *admin) collect(ctx context.Context, userID string) (*userState, error) {
	factors, sealed, err := a.enrollments(ctx, userID)
	if err != nil {
		return nil, err
	}
	user := twofactor.User{ID: userID}
	u := &userState{User: userID, Factors: factors, TrustedDevices: []deviceRow{}, SealedUnder: sealed}
	if u.BackupCodesLeft, err = a.backup.Remaining(ctx, user); err != nil {
		return nil, err
	}
	ds, err := a.devices.List(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		u.TrustedDevices = append(u.TrustedDevices, deviceRow{ID: d.ID, Label: d.Label, IP: d.IP,
			CreatedAt: d.CreatedAt, LastSeenAt: d.LastSeenAt, ExpiresAt: d.ExpiresAt})
	}
	lo, err := a.svc.Lockout(ctx, userID)
	if err != nil {
		return nil, err
	}
	u.Lockout = lockoutRow{Failures: lo.Failures, Locked: lo.Locked, Until: lo.Until}
	g, err := a.svc.GraceRecord(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !g.Prompted.IsZero() || g.Skips > 0 {
		u.Grace = &graceRow{Prompted: g.Prompted, Skips: g.Skips}
	}
	return u, nil
}

// enrollments lists the user's enrollments of every method, in the order
// of libraryMethods and then the app's own factors, with the ids of the
// keys their secrets are sealed under. The factors the command builds
// (TOTP, backup codes) report theirs; the others are read from their
// stored records, whose labels are masked ("+1 *** *** **12"). It checks
// the keys first (see userRecords).
func (a *admin) enrollments(ctx context.Context, userID string) ([]factorRow, []string, error) {
	recs, sealed, err := userRecords(ctx, a.store, a.keys, userID)
	if err != nil {
		return nil, nil, err
	}
	if sealed == nil {
		sealed = []string{}
	}
	es, err := a.svc.Enrollments(ctx, twofactor.User{ID: userID})
	if err != nil {
		return nil, nil, err
	}
	rows := []factorRow{}
	for _, e := range es {
		rows = append(rows, factorRow{Method: e.Method, ID: e.ID, Label: e.Label, CreatedAt: e.CreatedAt, LastUsedAt: e.LastUsedAt})
	}
	for _, r := range recs {
		if _, built := a.svc.Factor(twofactor.Method(r.Method)); built {
			continue // its factor reported what counts
		}
		rows = append(rows, recordRow(r))
	}
	slices.SortStableFunc(rows, func(x, y factorRow) int { return methodRank(x.Method) - methodRank(y.Method) })
	return rows, sealed, nil
}

// recordRow is a stored enrollment record of a method the command builds
// no factor for. An email address counts when the user confirmed it; one
// the app has on file (emailcode.EnrollImplicit) is noted as such, as is
// an enrollment of a factor of the app's own.
func recordRow(r store.EnrollmentRecord) factorRow {
	row := factorRow{Method: twofactor.Method(r.Method), ID: r.ID, Label: r.Label, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt}
	switch {
	case row.Method == twofactor.MethodEmail && emailOnFile(r):
		row.Note = "address on file"
	case !isLibraryMethod(row.Method):
		row.Note = "not a factor this command knows"
	}
	return row
}

// emailOnFile reports whether an email enrollment record holds the
// address the app has on file rather than one the user confirmed: its
// data is the kind of address, "on-file" or "confirmed", a space and the
// sealed address (package emailcode).
func emailOnFile(r store.EnrollmentRecord) bool {
	kind, _, _ := strings.Cut(string(r.Data), " ")
	return kind == "on-file"
}

// methodRank orders methods as libraryMethods lists them, the app's own
// last.
func methodRank(m twofactor.Method) int {
	if i := slices.Index(libraryMethods, m); i >= 0 {
		return i
	}
	return len(libraryMethods)
}

func isLibraryMethod(m twofactor.Method) bool {
	return slices.Contains(libraryMethods, m)
}

func runStatus(c *call, graceDays int) error {
	ctx, cancel := c.op()
	defer cancel()
	u, err := c.admin.collect(ctx, c.args[0])
	if err != nil {
		return err
	}
	if g := u.Grace; g != nil && graceDays > 0 && !g.Prompted.IsZero() {
		g.Until = g.Prompted.Add(time.Duration(graceDays) * 24 * time.Hour)
	}
	if c.json {
		if err := c.printJSON(u); err != nil {
			return err
		}
	} else {
		c.printState(u)
	}
	if u.empty() {
		return negativef("the store holds nothing for user %q: no second factor, or not a user id of this app", u.User)
	}
	return nil
}

// printState writes the user's state as aligned text.
func (c *call) printState(u *userState) {
	w := c.table()
	fmt.Fprintf(w, "user:\t%s\n", u.User)
	fmt.Fprintf(w, "lockout:\t%s\n", lockoutText(u.Lockout))
	fmt.Fprintf(w, "backup codes:\t%d left\n", u.BackupCodesLeft)
	keys := "nothing sealed"
	if len(u.SealedUnder) > 0 {
		keys = strings.Join(u.SealedUnder, ", ")
	}
	fmt.Fprintf(w, "secrets sealed under:\t%s\n", keys)
	if u.Grace != nil {
		fmt.Fprintf(w, "enrollment grace:\t%s\n", graceText(u.Grace))
	}
	w.Flush()
	if len(u.Factors) == 0 {
		fmt.Fprintln(c.stdout, "factors: none")
	} else {
		fmt.Fprintln(c.stdout, "factors:")
		w = c.table()
		fmt.Fprintln(w, "  METHOD\tLABEL\tADDED\tLAST USED")
		for _, f := range u.Factors {
			label := f.Label
			if f.Note != "" {
				label += " (" + f.Note + ")"
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", f.Method, label, stamp(f.CreatedAt), stamp(f.LastUsedAt))
		}
		w.Flush()
	}
	c.printDevices(u.TrustedDevices)
}

// printDevices writes trusted devices as aligned text.
func (c *call) printDevices(ds []deviceRow) {
	if len(ds) == 0 {
		fmt.Fprintln(c.stdout, "trusted devices: none")
		return
	}
	fmt.Fprintln(c.stdout, "trusted devices:")
	c.printDeviceRows(ds)
}

// printDeviceRows writes a table of devices.
func (c *call) printDeviceRows(ds []deviceRow) {
	w := c.table()
	fmt.Fprintln(w, "  ID\tLABEL\tIP\tADDED\tLAST SEEN\tEXPIRES")
	for _, d := range ds {
		ip := d.IP
		if ip == "" {
			ip = "any"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Label, ip, stamp(d.CreatedAt), stamp(d.LastSeenAt), stamp(d.ExpiresAt))
	}
	w.Flush()
}

func graceText(g *graceRow) string {
	var parts []string
	if !g.Prompted.IsZero() {
		parts = append(parts, "first prompted "+stamp(g.Prompted))
	}
	parts = append(parts, fmt.Sprintf("skipped %d time%s", g.Skips, plural(g.Skips)))
	if !g.Until.IsZero() {
		parts = append(parts, "until "+stamp(g.Until))
	}
	return strings.Join(parts, ", ")
}

func lockoutText(l lockoutRow) string {
	switch {
	case l.Locked:
		return fmt.Sprintf("locked until %s (%d wrong answers in a row)", stamp(l.Until), l.Failures)
	case l.Failures > 0:
		return fmt.Sprintf("not locked (%d wrong answers in a row)", l.Failures)
	}
	return "not locked"
}
