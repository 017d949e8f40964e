package twofactor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
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
	return s, nil
}

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

// Status is the outcome of Begin.
type Status int

// Outcomes of Begin.
const (
	// StatusChallenge: the user must answer Begun.Challenge.
	StatusChallenge Status = iota
	// StatusTrusted: the device is trusted; sign the user in.
	StatusTrusted
	// StatusNoFactor: the user has no second factor and the policy does not
	// require one; sign the user in.
	StatusNoFactor
	// StatusEnrollRequired: the policy requires a second factor and the user
	// has none; the host should send the user to enrollment before anything
	// else.
	StatusEnrollRequired
)

func (s Status) String() string {
	switch s {
	case StatusChallenge:
		return "challenge"
	case StatusTrusted:
		return "trusted"
	case StatusNoFactor:
		return "no_factor"
	case StatusEnrollRequired:
		return "enroll_required"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Begun is the outcome of Begin.
type Begun struct {
	Status    Status
	Challenge *Challenge // set when Status is StatusChallenge
}

// key prefixes in the store
const (
	keyChallenge = "tf:ch:"   // state: challenge JSON
	keyAttempts  = "tf:att:"  // counter: attempts on one challenge
	keyUserFail  = "tf:fail:" // counter: failures of one user
	keyIP        = "tf:ip:"   // counter: answers from one client IP
)

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
	if _, err := s.checkLocked(ctx, user.ID, c, "", purpose); err != nil {
		return nil, err
	}
	ip := ipString(c)
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

// Challenge returns a pending challenge, for showing its methods again.
func (s *Service) Challenge(ctx context.Context, challengeID string) (*Challenge, error) {
	return s.load(ctx, challengeID)
}

// storedChallenge is a challenge as kept in the store.
type storedChallenge struct {
	*Challenge
	// Spent is set when the challenge used up its attempts: it can no
	// longer be answered or sent codes, but is kept until it expires so
	// that an answer already being checked can still complete it.
	Spent bool `json:"spent,omitempty"`
}

func (s *Service) save(ctx context.Context, ch *Challenge, spent bool) error {
	blob, err := json.Marshal(storedChallenge{Challenge: ch, Spent: spent})
	if err != nil {
		return err
	}
	return s.store.PutState(ctx, keyChallenge+ch.ID, blob, ch.ExpiresAt)
}

func decodeChallenge(blob []byte) (*Challenge, bool, error) {
	sc := storedChallenge{Challenge: new(Challenge)}
	if err := json.Unmarshal(blob, &sc); err != nil {
		return nil, false, fmt.Errorf("twofactor: decoding challenge: %w", err)
	}
	return sc.Challenge, sc.Spent, nil
}

// load reads a live challenge. A malformed id costs no store access; a
// spent one answers ErrTooManyAttempts.
func (s *Service) load(ctx context.Context, challengeID string) (*Challenge, error) {
	ch, spent, err := s.read(ctx, challengeID)
	if err == nil && spent {
		return nil, ErrTooManyAttempts
	}
	return ch, err
}

// read reads a challenge and whether it is spent.
func (s *Service) read(ctx context.Context, challengeID string) (*Challenge, bool, error) {
	if err := ParseChallengeID(challengeID); err != nil {
		return nil, false, ErrChallengeNotFound
	}
	blob, err := s.store.GetState(ctx, keyChallenge+challengeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, ErrChallengeNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("twofactor: loading challenge: %w", err)
	}
	ch, spent, err := decodeChallenge(blob)
	if err != nil {
		return nil, false, err
	}
	if ch.ID != challengeID || !s.now().Before(ch.ExpiresAt) {
		return nil, false, ErrChallengeNotFound
	}
	return ch, spent, nil
}

// method resolves m against the challenge and the configuration.
func (s *Service) method(ch *Challenge, m Method) (Factor, error) {
	f, ok := s.byMethod[m]
	if !ok || !ch.Offers(m) || !s.allowed(m) {
		return nil, ErrMethodNotAllowed
	}
	return f, nil
}

// checkLocked returns a *RetryError when the user reached the failure
// limit, and otherwise the user's current failure count.
func (s *Service) checkLocked(ctx context.Context, userID string, c Client, chID string, p Purpose) (int64, error) {
	n, reset, err := s.store.Peek(ctx, keyUserFail+userID)
	if err != nil {
		return 0, fmt.Errorf("twofactor: reading lockout counter: %w", err)
	}
	if n >= int64(s.limits.MaxUserFailures) {
		s.emit(ctx, Event{Type: EventFailure, UserID: userID, ChallengeID: chID, Purpose: p, IP: ipString(c), Reason: ReasonLocked})
		return n, NewRetryError(ErrLocked, "user", s.now(), reset)
	}
	return n, nil
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
	if _, err := s.checkLocked(ctx, ch.User.ID, c, ch.ID, ch.Purpose); err != nil {
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

// Answer is one attempt at a challenge.
type Answer struct {
	ChallengeID string
	Method      Method
	// Code is the answer: the digits, the backup code, or the factor's JSON
	// (WebAuthn assertion).
	Code string
	// Purpose must match the challenge's. Zero means PurposeLogin.
	Purpose Purpose
	// UserID, if set, must match the challenge's user: pass the user the
	// session is signing in, so a challenge id never completes for another.
	UserID string
	// Client is the requesting browser: counted for per-IP limits.
	Client Client
	// RememberDevice asks, on success of a login challenge, to trust this
	// device (needs Config.Trust).
	RememberDevice bool
}

// AnswerChecker is implemented by factors that can reject a malformed answer
// (letters in a numeric code, JSON that does not parse) without touching the
// store. Verify calls it before counting the attempt. It returns an error
// matching ErrInvalidInput.
type AnswerChecker interface {
	CheckAnswer(answer string) error
}

// Result describes a completed challenge.
type Result struct {
	User         User
	Method       Method
	Purpose      Purpose
	EnrollmentID string
	VerifiedAt   time.Time
	// Proof is a signed statement "this user verified a second factor at
	// VerifiedAt". Keep it in the session; RemoveEnrollment and CheckProof
	// accept it while it is fresh (Config.StepUpMaxAge).
	Proof string
	// Device is set when RememberDevice was asked and the device is now
	// trusted: put Device.Token in the trusted-device cookie.
	Device *DeviceGrant
}

// Verify checks one answer. Limits come first and cost no factor work: a
// dead or unknown challenge, an IP over its limit, a locked user, or a
// challenge out of attempts is refused before the answer is looked at.
// Then the factor verifies and consumes the answer, and the challenge is
// completed atomically: of concurrent correct answers exactly one succeeds.
//
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
	if a.Code == "" || len(a.Code) > maxAnswer {
		return nil, invalidInput("answer must be 1 to %d bytes", maxAnswer)
	}
	if f, ok := s.byMethod[a.Method]; ok {
		if ac, ok := f.(AnswerChecker); ok {
			if err := ac.CheckAnswer(a.Code); err != nil {
				return nil, err
			}
		}
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

	// Limits before any factor work: the lockout is read, then the
	// challenge's attempt and the client IP's are counted in one batch.
	failures, err := s.checkLocked(ctx, ch.User.ID, a.Client, ch.ID, ch.Purpose)
	if err != nil {
		return nil, err
	}
	incrs := []store.CounterIncr{{Key: keyAttempts + ch.ID, Window: ch.ExpiresAt.Sub(s.now())}}
	if a.Client.IP.IsValid() {
		incrs = append(incrs, store.CounterIncr{Key: keyIP + a.Client.IP.Unmap().String(), Window: s.limits.IPWindow})
	}
	counts, err := store.IncrAll(ctx, s.store, incrs)
	if err != nil {
		return fail(fmt.Errorf("twofactor: counting attempts: %w", err))
	}
	if len(counts) > 1 && counts[1].N > int64(s.limits.MaxIPAttempts) {
		return fail(NewRetryError(ErrRateLimited, "ip", s.now(), counts[1].ResetAt))
	}
	// The attempt counter is never reset: it lives as long as the
	// challenge, so however requests interleave, at most MaxAttempts
	// answers per challenge reach the factor.
	n := counts[0].N
	if n > int64(s.limits.MaxAttempts) {
		return fail(ErrTooManyAttempts)
	}

	v, verr := f.Verify(ctx, ch, a.Code)
	if verr != nil {
		if !errors.Is(verr, ErrInvalidCode) {
			return fail(fmt.Errorf("twofactor: %s verification: %w", a.Method, verr))
		}
		ev.Type, ev.Reason = EventFailure, reasonOf(verr)
		s.emit(ctx, ev)
		s.countFailure(ctx, ch, a.Client)
		if n >= int64(s.limits.MaxAttempts) {
			// The challenge is spent: its codes die now, and the counter
			// refuses every later answer. The record is marked spent, not
			// deleted, so that an answer already in flight (a double
			// submit) that matched can still complete it.
			if err := s.save(ctx, ch, true); err != nil {
				s.emit(ctx, Event{Type: EventWarning, UserID: ch.User.ID, ChallengeID: ch.ID, Reason: "mark_spent_failed"})
			}
			s.cleanup(ctx, ch)
			return nil, ErrTooManyAttempts
		}
		return nil, ErrInvalidCode
	}

	// Complete the challenge: exactly one caller takes it.
	if _, err := s.store.TakeState(ctx, keyChallenge+ch.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fail(ErrChallengeNotFound)
		}
		return fail(fmt.Errorf("twofactor: completing challenge: %w", err))
	}
	s.cleanup(ctx, ch)
	if failures > 0 {
		if err := s.store.ResetCounter(ctx, keyUserFail+ch.User.ID); err != nil {
			s.emit(ctx, Event{Type: EventWarning, UserID: ch.User.ID, Reason: "reset_failures: " + err.Error()})
		}
	}
	now := s.now()
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
			s.emit(ctx, Event{Type: EventWarning, UserID: ch.User.ID, ChallengeID: ch.ID, Reason: "remember_device_failed"})
		} else {
			res.Device = &g
		}
	}
	return res, nil
}

// countFailure adds a failure to the user's lockout counter and reports the
// lockout when this failure reaches the limit.
func (s *Service) countFailure(ctx context.Context, ch *Challenge, c Client) {
	n, reset, err := s.store.Incr(ctx, keyUserFail+ch.User.ID, s.limits.UserFailureWindow)
	if err != nil {
		s.emit(ctx, Event{Type: EventWarning, UserID: ch.User.ID, ChallengeID: ch.ID, Reason: "count_failure: " + err.Error()})
		return
	}
	if n == int64(s.limits.MaxUserFailures) {
		s.emit(ctx, Event{Type: EventLockout, UserID: ch.User.ID, ChallengeID: ch.ID, IP: ipString(c),
			Details: map[string]string{"until": reset.UTC().Format(time.RFC3339)}})
	}
}

// cleanup tells factors that keep per-challenge state that it ended.
func (s *Service) cleanup(ctx context.Context, ch *Challenge) {
	for _, m := range ch.Methods {
		if c, ok := s.byMethod[m].(Canceler); ok {
			if err := c.Cancel(ctx, ch); err != nil {
				s.emit(ctx, Event{Type: EventWarning, UserID: ch.User.ID, ChallengeID: ch.ID, Method: m, Reason: "cancel_failed"})
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
	ch, _, err := decodeChallenge(blob)
	if err != nil {
		return err
	}
	s.cleanup(ctx, ch)
	s.emit(ctx, Event{Type: EventCancel, UserID: ch.User.ID, ChallengeID: ch.ID, Purpose: ch.Purpose})
	return nil
}

func invalidInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}
