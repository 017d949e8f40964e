package backupcodes_test

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

// A layout short of MinBits is refused with the shortest length that is
// enough: 50 bits at 5 bits a character is 10 characters.
func TestNewConfigSuggestsLength(t *testing.T) {
	env := twofactor.Env{Store: store.NewMemory(), Keys: newKeyring(t, newKey(t, "k1"))}
	_, err := backupcodes.New(env, backupcodes.Config{Groups: 3, GroupSize: 3})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	require.EqualError(t, err, "backupcodes: "+twofactor.ErrConfig.Error()+": codes of 3 groups of 3 characters carry 45 bits; use at least 10 characters (50 bits)")
}

// A user id of the longest allowed length enrolls and signs in with a code.
func TestLongestUserID(t *testing.T) {
	e := newEnv(t, nil)
	u := user(strings.Repeat("u", twofactor.MaxUserIDLen))
	codes, err := enroll(ctx, e.f, u)
	require.NoError(t, err)
	v, err := e.f.Verify(ctx, challenge(u), codes[0])
	require.NoError(t, err)
	assert.Equal(t, backupcodes.EnrollmentBackupCodes, v.EnrollmentID)
}

// Upper case is folded for every letter of the alphabet, its first and
// last included.
func TestCheckAnswerUpperCase(t *testing.T) {
	e := newEnv(t, nil)
	for _, answer := range []string{"AAAA-AAAA-AAAA", "ZZZZ-ZZZZ-ZZZZ", "aaaa-aaaa-aaaa", "ABCD-EFGH-JKMN"} {
		assert.NoError(t, e.f.CheckAnswer(answer), answer)
	}
	assert.ErrorIs(t, e.f.CheckAnswer("AAAA-AAAA-AAA["), twofactor.ErrInvalidInput)
}

// An answer of exactly 256 bytes (a code and spaces) is read; one byte
// more is refused before normalizing.
func TestCheckAnswerMaxInput(t *testing.T) {
	e := newEnv(t, nil)
	answer := "abcd-efgh-jkmn" + strings.Repeat(" ", 256-14)
	require.Len(t, answer, 256)
	assert.NoError(t, e.f.CheckAnswer(answer))
	err := e.f.CheckAnswer(answer + " ")
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	assert.Contains(t, err.Error(), "longer than 256 bytes")
}

// Removing the set deletes its record too, not only its codes.
func TestRemoveDeletesTheRecord(t *testing.T) {
	e := newEnv(t, nil)
	u := user("alice")
	_, err := enroll(ctx, e.f, u)
	require.NoError(t, err)
	_, err = e.store.GetEnrollment(ctx, u.ID, backupcodes.EnrollmentBackupCodes)
	require.NoError(t, err, "enrolling writes the set's record")
	require.NoError(t, e.f.Remove(ctx, u, backupcodes.EnrollmentBackupCodes))
	_, err = e.store.GetEnrollment(ctx, u.ID, backupcodes.EnrollmentBackupCodes)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// A used recovery code's record goes with it, without a warning: the
// factor is no longer offered from the user's records.
func TestUsedRecoveryCodeRecordGone(t *testing.T) {
	e := newEnv(t, nil)
	u := user("recovered")
	code, _, err := e.f.IssueRecoveryCode(ctx, u, "support:jane")
	require.NoError(t, err)
	_, err = e.f.Verify(ctx, challenge(u), code)
	require.NoError(t, err)
	assert.Empty(t, e.log.OfType(event.Warning))
	_, err = e.store.GetEnrollment(ctx, u.ID, backupcodes.EnrollmentRecoveryCode)
	require.ErrorIs(t, err, store.ErrNotFound)
	offered, err := e.f.Offered(u, func() ([]store.EnrollmentRecord, error) { return e.store.ListEnrollments(ctx, u.ID) })
	require.NoError(t, err)
	assert.False(t, offered)
}
