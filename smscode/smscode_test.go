package smscode_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	bob    = twofactor.User{ID: "u-bob", Name: "Bob", Email: "bob@example.com"}
	carol  = twofactor.User{ID: "u-carol", Email: "carol@example.com"}
	client = twofactor.Client{IP: netip.MustParseAddr("198.51.100.9"), UserAgent: "test"}
)

const (
	usNumber  = "+14155550112"
	usDigits  = "4155550112"
	usMasked  = "+1 *** *** **12"
	ukNumber  = "+447400123456"
	ukDigits  = "7400123456"
	ukMasked  = "+44 **** ****56"
	premiumUS = "+1 900 200 1234"
)

func keys(t testing.TB) *keyring.Ring {
	t.Helper()
	k, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	kr, err := keyring.New(k)
	require.NoError(t, err)
	return kr
}

type fixture struct {
	clock  *storetest.Clock
	store  *store.Memory
	keys   *keyring.Ring
	outbox *smscode.Outbox
	events *eventlog.Log
	setup  setup // what f was built with
	f      *smscode.Factor
}

// setup is what a test factor is built with, for tests to change.
type setup struct {
	twofactor.Env
	smscode.Config
}

func newFixture(t testing.TB, mod func(*setup)) *fixture {
	t.Helper()
	fx := &fixture{clock: storetest.NewClock(t0), outbox: &smscode.Outbox{}, events: &eventlog.Log{}, keys: keys(t)}
	fx.store = store.NewMemory(fx.clock.Now)
	fx.setup = setup{
		Env: twofactor.Env{Store: fx.store, Keys: fx.keys, Now: fx.clock.Now,
			Events: &event.Sink{Hook: fx.events.Hook, Discard: true, Now: fx.clock.Now}},
		Config: smscode.Config{Sender: fx.outbox, ProductName: "Acme"},
	}
	if mod != nil {
		mod(&fx.setup)
	}
	f, err := smscode.New(fx.setup.Env, fx.setup.Config)
	require.NoError(t, err)
	fx.f = f
	return fx
}

// service builds a Service from the fixture's Env and the factor configs
// (the fixture's own when none are given), and makes the SMS factor it
// built fx.f.
func (fx *fixture) service(t testing.TB, factors ...twofactor.FactorConfig) *twofactor.Service {
	t.Helper()
	if factors == nil {
		factors = []twofactor.FactorConfig{fx.setup.Config}
	}
	svc, err := twofactor.New(twofactor.Config{
		Store: fx.setup.Store, Keys: fx.setup.Keys, Factors: factors, Events: fx.setup.Events, Now: fx.clock.Now,
	})
	require.NoError(t, err)
	f, ok := svc.Factor(twofactor.MethodSMS)
	require.True(t, ok)
	fx.f = f.(*smscode.Factor)
	return svc
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

func (fx *fixture) lastCode(t testing.TB, to string) string {
	t.Helper()
	m, ok := fx.outbox.Last(to)
	require.True(t, ok, "no SMS to %s", to)
	c := codeRE.FindString(m.Body)
	require.NotEmpty(t, c)
	return c
}

// enroll runs the whole phone enrollment for u.
func (fx *fixture) enroll(t testing.TB, u twofactor.User, number string) {
	t.Helper()
	ctx := context.Background()
	_, err := fx.f.BeginEnroll(ctx, u, twofactor.EnrollRequest{Destination: number, Client: client})
	require.NoError(t, err)
	p, err := smscode.ParsePhone(number, "")
	require.NoError(t, err)
	_, err = fx.f.ConfirmEnroll(ctx, u, fx.lastCode(t, p.E164))
	require.NoError(t, err)
}

func challenge(id string, u twofactor.User, p twofactor.Purpose) *twofactor.Challenge {
	return &twofactor.Challenge{ID: id, User: u, Purpose: p, Methods: []twofactor.Method{twofactor.MethodSMS},
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

func TestNewConfigErrors(t *testing.T) {
	kr := keys(t)
	base := func() setup {
		return setup{twofactor.Env{Store: store.NewMemory(), Keys: kr}, smscode.Config{Sender: &smscode.Outbox{}}}
	}
	tests := []struct {
		name string
		mod  func(*setup)
		want string
	}{
		{"no store", func(c *setup) { c.Store = nil }, "Env.Store"},
		{"no keys", func(c *setup) { c.Keys = nil }, "Env.Keys"},
		{"store without enrollments", func(c *setup) { m := store.NewMemory(); c.Store = countersOnly{m, m, m} },
			"does not implement store.Codes, store.CodeGroups, store.Enrollments, which smscode needs"},
		{"no sender", func(c *setup) { c.Sender = nil }, "Sender"},
		{"code length", func(c *setup) { c.Codes.Length = 12 }, "Codes.Length"},
		{"webotp scheme", func(c *setup) { c.WebOTPDomain = "https://example.com" }, "WebOTPDomain"},
		{"webotp port", func(c *setup) { c.WebOTPDomain = "example.com:443" }, "WebOTPDomain"},
		{"region", func(c *setup) { c.AllowedRegions = []string{"XX"} }, "AllowedRegions"},
		{"empty regions", func(c *setup) { c.AllowedRegions = []string{} }, "AllowedRegions"},
		{"template", func(c *setup) { c.Template = texttemplate.Must(texttemplate.New("t").Parse("hi")) }, "Code"},
		{"product", func(c *setup) { c.ProductName = "a\nb" }, "ProductName"},
		{"window", func(c *setup) { c.Caps.Window = -time.Second }, "Window"},
		{"verification budget one account fills", func(c *setup) { c.Caps.VerifyPerDestination = 2 }, "VerifyPerDestination 2 must be more than 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.mod(&s)
			f, err := smscode.New(s.Env, s.Config)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "smscode: "), err.Error())
		})
	}
}

// countersOnly is what the root package needs of a store, and none of
// what the SMS factor does.
type countersOnly struct {
	store.States
	store.OwnedStates
	store.Counters
}

