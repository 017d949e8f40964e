package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

// FuzzRoundTrip stores arbitrary keys and values in SQLite and checks they
// come back byte for byte, that a code matches only its own hash, and that
// nothing panics.
func FuzzRoundTrip(f *testing.F) {
	f.Add("challenge:abc", []byte("{}"), []byte("hash"))
	f.Add("", []byte{}, []byte{})
	f.Add("k\x00ey", []byte{0, 0xff, 0}, []byte{0})
	f.Add("Ключ 🔑", bytes.Repeat([]byte{7}, 4096), []byte("h"))
	f.Add("' OR 1=1 --", []byte("'); DROP TABLE twofactor_states; --"), []byte("x"))
	db, err := sqlite.Open(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string, value, hash []byte) {
		exp := time.Now().Add(time.Hour)
		if err := s.PutState(ctx, key, value, exp); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetState(ctx, key)
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("GetState(%q) = %q, %v; want %q", key, got, err, value)
		}
		got, err = s.TakeState(ctx, key)
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("TakeState(%q) = %q, %v; want %q", key, got, err, value)
		}
		if _, err := s.TakeState(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second TakeState(%q): %v", key, err)
		}

		if err := s.PutCode(ctx, store.Code{Group: key, Key: key, Hash: hash, MaxAttempts: 3}); err != nil {
			t.Fatal(err)
		}
		wrong := append(bytes.Clone(hash), 1)
		if st, err := s.ConsumeCode(ctx, key, key, wrong); err != nil || st != store.CodeMismatch {
			t.Fatalf("ConsumeCode with a wrong hash = %v, %v", st, err)
		}
		if st, err := s.ConsumeCode(ctx, key, key, hash); err != nil || st != store.CodeMatched {
			t.Fatalf("ConsumeCode with the right hash = %v, %v", st, err)
		}
	})
}
