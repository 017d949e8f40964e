package twofactor

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// An EventType names what happened.
type EventType string

// Event types. Factor packages use these too, so a host filters one set.
const (
	EventBegin            EventType = "challenge.begin"       // a challenge was created
	EventTrusted          EventType = "challenge.trusted"     // Begin skipped the second factor: trusted device
	EventNoFactor         EventType = "challenge.nofactor"    // Begin found no enrolled factor
	EventSend             EventType = "code.sent"             // a code was delivered
	EventSendFailed       EventType = "code.send_failed"      // issuing or delivering a code failed
	EventStart            EventType = "challenge.start"       // a factor's begin step (WebAuthn options)
	EventSuccess          EventType = "verify.success"        // a challenge was answered
	EventFailure          EventType = "verify.failure"        // an answer was refused; Reason says why
	EventLockout          EventType = "user.locked"           // a user reached the failure limit
	EventRateLimited      EventType = "rate_limited"          // a rate limit refused a request
	EventCancel           EventType = "challenge.cancel"      // a challenge was cancelled
	EventEnrollBegin      EventType = "factor.enroll_begin"   // an enrollment is pending proof of possession
	EventEnroll           EventType = "factor.enrolled"       // an enrollment became active
	EventRemove           EventType = "factor.removed"        // an enrollment was removed
	EventAdminReset       EventType = "admin.reset"           // an administrator removed all of a user's factors
	EventAdminAction      EventType = "admin.action"          // another administrator action (Details["action"])
	EventDeviceRemembered EventType = "device.remembered"     // a device became trusted
	EventDeviceRevoked    EventType = "device.revoked"        // a trusted device was revoked; Reason says why
	EventWarning          EventType = "factor.warning"        // a factor noticed something odd (clock drift, key clone)
	EventDisabled         EventType = "user.disabled_2fa"     // the user turned two-factor authentication off
	EventPasswordChanged  EventType = "user.password_changed" // the host reported a password change; pending state ended
	EventBudgetReached    EventType = "budget.reached"        // a sending budget (SMS per country, in total) was used up
)

// An Event records one step of a flow for audit and monitoring. It never
// holds a code, a secret or a full phone number: destinations are masked.
type Event struct {
	Type        EventType
	Time        time.Time
	UserID      string
	ChallengeID string
	Method      Method
	Purpose     Purpose
	Reason      string // for failures, revocations and warnings: "invalid", "expired", "replay", "ip_changed"...
	IP          string
	Actor       string            // for admin actions: who did it
	Details     map[string]string // extra facts: "drift", "remaining", "destination" (masked)
}

// Events delivers events to a structured logger and an optional hook. The
// zero value logs to slog.Default. A nil *Events discards nothing: it also
// logs to slog.Default. Events is safe for concurrent use if the hook is.
type Events struct {
	// Logger receives every event. Nil means slog.Default().
	Logger *slog.Logger
	// Hook, if set, is called synchronously with every event (after the log
	// line), for metrics, alerts or an audit table. It must not block long.
	Hook func(context.Context, Event)
	// Now stamps events whose Time is zero. Nil means time.Now.
	Now func() time.Time
	// Discard, if true, drops the log line (the hook still runs).
	Discard bool
}

// Emit records ev.
func (e *Events) Emit(ctx context.Context, ev Event) {
	if e == nil {
		e = &Events{}
	}
	if ev.Time.IsZero() {
		if e.Now != nil {
			ev.Time = e.Now()
		} else {
			ev.Time = time.Now()
		}
	}
	if !e.Discard {
		logger := e.Logger
		if logger == nil {
			logger = slog.Default()
		}
		level := slog.LevelInfo
		switch ev.Type {
		case EventFailure, EventSendFailed, EventRateLimited, EventWarning:
			level = slog.LevelWarn
		case EventLockout:
			level = slog.LevelError
		}
		if logger.Enabled(ctx, level) {
			logger.LogAttrs(ctx, level, "twofactor: "+string(ev.Type), ev.attrs()...)
		}
	}
	if e.Hook != nil {
		e.Hook(ctx, ev)
	}
}

func (ev Event) attrs() []slog.Attr {
	a := make([]slog.Attr, 0, 10)
	add := func(k, v string) {
		if v != "" {
			a = append(a, slog.String(k, v))
		}
	}
	add("event", string(ev.Type))
	add("user", ev.UserID)
	add("challenge", ev.ChallengeID)
	add("method", string(ev.Method))
	add("purpose", string(ev.Purpose))
	add("reason", ev.Reason)
	add("ip", ev.IP)
	add("actor", ev.Actor)
	for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
		add(k, ev.Details[k])
	}
	return a
}