func TestParsePhone(t *testing.T) {
	tests := []struct {
		number, region string
		want           smscode.Phone
	}{
		{"+1 415 555 0112", "", smscode.Phone{E164: usNumber, Region: "US"}},
		{"(415) 555-0112", "US", smscode.Phone{E164: usNumber, Region: "US"}},
		{" (415) 555-0112 ", " us ", smscode.Phone{E164: usNumber, Region: "US"}},
		{"+14155550112", "GB", smscode.Phone{E164: usNumber, Region: "US"}}, // an international number ignores the hint
		{"07400 123456", "GB", smscode.Phone{E164: ukNumber, Region: "GB"}},
		{"+49 1512 3456789", "", smscode.Phone{E164: "+4915123456789", Region: "DE"}},
		{"+1 876 210 1234", "", smscode.Phone{E164: "+18762101234", Region: "JM"}}, // +1, yet Jamaica
	}
	for _, tt := range tests {
		t.Run(tt.number+"/"+tt.region, func(t *testing.T) {
			got, err := smscode.ParsePhone(tt.number, tt.region)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Each refusal is one reason a page can put into words, found with
// errors.Is; the *PhoneError says which region the number was read as.
func TestParsePhoneErrors(t *testing.T) {
	tests := []struct {
		number, region string
		err            error
		region2        string // PhoneError.Region
	}{
		{"", "US", smscode.ErrPhoneEmpty, ""},
		{"   ", "", smscode.ErrPhoneEmpty, ""},
		{"not a number", "US", smscode.ErrPhoneNotNumber, ""},
		{"415 555 0112", "", smscode.ErrPhoneNeedsRegion, ""},
		{"415 555 0112", "XX", smscode.ErrPhoneUnknownRegion, ""},
		{"415 555 0112", "USA", smscode.ErrPhoneUnknownRegion, ""},
		{"+999 1234 5678", "", smscode.ErrPhoneCountryCode, ""},
		{"12345", "US", smscode.ErrPhoneTooShort, "US"},
		{"555 0112", "US", smscode.ErrPhoneTooShort, "US"}, // a local number: no area code
		{"+44 20", "", smscode.ErrPhoneTooShort, "GB"},
		{"+1 415 555 0112 999", "", smscode.ErrPhoneTooLong, "US"},
		{strings.Repeat("1", 100), "US", smscode.ErrPhoneTooLong, ""},
		{"07400 123456", "FR", smscode.ErrPhoneTooLong, "FR"}, // a UK number read in France
		{"01000 000000", "GB", smscode.ErrPhoneInvalidForRegion, "GB"},
		{"+1 055 555 0112", "", smscode.ErrPhoneInvalidForRegion, "US"},
		{premiumUS, "", smscode.ErrNumberType, "US"},
		{"+1 800 555 0100", "", smscode.ErrNumberType, "US"},
	}
	reasons := []error{smscode.ErrPhoneEmpty, smscode.ErrPhoneNotNumber, smscode.ErrPhoneNeedsRegion, smscode.ErrPhoneUnknownRegion,
		smscode.ErrPhoneCountryCode, smscode.ErrPhoneTooShort, smscode.ErrPhoneTooLong, smscode.ErrPhoneInvalidForRegion,
		smscode.ErrNumberType, smscode.ErrRegionNotAllowed}
	for _, tt := range tests {
		t.Run(tt.number+"/"+tt.region, func(t *testing.T) {
			got, err := smscode.ParsePhone(tt.number, tt.region)
			assert.Zero(t, got)
			require.ErrorIs(t, err, tt.err)
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			for _, r := range reasons {
				if r != tt.err {
					assert.NotErrorIs(t, err, r, "one reason only")
				}
			}
			assert.Equal(t, tt.err != smscode.ErrNumberType, errors.Is(err, smscode.ErrInvalidPhone),
				"invalid numbers match ErrInvalidPhone, refused valid ones do not")
			var pe *smscode.PhoneError
			require.ErrorAs(t, err, &pe)
			assert.Same(t, tt.err, pe.Err)
			assert.Equal(t, tt.region2, pe.Region)
			if n := strings.TrimSpace(tt.number); n != "" {
				assert.NotContains(t, err.Error(), n, "no number in the error")
			}
		})
	}
}

// The factor's ParsePhone is exactly what BeginEnroll accepts: the package's,
// and AllowedRegions.
func TestFactorParsePhone(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.AllowedRegions = []string{"US", "gb"} })
	p, err := fx.f.ParsePhone("07400 123456", "GB")
	require.NoError(t, err)
	assert.Equal(t, smscode.Phone{E164: ukNumber, Region: "GB"}, p)
	_, err = fx.f.ParsePhone("+1 268 464 1234", "")
	require.ErrorIs(t, err, smscode.ErrRegionNotAllowed)
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)
	assert.NotErrorIs(t, err, smscode.ErrInvalidPhone)
	var pe *smscode.PhoneError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "AG", pe.Region, "Antigua, behind +1")
	_, err = fx.f.ParsePhone("12345", "US")
	require.ErrorIs(t, err, smscode.ErrPhoneTooShort)
}

func TestMaskPhone(t *testing.T) {
	tests := map[string]string{
		usNumber:         usMasked,
		ukNumber:         ukMasked,
		"+4915123456789": "+49 **** *****89",
		"+33612345678":   "+33 * ** ** ** 78",
		"4155550112":     "***",
		"":               "***",
		"+":              "***",
	}
	for in, want := range tests {
		assert.Equal(t, want, smscode.MaskPhone(in), in)
	}
}

