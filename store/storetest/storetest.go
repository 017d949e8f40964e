// Package storetest is the conformance suite for stores. Every store of
// this module runs it, and a host that writes its own store runs it too:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) *mystore.Store {
//			return mystore.New(db, mystore.Options{Now: now})
//		})
//	}
//
// The factory must return a store that uses now as its clock and is empty,
// or at least shares no keys with other calls (the suite uses random key
// prefixes, so a shared database is fine). The suite advances the clock
// itself; it never sleeps.
//
// The suite tests each interface of package store that the store
// implements, found by type assertion on the value the factory returns, and
// only those, so a store written for the factors a host uses, rather than
// the whole of store.Store, runs it too (package store's documentation
// lists what the Service and each factor need). An interface that extends
// another is tested with it: OwnedStates with States, CodeGroups with
// Codes, BatchCounters and BoundedCounters with Counters, DeviceToucher
// with Devices and
// EnrollmentToucher with Enrollments; a store with the first but not the
// second fails. Sweeper is tested on the records of those of States, Codes,
// Ledger and Devices that the store implements. The suite logs every
// interface it did not find, and fails a store that implements none.
//
// Race tests start Goroutines goroutines against one key and repeat Rounds
// times, asserting exactly one winner and exact counts: concurrent Incr and
// Decr on one counter must end at the exact expected count, racing Decr
// must stop at zero, every state filed under an owner by racing
// PutOwnedState calls must be gone after DeleteOwnedStates, racing
// TouchEnrollment calls must leave the latest time, and a record renamed
// while it is touched must keep its last name. Racing bounded increments
// (BoundedCounters) must admit exactly as many calls as the bound allows,
// from two stores at once when Options.Shared says the factory's stores
// share their data, as two app instances on one database do.
//
// Besides each interface on its own, the suite checks that OwnedStates
// deletes exactly the states currently filed under the owner (not a key
// put again without an owner or under another one, nor one put after the
// delete), and that every key, group, owner and id of exactly
// store.MaxKeyLen bytes, non-ASCII UTF-8 included, is stored whole.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/store"
)

// Factory returns a store that uses now as its clock. S is whatever type
// the store's constructor returns: store.Store, a concrete type, or an
// interface of the host's own.
type Factory[S any] func(t *testing.T, now func() time.Time) S

// Options tune the suite. The zero value is the full suite.
type Options struct {
	// Goroutines racing on one key. Zero means 64.
	Goroutines int
	// Rounds each race test repeats. Zero means 50.
	Rounds int
	// Shared says that the stores the factory returns share their data,
	// as app instances on one database do (the SQL and Redis stores'
	// tests): the suite then races two of them against each other. Leave
	// it false when each call returns a store of its own (store.Memory);
	// the races then run on one store.
	Shared bool
	// AtomicPerHashSlot says that the store makes a BoundedCounters call
	// atomic only among keys of one Redis hash slot (redisstore on a Redis
	// Cluster). The suite tests bounded increments both on keys that share
	// a hash tag ({...}) and on keys that do not; with AtomicPerHashSlot,
	// racing calls on keys that do not are only required never to pass a
	// bound, not to admit exactly as many calls as it allows.
	AtomicPerHashSlot bool
}

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Run runs the suite with default options.
func Run[S any](t *testing.T, newStore Factory[S]) { RunWith(t, newStore, Options{}) }

// RunWith runs the suite: every test of the interfaces the store
// implements.
func RunWith[S any](t *testing.T, newStore Factory[S], opt Options) {
	if opt.Goroutines == 0 {
		opt.Goroutines = 64
	}
	if opt.Rounds == 0 {
		opt.Rounds = 50
	}
	h := &harness{opt: opt, newStore: func(t *testing.T, now func() time.Time) any {
		t.Helper()
		s := newStore(t, now)
		require.NotNil(t, s, "factory returned nil")
		return s
	}}
	p := plan(h.newStore(t, NewClock(start).Now))
	for _, msg := range p.problems {
		t.Error(msg)
	}
	if len(p.missing) > 0 {
		t.Logf("the store does not implement %s: not tested", strings.Join(p.missing, ", "))
	}
	h.has = p.has
	for _, name := range p.tests {
		t.Run(name, func(t *testing.T) { suiteTests[name](h, t) })
	}
}

// suiteTests maps the name of each top-level test to its function.
var suiteTests = map[string]func(*harness, *testing.T){
	"States":            (*harness).states,
	"OwnedStates":       (*harness).ownedStates,
	"Codes":             (*harness).codes,
	"CodeGroups":        (*harness).codeGroups,
	"Counters":          (*harness).counters,
	"Decr":              (*harness).decr,
	"BatchCounters":     (*harness).batchCounters,
	"BoundedCounters":   (*harness).boundedCounters,
	"StateResetter":     (*harness).stateResetter,
	"Batcher":           (*harness).batcher,
	"Ledger":            (*harness).ledger,
	"Enrollments":       (*harness).enrollments,
	"EnrollmentToucher": (*harness).enrollmentToucher,
	"Devices":           (*harness).devices,
	"DeviceToucher":     (*harness).deviceToucher,
	"Races":             (*harness).races,
	"Sweep":             (*harness).sweep,
	"MaxKeyLen":         (*harness).maxKeyLen,
	"CanceledContext":   (*harness).canceled,
}

// has records which interfaces of package store a store implements.
type has struct {
	states, owned, codes, groups, counters, batch, bounded, ledger bool
	resetter, batcher                                              bool
	enrollments, devices, deviceTouch, enrollTouch, sweeper        bool
}

// suite is what RunWith runs for one store: the names of its tests, in
// order, the interfaces it did not find, and what is wrong with the set it
// found.
type suite struct {
	has      has
	tests    []string
	missing  []string
	problems []string
}

// plan decides which tests apply to s.
func plan(s any) suite {
	var p suite
	h := has{
		states:      implements[store.States](s, &p),
		owned:       implements[store.OwnedStates](s, &p),
		codes:       implements[store.Codes](s, &p),
		groups:      implements[store.CodeGroups](s, &p),
		counters:    implements[store.Counters](s, &p),
		batch:       implements[store.BatchCounters](s, &p),
		bounded:     implements[store.BoundedCounters](s, &p),
		resetter:    implements[store.StateResetter](s, &p),
		batcher:     implements[store.Batcher](s, &p),
		ledger:      implements[store.Ledger](s, &p),
		enrollments: implements[store.Enrollments](s, &p),
		enrollTouch: implements[store.EnrollmentToucher](s, &p),
		devices:     implements[store.Devices](s, &p),
		deviceTouch: implements[store.DeviceToucher](s, &p),
		sweeper:     implements[store.Sweeper](s, &p),
	}
	needs := func(ext, base bool, extName, baseName string) bool {
		if ext && !base {
			p.problems = append(p.problems, fmt.Sprintf("the store implements store.%s but not store.%s, without which it cannot be tested (or used)", extName, baseName))
		}
		return ext && base
	}
	h.owned = needs(h.owned, h.states, "OwnedStates", "States")
	h.groups = needs(h.groups, h.codes, "CodeGroups", "Codes")
	h.batch = needs(h.batch, h.counters, "BatchCounters", "Counters")
	h.bounded = needs(h.bounded, h.counters, "BoundedCounters", "Counters")
	h.resetter = needs(needs(h.resetter, h.states, "StateResetter", "States"), h.counters, "StateResetter", "Counters")
	for _, base := range []struct {
		ok   bool
		name string
	}{{h.states, "States"}, {h.counters, "Counters"}, {h.ledger, "Ledger"}, {h.enrollments, "Enrollments"}, {h.codes, "Codes"}} {
		h.batcher = needs(h.batcher, base.ok, "Batcher", base.name)
	}
	h.enrollTouch = needs(h.enrollTouch, h.enrollments, "EnrollmentToucher", "Enrollments")
	h.deviceTouch = needs(h.deviceTouch, h.devices, "DeviceToucher", "Devices")
	p.has = h
	add := func(ok bool, names ...string) {
		if ok {
			p.tests = append(p.tests, names...)
		}
	}
	add(h.states, "States")
	add(h.owned, "OwnedStates")
	add(h.codes, "Codes")
	add(h.groups, "CodeGroups")
	add(h.counters, "Counters", "Decr")
	add(h.batch, "BatchCounters")
	add(h.bounded, "BoundedCounters")
	add(h.resetter, "StateResetter")
	add(h.batcher, "Batcher")
	add(h.ledger, "Ledger")
	add(h.enrollments, "Enrollments")
	add(h.enrollTouch, "EnrollmentToucher")
	add(h.devices, "Devices")
	add(h.deviceTouch, "DeviceToucher")
	some := h.states || h.codes || h.counters || h.ledger || h.enrollments || h.devices
	add(h.states || h.codes || h.counters || h.ledger || h.enrollTouch, "Races")
	add(h.sweeper, "Sweep")
	add(some, "MaxKeyLen", "CanceledContext")
	if !some {
		p.problems = append(p.problems, fmt.Sprintf("%T implements no interface of package store that the suite can test", s))
	}
	return p
}

