package twofactor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor/internal/secure"
	"github.com/twofactorkit/twofactor/store"
)

// Service runs the second-factor flows: login challenges, step-up, and the
// account operations around them. Build it with New; it is safe for
// concurrent use, and several instances sharing one store behave as one.
type Service struct {
	store        Store
	keys         *Keyring
	factors      []Factor
	byMethod     map[Method]Factor
	trust        DeviceTrust
	policy       Policy
	limits       Limits
	stepUpMaxAge time.Duration
	events       *Events
	now          func() time.Time
	rand         io.Reader
}

// New validates cfg once and returns a Service. Errors wrap ErrConfig and say
// what to change.
func New(cfg Config) (*Service, error) {
	byMethod, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:        cfg.Store,
		keys:         cfg.Keys,
		factors:      slices.Clone(cfg.Factors),
		byMethod:     byMethod,
		trust:        cfg.Trust,
		policy:       cfg.Policy,
		limits:       cfg.Limits.withDefaults(),
		stepUpMaxAge: cmp.Or(cfg.StepUpMaxAge, DefaultStepUpMaxAge),
		events:       cfg.Events,
		now:          cfg.Now,
		rand:         cfg.Rand,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.events == nil {
		s.events = &Events{Now: s.now}
	}
	shared := Shared{Store: s.store, Keys: s.keys, Events: s.events, Now: s.now, Rand: s.rand, Service: s}
	for _, f := range s.factors {
		if b, ok := f.(Binder); ok {
			if err := b.Bind(shared); err != nil {
				return nil, fmt.Errorf("%w: %s factor: %w", ErrConfig, f.Method(), err)
			}
		}
	}
	if b, ok := s.trust.(Binder); ok {
		if err := b.Bind(shared); err != nil {
			return nil, fmt.Errorf("%w: trust: %w", ErrConfig, err)
		}
	}
	return s, nil
}

// Keys returns the service's keyring, for layers that seal their own
// cookies with it.
func (s *Service) Keys() *Keyring { return s.keys }

// Trust returns the DeviceTrust given in Config.Trust, or nil.
func (s *Service) Trust() DeviceTrust { return s.trust }

// Policy returns the service's policy.
func (s *Service) Policy() Policy { return s.policy }

// Factor returns the configured factor for m.
func (s *Service) Factor(m Method) (Factor, bool) {
	f, ok := s.byMethod[m]
	return f, ok
}

func (s *Service) allowed(m Method) bool {
	return s.policy.Methods == nil || slices.Contains(s.policy.Methods, m)
}

func (s *Service) emit(ctx context.Context, ev Event) {
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	s.events.Emit(ctx, ev)
}

// Begin starts the second step of a login, after the host has checked the
// password. It consults the trusted-device token in c (if Trust is
// configured), then creates a challenge offering every method the user has
// enrolled that the policy allows. A locked-out user gets a *RetryError
// matching ErrLocked.
func (s *Service) Begin(ctx context.Context, user User, c Client) (*Begun, error) {
	return s.begin(ctx, PurposeLogin, user, c)
}

// StepUp creates a challenge to re-verify a signed-in user before a
// sensitive action (purpose PurposeStepUp, or PurposeEnroll before adding a
// factor). Trusted devices never skip it. A user with no second factor gets
// ErrNotEnrolled.
func (s *Service) StepUp(ctx context.Context, user User, c Client, purpose Purpose) (*Challenge, error) {
	if purpose == "" {
		purpose = PurposeStepUp
	}
	if purpose == PurposeLogin || !purpose.valid() {
		return nil, invalidInput("step-up purpose must be %q or %q", PurposeStepUp, PurposeEnroll)
	}
	b, err := s.begin(ctx, purpose, user, c)
	if err != nil {
		return nil, err
	}
	if b.Challenge == nil {
		return nil, ErrNotEnrolled
	}
	return b.Challenge, nil
}

