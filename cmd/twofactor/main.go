// Command twofactor is the library's command-line tool: TOTP helpers for
// support and testing, database migrations, and administrator operations.
//
//	twofactor <command> <subcommand> [flags]
//
// Run "twofactor help" for the list of commands, and "twofactor <command>
// -h" for a command's flags. Exit status: 0 success, 1 a negative answer
// (for example a code that does not verify), 2 bad usage or input.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// A command is one top-level verb. Each lives in its own file and adds
// itself to commands in an init function.
type command struct {
	summary string
	// run gets the arguments after the command name. It returns the exit
	// status.
	run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "twofactor: unknown command %q (run \"twofactor help\")\n", args[0])
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: twofactor <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
