package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/totp"
)

// $TWOFACTOR_LOAD_USERS adds the load generator's users: the odd ones
// with an authenticator app whose secret is in <data>/load-users.json
// (owner only), the even ones with email codes; a second start on the
// same store enrolls nothing and keeps the file.
func TestLoadUsers(t *testing.T) {
	t.Setenv(envLoadUsers, "5")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := startOnce(t, ctx, dir)
	assert.Contains(t, first.out.String(), "Load-test users: 5, 3 with an authenticator app")
	path := filepath.Join(dir, loadUsersFile)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	f := readLoadUsers(t, path)
	require.Len(t, f.Users, 5)
	assert.Equal(t, loadPassword, f.Password)
	assert.Equal(t, 30, f.TOTPPeriod)
	for i, u := range f.Users {
		k := i + 1
		assert.Equal(t, loadAccount(k).Login, u.Login)
		assert.Equal(t, k%2 == 1, u.TOTPSecret != "", "%s has an authenticator app", u.Login)
	}

	// load3 signs in with a code of its app, on a step after the one that
	// confirmed it; load2 is sent an email code at once.
	c := newClient(t)
	u := f.Users[2]
	status, body := c.post(first.URL, "/login", url.Values{"user": {u.Login}, "password": {f.Password}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "challenge", body["status"])
	key, err := totp.DecodeSecret(u.TOTPSecret)
	require.NoError(t, err)
	p := first.App.totp.Params()
	step := max(p.Step(time.Now()), u.TOTPStep+1)
	status, body = c.post(first.URL, "/2fa/verify", url.Values{"method": {"totp"}, "code": {p.StepCode(key, step)}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	assert.Equal(t, "signed_in", body["status"])

	status, body = newClient(t).post(first.URL, "/login", url.Values{"user": {f.Users[1].Login}, "password": {f.Password}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "challenge", body["status"])
	sent, _ := body["sent"].(map[string]any)
	assert.Equal(t, "email", sent["method"], "%v", body)
	_, ok := first.App.mailOutbox.Last(f.Users[1].Email)
	assert.True(t, ok, "the code is in the outbox")
	cancel()
	require.NoError(t, <-first.done)

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	second := startOnce(t, ctx, dir)
	assert.Contains(t, second.out.String(), "Load-test users: 5, enrolled by an earlier start")
	assert.Equal(t, f, readLoadUsers(t, path), "the file is kept")
	cancel()
	require.NoError(t, <-second.done)

	// A store with the users but no file to say their secrets is refused.
	require.NoError(t, os.Remove(path))
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", dir}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fresh store prefix")
}

func TestLoadUsersMistakes(t *testing.T) {
	for _, v := range []string{"-1", "ten", "100001"} {
		t.Setenv(envLoadUsers, v)
		err := run(context.Background(), nil, io.Discard)
		var u usageError
		require.ErrorAs(t, err, &u, v)
		assert.Contains(t, err.Error(), envLoadUsers)
	}
}

func readLoadUsers(t *testing.T, path string) *loadUsers {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var f loadUsers
	require.NoError(t, json.Unmarshal(b, &f))
	return &f
}
