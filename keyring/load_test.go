package keyring_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func TestDevKeys(t *testing.T) {
	var logged bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	path := filepath.Join(t.TempDir(), "dev.keys")
	kr, err := keyring.Dev(path).Load()
	require.NoError(t, err)
	assert.Contains(t, logged.String(), "DEVELOPMENT KEYS", "a loud line when the file is made")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "only the owner reads the keys")

	logged.Reset()
	again, err := keyring.Dev(path).Load()
	require.NoError(t, err)
	assert.Equal(t, kr.CurrentKeyID(), again.CurrentKeyID(), "the next start reads the same keys")
	sealed, err := kr.Seal([]byte("x"), nil)
	require.NoError(t, err)
	_, err = again.Open(sealed, nil)
	require.NoError(t, err, "what the first start sealed opens at the next")

	_, err = keyring.Dev(filepath.Join(t.TempDir(), "missing-dir", "dev.keys")).Load()
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
	_, err = keyring.Dev("").Load()
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
	require.NoError(t, os.Chmod(path, 0o644))
	_, err = keyring.Dev(path).Load()
	require.ErrorIs(t, err, keyring.ErrInvalidKey, "a key file others can read is refused")
	assert.ErrorContains(t, err, "chmod 600")
	require.NoError(t, os.Chmod(path, 0o600))
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	_, err = keyring.Dev(path).Load()
	require.True(t, errors.Is(err, keyring.ErrInvalidKey), "a damaged file is not replaced: %v", err)
}

// Instances that start at once with no key file all end up with the same
// key, and none reads a half-written file.
func TestDevKeysConcurrentStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.keys")
	ids := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kr, err := keyring.Dev(path).Load()
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = kr.Hash("test", []byte("x"))
		}()
	}
	wg.Wait()
	for _, h := range ids[1:] {
		assert.Equal(t, ids[0], h, "every instance has the same key")
	}
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".devkeys-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file is left behind")
}