// implements reports whether s implements I, and lists I in p.missing
// when it does not.
func implements[I any](s any, p *suite) bool {
	_, ok := s.(I)
	if !ok {
		p.missing = append(p.missing, reflect.TypeFor[I]().String())
	}
	return ok
}

type harness struct {
	newStore func(t *testing.T, now func() time.Time) any
	opt      Options
	has      has // the interfaces of the store under test
}

// start is a fixed instant with sub-second precision that every store must
// keep to at least the millisecond.
var start = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// setup returns a new store as an S, its clock, a function that makes keys
// no other test uses, and a context.
func setup[S any](h *harness, t *testing.T) (S, *Clock, func(string) string, context.Context) {
	t.Helper()
	clk := NewClock(start)
	raw := h.newStore(t, clk.Now)
	s, ok := raw.(S)
	if !ok {
		t.Fatalf("the store, a %T, does not implement %v", raw, reflect.TypeFor[S]())
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "st" + hex.EncodeToString(b[:]) + ":"
	return s, clk, func(k string) string { return prefix + k }, context.Background()
}

// Stores of two interfaces, for the tests that need both.
type (
	resetterStore interface {
		store.States
		store.Counters
		store.StateResetter
	}
	ownedStore interface {
		store.States
		store.OwnedStates
	}
	groupStore interface {
		store.Codes
		store.CodeGroups
	}
	batchStore interface {
		store.Counters
		store.BatchCounters
	}
	boundedStore interface {
		store.Counters
		store.BoundedCounters
	}
	enrollTouchStore interface {
		store.Enrollments
		store.EnrollmentToucher
	}
	deviceTouchStore interface {
		store.Devices
		store.DeviceToucher
	}
)

func (h *harness) states(t *testing.T) {
	s, clk, k, ctx := setup[store.States](h, t)
	exp := clk.Now().Add(time.Minute)

	_, err := s.GetState(ctx, k("missing"))
	require.ErrorIs(t, err, store.ErrNotFound, "GetState of a missing key")
	_, err = s.TakeState(ctx, k("missing"))
	require.ErrorIs(t, err, store.ErrNotFound, "TakeState of a missing key")
	require.NoError(t, s.DeleteState(ctx, k("missing")), "deleting a missing key is not an error")

	require.NoError(t, s.PutState(ctx, k("a"), []byte("one"), exp))
	got, err := s.GetState(ctx, k("a"))
	require.NoError(t, err)
	assert.Equal(t, []byte("one"), got)

	require.NoError(t, s.PutState(ctx, k("a"), []byte("two"), exp), "PutState replaces")
	got, err = s.GetState(ctx, k("a"))
	require.NoError(t, err)
	assert.Equal(t, []byte("two"), got)

	got, err = s.TakeState(ctx, k("a"))
	require.NoError(t, err)
	assert.Equal(t, []byte("two"), got)
	_, err = s.TakeState(ctx, k("a"))
	require.ErrorIs(t, err, store.ErrNotFound, "TakeState twice")
	_, err = s.GetState(ctx, k("a"))
	require.ErrorIs(t, err, store.ErrNotFound, "GetState after TakeState")

	// binary values survive
	bin := []byte{0, 1, 2, 255, 254, '\n', 0}
	require.NoError(t, s.PutState(ctx, k("bin"), bin, exp))
	got, err = s.GetState(ctx, k("bin"))
	require.NoError(t, err)
	assert.Equal(t, bin, got)

	require.NoError(t, s.PutState(ctx, k("del"), []byte("x"), exp))
	require.NoError(t, s.DeleteState(ctx, k("del")))
	_, err = s.GetState(ctx, k("del"))
	require.ErrorIs(t, err, store.ErrNotFound, "GetState after DeleteState")

	// expiry
	require.NoError(t, s.PutState(ctx, k("exp"), []byte("x"), clk.Now().Add(10*time.Second)))
	clk.Advance(9 * time.Second)
	_, err = s.GetState(ctx, k("exp"))
	require.NoError(t, err, "state read 1s before expiry")
	clk.Advance(time.Second)
	_, err = s.GetState(ctx, k("exp"))
	require.ErrorIs(t, err, store.ErrNotFound, "state read at its expiry time")
	_, err = s.TakeState(ctx, k("exp"))
	require.ErrorIs(t, err, store.ErrNotFound, "TakeState of an expired state")
}

func (h *harness) ownedStates(t *testing.T) {
	s, clk, k, ctx := setup[ownedStore](h, t)
	exp := clk.Now().Add(time.Hour)
	alice, bob := k("alice"), k("bob")
	aliceToo := alice + "x" // an owner whose name starts with another's

	require.NoError(t, s.DeleteOwnedStates(ctx, k("nobody")), "an owner with no states is not an error")

	put := func(owner, key, value string) {
		t.Helper()
		if owner == "" {
			require.NoError(t, s.PutState(ctx, k(key), []byte(value), exp))
			return
		}
		require.NoError(t, s.PutOwnedState(ctx, owner, k(key), []byte(value), exp))
	}
	has := func(key, want, msg string) {
		t.Helper()
		got, err := s.GetState(ctx, k(key))
		require.NoError(t, err, msg)
		assert.Equal(t, []byte(want), got, msg)
	}
	gone := func(key, msg string) {
		t.Helper()
		_, err := s.GetState(ctx, k(key))
		require.ErrorIs(t, err, store.ErrNotFound, msg)
	}

	put(alice, "a1", "one")
	put(alice, "a2", "two")
	put(alice, "a2", "two again") // the same key twice under one owner
	put(bob, "b1", "bob")
	put("", "plain", "nobody's")
	put(aliceToo, "x1", "alice too")
	put(alice, "moved", "alice's")
	put(bob, "moved", "bob's") // re-put under another owner
	put(alice, "unfiled", "alice's")
	put("", "unfiled", "nobody's now") // re-put without an owner
	put(alice, "taken", "t")
	has("a1", "one", "PutOwnedState stores the value like PutState")
	has("a2", "two again", "PutOwnedState replaces the value")
	got, err := s.TakeState(ctx, k("taken"))
	require.NoError(t, err, "an owned state can be taken")
	assert.Equal(t, []byte("t"), got)

	require.NoError(t, s.DeleteOwnedStates(ctx, alice))
	gone("a1", "alice's state after DeleteOwnedStates(alice)")
	gone("a2", "alice's state after DeleteOwnedStates(alice)")
	_, err = s.TakeState(ctx, k("a1"))
	require.ErrorIs(t, err, store.ErrNotFound, "TakeState of a deleted owned state")
	gone("taken", "a taken state stays gone")
	has("b1", "bob", "another owner's state survives")
	has("x1", "alice too", "the state of an owner whose name extends alice's survives")
	has("plain", "nobody's", "an unowned state survives")
	has("moved", "bob's", "a key re-put under another owner is not deleted")
	has("unfiled", "nobody's now", "a key re-put without an owner is not deleted")

	put(alice, "a1", "back")
	put(alice, "a3", "three")
	has("a1", "back", "a state put after DeleteOwnedStates survives it")
	has("a3", "three", "a state put after DeleteOwnedStates survives it")
	require.NoError(t, s.DeleteOwnedStates(ctx, alice), "a second delete")
	gone("a1", "the second delete reaches states put after the first")
	gone("a3", "the second delete reaches states put after the first")
	require.NoError(t, s.DeleteOwnedStates(ctx, alice), "deleting an owner whose states are gone")

	require.NoError(t, s.DeleteOwnedStates(ctx, bob))
	gone("b1", "bob's state after DeleteOwnedStates(bob)")
	gone("moved", "the key re-put under bob belongs to bob")
	has("x1", "alice too", "")
	has("unfiled", "nobody's now", "")

	// Owned states expire like any other.
	require.NoError(t, s.PutOwnedState(ctx, alice, k("short"), []byte("x"), clk.Now().Add(time.Second)))
	clk.Advance(time.Second)
	gone("short", "an owned state read at its expiry time")
	require.NoError(t, s.DeleteOwnedStates(ctx, alice), "deleting an owner whose only state expired")
}

// codes checks the life of a code: a right answer matches once, a wrong
// one does not, and a code is found only under its own group and key. The
// subtests, methods of codeCase, check attempts, expiry and deletion.
func (h *harness) codes(t *testing.T) {
	s, clk, k, ctx := setup[store.Codes](h, t)
	c := &codeCase{s: s, clk: clk, ctx: ctx, g: k("group"), hash: []byte("hash-1"), other: []byte("hash-2")}

	assert.Equal(t, store.CodeNotFound, c.consume(t, "email", c.hash), "missing code")
	require.NoError(t, s.DeleteCode(ctx, c.g, "email"), "deleting a missing code is not an error")

	c.put(t, "email", c.hash, clk.Now().Add(time.Minute), 3)
	assert.Equal(t, store.CodeMismatch, c.consume(t, "email", c.other))
	assert.Equal(t, store.CodeNotFound, c.consume(t, "sms", c.hash), "other key in the same group")
	st, err := s.ConsumeCode(ctx, k("other-group"), "email", c.hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "same key in another group")
	assert.Equal(t, store.CodeMatched, c.consume(t, "email", c.hash))
	assert.Equal(t, store.CodeNotFound, c.consume(t, "email", c.hash), "a matched code is gone")

	t.Run("MaxAttempts", c.maxAttempts)
	t.Run("PutResetsAttempts", c.putResetsAttempts)
	t.Run("Unlimited", c.unlimited)
	t.Run("Expiry", c.expiry)
	t.Run("Delete", c.deleteCode)
}

// codeCase is what the subtests of codes share: one store and one clock,
// so each subtest starts where the one before left the clock, a group for
// their codes, and the hash of a code's right answer and of a wrong one.
type codeCase struct {
	s           store.Codes
	clk         *Clock
	ctx         context.Context
	g           string
	hash, other []byte
}

// put stores a code of the case's group under key.
func (c *codeCase) put(t *testing.T, key string, hash []byte, expiresAt time.Time, maxAttempts int) {
	t.Helper()
	require.NoError(t, c.s.PutCode(c.ctx, store.Code{Group: c.g, Key: key, Hash: hash, ExpiresAt: expiresAt, MaxAttempts: maxAttempts}))
}

// consume answers the code of the case's group under key with hash, and
// returns what the store said.
func (c *codeCase) consume(t *testing.T, key string, hash []byte) store.CodeStatus {
	t.Helper()
	st, err := c.s.ConsumeCode(c.ctx, c.g, key, hash)
	require.NoError(t, err)
	return st
}

// maxAttempts checks that MaxAttempts wrong answers exhaust a code, so
// that the right answer no longer matches.
func (c *codeCase) maxAttempts(t *testing.T) {
	c.put(t, "max", c.hash, c.clk.Now().Add(time.Minute), 3)
	for i := 0; i < 3; i++ {
		assert.Equal(t, store.CodeMismatch, c.consume(t, "max", c.other), "wrong answer %d", i+1)
	}
	assert.Equal(t, store.CodeExhausted, c.consume(t, "max", c.hash), "right answer after MaxAttempts wrong ones")
	assert.Equal(t, store.CodeExhausted, c.consume(t, "max", c.other))
}

// putResetsAttempts checks that PutCode over a code replaces its hash and
// starts its attempts again.
func (c *codeCase) putResetsAttempts(t *testing.T) {
	c.put(t, "re", c.hash, c.clk.Now().Add(time.Minute), 2)
	for i := 0; i < 2; i++ {
		c.consume(t, "re", c.other)
	}
	c.put(t, "re", c.other, c.clk.Now().Add(time.Minute), 2)
	assert.Equal(t, store.CodeMismatch, c.consume(t, "re", c.hash), "old hash after replacement")
	assert.Equal(t, store.CodeMatched, c.consume(t, "re", c.other), "new hash after replacement")
}

// unlimited checks that a code with zero ExpiresAt and MaxAttempts takes
// any number of wrong answers and never expires.
func (c *codeCase) unlimited(t *testing.T) {
	c.put(t, "unl", c.hash, time.Time{}, 0)
	for i := 0; i < 20; i++ {
		require.Equal(t, store.CodeMismatch, c.consume(t, "unl", c.other))
	}
	c.clk.Advance(1000 * time.Hour)
	assert.Equal(t, store.CodeMatched, c.consume(t, "unl", c.hash), "a code with zero ExpiresAt and MaxAttempts never dies")
}

// expiry checks that a code is live until its expiry time, and that at it
// the right answer gets CodeExpired once, after which the code is gone.
func (c *codeCase) expiry(t *testing.T) {
	c.put(t, "exp", c.hash, c.clk.Now().Add(15*time.Minute), 5)
	c.clk.Advance(15*time.Minute - time.Second)
	c.put(t, "exp2", c.hash, c.clk.Now().Add(time.Second), 0)
	assert.Equal(t, store.CodeMismatch, c.consume(t, "exp2", c.other))
	c.clk.Advance(time.Second)
	assert.Equal(t, store.CodeExpired, c.consume(t, "exp", c.hash), "right hash at expiry time")
	assert.Equal(t, store.CodeNotFound, c.consume(t, "exp", c.hash), "an expired code answers Expired once, then is gone")
	assert.Equal(t, store.CodeExpired, c.consume(t, "exp2", c.hash))
}

// deleteCode checks that DeleteCode removes a code.
func (c *codeCase) deleteCode(t *testing.T) {
	c.put(t, "del", c.hash, time.Time{}, 0)
	require.NoError(t, c.s.DeleteCode(c.ctx, c.g, "del"))
	assert.Equal(t, store.CodeNotFound, c.consume(t, "del", c.hash))
}

func (h *harness) codeGroups(t *testing.T) {
	s, clk, k, ctx := setup[groupStore](h, t)
	g, g2 := k("backup:u1"), k("backup:u2")
	n, err := s.CountGroup(ctx, g)
	require.NoError(t, err)
	assert.Zero(t, n, "empty group")
	require.NoError(t, s.DeleteGroup(ctx, g), "deleting an empty group is not an error")

	for i := 0; i < 10; i++ {
		key := fmt.Sprintf("c%02d", i)
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: key, Hash: []byte(key)}))
		require.NoError(t, s.PutCode(ctx, store.Code{Group: g2, Key: key, Hash: []byte(key)}))
	}
	require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "short", Hash: []byte("s"), ExpiresAt: clk.Now().Add(time.Minute)}))
	require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "dies", Hash: []byte("d"), MaxAttempts: 1}))
	n, err = s.CountGroup(ctx, g)
	require.NoError(t, err)
	assert.Equal(t, 12, n)

	st, err := s.ConsumeCode(ctx, g, "dies", []byte("wrong"))
	require.NoError(t, err)
	require.Equal(t, store.CodeMismatch, st)
	st, err = s.ConsumeCode(ctx, g, "c03", []byte("c03"))
	require.NoError(t, err)
	require.Equal(t, store.CodeMatched, st)
	clk.Advance(time.Minute)
	n, err = s.CountGroup(ctx, g)
	require.NoError(t, err)
	assert.Equal(t, 9, n, "consumed, expired and exhausted codes are not counted")

	require.NoError(t, s.DeleteGroup(ctx, g))
	n, err = s.CountGroup(ctx, g)
	require.NoError(t, err)
	assert.Zero(t, n, "after DeleteGroup")
	st, err = s.ConsumeCode(ctx, g, "c05", []byte("c05"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "codes of a deleted group are gone")
	n, err = s.CountGroup(ctx, g2)
	require.NoError(t, err)
	assert.Equal(t, 10, n, "DeleteGroup leaves other groups alone")
}

