package trust_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/trust"
)

func TestServiceIntegration(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock(t0)
	mem := store.NewMemory(clock.Now)
	kr := testKeyring(t, testKey(t, "k1"))
	rec := &eventlog.Log{}
	events := &event.Sink{Discard: true, Hook: rec.Hook, Now: clock.Now}
	svc, err := twofactor.New(twofactor.Config{
		Store: mem, Keys: kr, Factors: []twofactor.FactorConfig{codeFactor{}},
		Trust: trust.Config{}, Now: clock.Now, Events: events,
	})
	require.NoError(t, err)
	m, ok := svc.Trust().(*trust.Manager)
	require.True(t, ok, "svc.Trust() is the Manager the Service built")

	request := func(remote, cookie string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = remote
		r.Header.Set("User-Agent", uaFirefoxLinux)
		if cookie != "" {
			r.Header.Set("Cookie", m.CookieName()+"="+cookie)
		}
		return r
	}

	// First login: asked, answers, ticks "trust this device".
	c := m.Client(request("203.0.113.7:40000", ""))
	b, err := svc.Begin(ctx, alice, c)
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, b.Status)
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: "code", Code: "123456",
		Client: c, RememberDevice: true})
	require.NoError(t, err)
	require.NotNil(t, res.Device)
	w := httptest.NewRecorder()
	m.SetCookie(w, *res.Device)
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	token := cookies[0].Value

	// Next login from the same network and browser: not asked.
	b, err = svc.Begin(ctx, alice, m.Client(request("203.0.113.99:40001", token)))
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusTrusted, b.Status)

	// Another user with this browser's cookie is asked, and alice's trust stays.
	b, err = svc.Begin(ctx, twofactor.User{ID: "bob"}, m.Client(request("203.0.113.7:40002", token)))
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusChallenge, b.Status)

	// From another network: asked again, and the device is revoked.
	b, err = svc.Begin(ctx, alice, m.Client(request("198.51.100.1:40003", token)))
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusChallenge, b.Status)
	assert.Equal(t, []event.Reason{trust.ReasonIPChanged}, rec.Reasons(event.DeviceRevoked))
	b, err = svc.Begin(ctx, alice, m.Client(request("203.0.113.7:40004", token)))
	require.NoError(t, err)
	assert.Equal(t, twofactor.StatusChallenge, b.Status, "revoked for good, even back home")

	id, _ := m.DeviceID("alice", token)
	for _, ev := range rec.All() {
		for _, v := range append([]string{string(ev.Reason), ev.IP, ev.Label, ev.UserAgent}, mapValues(ev.Details)...) {
			assert.NotContains(t, v, id, "no event holds the device id or the cookie")
		}
	}

	t.Run("password change forgets devices", func(t *testing.T) {
		g, err := m.Remember(ctx, alice, m.Client(request("203.0.113.7:1", "")))
		require.NoError(t, err)
		require.NoError(t, svc.PasswordChanged(ctx, "alice"))
		b, err := svc.Begin(ctx, alice, m.Client(request("203.0.113.7:2", g.Token)))
		require.NoError(t, err)
		assert.Equal(t, twofactor.StatusChallenge, b.Status)
	})

	t.Run("admin reset forgets devices", func(t *testing.T) {
		_, err := m.Remember(ctx, alice, m.Client(request("203.0.113.7:1", "")))
		require.NoError(t, err)
		require.NoError(t, svc.AdminReset(ctx, alice, "support@example.com", "lost phone"))
		ds, err := m.List(ctx, "alice")
		require.NoError(t, err)
		assert.Empty(t, ds)
	})

	t.Run("step-up is never skipped", func(t *testing.T) {
		g, err := m.Remember(ctx, alice, m.Client(request("203.0.113.7:1", "")))
		require.NoError(t, err)
		ch, err := svc.StepUp(ctx, alice, m.Client(request("203.0.113.7:2", g.Token)), twofactor.PurposeStepUp)
		require.NoError(t, err)
		assert.NotNil(t, ch)
	})
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
