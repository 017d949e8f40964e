package twofactor_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
)

var digits6 = regexp.MustCompile(`\b\d{6}\b`)

// smsCode is the code of the last text the outbox holds for to.
func smsCode(t *testing.T, o *smscode.Outbox, to string) string {
	t.Helper()
	m, ok := o.Last(to)
	require.True(t, ok, "no text to %s", to)
	c := digits6.FindString(m.Body)
	require.NotEmpty(t, c)
	return c
}

// observed is a Service on the OpenTelemetry SDK, with an in-memory metric
// reader and span recorder, and every secret and personal datum the flows
// below handle, for the test that none reaches a metric or a span.
type observed struct {
	svc      *twofactor.Service
	reader   *sdkmetric.ManualReader
	spans    *tracetest.SpanRecorder
	tp       *sdktrace.TracerProvider
	clock    *storetest.Clock
	mail     *flowtest.Mailbox
	sms      *smscode.Outbox
	user     twofactor.User
	phone    string
	personal []string // what no attribute may hold: ids, addresses, numbers, codes, tokens
}

func newObserved(t *testing.T, mods ...func(*twofactor.Config)) *observed {
	o := &observed{
		reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(),
		clock: storetest.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)),
		mail:  &flowtest.Mailbox{}, sms: &smscode.Outbox{},
		user:  twofactor.User{ID: "u-4815162342", Email: "grace.hopper@example.org", Name: "ghopper", DisplayName: "Grace"},
		phone: "+14155550123",
	}
	o.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))
	o.personal = []string{o.user.ID, o.user.Email, o.user.Name, o.user.DisplayName, o.phone, "4155550123", "0123", "grace", "hopper"}
	cfg := twofactor.Config{
		Store: store.NewMemory(o.clock.Now), Keys: newKeys(t), Now: o.clock.Now, Events: &event.Sink{Discard: true},
		Factors: []twofactor.FactorConfig{
			totp.Config{Issuer: "Acme"},
			emailcode.Config{Sender: o.mail},
			smscode.Config{Sender: o.sms},
		},
		Trust:          trust.Config{},
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.reader)),
		TracerProvider: o.tp,
	}
	for _, mod := range mods {
		mod(&cfg)
	}
	svc, err := twofactor.New(cfg)
	require.NoError(t, err)
	o.svc = svc
	return o
}

// secret records a value no metric or span may carry.
func (o *observed) secret(v string) string {
	o.personal = append(o.personal, v)
	return v
}

// run takes the user through a sign-in's life: a step-up with an email
// code to add a phone and an authenticator app, a sign-in with a
// wrong then a right code that trusts the device, a sign-in on the
// trusted device, a sign-in by email, and an administrator's reset.
func (o *observed) run(t *testing.T, ctx context.Context) {
	svc, u := o.svc, o.user
	// The address on file is a factor already: adding one takes a proof.
	ch, err := svc.StepUp(ctx, u, client, twofactor.PurposeEnroll)
	require.NoError(t, err)
	o.secret(ch.ID)
	_, err = svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	code, err := o.mail.Code(u.Email)
	require.NoError(t, err)
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodEmail, Purpose: twofactor.PurposeEnroll,
		Code: o.secret(code), Client: client})
	require.NoError(t, err)
	proof := o.secret(res.Proof)
	_, err = svc.BeginEnroll(ctx, u, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: o.phone, Client: client}, proof)
	require.NoError(t, err)
	_, err = svc.ConfirmEnroll(ctx, u, twofactor.MethodSMS, o.secret(smsCode(t, o.sms, o.phone)))
	require.NoError(t, err)
	enr, err := svc.BeginEnroll(ctx, u, twofactor.MethodTOTP, twofactor.EnrollRequest{Client: client}, proof)
	require.NoError(t, err)
	o.secret(enr.Secret)
	_, err = svc.ConfirmEnroll(ctx, u, twofactor.MethodTOTP, o.totp(t, enr.Secret))
	require.NoError(t, err)
	o.clock.Advance(time.Minute)

	begun, err := svc.Begin(ctx, u, client)
	require.NoError(t, err)
	o.secret(begun.Challenge.ID)
	right := o.totp(t, enr.Secret)
	wrong := o.secret(map[bool]string{true: "111111", false: "000000"}[right == "000000"])
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodTOTP, Code: wrong, Client: client})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	// A method no factor has, from the client: it must not become a label.
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.Method(o.secret("grace-hopper-method")), Code: "123456", Client: client})
	require.Error(t, err)
	res, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodTOTP, Code: right, Client: client, RememberDevice: true})
	require.NoError(t, err)
	require.NotNil(t, res.Device)
	o.secret(res.Proof)
	o.secret(res.Device.Token)

	trusted := client
	trusted.DeviceToken = res.Device.Token
	b, err := svc.Begin(ctx, u, trusted)
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusTrusted, b.Status)

	begun, err = svc.Begin(ctx, u, client)
	require.NoError(t, err)
	o.secret(begun.Challenge.ID)
	_, err = svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	_, err = svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrRateLimited, "the resend cooldown")
	code, err = o.mail.Code(u.Email)
	require.NoError(t, err)
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail, Code: o.secret(code), Client: client})
	require.NoError(t, err)

	require.NoError(t, svc.AdminReset(ctx, u, "admin-7", "lost phone"))
}