func (h *harness) counters(t *testing.T) {
	s, clk, k, ctx := setup[store.Counters](h, t)
	n, reset, err := s.Peek(ctx, k("c"))
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.True(t, reset.IsZero(), "missing counter has zero reset time")
	require.NoError(t, s.ResetCounter(ctx, k("c")), "resetting a missing counter is not an error")

	t0 := clk.Now()
	for i := int64(1); i <= 3; i++ {
		n, reset, err := s.Incr(ctx, k("c"), time.Minute)
		require.NoError(t, err)
		assert.Equal(t, i, n)
		assert.WithinDuration(t, t0.Add(time.Minute), reset, time.Millisecond, "window starts at the first Incr")
		clk.Advance(10 * time.Second)
	}
	n, reset, err = s.Peek(ctx, k("c"))
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	assert.WithinDuration(t, t0.Add(time.Minute), reset, time.Millisecond)

	clk.Advance(30 * time.Second) // t0+60s: window over
	n, _, err = s.Peek(ctx, k("c"))
	require.NoError(t, err)
	assert.Zero(t, n, "Peek after the window")
	n, reset, err = s.Incr(ctx, k("c"), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "Incr after the window starts again")
	assert.WithinDuration(t, clk.Now().Add(time.Minute), reset, time.Millisecond)

	require.NoError(t, s.ResetCounter(ctx, k("c")))
	n, _, err = s.Peek(ctx, k("c"))
	require.NoError(t, err)
	assert.Zero(t, n, "after ResetCounter")

	n, _, err = s.Incr(ctx, k("other"), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "counters are independent")
}

