package emailcode

import (
	"context"
	htmltemplate "html/template"
	"strings"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/i18n"
)

// executed returns the default templates as a host passing them in
// Templates would have them: executed, not written by the direct path.
func executed(t testing.TB) templates {
	t.Helper()
	out := templates{
		subject: texttemplate.Must(texttemplate.New("subject").Parse(defaultSubject)),
		text:    texttemplate.Must(texttemplate.New("text").Parse(defaultText)),
		html:    htmltemplate.Must(htmltemplate.New("html").Parse(defaultHTML)),
	}
	require.NotSame(t, defText, out.text)
	return out
}

// defaults returns the templates resolve picks when none are given.
func defaults(t testing.TB) templates {
	t.Helper()
	langs, err := newLanguages(i18n.Default())
	require.NoError(t, err)
	d, err := Templates{}.resolve(langs, "", 6, 10*time.Minute)
	require.NoError(t, err)
	require.Same(t, defText, d.text)
	return d
}

// The default message is written directly, not executed; what it writes
// is what the templates render, byte for byte, in every language of the
// default catalogue, for every purpose, and with a product name, a display
// name and a code that need escaping in HTML.
func TestDefaultTemplatesWritten(t *testing.T) {
	cat := i18n.Default()
	langs, err := newLanguages(cat)
	require.NoError(t, err)
	direct, slow := defaults(t), executed(t)
	names := []string{"", "Ann", "ann+1", `O'Brien & <Sons> "+1"`, "a\x00b", "\xff\xfe", "ﻣﺮﺣﺒﺎ", "  spaced  "}
	products := []string{"", "Acme", "A+B <Co> & 'Partners'"}
	purposes := []string{"login", "step_up", "enroll", PurposeEmailVerify}
	n := 0
	for _, tag := range cat.Languages() {
		ctx := i18n.WithLanguage(context.Background(), tag)
		for _, product := range products {
			for _, name := range names {
				for i, purpose := range purposes {
					d := Data{ProductName: product, DisplayName: name, Code: "0123456789"[i : i+6], Minutes: 1 + 7*i,
						ExpiresAt: time.Unix(1700000000, 0), Purpose: purpose}
					d.Text = langs.text(ctx, "", &d)
					want, err := slow.render(d)
					require.NoError(t, err)
					got, err := direct.render(d)
					require.NoError(t, err)
					require.Equal(t, want, got, "%s, product %q, name %q, %s", tag, product, name, purpose)
					n++
				}
			}
		}
	}
	require.Greater(t, n, 100)
	// The checks after the subject apply to the direct path as well.
	_, err = direct.render(Data{Text: Text{Subject: " \t"}})
	require.ErrorContains(t, err, "one non-empty line")
	_, err = direct.render(Data{Text: Text{Subject: "a\nb"}})
	require.ErrorContains(t, err, "one non-empty line")
}

// FuzzDefaultTemplates: for any sentences, name and code, the direct path
// writes what the default templates render.
func FuzzDefaultTemplates(f *testing.F) {
	f.Add("Hello Ann,", "Your code is:", "123456", "It expires in 10 minutes.", "de", "rtl")
	f.Add("", "<b>&amp;</b>", "12+34", "'\"", "\x00", "r+l")
	f.Add("\xff", "a\u2028b", "", "\r\n", "en-US", "ltr")
	direct, slow := defaults(f), executed(f)
	f.Fuzz(func(t *testing.T, greeting, intro, code, expires, lang, dir string) {
		d := Data{Code: code, Text: Text{Lang: lang, Dir: dir, Subject: "Subject " + intro, Greeting: greeting,
			Intro: intro, Expires: expires, NotYou: expires + greeting, NeverShare: strings.ToUpper(intro)}}
		want, werr := slow.render(d)
		got, gerr := direct.render(d)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("executed: %v, direct: %v", werr, gerr)
		}
		if got != want {
			t.Fatalf("direct path differs:\n got %#v\nwant %#v", got, want)
		}
	})
}

// BenchmarkRender: the default message, as each code sent renders it.
func BenchmarkRender(b *testing.B) {
	langs, err := newLanguages(i18n.Default())
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		t    templates
	}{{"direct", defaults(b)}, {"executed", executed(b)}} {
		b.Run(bc.name, func(b *testing.B) {
			d := Data{ProductName: "Acme", DisplayName: "Ann", Code: "123456", Minutes: 10, Purpose: "login"}
			b.ReportAllocs()
			for b.Loop() {
				d.Text = langs.text(context.Background(), "", &d)
				if _, err := bc.t.render(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
