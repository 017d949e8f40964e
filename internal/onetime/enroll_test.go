package onetime

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

// rules is a test channel's config with enrollment.
func rules() Config {
	return Config{Channel: "test", Method: "test", CapDefaults: testCaps, EnrollPurpose: "test_verify",
		Mask: func(d string) string { return d[:1] + "***" }, FoldCase: true}
}

// codesOnly is a store with codes and counters but nothing else.
type codesOnly struct {
	store.Codes
	store.CodeGroups
	store.Counters
}

// New takes everything from the Env: a missing store or keys, or a store
// without what the factors need, is an error there, by name; what New
// returns is complete.
func TestNewTakesTheEnv(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory()
	kr := testKeys(t)

	_, err := New("test", twofactor.Env{Keys: kr}, rules())
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.True(t, strings.HasPrefix(err.Error(), "test: "), err.Error())
	assert.Contains(t, err.Error(), "Env.Store")
	_, err = New("test", twofactor.Env{Store: mem}, rules())
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Contains(t, err.Error(), "Env.Keys")

	// A Service's store without what the factors need is refused, by name.
	_, err = New("test", twofactor.Env{Store: twofactorStore{codesOnly{mem, mem, mem}, mem, mem}, Keys: kr}, rules())
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.True(t, strings.HasPrefix(err.Error(), "test: "), err.Error())
	assert.Contains(t, err.Error(), "does not implement store.Enrollments, which test needs")
	_, _, err = Wire("test", twofactor.Env{Store: twofactorStore{codesOnly{mem, mem, mem}, mem, mem}, Keys: kr})
	require.ErrorIs(t, err, twofactor.ErrConfig, "Wire is the same check")

	// The Env's parts are the issuer's: its store, keys and clock, and its
	// events, stamped with its clock.
	clock := func() time.Time { return t0 }
	var evs []event.Event
	events := &event.Sink{Discard: true, Hook: func(_ context.Context, ev event.Event) { evs = append(evs, ev) }}
	is, err := New("test", twofactor.Env{Store: mem, Keys: kr, Events: events, Now: clock}, rules())
	require.NoError(t, err)
	assert.Same(t, mem, is.Store().(*store.Memory))
	assert.Same(t, kr, is.Env().Keys)
	assert.Equal(t, t0, is.Now())
	iss, err := is.Issue(ctx, req("g"), noDeliver)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(DefaultTTL), iss.ExpiresAt)
	_, err = is.BeginEnroll(ctx, start("ann@example.com", false), noDeliver)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, event.EnrollBegin, evs[0].Type)
	assert.Equal(t, t0, evs[0].Time)

	// The defaults fill the rest.
	is, err = New("test", twofactor.Env{Store: mem, Keys: kr}, rules())
	require.NoError(t, err)
	env := is.Env()
	assert.NotNil(t, env.Events)
	assert.NotNil(t, env.Now)
	assert.NotNil(t, env.Rand)
}

// twofactorStore is a Service's store (twofactor.Store) with codes and
// counters, but no enrollments.
type twofactorStore struct {
	codesOnly
	store.States
	store.OwnedStates
}

func enrollEnv(t *testing.T) (*env, *[]event.Event) {
	t.Helper()
	var mu sync.Mutex
	evs := &[]event.Event{}
	e := newEnv(t, func(s *setup) {
		s.Config = rules()
		s.Events = &event.Sink{Discard: true, Hook: func(_ context.Context, ev event.Event) {
			mu.Lock()
			*evs = append(*evs, ev)
			mu.Unlock()
		}}
	})
	return e, evs
}

var ann = twofactor.User{ID: "u-ann"}

func start(dest string, restart bool) EnrollStart {
	return EnrollStart{User: ann, Destination: dest, Client: twofactor.Client{IP: ip1, UserAgent: "test-agent"}, Restart: restart}
}

// record is a Recorder that keeps what it was given.
type record struct {
	dest, country string
	calls         int
}

func (r *record) rec(_ context.Context, dest, country string) (twofactor.Enrollment, error) {
	r.dest, r.country = dest, country
	r.calls++
	return twofactor.Enrollment{ID: "x", Method: "test", CreatedAt: t0}, nil
}