func (h *harness) decr(t *testing.T) {
	s, clk, k, ctx := setup[store.Counters](h, t)
	peek := func(key string) (int64, time.Time) {
		t.Helper()
		n, reset, err := s.Peek(ctx, k(key))
		require.NoError(t, err)
		return n, reset
	}

	require.NoError(t, s.Decr(ctx, k("missing")), "Decr of a missing counter is not an error")
	n, reset := peek("missing")
	assert.Zero(t, n)
	assert.True(t, reset.IsZero(), "Decr created a counter")
	got, reset, err := s.Incr(ctx, k("missing"), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, int64(1), got, "Incr after Decr of a missing counter starts at 1")
	assert.WithinDuration(t, clk.Now().Add(time.Minute), reset, time.Millisecond)

	t0 := clk.Now()
	for range 3 {
		_, _, err := s.Incr(ctx, k("c"), time.Minute)
		require.NoError(t, err)
	}
	clk.Advance(10 * time.Second)
	require.NoError(t, s.Decr(ctx, k("c")))
	n, reset = peek("c")
	assert.Equal(t, int64(2), n, "Decr takes one back")
	assert.WithinDuration(t, t0.Add(time.Minute), reset, time.Millisecond, "Decr keeps the window")
	got, reset, err = s.Incr(ctx, k("c"), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(3), got, "Incr counts on from the decremented value")
	assert.WithinDuration(t, t0.Add(time.Minute), reset, time.Millisecond, "in the same window")

	for range 5 {
		require.NoError(t, s.Decr(ctx, k("c")))
	}
	n, reset = peek("c")
	assert.Zero(t, n, "Decr stops at zero")
	assert.WithinDuration(t, t0.Add(time.Minute), reset, time.Millisecond, "a counter at zero keeps its window")
	got, reset, err = s.Incr(ctx, k("c"), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(1), got, "no count went below zero")
	assert.WithinDuration(t, t0.Add(time.Minute), reset, time.Millisecond)

	// An ended counter is left alone: the next Incr starts a new window
	// at 1, as if Decr had not been called.
	clk.Advance(50 * time.Second) // t0+60s: the window of c is over
	require.NoError(t, s.Decr(ctx, k("c")), "Decr of an ended counter is not an error")
	n, reset = peek("c")
	assert.Zero(t, n)
	assert.True(t, reset.IsZero(), "an ended counter stays ended")
	got, reset, err = s.Incr(ctx, k("c"), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, int64(1), got, "Incr after Decr of an ended counter starts again at 1")
	assert.WithinDuration(t, clk.Now().Add(time.Minute), reset, time.Millisecond, "with a new window")

	require.NoError(t, s.ResetCounter(ctx, k("c")))
	require.NoError(t, s.Decr(ctx, k("c")))
	n, _ = peek("c")
	assert.Zero(t, n, "Decr after ResetCounter")

	_, _, err = s.Incr(ctx, k("other"), time.Minute)
	require.NoError(t, err)
	_, _, err = s.Incr(ctx, k("d"), time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.Decr(ctx, k("d")))
	n, _ = peek("other")
	assert.Equal(t, int64(1), n, "Decr leaves other counters alone")
}

func (h *harness) batchCounters(t *testing.T) {
	s, clk, k, ctx := setup[batchStore](h, t)
	out, err := store.IncrAll(ctx, s, nil)
	require.NoError(t, err)
	assert.Empty(t, out)

	t0 := clk.Now()
	_, _, err = s.Incr(ctx, k("b"), time.Hour)
	require.NoError(t, err)
	out, err = store.IncrAll(ctx, s, []store.CounterIncr{{Key: k("a"), Window: time.Minute}, {Key: k("b"), Window: time.Minute}, {Key: k("a"), Window: time.Minute}})
	require.NoError(t, err)
	require.Len(t, out, 3)
	assert.Equal(t, int64(1), out[0].N)
	assert.WithinDuration(t, t0.Add(time.Minute), out[0].ResetAt, time.Millisecond)
	assert.Equal(t, int64(2), out[1].N, "an existing counter keeps counting")
	assert.WithinDuration(t, t0.Add(time.Hour), out[1].ResetAt, time.Millisecond, "and keeps its window")
	assert.Equal(t, int64(2), out[2].N, "the same key twice in a batch counts twice")

	clk.Advance(time.Minute)
	out, err = store.IncrAll(ctx, s, []store.CounterIncr{{Key: k("a"), Window: time.Minute}, {Key: k("b"), Window: time.Minute}})
	require.NoError(t, err)
	assert.Equal(t, int64(1), out[0].N, "a batch restarts an ended window")
	assert.Equal(t, int64(3), out[1].N)
	n, _, err := s.Peek(ctx, k("a"))
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "batch and Peek agree")

	// Racing batches lose no increment.
	key1, key2 := k("race1"), k("race2")
	var mu sync.Mutex
	seen := map[int64]bool{}
	h.race(t, func() (bool, error) {
		out, err := store.IncrAll(ctx, s, []store.CounterIncr{{Key: key1, Window: time.Minute}, {Key: key2, Window: time.Minute}})
		if err != nil {
			return false, err
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[out[0].N] {
			return false, fmt.Errorf("count %d returned twice", out[0].N)
		}
		seen[out[0].N] = true
		return true, nil
	})
	for _, key := range []string{key1, key2} {
		n, _, err := s.Peek(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, int64(h.opt.Goroutines), n, "lost increments on %s", key)
	}
}

