package emailcode

import (
	"context"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/internal/onetime"
	"golang.org/x/text/language"
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
	// Text is the default message's sentences in the message's language,
	// for templates that keep its words and change its form.
	Text Text
}

// Text is the default message in one language, sentence by sentence,
// from the catalogue's "email." keys (package i18n).
type Text struct {
	Lang       string // the language's BCP 47 tag: "de"
	Dir        string // "ltr" or "rtl"
	Subject    string // "Your Acme verification code"
	Greeting   string // "Hello Ann,", or "" without a display name
	Intro      string // "Your Acme verification code is:"
	Expires    string // "It expires in 10 minutes."
	NotYou     string // what to do if the user did not ask for it, by purpose
	NeverShare string // "Never share this code with anyone."
}

// texts are the catalogue's "email." keys in one language.
type texts struct {
	tag                                                    language.Tag
	dir                                                    string
	Subject, SubjectProduct, Greeting, Intro, IntroProduct string
	Expires                                                i18n.Plural
	NotYouSignIn, NotYouAddress, NeverShare                string
}

// languages are the message's texts in every language of a catalogue.
type languages struct {
	cat *i18n.Catalog
	by  map[language.Tag]*texts
}

func newLanguages(cat *i18n.Catalog) (*languages, error) {
	l := &languages{cat: cat, by: map[language.Tag]*texts{}}
	for _, tag := range cat.Languages() {
		t := &texts{tag: tag, dir: cat.Direction(tag)}
		if err := cat.Fill(tag, "email.", t); err != nil {
			return nil, onetime.ConfigError(pkg, "Languages: %v", err)
		}
		l.by[tag] = t
	}
	return l, nil
}

// text returns the sentences of d in the language of a message to u
// sent while serving ctx.
func (l *languages) text(ctx context.Context, userLang string, d *Data) Text {
	t := l.by[l.cat.MessageLanguage(ctx, userLang)]
	if t == nil {
		t = l.by[language.English]
	}
	out := Text{Lang: t.tag.String(), Dir: t.dir, Subject: t.Subject, Intro: t.Intro, NeverShare: t.NeverShare,
		Expires: t.Expires.Format(t.tag, d.Minutes), NotYou: t.NotYouSignIn}
	if d.ProductName != "" {
		out.Subject, out.Intro = fmt.Sprintf(t.SubjectProduct, d.ProductName), fmt.Sprintf(t.IntroProduct, d.ProductName)
	}
	if d.DisplayName != "" {
		out.Greeting = fmt.Sprintf(t.Greeting, d.DisplayName)
	}
	if d.Purpose == PurposeEmailVerify {
		out.NotYou = t.NotYouAddress
	}
	return out
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

const defaultSubject = `{{.Text.Subject}}`

const defaultText = `{{with .Text}}{{if .Greeting}}{{.Greeting}}

{{end}}{{.Intro}}

    {{$.Code}}

{{.Expires}} {{.NotYou}} {{.NeverShare}}
{{end}}`

const defaultHTML = `<!DOCTYPE html>
{{with .Text}}<html lang="{{.Lang}}" dir="{{.Dir}}"><body style="font-family: sans-serif">
{{if .Greeting}}<p>{{.Greeting}}</p>
{{end}}<p>{{.Intro}}</p>
<p dir="ltr" style="font-size: 28px; font-weight: bold; letter-spacing: 4px">{{$.Code}}</p>
<p>{{.Expires}} {{.NotYou}} {{.NeverShare}}</p>
</body></html>
{{end}}`

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

func (t Templates) resolve(langs *languages, product string, codeLen int, ttl time.Duration) (templates, error) {
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
	sample.Text = langs.text(context.Background(), "", &sample)
	m, err := out.render(sample)
	if err != nil {
		return templates{}, onetime.ConfigError(pkg, "%v", err)
	}
	if !strings.Contains(m.Text, sample.Code) || !strings.Contains(m.HTML, sample.Code) {
		return templates{}, onetime.ConfigError(pkg, "Templates.Text and Templates.HTML must show {{.Code}}")
	}
	return out, nil
}

// render executes the templates for d. The defaults are not executed:
// writeDefaultText and writeDefaultHTML write what they would, byte for
// byte (TestDefaultTemplatesWritten, FuzzDefaultTemplates), in a tenth of
// the time, since every code sent renders a message.
func (t templates) render(d Data) (Message, error) {
	var b strings.Builder
	if t.subject == defSubject {
		b.WriteString(d.Text.Subject)
	} else if err := t.subject.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("subject template: %w", err)
	}
	subject := strings.TrimSpace(b.String())
	if subject == "" || strings.ContainsAny(subject, "\r\n") {
		return Message{}, fmt.Errorf("subject template must render one non-empty line")
	}
	b = strings.Builder{}
	if t.text == defText {
		writeDefaultText(&b, &d)
	} else if err := t.text.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("text template: %w", err)
	}
	text := b.String()
	b = strings.Builder{}
	if t.html == defHTML {
		writeDefaultHTML(&b, &d)
	} else if err := t.html.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("html template: %w", err)
	}
	return Message{Subject: subject, Text: text, HTML: b.String()}, nil
}

// The default message's parts are written into buffers of these sizes,
// which hold the longest language's sentences with a long display name.
const textSize, htmlSize = 512, 1024

// writeDefaultText writes defaultText for d.
func writeDefaultText(b *strings.Builder, d *Data) {
	t := &d.Text
	b.Grow(textSize)
	if t.Greeting != "" {
		b.WriteString(t.Greeting)
		b.WriteString("\n\n")
	}
	for _, s := range []string{t.Intro, "\n\n    ", d.Code, "\n\n", t.Expires, " ", t.NotYou, " ", t.NeverShare, "\n"} {
		b.WriteString(s)
	}
}

// writeDefaultHTML writes defaultHTML for d, escaping as html/template
// does in a text node and in a quoted attribute value of no special type.
func writeDefaultHTML(b *strings.Builder, d *Data) {
	t := &d.Text
	b.Grow(htmlSize)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"")
	writeEscaped(b, t.Lang)
	b.WriteString(`" dir="`)
	writeEscaped(b, t.Dir)
	b.WriteString("\"><body style=\"font-family: sans-serif\">\n")
	if t.Greeting != "" {
		b.WriteString("<p>")
		writeEscaped(b, t.Greeting)
		b.WriteString("</p>\n")
	}
	b.WriteString("<p>")
	writeEscaped(b, t.Intro)
	b.WriteString("</p>\n<p dir=\"ltr\" style=\"font-size: 28px; font-weight: bold; letter-spacing: 4px\">")
	writeEscaped(b, d.Code)
	b.WriteString("</p>\n<p>")
	writeEscaped(b, t.Expires)
	b.WriteByte(' ')
	writeEscaped(b, t.NotYou)
	b.WriteByte(' ')
	writeEscaped(b, t.NeverShare)
	b.WriteString("</p>\n</body></html>\n")
}

// writeEscaped writes s as html/template prints a string in a text node or
// a quoted attribute value: HTMLEscapeString's escapes (NUL becomes
// U+FFFD) and '+' as "&#43;".
func writeEscaped(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, "'\"&<>+\x00") {
		b.WriteString(s)
		return
	}
	b.WriteString(strings.ReplaceAll(htmltemplate.HTMLEscapeString(s), "+", "&#43;"))
}
