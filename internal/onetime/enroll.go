package onetime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// errNoPending is what ConfirmEnroll returns when no enrollment awaits its
// code: never begun, expired, confirmed already, or ended by a password
// change or an admin reset. It matches twofactor.ErrNotEnrolled.
var errNoPending = fmt.Errorf("no enrollment awaiting its code: %w", twofactor.ErrNotEnrolled)

// pending is an enrollment awaiting its code. It is stored sealed, filed
// under its user (store.OwnedStates), so that a password change or an
// admin reset ends it.
type pending struct {
	Destination string    `json:"d"`           // as delivered to and to be recorded
	Country     string    `json:"c,omitempty"` // of a phone number; absent from records of older versions
	ExpiresAt   time.Time `json:"e"`           // of its code
	ResendAt    time.Time `json:"r"`
}

func enrollGroup(userID string) string { return "enroll:" + userID }

func (is *Issuer) pendingKey(userID string) string {
	return "otc:enroll:" + is.channel + ":" + userID
}

func (is *Issuer) pendingAD(userID string) []byte {
	return []byte("onetime pending\x00" + is.channel + "\x00" + userID)
}

// canon returns the form of dest that is counted, bound into codes and
// compared.
func (is *Issuer) canon(dest string) string {
	if is.fold {
		return strings.ToLower(dest)
	}
	return dest
}

func (is *Issuer) readPending(ctx context.Context, userID string) (pending, error) {
	blob, err := is.store.GetState(ctx, is.pendingKey(userID))
	if errors.Is(err, store.ErrNotFound) {
		return pending{}, errNoPending
	}
	if err != nil {
		return pending{}, fmt.Errorf("reading pending enrollment: %w", err)
	}
	plain, err := is.env.Keys.Open(string(blob), is.pendingAD(userID))
	if err != nil {
		return pending{}, fmt.Errorf("opening pending enrollment: %w", err)
	}
	var p pending
	if err := json.Unmarshal(plain, &p); err != nil || p.Destination == "" {
		return pending{}, fmt.Errorf("decoding pending enrollment: %w", keyring.ErrInvalidKey)
	}
	return p, nil
}

func (is *Issuer) putPending(ctx context.Context, userID string, p pending) error {
	plain, err := json.Marshal(p)
	if err != nil {
		return err
	}
	sealed, err := is.env.Keys.Seal(plain, is.pendingAD(userID))
	if err != nil {
		return fmt.Errorf("sealing pending enrollment: %w", err)
	}
	// The destination outlives its code by one TTL, so that a late answer
	// is reported as an expired (to the user: invalid) code, as at login.
	if err := is.store.PutOwnedState(ctx, userID, is.pendingKey(userID), []byte(sealed), p.ExpiresAt.Add(is.ttl)); err != nil {
		return fmt.Errorf("storing pending enrollment: %w", err)
	}
	return nil
}

func (is *Issuer) enrolling(p pending) *twofactor.Enrolling {
	return &twofactor.Enrolling{Method: is.method, ExpiresAt: p.ExpiresAt,
		Sent: &twofactor.Sent{Destination: is.mask(p.Destination), ExpiresAt: p.ExpiresAt, ResendAt: p.ResendAt}}
}

// EnrollStart is what BeginEnroll is to confirm.
type EnrollStart struct {
	User        twofactor.User
	Destination string // checked by the factor: the address or E.164 number
	Country     string // of a phone number, for the budgets; kept for ConfirmEnroll
	Client      twofactor.Client
	Restart     bool
}

// BeginEnroll is the factors' BeginEnroll once they have checked the
// destination: it sends a code that confirms s.Destination for s.User, and
// keeps the destination (sealed) as the user's pending enrollment, which
// replaces any other. The user's current enrollment stays until
// ConfirmEnroll. A pending enrollment for the same destination whose code
// is still live is shown again instead, with nothing sent, unless
// s.Restart (a resend).
//
// The codes are verification codes (Request.Verification): they are
// counted on the verification caps and PerIP, never on a destination's
// login budget, and on the budgets. The cooldown is per user. Errors are
// those of Issue; a send emits event.EnrollBegin with the masked
// destination as its Label and twofactor.PurposeEnroll, which says a code
// was sent. Store round trips: those of Issue and one
// PutOwnedState, plus one GetState unless s.Restart.
func (is *Issuer) BeginEnroll(ctx context.Context, s EnrollStart, deliver Deliver) (*twofactor.Enrolling, error) {
	if err := is.CheckUser(s.User); err != nil {
		return nil, err
	}
	userID := s.User.ID
	if !s.Restart {
		p, err := is.readPending(ctx, userID)
		switch {
		case err == nil && is.canon(p.Destination) == is.canon(s.Destination) && is.env.Now().Before(p.ExpiresAt):
			return is.enrolling(p), nil
		case err != nil && !errors.Is(err, errNoPending) && !errors.Is(err, keyring.ErrInvalidKey):
			// A record that no longer opens (its key retired) is replaced.
			return nil, is.Wrap(err)
		}
	}
	key := is.canon(s.Destination)
	req := Request{Group: enrollGroup(userID), Purpose: is.purpose, Binding: key,
		UserID: userID, Destination: key, IP: s.Client.IP, Verification: true, Country: s.Country}
	var p pending
	stored := false
	_, err := is.Issue(ctx, req, func(ctx context.Context, code string, expires time.Time) error {
		p = pending{Destination: s.Destination, Country: s.Country, ExpiresAt: expires, ResendAt: expires.Add(is.cooldown - is.ttl)}
		if err := is.putPending(ctx, userID, p); err != nil {
			return notDelivered{err}
		}
		stored = true
		return deliver(ctx, code, expires)
	})
	if err != nil {
		if stored {
			_ = is.store.DeleteState(context.WithoutCancel(ctx), is.pendingKey(userID))
		}
		return nil, is.Wrap(err)
	}
	is.env.Events.Emit(ctx, event.Event{Type: event.EnrollBegin, UserID: userID, Method: is.method,
		Purpose: twofactor.PurposeEnroll, Label: is.mask(p.Destination), IP: ipString(s.Client.IP), UserAgent: s.Client.UserAgent})
	return is.enrolling(p), nil
}