func (h *harness) ledger(t *testing.T) {
	s, clk, k, ctx := setup[store.Ledger](h, t)
	first, err := s.MarkUsed(ctx, k("tok"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, first)
	first, err = s.MarkUsed(ctx, k("tok"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, first, "second MarkUsed")
	first, err = s.MarkUsed(ctx, k("tok2"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, first, "another key")
	clk.Advance(time.Minute)
	first, err = s.MarkUsed(ctx, k("tok"), clk.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, first, "MarkUsed after expiry")

	exp := clk.Now().Add(time.Hour)
	ok, err := s.Advance(ctx, k("hw"), 100, exp)
	require.NoError(t, err)
	assert.True(t, ok, "first Advance")
	ok, err = s.Advance(ctx, k("hw"), 100, exp)
	require.NoError(t, err)
	assert.False(t, ok, "Advance to the same value")
	ok, err = s.Advance(ctx, k("hw"), 99, exp)
	require.NoError(t, err)
	assert.False(t, ok, "Advance to a lower value")
	ok, err = s.Advance(ctx, k("hw"), 101, exp)
	require.NoError(t, err)
	assert.True(t, ok, "Advance to a higher value")
	ok, err = s.Advance(ctx, k("hw"), 100, exp)
	require.NoError(t, err)
	assert.False(t, ok, "lower than the new mark")
	ok, err = s.Advance(ctx, k("neg"), -5, exp)
	require.NoError(t, err)
	assert.True(t, ok, "first Advance with a negative value")
	ok, err = s.Advance(ctx, k("big"), 1<<62, exp)
	require.NoError(t, err)
	assert.True(t, ok, "large values")
	ok, err = s.Advance(ctx, k("big"), 1<<62-1, exp)
	require.NoError(t, err)
	assert.False(t, ok, "large values compare as numbers")
	clk.Advance(time.Hour)
	ok, err = s.Advance(ctx, k("hw"), 50, clk.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.True(t, ok, "an expired mark is gone")

	// MarkUsed's mark is Advance's mark of 1, each taken for the other.
	exp = clk.Now().Add(time.Minute)
	first, err = s.MarkUsed(ctx, k("once-a"), exp)
	require.NoError(t, err)
	require.True(t, first)
	ok, err = s.Advance(ctx, k("once-a"), 1, exp)
	require.NoError(t, err)
	assert.False(t, ok, "Advance to 1 of a key MarkUsed marked")
	ok, err = s.Advance(ctx, k("once-a"), 2, exp)
	require.NoError(t, err)
	assert.True(t, ok, "Advance above MarkUsed's mark")
	ok, err = s.Advance(ctx, k("once-b"), 1, exp)
	require.NoError(t, err)
	require.True(t, ok)
	first, err = s.MarkUsed(ctx, k("once-b"), exp)
	require.NoError(t, err)
	assert.False(t, first, "MarkUsed of a key Advance marked")
	ok, err = s.Advance(ctx, k("once-c"), -3, exp)
	require.NoError(t, err)
	require.True(t, ok)
	first, err = s.MarkUsed(ctx, k("once-c"), exp)
	require.NoError(t, err)
	assert.False(t, first, "MarkUsed of a key with a live mark below 1")
}

func (h *harness) enrollments(t *testing.T) {
	s, clk, k, ctx := setup[store.Enrollments](h, t)
	u := k("user")
	_, err := s.GetEnrollment(ctx, u, "x")
	require.ErrorIs(t, err, store.ErrNotFound)
	list, err := s.ListEnrollments(ctx, u)
	require.NoError(t, err)
	assert.Empty(t, list)
	require.NoError(t, s.DeleteEnrollment(ctx, u, "x"), "deleting a missing enrollment is not an error")

	t0 := clk.Now()
	e1 := store.EnrollmentRecord{UserID: u, ID: "b-totp", Method: "totp", Label: "Phone", Data: []byte{0, 1, 2, 0xff}, CreatedAt: t0}
	e2 := store.EnrollmentRecord{UserID: u, ID: "a-key", Method: "webauthn", Label: "YubiKey", Data: []byte(`{"k":1}`), CreatedAt: t0.Add(time.Second), LastUsedAt: t0.Add(2 * time.Second)}
	e3 := store.EnrollmentRecord{UserID: u, ID: "c-sms", Method: "sms", CreatedAt: t0.Add(time.Second)}
	other := store.EnrollmentRecord{UserID: k("other"), ID: "b-totp", Method: "totp", Data: []byte("other"), CreatedAt: t0}
	for _, e := range []store.EnrollmentRecord{e2, e1, e3, other} {
		require.NoError(t, s.PutEnrollment(ctx, e))
	}
	got, err := s.GetEnrollment(ctx, u, "b-totp")
	require.NoError(t, err)
	assertEnrollment(t, e1, got)

	list, err = s.ListEnrollments(ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assertEnrollment(t, e1, list[0])
	assertEnrollment(t, e2, list[1]) // same CreatedAt as e3: ordered by ID
	assertEnrollment(t, e3, list[2])

	e1.Label, e1.Data, e1.LastUsedAt = "Renamed", []byte("new"), t0.Add(time.Hour)
	require.NoError(t, s.PutEnrollment(ctx, e1), "PutEnrollment replaces")
	got, err = s.GetEnrollment(ctx, u, "b-totp")
	require.NoError(t, err)
	assertEnrollment(t, e1, got)

	require.NoError(t, s.DeleteEnrollment(ctx, u, "b-totp"))
	_, err = s.GetEnrollment(ctx, u, "b-totp")
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err = s.GetEnrollment(ctx, k("other"), "b-totp")
	require.NoError(t, err, "another user's record with the same id is untouched")
	assertEnrollment(t, other, got)
}

func assertEnrollment(t *testing.T, want, got store.EnrollmentRecord) {
	t.Helper()
	assert.Equal(t, want.UserID, got.UserID)
	assert.Equal(t, want.ID, got.ID)
	assert.Equal(t, want.Method, got.Method)
	assert.Equal(t, want.Label, got.Label)
	assert.True(t, bytes.Equal(want.Data, got.Data), "Data: want %q, got %q", want.Data, got.Data)
	assertTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	assertTime(t, want.LastUsedAt, got.LastUsedAt, "LastUsedAt")
}

func assertTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	if want.IsZero() {
		assert.True(t, got.IsZero(), "%s: want zero time, got %v", what, got)
		return
	}
	assert.WithinDuration(t, want, got, time.Millisecond, what)
}

func (h *harness) devices(t *testing.T) {
	s, clk, k, ctx := setup[store.Devices](h, t)
	u := k("user")
	_, err := s.GetDevice(ctx, k("missing"))
	require.ErrorIs(t, err, store.ErrNotFound)
	list, err := s.ListDevices(ctx, u)
	require.NoError(t, err)
	assert.Empty(t, list)
	require.NoError(t, s.DeleteDevice(ctx, k("missing")))

	t0 := clk.Now()
	d1 := store.Device{ID: k("d1"), UserID: u, Label: "Firefox on Linux", IP: "203.0.113.0/24", UserAgent: "ua-fp-1", CreatedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour), LastSeenAt: t0}
	d2 := store.Device{ID: k("d2"), UserID: u, Label: "Safari on iOS", IP: "2001:db8::1", CreatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(24 * time.Hour)}
	d3 := store.Device{ID: k("d3"), UserID: k("other"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, d := range []store.Device{d2, d1, d3} {
		require.NoError(t, s.PutDevice(ctx, d))
	}
	got, err := s.GetDevice(ctx, d1.ID)
	require.NoError(t, err)
	assertDevice(t, d1, got)
	list, err = s.ListDevices(ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assertDevice(t, d1, list[0])
	assertDevice(t, d2, list[1])

	d1.LastSeenAt = t0.Add(time.Hour)
	require.NoError(t, s.PutDevice(ctx, d1), "PutDevice replaces")
	got, err = s.GetDevice(ctx, d1.ID)
	require.NoError(t, err)
	assertDevice(t, d1, got)

	clk.Advance(24 * time.Hour)
	_, err = s.GetDevice(ctx, d2.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "expired device")
	list, err = s.ListDevices(ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 1, "expired devices are not listed")

	require.NoError(t, s.DeleteDevice(ctx, d1.ID))
	_, err = s.GetDevice(ctx, d1.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func (h *harness) deviceToucher(t *testing.T) {
	s, clk, k, ctx := setup[deviceTouchStore](h, t)
	t0 := clk.Now()
	d := store.Device{ID: k("d1"), UserID: k("user"), Label: "Firefox on Linux", IP: "203.0.113.0/24", UserAgent: "ua-fp-1", CreatedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour), LastSeenAt: t0}
	require.NoError(t, s.PutDevice(ctx, d))

	seen := t0.Add(time.Minute)
	require.NoError(t, s.TouchDevice(ctx, d.ID, seen))
	got, err := s.GetDevice(ctx, d.ID)
	require.NoError(t, err)
	d.LastSeenAt = seen
	assertDevice(t, d, got)

	require.NoError(t, s.DeleteDevice(ctx, d.ID))
	require.NoError(t, s.TouchDevice(ctx, d.ID, clk.Now()), "touching a missing device is not an error")
	_, err = s.GetDevice(ctx, d.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "TouchDevice brought back a deleted device")
}

func assertDevice(t *testing.T, want, got store.Device) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID)
	assert.Equal(t, want.UserID, got.UserID)
	assert.Equal(t, want.Label, got.Label)
	assert.Equal(t, want.IP, got.IP)
	assert.Equal(t, want.UserAgent, got.UserAgent)
	assertTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	assertTime(t, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
	assertTime(t, want.LastSeenAt, got.LastSeenAt, "LastSeenAt")
}

// race runs fn from opt.Goroutines goroutines released at once and returns
// how many returned true; errors fail the test.
func (h *harness) race(t *testing.T, fn func() (bool, error)) int {
	t.Helper()
	var wins atomic.Int64
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	errs := make(chan error, h.opt.Goroutines)
	for i := 0; i < h.opt.Goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			ok, err := fn()
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	close(startGate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return int(wins.Load())
}

func (h *harness) races(t *testing.T) {
	raw, clk, k, ctx := setup[any](h, t)
	if h.has.codes {
		h.raceCodes(t, raw.(store.Codes), clk, k, ctx)
	}
	if h.has.states {
		h.raceStates(t, raw.(store.States), clk, k, ctx)
	}
	if h.has.resetter {
		s := raw.(resetterStore)
		t.Run("TakeStateReset", func(t *testing.T) {
			for r := 0; r < h.opt.Rounds; r++ {
				key, c := k(fmt.Sprintf("race-take-reset-%d", r)), k(fmt.Sprintf("race-take-reset-c-%d", r))
				require.NoError(t, s.PutState(ctx, key, []byte("challenge"), clk.Now().Add(time.Minute)))
				wins := h.race(t, func() (bool, error) {
					_, err := s.TakeStateReset(ctx, key, []string{c})
					if errors.Is(err, store.ErrNotFound) {
						return false, nil
					}
					return err == nil, err
				})
				require.Equal(t, 1, wins, "round %d: a state was taken %d times", r, wins)
			}
		})
	}
	if h.has.ledger {
		h.raceLedger(t, raw.(store.Ledger), clk, k, ctx)
	}
	if h.has.counters {
		h.raceCounters(t, raw.(store.Counters), k, ctx)
	}
	if h.has.owned {
		h.raceOwned(t, raw.(ownedStore), clk, k, ctx)
	}
	if h.has.enrollTouch {
		s := raw.(enrollTouchStore)
		t.Run("TouchEnrollment", func(t *testing.T) { h.raceTouchLatest(t, s, k, clk.Now()) })
		t.Run("TouchEnrollmentRename", func(t *testing.T) { h.raceTouchRename(t, s, k, clk.Now()) })
	}
}

func (h *harness) raceCodes(t *testing.T, s store.Codes, clk *Clock, k func(string) string, ctx context.Context) {
	t.Run("ConsumeCode", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			g := k(fmt.Sprintf("race-code-%d", r))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "email", Hash: []byte("h"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 5}))
			wins := h.race(t, func() (bool, error) {
				st, err := s.ConsumeCode(ctx, g, "email", []byte("h"))
				return st == store.CodeMatched, err
			})
			require.Equal(t, 1, wins, "round %d: a code was consumed %d times", r, wins)
		}
	})
	t.Run("ConsumeCodeAttempts", func(t *testing.T) {
		// Racing wrong answers use exactly MaxAttempts attempts; the rest
		// see an exhausted code.
		for r := 0; r < h.opt.Rounds/5+1; r++ {
			g := k(fmt.Sprintf("race-att-%d", r))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: g, Key: "sms", Hash: []byte("h"), ExpiresAt: clk.Now().Add(time.Minute), MaxAttempts: 5}))
			mismatches := h.race(t, func() (bool, error) {
				st, err := s.ConsumeCode(ctx, g, "sms", []byte("wrong"))
				return st == store.CodeMismatch, err
			})
			require.Equal(t, 5, mismatches, "round %d: wrong answers checked", r)
			st, err := s.ConsumeCode(ctx, g, "sms", []byte("h"))
			require.NoError(t, err)
			require.Equal(t, store.CodeExhausted, st)
		}
	})
}

