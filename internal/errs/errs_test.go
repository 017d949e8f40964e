package errs_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/errs"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

func TestConfig(t *testing.T) {
	err := errs.Config("totp", "Issuer %q has a colon", "a:b")
	if !errors.Is(err, twofactor.ErrConfig) {
		t.Fatalf("%v does not match ErrConfig", err)
	}
	if got, want := err.Error(), `totp: twofactor: invalid configuration: Issuer "a:b" has a colon`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestStore(t *testing.T) {
	k, _ := keyring.GenerateKey("k")
	kr, _ := keyring.New(k)
	got, env, err := errs.Store[store.Ledger]("pkg", twofactor.Env{Store: store.NewMemory(), Keys: kr}, reflect.TypeFor[store.Ledger]())
	if err != nil || got == nil {
		t.Fatalf("memory store as a Ledger: %v", err)
	}
	if env.Now == nil || env.Rand == nil || env.Events == nil {
		t.Fatal("the defaults were not applied")
	}
	// A store that is not a Ledger: the error names what it lacks, and
	// only that.
	var minimal struct {
		store.States
		store.OwnedStates
		store.Counters
	}
	_, _, err = errs.Store[store.Ledger]("pkg", twofactor.Env{Store: minimal, Keys: kr}, reflect.TypeFor[store.States](), reflect.TypeFor[store.Ledger]())
	if !errors.Is(err, twofactor.ErrConfig) || !strings.Contains(err.Error(), "does not implement store.Ledger, which") || strings.Contains(err.Error(), "implement store.States") {
		t.Fatalf("got %v", err)
	}
	// No keys: the Env's own error, named by the package.
	_, _, err = errs.Store[store.Ledger]("pkg", twofactor.Env{Store: store.NewMemory()}, reflect.TypeFor[store.Ledger]())
	if !errors.Is(err, twofactor.ErrConfig) || !strings.HasPrefix(err.Error(), "pkg: ") || !strings.Contains(err.Error(), "Keys") {
		t.Fatalf("got %v", err)
	}
}
