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

// Records deletes and re-seals one channel's enrollment records, the part
// of an Issuer that needs neither the channel's rules nor a sender. An
// Issuer has one ([Issuer.Records]); [NewRecords] builds one from an Env
// alone, for the factor packages' Rekey functions, which re-seal a user's
// record without the factor (an administration tool has no sender to give
// it). Both share the removal markers of the channel, so a re-seal by
// either never undoes a removal by the other.
type Records struct {
	pkg     string // the factor package, prefixing its errors
	channel string
	store   Store
	env     twofactor.Env // with its defaults
}

// NewRecords returns the Records of channel ("email", "sms": the Channel
// of the factor's Issuer) on env's store, with env's keys and clock. A
// missing store or keys, or a store without what Store needs (named), is
// an error matching twofactor.ErrConfig prefixed with pkg.
func NewRecords(pkg, channel string, env twofactor.Env) (*Records, error) {
	st, env, err := Wire(pkg, env)
	if err != nil {
		return nil, err
	}
	if channel == "" {
		return nil, ConfigError(pkg, "channel is empty")
	}
	return &Records{pkg: pkg, channel: channel, store: st, env: env}, nil
}

// Records returns the issuer's Records.
func (is *Issuer) Records() *Records { return is.records }

// DeleteEnrollment is Records.DeleteEnrollment.
func (is *Issuer) DeleteEnrollment(ctx context.Context, userID, id string) error {
	return is.records.DeleteEnrollment(ctx, userID, id)
}

// Rekey is Records.Rekey.
func (is *Issuer) Rekey(ctx context.Context, userID, id string, layout Layout) (int, error) {
	return is.records.Rekey(ctx, userID, id, layout)
}

func (r *Records) removedKey(userID, id string) string {
	return "otc:removed:" + r.channel + ":" + userID + ":" + id
}

// DeleteEnrollment deletes userID's enrollment id, leaving a marker that
// stops a concurrent Rekey from writing the record back: the marker says
// that a removal is under way before the delete, and that it finished
// after it. Three store round trips.
func (r *Records) DeleteEnrollment(ctx context.Context, userID, id string) error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	key, expires := r.removedKey(userID, id), r.env.Now().Add(removedTTL)
	if err := r.store.PutState(ctx, key, []byte(markRemoving+nonce), expires); err != nil {
		return fmt.Errorf("marking enrollment removed: %w", err)
	}
	if err := r.store.DeleteEnrollment(ctx, userID, id); err != nil {
		return err
	}
	if err := r.store.PutState(ctx, key, []byte(markRemoved+nonce), expires); err != nil {
		return fmt.Errorf("marking enrollment removed: %w", err)
	}
	return nil
}

// removal returns the removal marker of userID's enrollment id, empty when
// there is none.
func (r *Records) removal(ctx context.Context, userID, id string) (string, error) {
	v, err := r.store.GetState(ctx, r.removedKey(userID, id))
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
func (r *Records) Rekey(ctx context.Context, userID, id string, layout Layout) (int, error) {
	if err := twofactor.CheckUserID(userID); err != nil {
		return 0, fmt.Errorf("%s: %w", r.pkg, err)
	}
	rec, err := r.store.GetEnrollment(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: reading enrollment: %w", r.pkg, err)
	}
	head, sealed, ad, ok := layout(rec)
	if !ok || r.env.Keys.SealedWithCurrent(sealed) {
		return 0, nil
	}
	out, changed, err := r.env.Keys.Reseal(sealed, ad)
	if err != nil {
		return 0, fmt.Errorf("%s: re-sealing enrollment %q: %w", r.pkg, id, err)
	}
	if !changed {
		return 0, nil
	}
	before, err := r.removal(ctx, userID, id)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", r.pkg, err)
	}
	if strings.HasPrefix(before, markRemoving) {
		return 0, nil // being removed
	}
	again, err := r.store.GetEnrollment(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (again.Method != rec.Method || !bytes.Equal(again.Data, rec.Data)) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: reading enrollment: %w", r.pkg, err)
	}
	again.Data = []byte(head + out)
	if err := r.store.PutEnrollment(ctx, again); err != nil {
		return 0, fmt.Errorf("%s: writing enrollment: %w", r.pkg, err)
	}
	after, err := r.removal(ctx, userID, id)
	if err != nil {
		return 1, fmt.Errorf("%s: %w", r.pkg, err)
	}
	if after == before {
		return 1, nil
	}
	// Removed since the marker was first read: the write may have brought
	// the record back, so it goes again.
	if err := r.store.DeleteEnrollment(ctx, userID, id); err != nil {
		return 0, fmt.Errorf("%s: enrollment removed concurrently; undoing write: %w", r.pkg, err)
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
	var errs []error
	if err := is.DeleteEnrollment(ctx, user.ID, id); err != nil {
		errs = append(errs, fmt.Errorf("%s: deleting enrollment: %w", is.pkg, err))
	}
	return errors.Join(append(errs, is.DropEnroll(ctx, user.ID))...)
}