func (s *Service) begin(ctx context.Context, purpose Purpose, user User, c Client) (*Begun, error) {
	if err := user.check(); err != nil {
		return nil, err
	}
	ip := ipString(c)
	// A valid trusted-device token is checked before the lockout: it is no
	// guess (it is signed and bound to this browser), and it lets the owner
	// in while someone who knows their password keeps the account locked.
	if purpose == PurposeLogin && s.trust != nil && c.DeviceToken != "" {
		ok, err := s.trust.Trusted(ctx, user, c)
		if err != nil {
			return nil, fmt.Errorf("twofactor: checking trusted device: %w", err)
		}
		if ok {
			s.emit(ctx, Event{Type: EventTrusted, UserID: user.ID, Purpose: purpose, IP: ip})
			return &Begun{Status: StatusTrusted}, nil
		}
	}
	if err := s.checkLocked(ctx, user.ID, c, "", purpose); err != nil {
		return nil, err
	}
	var methods []Method
	for _, f := range s.factors {
		if !s.allowed(f.Method()) {
			continue
		}
		es, err := f.Enrollments(ctx, user)
		if err != nil {
			return nil, fmt.Errorf("twofactor: listing %s enrollments: %w", f.Method(), err)
		}
		if len(es) > 0 {
			methods = append(methods, f.Method())
		}
	}
	if i := slices.Index(methods, s.policy.Default); i > 0 {
		// The policy's default method is offered first.
		methods = slices.Insert(slices.Delete(methods, i, i+1), 0, s.policy.Default)
	}
	if len(methods) == 0 {
		s.emit(ctx, Event{Type: EventNoFactor, UserID: user.ID, Purpose: purpose, IP: ip})
		if s.policy.Required && purpose == PurposeLogin {
			return &Begun{Status: StatusEnrollRequired}, nil
		}
		return &Begun{Status: StatusNoFactor}, nil
	}
	// A user left with recovery codes only still gets them offered, so they
	// can sign in and enroll a factor again; Check reports such users.
	id, err := secure.Token(s.rand, challengeIDBytes)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ch := &Challenge{
		ID:        id,
		User:      user,
		Purpose:   purpose,
		Methods:   methods,
		CreatedAt: now,
		ExpiresAt: now.Add(s.limits.ChallengeTTL),
		IP:        ip,
	}
	if err := s.save(ctx, ch, false); err != nil {
		return nil, fmt.Errorf("twofactor: storing challenge: %w", err)
	}
	s.emit(ctx, Event{Type: EventBegin, UserID: user.ID, ChallengeID: id, Purpose: purpose, IP: ip,
		Details: map[string]string{"methods": joinMethods(methods)}})
	return &Begun{Status: StatusChallenge, Challenge: ch}, nil
}

func joinMethods(ms []Method) string {
	b := make([]byte, 0, 32)
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	return string(b)
}

func ipString(c Client) string {
	if !c.IP.IsValid() {
		return ""
	}
	return c.IP.String()
}

// method resolves m against the challenge and the configuration.
func (s *Service) method(ch *Challenge, m Method) (Factor, error) {
	f, ok := s.byMethod[m]
	if !ok || !ch.Offers(m) || !s.allowed(m) {
		return nil, ErrMethodNotAllowed
	}
	return f, nil
}

// checkLocked returns a *RetryError matching ErrLocked when the user's
// next wrong answer would be beyond the lockout schedule. It only reads the
// counter: Verify counts the answer itself before the factor sees it.
func (s *Service) checkLocked(ctx context.Context, userID string, c Client, chID string, p Purpose) error {
	n, reset, err := s.store.Peek(ctx, keyUserFail+userID)
	if err != nil {
		return fmt.Errorf("twofactor: reading lockout counter: %w", err)
	}
	now := s.now()
	if until, locked := s.limits.lockedUntil(n, reset, now); locked {
		s.emit(ctx, Event{Type: EventFailure, UserID: userID, ChallengeID: chID, Purpose: p, IP: ipString(c), Reason: ReasonLocked})
		return NewRetryError(ErrLocked, LimitUser, now, until)
	}
	return nil
}

