package i18n_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor/i18n"
)

// shipped are the languages the library ships; each must have every
// key English has.
var shipped = []language.Tag{
	language.English, language.German, language.French, language.Spanish,
	language.BrazilianPortuguese, language.Japanese, language.Arabic,
}

func TestEveryCatalogueIsComplete(t *testing.T) {
	c := i18n.Default()
	require.ElementsMatch(t, shipped, c.Languages())
	for _, tag := range shipped {
		t.Run(tag.String(), func(t *testing.T) {
			require.Empty(t, c.Missing(tag), "keys %s lacks", tag)
			require.NoError(t, c.Check(tag))
		})
	}
}
