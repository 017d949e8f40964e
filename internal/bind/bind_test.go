package bind_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/bind"
	"github.com/twofactorkit/twofactor/store"
)

func TestStore(t *testing.T) {
	mem := store.NewMemory()
	got, err := bind.Store[store.Ledger]("pkg", "pkg.Config.Store", mem, reflect.TypeFor[store.Ledger]())
	if err != nil || got == nil {
		t.Fatalf("memory store as a Ledger: %v", err)
	}
	// A store that is not a Ledger: the error names what it lacks.
	var minimal struct {
		store.States
		store.OwnedStates
		store.Counters
	}
	_, err = bind.Store[store.Ledger]("pkg", "pkg.Config.Store", minimal, reflect.TypeFor[store.States](), reflect.TypeFor[store.Ledger]())
	if !errors.Is(err, twofactor.ErrConfig) || !strings.Contains(err.Error(), "does not implement store.Ledger,") || strings.Contains(err.Error(), "store.States") {
		t.Fatalf("got %v", err)
	}
}

func TestParts(t *testing.T) {
	k, _ := twofactor.GenerateKey("k")
	kr, _ := twofactor.NewKeyring(k)
	ev := &twofactor.Events{}
	clock := func() time.Time { return time.Unix(1, 0) }
	shared := twofactor.Shared{Keys: kr, Events: ev, Now: clock, Rand: strings.NewReader("x")}

	var keys *twofactor.Keyring
	var events *twofactor.Events
	var now func() time.Time
	var rnd io.Reader
	bind.Parts(shared, &keys, &events, &now, &rnd)
	if keys != kr || events != ev || now == nil || rnd == nil {
		t.Fatal("zero parts were not filled")
	}
	// Set parts win.
	own := &twofactor.Events{}
	events = own
	bind.Parts(shared, &keys, &events, nil, nil)
	if events != own {
		t.Fatal("a part the config set was replaced")
	}
}
