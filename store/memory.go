package store

import (
	"cmp"
	"context"
	"crypto/subtle"
	"slices"
	"sync"
	"time"
)

// Memory is a Store kept in process memory: the default for a single
// instance, and the reference for the conformance suite. Its zero value is
// ready to use. It is safe for concurrent use; limits and one-time codes it
// holds are not shared with other processes, so use a SQL or Redis store
// when several app instances serve the same users.
type Memory struct {
	// Now is the clock that decides expiry. Nil means time.Now.
	Now func() time.Time

	mu          sync.Mutex
	batch       sync.Mutex // RunBatch: one batch at a time
	states      map[string]memState
	owned       map[string]map[string]struct{} // owner -> keys filed under it
	codes       map[string]map[string]*memCode // group -> key -> code
	counters    map[string]memCounter
	ledger      map[string]memMark
	enrollments map[string]map[string]EnrollmentRecord // user -> id -> record
	devices     map[string]Device
}

var (
	_ Store             = (*Memory)(nil)
	_ Sweeper           = (*Memory)(nil)
	_ BatchCounters     = (*Memory)(nil)
	_ BoundedCounters   = (*Memory)(nil)
	_ StateResetter     = (*Memory)(nil)
	_ DeviceToucher     = (*Memory)(nil)
	_ EnrollmentToucher = (*Memory)(nil)
)

// NewMemory returns an empty memory store: store.NewMemory(). A test that
// controls time passes its clock, store.NewMemory(clock.Now); a nil clock
// means time.Now.
func NewMemory(now ...func() time.Time) *Memory {
	m := &Memory{}
	if len(now) > 0 {
		m.Now = now[0]
	}
	return m
}

type memState struct {
	value     []byte
	expiresAt time.Time
	owner     string
	hasOwner  bool
}

type memCode struct {
	hash        []byte
	expiresAt   time.Time
	maxAttempts int
	attempts    int
}

type memCounter struct {
	n       int64
	resetAt time.Time
}

type memMark struct {
	value     int64
	expiresAt time.Time
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// lock takes the mutex and initializes the maps on first use.
func (m *Memory) lock() {
	m.mu.Lock()
	if m.states == nil {
		m.states = map[string]memState{}
		m.owned = map[string]map[string]struct{}{}
		m.codes = map[string]map[string]*memCode{}
		m.counters = map[string]memCounter{}
		m.ledger = map[string]memMark{}
		m.enrollments = map[string]map[string]EnrollmentRecord{}
		m.devices = map[string]Device{}
	}
}

// expired reports whether t (zero = never) is at or before now.
func expired(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

// PutState implements States.
func (m *Memory) PutState(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	m.putState(key, memState{value: slices.Clone(value), expiresAt: expiresAt})
	return nil
}

// putState stores s under key, moving the key's filing to s's owner.
func (m *Memory) putState(key string, s memState) {
	if old, ok := m.states[key]; ok && old.hasOwner {
		m.unfile(old.owner, key)
	}
	m.states[key] = s
	if s.hasOwner {
		keys := m.owned[s.owner]
		if keys == nil {
			keys = map[string]struct{}{}
			m.owned[s.owner] = keys
		}
		keys[key] = struct{}{}
	}
}

// deleteState removes key and its filing.
func (m *Memory) deleteState(key string) {
	if old, ok := m.states[key]; ok && old.hasOwner {
		m.unfile(old.owner, key)
	}
	delete(m.states, key)
}

func (m *Memory) unfile(owner, key string) {
	if keys := m.owned[owner]; keys != nil {
		delete(keys, key)
		if len(keys) == 0 {
			delete(m.owned, owner)
		}
	}
}

// PutOwnedState implements OwnedStates.
func (m *Memory) PutOwnedState(ctx context.Context, owner, key string, value []byte, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	m.putState(key, memState{value: slices.Clone(value), expiresAt: expiresAt, owner: owner, hasOwner: true})
	return nil
}

// DeleteOwnedStates implements OwnedStates.
func (m *Memory) DeleteOwnedStates(ctx context.Context, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	for key := range m.owned[owner] {
		delete(m.states, key)
	}
	delete(m.owned, owner)
	return nil
}

// GetState implements States.
func (m *Memory) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.lock()
	defer m.mu.Unlock()
	s, ok := m.states[key]
	if !ok || expired(s.expiresAt, m.now()) {
		return nil, ErrNotFound
	}
	return slices.Clone(s.value), nil
}

// TakeState implements States.
func (m *Memory) TakeState(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.lock()
	defer m.mu.Unlock()
	return m.takeState(key)
}

// takeState is TakeState with m.mu held.
func (m *Memory) takeState(key string) ([]byte, error) {
	s, ok := m.states[key]
	if !ok {
		return nil, ErrNotFound
	}
	m.deleteState(key)
	if expired(s.expiresAt, m.now()) {
		return nil, ErrNotFound
	}
	return s.value, nil
}

// TakeStateReset implements StateResetter.
func (m *Memory) TakeStateReset(ctx context.Context, key string, counters []string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.lock()
	defer m.mu.Unlock()
	for _, k := range counters {
		delete(m.counters, k)
	}
	return m.takeState(key)
}

// DeleteState implements States.
func (m *Memory) DeleteState(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	m.deleteState(key)
	return nil
}

// PutCode implements Codes.
func (m *Memory) PutCode(ctx context.Context, c Code) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	g := m.codes[c.Group]
	if g == nil {
		g = map[string]*memCode{}
		m.codes[c.Group] = g
	}
	g[c.Key] = &memCode{hash: slices.Clone(c.Hash), expiresAt: c.ExpiresAt, maxAttempts: c.MaxAttempts}
	return nil
}

