package backupcodes

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// A set whose tally is gone (swept, or made before tallies existed) is
// counted on every use, so the low-codes event is never missed.
func TestMissingTallyCounts(t *testing.T) {
	ctx := context.Background()
	key, err := twofactor.GenerateKey("k1")
	require.NoError(t, err)
	keys, err := twofactor.NewKeyring(key)
	require.NoError(t, err)
	mem := store.NewMemory(nil)
	var mu sync.Mutex
	var lows []string
	f, err := New(Config{Store: mem, Keys: keys, Count: 4, Events: &twofactor.Events{Discard: true,
		Hook: func(_ context.Context, ev twofactor.Event) {
			if ev.Type == EventLow {
				mu.Lock()
				lows = append(lows, ev.Details["remaining"])
				mu.Unlock()
			}
		}}})
	require.NoError(t, err)
	u := twofactor.User{ID: "alice"}
	codes, err := f.Generate(ctx, u)
	require.NoError(t, err)
	n, err := mem.CountGroup(ctx, tallyGroup(u.ID))
	require.NoError(t, err)
	require.Equal(t, 1, n, "a set of 4 with threshold 2 has a tally")
	require.NoError(t, mem.DeleteGroup(ctx, tallyGroup(u.ID)))

	ch := &twofactor.Challenge{ID: "c", User: u}
	var remaining []string
	for _, c := range codes {
		v, err := f.Verify(ctx, ch, c)
		require.NoError(t, err)
		remaining = append(remaining, v.Details["remaining"])
	}
	assert.Equal(t, []string{"", "2", "1", "0"}, remaining)
	assert.Equal(t, []string{"2", "1", "0"}, lows)

	require.NoError(t, f.RemoveAll(ctx, u))
	for _, g := range []string{group(kindBackup, u.ID), group(kindRecovery, u.ID), tallyGroup(u.ID)} {
		n, err := mem.CountGroup(ctx, g)
		require.NoError(t, err)
		assert.Zero(t, n, g)
	}
}

// tallyFails is a memory store whose tally records fail.
type tallyFails struct{ *store.Memory }

func (s tallyFails) ConsumeCode(ctx context.Context, group, key string, hash []byte) (store.CodeStatus, error) {
	if strings.HasPrefix(group, "backup-uses:") {
		return store.CodeNotFound, errors.New("tally unavailable")
	}
	return s.Memory.ConsumeCode(ctx, group, key, hash)
}

// Once a code matched it is consumed and the user is in; failing to count
// what is left is reported as a warning and does not undo the decision.
func TestCountFailureAfterMatch(t *testing.T) {
	ctx := context.Background()
	key, err := twofactor.GenerateKey("k1")
	require.NoError(t, err)
	keys, err := twofactor.NewKeyring(key)
	require.NoError(t, err)
	mem := store.NewMemory(nil)
	var warnings []twofactor.Event
	f, err := New(Config{Store: tallyFails{mem}, Keys: keys, Events: &twofactor.Events{Discard: true,
		Hook: func(_ context.Context, ev twofactor.Event) {
			if ev.Type == twofactor.EventWarning {
				warnings = append(warnings, ev)
			}
		}}})
	require.NoError(t, err)
	u := twofactor.User{ID: "alice"}
	codes, err := f.Generate(ctx, u)
	require.NoError(t, err)
	v, err := f.Verify(ctx, &twofactor.Challenge{ID: "c", User: u}, codes[0])
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"kind": "backup"}, v.Details)
	require.Len(t, warnings, 1)
	assert.Equal(t, "count_failed", warnings[0].Reason)
	n, err := f.Remaining(ctx, u)
	require.NoError(t, err)
	assert.Equal(t, 9, n)
}
