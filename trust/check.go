package trust

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// Reasons in event.DeviceRevoked events.
const (
	ReasonIPChanged      event.Reason = "ip_changed"      // the client left the bound address or network
	ReasonBrowserChanged event.Reason = "browser_changed" // the user agent no longer matches
	ReasonExpired        event.Reason = "expired"         // the trust duration is over
	ReasonUserMismatch   event.Reason = "user_mismatch"   // a record of another user behind a valid signature
	ReasonBindingChanged event.Reason = "binding_changed" // issued under a looser binding than now configured
	ReasonRevoked        event.Reason = "revoked"         // the user revoked it (devices page)
	ReasonReset          event.Reason = "reset"           // ForgetUser: admin reset, password change, two-factor turned off
)

// touchInterval is how stale LastSeenAt may get before a successful check
// writes it again, so a check is one read and rarely a write.
const touchInterval = time.Hour

// Trusted reports whether c carries a valid device cookie for user from an
// environment that still matches the record. It implements
// twofactor.DeviceTrust.
//
// The cookie's shape and signature are checked first: a missing, malformed,
// tampered or foreign cookie (another user's, another server's) answers
// false without any store access. Then one store read; when the record has
// expired or the environment changed, the record is deleted, an
// event.DeviceRevoked says why (its Reason, the device's Label, the
// client's IP and UserAgent), and the answer is false. err is for store
// failures and a user id twofactor.CheckUserID refuses (ErrInvalidInput);
// the answer is then false too.
func (m *Manager) Trusted(ctx context.Context, user twofactor.User, c twofactor.Client) (bool, error) {
	if err := twofactor.CheckUserID(user.ID); err != nil {
		return false, fmt.Errorf("trust: %w", err)
	}
	id, ok := m.verify(c.DeviceToken, user.ID)
	if !ok {
		return false, nil
	}
	d, err := m.store.GetDevice(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("trust: reading device: %w", err)
	}
	now := m.now()
	var reason event.Reason
	switch {
	case d.ID != id || d.UserID != user.ID:
		reason = ReasonUserMismatch
	case !now.Before(d.ExpiresAt):
		reason = ReasonExpired
	default:
		switch m.checkIP(d.IP, c.IP) {
		case differs:
			reason = ReasonIPChanged
		case looser:
			reason = ReasonBindingChanged
		}
		if reason == "" {
			switch m.checkUA(d.UserAgent, c.UserAgent) {
			case differs:
				reason = ReasonBrowserChanged
			case looser:
				reason = ReasonBindingChanged
			}
		}
	}
	if reason != "" {
		if err := m.store.DeleteDevice(ctx, id); err != nil {
			return false, fmt.Errorf("trust: revoking device: %w", err)
		}
		m.emitRevoked(ctx, d.UserID, d, reason, c)
		return false, nil
	}
	if now.Sub(d.LastSeenAt) >= touchInterval {
		m.touch(ctx, d, now)
	}
	return true, nil
}

// touch records that the device was seen. A failure only leaves LastSeenAt
// stale, so it is reported (an event.Warning with reason
// event.ReasonDeviceTouch) and does not change the answer.
func (m *Manager) touch(ctx context.Context, d store.Device, now time.Time) {
	var err error
	if t, ok := m.store.(DeviceToucher); ok {
		err = t.TouchDevice(ctx, d.ID, now)
	} else {
		d.LastSeenAt = now
		err = m.store.PutDevice(ctx, d)
	}
	if err != nil {
		m.events.Emit(ctx, event.Event{Type: event.Warning, Time: now, UserID: d.UserID,
			Reason: event.ReasonDeviceTouch, Label: d.Label,
			Details: map[string]string{event.DetailDevice: ref(d.ID), event.DetailError: err.Error()}})
	}
}

// Remember trusts c's device for user for the configured Duration and
// returns the cookie value. It implements twofactor.DeviceTrust; the
// twofactor.Service calls it after a successful login challenge whose
// answer asked to remember the device.
func (m *Manager) Remember(ctx context.Context, user twofactor.User, c twofactor.Client) (twofactor.DeviceGrant, error) {
	return m.RememberFor(ctx, user, c, m.duration)
}

