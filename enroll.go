package twofactor

import (
	"context"
	"errors"
	"fmt"

	"github.com/twofactorkit/twofactor/event"
)

// Enrolled is the outcome of ConfirmEnroll.
type Enrolled struct {
	Enrollment Enrollment
	// BackupCodes are set when this enrollment was the user's first second
	// factor and a backup-code factor is configured: a fresh set, to show
	// once, as users expect when they turn two-factor authentication on.
	BackupCodes []string
}

// BeginEnroll starts adding a factor of method m for user (see [Enroller]).
// A user who already has a second factor must prove one first: proof is the
// Result.Proof of a step-up challenge (PurposeEnroll or PurposeStepUp) no
// older than Config.StepUpMaxAge, and without it BeginEnroll returns
// ErrStepUpRequired. A user with nothing enrolled needs no proof (pass "").
// The method must be configured, allowed by the user's policy, and an
// Enroller, else ErrMethodNotAllowed. A factor's refusal by a limit (a
// code to confirm a phone asked for again too soon) is returned as it is,
// matching ErrRateLimited, and emitted as an event.RateLimited with
// PurposeEnroll; one the mail server or SMS gateway did not take (an error
// whose FailureReason is event.ReasonDelivery) as an event.SendFailed with
// PurposeEnroll, as a send's would be.
func (s *Service) BeginEnroll(ctx context.Context, user User, m Method, req EnrollRequest, proof string) (*Enrolling, error) {
	ctx, st := s.tel.start(ctx, stepBeginEnroll, m)
	v, err := s.beginEnroll(ctx, user, m, req, proof)
	st.end(ctx, err)
	return v, err
}

// beginEnroll is BeginEnroll, in its span.
func (s *Service) beginEnroll(ctx context.Context, user User, m Method, req EnrollRequest, proof string) (*Enrolling, error) {
	if err := user.check(); err != nil {
		return nil, err
	}
	pol, err := s.userPolicy(ctx, user)
	if err != nil {
		return nil, err
	}
	en, err := s.enroller(pol, m)
	if err != nil {
		return nil, err
	}
	n, err := s.countEnrollments(ctx, user, pol, func(Factor) bool { return true })
	if err != nil {
		return nil, err
	}
	if n > 0 {
		if err := s.CheckProof(ctx, proof, user.ID, PurposeEnroll); err != nil {
			return nil, err
		}
	}
	e, err := en.BeginEnroll(ctx, user, req)
	if err == nil {
		return e, nil
	}
	ev := event.Event{UserID: user.ID, Method: m, Purpose: PurposeEnroll, IP: ipString(req.Client),
		UserAgent: req.Client.UserAgent, Reason: reasonOf(err)}
	switch {
	case errors.Is(err, ErrRateLimited):
		// A set-up's code refused by a limit, as a send's is: a run of
		// them is how SMS pumping through enrollment shows.
		ev.Type = event.RateLimited
	case ev.Reason == event.ReasonDelivery:
		// A set-up's code the mail server or gateway did not take, as a
		// send's is: an outage shows in enrollment too.
		ev.Type = event.SendFailed
	default:
		// Refused input (a malformed number, a region not allowed) or a
		// store error: the code was never sent.
		return e, err
	}
	s.emit(ctx, ev)
	return e, err
}

// ConfirmEnroll finishes adding a factor of method m: answer is what proves
// possession (the code the app shows, the code sent to the phone or
// address, the browser's attestation JSON). It emits the event.Enroll, with
// FirstFactor set when two-factor authentication just turned on. When the
// new enrollment is the
// user's first second factor, a backup-code factor, if configured, issues a
// first set of codes in the result.
func (s *Service) ConfirmEnroll(ctx context.Context, user User, m Method, answer string) (*Enrolled, error) {
	ctx, st := s.tel.start(ctx, stepConfirmEnroll, m)
	v, err := s.confirmEnroll(ctx, user, m, answer)
	st.end(ctx, err)
	return v, err
}

