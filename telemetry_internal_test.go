package twofactor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/twofactorkit/twofactor/event"
)

// TestSafeReason: a reason becomes a metric label only when it is a short
// word of lower-case letters, digits, '_' and '.', so no free text (a
// host's error message, an address) becomes a label; anything else is
// "other". The cases sit on each edge of each range.
func TestSafeReason(t *testing.T) {
	kept := []string{"a", "z", "0", "9", "_", ".", "invalid_code", "rate_limited", "v1.2", strings.Repeat("x", 32)}
	for _, r := range kept {
		assert.Equal(t, event.Reason(r), safeReason(event.Reason(r)), "%q is kept", r)
	}
	other := []string{"", strings.Repeat("x", 33), "`", "{", "/", ":", "A", "Z", "-", " ", "é", "a b", "user@example.com", "Invalid"}
	for _, r := range other {
		assert.Equal(t, event.Reason("other"), safeReason(event.Reason(r)), "%q is other", r)
	}
}
