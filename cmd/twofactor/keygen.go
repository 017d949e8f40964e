package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor/keyring"
)

func init() {
	keygenCmd.register()
}

var keygenCmd = &adminCommand{
	name:     "keygen",
	synopsis: "[--id ID] [--add-to FILE] [--json]",
	summary:  "make a new server key, or add one first to a keys file for a rotation",
	help: `
Prints a new server key (32 bytes from crypto/rand) as "ID:base64url",
the form keyring.ParseKey reads and $TWOFACTOR_KEYS holds. The id is
stored next to everything the key protects; it defaults to k<date>-<random>.
The key is a secret: keep it where the app's other secrets are.

A keyring is one key or more, one a line (or separated by commas); the
first is current and makes every new hash, signature and ciphertext, the
others still open what was made under them. To rotate keys:
  1. Put a new key first and keep the old ones after it, in the file or
     secret the app reads them from: --add-to FILE does this to a file
     (created with mode 0600 if missing) and prints only the new key's id.
     In the environment: TWOFACTOR_KEYS="$(twofactor keygen),$TWOFACTOR_KEYS".
  2. Give every app instance the new keys.
  3. Run twofactor rekey for every user, to re-seal TOTP secrets, phone
     numbers and email addresses under the new key.
  4. Drop an old key once nothing needs it: after rekey, once the backup
     codes made under it are replaced and the trusted-device cookies
     signed with it have expired.`,
	example: `
twofactor keygen
twofactor keygen --id 2026-06 --add-to /etc/app/twofactor.keys`,
	maxArgs: 0,
	noStore: true,
	setup: func(fs *flag.FlagSet) *runner {
		id := fs.String("id", "", "the key id: 1 to 32 of [A-Za-z0-9._-] (default k<date>-<random>)")
		addTo := fs.String("add-to", "", "put the new key first in this keys file instead of printing it")
		return &runner{run: func(c *call) error { return runKeygen(c, *id, *addTo) }}
	},
}

// defaultKeyID is k<UTC date>-<4 random hex digits>: sortable, and
// distinct for keys made the same day.
func defaultKeyID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return "k" + now.UTC().Format("20060102") + "-" + hex.EncodeToString(b[:])
}

// keyAdded is what keygen --add-to prints: never the key itself.
type keyAdded struct {
	ID   string   `json:"id"`
	File string   `json:"file"`
	Keys []string `json:"keys"` // the ids in the file, current first
}

func runKeygen(c *call, id, addTo string) error {
	if id == "" {
		id = defaultKeyID(time.Now())
	}
	k, err := keyring.GenerateKey(id)
	if err != nil {
		return usageErrf("--id: %s", strings.TrimPrefix(err.Error(), keyring.ErrInvalidKey.Error()+": "))
	}
	if addTo == "" {
		if c.json {
			return c.printJSON(map[string]string{"id": k.ID, "key": k.Encode()})
		}
		_, err := fmt.Fprintln(c.stdout, k.Encode())
		return err
	}
	old, err := os.ReadFile(addTo)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return usageErrf("--add-to: %w", err)
	}
	ids := []string{}
	if len(strings.TrimSpace(string(old))) > 0 {
		r, err := parseRing(string(old), addTo)
		if err != nil {
			return usageErr(err)
		}
		if r.has(id) {
			return usageErrf("--add-to: %s already has a key %q: choose another --id", addTo, id)
		}
		ids = r.ids
	}
	text := k.Encode() + "\n" + string(old)
	if _, err := keyring.Parse(text); err != nil {
		return usageErrf("--add-to: %s with the new key: %w", addTo, err)
	}
	if err := writeFileAtomic(addTo, []byte(text)); err != nil {
		return usageErrf("--add-to: %w", err)
	}
	out := keyAdded{ID: id, File: addTo, Keys: append([]string{id}, ids...)}
	if c.json {
		return c.printJSON(out)
	}
	fmt.Fprintf(c.stdout, "added key %s first in %s (keys: %s)\n", id, addTo, strings.Join(out.Keys, ", "))
	fmt.Fprintln(c.stdout, "next: give every app instance these keys, then run twofactor rekey for every user")
	return nil
}

// writeFileAtomic replaces path with data, mode 0600: readers see the old
// file or the new one, never a part.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