func TestPhoneEnrollment(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()

	es, err := fx.f.Enrollments(ctx, bob)
	require.NoError(t, err)
	assert.Empty(t, es)

	en, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: "(415) 555-0112", Region: "US", Client: client})
	require.NoError(t, err)
	assert.Equal(t, &twofactor.Enrolling{Method: twofactor.MethodSMS, ExpiresAt: t0.Add(15 * time.Minute),
		Sent: &twofactor.Sent{Destination: usMasked, ExpiresAt: t0.Add(15 * time.Minute), ResendAt: t0.Add(time.Minute)}}, en)
	code := fx.lastCode(t, usNumber)

	// Pending: not an enrollment yet.
	es, err = fx.f.Enrollments(ctx, bob)
	require.NoError(t, err)
	assert.Empty(t, es)

	_, err = fx.f.ConfirmEnroll(ctx, bob, "12ab56")
	require.Same(t, twofactor.ErrMalformedCode, err, "a wrong code to the user, and no store access")
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	_, err = fx.f.ConfirmEnroll(ctx, bob, wrong)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	_, err = fx.f.ConfirmEnroll(ctx, carol, code)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled, "another user's confirmation")

	e, err := fx.f.ConfirmEnroll(ctx, bob, code)
	require.NoError(t, err)
	assert.Equal(t, twofactor.Enrollment{ID: "phone", Method: twofactor.MethodSMS, Label: usMasked, CreatedAt: t0}, e)
	es, err = fx.f.Enrollments(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, []twofactor.Enrollment{e}, es)

	_, err = fx.f.ConfirmEnroll(ctx, bob, code)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled, "confirmed once")

	// Replacing the phone: the old one stays until the new one is verified.
	fx.clock.Advance(time.Minute)
	_, err = fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: "+44 7400 123456", Client: client})
	require.NoError(t, err)
	es, err = fx.f.Enrollments(ctx, bob)
	require.NoError(t, err)
	assert.Equal(t, usMasked, es[0].Label, "old phone still active while the new one is pending")
	e, err = fx.f.ConfirmEnroll(ctx, bob, fx.lastCode(t, ukNumber))
	require.NoError(t, err)
	assert.Equal(t, t0.Add(time.Minute), e.CreatedAt, "a new phone is a new enrollment")
	es, err = fx.f.Enrollments(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, []twofactor.Enrollment{e}, es, "one phone per user")
	assert.Equal(t, ukMasked, es[0].Label)

	// Events: the masked number only, as the Label; the enrollments are
	// the Service's to announce.
	var types []event.Type
	var labels []string
	for _, ev := range fx.events.All() {
		types = append(types, ev.Type)
		labels = append(labels, ev.Label)
		assertClean(t, ev, code, usNumber, usDigits, ukNumber, ukDigits)
	}
	assert.Equal(t, []event.Type{event.EnrollBegin, event.Failure, event.EnrollBegin}, types)
	assert.Equal(t, []string{usMasked, usMasked, ukMasked}, labels)

	// Stored values hold no full number: the enrollment is sealed.
	recs, err := fx.store.ListEnrollments(ctx, bob.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.NotContains(t, string(recs[0].Data), ukDigits)
	assert.NotContains(t, recs[0].Label, ukDigits)
	// A sealed number copied to another user does not open.
	stolen := recs[0]
	stolen.UserID = carol.ID
	require.NoError(t, fx.store.PutEnrollment(ctx, stolen))
	_, err = fx.f.Send(ctx, challenge("c-carol", carol, twofactor.PurposeLogin), client)
	require.ErrorIs(t, err, keyring.ErrInvalidKey)
	assert.NotErrorIs(t, err, twofactor.ErrInvalidCode)
}

func TestPendingNumberIsSealed(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err)
	blob, err := fx.store.GetState(ctx, "otc:enroll:sms:"+bob.ID)
	require.NoError(t, err)
	assert.NotContains(t, string(blob), usDigits)
	assert.True(t, strings.HasPrefix(string(blob), "v1:"))
}

func TestBeginEnrollRefusals(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.AllowedRegions = []string{"us", "GB"} })
	ctx := context.Background()
	tests := []struct {
		number, region string
		err            error
	}{
		{"+49 1512 3456789", "", smscode.ErrRegionNotAllowed},
		{"+1 268 464 1234", "", smscode.ErrRegionNotAllowed}, // Antigua shares +1 with the US
		{"garbage", "US", smscode.ErrInvalidPhone},
		{premiumUS, "", smscode.ErrNumberType},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: tt.number, Region: tt.region, Client: client})
			require.ErrorIs(t, err, tt.err)
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
		})
	}
	_, err := fx.f.BeginEnroll(ctx, twofactor.User{}, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.ErrorIs(t, err, twofactor.ErrInvalidInput)

	// Nothing changed: no SMS, no pending number, no counters spent.
	assert.Empty(t, fx.outbox.Messages())
	_, err = fx.store.GetState(ctx, "otc:enroll:sms:"+bob.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	n, _, err := fx.store.Peek(ctx, "otc:cap:user:sms:"+bob.ID)
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = fx.f.ConfirmEnroll(ctx, bob, "123456")
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)

	// An allowed region works.
	_, err = fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: "07400 123456", Region: "GB", Client: client})
	require.NoError(t, err)
}

func TestConfirmEnrollExpired(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.Codes.TTL = 5 * time.Minute })
	ctx := context.Background()
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err)
	code := fx.lastCode(t, usNumber)
	fx.clock.Advance(5 * time.Minute)
	_, err = fx.f.ConfirmEnroll(ctx, bob, code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "users see an expired code as invalid")
	assert.Same(t, twofactor.ErrCodeExpired, err)
	evs := fx.events.All()
	last := evs[len(evs)-1]
	assert.Equal(t, event.Failure, last.Type)
	assert.Equal(t, event.ReasonExpired, last.Reason, "the event says expired")
	es, err := fx.f.Enrollments(ctx, bob)
	require.NoError(t, err)
	assert.Empty(t, es)

	// Later still, the pending number is gone too.
	fx.clock.Advance(5 * time.Minute)
	_, err = fx.f.ConfirmEnroll(ctx, bob, code)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
}

func TestConfirmEnrollRace(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		fx := newFixture(t, nil)
		_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
		require.NoError(t, err)
		code := fx.lastCode(t, usNumber)
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 64 {
			wg.Go(func() {
				<-start
				if _, err := fx.f.ConfirmEnroll(ctx, bob, code); err == nil {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), wins.Load(), "round %d", round)
		es, err := fx.f.Enrollments(ctx, bob)
		require.NoError(t, err)
		require.Len(t, es, 1, "one enrollment")
	}
}

func TestSendVerifyWebOTP(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.WebOTPDomain = "login.example.com" })
	ctx := context.Background()
	fx.enroll(t, bob, usNumber)
	fx.clock.Advance(time.Minute)

	ch := challenge("chal-1", bob, twofactor.PurposeLogin)
	sent, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	assert.Equal(t, twofactor.Sent{Destination: usMasked, ExpiresAt: fx.clock.Now().Add(15 * time.Minute), ResendAt: fx.clock.Now().Add(time.Minute)}, sent)
	m, ok := fx.outbox.Last(usNumber)
	require.True(t, ok)
	code := codeRE.FindString(m.Body)
	lines := strings.Split(m.Body, "\n")
	assert.Equal(t, "@login.example.com #"+code, lines[len(lines)-1], "WebOTP line last")
	assert.Equal(t, code+" is your Acme verification code. It expires in 15 minutes.", lines[0])

	_, err = fx.f.Verify(ctx, ch, code)
	require.NoError(t, err)
	_, err = fx.f.Verify(ctx, ch, code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
}

func TestSendNotEnrolled(t *testing.T) {
	fx := newFixture(t, nil)
	_, err := fx.f.Send(context.Background(), challenge("c", bob, twofactor.PurposeLogin), client)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	assert.Empty(t, fx.outbox.Messages())
}

