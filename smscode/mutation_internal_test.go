package smscode

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"context"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// A gateway whose config sets no client and no timeout still gives up
// after 10 seconds: a hung gateway must not hold a sign-in forever.
func TestGatewayDefaultTimeout(t *testing.T) {
	g, err := NewGateway(GatewayConfig{URL: "https://sms.example.com/send"})
	if err != nil {
		t.Fatal(err)
	}
	if g.client.Timeout != 10*time.Second {
		t.Fatalf("client timeout %s, want 10s", g.client.Timeout)
	}
	g, err = NewGateway(GatewayConfig{URL: "https://sms.example.com/send", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if g.client.Timeout != 3*time.Second {
		t.Fatalf("client timeout %s, want 3s", g.client.Timeout)
	}
}

// The default message is joined directly, not executed; in every
// language of the catalogue, with and without a product name or a WebOTP
// line, it is what the default template renders.
func TestDefaultTemplateJoined(t *testing.T) {
	var direct, executed *Factor
	k, err := keyring.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []**Factor{&direct, &executed} {
		f, err := New(twofactor.Env{Store: store.NewMemory(), Keys: kr},
			Config{Sender: &Outbox{}, WebOTPDomain: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		*p = f
	}
	executed.tmpl = texttemplate.Must(texttemplate.New("sms").Parse(defaultTemplate))
	n := 0
	for _, tag := range direct.cat.Languages() {
		ctx := i18n.WithLanguage(context.Background(), tag)
		for _, product := range []string{"", "Acme", "A+B <Co> \r\n"} {
			for _, webOTP := range []string{"", "example.com"} {
				direct.webOTP, executed.webOTP = webOTP, webOTP
				d := Data{ProductName: product, Code: "012345", Minutes: 1 + n%15, Purpose: "login"}
				d.Text = direct.text(ctx, "", &d)
				want, err := executed.render(d)
				if err != nil {
					t.Fatal(err)
				}
				got, err := direct.render(d)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("%s, product %q: joined %q, executed %q", tag, product, got, want)
				}
				n++
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d messages compared", n)
	}
	// Trailing spaces and line breaks go on both paths.
	d := Data{Code: "1", Text: Text{Code: "1 is your code.", Expires: "\r\n"}}
	if got, _ := direct.render(d); got != "1 is your code.\n\n@example.com #1" {
		t.Fatalf("got %q", got)
	}
}
