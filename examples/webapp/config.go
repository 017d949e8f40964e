package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor/trust"
)

// config is what the flags and environment variables say.
type config struct {
	addr     string // where to listen
	metrics  bool   // serve the library's OpenTelemetry metrics at /metrics, for Prometheus
	noOffer  bool   // do not offer a passkey after a sign-in with a password and a code
	pkFirst  bool   // a passkey is the first factor only: the second step follows
	dataDir  string // the SQLite file and the key file live here
	db       string // the store: a DSN, or "" for SQLite in dataDir
	prefix   string // the store's table or key prefix; "" for its default
	origin   string // the public origin; "" means http://localhost:<port>
	smtp     string // smtp:// or smtps:// URL of a mail server; "" keeps mail in the outbox
	mailFrom string
	smsURL   string // an HTTP SMS gateway; "" keeps SMS in the outbox
	smsAuth  string // a header for the gateway: "Authorization: Bearer ..."
	smsFrom  string
	proxies  []netip.Prefix
	header   trust.ProxyHeader
	// logLevel is the least level logged once the app serves; while it
	// starts, only warnings and worse are, unless this is debug.
	logLevel slog.Level
	// grace is how long a failed second step waits before its owner is
	// told (a sign-in that then succeeds tells nobody); 0 tells at once.
	grace time.Duration
	// loadUsers is how many load-test users to add ($TWOFACTOR_LOAD_USERS,
	// no flag: see loadusers.go); 0 adds none.
	loadUsers int
	// now is the clock of two-factor authentication and its store; nil
	// means time.Now. No flag sets it: tests give a clock they move.
	now func() time.Time
}

// Environment variables, read as the defaults of the flags.
const (
	envAddr         = "ADDR"
	envPort         = "PORT"
	envData         = "TWOFACTOR_DATA"
	envDB           = "TWOFACTOR_DB"
	envPrefix       = "TWOFACTOR_PREFIX"
	envKeys         = "TWOFACTOR_KEYS"
	envOrigin       = "TWOFACTOR_ORIGIN"
	envSMTP         = "TWOFACTOR_SMTP"
	envMailFrom     = "TWOFACTOR_MAIL_FROM"
	envSMSGateway   = "TWOFACTOR_SMS_GATEWAY"
	envSMSHeader    = "TWOFACTOR_SMS_HEADER"
	envSMSFrom      = "TWOFACTOR_SMS_FROM"
	envProxies      = "TWOFACTOR_TRUSTED_PROXIES"
	envProxyHeader  = "TWOFACTOR_PROXY_HEADER"
	envNotifyGrace  = "TWOFACTOR_NOTIFY_GRACE"
	envLoadUsers    = "TWOFACTOR_LOAD_USERS" // load tests only, not in -h: loadusers.go
	envLog          = "TWOFACTOR_LOG"
	defaultHost     = "localhost"
	defaultAddr     = defaultHost + ":8080"
	defaultMailFrom = "Acme <no-reply@localhost>"
)

const usageHead = `Usage: go run ./examples/webapp [flags]

Acme, a small web app with a password login and two-factor authentication:
authenticator apps, email and SMS codes, backup codes, security keys and
trusted devices, with the settings and administrator pages of package
twofactorhttp. With no flags it keeps everything in a SQLite file and a key
file in examples/webapp/.data of the checkout it runs in (elsewhere, in the
user cache directory), keeps every email and SMS in a development outbox
(/outbox) instead of sending it, and listens on http://localhost:8080.

Every flag can also be set by the environment variable shown beside it; a
flag given on the command line wins. Put passwords in the environment, not
on the command line, where other users of the machine can read them.

Flags:
`

