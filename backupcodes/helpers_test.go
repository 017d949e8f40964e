package backupcodes_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// recordingStore is a memory store that records every value written to it
// and counts code operations, to show what reaches storage.
type recordingStore struct {
	*store.Memory
	mu     sync.Mutex
	batch  sync.Mutex
	writes []string
	reads  atomic.Int64 // ConsumeCode and CountGroup calls
}

// RunBatch runs a batch through the wrapper's own methods (store.RunEach),
// so that what it changes holds in a batch too, one batch at a time, as
// the memory store does.
func (s *recordingStore) RunBatch(ctx context.Context, ops []store.Op) error {
	s.batch.Lock()
	defer s.batch.Unlock()
	return store.RunEach(ctx, s, ops, time.Now())
}

func newRecordingStore(now func() time.Time) *recordingStore {
	return &recordingStore{Memory: store.NewMemory(now)}
}

func (s *recordingStore) record(parts ...any) {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%s\x00", p)
	}
	s.mu.Lock()
	s.writes = append(s.writes, b.String())
	s.mu.Unlock()
}

// dump returns everything written, as one string.
func (s *recordingStore) dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, "\n")
}

func (s *recordingStore) PutCode(ctx context.Context, c store.Code) error {
	s.record(c.Group, c.Key, c.Hash, c.ExpiresAt)
	return s.Memory.PutCode(ctx, c)
}

func (s *recordingStore) ConsumeCode(ctx context.Context, group, key string, hash []byte) (store.CodeStatus, error) {
	s.reads.Add(1)
	s.record(group, key, hash)
	return s.Memory.ConsumeCode(ctx, group, key, hash)
}

func (s *recordingStore) CountGroup(ctx context.Context, group string) (int, error) {
	s.reads.Add(1)
	return s.Memory.CountGroup(ctx, group)
}

func (s *recordingStore) DeleteGroup(ctx context.Context, group string) error {
	s.record(group)
	return s.Memory.DeleteGroup(ctx, group)
}

func (s *recordingStore) PutState(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	s.record(key, value)
	return s.Memory.PutState(ctx, key, value, expiresAt)
}

func (s *recordingStore) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	s.record(key)
	return s.Memory.Incr(ctx, key, window)
}

func (s *recordingStore) MarkUsed(ctx context.Context, key string, expiresAt time.Time) (bool, error) {
	s.record(key)
	return s.Memory.MarkUsed(ctx, key, expiresAt)
}

func (s *recordingStore) Advance(ctx context.Context, key string, value int64, expiresAt time.Time) (bool, error) {
	s.record(key, value)
	return s.Memory.Advance(ctx, key, value, expiresAt)
}

func (s *recordingStore) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	s.record(e.UserID, e.ID, e.Label, e.Data)
	return s.Memory.PutEnrollment(ctx, e)
}

func (s *recordingStore) PutDevice(ctx context.Context, d store.Device) error {
	s.record(d.ID, d.UserID, d.Label)
	return s.Memory.PutDevice(ctx, d)
}

var errBoom = errors.New("disk on fire")

// failingStore fails every code operation once broken is set, and the
// PutCode after putsLeft more when putsLeft is set above zero.
type failingStore struct {
	*store.Memory
	broken   atomic.Bool
	putsLeft atomic.Int32
}

// RunBatch runs each operation through the wrapper's own methods, so
// that those that fail fail in a batch too.
func (s *failingStore) RunBatch(ctx context.Context, ops []store.Op) error {
	return store.RunEach(ctx, s, ops, time.Now())
}

func (s *failingStore) ConsumeCode(ctx context.Context, group, key string, hash []byte) (store.CodeStatus, error) {
	if s.broken.Load() {
		return store.CodeNotFound, errBoom
	}
	return s.Memory.ConsumeCode(ctx, group, key, hash)
}

func (s *failingStore) CountGroup(ctx context.Context, group string) (int, error) {
	if s.broken.Load() {
		return 0, errBoom
	}
	return s.Memory.CountGroup(ctx, group)
}

func (s *failingStore) PutCode(ctx context.Context, c store.Code) error {
	if s.broken.Load() || s.putsLeft.Add(-1) == 0 {
		return errBoom
	}
	return s.Memory.PutCode(ctx, c)
}

