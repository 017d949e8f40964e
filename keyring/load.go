package keyring

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Parse reads a keyring written as encoded keys ([Key.Encode]), one
// per line or separated by commas or spaces; blank lines and lines starting
// with # are ignored. The first key is the current one: to rotate, put a new
// key first and keep the old ones after it until what they protect has been
// re-sealed or has expired.
func Parse(text string) (*Ring, error) {
	var keys []Key
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			k, err := ParseKey(f)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key found (generate one with GenerateKey or `twofactor keygen`)", ErrInvalidKey)
	}
	return New(keys...)
}

// A Source gives the server keys when [New] runs, so that loading them
// shares the one error check of the whole set-up. A [*Ring] is one
// (it gives itself); [Env] reads them from the environment, and
// [Dev] from a file it creates, for development.
type Source interface {
	Load() (*Ring, error)
}

// Load returns k.
func (k *Ring) Load() (*Ring, error) { return k, nil }

// Env names an environment variable holding the server keys (for
// example "TWOFACTOR_KEYS"), in the form Parse reads; when it is
// empty, the variable with "_FILE" added names a file holding them (a
// mounted secret). Errors match ErrInvalidKey and say which variable or
// file is wrong. Make a key with `twofactor keygen`.
type Env string

// Load reads the keys.
func (e Env) Load() (*Ring, error) {
	env := string(e)
	if v := os.Getenv(env); v != "" {
		kr, err := Parse(v)
		if err != nil {
			return nil, fmt.Errorf("twofactor: keys in $%s: %w", env, err)
		}
		return kr, nil
	}
	if path := os.Getenv(env + "_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: reading $%s_FILE: %w", ErrInvalidKey, env, err)
		}
		kr, err := Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("twofactor: keys in %s: %w", path, err)
		}
		return kr, nil
	}
	return nil, fmt.Errorf("%w: neither $%s nor $%s_FILE is set: generate a key with `twofactor keygen` and put it in one of them", ErrInvalidKey, env, env)
}

// Dev names a key file for development: Load reads it, and creates it
// with a new key when it does not exist yet, logging a warning that the
// keys are development keys. Use it only where losing the file is
// harmless (every secret sealed with it is lost with it), and use
// [Env] in production.
type Dev string

// Load reads the file, creating it first when it does not exist.
func (d Dev) Load() (*Ring, error) {
	path := string(d)
	if path == "" {
		return nil, fmt.Errorf("%w: Dev needs a file name", ErrInvalidKey)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createDev(path); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading development key file: %w", ErrInvalidKey, err)
	}
	if err := privateFile(path); err != nil {
		return nil, err
	}
	kr, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("twofactor: keys in %s: %w", path, err)
	}
	return kr, nil
}

// createDev makes the development key file at path, whole or not at all:
// the key is written to a file of its own, then linked to path, so two
// instances starting at once never read a half-written file, and the one
// that loses the race reads the winner's key.
func createDev(path string) error {
	k, err := GenerateKey("dev")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".devkeys-*")
	if err != nil {
		return fmt.Errorf("%w: creating development key file: %w", ErrInvalidKey, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString("# Development keys made by keyring.Dev. Do not use them in production.\n" + k.Encode() + "\n")
	if err = errors.Join(err, tmp.Close()); err == nil {
		err = os.Link(tmp.Name(), path)
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil // another instance made it first
	case err != nil:
		return fmt.Errorf("%w: creating development key file: %w", ErrInvalidKey, err)
	}
	slog.Warn("twofactor: DEVELOPMENT KEYS created; codes, secrets and proofs are sealed with a key from this file; do not use it in production", "file", path)
	return nil
}

// privateFile refuses a key file that others than its owner may read or
// write, as ssh refuses such a private key.
func privateFile(path string) error {
	if runtime.GOOS == "windows" {
		return nil // permission bits do not describe Windows ACLs
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: development key file %s is open to others (mode %04o): chmod 600 %s", ErrInvalidKey, path, perm, path)
	}
	return nil
}