// Send issues and delivers a code for method m (email, SMS) on the
// challenge. Cooldowns and caps are the factor's; they answer with a
// *RetryError matching ErrRateLimited.
func (s *Service) Send(ctx context.Context, challengeID string, m Method, c Client) (Sent, error) {
	ch, err := s.load(ctx, challengeID)
	if err != nil {
		return Sent{}, err
	}
	f, err := s.method(ch, m)
	if err != nil {
		return Sent{}, err
	}
	sender, ok := f.(Sender)
	if !ok {
		return Sent{}, fmt.Errorf("%w: %s has no send step", ErrMethodNotAllowed, m)
	}
	if err := s.checkLocked(ctx, ch.User.ID, c, ch.ID, ch.Purpose); err != nil {
		return Sent{}, err
	}
	ev := Event{UserID: ch.User.ID, ChallengeID: ch.ID, Method: m, Purpose: ch.Purpose, IP: ipString(c)}
	sent, err := sender.Send(ctx, ch, c)
	if err != nil {
		ev.Type, ev.Reason = EventSendFailed, reasonOf(err)
		if errors.Is(err, ErrRateLimited) {
			ev.Type = EventRateLimited
		}
		s.emit(ctx, ev)
		return Sent{}, err
	}
	ev.Type = EventSend
	if sent.Destination != "" {
		ev.Details = map[string]string{"destination": sent.Destination}
	}
	s.emit(ctx, ev)
	return sent, nil
}

// Start runs a factor's begin step (WebAuthn) and returns the JSON its
// client needs.
func (s *Service) Start(ctx context.Context, challengeID string, m Method) (json.RawMessage, error) {
	ch, err := s.load(ctx, challengeID)
	if err != nil {
		return nil, err
	}
	f, err := s.method(ch, m)
	if err != nil {
		return nil, err
	}
	st, ok := f.(Starter)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no start step", ErrMethodNotAllowed, m)
	}
	out, err := st.Start(ctx, ch)
	if err != nil {
		return nil, err
	}
	s.emit(ctx, Event{Type: EventStart, UserID: ch.User.ID, ChallengeID: ch.ID, Method: m, Purpose: ch.Purpose})
	return out, nil
}

// maxAnswer bounds answers; a WebAuthn assertion is a few kilobytes.
const maxAnswer = 16 << 10

