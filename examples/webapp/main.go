package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
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
//
// The start-up message comes first: what is logged while the app starts
// is held until it is printed, then follows it (or goes with the error
// when the app cannot start).
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseConfig(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return usageError{err}
	}
	held := &heldWriter{}
	defer held.release(stdout)
	lns, err := listen(ctx, cfg.addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: another program uses the port; pick another with -addr localhost:8081 or PORT=8081", err)
	}
	if err != nil {
		return err
	}
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	origin := cfg.origin
	if origin == "" {
		origin = "http://localhost:" + strconv.Itoa(lns[0].Addr().(*net.TCPAddr).Port)
	}
	a, err := newApp(cfg, origin, held)
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
		if _, err := a.seedLoadUsers(ctx, cfg.loadUsers, cfg.dataDir, held); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	a.banner(stdout, cfg.dataDir, lns)
	held.release(stdout)
	a.serving()
	if f, ok := ctx.Value(readyKey{}).(func(started)); ok {
		s := started{App: a, URL: origin, Addr: lns[0].Addr().String(), Seed: seed}
		for _, ln := range lns {
			s.Addrs = append(s.Addrs, ln.Addr().String())
		}
		f(s)
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
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
	App   *app
	URL   string   // the origin, http://localhost:<port>
	Addr  string   // the first listener's address
	Addrs []string // every listener's address, the first one first
	Seed  *seeded  // what the first start enrolled
}

type readyKey struct{}

// listen opens the listeners of addr. A host name whose addresses are all
// loopback addresses, localhost first of all, is listened on at each of
// them, on one port: browsers may try ::1 or 127.0.0.1 for localhost,
// whatever the hosts file says, so localhost means both, with ::1 left
// out on a machine without IPv6. Any other address is listened on as
// given. Port 0 picks a port that is free on every address.
func listen(ctx context.Context, addr string) ([]net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips := loopbacks(ctx, host)
	if len(ips) == 0 {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		return []net.Listener{ln}, nil
	}
	for try := 0; ; try++ {
		lns, err := listenAll(ips, port)
		if err != nil && port == "0" && try < 10 && errors.Is(err, syscall.EADDRINUSE) {
			continue // the port the first address got is taken on another: pick again
		}
		return lns, err
	}
}

// listenAll listens on port at each of ips, the others on the port the
// first got. An address other than the first that cannot be listened on
// for any reason but its port being taken is left out: ::1 on a machine
// without IPv6.
func listenAll(ips []netip.Addr, port string) ([]net.Listener, error) {
	var lns []net.Listener
	for i, ip := range ips {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), port))
		if err != nil && i > 0 && !errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, err
		}
		if i == 0 {
			port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// loopbacks are the loopback addresses host stands for, IPv4 first, or
// none when host is an address, empty, or a name with an address that is
// not a loopback one. localhost (and its subdomains) always stands for
// 127.0.0.1 and ::1 (RFC 6761), with the resolver's other loopback
// addresses.
func loopbacks(ctx context.Context, host string) []netip.Addr {
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	var ips []netip.Addr
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	local := h == "localhost" || strings.HasSuffix(h, ".localhost")
	if local {
		ips = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	found, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	for _, ip := range found {
		switch ip = ip.Unmap(); {
		case !ip.IsLoopback() && local:
			continue
		case !ip.IsLoopback():
			return nil
		case !slices.Contains(ips, ip):
			ips = append(ips, ip)
		}
	}
	slices.SortStableFunc(ips, func(x, y netip.Addr) int {
		return cmp.Compare(x.BitLen(), y.BitLen())
	})
	return ips
}

// heldWriter holds what is written to it until release, which writes it
// to w, as every later write.
type heldWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   io.Writer // nil until release
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.w != nil {
		return h.w.Write(p)
	}
	return h.buf.Write(p)
}

// release writes what was held to w, and sends every later write there.
// Only the first call counts.
func (h *heldWriter) release(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.w != nil {
		return
	}
	h.w = w
	_, _ = h.buf.WriteTo(w)
}