// stateResetter checks TakeStateReset: the take of TakeState and the
// resets of ResetCounter in one call, the counters reset whether the state
// was there, missing or expired.
func (h *harness) stateResetter(t *testing.T) {
	s, clk, k, ctx := setup[resetterStore](h, t)
	a, b, other := k("ca"), k("cb"), k("other")
	incr := func(keys ...string) {
		t.Helper()
		for _, key := range keys {
			_, _, err := s.Incr(ctx, key, time.Hour)
			require.NoError(t, err)
		}
	}
	count := func(key string) int64 {
		t.Helper()
		n, _, err := s.Peek(ctx, key)
		require.NoError(t, err)
		return n
	}
	incr(a, a, b, other)
	require.NoError(t, s.PutState(ctx, k("st"), []byte{0, 1, 'x'}, clk.Now().Add(time.Minute)))
	got, err := s.TakeStateReset(ctx, k("st"), []string{a, b})
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 1, 'x'}, got)
	assert.Zero(t, count(a))
	assert.Zero(t, count(b))
	assert.Equal(t, int64(1), count(other), "a counter not named is left alone")
	_, err = s.GetState(ctx, k("st"))
	require.ErrorIs(t, err, store.ErrNotFound, "the state was taken")

	incr(a)
	_, err = s.TakeStateReset(ctx, k("st"), []string{a})
	require.ErrorIs(t, err, store.ErrNotFound, "taken twice")
	assert.Zero(t, count(a), "the counters reset although the state was missing")

	require.NoError(t, s.PutState(ctx, k("old"), []byte("v"), clk.Now().Add(time.Minute)))
	clk.Advance(time.Minute)
	incr(a)
	_, err = s.TakeStateReset(ctx, k("old"), []string{a})
	require.ErrorIs(t, err, store.ErrNotFound, "an expired state")
	assert.Zero(t, count(a), "the counters reset although the state had expired")

	require.NoError(t, s.PutState(ctx, k("none"), []byte("v"), clk.Now().Add(time.Minute)))
	got, err = s.TakeStateReset(ctx, k("none"), nil)
	require.NoError(t, err, "no counters")
	assert.Equal(t, []byte("v"), got)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, s.PutState(ctx, k("kept"), []byte("v"), clk.Now().Add(time.Minute)))
	_, err = s.TakeStateReset(canceled, k("kept"), nil)
	require.Error(t, err, "a canceled context")
	_, err = s.GetState(ctx, k("kept"))
	require.NoError(t, err, "a canceled call took nothing")
}

func (h *harness) raceStates(t *testing.T, s store.States, clk *Clock, k func(string) string, ctx context.Context) {
	t.Run("TakeState", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			key := k(fmt.Sprintf("race-state-%d", r))
			require.NoError(t, s.PutState(ctx, key, []byte("challenge"), clk.Now().Add(time.Minute)))
			wins := h.race(t, func() (bool, error) {
				_, err := s.TakeState(ctx, key)
				if errors.Is(err, store.ErrNotFound) {
					return false, nil
				}
				return err == nil, err
			})
			require.Equal(t, 1, wins, "round %d: a state was taken %d times", r, wins)
		}
	})
}

func (h *harness) raceLedger(t *testing.T, s store.Ledger, clk *Clock, k func(string) string, ctx context.Context) {
	t.Run("MarkUsed", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			key := k(fmt.Sprintf("race-mark-%d", r))
			wins := h.race(t, func() (bool, error) { return s.MarkUsed(ctx, key, clk.Now().Add(time.Minute)) })
			require.Equal(t, 1, wins, "round %d: a token was marked first %d times", r, wins)
		}
	})
	t.Run("Advance", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			key := k(fmt.Sprintf("race-adv-%d", r))
			wins := h.race(t, func() (bool, error) { return s.Advance(ctx, key, 57_000_000, clk.Now().Add(time.Minute)) })
			require.Equal(t, 1, wins, "round %d: a step was accepted %d times", r, wins)
		}
	})
}