const usageTail = `
The store (-db) takes one of these forms:
  postgres://user:pass@host:5432/db?sslmode=disable   PostgreSQL
  mysql://user:pass@host:3306/db                      MySQL or MariaDB
  user:pass@tcp(host:3306)/db                         MySQL, go-sql-driver form
  redis://[user:pass@]host:6379[/db]                  Redis (rediss:// for TLS)
  sqlite:path/to/file.db, or a plain file path        SQLite
SQL tables are created or migrated at start. Several copies of the app
(on other ports or hosts) that share a PostgreSQL, MySQL or Redis store and
the same keys behave as one: codes are accepted once and limits hold across
them.

Keys: the app seals secrets and signs cookies with the keys in $TWOFACTOR_KEYS
(or the file named by $TWOFACTOR_KEYS_FILE), in the form "twofactor keygen"
prints. Without them it makes a key at its first start and keeps it in
<data>/keys (mode 0600); copies sharing a store need the same keys.

Mail (-smtp): smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465
(TLS from the start), or smtp://host:1025?tls=off for a mail catcher on this
machine. SMS (-sms-gateway): an https URL that takes one POST per message
with the fields "to" and "body". Mail to @example.com addresses and SMS to the
fictional 555-01xx numbers of the demo users stay in the outbox either way.

Demo logins are printed at start.
`

