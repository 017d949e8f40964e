package twofactor

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

// InstrumentationName is the name of the library's meter and tracer.
const InstrumentationName = "github.com/twofactorkit/twofactor"

// Attribute keys of the library's metrics and spans. Their values are
// always one of a few words the library or the host's code chose (a
// method, a step, an outcome, a store operation): never a user id, an
// address, a phone number or a code.
const (
	AttrMethod    = attribute.Key("twofactor.method")          // a configured method, or "other"
	AttrPurpose   = attribute.Key("twofactor.purpose")         // login, step_up, enroll
	AttrOutcome   = attribute.Key("twofactor.outcome")         // success, invalid, expired, replay, locked, rate_limited, vetoed, error...
	AttrStep      = attribute.Key("twofactor.step")            // begin, send, verify...
	AttrOperation = attribute.Key("twofactor.store.operation") // a store method: GetState, IncrBelow...
)

// The Service's steps, as the twofactor.step attribute and span names.
const (
	stepBegin         = "begin"
	stepStepUp        = "step_up"
	stepSend          = "send"
	stepStart         = "start"
	stepVerify        = "verify"
	stepCancel        = "cancel"
	stepBeginEnroll   = "begin_enroll"
	stepConfirmEnroll = "confirm_enroll"
	stepRemove        = "remove_enrollment"
	stepDisable       = "disable"
	stepAdminReset    = "admin_reset"
)

var stepSpanNames = map[string]string{
	stepBegin: "twofactor.Begin", stepStepUp: "twofactor.StepUp", stepSend: "twofactor.Send", stepStart: "twofactor.Start",
	stepVerify: "twofactor.Verify", stepCancel: "twofactor.Cancel", stepBeginEnroll: "twofactor.BeginEnroll",
	stepConfirmEnroll: "twofactor.ConfirmEnroll", stepRemove: "twofactor.RemoveEnrollment", stepDisable: "twofactor.Disable",
	stepAdminReset: "twofactor.AdminReset",
}

// telemetry holds the Service's meter instruments and tracer, made once in
// New from Config.MeterProvider and Config.TracerProvider.
type telemetry struct {
	tracer  trace.Tracer
	methods map[Method]bool // the configured methods: any other is "other"

	verifications metric.Int64Counter
	lockouts      metric.Int64Counter
	codesSent     metric.Int64Counter
	budgets       metric.Int64Counter
	enrollments   metric.Int64Counter
	removals      metric.Int64Counter
	deviceChecks  metric.Int64Counter
	stepDuration  metric.Float64Histogram
	storeDuration metric.Float64Histogram
}

// durationBuckets are the histograms' bucket bounds in seconds, from a
// tenth of a millisecond (a memory store) to ten seconds (a slow mail
// server behind Send).
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// instrumented reports whether the host gave a provider that can record:
// neither nil nor OpenTelemetry's no-op one. Without one, the Service is
// built without telemetry (no spans, no instruments, the store
// unwrapped), so that a host that set nothing up pays nothing for it.
func instrumented(mp metric.MeterProvider, tp trace.TracerProvider) bool {
	return !noMeter(mp) || !noTracer(tp)
}

func noMeter(mp metric.MeterProvider) bool {
	switch mp.(type) {
	case nil, metricnoop.MeterProvider, *metricnoop.MeterProvider:
		return true
	}
	return false
}

func noTracer(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case nil, tracenoop.TracerProvider, *tracenoop.TracerProvider:
		return true
	}
	return false
}