func TestPurposeBinding(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	// A phone verification code never satisfies a login challenge...
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err)
	verifyCode := fx.lastCode(t, usNumber)
	for _, id := range []string{"enroll:" + bob.ID, "chal-1"} {
		_, err = fx.f.Verify(ctx, challenge(id, bob, twofactor.PurposeLogin), verifyCode)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	_, err = fx.f.ConfirmEnroll(ctx, bob, verifyCode)
	require.NoError(t, err)

	// ...and a login code never confirms a phone or answers a step-up.
	fx.clock.Advance(time.Minute)
	login := challenge("chal-1", bob, twofactor.PurposeLogin)
	_, err = fx.f.Send(ctx, login, client)
	require.NoError(t, err)
	loginCode := fx.lastCode(t, usNumber)
	_, err = fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: ukNumber, Client: client})
	require.NoError(t, err)
	_, err = fx.f.ConfirmEnroll(ctx, bob, loginCode)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	_, err = fx.f.Verify(ctx, challenge("chal-1", bob, twofactor.PurposeStepUp), loginCode)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	_, err = fx.f.Verify(ctx, login, loginCode)
	require.NoError(t, err)
}

func TestDeliveryFailure(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.Caps.PerDestination = 2 })
	ctx := context.Background()
	fx.enroll(t, bob, usNumber) // a verification: not on the login caps
	fx.clock.Advance(time.Minute)

	ch := challenge("chal-1", bob, twofactor.PurposeLogin)
	fx.outbox.FailWith(errors.New("gateway down"))
	_, err := fx.f.Send(ctx, ch, client) // 1: failed, still counted
	require.ErrorIs(t, err, smscode.ErrDelivery)
	n, err := fx.store.CountGroup(ctx, "otc:sms:chal-1")
	require.NoError(t, err)
	assert.Zero(t, n, "no usable code")

	fx.outbox.FailWith(nil)
	_, err = fx.f.Send(ctx, ch, client) // 2: no cooldown after the failure
	require.NoError(t, err)
	fx.clock.Advance(time.Minute)
	_, err = fx.f.Send(ctx, ch, client) // 3: over the destination cap
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, smscode.LimitDestination, re.Limit)
}

func TestBeginEnrollDeliveryFailure(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	fx.outbox.FailWith(errors.New("gateway down"))
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.ErrorIs(t, err, smscode.ErrDelivery)
	_, err = fx.store.GetState(ctx, "otc:enroll:sms:"+bob.ID)
	require.ErrorIs(t, err, store.ErrNotFound, "no pending number left behind")
	fx.outbox.FailWith(nil)
	_, err = fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err, "no cooldown after a failure")
}

// SMS pumping: many accounts enrolling the same number hit the
// per-destination verification cap.
func TestDestinationCapAcrossUsers(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	for i := range smscode.DefaultCapVerifyDestination {
		u := twofactor.User{ID: fmt.Sprint("user-", i)}
		_, err := fx.f.BeginEnroll(ctx, u, twofactor.EnrollRequest{Destination: usNumber, Client: twofactor.Client{IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})}})
		require.NoError(t, err)
	}
	_, err := fx.f.BeginEnroll(ctx, twofactor.User{ID: "user-x"}, twofactor.EnrollRequest{Destination: usNumber, Client: twofactor.Client{}})
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, smscode.LimitVerifyDestination, re.Limit)
	assert.Equal(t, time.Hour, re.RetryAfter)
}

func TestCapPerIP(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.Caps.PerIP = 2 })
	ctx := context.Background()
	for i := range 2 {
		_, err := fx.f.BeginEnroll(ctx, twofactor.User{ID: fmt.Sprint("u", i)}, twofactor.EnrollRequest{Destination: fmt.Sprintf("+1415555011%d", i), Client: client})
		require.NoError(t, err)
	}
	_, err := fx.f.BeginEnroll(ctx, twofactor.User{ID: "u9"}, twofactor.EnrollRequest{Destination: "+14155550119", Client: client})
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "ip", re.Limit)
}

// pumpRegions are regions a toll-fraud run spreads its numbers over.
var pumpRegions = []string{"GB", "FR", "DE", "JM", "NG", "PK", "ID", "BR", "IN", "PH"}

// mobileNumbers returns n distinct valid mobile numbers of region in E.164
// form, counting up from the region's example number.
func mobileNumbers(t testing.TB, region string, n int) []string {
	t.Helper()
	ex := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	require.NotNil(t, ex, region)
	var out []string
	for d := uint64(0); len(out) < n && d < 10000; d++ {
		p, err := smscode.ParsePhone(fmt.Sprintf("+%d%d", ex.GetCountryCode(), ex.GetNationalNumber()+d), "")
		if err == nil && p.Region == region {
			out = append(out, p.E164)
		}
	}
	require.Len(t, out, n, region)
	return out
}

// pumpTargets returns perRegion numbers in each of pumpRegions, the
// regions interleaved.
func pumpTargets(t testing.TB, perRegion int) []string {
	t.Helper()
	byRegion := make([][]string, len(pumpRegions))
	for i, r := range pumpRegions {
		byRegion[i] = mobileNumbers(t, r, perRegion)
	}
	var out []string
	for j := range perRegion {
		for i := range pumpRegions {
			out = append(out, byRegion[i][j])
		}
	}
	return out
}

// SMS pumping from one IPv6 /64: fresh accounts, fresh numbers in many
// countries, a new address of the network for every request. The per-IP
// cap counts the network, so sends stop at the cap.
func TestPumpingFromOneIPv6Network(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	sent := 0
	var re *twofactor.RetryError
	for i, num := range pumpTargets(t, 20) {
		u := twofactor.User{ID: fmt.Sprint("pump-", i)}
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 8: byte(i >> 8), 15: byte(i)})
		_, err := fx.f.BeginEnroll(ctx, u, twofactor.EnrollRequest{Destination: num, Client: twofactor.Client{IP: ip}})
		if err == nil {
			sent++
			continue
		}
		require.ErrorAs(t, err, &re, "request %d", i)
		assert.Equal(t, "ip", re.Limit)
	}
	assert.Equal(t, smscode.DefaultCapIP, sent)
	assert.Len(t, fx.outbox.Messages(), smscode.DefaultCapIP)
	assert.Empty(t, fx.budgetEvents(), "the network's cap stopped it long before any budget")
}

func TestCooldown(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err)
	fx.clock.Advance(59 * time.Second)
	_, err = fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: ukNumber, Client: client})
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "resend", re.Limit)
	assert.Equal(t, time.Second, re.RetryAfter)
}

