package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// Defaults applied by New to zero fields of Options.
const (
	DefaultPrefix = "twofactor:"
	DefaultGrace  = time.Hour
)

// maxPrefix bounds Options.Prefix; maxID bounds every key, group, user and
// record id a caller passes, so a hostile value cannot bloat Redis keys.
const (
	maxPrefix = 128
	maxID     = 1024
)

// Options configure a Store. The zero value is valid.
type Options struct {
	// Prefix starts every key the store writes, so one Redis database can
	// serve several applications, or several environments of one. Empty
	// means "twofactor:". It must not contain '{' or '}', because the store
	// puts its own hash tags after it (see the package doc), and it is at
	// most 128 bytes.
	Prefix string

	// Now is the clock that decides expiry. Nil means time.Now. Give the
	// Service and the factors the same clock.
	Now func() time.Time

	// Grace is how long a key outlives the logical expiry of what it holds
	// before Redis drops it by TTL. During the grace period expiry is still
	// decided by Now, so an expired code answers store.CodeExpired rather
	// than store.CodeNotFound, and app instances whose clocks disagree by
	// less than Grace agree on what has expired. Zero means one hour; it
	// must not be negative.
	Grace time.Duration
}

// Store is a store.Store on Redis, and also a store.Sweeper,
// store.BatchCounters, store.BoundedCounters, store.StateResetter,
// store.Batcher, store.DeviceToucher and store.EnrollmentToucher. It
// is safe for concurrent use, and any number of app instances may share one
// Redis through their own Stores (with the same Prefix).
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
	grace  int64 // milliseconds
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.Sweeper           = (*Store)(nil)
	_ store.BatchCounters     = (*Store)(nil)
	_ store.Batcher           = (*Store)(nil)
	_ store.DeviceToucher     = (*Store)(nil)
	_ store.EnrollmentToucher = (*Store)(nil)
)

// New returns a Store on rdb: a *redis.Client, a *redis.ClusterClient, a
// *redis.Ring or anything else that implements redis.UniversalClient. The
// Store does not own rdb: closing it is the caller's business. Errors wrap
// twofactor.ErrConfig and say what to fix.
func New(rdb redis.UniversalClient, opt Options) (*Store, error) {
	if rdb == nil {
		return nil, configErr("the Redis client is nil: pass a *redis.Client from redis.NewClient (or a cluster client)")
	}
	prefix := opt.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, configErr("Options.Prefix %q contains '{' or '}': the store adds its own hash tags after the prefix; remove the braces", prefix)
	}
	if len(prefix) > maxPrefix {
		return nil, configErr("Options.Prefix is %d bytes; use at most %d", len(prefix), maxPrefix)
	}
	if opt.Grace < 0 {
		return nil, configErr("Options.Grace is negative (%s); use zero for the default of %s", opt.Grace, DefaultGrace)
	}
	grace := opt.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	if grace < time.Millisecond {
		return nil, configErr("Options.Grace %s is shorter than a millisecond, the resolution of Redis TTLs", grace)
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	return &Store{rdb: rdb, prefix: prefix, now: now, grace: grace.Milliseconds()}, nil
}

// Prefix returns the key prefix in use.
func (s *Store) Prefix() string { return s.prefix }

func configErr(format string, args ...any) error {
	return fmt.Errorf("redisstore: %w: %s", twofactor.ErrConfig, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("redisstore: %w: %s", twofactor.ErrInvalidInput, fmt.Sprintf(format, args...))
}

// checkID rejects empty and oversized identifiers before any round trip.
func checkID(what, v string) error {
	if v == "" || len(v) > maxID {
		return invalid("%s must be 1 to %d bytes, got %d", what, maxID, len(v))
	}
	return nil
}

// wrap annotates a Redis failure. redis.Nil never reaches it: callers turn
// that into store.ErrNotFound first.
func wrap(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// errMalformed is returned, wrapped, when a key holds a value this package
// did not write (or a newer, incompatible version did). The operation fails.
var errMalformed = errors.New("malformed stored value")

func malformed(kind string) error {
	return fmt.Errorf("redisstore: %s: %w", kind, errMalformed)
}

// Key layout; see the package doc. Every kind is a distinct segment right
// after the prefix, so Sweep can tell keys apart.
const (
	kindState   = "s"
	kindCodes   = "c"
	kindCounter = "n"
	kindLedger  = "l"
	kindEnroll  = "e"
	kindDevice  = "d"
	kindDevIdx  = "di"
	kindOwner   = "o"
)

func (s *Store) stateKey(key string) string { return s.prefix + kindState + ":" + key }
func (s *Store) groupKey(group string) string {
	return s.prefix + kindCodes + ":{g:" + group + "}" // store.GroupTag(group), in the same concatenation
}
func (s *Store) counterKey(key string) string { return s.prefix + kindCounter + ":" + key }
func (s *Store) ledgerKey(key string) string  { return s.prefix + kindLedger + ":" + key }
func (s *Store) enrollKey(user string) string { return s.prefix + kindEnroll + ":{u:" + user + "}" }
func (s *Store) deviceKey(id string) string   { return s.prefix + kindDevice + ":" + id }
func (s *Store) devIdxKey(user string) string { return s.prefix + kindDevIdx + ":{u:" + user + "}" }
func (s *Store) ownerKey(owner string) string { return s.prefix + kindOwner + ":{o:" + owner + "}" }

// clock returns the store's time in Unix milliseconds, the resolution of
// every expiry the store keeps.
func (s *Store) clock() int64 { return s.now().UnixMilli() }

// expiryMillis encodes an expiry instant: 0 for the zero time (never), else
// Unix milliseconds, floored, and at least 1 so that a real instant is never
// read as "never".
func expiryMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixMilli(), 1)
}

// ttlMillis is the Redis TTL for a record that logically expires at exp
// (Unix ms, 0 = never) when the store's clock reads now: the remaining
// duration plus the grace period, at least 1 ms; 0 means no TTL. It is a
// duration, never an absolute time, so it is right however far the injected
// clock is from the Redis server's clock.
func (s *Store) ttlMillis(exp, now int64) int64 {
	if exp == 0 {
		return 0
	}
	return max(exp-now+s.grace, 1)
}

// expired reports whether exp (Unix ms, 0 = never) has passed at now.
func expired(exp, now int64) bool { return exp != 0 && now >= exp }

// ctxErr fails fast on a finished context, before any round trip.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	return nil
}