// Verify checks one answer.
//
// Every answer is counted before any factor sees it, in one batch of
// atomic increments: against the challenge (MaxAttempts), the user's run of
// wrong answers (the escalating lockout) and the client's network
// (MaxIPAttempts). Whatever the interleaving of requests across app
// instances, no more answers reach a factor than the limits allow; a
// failure to count refuses the answer. Answers that are no guess are then
// taken back from the user's count: one refused by a limit, a correct one,
// and one the factor could not have accepted because what it answers was
// already used or is gone (the loser of a double submit, see ErrCodeReused
// and ErrNoCode).
//
// Then the factor verifies and consumes the answer, and the challenge is
// completed atomically: of concurrent correct answers exactly one succeeds.
// Wrong and expired codes both return ErrInvalidCode; the event says which.
// Any store or factor failure returns an error and never a Result.
func (s *Service) Verify(ctx context.Context, a Answer) (*Result, error) {
	purpose := a.Purpose
	if purpose == "" {
		purpose = PurposeLogin
	}
	if err := ParseChallengeID(a.ChallengeID); err != nil {
		return nil, ErrChallengeNotFound
	}
	// A malformed answer is refused before any store access and is not
	// counted: it reached no factor. To the user it is a wrong code; the
	// event says it was malformed.
	malformed := a.Code == "" || len(a.Code) > maxAnswer
	if f, ok := s.byMethod[a.Method]; ok && !malformed {
		if ac, ok := f.(AnswerChecker); ok {
			malformed = ac.CheckAnswer(a.Code) != nil
		}
	}
	if malformed {
		s.emit(ctx, Event{Type: EventFailure, ChallengeID: a.ChallengeID, Method: a.Method, Purpose: purpose,
			IP: ipString(a.Client), Reason: ReasonMalformed})
		return nil, ErrMalformedCode
	}
	ch, spent, err := s.read(ctx, a.ChallengeID)
	if err != nil {
		return nil, err
	}
	if ch.Purpose != purpose || (a.UserID != "" && a.UserID != ch.User.ID) {
		return nil, ErrChallengeNotFound
	}
	ev := Event{UserID: ch.User.ID, ChallengeID: ch.ID, Method: a.Method, Purpose: ch.Purpose, IP: ipString(a.Client)}
	fail := func(err error) (*Result, error) {
		ev.Type, ev.Reason = EventFailure, reasonOf(err)
		if errors.Is(err, ErrRateLimited) {
			ev.Type = EventRateLimited
		}
		s.emit(ctx, ev)
		return nil, err
	}
	if spent {
		return fail(ErrTooManyAttempts)
	}
	f, err := s.method(ch, a.Method)
	if err != nil {
		return fail(err)
	}

	// Count first. The attempt counter lives as long as the challenge and
	// is never reset, so at most MaxAttempts answers per challenge reach
	// the factor; the user's counter is the lockout.
	now := s.now()
	failKey := keyUserFail + ch.User.ID
	incrs := []store.CounterIncr{
		{Key: keyAttempts + ch.ID, Window: ch.ExpiresAt.Sub(now)},
		{Key: failKey, Window: s.limits.FailureMemory},
	}
	if a.Client.IP.IsValid() {
		incrs = append(incrs, store.CounterIncr{Key: keyIP + s.limits.ipKey(a.Client.IP), Window: s.limits.IPWindow})
	}
	counts, err := store.IncrAll(ctx, s.store, incrs)
	if err != nil {
		return fail(fmt.Errorf("twofactor: counting attempts: %w", err))
	}
	attempts, fails := counts[0], counts[1]
	refuse := func(err error) (*Result, error) {
		s.takeBack(ctx, ch, failKey)
		return fail(err)
	}
	if len(counts) > 2 && counts[2].N > int64(s.limits.MaxIPAttempts) {
		return refuse(NewRetryError(ErrRateLimited, LimitIP, now, counts[2].ResetAt))
	}
	if attempts.N > int64(s.limits.MaxAttempts) {
		return refuse(ErrTooManyAttempts)
	}
	start := s.limits.runStart(fails.ResetAt)
	if fails.N > s.limits.allowedFailures(start, now) {
		return refuse(NewRetryError(ErrLocked, LimitUser, now, s.limits.unlockAt(fails.N, start, fails.ResetAt)))
	}

	v, verr := f.Verify(ctx, ch, a.Code)
	if verr != nil {
		if !errors.Is(verr, ErrInvalidCode) {
			return fail(fmt.Errorf("twofactor: %s verification: %w", a.Method, verr))
		}
		ev.Type, ev.Reason = EventFailure, reasonOf(verr)
		s.emit(ctx, ev)
		if ev.Reason == ReasonReplay || ev.Reason == ReasonNoCode {
			// A code that was right but already used (a TOTP step taken by
			// a concurrent login), or an answer with nothing live to check
			// it against (the code its twin just consumed): it could never
			// succeed, so it is no guess.
			s.takeBack(ctx, ch, failKey)
		} else if fails.N == s.limits.allowedFailures(start, now) {
			s.emit(ctx, Event{Type: EventLockout, UserID: ch.User.ID, ChallengeID: ch.ID, IP: ipString(a.Client),
				Details: map[string]string{
					"failures": strconv.FormatInt(fails.N, 10),
					"until":    s.limits.unlockAt(fails.N+1, start, fails.ResetAt).UTC().Format(time.RFC3339),
				}})
		}
		if attempts.N >= int64(s.limits.MaxAttempts) {
			// The challenge is spent: its codes die now, and the counter
			// refuses every later answer. The record is marked spent, not
			// deleted, so that an answer already in flight that matched
			// can still complete it.
			if err := s.save(ctx, ch, true); err != nil {
				s.warn(ctx, ch, "mark_spent_failed", err)
			}
			s.cleanup(ctx, ch, "")
			return nil, ErrTooManyAttempts
		}
		return nil, ErrInvalidCode
	}

	// Complete the challenge: exactly one caller takes it.
	if _, err := s.store.TakeState(ctx, keyChallenge+ch.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// A correct answer that lost the race to another: no guess.
			s.takeBack(ctx, ch, failKey)
			return fail(ErrChallengeNotFound)
		}
		return fail(fmt.Errorf("twofactor: completing challenge: %w", err))
	}
	// The verifying factor consumed what it issued for the challenge; the
	// others' codes die now.
	s.cleanup(ctx, ch, a.Method)
	// A correct answer ends the user's run of wrong answers.
	if err := s.store.ResetCounter(ctx, failKey); err != nil {
		s.warn(ctx, ch, "reset_failures_failed", err)
	}
	now = s.now()
	res := &Result{
		User: ch.User, Method: a.Method, Purpose: ch.Purpose,
		EnrollmentID: v.EnrollmentID, VerifiedAt: now,
	}
	res.Proof = s.signProof(ch.User.ID, ch.Purpose, a.Method, now)
	ev.Type, ev.Details = EventSuccess, v.Details
	s.emit(ctx, ev)
	if a.RememberDevice && s.trust != nil && ch.Purpose == PurposeLogin {
		g, err := s.trust.Remember(ctx, ch.User, a.Client)
		if err != nil {
			// The second factor passed; failing to remember the device only
			// means being asked again next time. Report it, do not fail.
			s.warn(ctx, ch, "remember_device_failed", err)
		} else {
			res.Device = &g
		}
	}
	return res, nil
}

