package emailcode

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor/i18n"
)

// Every text of the message has its key in the English catalogue, and
// every "email." key is one of them.
func TestEveryTextHasAKey(t *testing.T) {
	var tx texts
	require.NoError(t, i18n.Default().Fill(language.English, "email.", &tx))
	fields := slices.Sorted(maps.Keys(i18n.Extract("email.", &tx)))
	var keys []string
	for _, k := range i18n.Default().Keys(language.English) {
		if strings.HasPrefix(k, "email.") {
			keys = append(keys, k)
		}
	}
	require.Equal(t, keys, fields)
}