func newTelemetry(mp metric.MeterProvider, tp trace.TracerProvider) (*telemetry, error) {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	m := mp.Meter(InstrumentationName)
	t := &telemetry{tracer: tp.Tracer(InstrumentationName)}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		errs = append(errs, err)
		return h
	}
	t.verifications = counter("twofactor.verifications", "{verification}", "Answers to second-factor challenges, by method, purpose and outcome.")
	t.lockouts = counter("twofactor.lockouts", "{lockout}", "Users locked out after a run of wrong answers.")
	t.codesSent = counter("twofactor.codes.sent", "{code}", "Codes issued by email or SMS, by method, purpose (login, step_up, enroll: the proof before a set-up or the code that confirms one) and outcome.")
	t.budgets = counter("twofactor.budgets.reached", "{budget}", "Sending budgets or caps used up, by method and reason.")
	t.enrollments = counter("twofactor.enrollments", "{enrollment}", "Second factors that became active, by method.")
	t.removals = counter("twofactor.removals", "{enrollment}", "Second factors removed, by method (all: an administrator's reset or a user's disable).")
	t.deviceChecks = counter("twofactor.device.checks", "{check}", "Trusted-device tokens checked at Begin, by outcome.")
	t.stepDuration = histogram("twofactor.step.duration", "Duration of the Service's steps (Begin, Send, Verify...), by step and outcome.")
	t.storeDuration = histogram("twofactor.store.duration", "Duration of store calls, by operation and outcome.")
	if err := errors.Join(errs...); err != nil {
		return nil, configErr("making the OpenTelemetry instruments: %v", err)
	}
	return t, nil
}

// stepKey is the context key of the step an event is emitted in.
type stepKey struct{}

// stepRun is one Service step in progress: its span and start.
type stepRun struct {
	t     *telemetry
	span  trace.Span
	step  string
	start time.Time
}

// start begins a step: a span, child of the host's span in ctx, and the
// step's clock when its histogram records. The step goes into the context
// only when metrics record, for the events of the step to be told apart
// (a rate limit at Send is a code not sent, at Verify an answer refused).
func (t *telemetry) start(ctx context.Context, step string, m Method) (context.Context, stepRun) {
	if t == nil {
		return ctx, stepRun{}
	}
	ctx, span := t.tracer.Start(ctx, stepSpanNames[step])
	r := stepRun{t: t, span: span, step: step}
	if span.IsRecording() && m != "" {
		span.SetAttributes(AttrMethod.String(string(t.method(m))))
	}
	if t.stepDuration.Enabled(ctx) {
		r.start = time.Now()
	}
	if !r.start.IsZero() || t.codesSent.Enabled(ctx) {
		ctx = context.WithValue(ctx, stepKey{}, step)
	}
	return ctx, r
}

// end ends the step with err as its outcome.
func (r stepRun) end(ctx context.Context, err error) {
	if r.t == nil {
		return
	}
	outcome := "success"
	if err != nil {
		outcome = string(safeReason(reasonOf(err)))
	}
	if r.span.IsRecording() {
		r.span.SetAttributes(AttrOutcome.String(outcome))
		if err != nil {
			// The status says what kind of error, never its text, which
			// may name the user.
			r.span.SetStatus(codes.Error, outcome)
		}
	}
	r.span.End()
	if !r.start.IsZero() {
		r.t.stepDuration.Record(ctx, time.Since(r.start).Seconds(),
			metric.WithAttributes(AttrStep.String(r.step), AttrOutcome.String(outcome)))
	}
}

// method returns m when it is a configured method, else "other": a
// method in an answer comes from the client and must not become a label.
func (t *telemetry) method(m Method) Method {
	if t.methods[m] {
		return m
	}
	return "other"
}

// safeReason returns r when it is a short word of lower-case letters,
// digits and underscores (every reason the library and well-behaved
// factors use), else "other", so no free text becomes a label.
func safeReason(r event.Reason) event.Reason {
	if r == "" || len(r) > 32 {
		return "other"
	}
	for _, c := range []byte(r) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '.' {
			return "other"
		}
	}
	return r
}

