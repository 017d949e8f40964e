package keyring_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/keyring"
)

func TestParseAndLoadKeyring(t *testing.T) {
	k1, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	k2, err := keyring.GenerateKey("k2")
	require.NoError(t, err)
	text := "# rotated 2026-12\n" + k2.Encode() + "\n\n" + k1.Encode() + "\n"
	kr, err := keyring.Parse(text)
	require.NoError(t, err)
	assert.Equal(t, "k2", kr.CurrentKeyID())
	kr, err = keyring.Parse(k1.Encode() + "," + k2.Encode())
	require.NoError(t, err)
	assert.Equal(t, "k1", kr.CurrentKeyID())

	for _, bad := range []string{"", "# only a comment", "k1", k1.Encode() + "\nnot-a-key", k1.Encode() + " " + k1.Encode()} {
		_, err := keyring.Parse(bad)
		require.ErrorIs(t, err, keyring.ErrInvalidKey, "%q", bad)
	}
	_, err = keyring.Parse(k1.Encode() + "\nk3:short")
	require.ErrorContains(t, err, "line 2")

	t.Setenv("TF_TEST_KEYS", k1.Encode())
	kr, err = keyring.Env("TF_TEST_KEYS").Load()
	require.NoError(t, err)
	assert.Equal(t, "k1", kr.CurrentKeyID())

	path := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	t.Setenv("TF_TEST_KEYS", "")
	t.Setenv("TF_TEST_KEYS_FILE", path)
	kr, err = keyring.Env("TF_TEST_KEYS").Load()
	require.NoError(t, err)
	assert.Equal(t, "k2", kr.CurrentKeyID())

	t.Setenv("TF_TEST_KEYS_FILE", filepath.Join(t.TempDir(), "missing"))
	_, err = keyring.Env("TF_TEST_KEYS").Load()
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
	t.Setenv("TF_TEST_KEYS_FILE", "")
	_, err = keyring.Env("TF_TEST_KEYS").Load()
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
	assert.True(t, strings.Contains(err.Error(), "TF_TEST_KEYS"), err.Error())
}
