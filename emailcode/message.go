package emailcode

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/onetime"
)

// A Message is one email to deliver. Text is always set; HTML is its
// alternative part.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// Time is when the message was sent, by the clock of whoever sent it:
	// the factor sets it from its Env's. Zero means unknown; the Outbox
	// then records its own clock's time.
	Time time.Time
}

// Sender delivers messages. Send must return an error when the message was
// not accepted for delivery; it is called once per code and must be safe for
// concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Data is what the templates see.
type Data struct {
	ProductName string    // Config.ProductName, possibly empty
	DisplayName string    // twofactor.User.DisplayName, for the greeting; possibly empty
	Code        string    // the code
	Minutes     int       // minutes until the code expires, rounded up
	ExpiresAt   time.Time // when the code expires
	Purpose     string    // "login", "step_up", "enroll", or PurposeEmailVerify
}

// Templates override the message. Nil fields use the defaults shown in
// the package documentation. Templates are executed once per message and
// checked once in New with sample data.
type Templates struct {
	// Subject is one line; a rendered subject with a line break is refused.
	Subject *texttemplate.Template
	// Text is the plain-text part, always sent.
	Text *texttemplate.Template
	// HTML is the HTML part; html/template escapes the data.
	HTML *htmltemplate.Template
}

const defaultSubject = `{{if .ProductName}}Your {{.ProductName}} verification code{{else}}Your verification code{{end}}`

const defaultText = `{{if .DisplayName}}Hello {{.DisplayName}},

{{end}}Your {{if .ProductName}}{{.ProductName}} {{end}}verification code is:

    {{.Code}}

It expires in {{.Minutes}} minutes. {{if eq .Purpose "email_verify"}}If you did not ask to add this address, ignore this message.{{else}}If you did not try to sign in, ignore this message and consider changing your password.{{end}} Never share this code with anyone.
`

const defaultHTML = `<!DOCTYPE html>
<html><body style="font-family: sans-serif">
{{if .DisplayName}}<p>Hello {{.DisplayName}},</p>
{{end}}<p>Your {{if .ProductName}}{{.ProductName}} {{end}}verification code is:</p>
<p style="font-size: 28px; font-weight: bold; letter-spacing: 4px">{{.Code}}</p>
<p>It expires in {{.Minutes}} minutes. {{if eq .Purpose "email_verify"}}If you did not ask to add this address, ignore this message.{{else}}If you did not try to sign in, ignore this message and consider changing your password.{{end}} Never share this code with anyone.</p>
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

func (t Templates) resolve(product string, codeLen int, ttl time.Duration) (templates, error) {
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
	sample := Data{ProductName: product, DisplayName: "Sample", Code: strings.Repeat("0", codeLen),
		Minutes: int(ttl / time.Minute), ExpiresAt: time.Unix(0, 0).Add(ttl), Purpose: string(twofactor.PurposeLogin)}
	m, err := out.render(sample)
	if err != nil {
		return templates{}, onetime.ConfigError(pkg, "%v", err)
	}
	if !strings.Contains(m.Text, sample.Code) || !strings.Contains(m.HTML, sample.Code) {
		return templates{}, onetime.ConfigError(pkg, "Templates.Text and Templates.HTML must show {{.Code}}")
	}
	return out, nil
}

func (t templates) render(d Data) (Message, error) {
	var b bytes.Buffer
	if err := t.subject.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("subject template: %w", err)
	}
	subject := strings.TrimSpace(b.String())
	if subject == "" || strings.ContainsAny(subject, "\r\n") {
		return Message{}, fmt.Errorf("subject template must render one non-empty line")
	}
	b.Reset()
	if err := t.text.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("text template: %w", err)
	}
	text := b.String()
	b.Reset()
	if err := t.html.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("html template: %w", err)
	}
	return Message{Subject: subject, Text: text, HTML: b.String()}, nil
}