// onEvent turns the Service's events into metrics: the one place that
// does. It reads only typed fields holding the library's or the host's
// constants (type, method, purpose, reason), never the user, the client
// or a label.
func (t *telemetry) onEvent(ctx context.Context, ev event.Event) {
	if t == nil {
		return
	}
	method := func() attribute.KeyValue { return AttrMethod.String(string(t.method(ev.Method))) }
	switch ev.Type {
	case event.Success:
		if t.verifications.Enabled(ctx) {
			t.verifications.Add(ctx, 1, metric.WithAttributes(method(), AttrPurpose.String(string(ev.Purpose)), AttrOutcome.String("success")))
		}
	case event.Failure, event.RateLimited:
		if step, _ := ctx.Value(stepKey{}).(string); ev.Type == event.RateLimited && (step == stepSend || step == stepBeginEnroll) {
			purpose := safePurpose(ev.Purpose)
			if step == stepBeginEnroll {
				purpose = string(PurposeEnroll)
			}
			t.codesSent.Add(ctx, 1, metric.WithAttributes(method(), AttrPurpose.String(purpose), AttrOutcome.String(string(event.ReasonRateLimited))))
			return
		}
		if t.verifications.Enabled(ctx) {
			reason := ev.Reason
			if ev.Type == event.RateLimited {
				reason = event.ReasonRateLimited
			}
			t.verifications.Add(ctx, 1, metric.WithAttributes(method(), AttrPurpose.String(safePurpose(ev.Purpose)), AttrOutcome.String(string(safeReason(reason)))))
		}
	case event.Lockout:
		t.lockouts.Add(ctx, 1)
	case event.Send:
		if t.codesSent.Enabled(ctx) {
			t.codesSent.Add(ctx, 1, metric.WithAttributes(method(), AttrPurpose.String(safePurpose(ev.Purpose)), AttrOutcome.String("sent")))
		}
	case event.EnrollBegin:
		// A factor that sends a code to confirm a destination says so
		// with PurposeEnroll; one that sends nothing (an authenticator
		// app's QR code) leaves the purpose empty.
		if ev.Purpose == PurposeEnroll && t.codesSent.Enabled(ctx) {
			t.codesSent.Add(ctx, 1, metric.WithAttributes(method(), AttrPurpose.String(string(PurposeEnroll)), AttrOutcome.String("sent")))
		}
	case event.SendFailed:
		if t.codesSent.Enabled(ctx) {
			t.codesSent.Add(ctx, 1, metric.WithAttributes(method(), AttrPurpose.String(safePurpose(ev.Purpose)), AttrOutcome.String(string(safeReason(ev.Reason)))))
		}
	case event.BudgetReached:
		if t.budgets.Enabled(ctx) {
			t.budgets.Add(ctx, 1, metric.WithAttributes(method(), AttrOutcome.String(string(safeReason(ev.Reason)))))
		}
	case event.Enroll:
		if t.enrollments.Enabled(ctx) {
			t.enrollments.Add(ctx, 1, metric.WithAttributes(method()))
		}
	case event.Remove:
		if t.removals.Enabled(ctx) {
			t.removals.Add(ctx, 1, metric.WithAttributes(method()))
		}
	case event.AdminReset, event.Disabled:
		if t.removals.Enabled(ctx) {
			t.removals.Add(ctx, 1, metric.WithAttributes(AttrMethod.String("all")))
		}
	}
}

// safePurpose returns p when it is one of the purposes, else "other": the
// purpose of a refused answer may come from the request.
func safePurpose(p Purpose) string {
	if validPurpose(p) {
		return string(p)
	}
	return "other"
}

// deviceCheck counts a trusted-device check at Begin: trusted, untrusted
// or error.
func (t *telemetry) deviceCheck(ctx context.Context, outcome string) {
	if t == nil {
		return
	}
	if t.deviceChecks.Enabled(ctx) {
		t.deviceChecks.Add(ctx, 1, metric.WithAttributes(AttrOutcome.String(outcome)))
	}
}

// storeRun is one store call in progress.
type storeRun struct {
	t     *telemetry
	op    storeOp
	span  trace.Span
	start time.Time
}