func TestRemove(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	fx.enroll(t, bob, usNumber)
	require.ErrorIs(t, fx.f.Remove(ctx, bob, "other"), twofactor.ErrNotEnrolled)
	// Removing the phone ends a replacement awaiting its code too.
	fx.clock.Advance(time.Minute)
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: ukNumber, Client: client})
	require.NoError(t, err)
	require.NoError(t, fx.f.Remove(ctx, bob, "phone"))
	es, err := fx.f.Enrollments(ctx, bob)
	require.NoError(t, err)
	assert.Empty(t, es)
	_, err = fx.f.ConfirmEnroll(ctx, bob, fx.lastCode(t, ukNumber))
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)

	fx.enroll(t, carol, ukNumber)
	fx.clock.Advance(time.Minute)
	_, err = fx.f.BeginEnroll(ctx, carol, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err)
	code := fx.lastCode(t, usNumber)
	require.NoError(t, fx.f.RemoveAll(ctx, carol))
	es, err = fx.f.Enrollments(ctx, carol)
	require.NoError(t, err)
	assert.Empty(t, es)
	_, err = fx.f.ConfirmEnroll(ctx, carol, code)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
}

func TestRaceExactlyOneSuccess(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, nil)
	fx.enroll(t, bob, usNumber)
	for round := range 10 {
		ch := challenge(fmt.Sprint("chal-", round), bob, twofactor.PurposeLogin)
		_, err := fx.f.Send(ctx, ch, client)
		require.NoError(t, err)
		code := fx.lastCode(t, usNumber)
		var wins, losses atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 64 {
			wg.Go(func() {
				<-start
				_, err := fx.f.Verify(ctx, ch, code)
				if err == nil {
					wins.Add(1)
				} else if errors.Is(err, twofactor.ErrInvalidCode) {
					losses.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), wins.Load(), "round %d", round)
		require.Equal(t, int32(63), losses.Load(), "round %d", round)
		fx.clock.Advance(time.Hour) // fresh caps for the next round
	}
}

// A product that makes SMS the default and mandatory factor: the policy
// check lists the users without a phone, so an administrator knows whom
// enforcing it would lock out. Then a full login by SMS through the
// Service.
func TestServicePolicyAndLogin(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	svc, err := twofactor.New(twofactor.Config{
		Store: fx.store, Keys: fx.keys,
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: &emailcode.Outbox{}}, fx.setup.Config},
		Policy:  twofactor.Policy{Required: true, Default: twofactor.MethodSMS, Mandatory: []twofactor.Method{twofactor.MethodSMS}},
		Events:  &event.Sink{Hook: fx.events.Hook, Discard: true}, Now: fx.clock.Now,
	})
	require.NoError(t, err)
	sms, _ := svc.Factor(twofactor.MethodSMS)
	fx.f = sms.(*smscode.Factor)
	fx.enroll(t, bob, usNumber)

	dave := twofactor.User{ID: "u-dave"} // no email, no phone
	gaps, err := svc.Check(ctx, slices.Values([]twofactor.User{bob, carol, dave}))
	require.NoError(t, err)
	require.Len(t, gaps, 2)
	assert.Equal(t, carol.ID, gaps[0].User.ID)
	assert.Equal(t, []twofactor.Method{twofactor.MethodSMS}, gaps[0].Missing)
	assert.False(t, gaps[0].NoFactor, "carol has email")
	assert.Equal(t, dave.ID, gaps[1].User.ID)
	assert.True(t, gaps[1].NoFactor)

	// Bob signs in: the challenge offers SMS (the policy's default) first,
	// then email; he picks SMS.
	b, err := svc.Begin(ctx, bob, client)
	require.NoError(t, err)
	require.Equal(t, []twofactor.Method{twofactor.MethodSMS, twofactor.MethodEmail}, b.Challenge.Methods)
	fx.clock.Advance(time.Minute)
	sent, err := svc.Send(ctx, b.Challenge.ID, twofactor.MethodSMS, client)
	require.NoError(t, err)
	assert.Equal(t, usMasked, sent.Destination)
	code := fx.lastCode(t, usNumber)
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodSMS, Code: code, Client: client})
	require.NoError(t, err)
	assert.Equal(t, "phone", res.EnrollmentID)

	// Removing the phone needs a fresh step-up proof, not the login's.
	err = svc.RemoveEnrollment(ctx, bob, twofactor.MethodSMS, "phone", res.Proof)
	require.ErrorIs(t, err, twofactor.ErrStepUpRequired)
	up, err := svc.StepUp(ctx, bob, client, twofactor.PurposeStepUp)
	require.NoError(t, err)
	fx.clock.Advance(time.Minute)
	_, err = svc.Send(ctx, up.ID, twofactor.MethodSMS, client)
	require.NoError(t, err)
	upCode := fx.lastCode(t, usNumber)
	upRes, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: up.ID, Method: twofactor.MethodSMS, Code: upCode,
		Purpose: twofactor.PurposeStepUp, UserID: bob.ID, Client: client})
	require.NoError(t, err)
	require.NoError(t, svc.RemoveEnrollment(ctx, bob, twofactor.MethodSMS, "phone", upRes.Proof))
	gaps, err = svc.Check(ctx, slices.Values([]twofactor.User{bob}))
	require.NoError(t, err)
	require.Len(t, gaps, 1)

	for _, ev := range fx.events.All() {
		assertClean(t, ev, code, upCode, usNumber, usDigits)
	}
}

func assertClean(t *testing.T, ev event.Event, secrets ...string) {
	t.Helper()
	all := []string{string(ev.Type), ev.UserID, ev.ChallengeID, string(ev.Method), string(ev.Purpose), string(ev.Reason),
		string(ev.Action), ev.EnrollmentID, ev.Label, ev.IP, ev.UserAgent, ev.Actor}
	for k, v := range ev.Details {
		all = append(all, k, v)
	}
	for _, s := range secrets {
		for _, f := range all {
			assert.NotContains(t, f, s, "event %s leaks a secret", ev.Type)
		}
	}
}

// gatewayRecorder is an httptest handler that records requests.
type gatewayRecorder struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []string
	status int
}

func (g *gatewayRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.reqs = append(g.reqs, r)
	g.bodies = append(g.bodies, string(b))
	st := g.status
	g.mu.Unlock()
	if st == 0 {
		st = http.StatusCreated
	}
	w.WriteHeader(st)
	_, _ = io.WriteString(w, `{"sid":"SM123","message":"The 'To' number is not valid"}`)
}

