package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintln(os.Stderr, "Run with -h for the flags.")
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake in the flags.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// run starts the app as the command line says, prints where it listens and
// the demo logins to stdout, and serves until ctx ends; then it shuts down
// cleanly, letting requests in flight finish.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseConfig(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usageError{err}
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: another program uses the port; pick another with -addr 127.0.0.1:8081 or PORT=8081", err)
	}
	if err != nil {
		return err
	}
	defer ln.Close()
	origin := cfg.origin
	if origin == "" {
		origin = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	a, err := newApp(cfg, origin, stdout)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.close(sctx)
	}()
	seed, err := a.seed(ctx)
	if err != nil {
		return err
	}
	if cfg.loadUsers > 0 {
		if _, err := a.seedLoadUsers(ctx, cfg.loadUsers, cfg.dataDir, stdout); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	a.banner(stdout, ln.Addr())
	if f, ok := ctx.Value(readyKey{}).(func(started)); ok {
		f(started{App: a, URL: origin, Addr: ln.Addr().String(), Seed: seed})
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "Shutting down.")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// started is what run reports to this package's tests once it serves.
type started struct {
	App  *app
	URL  string  // the origin, http://localhost:<port>
	Addr string  // the listener's address
	Seed *seeded // what the first start enrolled
}

type readyKey struct{}
