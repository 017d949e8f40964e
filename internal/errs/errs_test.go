package errs_test

import (
	"errors"
	"testing"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/errs"
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
