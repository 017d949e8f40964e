package twofactor

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// The user's lockout is one counter: wrong answers in a row, counted before
// the factor sees each answer and deleted by a correct one. Its window is
// Limits.FailureMemory from the first failure of the run, so the store's
// window end also tells when the run began. No other state is needed to
// derive the escalating schedule below from it.

// runStart returns when the failure run whose counter window ends at
// resetAt began.
func (l Limits) runStart(resetAt time.Time) time.Time { return resetAt.Add(-l.FailureMemory) }

// allowedFailures returns how many wrong answers in a row the schedule
// allows by now for a run that began at start: MaxUserFailures at once,
// MaxUserFailures more after LockoutDuration, more again after a lockout
// twice as long, and so on up to MaxConsecutiveFailures. Block j (from 1)
// opens at start + LockoutDuration × (2^(j−1) − 1).
func (l Limits) allowedFailures(start, now time.Time) int64 {
	per, most := int64(l.MaxUserFailures), int64(l.MaxConsecutiveFailures)
	elapsed := now.Sub(start)
	allowed := per
	for j := 1; allowed < most; j++ {
		open, ok := l.blockOpens(j + 1)
		if !ok || elapsed < open {
			break
		}
		allowed += per
	}
	return min(allowed, most)
}

// failureSteps is the schedule of allowedFailures as the bounds of the
// user's failure counter by the age of its run (store.BoundStep): block j
// lets MaxUserFailures more answers in from blockOpens(j).
func (l Limits) failureSteps() []store.BoundStep {
	per, most := int64(l.MaxUserFailures), int64(l.MaxConsecutiveFailures)
	var steps []store.BoundStep
	for j, allowed := 2, per; allowed < most; j++ {
		open, ok := l.blockOpens(j)
		if !ok {
			break
		}
		allowed = min(allowed+per, most)
		steps = append(steps, store.BoundStep{After: open, Max: allowed})
	}
	return steps
}

// blockOpens returns how long after the run's start block j opens, and
// false when that is beyond any time the run is remembered.
func (l Limits) blockOpens(j int) (time.Duration, bool) {
	if j <= 1 {
		return 0, true
	}
	if j-1 >= 40 {
		return 0, false
	}
	d := l.LockoutDuration * time.Duration((int64(1)<<(j-1))-1)
	if d < 0 || d/time.Duration((int64(1)<<(j-1))-1) != l.LockoutDuration || d >= l.FailureMemory {
		return 0, false
	}
	return d, true
}

// unlockAt returns when the n-th wrong answer in a row of the run that
// began at start becomes allowed. Past MaxConsecutiveFailures it is the end
// of the run's memory, resetAt.
func (l Limits) unlockAt(n int64, start, resetAt time.Time) time.Time {
	per := int64(l.MaxUserFailures)
	if n > int64(l.MaxConsecutiveFailures) {
		return resetAt
	}
	j := int((n + per - 1) / per)
	d, ok := l.blockOpens(j)
	if !ok {
		return resetAt
	}
	return start.Add(d)
}

// lockedUntil reports whether the user whose failure counter reads (n,
// resetAt) may not answer now, and until when: the next answer would be the
// (n+1)-th wrong one in a row.
func (l Limits) lockedUntil(n int64, resetAt, now time.Time) (time.Time, bool) {
	if n <= 0 {
		return time.Time{}, false
	}
	start := l.runStart(resetAt)
	if n+1 <= l.allowedFailures(start, now) {
		return time.Time{}, false
	}
	return l.unlockAt(n+1, start, resetAt), true
}

// ipNetwork returns the network a client address is counted by: the
// address itself for IPv4 (and IPv4-mapped IPv6), its Limits.IPv6Prefix
// network for IPv6.
func (l Limits) ipNetwork(a netip.Addr) string {
	return string(l.appendIPNetwork(nil, a))
}

// appendIPNetwork appends ipNetwork(a) to b.
func (l Limits) appendIPNetwork(b []byte, a netip.Addr) []byte {
	a = a.Unmap()
	if a.Is4() {
		return a.AppendTo(b)
	}
	p, err := a.WithZone("").Prefix(l.IPv6Prefix)
	if err != nil {
		return a.AppendTo(b)
	}
	return p.AppendTo(b)
}

// ipDomain separates the keyed hash of a client network from every other
// keyed hash of the keyring.
const ipDomain = "twofactor client network v1"

// ipCounterKey returns the counter key of a's network: a keyed hash of it
// (HMAC-SHA256 under the current key, truncated to 128 bits, 22 characters
// of base64url), so that a copy of the store holds no client address, as
// the challenge record seals it. A key rotation starts the counts again,
// which only lets a network count anew for one IPWindow.
func (s *Service) ipCounterKey(a netip.Addr) string {
	var buf [64]byte
	h := s.keys.Hash(ipDomain, s.limits.appendIPNetwork(buf[:0], a))
	var kb [len(keyIP) + 22]byte
	key := base64.RawURLEncoding.AppendEncode(append(kb[:0], keyIP...), h[len(h)-16:])
	return string(key)
}

// Lockout describes a user's run of wrong answers, for support staff.
type Lockout struct {
	// Failures is how many wrong answers in a row the user gave since their
	// last correct one (zero: none).
	Failures int
	// Locked is set when the next answer would be refused; Until says when
	// that lifts by itself (the end of the run's memory when the run hit
	// Limits.MaxConsecutiveFailures: only Unlock, PasswordChanged or
	// AdminReset lift it earlier).
	Locked bool
	Until  time.Time
}

// Lockout reports the user's lockout state, without changing it.
func (s *Service) Lockout(ctx context.Context, userID string) (Lockout, error) {
	if err := CheckUserID(userID); err != nil {
		return Lockout{}, err
	}
	n, reset, err := s.store.Peek(ctx, keyUserFail+userID)
	if err != nil {
		return Lockout{}, fmt.Errorf("twofactor: reading lockout counter: %w", err)
	}
	out := Lockout{Failures: int(n)}
	out.Until, out.Locked = s.limits.lockedUntil(n, reset, s.now())
	return out, nil
}