// storeCall begins a store call: a child span when the step's span
// records (a step sampled out or without a tracer costs no span per
// store call), and the call's clock when its histogram records.
func (t *telemetry) storeCall(ctx context.Context, op storeOp) (context.Context, storeRun) {
	r := storeRun{t: t, op: op}
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, r.span = t.tracer.Start(ctx, storeSpanNames[op], storeSpanOptions[op]...)
	}
	if t.storeDuration.Enabled(ctx) {
		r.start = time.Now()
	}
	return ctx, r
}

// end ends the call: ok, not_found (store.ErrNotFound, an answer, not a
// failure) or error.
func (r storeRun) end(ctx context.Context, err error) {
	outcome := 0
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		outcome = 1
	default:
		outcome = 2
	}
	if r.span != nil {
		r.span.SetAttributes(AttrOutcome.String(storeOutcomes[outcome]))
		if outcome == 2 {
			r.span.SetStatus(codes.Error, "store error")
		}
		r.span.End()
	}
	if !r.start.IsZero() {
		r.t.storeDuration.Record(ctx, time.Since(r.start).Seconds(), storeRecordOptions[r.op][outcome])
	}
}

var storeOutcomes = [3]string{"ok", "not_found", "error"}

// A storeOp names a store method.
type storeOp int

const (
	opPutState storeOp = iota
	opGetState
	opTakeState
	opDeleteState
	opPutOwnedState
	opDeleteOwnedStates
	opPutCode
	opConsumeCode
	opDeleteCode
	opDeleteGroup
	opCountGroup
	opIncr
	opPeek
	opDecr
	opResetCounter
	opMarkUsed
	opAdvance
	opPutEnrollment
	opGetEnrollment
	opListEnrollments
	opDeleteEnrollment
	opPutDevice
	opGetDevice
	opListDevices
	opDeleteDevice
	opIncrBatch
	opIncrBelow
	opTakeStateReset
	opTouchEnrollment
	opTouchDevice
	opSweep
	opRunBatch
	opCount
)

var storeOpNames = [opCount]string{
	"PutState", "GetState", "TakeState", "DeleteState", "PutOwnedState", "DeleteOwnedStates",
	"PutCode", "ConsumeCode", "DeleteCode", "DeleteGroup", "CountGroup",
	"Incr", "Peek", "Decr", "ResetCounter", "MarkUsed", "Advance",
	"PutEnrollment", "GetEnrollment", "ListEnrollments", "DeleteEnrollment",
	"PutDevice", "GetDevice", "ListDevices", "DeleteDevice",
	"IncrBatch", "IncrBelow", "TakeStateReset", "TouchEnrollment", "TouchDevice", "Sweep",
	"RunBatch",
}

// Made once, so that a store call allocates nothing for its labels.
var (
	storeSpanNames     [opCount]string
	storeSpanOptions   [opCount][]trace.SpanStartOption
	storeRecordOptions [opCount][3]metric.RecordOption
)

func init() {
	for op, name := range storeOpNames {
		storeSpanNames[op] = "twofactor.store." + name
		storeSpanOptions[op] = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(AttrOperation.String(name))}
		for i, o := range storeOutcomes {
			storeRecordOptions[op][i] = metric.WithAttributeSet(attribute.NewSet(AttrOperation.String(name), AttrOutcome.String(o)))
		}
	}
}

// UnwrapStore returns the store given to [New] when s is the one New gives
// every part it builds, which wraps it to time and trace its calls; any
// other s is returned as it is. A host's own factor that needs its
// store's concrete type asserts it on UnwrapStore(env.Store).
func UnwrapStore(s Store) Store {
	if w, ok := s.(interface{ unwrapped() store.Store }); ok {
		return w.unwrapped()
	}
	return s
}

func (o *otelStore) unwrapped() store.Store { return o.s }