func TestEnrollShownAgainUntilRestart(t *testing.T) {
	ctx := context.Background()
	e, evs := enrollEnv(t)
	en, err := e.is.BeginEnroll(ctx, start("Ann@Example.com", false), e.deliver)
	require.NoError(t, err)
	first := e.last
	want := &twofactor.Enrolling{Method: "test", ExpiresAt: t0.Add(DefaultTTL),
		Sent: &twofactor.Sent{Destination: "A***", ExpiresAt: t0.Add(DefaultTTL), ResendAt: t0.Add(DefaultResendCooldown)}}
	assert.Equal(t, want, en)
	require.Len(t, *evs, 1)
	assert.Equal(t, event.EnrollBegin, (*evs)[0].Type)

	// Asked again, for the same destination (in another case): shown
	// again, nothing sent, no event, no cooldown hit.
	e.clock.Advance(10 * time.Second)
	e.last = ""
	en, err = e.is.BeginEnroll(ctx, start("ann@example.com", false), e.deliver)
	require.NoError(t, err)
	assert.Equal(t, want, en)
	assert.Empty(t, e.last, "nothing sent")
	assert.Len(t, *evs, 1)

	// Restart is a resend: the cooldown applies, then a new code replaces
	// the first.
	_, err = e.is.BeginEnroll(ctx, start("ann@example.com", true), e.deliver)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, LimitResend, re.Limit)
	e.clock.Advance(DefaultResendCooldown)
	en, err = e.is.BeginEnroll(ctx, start("ann@example.com", true), e.deliver)
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now().Add(DefaultTTL), en.ExpiresAt)
	require.NotEmpty(t, e.last)
	var r record
	if first != e.last {
		_, err = e.is.ConfirmEnroll(ctx, ann, first, r.rec)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "the first code was replaced")
	}
	_, err = e.is.ConfirmEnroll(ctx, ann, e.last, r.rec)
	require.NoError(t, err)
	assert.Equal(t, "ann@example.com", r.dest, "recorded as last asked")

	// Another destination replaces a pending one without Restart.
	e.clock.Advance(DefaultResendCooldown)
	_, err = e.is.BeginEnroll(ctx, start("bob@example.com", false), e.deliver)
	require.NoError(t, err)
	e.clock.Advance(DefaultResendCooldown)
	_, err = e.is.BeginEnroll(ctx, start("carol@example.com", false), e.deliver)
	require.NoError(t, err)
	_, err = e.is.ConfirmEnroll(ctx, ann, e.last, r.rec)
	require.NoError(t, err)
	assert.Equal(t, "carol@example.com", r.dest)

	// A pending enrollment whose code died is not shown again: a new code
	// goes out.
	e.clock.Advance(time.Hour) // fresh caps
	_, err = e.is.BeginEnroll(ctx, start("dan@example.com", false), e.deliver)
	require.NoError(t, err)
	e.clock.Advance(DefaultTTL)
	e.last = ""
	_, err = e.is.BeginEnroll(ctx, start("dan@example.com", false), e.deliver)
	require.NoError(t, err)
	assert.NotEmpty(t, e.last, "a new code")
}

func TestConfirmEnroll(t *testing.T) {
	ctx := context.Background()
	e, evs := enrollEnv(t)
	var r record
	_, err := e.is.ConfirmEnroll(ctx, ann, "123456", r.rec)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled, "nothing pending")

	_, err = e.is.BeginEnroll(ctx, start("ann@example.com", false), e.deliver)
	require.NoError(t, err)
	code := e.last
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	// A malformed answer touches nothing.
	_, err = e.is.ConfirmEnroll(ctx, ann, "12ab56", r.rec)
	require.Same(t, twofactor.ErrMalformedCode, err)
	_, err = e.is.ConfirmEnroll(ctx, ann, wrong, r.rec)
	require.Same(t, twofactor.ErrInvalidCode, err)
	_, err = e.is.ConfirmEnroll(ctx, twofactor.User{ID: "u-other"}, code, r.rec)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled, "another user has nothing pending")
	_, err = e.is.ConfirmEnroll(ctx, twofactor.User{}, code, r.rec)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)

	en, err := e.is.ConfirmEnroll(ctx, ann, code, r.rec)
	require.NoError(t, err)
	assert.Equal(t, twofactor.Enrollment{ID: "x", Method: "test", CreatedAt: t0}, en)
	_, err = e.is.ConfirmEnroll(ctx, ann, code, r.rec)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled, "confirmed once")
	assert.Equal(t, 1, r.calls)

	// The masked destination is the events' Label; the Service, not the
	// issuer, emits the enrollment.
	var types []event.Type
	for _, ev := range *evs {
		types = append(types, ev.Type)
		assert.Equal(t, "a***", ev.Label)
		assert.Nil(t, ev.Details)
	}
	assert.Equal(t, []event.Type{event.EnrollBegin, event.Failure}, types)
	assert.Equal(t, ip1.String(), (*evs)[0].IP)
	assert.Equal(t, "test-agent", (*evs)[0].UserAgent)
	assert.Equal(t, event.ReasonInvalid, (*evs)[1].Reason)
}