// confirmEnroll is ConfirmEnroll, in its span.
func (s *Service) confirmEnroll(ctx context.Context, user User, m Method, answer string) (*Enrolled, error) {
	if err := user.check(); err != nil {
		return nil, err
	}
	pol, err := s.userPolicy(ctx, user)
	if err != nil {
		return nil, err
	}
	en, err := s.enroller(pol, m)
	if err != nil {
		return nil, err
	}
	e, err := en.ConfirmEnroll(ctx, user, answer)
	if err != nil {
		return nil, err
	}
	out := &Enrolled{Enrollment: e}
	ev := event.Event{Type: event.Enroll, UserID: user.ID, Method: m, EnrollmentID: e.ID, Label: e.Label}
	if isRecovery(en) {
		s.emit(ctx, ev)
		return out, nil
	}
	primary, err := s.primaryEnrollments(ctx, user, pol)
	ev.FirstFactor = err == nil && primary == 1
	s.emit(ctx, ev)
	if err != nil || primary != 1 {
		return out, err
	}
	for _, f := range s.factors {
		be, ok := f.(Enroller)
		if !ok || !isRecovery(f) || !pol.allows(f.Method()) {
			continue
		}
		have, err := f.Enrollments(ctx, user)
		if err != nil {
			return out, fmt.Errorf("twofactor: listing %s enrollments: %w", f.Method(), err)
		}
		if len(have) > 0 {
			continue
		}
		codes, err := be.BeginEnroll(ctx, user, EnrollRequest{})
		if err != nil {
			return out, fmt.Errorf("twofactor: issuing first backup codes: %w", err)
		}
		out.BackupCodes = codes.Codes
	}
	return out, nil
}

// enroller returns the factor of m, when pol allows it and users may
// enroll it.
func (s *Service) enroller(pol Policy, m Method) (Enroller, error) {
	f, ok := s.byMethod[m]
	if !ok || !pol.allows(m) {
		return nil, ErrMethodNotAllowed
	}
	en, ok := f.(Enroller)
	if !ok {
		return nil, fmt.Errorf("%w: %s cannot be enrolled by users", ErrMethodNotAllowed, m)
	}
	return en, nil
}

// countEnrollments counts the user's enrollments of factors pol allows
// for which keep returns true.
func (s *Service) countEnrollments(ctx context.Context, user User, pol Policy, keep func(Factor) bool) (int, error) {
	n := 0
	for _, f := range s.factors {
		if !pol.allows(f.Method()) || !keep(f) {
			continue
		}
		es, err := f.Enrollments(ctx, user)
		if err != nil {
			return 0, fmt.Errorf("twofactor: listing %s enrollments: %w", f.Method(), err)
		}
		n += len(es)
	}
	return n, nil
}

// primaryEnrollments counts the user's enrollments of factors pol allows
// that are not recovery-only.
func (s *Service) primaryEnrollments(ctx context.Context, user User, pol Policy) (int, error) {
	return s.countEnrollments(ctx, user, pol, func(f Factor) bool { return !isRecovery(f) })
}

// Disable turns two-factor authentication off for user: it removes every
// enrollment of every factor (backup codes included), every trusted
// device, every pending challenge and enrollment, and voids every proof.
// It needs a fresh step-up proof (see CheckProof) and is refused with
// ErrLastFactor while the user's policy is Required. The change is audited with an
// event.Disabled. An email factor in implicit mode counts the address the
// host gives as enrolled, so email codes go on while the host gives one: a
// host that lets users turn two-factor authentication off uses opt-in
// email.
func (s *Service) Disable(ctx context.Context, user User, proof string) error {
	ctx, st := s.tel.start(ctx, stepDisable, "")
	err := s.disable(ctx, user, proof)
	st.end(ctx, err)
	return err
}

// disable is Disable, in its span.
func (s *Service) disable(ctx context.Context, user User, proof string) error {
	if err := user.check(); err != nil {
		return err
	}
	if err := s.CheckProof(ctx, proof, user.ID, PurposeStepUp); err != nil {
		return err
	}
	pol, err := s.userPolicy(ctx, user)
	if err != nil {
		return err
	}
	if pol.Required {
		return ErrLastFactor
	}
	if err := s.removeEverything(ctx, user); err != nil {
		return fmt.Errorf("twofactor: turning two-factor authentication off: %w", err)
	}
	s.emit(ctx, event.Event{Type: event.Disabled, UserID: user.ID, LastFactor: true})
	return nil
}
