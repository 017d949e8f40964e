package twofactor

import (
	"fmt"
	"os"
	"strings"
)

// ParseKeyring reads a keyring written as encoded keys ([Key.Encode]), one
// per line or separated by commas or spaces; blank lines and lines starting
// with # are ignored. The first key is the current one: to rotate, put a new
// key first and keep the old ones after it until what they protect has been
// re-sealed or has expired.
func ParseKeyring(text string) (*Keyring, error) {
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
	return NewKeyring(keys...)
}

// LoadKeyring reads the server keys from the environment variable env (for
// example TWOFACTOR_KEYS) or, when it is empty, from the file named by the
// variable env+"_FILE" (a mounted secret), in the form ParseKeyring reads.
// Errors match ErrInvalidKey and say which variable or file is wrong.
func LoadKeyring(env string) (*Keyring, error) {
	if v := os.Getenv(env); v != "" {
		kr, err := ParseKeyring(v)
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
		kr, err := ParseKeyring(string(b))
		if err != nil {
			return nil, fmt.Errorf("twofactor: keys in %s: %w", path, err)
		}
		return kr, nil
	}
	return nil, fmt.Errorf("%w: neither $%s nor $%s_FILE is set: generate a key with `twofactor keygen` and put it in one of them", ErrInvalidKey, env, env)
}
