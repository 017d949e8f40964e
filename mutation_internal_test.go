package twofactor

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"testing"
	"time"
)

// The MaxConsecutiveFailures-th wrong answer in a row is the last one
// allowed: it unlocks when its block opens, not at the end of the run's
// memory, which is for the answers after it.
func TestUnlockAtLastAllowedFailure(t *testing.T) {
	l := Limits{}.withDefaults()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	resetAt := start.Add(l.FailureMemory)
	most := int64(l.MaxConsecutiveFailures)
	per := int64(l.MaxUserFailures)
	open, ok := l.blockOpens(int((most + per - 1) / per))
	if !ok {
		t.Fatal("the last block opens within the run's memory with the defaults")
	}
	if got := l.unlockAt(most, start, resetAt); !got.Equal(start.Add(open)) {
		t.Errorf("unlockAt(MaxConsecutiveFailures) = %s; want %s", got, start.Add(open))
	}
	if got := l.unlockAt(most+1, start, resetAt); !got.Equal(resetAt) {
		t.Errorf("unlockAt(MaxConsecutiveFailures+1) = %s; want the end of the run's memory %s", got, resetAt)
	}
}
