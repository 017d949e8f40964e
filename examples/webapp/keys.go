package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/twofactorkit/twofactor/keyring"
)

// keySource is where the app's keys come from, for twofactor.Config.Keys,
// with a description for the start-up message: $TWOFACTOR_KEYS (or the
// file named by $TWOFACTOR_KEYS_FILE) when set, otherwise the key file in
// dir.
func keySource(dir string) (keyring.Source, func() string) {
	if os.Getenv(envKeys) != "" || os.Getenv(envKeys+"_FILE") != "" {
		return keyring.Env(envKeys), func() string { return "$" + envKeys }
	}
	f := &keyFile{path: filepath.Join(dir, "keys")}
	return f, f.String
}

// keyFile is the app's own key file, a keyring.Source: made at the first
// start, readable by its owner only, and refused when others can read it.
type keyFile struct {
	path string
	made bool // Load made the file
}

var _ keyring.Source = (*keyFile)(nil)

// String describes the file for the start-up message.
func (f *keyFile) String() string {
	if f.made {
		return f.path + " (new)"
	}
	return f.path
}

// Load reads the key file, making it first when there is none.
func (f *keyFile) Load() (*keyring.Ring, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f.create()
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(f.path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: others can read the keys (mode %v): chmod 600 it", f.path, fi.Mode().Perm())
	}
	kr, err := keyring.Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return kr, nil
}

// create makes a key and writes it to the file with mode 0600. Of two
// copies of the app starting at once, one writes the file and the other
// reads it.
func (f *keyFile) create() (*keyring.Ring, error) {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return nil, err
	}
	k, err := keyring.GenerateKey("webapp-1")
	if err != nil {
		return nil, err
	}
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return f.Load()
	}
	if err != nil {
		return nil, err
	}
	_, err = fmt.Fprintf(file, "# Keys of examples/webapp, made at its first start. Keep this file secret.\n%s\n", k.Encode())
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.path)
		return nil, err
	}
	f.made = true
	return keyring.New(k)
}
