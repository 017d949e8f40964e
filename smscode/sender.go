package smscode

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor/internal/onetime"
)

// A Message is one SMS to deliver.
type Message struct {
	To   string // E.164 number
	Body string
	// Time is when the message was sent, by the clock of whoever sent it:
	// the factor sets it from its Env's. Zero means unknown; the Outbox
	// then records its own clock's time. Gateways do not send it.
	Time time.Time
}

// Sender delivers SMS messages. Send must return an error when the gateway
// did not accept the message; it must be safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// BodyFormat is how a Gateway encodes its request body.
type BodyFormat int

// Body formats.
const (
	// Form posts application/x-www-form-urlencoded fields. The default.
	Form BodyFormat = iota
	// JSON posts a JSON object of string fields.
	JSON
)

// GatewayConfig configures a generic HTTP SMS gateway sender: one POST per
// message carrying the number, the text and any fixed fields.
type GatewayConfig struct {
	// URL is the gateway endpoint. Required; https, or http to a loopback
	// host only (a local relay, a test server).
	URL string
	// Header is added to every request: put the gateway's auth here
	// ("Authorization: Bearer ...", "X-API-Key: ...").
	Header http.Header
	// Username, if set, sends HTTP basic auth with Password.
	Username string
	Password string
	// Format is the body encoding. Zero means Form.
	Format BodyFormat
	// ToField and TextField name the number and text fields. Empty means
	// "to" and "body".
	ToField   string
	TextField string
	// Fields are fixed fields sent with every message ("from": a sender id).
	Fields map[string]string
	// Timeout bounds each request. Zero means 10 seconds.
	Timeout time.Duration
	// Client sends the requests. Nil means a client with Timeout.
	Client *http.Client
}

// Gateway sends SMS through an HTTP API. Any 2xx status is success; any
// other status, or a transport error, is an error (a *GatewayError for a
// status). It is safe for concurrent use.
type Gateway struct {
	url      string
	header   http.Header
	user     string
	pass     string
	format   BodyFormat
	toField  string
	txtField string
	fields   map[string]string
	client   *http.Client
}

var _ Sender = (*Gateway)(nil)

// GatewayError reports a status other than 2xx from the gateway. The
// response body is not kept: gateways echo numbers in their errors.
type GatewayError struct {
	StatusCode int
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("smscode: gateway answered HTTP %d", e.StatusCode)
}

