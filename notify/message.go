package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/trust"
)

// Data is what the templates see: the texts of the message, already put
// together from Strings, and the facts they were made from, for a host's
// own templates. No field ever holds a code, a secret, an email address or
// a full phone number.
type Data struct {
	Kind        Kind
	Lang        string // Strings.Lang
	Dir         string // Strings.Dir: "ltr" or "rtl"
	ProductName string // Config.ProductName, possibly empty
	DisplayName string // twofactor.User.DisplayName, possibly empty

	// The message, from Strings.
	Subject  string   // the kind's subject (the template adds the product name)
	Greeting string   // "Hello Ann,"
	Intro    string   // what happened
	Facts    []string // "When: ...", "Network: ...", one line each
	Folded   string   // "3 more attempts since our previous message.", or empty
	Advice   string   // what to do if it was not the user
	LinkText string   // "Review your trusted devices", when LinkURL is set
	LinkURL  string   // from Config.Links, possibly empty
	Footer   string

	// The facts.
	Time        time.Time        // when it happened, in Config.Location
	Method      twofactor.Method // the method added or removed, or used
	MethodName  string           // its name and masked label: "Text message (+1 *** *** **12)"
	IP          string           // the client's address, when the event has one
	Network     string           // the address as shown, with its place when Config.Locate names one
	Browser     string           // "Firefox on Linux", from the event's user agent, when it has one
	Device      string           // a trusted device's label
	Actor       string           // the administrator
	Until       time.Time        // a lockout's end, a trust's or a recovery code's expiry
	Remaining   int              // backup codes left (BackupCodesLow)
	Attempts    int              // wrong answers of the attempt this message is about; of the run that locked sign-in (Lockout)
	FoldedCount int              // attempts since the previous message that had none of their own
	Since       time.Time        // when the previous message was sent, if FoldedCount > 0
}

// Templates override the messages. Nil fields use the defaults below; one
// set serves every kind (Data.Kind tells them apart). New renders every
// kind with sample data to check them.
//
// The default subject is "<ProductName>: <Strings.Kinds[kind].Subject>"; the
// text part is the greeting, the intro, the facts one per line, the folded
// attempts, the advice, the link and the footer; the HTML part is the
// same, with the link as an anchor.
type Templates struct {
	// Subject is one line; a rendered subject with a line break is refused.
	Subject *texttemplate.Template
	// Text is the plain-text part, always sent.
	Text *texttemplate.Template
	// HTML is the HTML part; html/template escapes the data.
	HTML *htmltemplate.Template
}

const defaultSubject = `{{if .ProductName}}{{.ProductName}}: {{end}}{{.Subject}}`

const defaultText = `{{.Greeting}}

{{.Intro}}
{{if .Facts}}
{{range .Facts}}    {{.}}
{{end}}{{end}}{{if .Folded}}
{{.Folded}}
{{end}}
{{.Advice}}
{{if .LinkURL}}
{{.LinkText}}: {{.LinkURL}}
{{end}}
-- 
{{.Footer}}
`

const defaultHTML = `<!DOCTYPE html>
<html lang="{{.Lang}}" dir="{{.Dir}}"><body style="font-family: sans-serif">
<p>{{.Greeting}}</p>
<p>{{.Intro}}</p>
{{if .Facts}}<ul>
{{range .Facts}}<li>{{.}}</li>
{{end}}</ul>
{{end}}{{if .Folded}}<p>{{.Folded}}</p>
{{end}}<p><strong>{{.Advice}}</strong></p>
{{if .LinkURL}}<p><a href="{{.LinkURL}}">{{.LinkText}}</a></p>
{{end}}<p style="color: #666; font-size: 12px">{{.Footer}}</p>
</body></html>
`

var (
	defSubject = texttemplate.Must(texttemplate.New("subject").Parse(defaultSubject))
	defText    = texttemplate.Must(texttemplate.New("text").Parse(defaultText))
	defHTML    = htmltemplate.Must(htmltemplate.New("html").Parse(defaultHTML))
)

type templates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func (t Templates) resolve() templates {
	out := templates{subject: t.Subject, text: t.Text, html: t.HTML}
	if out.subject == nil {
		out.subject = defSubject
	}
	if out.text == nil {
		out.text = defText
	}
	if out.html == nil {
		out.html = defHTML
	}
	return out
}

func (t templates) render(d *Data) (emailcode.Message, error) {
	var b bytes.Buffer
	if err := t.subject.Execute(&b, d); err != nil {
		return emailcode.Message{}, fmt.Errorf("subject template: %w", err)
	}
	subject := strings.TrimSpace(b.String())
	if subject == "" || strings.ContainsAny(subject, "\r\n") {
		return emailcode.Message{}, fmt.Errorf("subject template must render one non-empty line")
	}
	b.Reset()
	if err := t.text.Execute(&b, d); err != nil {
		return emailcode.Message{}, fmt.Errorf("text template: %w", err)
	}
	text := b.String()
	b.Reset()
	if err := t.html.Execute(&b, d); err != nil {
		return emailcode.Message{}, fmt.Errorf("html template: %w", err)
	}
	return emailcode.Message{Subject: subject, Text: text, HTML: b.String()}, nil
}

