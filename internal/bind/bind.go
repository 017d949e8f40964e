// Package bind holds what every factor's Bind does alike: take the
// Service's store as the factor's own store interface, and fill the fields
// its config left zero from the Service's shared parts.
package bind

import (
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/errs"
)

// Store returns the Service's store as S, the store interface a factor
// needs. When it is not one, the error matches twofactor.ErrConfig and
// names which of the interfaces S is made of (parts) the store lacks, and
// the config field to set instead.
func Store[S any](pkg, field string, st twofactor.Store, parts ...reflect.Type) (S, error) {
	if s, ok := any(st).(S); ok {
		return s, nil
	}
	var missing []string
	have := reflect.TypeOf(st)
	for _, p := range parts {
		if have == nil || !have.Implements(p) {
			missing = append(missing, p.String())
		}
	}
	var zero S
	return zero, errs.Config(pkg, "the Service's store does not implement %s, which the factor needs; set %s",
		strings.Join(missing, ", "), field)
}

// Parts sets each of keys, events, now and rnd that is nil from shared;
// a nil pointer skips that part (a factor without randomness of its own).
func Parts(shared twofactor.Shared, keys **twofactor.Keyring, events **twofactor.Events, now *func() time.Time, rnd *io.Reader) {
	if keys != nil && *keys == nil {
		*keys = shared.Keys
	}
	if events != nil && *events == nil {
		*events = shared.Events
	}
	if now != nil && *now == nil {
		*now = shared.Now
	}
	if rnd != nil && *rnd == nil {
		*rnd = shared.Rand
	}
}
