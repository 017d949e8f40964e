package totp

import (
	"context"
	"errors"
	"fmt"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// maxEnrollmentID bounds enrollment ids before any store access; the
// factor's own are 22 characters.
const maxEnrollmentID = 64

// Remove deletes one TOTP enrollment of user. It is the twofactor.Remover
// side used by Service.RemoveEnrollment (after a fresh verification), which
// emits the event.Remove itself. An id that is not one of the user's TOTP
// enrollments gives twofactor.ErrNotEnrolled and deletes nothing.
func (f *Factor) Remove(ctx context.Context, user twofactor.User, enrollmentID string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	if enrollmentID == "" || len(enrollmentID) > maxEnrollmentID {
		return twofactor.ErrNotEnrolled
	}
	rec, err := f.store.GetEnrollment(ctx, user.ID, enrollmentID)
	if errors.Is(err, store.ErrNotFound) {
		return twofactor.ErrNotEnrolled
	}
	if err != nil {
		return fmt.Errorf("totp: loading enrollment: %w", err)
	}
	if rec.Method != string(twofactor.MethodTOTP) {
		return twofactor.ErrNotEnrolled
	}
	return f.remove(ctx, user.ID, enrollmentID)
}

// RemoveAll deletes every TOTP enrollment of user and any pending one (for
// Service.AdminReset and Service.Disable). A user without TOTP is not an
// error.
func (f *Factor) RemoveAll(ctx context.Context, user twofactor.User) error {
	if err := checkUser(user); err != nil {
		return err
	}
	recs, err := f.list(ctx, user.ID)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range recs {
		errs = append(errs, f.remove(ctx, user.ID, r.ID))
	}
	if err := f.store.DeleteState(ctx, pendingKey(user.ID)); err != nil {
		errs = append(errs, fmt.Errorf("totp: deleting pending enrollment: %w", err))
	}
	return errors.Join(errs...)
}

// remove writes the tombstone that stops a concurrent drift update from
// writing the record back (see putChecked), then deletes the record.
func (f *Factor) remove(ctx context.Context, userID, id string) error {
	if err := f.store.PutState(ctx, tombstoneKey(userID, id), []byte{1}, f.now().Add(tombstoneTTL)); err != nil {
		return fmt.Errorf("totp: marking enrollment removed: %w", err)
	}
	if err := f.store.DeleteEnrollment(ctx, userID, id); err != nil {
		return fmt.Errorf("totp: deleting enrollment: %w", err)
	}
	return nil
}

// Rekey re-encrypts the user's TOTP secrets under the keyring's current key
// and reports how many records it rewrote (0 when all were current). Run it
// for every user after putting a new key first in the ring; once it reports
// 0 everywhere, the old key can leave the ring. Safe to run again.
//
// Pending enrollments are not rewritten: a rewrite could race a password
// change or an admin reset and bring back the pending enrollment they
// ended, or overwrite one the user just restarted. They expire within
// Config.PendingTTL, so keep the old key in the ring that long after
// putting the new one first; a pending enrollment whose key has left
// earlier is started again by BeginEnroll (with a new secret) and cannot
// be confirmed.
func (f *Factor) Rekey(ctx context.Context, userID string) (int, error) {
	if err := checkUser(twofactor.User{ID: userID}); err != nil {
		return 0, err
	}
	recs, err := f.list(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		e, err := f.decode(r)
		if err != nil {
			return n, err
		}
		clear(e.secret)
		sealed, changed, err := f.keys.Reseal(e.data.Secret, enrollmentAD(r.UserID, r.ID))
		if err != nil {
			return n, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if !changed {
			continue
		}
		e.data.Secret = sealed
		if err := f.rewrite(ctx, e, e.data.Drift); err != nil {
			if errors.Is(err, twofactor.ErrNotEnrolled) {
				continue // removed meanwhile
			}
			return n, err
		}
		n++
	}
	return n, nil
}