// ConsumeCode implements Codes.
func (m *Memory) ConsumeCode(ctx context.Context, group, key string, hash []byte) (CodeStatus, error) {
	if err := ctx.Err(); err != nil {
		return CodeNotFound, err
	}
	m.lock()
	defer m.mu.Unlock()
	g := m.codes[group]
	c, ok := g[key]
	if !ok {
		return CodeNotFound, nil
	}
	switch {
	case expired(c.expiresAt, m.now()):
		m.deleteCode(group, key)
		return CodeExpired, nil
	case c.maxAttempts > 0 && c.attempts >= c.maxAttempts:
		return CodeExhausted, nil
	case subtle.ConstantTimeCompare(c.hash, hash) == 1:
		m.deleteCode(group, key)
		return CodeMatched, nil
	default:
		c.attempts++
		return CodeMismatch, nil
	}
}

func (m *Memory) deleteCode(group, key string) {
	g := m.codes[group]
	delete(g, key)
	if len(g) == 0 {
		delete(m.codes, group)
	}
}

// DeleteCode implements Codes.
func (m *Memory) DeleteCode(ctx context.Context, group, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	m.deleteCode(group, key)
	return nil
}

// DeleteGroup implements CodeGroups.
func (m *Memory) DeleteGroup(ctx context.Context, group string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	delete(m.codes, group)
	return nil
}

// CountGroup implements CodeGroups.
func (m *Memory) CountGroup(ctx context.Context, group string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.lock()
	defer m.mu.Unlock()
	now := m.now()
	n := 0
	for _, c := range m.codes[group] {
		if !expired(c.expiresAt, now) && (c.maxAttempts == 0 || c.attempts < c.maxAttempts) {
			n++
		}
	}
	return n, nil
}

// Incr implements Counters.
func (m *Memory) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	m.lock()
	defer m.mu.Unlock()
	now := m.now()
	c, ok := m.counters[key]
	if !ok || expired(c.resetAt, now) {
		c = memCounter{resetAt: now.Add(window)}
	}
	c.n++
	m.counters[key] = c
	return c.n, c.resetAt, nil
}

