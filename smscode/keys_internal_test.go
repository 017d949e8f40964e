package smscode

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor/i18n"
)

// Every text of the message has its key in the English catalogue, and
// every "sms." key is one of them.
func TestEveryTextHasAKey(t *testing.T) {
	var tx texts
	require.NoError(t, i18n.Default().Fill(language.English, "sms.", &tx))
	require.Equal(t, i18n.Default().Keys(language.English, "sms."), slices.Sorted(maps.Keys(i18n.Extract("sms.", &tx))))
}

// The text speaks the request's language, else the user's, with the
// language's plural forms and word order.
func TestTextLanguage(t *testing.T) {
	texts, err := newTexts(i18n.Default())
	require.NoError(t, err)
	f := &Factor{cat: i18n.Default(), texts: texts}
	d := &Data{Code: "123456", Minutes: 2, ProductName: "Acme"}
	ar := f.text(i18n.WithLanguage(context.Background(), language.Arabic), "de", d)
	require.Equal(t, "ar", ar.Lang)
	require.Contains(t, ar.Code, "123456")
	d3 := *d
	d3.Minutes = 3
	require.NotEqual(t, ar.Expires, f.text(i18n.WithLanguage(context.Background(), language.Arabic), "", &d3).Expires, "Arabic's dual and its plural differ")
	de := f.text(context.Background(), "de-CH", d)
	require.Equal(t, "de", de.Lang)
	require.Contains(t, de.Expires, "2 Minuten")
	ja := f.text(context.Background(), "ja", d)
	require.Less(t, strings.Index(ja.Code, "Acme"), strings.Index(ja.Code, "123456"), "Japanese names the product first")
	en := f.text(context.Background(), "", d)
	require.Equal(t, "123456 is your Acme verification code.", en.Code)
	require.Equal(t, "It expires in 2 minutes.", en.Expires)
}
