package onetime

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"slices"
	"sync"
	"time"
)

// DefaultOutboxMax is how many messages an Outbox keeps by default.
const DefaultOutboxMax = 100

// Outbox keeps the messages of a development sender in memory: the email
// and SMS outboxes are thin wrappers around it. Its zero value is ready to
// use and it is safe for concurrent use.
type Outbox[M any] struct {
	mu   sync.Mutex
	msgs []M
	fail error
}

// Keep stores m, dropping the oldest messages beyond max (zero or less
// means DefaultOutboxMax). It fails with the error set by FailWith, if any.
func (o *Outbox[M]) Keep(ctx context.Context, m M, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	if max <= 0 {
		max = DefaultOutboxMax
	}
	o.msgs = append(o.msgs, m)
	if len(o.msgs) > max {
		o.msgs = slices.Delete(o.msgs, 0, len(o.msgs)-max)
	}
	return nil
}

// FailWith makes later Keeps fail with err; nil restores delivery.
func (o *Outbox[M]) FailWith(err error) {
	o.mu.Lock()
	o.fail = err
	o.mu.Unlock()
}

// Messages returns the kept messages, oldest first.
func (o *Outbox[M]) Messages() []M {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.msgs)
}

// Last returns the newest message for which match is true.
func (o *Outbox[M]) Last(match func(M) bool) (M, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.msgs) - 1; i >= 0; i-- {
		if match(o.msgs[i]) {
			return o.msgs[i], true
		}
	}
	var zero M
	return zero, false
}

// Reset forgets every message.
func (o *Outbox[M]) Reset() {
	o.mu.Lock()
	o.msgs = nil
	o.mu.Unlock()
}

// An Entry is one message as the outbox page shows it.
type Entry struct {
	Time    time.Time // when it was sent
	To      string    // the address or number
	Subject string    // empty for an SMS
	Text    string    // the plain text
}

// OutboxTimeFormat is how the outbox page writes a message's time.
const OutboxTimeFormat = "2006-01-02 15:04:05 MST"

// outboxPage is the page of an outbox: self-contained (no script, no
// stylesheet or font to fetch), every value escaped by html/template.
var outboxPage = template.Must(template.New("outbox").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 48rem; padding: 0 1rem; color: #222; }
.note { color: #8a4b00; background: #fff4e0; padding: .5rem .75rem; border-radius: 4px; }
article { border: 1px solid #ddd; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
article header { color: #555; font-size: .9rem; }
h2 { font-size: 1.05rem; margin: .5rem 0; }
pre { white-space: pre-wrap; word-break: break-word; background: #f6f6f6; padding: .75rem; border-radius: 4px; margin: .5rem 0 0; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="note">Development only: these messages were kept instead of sent, and hold live codes. Newest first.</p>
{{range .Entries}}<article>
<header><time datetime="{{.ISO}}">{{.Shown}}</time> to <strong>{{.To}}</strong></header>
{{if .Subject}}<h2>{{.Subject}}</h2>
{{end}}<pre>{{.Text}}</pre>
</article>
{{else}}<p>No messages yet.</p>
{{end}}</body>
</html>
`))

type outboxEntry struct {
	ISO, Shown, To, Subject, Text string
}

// Serve answers a GET or HEAD with the page titled title listing the kept
// messages, newest first, as entry shows each; any other method is 405.
// The page is sent with no-store caching, since it holds live codes, and
// a Content-Security-Policy that allows nothing but its own inline
// style.
func (o *Outbox[M]) Serve(w http.ResponseWriter, r *http.Request, title string, entry func(M) Entry) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	msgs := o.Messages()
	data := struct {
		Title   string
		Entries []outboxEntry
	}{Title: title, Entries: make([]outboxEntry, 0, len(msgs))}
	for i := len(msgs) - 1; i >= 0; i-- {
		e := entry(msgs[i])
		data.Entries = append(data.Entries, outboxEntry{ISO: e.Time.Format(time.RFC3339), Shown: e.Time.Format(OutboxTimeFormat),
			To: e.To, Subject: e.Subject, Text: e.Text})
	}
	var b bytes.Buffer
	if err := outboxPage.Execute(&b, data); err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b.Bytes())
}
