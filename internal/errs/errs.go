// Package errs builds the errors the library's packages share in form.
package errs

import (
	"fmt"

	"github.com/twofactorkit/twofactor"
)

// Config returns an error for a configuration that cannot work: it
// matches twofactor.ErrConfig, and reads "pkg: twofactor: invalid
// configuration: what to change".
func Config(pkg, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", pkg, twofactor.ErrConfig, fmt.Sprintf(format, args...))
}