func (o *observed) totp(t *testing.T, secret string) string {
	t.Helper()
	c, err := otptotp.GenerateCode(secret, o.clock.Now())
	require.NoError(t, err)
	return o.secret(c)
}

// point is one data point: its metric, attributes and value (a sum's
// value, a histogram's count).
type point struct {
	metric string
	unit   string
	attrs  attribute.Set
	value  int64
}

func (o *observed) points(t *testing.T) []point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, o.reader.Collect(context.Background(), &rm))
	var ps []point
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, twofactor.InstrumentationName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					ps = append(ps, point{m.Name, m.Unit, dp.Attributes, dp.Value})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					ps = append(ps, point{m.Name, m.Unit, dp.Attributes, int64(dp.Count)})
				}
			default:
				t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return ps
}

// value sums the points of metric whose attributes include every one of kv.
func value(ps []point, metric string, kv ...attribute.KeyValue) int64 {
	var n int64
next:
	for _, p := range ps {
		if p.metric != metric {
			continue
		}
		for _, want := range kv {
			if got, ok := p.attrs.Value(want.Key); !ok || got != want.Value {
				continue next
			}
		}
		n += p.value
	}
	return n
}

func TestTelemetryMetrics(t *testing.T) {
	o := newObserved(t)
	o.run(t, context.Background())
	ps := o.points(t)
	m := twofactor.AttrMethod.String
	out := twofactor.AttrOutcome.String

	assert.EqualValues(t, 1, value(ps, "twofactor.verifications", m("totp"), out("invalid")), "the wrong code")
	assert.EqualValues(t, 1, value(ps, "twofactor.verifications", m("totp"), out("success"), twofactor.AttrPurpose.String("login")))
	assert.EqualValues(t, 1, value(ps, "twofactor.verifications", m("email"), out("success"), twofactor.AttrPurpose.String("enroll")))
	assert.EqualValues(t, 1, value(ps, "twofactor.verifications", m("email"), out("success"), twofactor.AttrPurpose.String("login")))
	assert.EqualValues(t, 1, value(ps, "twofactor.verifications", m("other"), out("method_not_allowed")), "a method from the client is other")
	enroll := twofactor.AttrPurpose.String("enroll")
	assert.EqualValues(t, 1, value(ps, "twofactor.codes.sent", m("sms"), enroll, out("sent")), "the code that confirms the phone")
	assert.EqualValues(t, 1, value(ps, "twofactor.codes.sent", m("sms")), "and nothing else by SMS")
	assert.EqualValues(t, 2, value(ps, "twofactor.codes.sent", m("email"), out("sent")), "the step-up's and the sign-in's")
	assert.EqualValues(t, 1, value(ps, "twofactor.codes.sent", m("email"), out("sent"), enroll), "the proof before the set-up")
	assert.EqualValues(t, 1, value(ps, "twofactor.codes.sent", m("email"), out("sent"), twofactor.AttrPurpose.String("login")))
	assert.Zero(t, value(ps, "twofactor.codes.sent", m("totp")), "an authenticator app's set-up sends nothing")
	assert.EqualValues(t, 1, value(ps, "twofactor.codes.sent", m("email"), out("rate_limited"), twofactor.AttrPurpose.String("login")), "a resend in the cooldown")
	assert.EqualValues(t, 1, value(ps, "twofactor.enrollments", m("sms")))
	assert.EqualValues(t, 1, value(ps, "twofactor.enrollments", m("totp")))
	assert.EqualValues(t, 1, value(ps, "twofactor.removals", m("all")), "the administrator's reset")
	assert.EqualValues(t, 1, value(ps, "twofactor.device.checks", out("trusted")))

	step := twofactor.AttrStep.String
	assert.EqualValues(t, 3, value(ps, "twofactor.step.duration", step("begin")))
	assert.EqualValues(t, 2, value(ps, "twofactor.step.duration", step("send"), out("success")))
	assert.EqualValues(t, 1, value(ps, "twofactor.step.duration", step("send"), out("rate_limited")))
	assert.EqualValues(t, 5, value(ps, "twofactor.step.duration", step("verify")))
	assert.EqualValues(t, 1, value(ps, "twofactor.step.duration", step("step_up")))
	assert.EqualValues(t, 2, value(ps, "twofactor.step.duration", step("begin_enroll")))
	assert.EqualValues(t, 2, value(ps, "twofactor.step.duration", step("confirm_enroll")))
	assert.EqualValues(t, 1, value(ps, "twofactor.step.duration", step("admin_reset")))
	op := twofactor.AttrOperation.String
	assert.Positive(t, value(ps, "twofactor.store.duration", op("RunBatch"), out("ok")), "the count of every answer, the completion")
	assert.Positive(t, value(ps, "twofactor.store.duration", op("GetDevice")), "the trusted device's record")

	units := map[string]string{}
	for _, p := range ps {
		units[p.metric] = p.unit
	}
	for name, unit := range units {
		if strings.HasSuffix(name, ".duration") {
			assert.Equal(t, "s", unit, name)
		} else {
			assert.Regexp(t, `^\{[a-z]+\}$`, unit, name)
		}
	}
}