// IncrBatch implements BatchCounters.
func (m *Memory) IncrBatch(ctx context.Context, incrs []CounterIncr) ([]CounterValue, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make([]CounterValue, len(incrs))
	for i, in := range incrs {
		c, ok := m.counters[in.Key]
		if !ok || expired(c.resetAt, now) {
			c = memCounter{resetAt: now.Add(in.Window)}
		}
		c.n++
		m.counters[in.Key] = c
		out[i] = CounterValue{N: c.n, ResetAt: c.resetAt}
	}
	return out, nil
}

// IncrBelow implements BoundedCounters: the counters are read, decided
// (DecideBounded) and written under the store's lock.
func (m *Memory) IncrBelow(ctx context.Context, incrs []BoundedIncr) ([]BoundedValue, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(incrs) == 0 {
		return nil, nil
	}
	if err := CheckBounded(incrs); err != nil {
		return nil, err
	}
	m.lock()
	defer m.mu.Unlock()
	now := m.now()
	live := make([]CounterValue, len(incrs))
	for i, in := range incrs {
		if c, ok := m.counters[in.Key]; ok && !expired(c.resetAt, now) {
			live[i] = CounterValue{N: c.n, ResetAt: c.resetAt}
		}
	}
	out := DecideBounded(incrs, live, now)
	for i, v := range out {
		if v.Incremented {
			m.counters[incrs[i].Key] = memCounter{n: v.N, resetAt: v.ResetAt}
		}
	}
	return out, nil
}

// Peek implements Counters.
func (m *Memory) Peek(ctx context.Context, key string) (int64, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	m.lock()
	defer m.mu.Unlock()
	c, ok := m.counters[key]
	if !ok || expired(c.resetAt, m.now()) {
		return 0, time.Time{}, nil
	}
	return c.n, c.resetAt, nil
}

// Decr implements Counters.
func (m *Memory) Decr(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	c, ok := m.counters[key]
	if !ok || expired(c.resetAt, m.now()) || c.n <= 0 {
		return nil
	}
	c.n--
	m.counters[key] = c
	return nil
}

// ResetCounter implements Counters.
func (m *Memory) ResetCounter(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	delete(m.counters, key)
	return nil
}

// MarkUsed implements Ledger.
func (m *Memory) MarkUsed(ctx context.Context, key string, expiresAt time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.lock()
	defer m.mu.Unlock()
	if mk, ok := m.ledger[key]; ok && !expired(mk.expiresAt, m.now()) {
		return false, nil
	}
	m.ledger[key] = memMark{value: 1, expiresAt: expiresAt}
	return true, nil
}

// Advance implements Ledger.
func (m *Memory) Advance(ctx context.Context, key string, value int64, expiresAt time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.lock()
	defer m.mu.Unlock()
	if mk, ok := m.ledger[key]; ok && !expired(mk.expiresAt, m.now()) && mk.value >= value {
		return false, nil
	}
	m.ledger[key] = memMark{value: value, expiresAt: expiresAt}
	return true, nil
}

// PutEnrollment implements Enrollments.
func (m *Memory) PutEnrollment(ctx context.Context, e EnrollmentRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	u := m.enrollments[e.UserID]
	if u == nil {
		u = map[string]EnrollmentRecord{}
		m.enrollments[e.UserID] = u
	}
	e.Data = slices.Clone(e.Data)
	u[e.ID] = e
	return nil
}

// GetEnrollment implements Enrollments.
func (m *Memory) GetEnrollment(ctx context.Context, userID, id string) (EnrollmentRecord, error) {
	if err := ctx.Err(); err != nil {
		return EnrollmentRecord{}, err
	}
	m.lock()
	defer m.mu.Unlock()
	e, ok := m.enrollments[userID][id]
	if !ok {
		return EnrollmentRecord{}, ErrNotFound
	}
	e.Data = slices.Clone(e.Data)
	return e, nil
}

