package emailcode_test

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/store"
)

// An address of 254 bytes, the most RFC 5321 allows, receives codes; one
// of 255 is not an address.
func TestLongestAddress(t *testing.T) {
	ctx := context.Background()
	addr := "alice@" + strings.Repeat(strings.Repeat("x", 60)+".", 4) + "test"
	require.Len(t, addr, 254)
	fx := newFixture(t, nil)
	u := alice
	u.Email = addr
	ch := challenge("chal-1", twofactor.PurposeLogin)
	ch.User = u
	_, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	_, ok := fx.outbox.Last(addr)
	assert.True(t, ok)

	u.Email = "x" + addr
	ch = challenge("chal-2", twofactor.PurposeLogin)
	ch.User = u
	_, err = fx.f.Send(ctx, ch, client)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
}

// With EnrollOptIn, an address recorded while the factor was implicit (on
// file, never confirmed) receives no code.
func TestOptInIgnoresAddressOnFile(t *testing.T) {
	ctx := context.Background()
	implicit := newFixture(t, nil)
	es, err := implicit.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	require.Len(t, es, 1, "the address on file is recorded")

	fx := newFixture(t, func(s *setup) {
		optIn(s)
		s.Store = implicit.store
		s.Keys = implicit.keys
	})
	_, err = fx.f.Send(ctx, challenge("chal-1", twofactor.PurposeLogin), client)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	assert.Empty(t, fx.outbox.Messages())
}

// failingEnrollments fails every GetEnrollment.
type failingEnrollments struct {
	*store.Memory
	err error
}

func (s failingEnrollments) GetEnrollment(context.Context, string, string) (store.EnrollmentRecord, error) {
	return store.EnrollmentRecord{}, s.err
}

// A store that cannot read the enrollment fails the send with its error:
// it is not taken for "not enrolled".
func TestOptInReadFailureIsNotNotEnrolled(t *testing.T) {
	boom := errors.New("enrollments down")
	fx := newFixture(t, func(s *setup) {
		optIn(s)
		s.Store = failingEnrollments{Memory: store.NewMemory(), err: boom}
	})
	_, err := fx.f.Send(context.Background(), challenge("chal-1", twofactor.PurposeLogin), client)
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, twofactor.ErrNotEnrolled)
	assert.Empty(t, fx.outbox.Messages())
}

func TestMaskEdges(t *testing.T) {
	assert.Equal(t, "***", emailcode.Mask("jane@"), "nothing after the @")
	assert.Equal(t, "***", emailcode.Mask("@example.com"), "nothing before the @")
	assert.Equal(t, "***@example.com", emailcode.Mask("\x80ane@example.com"), "no partial character")
	assert.Equal(t, "j***@e", emailcode.Mask("jane@e"))
}

// Port 65535 is a port; 65536 is not.
func TestSMTPPortRange(t *testing.T) {
	_, err := emailcode.NewSMTP(emailcode.SMTPConfig{Host: "mail.example.com", Port: 65535, From: "acme@example.com"})
	require.NoError(t, err)
	_, err = emailcode.NewSMTP(emailcode.SMTPConfig{Host: "mail.example.com", Port: 65536, From: "acme@example.com"})
	require.ErrorIs(t, err, twofactor.ErrConfig)
}