func TestTelemetrySpans(t *testing.T) {
	o := newObserved(t)
	ctx, host := o.tp.Tracer("host").Start(context.Background(), "POST /login")
	begun, err := o.svc.Begin(ctx, o.user, client)
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, begun.Status, "the address on file")
	_, err = o.svc.Verify(ctx, twofactor.Answer{ChallengeID: "0123456789abcdef0123456789abcdef", Method: twofactor.MethodTOTP, Code: "123456", Client: client})
	require.Error(t, err)
	host.End()

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range o.spans.Ended() {
		byName[s.Name()] = s
	}
	b := byName["twofactor.Begin"]
	require.NotNil(t, b, "a span for Begin")
	assert.Equal(t, host.SpanContext().SpanID(), b.Parent().SpanID(), "Begin's span is the host request's child")
	assert.Equal(t, host.SpanContext().TraceID(), b.SpanContext().TraceID())
	assert.Contains(t, b.Attributes(), twofactor.AttrOutcome.String("success"))
	var storeSpans int
	for _, s := range o.spans.Ended() {
		if strings.HasPrefix(s.Name(), "twofactor.store.") && s.Parent().SpanID() == b.SpanContext().SpanID() {
			storeSpans++
			assert.Contains(t, s.Attributes(), twofactor.AttrOperation.String(strings.TrimPrefix(s.Name(), "twofactor.store.")))
			assert.Contains(t, s.Attributes(), twofactor.AttrOutcome.String("ok"))
			assert.Equal(t, codes.Unset, s.Status().Code, "a store call that answered is no error")
		}
	}
	assert.Positive(t, storeSpans, "Begin's store calls are its children")
	v := byName["twofactor.Verify"]
	require.NotNil(t, v)
	assert.Equal(t, host.SpanContext().SpanID(), v.Parent().SpanID())
	assert.Equal(t, codes.Error, v.Status().Code)
	assert.Contains(t, v.Attributes(), twofactor.AttrMethod.String("totp"))
}