func TestGatewayForm(t *testing.T) {
	rec := &gatewayRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	g, err := smscode.NewGateway(smscode.GatewayConfig{
		URL:    srv.URL + "/send",
		Header: http.Header{"Authorization": {"Bearer tok-123"}},
		Fields: map[string]string{"from": "Acme"},
	})
	require.NoError(t, err)
	require.NoError(t, g.Send(context.Background(), smscode.Message{To: usNumber, Body: "123456 is your code"}))
	require.Len(t, rec.reqs, 1)
	r := rec.reqs[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/send", r.URL.Path)
	assert.Equal(t, "Bearer tok-123", r.Header.Get("Authorization"))
	assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
	form, err := url.ParseQuery(rec.bodies[0])
	require.NoError(t, err)
	assert.Equal(t, url.Values{"to": {usNumber}, "body": {"123456 is your code"}, "from": {"Acme"}}, form)
}

func TestGatewayJSON(t *testing.T) {
	rec := &gatewayRecorder{status: http.StatusOK}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	g, err := smscode.NewGateway(smscode.GatewayConfig{
		URL: srv.URL, Format: smscode.JSON, Username: "user", Password: "pass",
		ToField: "recipient", TextField: "text", Header: http.Header{"X-Api-Key": {"k"}},
	})
	require.NoError(t, err)
	require.NoError(t, g.Send(context.Background(), smscode.Message{To: usNumber, Body: "hi"}))
	r := rec.reqs[0]
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "k", r.Header.Get("X-Api-Key"))
	u, p, ok := r.BasicAuth()
	assert.True(t, ok)
	assert.Equal(t, "user", u)
	assert.Equal(t, "pass", p)
	var body map[string]string
	require.NoError(t, json.Unmarshal([]byte(rec.bodies[0]), &body))
	assert.Equal(t, map[string]string{"recipient": usNumber, "text": "hi"}, body)
}

func TestGatewayErrors(t *testing.T) {
	for _, st := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusFound} {
		t.Run(fmt.Sprint(st), func(t *testing.T) {
			rec := &gatewayRecorder{status: st}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			g, err := smscode.NewGateway(smscode.GatewayConfig{URL: srv.URL})
			require.NoError(t, err)
			err = g.Send(context.Background(), smscode.Message{To: usNumber, Body: "x"})
			var ge *smscode.GatewayError
			require.ErrorAs(t, err, &ge)
			assert.Equal(t, st, ge.StatusCode)
			assert.NotContains(t, err.Error(), usDigits, "no number in the error")

			// Through the factor: a delivery error, no code left.
			fx := newFixture(t, func(c *setup) { c.Sender = g })
			_, err = fx.f.BeginEnroll(context.Background(), bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
			require.ErrorIs(t, err, smscode.ErrDelivery)
			require.ErrorAs(t, err, &ge)
			n, err := fx.store.CountGroup(context.Background(), "otc:sms:enroll:"+bob.ID)
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		g, err := smscode.NewGateway(smscode.GatewayConfig{URL: u, Timeout: 2 * time.Second})
		require.NoError(t, err)
		require.Error(t, g.Send(context.Background(), smscode.Message{To: usNumber, Body: "x"}))
	})
}

func TestGatewayConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  smscode.GatewayConfig
		want string
	}{
		{"empty", smscode.GatewayConfig{}, "URL"},
		{"relative", smscode.GatewayConfig{URL: "/send"}, "URL"},
		{"http remote", smscode.GatewayConfig{URL: "http://sms.example.com/send"}, "https"},
		{"format", smscode.GatewayConfig{URL: "https://sms.example.com", Format: 7}, "Format"},
		{"same fields", smscode.GatewayConfig{URL: "https://sms.example.com", ToField: "x", TextField: "x"}, "ToField"},
		{"timeout", smscode.GatewayConfig{URL: "https://sms.example.com", Timeout: -1}, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := smscode.NewGateway(tt.cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := smscode.NewTwilio(smscode.TwilioConfig{AccountSID: "AC1"})
	require.ErrorIs(t, err, twofactor.ErrConfig)
	_, err = smscode.NewTwilio(smscode.TwilioConfig{AccountSID: "AC1", AuthToken: "t"})
	require.ErrorIs(t, err, twofactor.ErrConfig, "From or MessagingServiceSID needed")
	_, err = smscode.NewTwilio(smscode.TwilioConfig{AccountSID: "AC1/../x", AuthToken: "t", From: "+1"})
	require.ErrorIs(t, err, twofactor.ErrConfig)
}

func TestTwilio(t *testing.T) {
	rec := &gatewayRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	g, err := smscode.NewTwilio(smscode.TwilioConfig{
		AccountSID: "AC0123456789abcdef", AuthToken: "secret-token", From: "+15005550006", BaseURL: srv.URL + "/",
	})
	require.NoError(t, err)
	fx := newFixture(t, func(c *setup) { c.Sender = g; c.WebOTPDomain = "example.com" })
	_, err = fx.f.BeginEnroll(context.Background(), bob, twofactor.EnrollRequest{Destination: usNumber, Client: client})
	require.NoError(t, err)

	require.Len(t, rec.reqs, 1)
	r := rec.reqs[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json", r.URL.Path)
	u, p, ok := r.BasicAuth()
	require.True(t, ok)
	assert.Equal(t, "AC0123456789abcdef", u)
	assert.Equal(t, "secret-token", p)
	form, err := url.ParseQuery(rec.bodies[0])
	require.NoError(t, err)
	assert.Equal(t, usNumber, form.Get("To"))
	assert.Equal(t, "+15005550006", form.Get("From"))
	code := codeRE.FindString(form.Get("Body"))
	require.NotEmpty(t, code)
	assert.True(t, strings.HasSuffix(form.Get("Body"), "\n@example.com #"+code))

	_, err = fx.f.ConfirmEnroll(context.Background(), bob, code)
	require.NoError(t, err)

	// MessagingServiceSid instead of From.
	g2, err := smscode.NewTwilio(smscode.TwilioConfig{AccountSID: "AC1", AuthToken: "t", MessagingServiceSID: "MG1", BaseURL: srv.URL})
	require.NoError(t, err)
	require.NoError(t, g2.Send(context.Background(), smscode.Message{To: usNumber, Body: "x"}))
	form, err = url.ParseQuery(rec.bodies[1])
	require.NoError(t, err)
	assert.Equal(t, "MG1", form.Get("MessagingServiceSid"))
	assert.Empty(t, form.Get("From"))
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range [][2]string{
		{"+1 415 555 0112", ""}, {"(415) 555-0112", "US"}, {"07400 123456", "GB"}, {"+44 7400 123456", "FR"},
		{"+1 900 200 1234", ""}, {"", ""}, {"+", ""}, {"++1", "US"}, {"tel:+1-415-555-0112", ""},
		{"+800 1234 5678", ""}, {"0", "ZZ"}, {"１２３", "JP"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, number, region string) {
		p, err := smscode.ParsePhone(number, region)
		if err != nil {
			var pe *smscode.PhoneError
			if !errors.Is(err, twofactor.ErrInvalidInput) || !errors.As(err, &pe) || pe.Err == nil {
				t.Fatalf("ParsePhone(%q, %q): error %v is not a *PhoneError matching ErrInvalidInput", number, region, err)
			}
			return
		}
		e164 := p.E164
		if !strings.HasPrefix(e164, "+") || len(e164) > 16 || p.Region == "" {
			t.Fatalf("ParsePhone(%q, %q) = %+v: not E.164", number, region, p)
		}
		again, err := smscode.ParsePhone(e164, "")
		if err != nil || again != p {
			t.Fatalf("E.164 %q does not parse back: %+v %v", e164, again, err)
		}
		m := smscode.MaskPhone(e164)
		if !strings.Contains(m, "*") || strings.Contains(m, e164[len(e164)-5:]) {
			t.Fatalf("MaskPhone(%q) = %q does not hide the number", e164, m)
		}
		if !strings.HasSuffix(m, e164[len(e164)-2:]) {
			t.Fatalf("MaskPhone(%q) = %q does not end with the last two digits", e164, m)
		}
	})
}

func TestCancelKillsCodes(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	fx.enroll(t, bob, usNumber)
	fx.clock.Advance(time.Minute)
	ch := challenge("chal-1", bob, twofactor.PurposeLogin)
	_, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	require.NoError(t, fx.f.Cancel(ctx, ch))
	_, err = fx.f.Verify(ctx, ch, fx.lastCode(t, usNumber))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)

}

// A password change ends a number awaiting its code (it is filed under
// the user): whoever knew the old password cannot finish adding their
// number. The active phone is untouched.
func TestPasswordChangeEndsPendingNumber(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	fx.enroll(t, bob, usNumber)
	fx.clock.Advance(time.Minute)
	svc := fx.service(t)
	_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: ukNumber, Client: client})
	require.NoError(t, err)
	require.NoError(t, svc.PasswordChanged(ctx, bob.ID))
	_, err = fx.f.ConfirmEnroll(ctx, bob, fx.lastCode(t, ukNumber))
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	es, err := fx.f.Enrollments(ctx, bob)
	require.NoError(t, err)
	assert.Equal(t, usMasked, es[0].Label, "the active phone is untouched")
}

