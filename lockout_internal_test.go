package twofactor

import (
	"math"
	"net/netip"
	"testing"
	"time"
)

// The edges of the lockout schedule that a Service with a valid
// configuration reaches rarely or never: they must still answer the
// safe way.
func TestLockoutScheduleEdges(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	year := 365 * 24 * time.Hour
	t.Run("first block", func(t *testing.T) {
		l := Limits{}.withDefaults()
		for _, j := range []int{-1, 0, 1} {
			if d, ok := l.blockOpens(j); d != 0 || !ok {
				t.Errorf("blockOpens(%d) = %s, %v; want 0, true: the first block is open from the start", j, d, ok)
			}
		}
		for n := int64(1); n <= int64(l.MaxUserFailures); n++ {
			if got := l.unlockAt(n, start, start.Add(year)); !got.Equal(start) {
				t.Errorf("unlockAt(%d) = %s; want the run's start %s", n, got, start)
			}
		}
		if got := l.unlockAt(int64(l.MaxUserFailures)+1, start, start.Add(year)); !got.Equal(start.Add(l.LockoutDuration)) {
			t.Errorf("the first answer of block 2 is allowed at %s; want %s", got, start.Add(l.LockoutDuration))
		}
	})
	t.Run("block 40 and beyond", func(t *testing.T) {
		// One answer a block and the shortest lockout: block 40 opens
		// 2^39−1 ns (about 9 minutes) after the start. The schedule stops
		// doubling there (with one answer a block, 100 blocks would shift
		// past int64), so block 41 and later never open, even though
		// 2^40 ns is well within the year.
		l := Limits{MaxUserFailures: 1, MaxConsecutiveFailures: 100, LockoutDuration: time.Nanosecond, FailureMemory: year}.withDefaults()
		if d, ok := l.blockOpens(40); !ok || d != time.Duration(1<<39-1) {
			t.Errorf("blockOpens(40) = %s, %v; want %s, true", d, ok, time.Duration(1<<39-1))
		}
		for _, j := range []int{41, 42, 64, 100} {
			if d, ok := l.blockOpens(j); ok {
				t.Errorf("blockOpens(%d) = %s, true; want false", j, d)
			}
		}
		resetAt := start.Add(year)
		if got := l.unlockAt(41, start, resetAt); !got.Equal(resetAt) {
			t.Errorf("unlockAt(41) = %s; want the end of the run's memory %s", got, resetAt)
		}
		if got := l.allowedFailures(start, start.Add(year-time.Nanosecond)); got != 40 {
			t.Errorf("allowedFailures at the end of the year = %d; want 40", got)
		}
		if until, locked := l.lockedUntil(40, resetAt, start.Add(time.Hour)); !locked || !until.Equal(resetAt) {
			t.Errorf("after 40 answers: locked %v until %s; want locked until %s", locked, until, resetAt)
		}
	})
	t.Run("past the failure memory", func(t *testing.T) {
		l := Limits{MaxUserFailures: 1, MaxConsecutiveFailures: 10, LockoutDuration: 15 * time.Minute, FailureMemory: time.Hour}.withDefaults()
		if d, ok := l.blockOpens(3); !ok || d != 45*time.Minute {
			t.Errorf("blockOpens(3) = %s, %v; want 45m, true", d, ok)
		}
		if d, ok := l.blockOpens(4); ok {
			t.Errorf("blockOpens(4) = %s, true; want false: 1h45m is past the hour the run is remembered", d)
		}
		resetAt := start.Add(time.Hour)
		if got := l.unlockAt(4, start, resetAt); !got.Equal(resetAt) {
			t.Errorf("unlockAt(4) = %s; want %s", got, resetAt)
		}
		if got := l.unlockAt(11, start, resetAt); !got.Equal(resetAt) {
			t.Errorf("unlockAt past MaxConsecutiveFailures = %s; want %s", got, resetAt)
		}
		if got := l.allowedFailures(start, resetAt.Add(-time.Nanosecond)); got != 3 {
			t.Errorf("allowedFailures just before the run ends = %d; want 3", got)
		}
	})
	t.Run("overflow", func(t *testing.T) {
		// A lockout so long that LockoutDuration × 3 wraps around int64 to
		// 2 ns: the schedule must not read that as a block opening at
		// once.
		long := time.Duration(6148914691236517206) // ⌈2^64 / 3⌉ ns, 195 years
		if long*3 != 2 {
			t.Fatalf("the test's premise: %d × 3 = %d", long, long*3)
		}
		l := Limits{MaxUserFailures: 1, MaxConsecutiveFailures: 10, LockoutDuration: long, FailureMemory: math.MaxInt64}.withDefaults()
		if d, ok := l.blockOpens(3); ok {
			t.Errorf("blockOpens(3) = %s, true; want false (overflow)", d)
		}
		if d, ok := l.blockOpens(2); !ok || d != long {
			t.Errorf("blockOpens(2) = %s, %v; want %s, true", d, ok, long)
		}
		if got := l.allowedFailures(start, start.Add(time.Hour)); got != 1 {
			t.Errorf("allowedFailures = %d; want 1", got)
		}
	})
}

func TestIPNetwork(t *testing.T) {
	l := Limits{}.withDefaults()
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
	} {
		if got := l.ipNetwork(netip.MustParseAddr(in)); got != want {
			t.Errorf("ipNetwork(%s) = %q; want %q", in, got, want)
		}
	}
	// A prefix the address cannot take (New refuses it; a zero Limits
	// value used directly has it) counts the address itself rather than
	// failing or counting every client as one.
	for _, bits := range []int{-1, 129} {
		bad := Limits{IPv6Prefix: bits}
		if got := bad.ipNetwork(netip.MustParseAddr("2001:db8::1")); got != "2001:db8::1" {
			t.Errorf("IPv6Prefix %d: ipNetwork = %q; want the address", bits, got)
		}
	}
}
