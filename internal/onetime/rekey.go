package onetime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// removedTTL is how long the marker of a removal is kept: longer than any
// re-seal in flight.
const removedTTL = time.Hour

// Values of the removal marker, each followed by a random nonce, so that
// every removal leaves a marker unlike any earlier one.
const (
	markRemoving = "removing " // written before the record is deleted
	markRemoved  = "removed "  // written once it is
)

func (is *Issuer) removedKey(userID, id string) string {
	return "otc:removed:" + is.channel + ":" + userID + ":" + id
}

// DeleteEnrollment deletes userID's enrollment id, leaving a marker that
// stops a concurrent Rekey from writing the record back: the marker says
// that a removal is under way before the delete, and that it finished
// after it. Three store round trips.
func (is *Issuer) DeleteEnrollment(ctx context.Context, userID, id string) error {
	w, err := is.ready()
	if err != nil {
		return err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	key, expires := is.removedKey(userID, id), w.now().Add(removedTTL)
	if err := w.store.PutState(ctx, key, []byte(markRemoving+nonce), expires); err != nil {
		return fmt.Errorf("marking enrollment removed: %w", err)
	}
	if err := w.store.DeleteEnrollment(ctx, userID, id); err != nil {
		return err
	}
	if err := w.store.PutState(ctx, key, []byte(markRemoved+nonce), expires); err != nil {
		return fmt.Errorf("marking enrollment removed: %w", err)
	}
	return nil
}

// removal returns the removal marker of userID's enrollment id, empty when
// there is none.
func (is *Issuer) removal(ctx context.Context, w *wiring, userID, id string) (string, error) {
	v, err := w.store.GetState(ctx, is.removedKey(userID, id))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("checking removal: %w", err)
	}
	return string(v), nil
}

// A Layout splits a factor's enrollment record: the text of rec.Data
// before the sealed value, the sealed value, and the additional data it is
// bound to. ok is false for a record that is not the factor's.
type Layout func(rec store.EnrollmentRecord) (head, sealed string, ad []byte, ok bool)

// Rekey re-seals the value of userID's enrollment id under the current
// key, and reports whether it rewrote the record (0 or 1). A missing
// record, one that is not the factor's or one already under the current
// key gives 0.
//
// The record is read again just before it is written, and left alone when
// it changed or went meanwhile (a new number or address, a removal), so a
// re-seal never overwrites what was written since; only its Data changes,
// the rest (LastUsedAt of a login in between) is kept as read then. A
// removal racing with the write cannot be undone by it: DeleteEnrollment
// leaves a marker, read before that last read and again after the write,
// and when it changed in between the write is deleted again. Store round
// trips: five when the record is rewritten, one when it is current.
func (is *Issuer) Rekey(ctx context.Context, userID, id string, layout Layout) (int, error) {
	if err := is.CheckUser(twofactor.User{ID: userID}); err != nil {
		return 0, err
	}
	w, err := is.ready()
	if err != nil {
		return 0, err
	}
	rec, err := w.store.GetEnrollment(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: reading enrollment: %w", is.pkg, err)
	}
	head, sealed, ad, ok := layout(rec)
	if !ok || w.keys.SealedWithCurrent(sealed) {
		return 0, nil
	}
	out, changed, err := w.keys.Reseal(sealed, ad)
	if err != nil {
		return 0, fmt.Errorf("%s: re-sealing enrollment %q: %w", is.pkg, id, err)
	}
	if !changed {
		return 0, nil
	}
	before, err := is.removal(ctx, w, userID, id)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", is.pkg, err)
	}
	if strings.HasPrefix(before, markRemoving) {
		return 0, nil // being removed
	}
	again, err := w.store.GetEnrollment(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (again.Method != rec.Method || !bytes.Equal(again.Data, rec.Data)) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: reading enrollment: %w", is.pkg, err)
	}
	again.Data = []byte(head + out)
	if err := w.store.PutEnrollment(ctx, again); err != nil {
		return 0, fmt.Errorf("%s: writing enrollment: %w", is.pkg, err)
	}
	after, err := is.removal(ctx, w, userID, id)
	if err != nil {
		return 1, fmt.Errorf("%s: %w", is.pkg, err)
	}
	if after == before {
		return 1, nil
	}
	// Removed since the marker was first read: the write may have brought
	// the record back, so it goes again.
	if err := w.store.DeleteEnrollment(ctx, userID, id); err != nil {
		return 0, fmt.Errorf("%s: enrollment removed concurrently; undoing write: %w", is.pkg, err)
	}
	return 0, nil
}

// RemoveAll is the factors' RemoveAll: it deletes user's enrollment id
// (marking the removal, as DeleteEnrollment does) and ends any pending
// enrollment with its code, going on past a failure and returning both.
func (is *Issuer) RemoveAll(ctx context.Context, user twofactor.User, id string) error {
	if err := is.CheckUser(user); err != nil {
		return err
	}
	if _, err := is.ready(); err != nil {
		return err
	}
	var errs []error
	if err := is.DeleteEnrollment(ctx, user.ID, id); err != nil {
		errs = append(errs, fmt.Errorf("%s: deleting enrollment: %w", is.pkg, err))
	}
	return errors.Join(append(errs, is.DropEnroll(ctx, user.ID))...)
}