// takeBack returns the counts of an answer that turned out not to be a
// guess. A failure only leaves the count higher, which is the safe side;
// it is reported.
func (s *Service) takeBack(ctx context.Context, ch *Challenge, keys ...string) {
	for _, k := range keys {
		if err := s.store.Decr(context.WithoutCancel(ctx), k); err != nil {
			s.warn(ctx, ch, "take_back_failed", err)
		}
	}
}

// warn emits a warning about a step that failed after the outcome was
// decided.
func (s *Service) warn(ctx context.Context, ch *Challenge, reason string, err error) {
	ev := Event{Type: EventWarning, UserID: ch.User.ID, ChallengeID: ch.ID, Reason: reason}
	if err != nil {
		ev.Details = map[string]string{"error": err.Error()}
	}
	s.emit(ctx, ev)
}

// cleanup tells factors that keep per-challenge state that it ended.
func (s *Service) cleanup(ctx context.Context, ch *Challenge, verified Method) {
	for _, m := range ch.Methods {
		if m == verified {
			continue
		}
		if c, ok := s.byMethod[m].(Canceler); ok {
			if err := c.Cancel(ctx, ch); err != nil {
				s.emit(ctx, Event{Type: EventWarning, UserID: ch.User.ID, ChallengeID: ch.ID, Method: m, Reason: "cancel_failed",
					Details: map[string]string{"error": err.Error()}})
			}
		}
	}
}

// Cancel ends a challenge (the user chose "cancel" and goes back to the
// login page). Every code issued for it stops working. Cancelling an unknown
// or finished challenge returns ErrChallengeNotFound.
func (s *Service) Cancel(ctx context.Context, challengeID string) error {
	if err := ParseChallengeID(challengeID); err != nil {
		return ErrChallengeNotFound
	}
	blob, err := s.store.TakeState(ctx, keyChallenge+challengeID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrChallengeNotFound
	}
	if err != nil {
		return fmt.Errorf("twofactor: cancelling challenge: %w", err)
	}
	ch, _, err := s.decodeChallenge(blob)
	if err != nil {
		return err
	}
	s.cleanup(ctx, ch, "")
	s.emit(ctx, Event{Type: EventCancel, UserID: ch.User.ID, ChallengeID: ch.ID, Purpose: ch.Purpose})
	return nil
}

func invalidInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}
