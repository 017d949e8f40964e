package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/smscode"
)

// mailSender sends email through SMTP, except to the reserved
// example.com domain (RFC 2606), which no server accepts: the demo users'
// mail stays in the outbox.
type mailSender struct {
	smtp   emailcode.Sender // nil: everything goes to the outbox
	outbox *emailcode.Outbox
}

func (s *mailSender) Send(ctx context.Context, m emailcode.Message) error {
	if s.smtp == nil || strings.HasSuffix(strings.ToLower(m.To), "@example.com") {
		return s.outbox.Send(ctx, m)
	}
	return s.smtp.Send(ctx, m)
}

// fictional matches the North American numbers set aside for fiction,
// 555-0100 to 555-0199 in any area code: the demo users' numbers.
var fictional = regexp.MustCompile(`^\+1\d{3}55501\d\d$`)

// smsSender sends SMS through a gateway, except to fictional numbers,
// which stay in the outbox.
type smsSender struct {
	gateway smscode.Sender // nil: everything goes to the outbox
	outbox  *smscode.Outbox
}

func (s *smsSender) Send(ctx context.Context, m smscode.Message) error {
	if s.gateway == nil || fictional.MatchString(m.To) {
		return s.outbox.Send(ctx, m)
	}
	return s.gateway.Send(ctx, m)
}

// newSMTP reads -smtp: smtp://user:pass@host:587 (STARTTLS),
// smtps://user:pass@host:465 (TLS), or ?tls=off for a local mail catcher.
func newSMTP(raw, from string) (emailcode.Sender, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("-smtp: want smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	cfg := emailcode.SMTPConfig{Host: u.Hostname(), From: from}
	switch u.Scheme {
	case "smtp":
		cfg.TLS = emailcode.StartTLS
	case "smtps":
		cfg.TLS = emailcode.ImplicitTLS
	default:
		return nil, fmt.Errorf("-smtp: unknown scheme %q: use smtp:// or smtps://", u.Scheme)
	}
	if tls := u.Query().Get("tls"); tls == "off" {
		cfg.TLS = emailcode.NoTLS
	} else if tls != "" {
		return nil, errors.New("-smtp: tls=off is the only option")
	}
	if p := u.Port(); p != "" {
		if cfg.Port, err = strconv.Atoi(p); err != nil {
			return nil, errors.New("-smtp: the port is not a number")
		}
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	s, err := emailcode.NewSMTP(cfg)
	if err != nil {
		return nil, fmt.Errorf("-smtp: %w", err)
	}
	return s, nil
}

// newGateway reads -sms-gateway, -sms-header and -sms-from.
func newGateway(raw, header, from string) (smscode.Sender, error) {
	cfg := smscode.GatewayConfig{URL: raw}
	if header != "" {
		name, value, _ := strings.Cut(header, ":")
		cfg.Header = http.Header{}
		cfg.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if from != "" {
		cfg.Fields = map[string]string{"from": from}
	}
	g, err := smscode.NewGateway(cfg)
	if err != nil {
		return nil, fmt.Errorf("-sms-gateway: %w", err)
	}
	return g, nil
}
