// Command loadtest is the load test of examples/webapp: make load, not
// part of make test (see TESTING.md, "Load test").
//
// It builds the web app once, then for each store (Redis, then
// PostgreSQL) starts two copies of it on two ports of 127.0.0.1 that
// share the store, under a table or key prefix of their own, and the
// same keys (one -data directory), with load-test users
// ($TWOFACTOR_LOAD_USERS) and 127.0.0.1 as their trusted proxy. It then
// drives complete sign-ins at a steady rate, open-loop, for -duration:
// the password step on one copy, the second step on the other,
// alternating, with authenticator-app codes (computed from the seeded
// secrets), email codes (read from the copies' development outboxes),
// trusted devices, wrong codes, resends and replayed codes mixed in,
// each user from addresses of its own in the documentation ranges
// (X-Forwarded-For). It reports the rate achieved, the latency of each
// step, the errors, the codes accepted twice or lost and the memory of
// each copy, stops the copies, drops what they stored, and exits with
// status 1 when a goal is missed.
//
//	go run ./examples/webapp/loadtest -duration 20s -rate 5
//	make load LOAD_DURATION=1m LOAD_RATE=20
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	duration    time.Duration
	rate        float64
	users       int
	maxRequests int64
	maxInflight int
	stores      []string
	redis       string
	postgres    string
	webapp      string
	keep        bool
	seed        uint64
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	ok, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	o := &options{}
	var stores string
	redisAddr := os.Getenv("TWOFACTOR_REDIS_ADDR")
	if redisAddr == "" {
		redisAddr = "127.0.0.1:6379"
	}
	pg := os.Getenv("TWOFACTOR_POSTGRES_DSN")
	if pg == "" {
		pg = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	fs.DurationVar(&o.duration, "duration", 5*time.Minute, "how long logins start, per store")
	fs.Float64Var(&o.rate, "rate", 20, "logins started per second, steadily (open-loop)")
	fs.IntVar(&o.users, "users", 0, "load-test users to seed (0: 60 per login/s, at least 200), half with an authenticator app")
	fs.Int64Var(&o.maxRequests, "max-requests", 250_000, "hard cap on HTTP requests per store; reaching it fails the run")
	fs.IntVar(&o.maxInflight, "max-inflight", 2000, "logins in flight at most; one due when all are busy is not started (and counted)")
	fs.StringVar(&stores, "stores", "redis,postgres", "the stores to run against, in order: redis, postgres")
	fs.StringVar(&o.redis, "redis", "redis://"+redisAddr, "the Redis store ($TWOFACTOR_REDIS_ADDR)")
	fs.StringVar(&o.postgres, "postgres", pg, "the PostgreSQL store ($TWOFACTOR_POSTGRES_DSN)")
	fs.StringVar(&o.webapp, "webapp", "", "a built examples/webapp binary (default: build it)")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (the instances' logs, keys, user file)")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the random draws (0: from the clock)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.duration <= 0 || o.duration > 24*time.Hour:
		return nil, fmt.Errorf("-duration %s: want more than 0, at most 24h", o.duration)
	case o.rate <= 0 || o.rate > 1000 || math.IsNaN(o.rate):
		return nil, fmt.Errorf("-rate %g: want more than 0, at most 1000", o.rate)
	case o.users < 0 || o.users > 100_000:
		return nil, fmt.Errorf("-users %d: want 0 to 100000", o.users)
	case o.maxRequests <= 0:
		return nil, fmt.Errorf("-max-requests %d: want more than 0", o.maxRequests)
	case o.maxInflight <= 0:
		return nil, fmt.Errorf("-max-inflight %d: want more than 0", o.maxInflight)
	}
	if o.users == 0 {
		o.users = autoUsers(o.rate)
	}
	for s := range strings.SplitSeq(stores, ",") {
		switch s = strings.TrimSpace(strings.ToLower(s)); s {
		case "redis", "postgres":
			o.stores = append(o.stores, s)
		case "":
		default:
			return nil, fmt.Errorf("-stores: unknown store %q: want redis or postgres", s)
		}
	}
	if len(o.stores) == 0 {
		return nil, errors.New("-stores: none given")
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	return o, nil
}

// autoUsers is how many users a rate needs: each TOTP user can sign in
// once per 30-second step, and each email user asks for at most 10 codes
// an hour, so users must far outnumber the logins of a step; 60 per
// login/s leaves each a login every minute or two.
func autoUsers(rate float64) int {
	n := int(math.Ceil(rate * 60))
	n = max(n, 200)
	return n + n%2
}

// run runs every store in turn and prints the reports. ok is false when a
// goal was missed; err is for a run that could not happen at all.
func run(ctx context.Context, o *options, out io.Writer) (ok bool, err error) {
	work, err := os.MkdirTemp("", "twofactor-load-*")
	if err != nil {
		return false, err
	}
	keep := o.keep
	defer func() {
		if keep {
			fmt.Fprintf(out, "Logs and data kept in %s\n", work)
			return
		}
		os.RemoveAll(work)
	}()
	bin := o.webapp
	if bin == "" {
		bin = filepath.Join(work, "webapp")
		fmt.Fprintln(out, "Building examples/webapp …")
		if err := build(ctx, bin); err != nil {
			return false, err
		}
	}
	fmt.Fprintf(out, "Load test: %d users, %g logins/s for %s per store, at most %d requests and %d logins in flight, seed %d\n\n",
		o.users, o.rate, o.duration, o.maxRequests, o.maxInflight, o.seed)
	ok = true
	var results []string
	for i, s := range o.stores {
		r, err := runStore(ctx, o, s, bin, filepath.Join(work, s), o.seed+uint64(i)*7919)
		if r != nil {
			r.print(out)
		}
		if err != nil {
			fmt.Fprintf(out, "%s: %v\n\n", storeName(s), err)
			results = append(results, fmt.Sprintf("%s: FAIL (%v)", storeName(s), err))
			ok, keep = false, true
			if ctx.Err() != nil {
				break
			}
			continue
		}
		misses := r.misses()
		if len(misses) > 0 {
			ok, keep = false, true
			results = append(results, fmt.Sprintf("%s: FAIL (%s)", storeName(s), strings.Join(misses, "; ")))
		} else {
			results = append(results, storeName(s)+": PASS")
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintln(out, "Result:")
	for _, r := range results {
		fmt.Fprintln(out, "  "+r)
	}
	return ok, nil
}

func storeName(s string) string {
	if s == "postgres" {
		return "PostgreSQL"
	}
	return "Redis"
}

// build compiles examples/webapp from the module this command is in.
func build(ctx context.Context, bin string) error {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	mod, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(mod)))
	if _, err := os.Stat(filepath.Join(root, "examples", "webapp", "main.go")); err != nil {
		return fmt.Errorf("run from the twofactor module (no examples/webapp in %s)", root)
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./examples/webapp")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building examples/webapp: %w", err)
	}
	return nil
}

// childEnv is this process's environment without the variables that
// would point the app elsewhere, plus the load test's.
func childEnv(users int) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TWOFACTOR_") || k == "ADDR" || k == "PORT" || k == "GODEBUG" {
			continue
		}
		env = append(env, kv)
	}
	godebug := "gctrace=1"
	if v := os.Getenv("GODEBUG"); v != "" {
		godebug = v + "," + godebug
	}
	return append(env, fmt.Sprintf("TWOFACTOR_LOAD_USERS=%d", users), "GODEBUG="+godebug)
}