func TestOutboxConcurrent(t *testing.T) {
	o := &smscode.Outbox{Max: 1000}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			_ = o.Send(context.Background(), smscode.Message{To: fmt.Sprint("+1415555", i), Body: "x"})
			_ = o.Messages()
		})
	}
	wg.Wait()
	assert.Len(t, o.Messages(), 64)
	m, ok := o.Last("+14155557")
	assert.True(t, ok)
	assert.Equal(t, "x", m.Body)
	o.Reset()
	assert.Empty(t, o.Messages())
}

// Attackers' accounts start enrolling an SMS-only victim's number until
// every one of them is refused. The victim still gets every login code of
// their budget: phone verifications never spend it.
func TestVerificationSparesLoginBudget(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	fx.enroll(t, bob, usNumber)
	fx.clock.Advance(time.Hour) // bob's own enrollment is not what is tested

	refused := map[string]bool{}
	sent := 0
	for round := range 2 * smscode.DefaultCapVerifyUser {
		for a := range smscode.DefaultCapVerifyDestination + 2 { // more accounts than the destination has slots
			u := twofactor.User{ID: fmt.Sprint("evil-", a)}
			ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(a)})
			_, err := fx.f.BeginEnroll(ctx, u, twofactor.EnrollRequest{Destination: usNumber, Client: twofactor.Client{IP: ip}, Restart: true})
			if err == nil {
				sent++
				continue
			}
			var re *twofactor.RetryError
			require.ErrorAs(t, err, &re, "round %d", round)
			refused[re.Limit] = true
		}
		fx.clock.Advance(smscode.DefaultResendCooldown)
	}
	assert.Equal(t, smscode.DefaultCapVerifyDestination*smscode.DefaultCapVerifyUserDestination, sent,
		"the number's verification budget bounds the spam: slots × what one account may send")
	assert.True(t, refused[smscode.LimitVerifyDestination], "%v", refused)
	assert.False(t, refused[smscode.LimitDestination], "%v", refused)

	for i := range smscode.DefaultCapDestination {
		_, err := fx.f.Send(ctx, challenge(fmt.Sprint("login-", i), bob, twofactor.PurposeLogin), client)
		require.NoError(t, err, "login code %d", i)
		fx.clock.Advance(smscode.DefaultResendCooldown)
	}
}

// One account hammering BeginEnroll (with Restart, the resend) at a number, within and after the
// cooldown, spends only its own budget: the number's owner can still
// enroll it.
func TestVerificationOneAccountCannotExhaustAnother(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	evil := twofactor.User{ID: "evil"}
	sent := 0
	limits := map[string]int{}
	for i := range 60 {
		_, err := fx.f.BeginEnroll(ctx, evil, twofactor.EnrollRequest{Destination: usNumber, Client: client, Restart: true})
		if err == nil {
			sent++
		} else {
			var re *twofactor.RetryError
			require.ErrorAs(t, err, &re)
			limits[re.Limit]++
		}
		if i%3 == 2 {
			fx.clock.Advance(smscode.DefaultResendCooldown)
		}
	}
	assert.Positive(t, sent)
	assert.LessOrEqual(t, sent, smscode.DefaultCapVerifyUserDestination)
	assert.Positive(t, limits[smscode.LimitVerifyUserDestination])
	assert.Zero(t, limits[smscode.LimitVerifyDestination])

	owner := twofactor.Client{IP: netip.MustParseAddr("203.0.113.50")}
	for i := range smscode.DefaultCapVerifyUserDestination {
		_, err := fx.f.BeginEnroll(ctx, bob, twofactor.EnrollRequest{Destination: usNumber, Client: owner, Restart: true})
		require.NoError(t, err, "send %d", i)
		fx.clock.Advance(smscode.DefaultResendCooldown)
	}
	_, err := fx.f.ConfirmEnroll(ctx, bob, fx.lastCode(t, usNumber))
	require.NoError(t, err)
}

