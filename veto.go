package twofactor

import (
	"context"
	"fmt"

	"github.com/twofactorkit/twofactor/event"
)

// VetoInput is what Config.Veto is told of a verification the factor
// accepted.
type VetoInput struct {
	User         User
	ChallengeID  string
	Purpose      Purpose
	Method       Method
	EnrollmentID string
	// Client is the browser that answered (its IP, user agent).
	Client Client
	// FirstFactor is how the first step of sign-in was done.
	FirstFactor FirstFactor
}

// askVeto asks Config.Veto about the verification.
func (v *verification) askVeto(ctx context.Context, got Verified) error {
	return v.s.veto(ctx, VetoInput{
		User: v.ch.User, ChallengeID: v.ch.Key(), Purpose: v.ch.Purpose, Method: v.a.Method,
		EnrollmentID: got.EnrollmentID, Client: v.a.Client, FirstFactor: v.ch.FirstFactor,
	})
}

// vetoed ends a challenge whose right answer the host's veto refused.
//
//   - It is never a success: no Result, no proof, no trusted device, no
//     success event.
//   - The challenge ends (it is marked done, every other factor's codes
//     for it are cancelled): a sign-in the host refused is not left open
//     for another method to finish.
//   - What the factor consumed stays consumed: the code, the TOTP step,
//     the backup code cannot be used again.
//   - The answer was right, so it is no guess: its count on the user's
//     run of wrong answers is taken back, as for a replayed code. It does
//     not end the run either, as a success does: a refused sign-in proves
//     nothing to the lockout.
//
// A failure event with event.ReasonVetoed carries the veto's error under
// event.DetailVeto.
func (v *verification) vetoed(ctx context.Context, verr error) (*Result, error) {
	s, ch := v.s, v.ch
	if _, err := s.endChallenge(ctx, ch); err != nil {
		// The answer is refused whatever happens; a record left behind
		// dies with its expiry, and its attempts stay counted.
		s.warn(ctx, ch, event.ReasonCancelFailed, err)
	}
	s.cleanup(ctx, ch, v.a.Method)
	s.takeBack(ctx, ch, v.failKey)
	v.ev.Type, v.ev.Reason = event.Failure, event.ReasonVetoed
	v.ev.Details = map[string]string{event.DetailVeto: verr.Error()}
	s.emit(ctx, v.ev)
	return nil, fmt.Errorf("%w: %w", ErrVetoed, verr)
}

// qualifying returns the methods of the user's that a challenge may offer:
// none on the channel of the first step of sign-in, and for a step-up
// only those that meet req. When the user has factors but that leaves
// none, it says why: ErrNoIndependentFactor or ErrNoQualifyingMethod.
func (s *Service) qualifying(ctx context.Context, purpose Purpose, user User, c Client, req Requirement, methods []Method) ([]Method, error) {
	first := c.FirstFactor.channel()
	if len(methods) == 0 || first == "" && !req.PhishingResistant {
		return methods, nil
	}
	independent := methods[:0:0]
	for _, m := range methods {
		if as := assurance(s.byMethod[m]); first == "" || as.Channel != first {
			independent = append(independent, m)
		}
	}
	ev := event.Event{Type: event.NoFactor, UserID: user.ID, Purpose: purpose, IP: ipString(c), UserAgent: c.UserAgent}
	if len(independent) == 0 {
		ev.Reason, ev.Methods = event.ReasonSameChannel, methods
		s.emit(ctx, ev)
		return nil, ErrNoIndependentFactor
	}
	out := independent[:0:0]
	for _, m := range independent {
		if req.qualifies(assurance(s.byMethod[m])) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		ev.Reason, ev.Methods = event.ReasonNoQualifying, independent
		s.emit(ctx, ev)
		return nil, ErrNoQualifyingMethod
	}
	return out, nil
}
