// Package store defines the storage the library needs, as small interfaces
// one per concern, and provides [Memory], an in-memory implementation for a
// single process and for tests.
//
// Stores shared by many app instances live in sub-packages (sqlstore,
// redisstore) so that importing the library never imports a database driver.
// A host may write its own store; package storetest is the conformance suite
// that proves it behaves.
//
// # What a store needs
//
// [Store] is every interface at once, which the memory, SQL and Redis
// stores implement. A host's own store needs only the interfaces of the
// parts of the library it uses (each factor checks for its own when it is
// built, and names any that is missing):
//
//   - twofactor.Service: [States], [OwnedStates] and [Counters], the
//     twofactor.Store interface of its Config.Store, and the
//     [Enrollments] of a factor that reads the user's records. With
//     [Batcher] each step of a login is one round trip per dependent
//     stage (a login by email code is six in all); without it, each
//     operation is a round trip of its own.
//   - totp: [States], [OwnedStates], [Ledger] and [Enrollments].
//   - emailcode and smscode: [Codes], [CodeGroups], [Counters],
//     [Enrollments], [States] and [OwnedStates]. With [BatchCounters] a
//     send increments its caps in one round trip.
//   - backupcodes: [Codes], [CodeGroups], [Counters] and [Enrollments].
//   - webauthn: [States], [OwnedStates], [Enrollments], [Ledger] and
//     [Counters].
//   - trust: [Devices]. With [DeviceToucher] a visit records its time
//     without rewriting the record, so it cannot bring back a device that
//     a concurrent revocation deleted.
//
// A store may also implement [BoundedCounters], which checks several
// limits and counts them in one atomic step, so that a request a limit
// refuses takes nothing from any counter; [IncrAllBelow] uses it, and
// falls back to [Counters] (not atomically) on a store without it.
// [StateResetter] takes a state and resets counters in one round trip.
//
// Every factor that keeps enrollments uses [EnrollmentToucher] when the
// store has it, to record a sign-in's time without rewriting the record
// (so it never undoes a concurrent rename), and reads and rewrites the
// record otherwise. [Sweeper] is for stores that keep expired records (see
// below). Package storetest tests whichever of these interfaces a store
// implements, so a store with only what its host uses runs it too.
//
// # Contract shared by every interface
//
//   - ctx comes first; a store returns promptly with ctx.Err() when ctx ends.
//   - "Not found" is [ErrNotFound] (matched with errors.Is), including a record
//     that has expired but was not yet swept. Any other error is a system
//     failure, which the library treats as "deny".
//   - Deleting something that does not exist is not an error.
//   - Operations said to be atomic must stay atomic across processes sharing
//     the store: exactly one caller wins a race, whatever the number of app
//     instances.
//   - Expiry is decided with the time of the store's own clock (Now),
//     injected so tests never sleep.
//   - Values are opaque bytes; the library hashes or encrypts anything secret
//     before it reaches a store.
//   - Keys, code groups, owners and user and record ids are valid UTF-8
//     without NUL bytes, 1 to [MaxKeyLen] bytes long; every store accepts
//     all of them and keeps them whole, comparing them byte for byte. The
//     library never passes anything else (it refuses user ids with control
//     characters or over the limit before they reach a store), so a store
//     may answer any other key with an error.
//
// # Expired records
//
// Every read ignores what has expired, so a store is correct without ever
// deleting it, but expired records hold data (challenge state may name a
// user and an address) and take space. [Sweeper] deletes them; run it on a
// schedule with [SweepEvery], unless the store sweeps by itself (the SQL
// store does, by default) or lets its server expire keys (Redis).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MaxKeyLen is the longest key, group, owner or user id, in bytes, that
// every store must accept (the SQL stores' key columns hold 255 bytes). The
// library builds no longer key: it bounds user ids accordingly
// (twofactor.MaxUserIDLen) and derives everything else from fixed-length ids.
const MaxKeyLen = 255

// ErrNotFound is returned when a record does not exist or has expired.
var ErrNotFound = errors.New("store: not found")

