package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twofactorkit/twofactor"
)

// An adminCommand is a command with the shared flags: the store, the
// keys, --json and --timeout.
type adminCommand struct {
	name     string
	synopsis string // what follows the name in the usage line
	summary  string // for "twofactor help"
	help     string // what it does
	example  string
	// args bounds the positional arguments: at least min, at most max
	// (negative: no limit).
	minArgs, maxArgs int
	// noStore is set for commands that open no store and need no keys.
	noStore bool
	// setup adds the command's own flags and returns how to run it.
	setup func(fs *flag.FlagSet) *runner
}

// runner runs one command once its flags are parsed.
type runner struct {
	// check validates the flags and arguments before anything is opened,
	// and may set the call's recoveryTTL and rpID.
	check func(c *call) error
	run   func(c *call) error
}

// call is one run of an adminCommand.
type call struct {
	*env
	cmd     *adminCommand
	ctx     context.Context
	args    []string // positional arguments
	json    bool
	timeout time.Duration
	admin   *admin // nil for noStore commands
	// recoveryTTL configures the backup codes factor (see newAdmin).
	recoveryTTL time.Duration
	// rpID is the app's WebAuthn RP ID, for commands that remove security
	// keys: newAdmin then builds the WebAuthn factor (see newAdmin).
	rpID string
}

func (a *adminCommand) prefix() string { return "twofactor " + a.name }

func (a *adminCommand) register() {
	commands[a.name] = command{summary: a.summary, run: a.main}
}

func (a *adminCommand) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s\n\n%s\n", a.prefix(), a.synopsis, strings.TrimSpace(a.help))
	if !a.noStore {
		fmt.Fprintf(w, "\n%s\n\nThe keys are the app's server keys, as twofactor keygen writes them: --keys FILE,\nelse $TWOFACTOR_KEYS (the keys themselves), else $TWOFACTOR_KEYS_FILE.\n", dbForms)
	}
	fmt.Fprintf(w, "\nExample:\n%s\n", indent(strings.TrimSpace(a.example), "  "))
	if a.noStore {
		fmt.Fprintln(w, "\nExit status: 0 done, 2 bad usage or input (nothing was changed).")
	} else {
		fmt.Fprintln(w, "\nExit status: 0 done, 1 a negative answer, 2 bad usage or input (nothing was\nchanged), 3 the store is unreachable.")
	}
	fmt.Fprintln(w, "\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// storeFlags are the flags that name the store and the keys.
type storeFlags struct {
	db, dialect, prefix, keys string
}

// add defines the flags on fs, with --timeout setting timeout.
func (f *storeFlags) add(fs *flag.FlagSet, timeout *time.Duration) {
	fs.StringVar(&f.db, "db", "", "the store (see above); default $"+dbEnv)
	fs.StringVar(&f.dialect, "dialect", "", "sqlite, postgres or mysql; inferred from --db when empty")
	fs.StringVar(&f.prefix, "prefix", "", "table-name prefix of a SQL store (default twofactor_), or key prefix of a Redis store (default twofactor:)")
	fs.StringVar(&f.keys, "keys", "", "file with the server keys (default $"+keysEnv+", or the file $"+keysEnv+"_FILE names)")
	fs.DurationVar(timeout, "timeout", 30*time.Second, "give up when the store has not answered for this long")
}

// main parses the arguments, opens the store and runs the command.
func (a *adminCommand) main(e *env, args []string) int {
	fs := flag.NewFlagSet(a.prefix(), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported on one line below
	c := &call{env: e, cmd: a}
	var sf storeFlags
	if !a.noStore {
		sf.add(fs, &c.timeout)
	}
	fs.BoolVar(&c.json, "json", false, "print JSON instead of text")
	r := a.setup(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(e.stdout, fs)
			return exitOK
		}
		return a.fail(e, usageErr(err))
	}
	if err := a.checkArgs(pos); err != nil {
		return a.fail(e, err)
	}
	c.args = pos
	if r.check != nil {
		if err := r.check(c); err != nil {
			return a.fail(e, usageErr(err))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c.ctx = ctx
	if !a.noStore {
		closeStore, err := c.open(sf)
		if err != nil {
			return a.fail(e, err)
		}
		defer closeStore()
	}
	if err := r.run(c); err != nil {
		return a.fail(e, err)
	}
	return exitOK
}

// fail reports err on one line, unless it is a quiet exit, and returns its
// exit status.
func (a *adminCommand) fail(e *env, err error) int {
	var ee *exitError
	if !errors.As(err, &ee) || ee.err != nil {
		fmt.Fprintf(e.stderr, "%s: %s\n", a.prefix(), oneLine(err))
	}
	return statusOf(err)
}

// checkArgs checks the number of positional arguments and that each is a
// user id.
func (a *adminCommand) checkArgs(pos []string) error {
	switch {
	case len(pos) < a.minArgs && a.minArgs == 1:
		return usageErrf("missing the user id (usage: %s %s)", a.prefix(), a.synopsis)
	case len(pos) < a.minArgs:
		return usageErrf("missing arguments (usage: %s %s)", a.prefix(), a.synopsis)
	case a.maxArgs >= 0 && len(pos) > a.maxArgs:
		return usageErrf("unexpected argument %q", pos[a.maxArgs])
	}
	if a.maxArgs == 0 {
		return nil
	}
	for _, id := range pos {
		if err := twofactor.CheckUserID(id); err != nil {
			return usageErrf("user id %q: %s", id, strings.TrimPrefix(err.Error(), twofactor.ErrInvalidInput.Error()+": "))
		}
	}
	return nil
}

// open reads the keys, opens the store the flags name and builds the
// admin Service on it. It returns how to close the store.
func (c *call) open(f storeFlags) (func(), error) {
	if c.timeout <= 0 {
		return nil, usageErrf("--timeout must be positive")
	}
	if f.db == "" {
		f.db = c.getenv(dbEnv)
	}
	target, err := parseStoreTarget(f.db, f.dialect)
	if err != nil {
		return nil, usageErr(err)
	}
	if err := checkPrefix(target, f.prefix); err != nil {
		return nil, usageErr(err)
	}
	keys, err := loadKeys(c.env, f.keys)
	if err != nil {
		return nil, usageErr(err)
	}
	st, err := openStore(c.ctx, target, f.prefix, c.timeout)
	if err != nil {
		return nil, err
	}
	if c.admin, err = newAdmin(st.Store, keys, c.stderr, c.recoveryTTL, c.rpID); err != nil {
		st.close()
		return nil, usageErr(err)
	}
	return st.close, nil
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments ("reset ann --actor bob"). Everything after
// "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return append(pos, tail...), nil
}

// op returns a context for one operation on the store, bounded by
// --timeout.
func (c *call) op() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, c.timeout)
}

// printJSON writes v as indented JSON on stdout.
func (c *call) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table returns a writer that aligns tab-separated columns on stdout;
// flush it when done.
func (c *call) table() *tabwriter.Writer {
	return tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
}

// note writes a line for the administrator on stderr.
func (c *call) note(format string, args ...any) {
	fmt.Fprintf(c.stderr, "%s: %s\n", c.cmd.prefix(), fmt.Sprintf(format, args...))
}

// stamp formats a time for text output: UTC, to the second, or "never".
func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// requireText is a check that a flag was given a non-blank value.
func requireText(name, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("--%s is required", name)
	}
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("--%s must be one line", name)
	}
	return nil
}