// facts is what a message is about, gathered from its event(s).
type facts struct {
	text        *Strings // the table of the message's language
	kind        Kind
	user        twofactor.User
	time        time.Time
	method      twofactor.Method
	label       string // the enrollment's masked label, if known
	ip          string
	browser     string
	device      string
	actor       string
	until       time.Time
	remaining   int
	attempts    int
	foldedCount int
	since       time.Time
}

// data puts the message's texts together.
func (n *Notifier) data(f facts) *Data {
	s := f.text
	kt := s.kind(f.kind)
	d := &Data{
		Kind: f.kind, Lang: s.Lang, Dir: s.Dir, ProductName: n.product, DisplayName: f.user.DisplayName,
		Subject: kt.Subject, Advice: kt.Advice, Footer: s.Footer,
		Time: f.time.In(n.loc), Method: f.method, IP: f.ip, Browser: f.browser, Device: f.device,
		Actor: f.actor, Remaining: f.remaining, Attempts: f.attempts, FoldedCount: f.foldedCount,
	}
	if !f.until.IsZero() {
		d.Until = f.until.In(n.loc)
	}
	if !f.since.IsZero() {
		d.Since = f.since.In(n.loc)
	}
	d.Greeting = s.GreetingNoName
	if f.user.DisplayName != "" {
		d.Greeting = s.fact(s.Greeting, oneLine(f.user.DisplayName))
	}
	if f.method != "" {
		d.MethodName = s.method(f.method)
		// A label that is the method's English name is the name a factor
		// gives an enrollment its user did not name: the method's name in
		// the message's language says it.
		if f.label != "" && f.label != d.MethodName && f.label != f.method.Label() {
			d.MethodName += " (" + f.label + ")"
		}
	}
	d.Intro = kt.Intro
	if f.kind == MethodAdded || f.kind == MethodRemoved {
		name := d.MethodName
		if name == "" {
			name = s.Unknown
		}
		d.Intro = s.fact(kt.Intro, name)
	}
	n.addFacts(d, f)
	d.LinkText, d.LinkURL = n.link(s, f.kind)
	return d
}

// addFacts puts the lines that state f's facts, and the folded attempts,
// in d.
func (n *Notifier) addFacts(d *Data, f facts) {
	s := f.text
	when := func(t time.Time) string { return s.when(t.In(n.loc)) }
	add := func(format string, v any) { d.Facts = append(d.Facts, s.fact(format, v)) }
	add(s.When, when(f.time))
	d.Network = s.Unknown
	if f.ip != "" {
		d.Network = n.network(f.ip)
	}
	switch f.kind {
	case FailedSecondStep:
		add(s.Network, d.Network)
		browser := f.browser
		if browser == "" {
			browser = s.Unknown
		}
		add(s.Browser, browser)
		if f.method != "" {
			add(s.Method, d.MethodName)
		}
		if f.attempts > 1 {
			add(s.Attempts, f.attempts)
		}
		if f.foldedCount > 0 {
			d.Folded = s.Folded.Format(s.tag, f.foldedCount)
		}
	case DeviceTrusted:
		device := f.device
		if device == "" {
			device = s.Unknown
		}
		add(s.Device, device)
		add(s.Network, d.Network)
	case Lockout:
		if f.ip != "" {
			add(s.Network, d.Network)
		}
		if f.browser != "" {
			add(s.Browser, f.browser)
		}
		if f.attempts > 0 {
			add(s.Attempts, f.attempts)
		}
	case AdminReset, RecoveryCodeIssued:
		if f.actor != "" {
			add(s.By, oneLine(f.actor))
		}
	case BackupCodesLow:
		add(s.Remaining, f.remaining)
	case MethodAdded, MethodRemoved, TurnedOn:
		if f.method != "" && f.kind == TurnedOn {
			add(s.Method, d.MethodName)
		}
		if f.ip != "" {
			add(s.Network, d.Network)
		}
	}
	if !f.until.IsZero() {
		add(s.Until, when(f.until))
	}
}

// link returns the link a kind's message ends with.
func (n *Notifier) link(s *Strings, k Kind) (string, string) {
	l := n.links
	switch {
	case k == DeviceTrusted && l.Devices != "":
		return s.LinkDevices, l.Devices
	case (k == FailedSecondStep || k == Lockout) && l.Password != "":
		return s.LinkPassword, l.Password
	case l.Security != "":
		return s.LinkSecurity, l.Security
	}
	return "", ""
}

// browserLabel names the browser of a user agent as the devices page does
// ("Firefox on Linux"), or "" when there is none.
func browserLabel(ua string) string {
	if ua == "" {
		return ""
	}
	return trust.ParseAgent(ua).Label()
}

// oneLine keeps a host-given name from adding lines to a message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