// States keeps short-lived opaque values under string keys: login
// challenges, pending enrollments, WebAuthn ceremony state.
type States interface {
	// PutState stores value under key until expiresAt, replacing any value.
	PutState(ctx context.Context, key string, value []byte, expiresAt time.Time) error
	// GetState returns the value, or ErrNotFound when missing or expired.
	GetState(ctx context.Context, key string) ([]byte, error)
	// TakeState atomically returns and deletes the value: of many concurrent
	// callers exactly one gets it, the others get ErrNotFound.
	TakeState(ctx context.Context, key string) ([]byte, error)
	// DeleteState removes the value, if any.
	DeleteState(ctx context.Context, key string) error
}

// OwnedStates files states under an owner (a user id) so that every one of
// them can be ended at once: when a user's password changes or an
// administrator resets their second factors, each pending challenge and
// enrollment of that user must stop working, and the library has no list
// of their keys.
type OwnedStates interface {
	// PutOwnedState is PutState that also files key under owner. Putting
	// the same key again (owned or not) replaces the value and its filing.
	PutOwnedState(ctx context.Context, owner, key string, value []byte, expiresAt time.Time) error
	// DeleteOwnedStates deletes every state currently filed under owner;
	// a state put after it returns is not affected. An owner with no
	// states is not an error.
	DeleteOwnedStates(ctx context.Context, owner string) error
}

// A Code is a hashed one-time code: an email or SMS code, a backup code.
// Codes live in groups (a challenge id, "a user's backup codes") so that a
// whole group can be revoked at once.
type Code struct {
	Group       string    // e.g. a challenge id; non-empty
	Key         string    // unique within Group; non-empty
	Hash        []byte    // keyed hash of the code, never the code itself
	ExpiresAt   time.Time // zero: never expires
	MaxAttempts int       // wrong answers before the code dies; 0: unlimited
}

// CodeStatus is the outcome of [Codes.ConsumeCode].
type CodeStatus int

// Outcomes of ConsumeCode.
const (
	CodeNotFound  CodeStatus = iota // no code under (group, key), or already consumed
	CodeMatched                     // the hash matched; the code is now gone
	CodeMismatch                    // wrong hash; one attempt used
	CodeExpired                     // the code existed but had expired; it is now gone
	CodeExhausted                   // MaxAttempts wrong answers were used; the code is dead
)

var codeStatusNames = [...]string{"not_found", "matched", "mismatch", "expired", "exhausted"}

func (s CodeStatus) String() string {
	if int(s) < len(codeStatusNames) {
		return codeStatusNames[s]
	}
	return "unknown"
}

// Codes keeps hashed one-time codes.
type Codes interface {
	// PutCode stores c, replacing any code under (c.Group, c.Key) and
	// resetting its attempts.
	PutCode(ctx context.Context, c Code) error
	// ConsumeCode atomically checks hash against the code under (group,
	// key). Matched deletes the code, so of concurrent callers presenting
	// the right hash exactly one gets CodeMatched. Mismatch uses one attempt;
	// the attempt that reaches MaxAttempts kills the code and later calls
	// get CodeExhausted (until it is swept or expires). An expired code
	// answers CodeExpired once and is deleted. err is for system failures
	// only.
	ConsumeCode(ctx context.Context, group, key string, hash []byte) (CodeStatus, error)
	// DeleteCode removes one code, if present.
	DeleteCode(ctx context.Context, group, key string) error
}

// CodeGroups acts on every code of a group at once.
type CodeGroups interface {
	// DeleteGroup removes every code in the group.
	DeleteGroup(ctx context.Context, group string) error
	// CountGroup returns how many live (unexpired, not exhausted) codes the
	// group holds.
	CountGroup(ctx context.Context, group string) (int, error)
}

// GroupTag returns the mark that keeps a counter beside the codes of
// group, for a store that spreads its keys over shards: a counter key that
// contains it, with no '{' before it, is in the same shard as group's
// codes. redisstore puts such a counter in the Redis Cluster hash slot of
// the group's codes, so that the operations of one batch (RunBatch) on
// both run there as one transaction, isolated from every other client's,
// as they do on one server or in one SQL transaction. Other stores take it
// as any other part of a key. It is "{g:" + group + "}", len(group)+4
// bytes.
func GroupTag(group string) string { return "{g:" + group + "}" }