// ListEnrollments implements Enrollments.
func (m *Memory) ListEnrollments(ctx context.Context, userID string) ([]EnrollmentRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.lock()
	defer m.mu.Unlock()
	out := make([]EnrollmentRecord, 0, len(m.enrollments[userID]))
	for _, e := range m.enrollments[userID] {
		e.Data = slices.Clone(e.Data)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b EnrollmentRecord) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteEnrollment implements Enrollments.
func (m *Memory) DeleteEnrollment(ctx context.Context, userID, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	if u := m.enrollments[userID]; u != nil {
		delete(u, id)
		if len(u) == 0 {
			delete(m.enrollments, userID)
		}
	}
	return nil
}

// PutDevice implements Devices.
func (m *Memory) PutDevice(ctx context.Context, d Device) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	m.devices[d.ID] = d
	return nil
}

// GetDevice implements Devices.
func (m *Memory) GetDevice(ctx context.Context, id string) (Device, error) {
	if err := ctx.Err(); err != nil {
		return Device{}, err
	}
	m.lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	if !ok || expired(d.ExpiresAt, m.now()) {
		return Device{}, ErrNotFound
	}
	return d, nil
}

// ListDevices implements Devices.
func (m *Memory) ListDevices(ctx context.Context, userID string) ([]Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.lock()
	defer m.mu.Unlock()
	now := m.now()
	out := []Device{}
	for _, d := range m.devices {
		if d.UserID == userID && !expired(d.ExpiresAt, now) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Device) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// TouchEnrollment implements EnrollmentToucher.
func (m *Memory) TouchEnrollment(ctx context.Context, userID, id string, used time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	if rec, ok := m.enrollments[userID][id]; ok && used.After(rec.LastUsedAt) {
		rec.LastUsedAt = used
		m.enrollments[userID][id] = rec
	}
	return nil
}

// TouchDevice implements DeviceToucher.
func (m *Memory) TouchDevice(ctx context.Context, id string, seen time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	if d, ok := m.devices[id]; ok {
		d.LastSeenAt = seen
		m.devices[id] = d
	}
	return nil
}

// DeleteDevice implements Devices.
func (m *Memory) DeleteDevice(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lock()
	defer m.mu.Unlock()
	delete(m.devices, id)
	return nil
}

// Sweep implements Sweeper.
func (m *Memory) Sweep(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.lock()
	defer m.mu.Unlock()
	now := m.now()
	n := 0
	for k, s := range m.states {
		if expired(s.expiresAt, now) {
			m.deleteState(k)
			n++
		}
	}
	for g, codes := range m.codes {
		for k, c := range codes {
			if expired(c.expiresAt, now) {
				delete(codes, k)
				n++
			}
		}
		if len(codes) == 0 {
			delete(m.codes, g)
		}
	}
	for k, c := range m.counters {
		if expired(c.resetAt, now) {
			delete(m.counters, k)
			n++
		}
	}
	for k, mk := range m.ledger {
		if expired(mk.expiresAt, now) {
			delete(m.ledger, k)
			n++
		}
	}
	for k, d := range m.devices {
		if expired(d.ExpiresAt, now) {
			delete(m.devices, k)
			n++
		}
	}
	return n, nil
}

// RunBatch implements Batcher: a call to the memory store costs no round
// trip, so the operations run one after the other (RunOp), each under the
// store's lock as its own method takes it. Batches run one at a time, so
// the operations of two batches never interleave, as those of two SQL
// transactions on the same rows do not (a double submit of a backup code
// relies on it to tell its loser from a wrong code).
func (m *Memory) RunBatch(ctx context.Context, ops []Op) error {
	m.batch.Lock()
	defer m.batch.Unlock()
	return RunEach(ctx, m, ops, m.now())
}
