package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/totp"
)

func init() {
	commands["totp"] = command{
		summary: "authenticator-app helpers: new secret and QR code, print or check a code",
		run:     func(e *env, args []string) int { return runTOTP(args, e.stdout, e.stderr) },
	}
}

// A subcommand of "twofactor totp".
type totpSub struct {
	usage   string // argument synopsis
	help    string // what it does
	example string
	flags   func(fs *flag.FlagSet) func(stdout io.Writer) (int, error)
}

var totpSubs = map[string]totpSub{
	"new": {
		usage: "--issuer I --account A [--png FILE] [--algorithm SHA1] [--digits 6] [--period 30]",
		help: "Generate a new 160-bit TOTP secret and print it (base32, for typing in by hand)\n" +
			"and its otpauth:// URI. With --png, also write the URI's QR code as a PNG file\n" +
			"(mode 0600: it holds the secret).",
		example: "twofactor totp new --issuer Acme --account ann@example.com --png ann.png",
		flags:   totpNew,
	},
	"code": {
		usage:   "--uri URI [--at RFC3339]",
		help:    "Print the code an authenticator app shows for the otpauth:// URI, now or at --at.",
		example: "twofactor totp code --uri 'otpauth://totp/Acme:ann?secret=JBSWY3DPEHPK3PXP&issuer=Acme'",
		flags:   totpCode,
	},
	"check": {
		usage: "--uri URI --code C [--at RFC3339] [--skew N]",
		help: "Check a code against the otpauth:// URI, now or at --at, accepting --skew steps\n" +
			"either side. Valid: prints \"valid offset=N\" (the matched step relative to the\n" +
			"current one, e.g. -1 when the app's clock is behind) and exits 0. Not valid:\n" +
			"prints \"invalid\" and exits 1. Nothing is recorded, so a code checks again.",
		example: "twofactor totp check --uri 'otpauth://totp/Acme:ann?secret=JBSWY3DPEHPK3PXP&issuer=Acme' --code 123456",
		flags:   totpCheck,
	},
}

var totpOrder = []string{"new", "code", "check"}

func totpUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: twofactor totp <subcommand> [flags]")
	fmt.Fprintln(w, "\nTOTP (RFC 6238) helpers for support and testing. Subcommands:")
	for _, name := range totpOrder {
		fmt.Fprintf(w, "  %s %s\n", name, totpSubs[name].usage)
	}
	fmt.Fprintln(w, "\nExample:\n  "+totpSubs["check"].example)
	fmt.Fprintln(w, "\nRun \"twofactor totp <subcommand> -h\" for details. Exit status: 0 success,\n1 a code that does not verify, 2 bad usage or input.")
}

func runTOTP(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		totpUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		totpUsage(stdout)
		return 0
	}
	name := args[0]
	sub, ok := totpSubs[name]
	if !ok {
		fmt.Fprintf(stderr, "twofactor totp: unknown subcommand %q (run \"twofactor totp -h\")\n", name)
		return 2
	}
	prefix := "twofactor totp " + name
	fs := flag.NewFlagSet(prefix, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported on one line below
	do := sub.flags(fs)
	fail := func(err error) int {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintf(stderr, "%s: %s\n", prefix, msg)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: %s %s\n\n%s\n\nExample:\n  %s\n\nflags:\n", prefix, sub.usage, sub.help, sub.example)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		return fail(err)
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	status, err := do(stdout)
	if err != nil {
		return fail(err)
	}
	return status
}

// parseAt reads --at: empty means now.
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", s)
	}
	return t, nil
}

func requireFlag(name, v string) error {
	if v == "" {
		return fmt.Errorf("--%s is required", name)
	}
	return nil
}

func totpNew(fs *flag.FlagSet) func(io.Writer) (int, error) {
	issuer := fs.String("issuer", "", "service name shown in the app (required)")
	account := fs.String("account", "", "account name shown in the app, e.g. an email address (required)")
	png := fs.String("png", "", "write the QR code to this PNG file")
	alg := fs.String("algorithm", "SHA1", "SHA1, SHA256 or SHA512 (many apps support SHA1 only)")
	digits := fs.Int("digits", 6, "code length: 6 to 8")
	period := fs.Int("period", 30, "time step in seconds")
	return func(stdout io.Writer) (int, error) {
		if err := requireFlag("issuer", *issuer); err != nil {
			return 2, err
		}
		if err := requireFlag("account", *account); err != nil {
			return 2, err
		}
		a, err := totp.ParseAlgorithm(*alg)
		if err != nil {
			return 2, err
		}
		p := totp.Params{Algorithm: a, Digits: *digits, Period: *period}
		if err := p.Check(); err != nil {
			return 2, err
		}
		secret, err := secure.Bytes(nil, totp.DefaultSecretSize)
		if err != nil {
			return 2, err
		}
		k := totp.Key{Secret: secret, Issuer: *issuer, Account: *account, Params: p}
		uri := k.URI()
		if *png != "" {
			img, err := qrcode.Encode(uri, qrcode.Medium, totp.DefaultQRSize)
			if err != nil {
				return 2, fmt.Errorf("QR code: %w", err)
			}
			if err := os.WriteFile(*png, img, 0o600); err != nil {
				return 2, err
			}
		}
		fmt.Fprintf(stdout, "secret: %s\nuri: %s\n", totp.EncodeSecret(secret), uri)
		if *png != "" {
			fmt.Fprintf(stdout, "png: %s\n", *png)
		}
		return 0, nil
	}
}

func totpCode(fs *flag.FlagSet) func(io.Writer) (int, error) {
	uri := fs.String("uri", "", "otpauth://totp/ URI (required)")
	at := fs.String("at", "", "time as RFC 3339 (default now)")
	return func(stdout io.Writer) (int, error) {
		if err := requireFlag("uri", *uri); err != nil {
			return 2, err
		}
		k, err := totp.ParseURI(*uri)
		if err != nil {
			return 2, err
		}
		t, err := parseAt(*at)
		if err != nil {
			return 2, err
		}
		fmt.Fprintln(stdout, k.Code(k.Secret, t))
		return 0, nil
	}
}

func totpCheck(fs *flag.FlagSet) func(io.Writer) (int, error) {
	uri := fs.String("uri", "", "otpauth://totp/ URI (required)")
	code := fs.String("code", "", "the code to check (required)")
	at := fs.String("at", "", "time as RFC 3339 (default now)")
	skew := fs.Int("skew", 1, fmt.Sprintf("steps accepted either side of the current one: 0 to %d", totp.MaxSkew))
	return func(stdout io.Writer) (int, error) {
		if err := requireFlag("uri", *uri); err != nil {
			return 2, err
		}
		if err := requireFlag("code", *code); err != nil {
			return 2, err
		}
		if *skew < 0 || *skew > totp.MaxSkew {
			return 2, fmt.Errorf("--skew %d: use 0 to %d", *skew, totp.MaxSkew)
		}
		k, err := totp.ParseURI(*uri)
		if err != nil {
			return 2, err
		}
		t, err := parseAt(*at)
		if err != nil {
			return 2, err
		}
		_, off, ok, err := k.Match(k.Secret, *code, t, *skew)
		if err != nil {
			return 2, fmt.Errorf("--code: %w", err)
		}
		if !ok {
			fmt.Fprintln(stdout, "invalid")
			return 1, nil
		}
		sign := ""
		if off > 0 {
			sign = "+"
		}
		fmt.Fprintf(stdout, "valid offset=%s%d\n", sign, off)
		return 0, nil
	}
}