func (s *failingStore) DeleteGroup(ctx context.Context, group string) error {
	if s.broken.Load() {
		return errBoom
	}
	return s.Memory.DeleteGroup(ctx, group)
}

func newKey(t testing.TB, id string) keyring.Key {
	t.Helper()
	k, err := keyring.GenerateKey(id)
	require.NoError(t, err)
	return k
}

func newKeyring(t testing.TB, keys ...keyring.Key) *keyring.Ring {
	t.Helper()
	kr, err := keyring.New(keys...)
	require.NoError(t, err)
	return kr
}

// env is a factor on a recording memory store with a manual clock.
type env struct {
	clock  *storetest.Clock
	store  *recordingStore
	keys   *keyring.Ring
	log    *eventlog.Log
	events *event.Sink
	f      *backupcodes.Factor
}

// newEnv builds the factor with an Env on a recording memory store, a
// manual clock and an event log; mod, if given, changes the Config and the
// Env first.
func newEnv(t testing.TB, mod func(*backupcodes.Config, *twofactor.Env)) *env {
	t.Helper()
	e := &env{clock: storetest.NewClock(t0), log: &eventlog.Log{}}
	e.store = newRecordingStore(e.clock.Now)
	e.keys = newKeyring(t, newKey(t, "k1"))
	e.events = &event.Sink{Hook: e.log.Hook, Now: e.clock.Now, Discard: true}
	var cfg backupcodes.Config
	env := e.env()
	if mod != nil {
		mod(&cfg, &env)
	}
	f, err := backupcodes.New(env, cfg)
	require.NoError(t, err)
	e.f = f
	return e
}

// env returns the Env the test's factors are built with: its store, keys,
// events and clock.
func (e *env) env() twofactor.Env {
	return twofactor.Env{Store: e.store, Keys: e.keys, Events: e.events, Now: e.clock.Now}
}

func user(id string) twofactor.User { return twofactor.User{ID: id, Name: id + "@example.com"} }

// challenge returns a challenge for the user, as the Service would pass it.
func challenge(u twofactor.User) *twofactor.Challenge {
	return &twofactor.Challenge{ID: "ch-" + u.ID, User: u, Purpose: twofactor.PurposeLogin,
		Methods: []twofactor.Method{twofactor.MethodBackupCode}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

// fixedRand returns a reader whose first bytes make the first code drawn
// equal to canonical (a code in Alphabet), then reads crypto/rand.
func fixedRand(canonical string) io.Reader {
	b := make([]byte, len(canonical)+len(canonical)/2+8) // one batch of internal/secure
	for i := range b {
		b[i] = byte(i)
	}
	for i := 0; i < len(canonical); i++ {
		b[i] = byte(strings.IndexByte(backupcodes.Alphabet, canonical[i]))
	}
	return io.MultiReader(bytes.NewReader(b), rand.Reader)
}

// pinFactor is a primary factor for tests: users in enrolled answer "246810".
type pinFactor struct{ enrolled map[string]bool }

func (p pinFactor) Method() twofactor.Method { return "pin" }

func (p pinFactor) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	if p.enrolled[u.ID] {
		return []twofactor.Enrollment{{ID: "pin", Method: "pin", Label: "PIN"}}, nil
	}
	return nil, nil
}

func (p pinFactor) Verify(_ context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if p.enrolled[ch.User.ID] && answer == "246810" {
		return twofactor.Verified{EnrollmentID: "pin"}, nil
	}
	return twofactor.Verified{}, twofactor.ErrInvalidCode
}

// codeForms returns the ways a code could be written down in storage or
// logs: as shown, without dashes, in upper and lower case.
func codeForms(code string) []string {
	bare := strings.ReplaceAll(code, "-", "")
	return []string{code, bare, strings.ToUpper(code), strings.ToUpper(bare)}
}

// enroll makes a set of backup codes for u with BeginEnroll and returns
// the codes.
func enroll(ctx context.Context, f *backupcodes.Factor, u twofactor.User) ([]string, error) {
	en, err := f.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
	if err != nil {
		return nil, err
	}
	if en.Method != twofactor.MethodBackupCode || !en.ExpiresAt.IsZero() {
		return nil, fmt.Errorf("unexpected enrolling %+v", en)
	}
	return en.Codes, nil
}