// The country given to BeginEnroll reaches the Recorder, kept with the
// pending enrollment; a pending enrollment kept without one (by an older
// version) gives an empty country.
func TestConfirmEnrollCountry(t *testing.T) {
	ctx := context.Background()
	e, _ := enrollEnv(t)
	s := start("+14155550112", false)
	s.Country = "US"
	_, err := e.is.BeginEnroll(ctx, s, e.deliver)
	require.NoError(t, err)
	var r record
	_, err = e.is.ConfirmEnroll(ctx, ann, e.last, r.rec)
	require.NoError(t, err)
	assert.Equal(t, record{dest: "+14155550112", country: "US", calls: 1}, r)

	// An older pending record: no country.
	e.clock.Advance(time.Hour)
	_, err = e.is.BeginEnroll(ctx, start("+14155550113", false), e.deliver)
	require.NoError(t, err)
	p, err := e.is.readPending(ctx, ann.ID)
	require.NoError(t, err)
	old, err := json.Marshal(struct {
		D string    `json:"d"`
		E time.Time `json:"e"`
		R time.Time `json:"r"`
	}{D: p.Destination, E: p.ExpiresAt, R: p.ResendAt})
	require.NoError(t, err)
	require.NotContains(t, string(old), `"c"`)
	sealed, err := e.is.Env().Keys.Seal(old, e.is.pendingAD(ann.ID))
	require.NoError(t, err)
	require.NoError(t, e.store.PutOwnedState(ctx, ann.ID, e.is.pendingKey(ann.ID), []byte(sealed), p.ExpiresAt.Add(time.Hour)))
	r = record{}
	_, err = e.is.ConfirmEnroll(ctx, ann, e.last, r.rec)
	require.NoError(t, err)
	assert.Equal(t, record{dest: "+14155550113", calls: 1}, r)
}

// A password change or an admin reset (store.OwnedStates.DeleteOwnedStates)
// ends a pending enrollment: its code confirms nothing any more.
func TestPendingEnrollmentOwnedByUser(t *testing.T) {
	ctx := context.Background()
	e, _ := enrollEnv(t)
	_, err := e.is.BeginEnroll(ctx, start("ann@example.com", false), e.deliver)
	require.NoError(t, err)
	blob, err := e.store.GetState(ctx, e.is.pendingKey(ann.ID))
	require.NoError(t, err)
	assert.NotContains(t, string(blob), "ann", "the destination is sealed")
	require.NoError(t, e.store.DeleteOwnedStates(ctx, ann.ID))
	var r record
	_, err = e.is.ConfirmEnroll(ctx, ann, e.last, r.rec)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	assert.Zero(t, r.calls)
}

func TestDropEnroll(t *testing.T) {
	ctx := context.Background()
	e, _ := enrollEnv(t)
	_, err := e.is.BeginEnroll(ctx, start("ann@example.com", false), e.deliver)
	require.NoError(t, err)
	code := e.last
	require.NoError(t, e.is.DropEnroll(ctx, ann.ID))
	var r record
	_, err = e.is.ConfirmEnroll(ctx, ann, code, r.rec)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	_, err = e.is.BeginEnroll(ctx, start("ann@example.com", false), e.deliver)
	require.NoError(t, err, "the cooldown went with it")
}

