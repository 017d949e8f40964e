package trust

import (
	"context"
	"errors"
	"fmt"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

// List returns the user's trusted devices that have not expired, oldest
// first, for a "devices" page. Show Label, IP, CreatedAt, LastSeenAt and
// ExpiresAt; pass ID to Revoke. UserAgent is a fingerprint, not for
// display. Use DeviceID to tell which one is the current browser.
func (m *Manager) List(ctx context.Context, userID string) ([]store.Device, error) {
	if err := twofactor.CheckUserID(userID); err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	ds, err := m.store.ListDevices(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("trust: listing devices: %w", err)
	}
	return ds, nil
}

// Revoke ends the trust of one of the user's devices. A device id that is
// malformed, unknown, expired or another user's gives ErrNotFound and
// changes nothing; a user id twofactor.CheckUserID refuses gives an error
// matching twofactor.ErrInvalidInput. Revoking is audited with an
// event.DeviceRevoked, reason "revoked".
func (m *Manager) Revoke(ctx context.Context, userID, deviceID string) error {
	if err := twofactor.CheckUserID(userID); err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	if !validDeviceID(deviceID) {
		return ErrNotFound
	}
	d, err := m.store.GetDevice(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.UserID != userID) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("trust: reading device: %w", err)
	}
	if err := m.store.DeleteDevice(ctx, deviceID); err != nil {
		return fmt.Errorf("trust: revoking device: %w", err)
	}
	m.emitRevoked(ctx, userID, d, ReasonRevoked, twofactor.Client{})
	return nil
}

// RevokeAll ends the trust of every device of the user, each audited with
// an event.DeviceRevoked carrying reason (empty means "revoked"). It tries
// every device even when one fails, and returns the failures joined.
func (m *Manager) RevokeAll(ctx context.Context, userID string, reason event.Reason) error {
	if err := twofactor.CheckUserID(userID); err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	if reason == "" {
		reason = ReasonRevoked
	}
	ds, err := m.store.ListDevices(ctx, userID)
	if err != nil {
		return fmt.Errorf("trust: listing devices: %w", err)
	}
	var errs []error
	for _, d := range ds {
		if d.UserID != userID {
			continue
		}
		if err := m.store.DeleteDevice(ctx, d.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		m.emitRevoked(ctx, userID, d, reason, twofactor.Client{})
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("trust: revoking devices: %w", err)
	}
	return nil
}

// ForgetUser revokes every device of the user (reason "reset"). It
// implements twofactor.DeviceTrust: twofactor.Service.AdminReset,
// Service.Disable and Service.PasswordChanged call it. Each revoked device
// is one event.DeviceRevoked and nothing else is emitted: the Service
// records the password change or reset itself, once.
func (m *Manager) ForgetUser(ctx context.Context, userID string) error {
	return m.RevokeAll(ctx, userID, ReasonReset)
}
