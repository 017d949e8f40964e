package smscode_test

// Tests that kill mutants gremlins found alive (make mutate; TESTING.md).

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
)

// A refused number's PhoneError.Region is the hint when the hint has the
// number's calling code, even when the hint is not that code's main
// region (Canada behind +1, Guernsey behind +44); otherwise the code's main
// region.
func TestPhoneErrorRegionFromHint(t *testing.T) {
	tests := []struct {
		number, hint, region string
	}{
		{"12345", "CA", "CA"},
		{"12345", "US", "US"},
		{"+44 20", "GG", "GG"},
		{"+44 20", "US", "GB"},
		{"+44 20", "", "GB"},
	}
	for _, tt := range tests {
		_, err := smscode.ParsePhone(tt.number, tt.hint)
		require.ErrorIs(t, err, smscode.ErrPhoneTooShort, "%s/%s", tt.number, tt.hint)
		var pe *smscode.PhoneError
		require.True(t, errors.As(err, &pe))
		assert.Equal(t, tt.region, pe.Region, "%s/%s", tt.number, tt.hint)
	}
}

// WebOTPDomain takes a bare host name: ASCII letters, digits, hyphens and
// dots, 253 bytes at most.
func TestWebOTPDomainRule(t *testing.T) {
	fx := newFixture(t, nil)
	build := func(domain string) error {
		cfg := fx.setup.Config
		cfg.WebOTPDomain = domain
		_, err := smscode.New(fx.setup.Env, cfg)
		return err
	}
	long := strings.Repeat(strings.Repeat("a", 62)+".", 4)[:253-len("example")] + "example"
	for _, d := range []string{"example.com", "a.z", "A.Z", "0.9", "az-AZ-09.example", "localhost", long} {
		assert.NoError(t, build(d), "%q", d)
	}
	for _, d := range []string{"x" + long, "`.com", "{.com", "@.com", "[.com", "/.com", ":.com",
		"example.com:443", "https://example.com", "exa mple.com", "ex_ample.com"} {
		assert.ErrorIs(t, build(d), twofactor.ErrConfig, "%q", d)
	}
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
// it is not taken for "no phone number".
func TestSendReadFailureIsNotNotEnrolled(t *testing.T) {
	boom := errors.New("enrollments down")
	fx := newFixture(t, func(s *setup) { s.Store = failingEnrollments{Memory: store.NewMemory(), err: boom} })
	_, err := fx.f.Send(context.Background(), challenge("chal-1", bob, twofactor.PurposeLogin), client)
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, twofactor.ErrNotEnrolled)
	assert.Empty(t, fx.outbox.Messages())
}

// Every 2xx answer of the gateway is a success; 300 is not.
func TestGatewayStatusRange(t *testing.T) {
	for status, ok := range map[int]bool{200: true, 299: true, 300: false, 500: false} {
		rec := &gatewayRecorder{status: status}
		srv := httptest.NewServer(rec)
		g, err := smscode.NewGateway(smscode.GatewayConfig{URL: srv.URL})
		require.NoError(t, err)
		err = g.Send(context.Background(), smscode.Message{To: usNumber, Body: "123456"})
		srv.Close()
		if ok {
			assert.NoError(t, err, "%d", status)
			continue
		}
		var ge *smscode.GatewayError
		require.ErrorAs(t, err, &ge, "%d", status)
		assert.Equal(t, status, ge.StatusCode)
	}
}
