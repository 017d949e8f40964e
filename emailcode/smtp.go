package emailcode

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/twofactorkit/twofactor/internal/onetime"
)

// TLSMode says how the SMTP connection is encrypted.
type TLSMode int

// TLS modes.
const (
	// StartTLS connects in plain text and upgrades with STARTTLS, which the
	// server must offer (submission, port 587). The default.
	StartTLS TLSMode = iota
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS
	// NoTLS sends in plain text. Allowed only to a loopback host (a local
	// relay or a development mail catcher), and then without auth.
	NoTLS
)

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// Host is the server's name, also checked against its certificate.
	// Required.
	Host string
	// Port defaults to 587 for StartTLS, 465 for ImplicitTLS and 25 for
	// NoTLS.
	Port int
	// Username and Password, when Username is set, authenticate with the
	// strongest mechanism the server offers over the encrypted connection
	// (SCRAM, CRAM-MD5, PLAIN or LOGIN).
	Username string
	Password string
	// From is the sender address ("Example <no-reply@example.com>").
	// Required.
	From string
	// TLS is the encryption mode. Zero means StartTLS.
	TLS TLSMode
	// TLSConfig overrides the TLS settings (extra root CAs, say). Nil means
	// the system roots and ServerName = Host, TLS 1.2 at least.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each command. Zero means 15 seconds.
	Timeout time.Duration
	// HELO is the name sent in EHLO. Empty means the local host name.
	HELO string
}

// SMTP sends messages through an SMTP server, one connection per message,
// with go-mail. It is safe for concurrent use.
type SMTP struct {
	cfg  SMTPConfig
	opts []gomail.Option
}

var _ Sender = (*SMTP)(nil)

// NewSMTP validates cfg and returns a sender. Errors wrap twofactor.ErrConfig.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	bad := func(format string, args ...any) (*SMTP, error) {
		return nil, onetime.ConfigError(pkg, format, args...)
	}
	if cfg.Host == "" {
		return bad("SMTPConfig.Host is empty")
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return bad("SMTPConfig.From %q is not an address: %v", cfg.From, err)
	}
	if cfg.Timeout < 0 {
		return bad("SMTPConfig.Timeout must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return bad("SMTPConfig.Port %d is out of range", cfg.Port)
	}
	tlsConf := cfg.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	} else {
		tlsConf = tlsConf.Clone()
		if tlsConf.ServerName == "" {
			tlsConf.ServerName = cfg.Host
		}
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout)}
	switch cfg.TLS {
	case StartTLS:
		cfg.Port = cmp.Or(cfg.Port, 587)
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(tlsConf))
	case ImplicitTLS:
		cfg.Port = cmp.Or(cfg.Port, 465)
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSConfig(tlsConf))
	case NoTLS:
		cfg.Port = cmp.Or(cfg.Port, 25)
		if !isLoopback(cfg.Host) {
			return bad("SMTPConfig.TLS is NoTLS but Host %q is not a loopback address: use StartTLS or ImplicitTLS", cfg.Host)
		}
		if cfg.Username != "" {
			return bad("SMTPConfig.TLS is NoTLS: credentials are never sent unencrypted, drop Username or use TLS")
		}
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return bad("SMTPConfig.TLS %d is not a TLS mode", cfg.TLS)
	}
	opts = append(opts, gomail.WithPort(cfg.Port))
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	s := &SMTP{cfg: cfg, opts: opts}
	if _, err := s.client(); err != nil {
		return bad("%v", err)
	}
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// client builds a go-mail client. A client per message keeps Send safe for
// concurrent use whatever go-mail caches on its client.
func (s *SMTP) client() (*gomail.Client, error) {
	return gomail.NewClient(s.cfg.Host, slices.Clone(s.opts)...)
}

// Send delivers m. The message has a plain-text part and, when m.HTML is
// set, an HTML alternative.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("emailcode: smtp from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("emailcode: smtp recipient: %w", err)
	}
	msg.Subject(strings.TrimSpace(m.Subject))
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("emailcode: smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("emailcode: smtp: %w", err)
	}
	return nil
}

// Outbox is a development Sender that keeps messages in memory instead of
// mailing them, for an example app to display and for tests. It is an
// http.Handler too: a page listing the messages, newest first, for a
// development server (mux.Handle("GET /outbox", outbox)). It is safe for
// concurrent use. Never use it in production, nor serve its page beyond
// localhost: it holds live codes in plain text.
type Outbox struct {
	// Max bounds how many messages are kept; the oldest go first. Zero
	// means 100.
	Max int
	// Now stamps a message sent without its Time. Nil means time.Now.
	// The factor sets every code's Time from its Env's clock.
	Now func() time.Time

	box onetime.Outbox[Message]
}

var (
	_ Sender       = (*Outbox)(nil)
	_ http.Handler = (*Outbox)(nil)
)

// Send keeps m, with its Time, or the Outbox's clock's time when it has
// none.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	if m.Time.IsZero() {
		m.Time = o.now()
	}
	return o.box.Keep(ctx, m, o.Max)
}

func (o *Outbox) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// FailWith makes later sends fail with err (nil restores delivery), to
// show what users see when the mail server is down.
func (o *Outbox) FailWith(err error) { o.box.FailWith(err) }

// Messages returns the kept messages, oldest first.
func (o *Outbox) Messages() []Message { return o.box.Messages() }

// Last returns the newest message to the address to, if any.
func (o *Outbox) Last(to string) (Message, bool) {
	return o.box.Last(func(m Message) bool { return strings.EqualFold(m.To, to) })
}

// Reset forgets every message.
func (o *Outbox) Reset() { o.box.Reset() }

// ServeHTTP answers a GET or HEAD with a self-contained HTML page of the
// kept messages, newest first: each one's time, recipient, subject and
// plain text, escaped. Other methods get 405. The page is never cached.
func (o *Outbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.box.Serve(w, r, "Email outbox", func(m Message) onetime.Entry {
		return onetime.Entry{Time: m.Time, To: m.To, Subject: m.Subject, Text: m.Text}
	})
}
