// Package errs builds the errors the library's packages share in form.
package errs

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/twofactorkit/twofactor"
)

// Config returns an error for a configuration that cannot work: it
// matches twofactor.ErrConfig, and reads "pkg: twofactor: invalid
// configuration: what to change".
func Config(pkg, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", pkg, twofactor.ErrConfig, fmt.Sprintf(format, args...))
}

// Store returns the Env's store as S, the store interface a part of the
// library needs, and the Env with its defaults applied (see
// twofactor.Env.WithDefaults). When the store is not an S, the error
// matches twofactor.ErrConfig and names which of the interfaces S is made
// of (parts) it lacks.
func Store[S any](pkg string, env twofactor.Env, parts ...reflect.Type) (S, twofactor.Env, error) {
	var zero S
	env, err := env.WithDefaults()
	if err != nil {
		return zero, env, fmt.Errorf("%s: %w", pkg, err)
	}
	if s, ok := any(env.Store).(S); ok {
		return s, env, nil
	}
	var missing []string
	have := reflect.TypeOf(env.Store)
	for _, p := range parts {
		if !have.Implements(p) {
			missing = append(missing, p.String())
		}
	}
	return zero, env, Config(pkg, "the store (%T) does not implement %s, which %s needs", env.Store, strings.Join(missing, ", "), pkg)
}
