package emailcode

import (
	"maps"
	"slices"
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
	require.Equal(t, i18n.Default().Keys(language.English, "email."), slices.Sorted(maps.Keys(i18n.Extract("email.", &tx))))
}