func TestBeginEnrollDeliveryFailure(t *testing.T) {
	ctx := context.Background()
	e, evs := enrollEnv(t)
	_, err := e.is.BeginEnroll(ctx, start("ann@example.com", false), func(context.Context, string, time.Time) error {
		return errors.New("gateway down")
	})
	require.ErrorIs(t, err, ErrDelivery)
	_, err = e.store.GetState(ctx, e.is.pendingKey(ann.ID))
	require.ErrorIs(t, err, store.ErrNotFound, "no pending enrollment left behind")
	assert.Empty(t, *evs)
}

// Of concurrent right answers, exactly one confirms.
func TestConfirmEnrollRace(t *testing.T) {
	ctx := context.Background()
	e, evs := enrollEnv(t)
	_, err := e.is.BeginEnroll(ctx, start("ann@example.com", false), e.deliver)
	require.NoError(t, err)
	code := e.last
	var wins atomic.Int32
	var calls atomic.Int32
	rec := func(context.Context, string, string) (twofactor.Enrollment, error) {
		calls.Add(1)
		return twofactor.Enrollment{ID: "x", CreatedAt: t0}, nil
	}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range 32 {
		wg.Go(func() {
			<-gate
			if _, err := e.is.ConfirmEnroll(ctx, ann, code, rec); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, twofactor.ErrInvalidCode) && !errors.Is(err, twofactor.ErrNotEnrolled) {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	close(gate)
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
	assert.Equal(t, int32(1), calls.Load(), "one enrollment recorded")
	for _, ev := range *evs {
		assert.NotEqual(t, event.Enroll, ev.Type, "the Service emits the enrollment")
	}
}

// A successful login is one ConsumeCode and writes nothing more: the
// last use is the Service's to record, with the challenge's end.
func TestVerifyChallengeConsumesOnly(t *testing.T) {
	ctx := context.Background()
	e, spy := newSpyEnv(t)
	u := twofactor.User{ID: "u1"}
	require.NoError(t, e.store.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u1", ID: "x", Method: "test", CreatedAt: t0}))
	ch := &twofactor.Challenge{ID: "g1", User: u, Purpose: twofactor.PurposeLogin}
	_, err := e.is.Issue(ctx, Request{Group: "g1", Purpose: "login", Binding: "u1", UserID: "u1"}, e.deliver)
	require.NoError(t, err)
	e.clock.Advance(time.Minute)

	require.Same(t, twofactor.ErrMalformedCode, e.is.VerifyChallenge(ctx, ch, "12x456"))
	before := spy.Calls.Load()
	require.NoError(t, e.is.VerifyChallenge(ctx, ch, e.last))
	assert.Equal(t, int64(1), spy.Calls.Load()-before)
	got, err := e.store.GetEnrollment(ctx, "u1", "x")
	require.NoError(t, err)
	assert.True(t, got.LastUsedAt.IsZero(), "the factor writes no last use")

	// A failed answer writes nothing either.
	before = spy.Calls.Load()
	require.ErrorIs(t, e.is.VerifyChallenge(ctx, ch, e.last), twofactor.ErrInvalidCode)
	assert.Equal(t, int64(1), spy.Calls.Load()-before)
}

func TestConfigError(t *testing.T) {
	err := ConfigError("pkg", "Field %d is wrong", 3)
	require.ErrorIs(t, err, twofactor.ErrConfig)
	assert.Equal(t, "pkg: twofactor: invalid configuration: Field 3 is wrong", err.Error())
}

// A store failure while keeping the pending enrollment sends nothing, is
// no delivery failure, and leaves no code and no cooldown behind.
func TestBeginEnrollStoringPendingFails(t *testing.T) {
	ctx := context.Background()
	var spy *storespy.Spy
	e := newEnv(t, func(s *setup) {
		s.Config = rules()
		spy = storespy.New(s.Store.(*store.Memory))
		s.Store = spy
	})
	boom := errors.New("states down")
	spy.Fail("PutOwnedState", boom)
	_, err := e.is.BeginEnroll(ctx, start("ann@example.com", false), e.deliver)
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, ErrDelivery)
	assert.Empty(t, e.last, "nothing sent")
	n, err := e.store.CountGroup(ctx, e.is.group(enrollGroup(ann.ID)))
	require.NoError(t, err)
	assert.Zero(t, n, "no code left")
	spy.Fail("PutOwnedState", nil)
	_, err = e.is.BeginEnroll(ctx, start("ann@example.com", false), e.deliver)
	require.NoError(t, err, "no cooldown")
}
