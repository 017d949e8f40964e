package twofactor_test

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/store"
)

// Removing the last second factor is audited as such: the Remove event
// says LastFactor.
func TestRemoveLastFactorEvent(t *testing.T) {
	ee := newEnrollEnv(t, nil)
	ee.app.enrolled["alice"] = true
	ch, err := ee.svc.StepUp(ctx, alice, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	res, err := ee.svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodTOTP, Code: "654321", Purpose: twofactor.PurposeStepUp, Client: client})
	require.NoError(t, err)
	require.NoError(t, ee.svc.RemoveEnrollment(ctx, alice, twofactor.MethodTOTP, "totp-1", res.Proof))
	evs := ee.eventsOf(event.Remove)
	require.NotEmpty(t, evs)
	assert.Equal(t, twofactor.MethodTOTP, evs[0].Method)
	assert.True(t, evs[0].LastFactor)
}

// An administrator's reset that cannot delete the user's enrollment
// records says so, and is audited as failed.
func TestAdminResetReportsRecordsLeft(t *testing.T) {
	boom := errors.New("enrollments down")
	var spy *storespy.Spy
	e := newEnv(t, func(c *twofactor.Config) {
		spy = storespy.New(c.Store.(*store.Memory))
		c.Store = spy
	})
	require.NoError(t, e.mem.PutEnrollment(ctx, store.EnrollmentRecord{UserID: alice.ID, ID: "old-1", Method: "retired", CreatedAt: e.clock.Now()}))
	spy.Fail("DeleteEnrollment", boom)
	err := e.svc.AdminReset(ctx, alice, "admin:jane", "lost phone")
	require.ErrorIs(t, err, boom)
	evs := e.eventsOf(event.AdminReset)
	require.Len(t, evs, 1)
	assert.Equal(t, event.ReasonError, evs[0].Reason)
	_, err = e.mem.GetEnrollment(ctx, alice.ID, "old-1")
	require.NoError(t, err, "the record is still there")
}
