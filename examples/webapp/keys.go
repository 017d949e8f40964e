package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/twofactorkit/twofactor"
)

// loadKeys returns the keyring in $TWOFACTOR_KEYS (or the file named by
// $TWOFACTOR_KEYS_FILE) when set; otherwise the one in dir/keys, made at
// the first start and readable by its owner only.
func loadKeys(dir string) (*twofactor.Keyring, string, error) {
	if os.Getenv(envKeys) != "" || os.Getenv(envKeys+"_FILE") != "" {
		kr, err := twofactor.LoadKeyring(envKeys)
		return kr, "$" + envKeys, err
	}
	path := filepath.Join(dir, "keys")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newKeyFile(path)
	}
	if err != nil {
		return nil, "", err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("%s: others can read the keys (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	kr, err := twofactor.ParseKeyring(string(b))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return kr, path, nil
}

// newKeyFile makes a key and writes it to path with mode 0600. Of two
// copies of the app starting at once, one writes the file and the other
// reads it.
func newKeyFile(path string) (*twofactor.Keyring, string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", err
	}
	k, err := twofactor.GenerateKey("webapp-1")
	if err != nil {
		return nil, "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadKeys(filepath.Dir(path))
	}
	if err != nil {
		return nil, "", err
	}
	_, err = fmt.Fprintf(f, "# Keys of examples/webapp, made at its first start. Keep this file secret.\n%s\n", k.Encode())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, "", err
	}
	kr, err := twofactor.NewKeyring(k)
	return kr, path + " (new)", err
}
