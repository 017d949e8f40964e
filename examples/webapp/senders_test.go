package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With -sms-gateway, SMS go to the gateway with its header and sender id,
// except those to the demo users' fictional numbers, which stay in the
// outbox.
func TestSMSGateway(t *testing.T) {
	var mu sync.Mutex
	var got []url.Values
	var auth []string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		mu.Lock()
		got = append(got, r.PostForm)
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer gw.Close()
	app := startApp(t, "-sms-gateway", gw.URL, "-sms-header", "Authorization: Bearer k3y", "-sms-from", "Acme")
	assert.Contains(t, app.out.String(), "SMS: sent through the gateway")
	mu.Lock()
	assert.Empty(t, got, "grace's seeding code stayed in the outbox")
	mu.Unlock()

	c := newClient(t)
	status, body := c.post(app.URL, "/login", url.Values{"user": {"alan"}, "password": {"turing"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "signed_in", body["status"])
	status, body = c.post(app.URL, "/2fa/settings/phone", url.Values{"region": {"US"}, "number": {"(415) 555-2671"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "code_sent", body["status"])

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	assert.Equal(t, "+14155552671", got[0].Get("to"))
	assert.Equal(t, "Acme", got[0].Get("from"))
	assert.Regexp(t, `\b\d{6}\b`, got[0].Get("body"))
	assert.Equal(t, "Bearer k3y", auth[0])
	assert.Empty(t, app.App.smsOutbox.Messages())
}

func TestSMTPURL(t *testing.T) {
	for _, ok := range []string{
		"smtp://user:pass@mail.example.com:587",
		"smtps://user:pass@mail.example.com",
		"smtp://127.0.0.1:1025?tls=off",
	} {
		_, err := newSMTP(ok, defaultMailFrom)
		assert.NoError(t, err, ok)
	}
	for _, bad := range []string{
		"mail.example.com:587",
		"http://mail.example.com",
		"smtp://mail.example.com:port",
		"smtp://mail.example.com?tls=maybe",
		"smtp://user:s3cret@mail.example.com:25?tls=off", // plain text beyond this machine
	} {
		_, err := newSMTP(bad, defaultMailFrom)
		if assert.Error(t, err, bad) {
			assert.False(t, strings.Contains(err.Error(), "s3cret"), "no password in %q", err)
		}
	}
}

// With -trusted-proxies, the client address comes from the proxy's
// header; without it the header is ignored.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "ip=127.0.0.1"},
		{[]string{"-trusted-proxies", "127.0.0.1/32"}, "ip=203.0.113.7"},
	} {
		app := startApp(t, tc.args...)
		req, err := http.NewRequest(http.MethodPost, app.URL+"/login",
			strings.NewReader(url.Values{"user": {"admin"}, "password": {"admin"}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Regexp(t, `event=challenge.begin user=u4 .* `+tc.want+` `, app.out.String(), "%v", tc.args)
	}
}