// TestTelemetryRateLimits: a refusal by a limit is counted where it
// happened: a send's or a set-up's cooldown as a code not sent, with the
// purpose of the send (the set-up's is enroll), and an answer refused by
// the network's limit as a verification, never as a code.
func TestTelemetryRateLimits(t *testing.T) {
	o := newObserved(t, func(c *twofactor.Config) { c.Limits.MaxIPAttempts = 2 })
	ctx := context.Background()
	svc, u := o.svc, o.user
	ch, err := svc.StepUp(ctx, u, client, twofactor.PurposeEnroll)
	require.NoError(t, err)
	_, err = svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	_, err = svc.Send(ctx, ch.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrRateLimited, "the resend cooldown")
	code, err := o.mail.Code(u.Email)
	require.NoError(t, err)
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodEmail, Purpose: twofactor.PurposeEnroll, Code: code, Client: client})
	require.NoError(t, err)
	_, err = svc.BeginEnroll(ctx, u, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: o.phone, Client: client}, res.Proof)
	require.NoError(t, err)
	_, err = svc.BeginEnroll(ctx, u, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: o.phone, Client: client, Restart: true}, res.Proof)
	require.ErrorIs(t, err, twofactor.ErrRateLimited, "the set-up's resend cooldown")

	begun, err := svc.Begin(ctx, u, client)
	require.NoError(t, err)
	// The step-up's answer was the network's first of two.
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail, Code: "000000", Client: client})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail, Code: "000000", Client: client})
	require.ErrorIs(t, err, twofactor.ErrRateLimited, "the network's limit")

	ps := o.points(t)
	m, out, purpose := twofactor.AttrMethod.String, twofactor.AttrOutcome.String, twofactor.AttrPurpose.String
	limited := out("rate_limited")
	assert.EqualValues(t, 1, value(ps, "twofactor.codes.sent", m("email"), limited, purpose("enroll")), "the resend on the step-up for a set-up")
	assert.EqualValues(t, 1, value(ps, "twofactor.codes.sent", m("sms"), limited, purpose("enroll")), "the set-up's resend")
	assert.EqualValues(t, 2, value(ps, "twofactor.codes.sent", limited), "and no other code refused")
	assert.EqualValues(t, 1, value(ps, "twofactor.verifications", m("email"), limited, purpose("login")), "the answer the network's limit refused")
	assert.EqualValues(t, 1, value(ps, "twofactor.verifications", limited))
}

// A store call that fails is an error in its span, and so is the step.
func TestTelemetryStoreErrorSpan(t *testing.T) {
	var spy *storespy.Spy
	o := newObserved(t, func(c *twofactor.Config) { spy = storespy.New(c.Store.(store.Store)); c.Store = spy })
	spy.Fail("*", errBoom)
	ctx, host := o.tp.Tracer("host").Start(context.Background(), "POST /login")
	_, err := o.svc.Begin(ctx, o.user, client)
	require.ErrorIs(t, err, errBoom)
	host.End()
	var failed int
	for _, s := range o.spans.Ended() {
		switch {
		case strings.HasPrefix(s.Name(), "twofactor.store."):
			failed++
			assert.Contains(t, s.Attributes(), twofactor.AttrOutcome.String("error"))
			assert.Equal(t, codes.Error, s.Status().Code, s.Name())
		case s.Name() == "twofactor.Begin":
			assert.Equal(t, codes.Error, s.Status().Code)
		}
	}
	assert.Positive(t, failed)
}

// TestTelemetryCarriesNoPersonalData: no metric's or span's attribute,
// span name or status holds the user's id, name, address or phone
// number, or a code, proof, secret, token or challenge id of the flows.
func TestTelemetryCarriesNoPersonalData(t *testing.T) {
	o := newObserved(t)
	ctx, host := o.tp.Tracer("host").Start(context.Background(), "request")
	o.run(t, ctx)
	host.End()

	check := func(where, s string) {
		t.Helper()
		for _, p := range o.personal {
			assert.NotContains(t, strings.ToLower(s), strings.ToLower(p), "%s holds %q", where, p)
		}
	}
	attrs := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			check(where+" key", string(kv.Key))
			check(where+" "+string(kv.Key), kv.Value.String())
		}
	}
	ps := o.points(t)
	require.NotEmpty(t, ps)
	for _, p := range ps {
		check("metric name", p.metric)
		attrs(p.metric, p.attrs.ToSlice())
	}
	spans := o.spans.Ended()
	require.Greater(t, len(spans), 20)
	for _, s := range spans {
		check("span name", s.Name())
		attrs(s.Name(), s.Attributes())
		check(s.Name()+" status", s.Status().Description)
		for _, e := range s.Events() {
			check(s.Name()+" event", e.Name)
			attrs(s.Name()+" event", e.Attributes)
		}
	}
}