// budgetEvents returns the budget-reached events, as "limit" or
// "limit:country".
func (fx *fixture) budgetEvents() []string {
	var out []string
	for _, ev := range fx.events.All() {
		if ev.Type != event.BudgetReached {
			continue
		}
		s := string(ev.Reason)
		if c := ev.Details["country"]; c != "" {
			s += ":" + c
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// botnetClient is the i-th request's client: each from another /64.
func botnetClient(i int) twofactor.Client {
	return twofactor.Client{IP: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(i >> 8), 5: byte(i), 15: 1})}
}

// A toll-fraud run from a botnet: every request from a fresh account, a
// fresh number and another network, so no cap on a user, a number or a
// network stops it. The budgets do: each country's, then the total; each
// budget reached emits one event.
func TestBudgetsStopTollFraud(t *testing.T) {
	fx := newFixture(t, func(c *setup) {
		c.Budgets = smscode.Budgets{PerCountry: 2, Countries: map[string]int{"GB": 4, "jm": -1}, Total: 25}
	})
	ctx := context.Background()
	fx.enroll(t, bob, usNumber)
	fx.clock.Advance(time.Hour) // the run starts with fresh windows
	fx.events.Reset()
	fx.outbox.Reset()
	targets := pumpTargets(t, 6) // rounds of one number in each of 10 regions
	sent := map[string]int{}
	refused := map[string]int{}
	for i, num := range targets {
		u := twofactor.User{ID: fmt.Sprint("bot-", i)}
		_, err := fx.f.BeginEnroll(ctx, u, twofactor.EnrollRequest{Destination: num, Client: botnetClient(i)})
		region := pumpRegions[i%len(pumpRegions)]
		if err == nil {
			sent[region]++
			continue
		}
		var re *twofactor.RetryError
		require.ErrorAs(t, err, &re, "request %d", i)
		require.ErrorIs(t, err, twofactor.ErrRateLimited)
		assert.Equal(t, time.Hour, re.RetryAfter)
		refused[re.Limit]++
	}
	// Two rounds reach every 2-SMS country (20 sent); GB goes on to 4 and
	// JM, with no country budget, until the total of 25. After that a
	// country over its budget is reported as such: only JM's last request
	// is refused by the total.
	want := map[string]int{"GB": 4, "JM": 5}
	for _, r := range pumpRegions {
		want[r] = cmp.Or(want[r], 2)
	}
	assert.Equal(t, want, sent)
	assert.Len(t, fx.outbox.Messages(), 25)
	assert.Equal(t, map[string]int{smscode.LimitCountry: 34, smscode.LimitTotal: 1}, refused)

	wantEvents := []string{string(smscode.ReasonBudgetTotal)}
	for _, r := range pumpRegions {
		if r != "JM" {
			wantEvents = append(wantEvents, string(smscode.ReasonBudgetCountry)+":"+r)
		}
	}
	slices.Sort(wantEvents)
	assert.Equal(t, wantEvents, fx.budgetEvents(), "one event per budget reached")
	for _, ev := range fx.events.All() {
		assertClean(t, ev, targets...)
	}

	// Logins are refused too until the window ends; then sends resume.
	_, err := fx.f.Send(ctx, challenge("chal-1", bob, twofactor.PurposeLogin), client)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, smscode.LimitTotal, re.Limit)
	fx.clock.Advance(re.RetryAfter)
	_, err = fx.f.Send(ctx, challenge("chal-1", bob, twofactor.PurposeLogin), client)
	require.NoError(t, err)
}

// The defaults: 200 SMS a country, 1000 in all, per hour.
func TestBudgetDefaults(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	send := func(i int, num string) error {
		_, err := fx.f.BeginEnroll(ctx, twofactor.User{ID: fmt.Sprint("u", i)}, twofactor.EnrollRequest{Destination: num, Client: botnetClient(i)})
		return err
	}
	de := mobileNumbers(t, "DE", smscode.DefaultBudgetPerCountry+1)
	for i, num := range de[:smscode.DefaultBudgetPerCountry] {
		require.NoError(t, send(i, num), "send %d", i)
	}
	var re *twofactor.RetryError
	require.ErrorAs(t, send(1000, de[smscode.DefaultBudgetPerCountry]), &re)
	assert.Equal(t, smscode.LimitCountry, re.Limit)
	assert.Equal(t, []string{"country:DE"}, fx.budgetEvents())

	// Every other country has its own 200; all count toward the 1000.
	i := 2000
	for _, r := range []string{"GB", "FR", "NG", "BR"} {
		for _, num := range mobileNumbers(t, r, smscode.DefaultBudgetPerCountry) {
			i++
			require.NoError(t, send(i, num), "%s", r)
		}
	}
	require.ErrorAs(t, send(i+1, usNumber), &re)
	assert.Equal(t, smscode.LimitTotal, re.Limit)
	assert.Contains(t, fx.budgetEvents(), string(smscode.ReasonBudgetTotal))
}

// A botnet sending concurrently: exactly the total budget goes out, one
// event says so, and once everyone is done the store's counts are the SMS
// sent, so the refused requests spent none of the budgets.
func TestBudgetsConcurrent(t *testing.T) {
	const total, perCountry = 40, 12
	fx := newFixture(t, func(c *setup) {
		c.Budgets = smscode.Budgets{PerCountry: perCountry, Countries: map[string]int{"GB": -1}, Total: total}
	})
	ctx := context.Background()
	nums := append(mobileNumbers(t, "GB", 30), pumpTargets(t, 3)...)
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, num := range nums {
		wg.Go(func() {
			<-start
			_, err := fx.f.BeginEnroll(ctx, twofactor.User{ID: fmt.Sprint("u", i)}, twofactor.EnrollRequest{Destination: num, Client: botnetClient(i)})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, twofactor.ErrRateLimited):
				limited.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Equal(t, int32(total), ok.Load())
	require.Equal(t, int32(len(nums)-total), limited.Load())
	assert.Len(t, fx.outbox.Messages(), total)
	n, _, err := fx.store.Peek(ctx, "otc:budget:total:sms")
	require.NoError(t, err)
	assert.Equal(t, int64(total), n)
	perRegion := map[string]int{}
	for _, m := range fx.outbox.Messages() {
		p, err := smscode.ParsePhone(m.To, "")
		require.NoError(t, err)
		perRegion[p.Region]++
	}
	for _, r := range pumpRegions {
		n, _, err := fx.store.Peek(ctx, "otc:budget:country:sms:"+r)
		require.NoError(t, err)
		if r == "GB" {
			assert.Zero(t, n, "GB has no country budget")
			continue
		}
		assert.LessOrEqual(t, perRegion[r], perCountry, r)
		assert.Equal(t, int64(perRegion[r]), n, r)
	}
	assert.Contains(t, fx.budgetEvents(), string(smscode.ReasonBudgetTotal))
}

func TestBudgetConfigErrors(t *testing.T) {
	for _, region := range []string{"XX", "usa", ""} {
		_, err := smscode.New(twofactor.Env{Store: store.NewMemory(), Keys: keys(t)}, smscode.Config{Sender: &smscode.Outbox{},
			Budgets: smscode.Budgets{Countries: map[string]int{region: 10}}})
		require.ErrorIs(t, err, twofactor.ErrConfig, region)
		assert.Contains(t, err.Error(), "Budgets.Countries")
		assert.True(t, strings.HasPrefix(err.Error(), "smscode: "), err.Error())
	}
}