// RememberFor is Remember with a duration of the user's choice ("trust for
// 1 day / 1 week / 30 days"): SessionOnly or MinDuration to MaxDuration.
// Anything else is an error matching twofactor.ErrInvalidInput.
//
// The device is bound to c.IP and c.UserAgent as configured; a binding that
// needs the address fails with twofactor.ErrInvalidInput when c.IP is
// unknown. If c already carries a valid device cookie of the user, that
// older record is replaced, so one browser holds one record.
//
// It emits an event.DeviceRemembered with the device's Label, Until (when
// the record expires, for a session-only trust too), the client's IP and
// UserAgent, and as extras the device reference ("device"), the bindings
// ("ip_bind", "ua_bind") and "session" for a session-only trust.
func (m *Manager) RememberFor(ctx context.Context, user twofactor.User, c twofactor.Client, d time.Duration) (twofactor.DeviceGrant, error) {
	if err := twofactor.CheckUserID(user.ID); err != nil {
		return twofactor.DeviceGrant{}, fmt.Errorf("trust: %w", err)
	}
	if d != SessionOnly && (d < MinDuration || d > m.maxDuration) {
		return twofactor.DeviceGrant{}, fmt.Errorf("%w: trust: duration %s must be SessionOnly or %s to %s", twofactor.ErrInvalidInput, d, MinDuration, m.maxDuration)
	}
	ip, ok := m.ipValue(c.IP)
	if !ok {
		return twofactor.DeviceGrant{}, fmt.Errorf("%w: trust: client IP unknown, cannot bind the device to it (see ClientIP)", twofactor.ErrInvalidInput)
	}
	id, err := secure.Token(m.rand, idBytes)
	if err != nil {
		return twofactor.DeviceGrant{}, fmt.Errorf("trust: device id: %w", err)
	}
	now := m.now()
	life := d
	if d == SessionOnly {
		life = m.sessionLifetime
	}
	rec := store.Device{
		ID:         id,
		UserID:     user.ID,
		Label:      ParseAgent(c.UserAgent).Label(),
		IP:         ip,
		UserAgent:  m.uaValue(c.UserAgent),
		CreatedAt:  now,
		ExpiresAt:  now.Add(life),
		LastSeenAt: now,
	}
	if err := m.store.PutDevice(ctx, rec); err != nil {
		return twofactor.DeviceGrant{}, fmt.Errorf("trust: storing device: %w", err)
	}
	if old, ok := m.verify(c.DeviceToken, user.ID); ok && old != id {
		// Best effort: the old record expires on its own anyway.
		_ = m.store.DeleteDevice(ctx, old)
	}
	g := twofactor.DeviceGrant{Token: m.sign(id, user.ID)}
	if d != SessionOnly {
		g.ExpiresAt = rec.ExpiresAt
	}
	details := map[string]string{
		event.DetailDevice:    ref(id),
		event.DetailIPBinding: m.ipBinding.String(),
		event.DetailUABinding: m.uaBinding.String(),
	}
	if d == SessionOnly {
		details[event.DetailSession] = "true"
	}
	m.events.Emit(ctx, event.Event{Type: event.DeviceRemembered, Time: now, UserID: user.ID,
		Label: rec.Label, Until: rec.ExpiresAt, IP: ipString(c), UserAgent: c.UserAgent, Details: details})
	return g, nil
}

// ref is the part of a device id events carry: enough to tell devices
// apart in an audit trail, not the whole id (which, with the server key,
// is what a cookie is made of).
func ref(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func ipString(c twofactor.Client) string {
	if !c.IP.IsValid() {
		return ""
	}
	return c.IP.String()
}

// emitRevoked reports the end of d's trust: Label is the device's, IP and
// UserAgent the client's whose check revoked it (none for a revocation
// from a devices page or a reset).
func (m *Manager) emitRevoked(ctx context.Context, userID string, d store.Device, reason event.Reason, c twofactor.Client) {
	m.events.Emit(ctx, event.Event{Type: event.DeviceRevoked, Time: m.now(), UserID: userID,
		Reason: reason, Label: d.Label, IP: ipString(c), UserAgent: c.UserAgent, Details: map[string]string{event.DetailDevice: ref(d.ID)}})
}
