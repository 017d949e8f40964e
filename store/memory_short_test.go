package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// The common call is the short one; a test passes its clock.
func TestNewMemoryClock(t *testing.T) {
	if store.NewMemory().Now != nil {
		t.Fatal("NewMemory() should use time.Now")
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := store.NewMemory(func() time.Time { return at })
	if err := m.PutState(context.Background(), "k", []byte("v"), at); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetState(context.Background(), "k"); err == nil {
		t.Fatal("a state expiring at the store's now is gone: the clock was not used")
	}
}