// Without a provider, or with only OpenTelemetry's no-op ones, the Service
// is built without telemetry: its parts get the host's store itself, not
// a wrapper. A provider that records gets the store wrapped, and
// UnwrapStore gives the host's store back.
func TestTelemetryOnlyWithAProviderThatRecords(t *testing.T) {
	build := func(mp metric.MeterProvider, tp trace.TracerProvider) (twofactor.Store, *store.Memory) {
		mem := store.NewMemory()
		svc, err := twofactor.New(twofactor.Config{Store: mem, Keys: newKeys(t), MeterProvider: mp, TracerProvider: tp,
			Factors: []twofactor.FactorConfig{totp.Config{}}})
		require.NoError(t, err)
		return svc.Env().Store, mem
	}
	for name, tt := range map[string]struct {
		mp metric.MeterProvider
		tp trace.TracerProvider
	}{
		"none":    {},
		"no-op":   {metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()},
		"no-op *": {new(metricnoop.MeterProvider), new(tracenoop.TracerProvider)},
	} {
		got, mem := build(tt.mp, tt.tp)
		assert.Same(t, mem, got, "%s: the store itself", name)
	}
	for name, tt := range map[string]struct {
		mp metric.MeterProvider
		tp trace.TracerProvider
	}{
		"meter":  {mp: sdkmetric.NewMeterProvider()},
		"tracer": {tp: sdktrace.NewTracerProvider()},
	} {
		got, mem := build(tt.mp, tt.tp)
		_, bare := got.(*store.Memory)
		assert.False(t, bare, "%s: a wrapper", name)
		assert.Same(t, mem, twofactor.UnwrapStore(got), name)
	}
}

// A set-up's code that the mail server or SMS gateway refuses fails
// BeginEnroll with the factor's ErrDelivery and is a send failure, with
// the purpose enroll, in the events and in twofactor.codes.sent, as a
// send's is; input refused before any send is neither.
func TestBeginEnrollDeliveryFailure(t *testing.T) {
	var log eventlog.Log
	mail, sms := &emailcode.Outbox{}, &smscode.Outbox{}
	o := newObserved(t, func(c *twofactor.Config) {
		c.Events = &event.Sink{Discard: true, Hook: log.Hook}
		c.Factors = []twofactor.FactorConfig{emailcode.Config{Sender: mail, Enrollment: emailcode.EnrollOptIn}, smscode.Config{Sender: sms}}
	})
	ctx := context.Background()
	cases := []struct {
		m         twofactor.Method
		bad, good string
		fail      func(error)
		want      error
	}{
		{twofactor.MethodEmail, "not an address", "ann@example.com", mail.FailWith, emailcode.ErrDelivery},
		{twofactor.MethodSMS, "not a number", "+14155550112", sms.FailWith, smscode.ErrDelivery},
	}
	for _, tc := range cases {
		_, err := o.svc.BeginEnroll(ctx, o.user, tc.m, twofactor.EnrollRequest{Destination: tc.bad, Client: client}, "")
		require.ErrorIs(t, err, twofactor.ErrInvalidInput, tc.m)
		tc.fail(errors.New("refused"))
		_, err = o.svc.BeginEnroll(ctx, o.user, tc.m, twofactor.EnrollRequest{Destination: tc.good, Client: client}, "")
		require.ErrorIs(t, err, tc.want, tc.m)
	}
	evs := log.OfType(event.SendFailed)
	require.Len(t, evs, len(cases), "one for each refused code, none for refused input")
	ps := o.points(t)
	m, out, purpose := twofactor.AttrMethod.String, twofactor.AttrOutcome.String, twofactor.AttrPurpose.String
	for i, tc := range cases {
		ev := evs[i]
		assert.Equal(t, []any{event.ReasonDelivery, twofactor.PurposeEnroll, tc.m, o.user.ID, client.IP.String(), client.UserAgent},
			[]any{ev.Reason, ev.Purpose, ev.Method, ev.UserID, ev.IP, ev.UserAgent})
		assert.EqualValues(t, 1, value(ps, "twofactor.codes.sent", m(string(tc.m)), out("delivery"), purpose("enroll")), tc.m)
	}
	assert.EqualValues(t, len(cases), value(ps, "twofactor.codes.sent", out("delivery")), "and nothing else")
}