// A Recorder makes dest, just confirmed, the user's enrollment. country is
// the one BeginEnroll was given (EnrollStart.Country), empty for a
// pending enrollment kept by an older version.
type Recorder func(ctx context.Context, dest, country string) (twofactor.Enrollment, error)

// ConfirmEnroll is the factors' ConfirmEnroll: it checks answer against
// the code of user's pending enrollment, has record make the destination
// the user's enrollment, and ends the pending one. A wrong answer emits
// event.Failure with the reason and the masked destination as
// Label. It emits no event.Enroll: Service.ConfirmEnroll does,
// knowing whether the user had a factor before.
//
// A malformed answer returns twofactor.ErrMalformedCode without touching
// the store; no pending enrollment an error matching
// twofactor.ErrNotEnrolled; a wrong, expired or used-up code the errors
// of VerifyChallenge, keeping the pending enrollment. Of concurrent right
// answers exactly one succeeds.
func (is *Issuer) ConfirmEnroll(ctx context.Context, user twofactor.User, answer string, record Recorder) (twofactor.Enrollment, error) {
	if err := is.CheckUser(user); err != nil {
		return twofactor.Enrollment{}, err
	}
	code, err := Normalize(is.pkg, answer, is.length)
	if err != nil {
		return twofactor.Enrollment{}, twofactor.ErrMalformedCode
	}
	p, err := is.readPending(ctx, user.ID)
	if err != nil {
		return twofactor.Enrollment{}, is.Wrap(err)
	}
	req := Request{Group: enrollGroup(user.ID), Purpose: is.purpose, Binding: is.canon(p.Destination)}
	if err := is.Verify(ctx, req, code); err != nil {
		is.env.Events.Emit(ctx, event.Event{Type: event.Failure, UserID: user.ID, Method: is.method,
			Reason: failureReason(err), Label: is.mask(p.Destination)})
		return twofactor.Enrollment{}, is.Wrap(err)
	}
	e, err := record(ctx, p.Destination, p.Country)
	if err != nil {
		return twofactor.Enrollment{}, is.Wrap(err)
	}
	if err := is.store.DeleteState(ctx, is.pendingKey(user.ID)); err != nil {
		// Its code is consumed: what is left can confirm nothing.
		is.warn(ctx, user.ID, ReasonDeletePendingFailed)
	}
	return e, nil
}

// DropEnroll ends user's pending enrollment: its destination, its code
// and its cooldown.
func (is *Issuer) DropEnroll(ctx context.Context, userID string) error {
	err := errors.Join(
		is.store.DeleteState(ctx, is.pendingKey(userID)),
		is.Drop(ctx, enrollGroup(userID), is.purpose),
	)
	if err != nil {
		return fmt.Errorf("%s: ending pending enrollment: %w", is.pkg, err)
	}
	return nil
}

func (is *Issuer) warn(ctx context.Context, userID string, reason event.Reason) {
	is.env.Events.Emit(ctx, event.Event{Type: event.Warning, UserID: userID, Method: is.method, Reason: reason})
}

// Enrollment returns rec as the factors return it.
func Enrollment(rec store.EnrollmentRecord) twofactor.Enrollment {
	return twofactor.Enrollment{ID: rec.ID, Method: twofactor.Method(rec.Method), Label: rec.Label,
		CreatedAt: rec.CreatedAt, LastUsedAt: rec.LastUsedAt}
}

// CheckUser returns an error matching twofactor.ErrInvalidInput unless
// u.ID is a valid user id (twofactor.CheckUserID).
func (is *Issuer) CheckUser(u twofactor.User) error {
	if err := twofactor.CheckUserID(u.ID); err != nil {
		return fmt.Errorf("%s: %w", is.pkg, err)
	}
	return nil
}

// failureReason returns the reason of a failed answer for its event.
func failureReason(err error) event.Reason {
	var fr twofactor.FailureReasoner
	switch {
	case errors.As(err, &fr) && fr.FailureReason() != "":
		return fr.FailureReason()
	case errors.Is(err, twofactor.ErrInvalidCode):
		return event.ReasonInvalid
	default:
		return event.ReasonError
	}
}

// ipString returns ip for events, empty when unknown.
func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.String()
}