// Counters are fixed-window counters for rate limits and lockouts.
type Counters interface {
	// Incr atomically adds one to the counter and returns the new count and
	// the end of its window. A counter that does not exist or whose window
	// has ended starts again at 1 with a window of the given length from now.
	// Concurrent callers each see a distinct count.
	Incr(ctx context.Context, key string, window time.Duration) (n int64, resetAt time.Time, err error)
	// Peek returns the count and window end without changing them: (0, zero
	// time, nil) for a missing or ended counter.
	Peek(ctx context.Context, key string) (n int64, resetAt time.Time, err error)
	// Decr takes one back from a live counter: it subtracts one when the
	// count is above zero, keeps the window, and leaves a missing or ended
	// counter alone (it never creates one). The library counts an attempt
	// before looking at it and uses Decr to return the count of an attempt
	// that turned out not to be a guess.
	Decr(ctx context.Context, key string) error
	// ResetCounter deletes the counter.
	ResetCounter(ctx context.Context, key string) error
}

// Ledger records one-time use, for replay protection.
type Ledger interface {
	// MarkUsed atomically records key as used until expiresAt. It returns
	// true for the first caller only; after expiresAt the key may be used
	// again. The mark it sets is Advance's mark of 1, and a live mark
	// refuses it whatever its value: a key marked by either is taken for
	// the other, so a caller may mark a key with Advance(key, 1) where an
	// earlier release called MarkUsed.
	MarkUsed(ctx context.Context, key string, expiresAt time.Time) (first bool, err error)
	// Advance atomically raises the value stored under key to value if value
	// is greater than the stored one (or none is stored) and reports whether
	// it did. Of concurrent callers with the same value, exactly one gets
	// true. It is a high-water mark: TOTP uses it so a time step, and every
	// step before it, is accepted once. The mark is kept until expiresAt.
	Advance(ctx context.Context, key string, value int64, expiresAt time.Time) (advanced bool, err error)
}