// parseConfig reads the flags in args, with the environment as defaults.
// -h prints the usage to out and returns flag.ErrHelp.
func parseConfig(args []string, out io.Writer) (*config, error) {
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; -h prints the usage to out
	c := &config{}
	addr := getenv(envAddr, "")
	if addr == "" {
		if port := os.Getenv(envPort); port != "" {
			addr = net.JoinHostPort(defaultHost, port)
		} else {
			addr = defaultAddr
		}
	}
	var proxies, header, level string
	var verbose bool
	fs.StringVar(&c.addr, "addr", addr, "`host:port` to listen on ($ADDR; $PORT sets the port on localhost); localhost means\nevery loopback address, 127.0.0.1 and ::1")
	fs.StringVar(&c.dataDir, "data", getenv(envData, ""), "`directory` for the SQLite file and the key file ($TWOFACTOR_DATA; default: examples/webapp/.data\nin this module's checkout, else twofactor-webapp in the user cache directory)")
	fs.StringVar(&c.db, "db", getenv(envDB, ""), "the store, a `DSN` in one of the forms below ($TWOFACTOR_DB; default: SQLite in -data)")
	fs.StringVar(&c.prefix, "prefix", getenv(envPrefix, ""), "the `prefix` of the store's SQL tables or Redis keys, so several apps share a database\n($TWOFACTOR_PREFIX; default: twofactor_ for SQL, twofactor: for Redis)")
	fs.StringVar(&c.origin, "origin", getenv(envOrigin, ""), "the `URL` people open, when it is not http://localhost:<port> (behind a proxy, say):\nsecurity keys are bound to its host ($TWOFACTOR_ORIGIN)")
	fs.StringVar(&c.smtp, "smtp", getenv(envSMTP, ""), "send email through this SMTP server `URL` ($TWOFACTOR_SMTP)")
	fs.StringVar(&c.mailFrom, "mail-from", getenv(envMailFrom, defaultMailFrom), "the `address` email comes from ($TWOFACTOR_MAIL_FROM)")
	fs.StringVar(&c.smsURL, "sms-gateway", getenv(envSMSGateway, ""), "send SMS through this HTTP gateway `URL` ($TWOFACTOR_SMS_GATEWAY)")
	fs.StringVar(&c.smsAuth, "sms-header", getenv(envSMSHeader, ""), "a `header` sent to the SMS gateway, such as \"Authorization: Bearer KEY\" ($TWOFACTOR_SMS_HEADER)")
	fs.StringVar(&c.smsFrom, "sms-from", getenv(envSMSFrom, ""), "the sender `id` or number, sent to the gateway as \"from\" ($TWOFACTOR_SMS_FROM)")
	fs.StringVar(&proxies, "trusted-proxies", getenv(envProxies, ""), "comma-separated `CIDRs` of reverse proxies whose forwarding header gives the\nclient address, such as 10.0.0.0/8 ($TWOFACTOR_TRUSTED_PROXIES; default: none)")
	fs.StringVar(&header, "proxy-header", getenv(envProxyHeader, "X-Forwarded-For"), "the `header` those proxies write: X-Forwarded-For or Forwarded ($TWOFACTOR_PROXY_HEADER)")
	grace := getenv(envNotifyGrace, "5m")
	fs.StringVar(&grace, "notify-grace", grace, "how long the wrong codes of a sign-in wait before the owner is emailed that someone\nhas their password, in case the sign-in then succeeds; 0s emails at once ($TWOFACTOR_NOTIFY_GRACE)")
	fs.StringVar(&level, "log", getenv(envLog, "info"), "the least `level` logged: debug, info, warn or error ($TWOFACTOR_LOG); the routine events\nof the start show at debug only, after the start-up message")
	fs.BoolVar(&verbose, "v", false, "verbose: the same as -log debug")
	offer := true
	fs.BoolVar(&offer, "passkey-offer", true, "after a sign-in with a password and a code, offer a user without a passkey to create one")
	fs.BoolVar(&c.pkFirst, "passkey-first-factor", false, "a passkey sign-in stands for the password only: the second step follows, on another device")
	fs.BoolVar(&c.metrics, "metrics", false, "serve the library's metrics (OpenTelemetry, through its Prometheus exporter) at /metrics")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, usageHead)
			fs.SetOutput(out)
			fs.PrintDefaults()
			fmt.Fprint(out, usageTail)
		}
		return nil, err
	}
	c.noOffer = !offer
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	g, err := time.ParseDuration(grace)
	if err != nil || g < 0 || g > time.Hour {
		return nil, fmt.Errorf("-notify-grace %q: want a duration from 0s to 1h, such as 5m", grace)
	}
	c.grace = g
	if err := c.logLevel.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log %q: want debug, info, warn or error", level)
	}
	if verbose {
		c.logLevel = min(c.logLevel, slog.LevelDebug)
	}
	if v := getenv(envLoadUsers, ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxLoadUsers {
			return nil, fmt.Errorf("$%s %q: want a number of load-test users from 0 to %d", envLoadUsers, v, maxLoadUsers)
		}
		c.loadUsers = n
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return nil, fmt.Errorf("-addr %q: want host:port, such as localhost:8080", c.addr)
	}
	for p := range strings.SplitSeq(proxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := parsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("-trusted-proxies: %q is not a CIDR range or an address", p)
		}
		c.proxies = append(c.proxies, prefix)
	}
	switch strings.ToLower(header) {
	case "x-forwarded-for":
		c.header = trust.XForwardedFor
	case "forwarded":
		c.header = trust.Forwarded
	default:
		return nil, fmt.Errorf("-proxy-header %q: want X-Forwarded-For or Forwarded", header)
	}
	if c.origin != "" {
		u, err := url.Parse(c.origin)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("-origin %q: want a scheme and host, such as https://demo.example.com", c.origin)
		}
		c.origin = u.Scheme + "://" + u.Host
	}
	if c.smsAuth != "" {
		if name, _, ok := strings.Cut(c.smsAuth, ":"); !ok || strings.TrimSpace(name) == "" {
			return nil, errors.New(`-sms-header: want "Name: value"`)
		}
	}
	if c.dataDir == "" {
		c.dataDir = defaultDataDir()
	}
	if abs, err := filepath.Abs(c.dataDir); err == nil {
		c.dataDir = abs
	}
	return c, nil
}

// parsePrefix reads a CIDR range, or one address as a range of one.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// modulePath is this module's path, as its go.mod names it.
const modulePath = "github.com/twofactorkit/twofactor"

// defaultDataDir is examples/webapp/.data in the checkout of this module
// that holds the working directory, so that each checkout keeps its own
// database and key beside its code; run from anywhere else, it is
// twofactor-webapp in the user cache directory, or in the temporary
// directory when there is none.
func defaultDataDir() string {
	if wd, err := os.Getwd(); err == nil {
		if root, ok := checkoutRoot(wd); ok {
			return filepath.Join(root, "examples", "webapp", ".data")
		}
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "twofactor-webapp")
}

// checkoutRoot walks up from dir to the directory whose go.mod declares
// this module, passing other modules' go.mod files.
func checkoutRoot(dir string) (string, bool) {
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declares(string(b), modulePath) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// declares reports whether the go.mod text gomod has the module line of
// path (quoted or not, with or without a comment after it).
func declares(gomod, path string) bool {
	for line := range strings.Lines(gomod) {
		line, _, _ = strings.Cut(line, "//")
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`+"`") == path
		}
	}
	return false
}

func getenv(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