// NewGateway validates cfg and returns the sender. Errors wrap
// twofactor.ErrConfig.
func NewGateway(cfg GatewayConfig) (*Gateway, error) {
	bad := func(format string, args ...any) (*Gateway, error) {
		return nil, onetime.ConfigError(pkg, format, args...)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return bad("GatewayConfig.URL %q is not an absolute URL", cfg.URL)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return bad("GatewayConfig.URL must use https (http only to a loopback host)")
	}
	if cfg.Format != Form && cfg.Format != JSON {
		return bad("GatewayConfig.Format %d is not Form or JSON", cfg.Format)
	}
	if cfg.Timeout < 0 {
		return bad("GatewayConfig.Timeout must not be negative")
	}
	g := &Gateway{
		url:      u.String(),
		header:   cfg.Header.Clone(),
		user:     cfg.Username,
		pass:     cfg.Password,
		format:   cfg.Format,
		toField:  cmpOr(cfg.ToField, "to"),
		txtField: cmpOr(cfg.TextField, "body"),
		fields:   maps.Clone(cfg.Fields),
		client:   cfg.Client,
	}
	if g.toField == g.txtField {
		return bad("GatewayConfig.ToField and TextField are both %q", g.toField)
	}
	if g.client == nil {
		g.client = &http.Client{Timeout: cmp.Or(cfg.Timeout, 10*time.Second)}
	}
	return g, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send posts m to the gateway.
func (g *Gateway) Send(ctx context.Context, m Message) error {
	fields := make(map[string]string, len(g.fields)+2)
	maps.Copy(fields, g.fields)
	fields[g.toField] = m.To
	fields[g.txtField] = m.Body
	var body []byte
	var ctype string
	switch g.format {
	case JSON:
		b, err := json.Marshal(fields)
		if err != nil {
			return fmt.Errorf("smscode: encoding request: %w", err)
		}
		body, ctype = b, "application/json"
	default:
		v := url.Values{}
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			v.Set(k, fields[k])
		}
		body, ctype = []byte(v.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("smscode: building request: %w", err)
	}
	for k, vs := range g.header {
		req.Header[k] = slices.Clone(vs)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if g.user != "" {
		req.SetBasicAuth(g.user, g.pass)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		// url.Error carries the URL, never the body: no number leaks here.
		return fmt.Errorf("smscode: gateway request: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &GatewayError{StatusCode: resp.StatusCode}
	}
	return nil
}

// TwilioConfig configures a sender for the Twilio Messages API.
type TwilioConfig struct {
	// AccountSID and AuthToken authenticate (HTTP basic auth). Required.
	// An API key SID and secret work too, with AccountSID still set.
	AccountSID string
	AuthToken  string
	// APIKey, if set, is the basic-auth user instead of AccountSID.
	APIKey string
	// From is the sending number or sender id; or set MessagingServiceSID.
	From                string
	MessagingServiceSID string
	// BaseURL overrides https://api.twilio.com (for tests).
	BaseURL string
	// Timeout and Client are as in GatewayConfig.
	Timeout time.Duration
	Client  *http.Client
}

// NewTwilio returns a Gateway that posts to
// {BaseURL}/2010-04-01/Accounts/{AccountSID}/Messages.json as a form with
// To, Body, and From or MessagingServiceSid. Errors wrap twofactor.ErrConfig.
func NewTwilio(cfg TwilioConfig) (*Gateway, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" {
		return nil, onetime.ConfigError(pkg, "TwilioConfig needs AccountSID and AuthToken")
	}
	if strings.ContainsAny(cfg.AccountSID, "/?#% ") {
		return nil, onetime.ConfigError(pkg, "TwilioConfig.AccountSID %q is malformed", cfg.AccountSID)
	}
	fields := map[string]string{}
	switch {
	case cfg.MessagingServiceSID != "":
		fields["MessagingServiceSid"] = cfg.MessagingServiceSID
	case cfg.From != "":
		fields["From"] = cfg.From
	default:
		return nil, onetime.ConfigError(pkg, "TwilioConfig needs From or MessagingServiceSID")
	}
	base := strings.TrimRight(cmpOr(cfg.BaseURL, "https://api.twilio.com"), "/")
	return NewGateway(GatewayConfig{
		URL:       base + "/2010-04-01/Accounts/" + cfg.AccountSID + "/Messages.json",
		Username:  cmpOr(cfg.APIKey, cfg.AccountSID),
		Password:  cfg.AuthToken,
		Format:    Form,
		ToField:   "To",
		TextField: "Body",
		Fields:    fields,
		Timeout:   cfg.Timeout,
		Client:    cfg.Client,
	})
}

// Outbox is a development Sender that keeps messages in memory instead of
// sending them, for an example app to display and for tests. It is an
// http.Handler too: a page listing the messages, newest first, for a
// development server (mux.Handle("GET /sms-outbox", outbox)). It is safe
// for concurrent use. Never use it in production, nor serve its page
// beyond localhost: it holds live codes and full numbers in plain text.
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
// show what users see when the gateway is down.
func (o *Outbox) FailWith(err error) { o.box.FailWith(err) }

// Messages returns the kept messages, oldest first.
func (o *Outbox) Messages() []Message { return o.box.Messages() }

// Last returns the newest message to the E.164 number to, if any.
func (o *Outbox) Last(to string) (Message, bool) {
	return o.box.Last(func(m Message) bool { return m.To == to })
}

// Reset forgets every message.
func (o *Outbox) Reset() { o.box.Reset() }

// ServeHTTP answers a GET or HEAD with a self-contained HTML page of the
// kept messages, newest first: each one's time, number and text, escaped.
// Other methods get 405. The page is never cached.
func (o *Outbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.box.Serve(w, r, "SMS outbox", func(m Message) onetime.Entry {
		return onetime.Entry{Time: m.Time, To: m.To, Text: m.Body}
	})
}
