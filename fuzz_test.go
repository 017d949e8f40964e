package twofactor_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

func FuzzParseChallengeID(f *testing.F) {
	key := "x5Yk3q_-9zV0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5A"
	f.Add(key + ".v1:k1:AAAA")
	f.Add(key)
	f.Add(key + ".")
	f.Add("")
	f.Add("short")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB.v1:k1:AAAA")
	f.Add(key + ".v1:k1:AA=A")
	f.Fuzz(func(t *testing.T, id string) {
		if twofactor.ParseChallengeID(id) != nil {
			return
		}
		if len(id) > 4096 || len(id) < 45 || id[43] != '.' {
			t.Fatalf("accepted %q, which is not a key, a '.' and a sealed part", id)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(id[:43])
		if err != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != id[:43] {
			t.Fatalf("accepted %q, whose key is not the canonical encoding of 32 bytes", id)
		}
		if strings.Trim(id[44:], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:") != "" {
			t.Fatalf("accepted %q, whose sealed part has a character outside the keyring's form", id)
		}
	})
}

func FuzzParseProof(f *testing.F) {
	kr := fuzzKeys(f)
	svc, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: kr, Factors: factors(&codeFactor{method: "x"})})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("YWxpY2UAbG9naW4AdG90cAAxNzYzODk5MjAw.k1.AAAA")
	f.Add("..")
	f.Fuzz(func(t *testing.T, proof string) {
		// Without the key nothing may verify; with any input, no panic.
		if _, err := svc.ParseProof(proof); err == nil {
			t.Fatalf("forged proof accepted: %q", proof)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("k1:+/+/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(":")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := keyring.ParseKey(s)
		if err != nil {
			return
		}
		if len(k.Secret) != keyring.KeySize {
			t.Fatalf("accepted a %d-byte secret", len(k.Secret))
		}
		back, err := keyring.ParseKey(k.Encode())
		if err != nil || back.ID != k.ID || string(back.Secret) != string(k.Secret) {
			t.Fatalf("Encode/ParseKey round trip failed for %q", s)
		}
		if _, err := keyring.New(k); err != nil {
			t.Fatalf("a parsed key does not make a keyring: %v", err)
		}
	})
}

func FuzzKeyringOpen(f *testing.F) {
	kr := fuzzKeys(f)
	sealed, err := kr.Seal([]byte("secret"), []byte("ad"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add("v1:k1:")
	f.Add("v1:k1:AAAA")
	f.Add("v1::")
	f.Fuzz(func(t *testing.T, s string) {
		pt, err := kr.Open(s, []byte("ad"))
		if err == nil && s != sealed {
			t.Fatalf("opened a value that was not sealed here: %q -> %q", s, pt)
		}
	})
}

func fuzzKeys(f *testing.F) *keyring.Ring {
	k, err := keyring.GenerateKey("k1")
	if err != nil {
		f.Fatal(err)
	}
	kr, err := keyring.New(k)
	if err != nil {
		f.Fatal(err)
	}
	return kr
}