// An EnrollmentRecord is one enrolled factor instance of a user, as stored.
// Data is the factor's own encoding; anything secret in it is encrypted.
type EnrollmentRecord struct {
	UserID     string
	ID         string // unique per user
	Method     string
	Label      string
	Data       []byte
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// Enrollments keeps users' enrolled factors.
type Enrollments interface {
	// PutEnrollment creates or replaces the record with (e.UserID, e.ID).
	PutEnrollment(ctx context.Context, e EnrollmentRecord) error
	// GetEnrollment returns one record, or ErrNotFound.
	GetEnrollment(ctx context.Context, userID, id string) (EnrollmentRecord, error)
	// ListEnrollments returns the user's records ordered by CreatedAt, then
	// ID; none is an empty slice and a nil error.
	ListEnrollments(ctx context.Context, userID string) ([]EnrollmentRecord, error)
	// DeleteEnrollment removes one record, if present.
	DeleteEnrollment(ctx context.Context, userID, id string) error
}

// A Device is a trusted-device record.
type Device struct {
	ID         string // random, unguessable; the cookie carries it signed
	UserID     string
	Label      string // "Firefox on Linux"
	IP         string // the address or network (CIDR) the device is bound to; "" for none
	UserAgent  string // fingerprint of the user agent it is bound to; "" for none
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
}

// Devices keeps trusted-device records.
type Devices interface {
	// PutDevice creates or replaces the record with d.ID.
	PutDevice(ctx context.Context, d Device) error
	// GetDevice returns the record, or ErrNotFound when missing or expired.
	GetDevice(ctx context.Context, id string) (Device, error)
	// ListDevices returns the user's unexpired devices, ordered by
	// CreatedAt, then ID.
	ListDevices(ctx context.Context, userID string) ([]Device, error)
	// DeleteDevice removes the record, if present.
	DeleteDevice(ctx context.Context, id string) error
}

// Sweeper is implemented by stores that keep expired records until swept.
// Hosts call Sweep periodically (every few minutes is plenty), for example
// with [SweepEvery]; the library works correctly without it, only storage
// grows and expired records linger.
type Sweeper interface {
	// Sweep deletes expired records and returns how many it removed.
	Sweep(ctx context.Context) (int, error)
}

// Store is the interfaces every part of the library uses, at once: what
// the memory, SQL and Redis stores implement. A host's own store may
// implement fewer; see "What a store needs" in the package documentation.
type Store interface {
	States
	OwnedStates
	Codes
	CodeGroups
	Counters
	Ledger
	Enrollments
	Devices
}

// CounterIncr names one counter of a batch and its window.
type CounterIncr struct {
	Key    string
	Window time.Duration
}

// CounterValue is one counter's state after an increment.
type CounterValue struct {
	N       int64
	ResetAt time.Time
}

// BatchCounters is implemented by stores that can increment several
// counters in one round trip. Each increment is atomic on its own, exactly
// as Counters.Incr; the batch as a whole need not be. The results are in the
// order of incrs. Use IncrAll rather than calling it directly.
type BatchCounters interface {
	IncrBatch(ctx context.Context, incrs []CounterIncr) ([]CounterValue, error)
}

// IncrAll increments every counter in incrs: in one round trip when c
// implements BatchCounters, one Incr after another otherwise. On error no
// result is returned; some counters may have been incremented.
func IncrAll(ctx context.Context, c Counters, incrs []CounterIncr) ([]CounterValue, error) {
	if len(incrs) == 0 {
		return nil, nil
	}
	if b, ok := c.(BatchCounters); ok {
		out, err := b.IncrBatch(ctx, incrs)
		if err != nil {
			return nil, err
		}
		if len(out) != len(incrs) {
			return nil, errors.New("store: IncrBatch returned a result count that does not match the batch")
		}
		return out, nil
	}
	out := make([]CounterValue, len(incrs))
	for i, in := range incrs {
		n, reset, err := c.Incr(ctx, in.Key, in.Window)
		if err != nil {
			return nil, err
		}
		out[i] = CounterValue{N: n, ResetAt: reset}
	}
	return out, nil
}

// BoundedIncr names one counter of a bounded increment
// ([BoundedCounters]): its key and window, as [Counters.Incr] takes them,
// and the bound the increment must not pass.
type BoundedIncr struct {
	Key    string
	Window time.Duration
	// Max is the bound: the counter is incremented only while its count
	// is below Max, so no bounded increment takes it past Max. A bound
	// below 1 makes a counter that is always full, which refuses every
	// call that names it (to count without a bound, use Counters.Incr).
	Max int64
	// Steps change the bound as the counter's window ages, for a schedule
	// that allows more the longer a run has lasted (the user lockout):
	// the bound is the Max of the last step, in the order given, whose
	// After the age of the window has reached, and Max before any. List
	// them by increasing After. The age is the time since the window
	// began, taken as its end minus Window, so pass the same Window on
	// every call for the counter; a missing or ended counter has age zero
	// (a new window would start now).
	Steps []BoundStep
	// CountRefused increments the counter even when the call is refused
	// because another counter of it is full, as long as this one is below
	// its own bound: for what a request spends whether it is served or not
	// (its own caps), as opposed to what only a request that is served
	// may take (a budget shared with other accounts, which a refused
	// request must leave alone).
	CountRefused bool
	// Check makes the entry a check only: its counter and bound are read,
	// and a full counter refuses the call, but no call ever increments it
	// (CountRefused is ignored). It joins a limit that other requests
	// count (the user's run of wrong answers) to a request that must not
	// add to it (a send).
	Check bool
}

// BoundStep is one step of a bound's schedule: from the time a counter's
// window is After old, its bound is Max.
type BoundStep struct {
	After time.Duration
	Max   int64
}

// MaxAt returns b's bound for a counter whose window is age old: the Max
// of the last of b.Steps whose After is at most age, or b.Max.
func (b BoundedIncr) MaxAt(age time.Duration) int64 {
	m := b.Max
	for _, st := range b.Steps {
		if age >= st.After {
			m = st.Max
		}
	}
	return m
}

// BoundedValue is one counter's outcome of a bounded increment.
type BoundedValue struct {
	// N and ResetAt are the counter after the call, as Peek reads it: a
	// missing or ended counter that the call did not increment reads 0
	// and the zero time.
	N       int64
	ResetAt time.Time
	// Max is the bound the call applied: BoundedIncr.MaxAt the age of the
	// counter's window when the call read it.
	Max int64
	// Full is set when the counter was at or above Max when the call read
	// it: it refused the call, and was not incremented.
	Full bool
	// Incremented is set when the call added one to the counter: N is
	// then the count this caller took, which no concurrent caller sees.
	Incremented bool
}

// BoundedCounters is implemented by stores that can increment several
// counters, each only while it is below a bound, all decided at once: a
// check of several limits in one round trip, after which a request that
// a limit refused has taken nothing from the counters it did not spend,
// needs no give-back, and never showed another request a count it then
// took back. Use [IncrAllBelow] rather than calling it directly.
type BoundedCounters interface {
	// IncrBelow reads the counter of each entry of incrs as Incr does (a
	// missing or ended counter counts zero) and its bound
	// (BoundedIncr.MaxAt the age of its window). An entry whose count is at
	// or above its bound is full. Then:
	//
	//   - when no entry is full, the call is admitted: every counter is
	//     incremented by one, except those of Check entries;
	//   - otherwise the call is refused: only the entries with CountRefused
	//     that are not full (nor Check) are incremented, and no other
	//     counter changes.
	//
	// An increment is Incr's: a missing or ended counter starts again at 1
	// with a window of its entry's Window from now, a live counter keeps its
	// window. A counter that is not incremented is left as it was: an ended
	// one is neither restarted nor deleted, a missing one is not created.
	// Expiry and ages are decided with the store's clock.
	//
	// The call is atomic, across processes sharing the store: no other
	// operation on its counters comes between its reads and its writes.
	// So of concurrent calls on the same counters, each increment is seen
	// by exactly one caller, and exactly as many calls are admitted as the
	// counter with the least room below its bound allows (when nothing
	// else changes the counters meanwhile); no counter passes its bound
	// through IncrBelow. (A store that cannot give this for every call
	// documents which calls it can: redisstore on a Redis Cluster gives it
	// for the keys of one hash slot.)
	//
	// The results are in the order of incrs; the call was admitted when
	// none is Full ([FirstFull]). Keys must be distinct: a call that names
	// a key twice is an error and changes nothing ([CheckBounded]). An
	// empty incrs returns no result. On error no result is returned, and
	// the caller treats the call as refused; it may have been applied (a
	// reply lost after the store wrote).
	IncrBelow(ctx context.Context, incrs []BoundedIncr) ([]BoundedValue, error)
}

// FirstFull returns the index of the first full counter of a bounded
// increment's results, the limit that refused the call, or -1 when the
// call was admitted.
func FirstFull(vals []BoundedValue) int {
	for i, v := range vals {
		if v.Full {
			return i
		}
	}
	return -1
}

// CheckBounded returns the error of IncrBelow for incrs that name a key
// twice, and nil otherwise. Stores call it before touching any counter.
func CheckBounded(incrs []BoundedIncr) error {
	dup := func(key string) error {
		return fmt.Errorf("store: counter %q is named twice in one bounded increment", key)
	}
	if len(incrs) <= 8 { // a limit check's few counters: no map to build
		for i := range incrs {
			for j := range i {
				if incrs[i].Key == incrs[j].Key {
					return dup(incrs[i].Key)
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(incrs))
	for _, in := range incrs {
		if _, ok := seen[in.Key]; ok {
			return dup(in.Key)
		}
		seen[in.Key] = struct{}{}
	}
	return nil
}

// DecideBounded is the rule of IncrBelow, for a store that implements it
// by reading the counters under a lock and then writing them. Given incrs
// (whose keys CheckBounded accepted), live[i] the count and window end of
// the counter of incrs[i] as read at now (the zero CounterValue for a
// missing or ended counter), it returns the call's results. The store then
// writes N and ResetAt of every result that is Incremented before it
// releases the lock, and writes nothing else.
func DecideBounded(incrs []BoundedIncr, live []CounterValue, now time.Time) []BoundedValue {
	out := make([]BoundedValue, len(incrs))
	refused := false
	for i, in := range incrs {
		v := live[i]
		var age time.Duration
		if !v.ResetAt.IsZero() {
			age = now.Sub(v.ResetAt.Add(-in.Window))
		}
		bound := in.MaxAt(age)
		out[i] = BoundedValue{N: v.N, ResetAt: v.ResetAt, Max: bound, Full: v.N >= bound}
		refused = refused || out[i].Full
	}
	for i, in := range incrs {
		o := &out[i]
		if o.Full || in.Check || (refused && !in.CountRefused) {
			continue
		}
		if o.ResetAt.IsZero() {
			o.N, o.ResetAt = 0, now.Add(in.Window)
		}
		o.N++
		o.Incremented = true
	}
	return out
}

// IncrAllBelow increments the counters of incrs that IncrBelow would, and
// returns its results: in one atomic call when c implements
// BoundedCounters. now is the time of the store's clock; only the
// fallback uses it, to measure the age of windows for Steps.
//
// On a store without BoundedCounters it increments every counter
// (IncrAll, one round trip with BatchCounters), decides from the counts
// it got, and takes back with Decr, one round trip each, every increment
// that IncrBelow would not have made. That is not atomic: until the
// take-back, concurrent callers see the extra counts and may be refused
// by them (so fewer calls may be admitted than the bounds allow, though
// never more), and a counter that was missing is left live at zero,
// its window started, where IncrBelow would not have created it. On error
// no result is returned; some counters may be left incremented.
func IncrAllBelow(ctx context.Context, c Counters, incrs []BoundedIncr, now time.Time) ([]BoundedValue, error) {
	if len(incrs) == 0 {
		return nil, nil
	}
	if err := CheckBounded(incrs); err != nil {
		return nil, err
	}
	if b, ok := c.(BoundedCounters); ok {
		out, err := b.IncrBelow(ctx, incrs)
		if err != nil {
			return nil, err
		}
		if len(out) != len(incrs) {
			return nil, errors.New("store: IncrBelow returned a result count that does not match the call")
		}
		return out, nil
	}
	plain := make([]CounterIncr, 0, len(incrs))
	for _, in := range incrs {
		if !in.Check {
			plain = append(plain, CounterIncr{Key: in.Key, Window: in.Window})
		}
	}
	counted, err := IncrAll(ctx, c, plain)
	if err != nil {
		return nil, err
	}
	// The state each counter had before, as far as the counts tell: the
	// window is the one the increment kept or started. A check is read.
	before := make([]CounterValue, len(incrs))
	j := 0
	for i, in := range incrs {
		if in.Check {
			n, reset, err := c.Peek(ctx, in.Key)
			if err != nil {
				return nil, err
			}
			before[i] = CounterValue{N: n, ResetAt: reset}
			continue
		}
		v := counted[j]
		j++
		before[i] = CounterValue{N: v.N - 1, ResetAt: v.ResetAt}
	}
	out := DecideBounded(incrs, before, now)
	for i, in := range incrs {
		if out[i].Incremented || in.Check {
			continue
		}
		if err := c.Decr(ctx, in.Key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// StateResetter is implemented by stores that can take a state and reset
// counters in one round trip: a challenge taken by its one correct answer,
// and the end of its user's run of wrong answers. The Service takes and
// resets one after the other on a store without it.
type StateResetter interface {
	// TakeStateReset is TakeState of key and ResetCounter of every key in
	// counters, in one round trip. The counters are reset whether or not
	// the state was there (ErrNotFound); on any other error neither may
	// have happened, or both. The take is atomic as TakeState's: of
	// concurrent callers exactly one gets the value.
	TakeStateReset(ctx context.Context, key string, counters []string) ([]byte, error)
}

// EnrollmentToucher is implemented by stores that can update an
// enrollment's last-use time without rewriting the record, so a login's
// write never races a rename or loses another field. Factors fall back to
// GetEnrollment and PutEnrollment on stores without it.
type EnrollmentToucher interface {
	// TouchEnrollment sets LastUsedAt of the record (userID, id) if it
	// exists, and only if used is later than the stored time. A missing
	// record is not an error; it is never created.
	TouchEnrollment(ctx context.Context, userID, id string, used time.Time) error
}

// DeviceToucher is implemented by stores that can update a trusted
// device's last-seen time without rewriting the record. Unlike PutDevice it
// never creates one, so it cannot bring back a device that a concurrent
// revocation deleted.
type DeviceToucher interface {
	// TouchDevice sets LastSeenAt of record id if it exists. A missing
	// record is not an error.
	TouchDevice(ctx context.Context, id string, seen time.Time) error
}