func (h *harness) raceCounters(t *testing.T, s store.Counters, k func(string) string, ctx context.Context) {
	t.Run("Incr", func(t *testing.T) {
		for r := 0; r < h.opt.Rounds; r++ {
			key := k(fmt.Sprintf("race-incr-%d", r))
			var mu sync.Mutex
			seen := map[int64]bool{}
			h.race(t, func() (bool, error) {
				n, _, err := s.Incr(ctx, key, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				if seen[n] {
					return false, fmt.Errorf("count %d returned twice", n)
				}
				seen[n] = true
				return true, err
			})
			n, _, err := s.Peek(ctx, key)
			require.NoError(t, err)
			require.Equal(t, int64(h.opt.Goroutines), n, "round %d: lost increments", r)
		}
	})
	t.Run("IncrDecr", func(t *testing.T) {
		// The counter starts at Goroutines, and half the racers add one
		// while the other half take one back: it cannot reach zero before
		// every Decr has run, so none is floored and the count must end
		// where it started.
		for r := 0; r < h.opt.Rounds/5+1; r++ {
			key := k(fmt.Sprintf("race-decr-%d", r))
			for range h.opt.Goroutines {
				_, _, err := s.Incr(ctx, key, time.Minute)
				require.NoError(t, err)
			}
			var turn atomic.Int64
			h.race(t, func() (bool, error) {
				if turn.Add(1)%2 == 0 {
					_, _, err := s.Incr(ctx, key, time.Minute)
					return true, err
				}
				return true, s.Decr(ctx, key)
			})
			n, _, err := s.Peek(ctx, key)
			require.NoError(t, err)
			require.Equal(t, int64(h.opt.Goroutines), n, "round %d: lost increments or decrements", r)
		}
	})
	t.Run("DecrFloor", func(t *testing.T) {
		// Racing Decr on a small count stops at zero: none goes below.
		for r := 0; r < h.opt.Rounds/5+1; r++ {
			key := k(fmt.Sprintf("race-floor-%d", r))
			for range 5 {
				_, _, err := s.Incr(ctx, key, time.Minute)
				require.NoError(t, err)
			}
			h.race(t, func() (bool, error) { return true, s.Decr(ctx, key) })
			n, _, err := s.Peek(ctx, key)
			require.NoError(t, err)
			require.Zero(t, n, "round %d", r)
			n, _, err = s.Incr(ctx, key, time.Minute)
			require.NoError(t, err)
			require.Equal(t, int64(1), n, "round %d: the count went below zero", r)
		}
	})
}

func (h *harness) raceOwned(t *testing.T, s ownedStore, clk *Clock, k func(string) string, ctx context.Context) {
	t.Run("OwnedStates", func(t *testing.T) {
		// Racing puts filed under one owner are all found by the delete
		// that follows them.
		for r := 0; r < h.opt.Rounds/5+1; r++ {
			owner := k(fmt.Sprintf("race-owner-%d", r))
			var next atomic.Int64
			h.race(t, func() (bool, error) {
				key := k(fmt.Sprintf("race-owned-%d-%d", r, next.Add(1)))
				return true, s.PutOwnedState(ctx, owner, key, []byte("v"), clk.Now().Add(time.Minute))
			})
			require.NoError(t, s.DeleteOwnedStates(ctx, owner))
			for i := 1; i <= h.opt.Goroutines; i++ {
				_, err := s.GetState(ctx, k(fmt.Sprintf("race-owned-%d-%d", r, i)))
				require.ErrorIs(t, err, store.ErrNotFound, "round %d: state %d survived", r, i)
			}
		}
	})
}

// sweep checks Sweep on the records of every interface the store has that
// keeps expiring records: expired ones go, live ones and codes without an
// expiry stay.
func (h *harness) sweep(t *testing.T) {
	raw, clk, k, ctx := setup[store.Sweeper](h, t)
	exp := clk.Now().Add(time.Minute)
	expiring := false
	if s, ok := raw.(store.States); ok {
		require.NoError(t, s.PutState(ctx, k("s-old"), []byte("x"), exp))
		require.NoError(t, s.PutState(ctx, k("s-new"), []byte("x"), exp.Add(time.Hour)))
		expiring = true
	}
	if s, ok := raw.(store.Codes); ok {
		require.NoError(t, s.PutCode(ctx, store.Code{Group: k("g"), Key: "old", Hash: []byte("h"), ExpiresAt: exp}))
		require.NoError(t, s.PutCode(ctx, store.Code{Group: k("g"), Key: "keep", Hash: []byte("h")}))
		expiring = true
	}
	if s, ok := raw.(store.Ledger); ok {
		_, err := s.MarkUsed(ctx, k("m"), exp)
		require.NoError(t, err)
		expiring = true
	}
	if s, ok := raw.(store.Devices); ok {
		require.NoError(t, s.PutDevice(ctx, store.Device{ID: k("d"), UserID: k("u"), CreatedAt: clk.Now(), ExpiresAt: exp}))
		require.NoError(t, s.PutDevice(ctx, store.Device{ID: k("d-new"), UserID: k("u"), CreatedAt: clk.Now(), ExpiresAt: exp.Add(time.Hour)}))
		expiring = true
	}
	clk.Advance(time.Minute)
	n, err := raw.Sweep(ctx)
	require.NoError(t, err)
	if !expiring {
		t.Log("the store keeps no record that expires; Sweep only has to succeed")
		return
	}
	assert.GreaterOrEqual(t, n, 1, "Sweep removed nothing")
	if s, ok := raw.(store.States); ok {
		_, err = s.GetState(ctx, k("s-new"))
		require.NoError(t, err, "Sweep removed a live state")
	}
	if s, ok := raw.(store.Codes); ok {
		st, err := s.ConsumeCode(ctx, k("g"), "keep", []byte("h"))
		require.NoError(t, err)
		assert.Equal(t, store.CodeMatched, st, "Sweep removed a code without expiry")
		st, err = s.ConsumeCode(ctx, k("g"), "old", []byte("h"))
		require.NoError(t, err)
		assert.Equal(t, store.CodeNotFound, st, "a swept expired code")
	}
	if s, ok := raw.(store.Devices); ok {
		_, err = s.GetDevice(ctx, k("d-new"))
		require.NoError(t, err, "Sweep removed a live device")
	}
}

// longKey returns a key of exactly store.MaxKeyLen bytes of valid UTF-8,
// starting with base and ending with the byte last, with multi-byte
// characters in between, so that two keys differing only in their last
// byte tell a store that truncates from one that does not.
func longKey(t *testing.T, base string, last byte) string {
	t.Helper()
	const fill = "é🔑ключ"
	b := []byte(base)
	for len(b)+len(fill) < store.MaxKeyLen {
		b = append(b, fill...)
	}
	for len(b) < store.MaxKeyLen-1 {
		b = append(b, '.')
	}
	b = append(b, last)
	require.Len(t, b, store.MaxKeyLen)
	require.True(t, utf8.Valid(b))
	return string(b)
}

// maxKeyLen checks that every key, group, owner and id of store.MaxKeyLen
// bytes, non-ASCII included, is kept whole: two that differ only in their
// last byte name two records. It runs one subtest, a method of longKeys,
// for each interface of the store that takes keys.
func (h *harness) maxKeyLen(t *testing.T) {
	raw, clk, k, ctx := setup[any](h, t)
	l := &longKeys{raw: raw, clk: clk, ctx: ctx, exp: clk.Now().Add(time.Hour),
		long: func(name string, last byte) string { return longKey(t, k(name), last) }}
	for _, sub := range []struct {
		name string
		ok   bool
		fn   func(t *testing.T)
	}{
		{"States", h.has.states, l.states},
		{"OwnedStates", h.has.owned, l.ownedStates},
		{"Codes", h.has.codes, l.codes},
		{"CodeGroups", h.has.groups, l.codeGroups},
		{"Counters", h.has.counters, l.counters},
		{"BoundedCounters", h.has.bounded, l.bounded},
		{"Ledger", h.has.ledger, l.ledger},
		{"Enrollments", h.has.enrollments, l.enrollments},
		{"Devices", h.has.devices, l.devices},
	} {
		if sub.ok {
			t.Run(sub.name, sub.fn)
		}
	}
}

// longKeys is what the subtests of maxKeyLen share: the store (each
// subtest asserts the interface it tests), its clock, a context, an expiry
// an hour ahead, and long, which makes a key of exactly store.MaxKeyLen
// bytes from a name and the byte it ends with.
type longKeys struct {
	raw  any
	clk  *Clock
	ctx  context.Context
	exp  time.Time
	long func(name string, last byte) string
}

// states checks PutState, GetState, TakeState and DeleteState on two
// keys that differ in their last byte.
func (l *longKeys) states(t *testing.T) {
	s := l.raw.(store.States)
	a, b := l.long("state", 'a'), l.long("state", 'b')
	require.NoError(t, s.PutState(l.ctx, a, []byte("A"), l.exp))
	require.NoError(t, s.PutState(l.ctx, b, []byte("B"), l.exp))
	got, err := s.GetState(l.ctx, a)
	require.NoError(t, err)
	assert.Equal(t, []byte("A"), got)
	got, err = s.TakeState(l.ctx, b)
	require.NoError(t, err)
	assert.Equal(t, []byte("B"), got)
	require.NoError(t, s.DeleteState(l.ctx, a))
	_, err = s.GetState(l.ctx, a)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// ownedStates checks that DeleteOwnedStates of a long owner deletes only
// its states, not those of an owner that differs in the last byte.
func (l *longKeys) ownedStates(t *testing.T) {
	s := l.raw.(ownedStore)
	oa, ob := l.long("owner", 'a'), l.long("owner", 'b')
	ka, kb := l.long("owned", 'a'), l.long("owned", 'b')
	require.NoError(t, s.PutOwnedState(l.ctx, oa, ka, []byte("A"), l.exp))
	require.NoError(t, s.PutOwnedState(l.ctx, ob, kb, []byte("B"), l.exp))
	got, err := s.GetState(l.ctx, ka)
	require.NoError(t, err)
	assert.Equal(t, []byte("A"), got)
	require.NoError(t, s.DeleteOwnedStates(l.ctx, oa))
	_, err = s.GetState(l.ctx, ka)
	require.ErrorIs(t, err, store.ErrNotFound, "the owner's state is deleted")
	got, err = s.GetState(l.ctx, kb)
	require.NoError(t, err, "the state of an owner differing in the last byte survives")
	assert.Equal(t, []byte("B"), got)
}

// codes checks that codes under long keys and groups that differ in their
// last byte are told apart by ConsumeCode and DeleteCode.
func (l *longKeys) codes(t *testing.T) {
	s := l.raw.(store.Codes)
	ga, gb := l.long("group", 'a'), l.long("group", 'b')
	key := l.long("code", 'k')
	hash := []byte("hash")
	require.NoError(t, s.PutCode(l.ctx, store.Code{Group: ga, Key: key, Hash: hash, ExpiresAt: l.exp, MaxAttempts: 3}))
	require.NoError(t, s.PutCode(l.ctx, store.Code{Group: gb, Key: key, Hash: hash, ExpiresAt: l.exp}))
	st, err := s.ConsumeCode(l.ctx, ga, l.long("code", 'x'), hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st, "a key differing in the last byte")
	st, err = s.ConsumeCode(l.ctx, ga, key, hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeMatched, st)
	st, err = s.ConsumeCode(l.ctx, gb, key, []byte("wrong"))
	require.NoError(t, err)
	assert.Equal(t, store.CodeMismatch, st, "the group differing in the last byte keeps its code")
	require.NoError(t, s.DeleteCode(l.ctx, gb, key))
	st, err = s.ConsumeCode(l.ctx, gb, key, hash)
	require.NoError(t, err)
	assert.Equal(t, store.CodeNotFound, st)
}

// codeGroups checks CountGroup and DeleteGroup on two long groups that
// differ in their last byte.
func (l *longKeys) codeGroups(t *testing.T) {
	s := l.raw.(groupStore)
	ga, gb := l.long("cgroup", 'a'), l.long("cgroup", 'b')
	key := l.long("code", 'k')
	require.NoError(t, s.PutCode(l.ctx, store.Code{Group: ga, Key: key, Hash: []byte("a"), ExpiresAt: l.exp}))
	require.NoError(t, s.PutCode(l.ctx, store.Code{Group: gb, Key: key, Hash: []byte("b"), ExpiresAt: l.exp}))
	n, err := s.CountGroup(l.ctx, ga)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.NoError(t, s.DeleteGroup(l.ctx, ga))
	n, err = s.CountGroup(l.ctx, ga)
	require.NoError(t, err)
	assert.Zero(t, n)
	n, err = s.CountGroup(l.ctx, gb)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the group differing in the last byte keeps its code")
}

// counters checks Incr, IncrAll, Decr, Peek and ResetCounter on two long
// counters that differ in their last byte.
func (l *longKeys) counters(t *testing.T) {
	s := l.raw.(store.Counters)
	a, b := l.long("counter", 'a'), l.long("counter", 'b')
	for range 2 {
		_, _, err := s.Incr(l.ctx, a, time.Minute)
		require.NoError(t, err)
	}
	out, err := store.IncrAll(l.ctx, s, []store.CounterIncr{{Key: b, Window: time.Minute}})
	require.NoError(t, err)
	assert.Equal(t, int64(1), out[0].N)
	require.NoError(t, s.Decr(l.ctx, a))
	n, _, err := s.Peek(l.ctx, a)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	n, _, err = s.Peek(l.ctx, b)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	require.NoError(t, s.ResetCounter(l.ctx, a))
	n, _, err = s.Peek(l.ctx, b)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}

// bounded checks IncrBelow on two long counters that differ in their last
// byte: each has its own count, and one full refuses a call of both.
func (l *longKeys) bounded(t *testing.T) {
	s := l.raw.(boundedStore)
	a, b := l.long("bounded", 'a'), l.long("bounded", 'b')
	call := func(incrs ...store.BoundedIncr) []store.BoundedValue {
		t.Helper()
		out, err := s.IncrBelow(l.ctx, incrs)
		require.NoError(t, err)
		require.Len(t, out, len(incrs))
		return out
	}
	out := call(store.BoundedIncr{Key: a, Window: time.Minute, Max: 1})
	assert.True(t, out[0].Incremented)
	out = call(store.BoundedIncr{Key: b, Window: time.Minute, Max: 2})
	assert.Equal(t, int64(1), out[0].N, "a key differing in the last byte")
	out = call(store.BoundedIncr{Key: b, Window: time.Minute, Max: 2}, store.BoundedIncr{Key: a, Window: time.Minute, Max: 1})
	assert.Equal(t, 1, store.FirstFull(out))
	n, _, err := s.Peek(l.ctx, b)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}

// ledger checks MarkUsed on two long keys that differ in their last byte,
// and Advance on a long key.
func (l *longKeys) ledger(t *testing.T) {
	s := l.raw.(store.Ledger)
	a, b := l.long("mark", 'a'), l.long("mark", 'b')
	first, err := s.MarkUsed(l.ctx, a, l.exp)
	require.NoError(t, err)
	assert.True(t, first)
	first, err = s.MarkUsed(l.ctx, b, l.exp)
	require.NoError(t, err)
	assert.True(t, first, "a key differing in the last byte")
	first, err = s.MarkUsed(l.ctx, a, l.exp)
	require.NoError(t, err)
	assert.False(t, first)
	ok, err := s.Advance(l.ctx, l.long("step", 'a'), 7, l.exp)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.Advance(l.ctx, l.long("step", 'a'), 7, l.exp)
	require.NoError(t, err)
	assert.False(t, ok)
}

// enrollments checks an enrollment with a long user id and id, and that
// a user id differing in the last byte does not find it.
func (l *longKeys) enrollments(t *testing.T) {
	s := l.raw.(store.Enrollments)
	u, other := l.long("user", 'a'), l.long("user", 'b')
	id := l.long("enrollment", 'i')
	e := store.EnrollmentRecord{UserID: u, ID: id, Method: "totp", Label: "Phone", Data: []byte("d"), CreatedAt: l.clk.Now()}
	require.NoError(t, s.PutEnrollment(l.ctx, e))
	got, err := s.GetEnrollment(l.ctx, u, id)
	require.NoError(t, err)
	assertEnrollment(t, e, got)
	_, err = s.GetEnrollment(l.ctx, other, id)
	require.ErrorIs(t, err, store.ErrNotFound, "a user id differing in the last byte")
	list, err := s.ListEnrollments(l.ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assertEnrollment(t, e, list[0])
	require.NoError(t, s.DeleteEnrollment(l.ctx, u, id))
	_, err = s.GetEnrollment(l.ctx, u, id)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// devices checks a device with a long id and user id, and that an id
// differing in the last byte does not find it.
func (l *longKeys) devices(t *testing.T) {
	s := l.raw.(store.Devices)
	u := l.long("device-user", 'u')
	d := store.Device{ID: l.long("device", 'a'), UserID: u, Label: "Firefox", CreatedAt: l.clk.Now(), ExpiresAt: l.exp}
	require.NoError(t, s.PutDevice(l.ctx, d))
	got, err := s.GetDevice(l.ctx, d.ID)
	require.NoError(t, err)
	assertDevice(t, d, got)
	_, err = s.GetDevice(l.ctx, l.long("device", 'b'))
	require.ErrorIs(t, err, store.ErrNotFound, "an id differing in the last byte")
	list, err := s.ListDevices(l.ctx, u)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assertDevice(t, d, list[0])
	require.NoError(t, s.DeleteDevice(l.ctx, d.ID))
	_, err = s.GetDevice(l.ctx, d.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func (h *harness) canceled(t *testing.T) {
	raw, clk, k, _ := setup[any](h, t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp := clk.Now().Add(time.Minute)
	if s, ok := raw.(store.States); ok {
		assert.Error(t, s.PutState(ctx, k("a"), []byte("x"), exp), "PutState with a canceled context")
		_, err := s.TakeState(ctx, k("a"))
		assert.Error(t, err, "TakeState with a canceled context")
	}
	if s, ok := raw.(store.OwnedStates); ok {
		assert.Error(t, s.PutOwnedState(ctx, k("o"), k("a"), []byte("x"), exp), "PutOwnedState with a canceled context")
		assert.Error(t, s.DeleteOwnedStates(ctx, k("o")), "DeleteOwnedStates with a canceled context")
	}
	if s, ok := raw.(store.Codes); ok {
		assert.Error(t, s.PutCode(ctx, store.Code{Group: k("g"), Key: "k", Hash: []byte("h")}), "PutCode with a canceled context")
		_, err := s.ConsumeCode(ctx, k("g"), "k", []byte("h"))
		assert.Error(t, err, "ConsumeCode with a canceled context")
	}
	if s, ok := raw.(store.Counters); ok {
		_, _, err := s.Incr(ctx, k("c"), time.Minute)
		assert.Error(t, err, "Incr with a canceled context")
		assert.Error(t, s.Decr(ctx, k("c")), "Decr with a canceled context")
	}
	if s, ok := raw.(store.BoundedCounters); ok {
		_, err := s.IncrBelow(ctx, []store.BoundedIncr{{Key: k("c"), Window: time.Minute, Max: 5}})
		assert.Error(t, err, "IncrBelow with a canceled context")
	}
	if s, ok := raw.(store.Ledger); ok {
		_, err := s.MarkUsed(ctx, k("m"), exp)
		assert.Error(t, err, "MarkUsed with a canceled context")
		_, err = s.Advance(ctx, k("m"), 1, exp)
		assert.Error(t, err, "Advance with a canceled context")
	}
	if s, ok := raw.(store.Enrollments); ok {
		e := store.EnrollmentRecord{UserID: k("u"), ID: "e", Method: "totp", CreatedAt: exp}
		assert.Error(t, s.PutEnrollment(ctx, e), "PutEnrollment with a canceled context")
	}
	if s, ok := raw.(store.EnrollmentToucher); ok {
		assert.Error(t, s.TouchEnrollment(ctx, k("u"), "e", exp), "TouchEnrollment with a canceled context")
	}
	if s, ok := raw.(store.Devices); ok {
		assert.Error(t, s.PutDevice(ctx, store.Device{ID: k("d"), UserID: k("u"), CreatedAt: exp, ExpiresAt: exp}), "PutDevice with a canceled context")
	}
	if s, ok := raw.(store.DeviceToucher); ok {
		assert.Error(t, s.TouchDevice(ctx, k("d"), exp), "TouchDevice with a canceled context")
	}
}
