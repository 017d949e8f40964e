// Command twofactor is the library's command-line tool: TOTP helpers for
// support and testing, database migrations, server keys, and the
// administrator's commands for support staff (status, reset, recovery
// codes, unlock, trusted devices, policy checks, re-sealing after a key
// rotation).
//
//	twofactor <command> [arguments] [flags]
//
// Run "twofactor help" for the list of commands, and "twofactor <command>
// -h" for a command's flags and an example. Exit status: 0 done, 1 a
// negative answer (a code that does not verify, users who cannot comply,
// nothing to do), 2 bad usage or input (flags, user ids, the store's
// address, keys), 3 the store is unreachable.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/keyring"
)

// Exit statuses, the same for every command.
const (
	exitOK       = 0 // done
	exitNegative = 1 // a negative answer
	exitUsage    = 2 // bad usage or input; nothing was changed
	exitStore    = 3 // the store is unreachable
)

// env is what a command sees of the process: its streams, its environment
// and whether a person is at a terminal.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// interactive is set when stdin is a terminal: reset asks for
	// confirmation before it acts.
	interactive bool
	// progress is set when stderr is a terminal: long commands keep a
	// progress line there.
	progress bool
}

// A command is one top-level verb. Each lives in its own file and adds
// itself to commands in an init function.
type command struct {
	summary string
	// run gets the arguments after the command name. It returns the exit
	// status.
	run func(e *env, args []string) int
}

var commands = map[string]command{}

func main() {
	e := &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		interactive: isTerminal(os.Stdin), progress: isTerminal(os.Stderr),
	}
	os.Exit(runEnv(e, os.Args[1:]))
}

// isTerminal reports whether f is a character device, as a terminal is.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// run runs a command with empty input, the process environment and no
// terminal.
func run(args []string, stdout, stderr io.Writer) int {
	return runEnv(&env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: os.Getenv}, args)
}

func runEnv(e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "twofactor: unknown command %q (run \"twofactor help\")\n", args[0])
		return exitUsage
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: twofactor <command> [arguments] [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-15s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"twofactor <command> -h\" for its flags and an example. Exit status: 0 done,\n"+
		"1 a negative answer, 2 bad usage or input, 3 the store is unreachable.")
}

// exitError is an error with the exit status it ends the command with.
type exitError struct {
	status int
	err    error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.status)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error { return &exitError{exitUsage, err} }
func usageErrf(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}
func negativef(format string, args ...any) error {
	return &exitError{exitNegative, fmt.Errorf(format, args...)}
}
func storeDown(err error) error { return &exitError{exitStore, err} }

// quietExit ends a command with status and no message: what it printed
// says why.
func quietExit(status int) error { return &exitError{status: status} }

// statusOf is the exit status for err: its own, when it carries one; bad
// input for invalid input, keys or configuration; otherwise the store
// failed.
func statusOf(err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.status
	case errors.Is(err, twofactor.ErrInvalidInput), errors.Is(err, keyring.ErrInvalidKey), errors.Is(err, twofactor.ErrConfig):
		return exitUsage
	}
	return exitStore
}
