package twofactorhttp_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/i18n"
)

// The administrator pages speak the administrator's language, but what
// the Service sends the user because of them does not: the reset's
// context carries no language, so the user's notification follows their
// own (twofactor.User.Language). A user's own request carries theirs.
func TestAdminLanguageStaysOnThePages(t *testing.T) {
	var mu sync.Mutex
	langs := map[event.Type][]string{}
	s := newSettingsEnv(t, senvOpt{svc: func(c *twofactor.Config) {
		c.Events = &event.Sink{Discard: true, Hook: func(ctx context.Context, ev event.Event) {
			tag, _ := i18n.FromContext(ctx)
			mu.Lock()
			defer mu.Unlock()
			langs[ev.Type] = append(langs[ev.Type], tag.String())
		}}
	}})
	a := s.admin(false)
	a.header.Set("Accept-Language", "de")
	page := html.UnescapeString(a.get("/admin/2fa/").Body.String())
	assert.Contains(t, page, `<html lang="de" dir="ltr">`)
	assert.Contains(t, page, i18n.Default().String(language.German, "page.Admin.Lookup"))
	w := a.post("/admin/2fa/user/reset", url.Values{"id": {"ben"}, "reason": {"lost phone, ID seen on call"}, "identity_checked": {"on"}})
	require.Less(t, w.Code, http.StatusBadRequest, w.Body.String())

	b := s.browser()
	b.header.Set("Accept-Language", "ja")
	b.login("ann", "")

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, langs[event.AdminReset])
	assert.Equal(t, []string{"und"}, langs[event.AdminReset], "no language for what the user is sent")
	require.NotEmpty(t, langs[event.Begin])
	assert.Equal(t, "ja", langs[event.Begin][len(langs[event.Begin])-1], "the user's own request carries theirs")
}
