package storetest

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// serviceStore has the methods twofactor.Service needs (store.States,
// store.OwnedStates and store.Counters) and no other, over the memory
// store: what a host that writes its own store must implement at least.
type serviceStore struct{ m *store.Memory }

var _ twofactor.Store = serviceStore{}

func (s serviceStore) PutState(ctx context.Context, key string, value []byte, exp time.Time) error {
	return s.m.PutState(ctx, key, value, exp)
}
func (s serviceStore) GetState(ctx context.Context, key string) ([]byte, error) {
	return s.m.GetState(ctx, key)
}
func (s serviceStore) TakeState(ctx context.Context, key string) ([]byte, error) {
	return s.m.TakeState(ctx, key)
}
func (s serviceStore) DeleteState(ctx context.Context, key string) error {
	return s.m.DeleteState(ctx, key)
}
func (s serviceStore) PutOwnedState(ctx context.Context, owner, key string, value []byte, exp time.Time) error {
	return s.m.PutOwnedState(ctx, owner, key, value, exp)
}
func (s serviceStore) DeleteOwnedStates(ctx context.Context, owner string) error {
	return s.m.DeleteOwnedStates(ctx, owner)
}
func (s serviceStore) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	return s.m.Incr(ctx, key, window)
}
func (s serviceStore) Peek(ctx context.Context, key string) (int64, time.Time, error) {
	return s.m.Peek(ctx, key)
}
func (s serviceStore) Decr(ctx context.Context, key string) error { return s.m.Decr(ctx, key) }
func (s serviceStore) ResetCounter(ctx context.Context, key string) error {
	return s.m.ResetCounter(ctx, key)
}

// ownedOnly has store.OwnedStates without store.States, which the suite
// cannot test.
type ownedOnly struct{ m *store.Memory }

func (s ownedOnly) PutOwnedState(ctx context.Context, owner, key string, value []byte, exp time.Time) error {
	return s.m.PutOwnedState(ctx, owner, key, value, exp)
}
func (s ownedOnly) DeleteOwnedStates(ctx context.Context, owner string) error {
	return s.m.DeleteOwnedStates(ctx, owner)
}

// TestServiceMinimum runs the suite on a store with only what the Service
// needs: it passes, and runs the tests of those interfaces and no other.
func TestServiceMinimum(t *testing.T) {
	var mu sync.Mutex
	var ran []string // the test of every call of the factory
	RunWith(t, func(t *testing.T, now func() time.Time) twofactor.Store {
		mu.Lock()
		ran = append(ran, t.Name())
		mu.Unlock()
		return serviceStore{store.NewMemory(now)}
	}, Options{Rounds: 5})

	want := []string{t.Name()} // the call that finds the interfaces
	for _, name := range []string{"States", "OwnedStates", "Counters", "Decr", "Races", "MaxKeyLen", "CanceledContext"} {
		want = append(want, t.Name()+"/"+name)
	}
	assert.Equal(t, want, ran, "the tests that built a store")
}

func TestPlan(t *testing.T) {
	mem := store.NewMemory()
	tests := []struct {
		name     string
		store    any
		tests    []string
		missing  []string
		problems int
	}{
		{
			name:  "a store with every interface runs every test",
			store: mem,
			tests: []string{"States", "OwnedStates", "Codes", "CodeGroups", "Counters", "Decr", "BatchCounters", "BoundedCounters", "StateResetter", "Batcher", "Ledger",
				"Enrollments", "EnrollmentToucher", "Devices", "DeviceToucher", "Races", "Sweep", "MaxKeyLen", "CanceledContext"},
		},
		{
			name:  "the Service's minimum",
			store: serviceStore{mem},
			tests: []string{"States", "OwnedStates", "Counters", "Decr", "Races", "MaxKeyLen", "CanceledContext"},
			missing: []string{"store.Codes", "store.CodeGroups", "store.BatchCounters", "store.BoundedCounters", "store.StateResetter", "store.Batcher", "store.Ledger", "store.Enrollments",
				"store.EnrollmentToucher", "store.Devices", "store.DeviceToucher", "store.Sweeper"},
		},
		{
			name:  "devices alone, as the trust package needs them",
			store: struct{ store.Devices }{mem},
			tests: []string{"Devices", "MaxKeyLen", "CanceledContext"},
		},
		{
			name:  "enrollments and their toucher",
			store: struct{ enrollTouchStore }{mem},
			tests: []string{"Enrollments", "EnrollmentToucher", "Races", "MaxKeyLen", "CanceledContext"},
		},
		{
			name:     "owned states without states",
			store:    ownedOnly{mem},
			problems: 2, // the missing States, and nothing left to test
		},
		{
			name:     "nothing",
			store:    struct{}{},
			problems: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan(tt.store)
			assert.Equal(t, tt.tests, p.tests)
			if tt.missing != nil {
				assert.Equal(t, tt.missing, p.missing)
			}
			assert.Len(t, p.problems, tt.problems, "%q", p.problems)
		})
	}
	assert.ElementsMatch(t, slices.Collect(maps.Keys(suiteTests)), plan(mem).tests, "the memory store runs every test")
}
