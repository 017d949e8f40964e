package twofactor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// Service runs the second-factor flows: login challenges, step-up, and the
// account operations around them. Build it with New; it is safe for
// concurrent use, and several instances sharing one store behave as one.
type Service struct {
	env          Env
	store        Store
	records      store.Enrollments // the store's, when it has them: Begin reads them once
	keys         *keyring.Ring
	factors      []Factor
	byMethod     map[Method]Factor
	trust        DeviceTrust
	listeners    []Listener
	opened       io.Closer // the store New opened, closed by Shutdown
	policy       Policy
	policies     map[string]Policy                                 // Config.Policies
	policyFor    func(ctx context.Context, u User) (string, error) // Config.PolicyFor
	limits       Limits
	failSteps    []store.BoundStep // limits.failureSteps(), made once
	stepUpMaxAge time.Duration
	veto         func(context.Context, VetoInput) error // Config.Veto
	tel          *telemetry                             // Config.MeterProvider and TracerProvider
	events       *event.Sink
	now          func() time.Time
	rand         io.Reader
}

// New validates cfg once, opens the store and loads the keys when cfg
// says how, builds every factor, the device trust and every listener with
// one Env, and returns the Service. Errors wrap ErrConfig (or the
// opener's or key source's error) and say what to change. Nothing is
// bound later: every part is complete when New returns.
func New(cfg Config) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	keys, err := cfg.Keys.Load()
	if err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, configErr("Config.Keys gave no keyring")
	}
	st := cfg.Store
	var opened io.Closer
	if st == nil {
		if st, err = cfg.OpenStore.OpenStore(context.Background()); err != nil {
			return nil, fmt.Errorf("twofactor: opening the store: %w", err)
		}
		opened, _ = st.(io.Closer)
	}
	s, err := build(cfg, Env{Store: st, Keys: keys, Events: cfg.Events, Users: cfg.Users, Now: cfg.Now, Rand: cfg.Rand})
	if err != nil {
		if opened != nil {
			opened.Close()
		}
		return nil, err
	}
	s.opened = opened
	return s, nil
}

// build makes the Service and its parts from env.
func build(cfg Config, env Env) (*Service, error) {
	env, err := env.WithDefaults()
	if err != nil {
		return nil, err
	}
	var tel *telemetry
	if instrumented(cfg.MeterProvider, cfg.TracerProvider) {
		if tel, err = newTelemetry(cfg.MeterProvider, cfg.TracerProvider); err != nil {
			return nil, err
		}
		// Every part gets the store wrapped, so that its calls are timed
		// and traced. A store with fewer interfaces than store.Store (a
		// host's own, for some factors only) is given as it is: a wrapper
		// must not claim interfaces the store lacks, which the parts
		// check for.
		if full, ok := env.Store.(store.Store); ok {
			env.Store = tel.wrapStore(full)
		}
	}
	// Every part emits through one Sink whose hook also hands events to
	// the listeners, once they are built; the listeners themselves get the
	// Sink without them, so their own warnings do not come back to them.
	own := *env.Events
	var listeners []Listener
	fanout := own
	fanout.Hook = func(ctx context.Context, ev event.Event) {
		tel.onEvent(ctx, ev)
		if own.Hook != nil {
			own.Hook(ctx, ev)
		}
		for _, l := range listeners {
			l.HandleEvent(ctx, ev)
		}
	}
	env.Events = &fanout
	factors := make([]Factor, len(cfg.Factors))
	for i, fc := range cfg.Factors {
		f, err := fc.NewFactor(env)
		if err != nil {
			return nil, partErr(fmt.Sprintf("Config.Factors[%d]", i), err)
		}
		if f == nil {
			return nil, configErr("Config.Factors[%d] built no factor", i)
		}
		factors[i] = f
	}
	byMethod, err := cfg.index(factors)
	if err != nil {
		return nil, err
	}
	if tel != nil {
		tel.methods = make(map[Method]bool, len(byMethod))
		for m := range byMethod {
			tel.methods[m] = true
		}
	}
	records, _ := env.Store.(store.Enrollments)
	limits := cfg.Limits.withDefaults()
	s := &Service{
		env: env, store: env.Store, records: records, keys: env.Keys, factors: factors, byMethod: byMethod,
		policy: cfg.Policy, policies: maps.Clone(cfg.Policies), policyFor: cfg.PolicyFor, limits: limits, failSteps: limits.failureSteps(),
		stepUpMaxAge: cmp.Or(cfg.StepUpMaxAge, defaultStepUpMaxAge),
		events:       env.Events, now: env.Now, rand: env.Rand,
		veto: cfg.Veto, tel: tel,
	}
	if cfg.Trust != nil {
		if s.trust, err = cfg.Trust.NewTrust(env); err != nil {
			return nil, partErr("Config.Trust", err)
		}
	}
	lenv := env
	lenv.Events = &own
	for i, lc := range cfg.Listeners {
		l, err := lc.NewListener(lenv)
		if err != nil {
			for _, started := range s.listeners {
				started.Shutdown(context.Background())
			}
			return nil, partErr(fmt.Sprintf("Config.Listeners[%d]", i), err)
		}
		s.listeners = append(s.listeners, l)
	}
	listeners = s.listeners
	return s, nil
}

// partErr names the part of Config that failed to build. Its error matches
// ErrConfig, which the part's own error may already say.
func partErr(part string, err error) error {
	if errors.Is(err, ErrConfig) {
		return fmt.Errorf("twofactor: %s: %w", part, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrConfig, part, err)
}

// Env returns the environment the Service built its parts with, for
// layers built after it (the HTTP layer seals its cookies with its keys).
func (s *Service) Env() Env { return s.env }

// Trust returns the DeviceTrust built from Config.Trust, or nil.
func (s *Service) Trust() DeviceTrust { return s.trust }

// Policy returns the service's policy: Config.Policy, every user's when
// Config.PolicyFor is nil. PolicyFor gives a user's own.
func (s *Service) Policy() Policy { return s.policy }

// Factor returns the configured factor for m.
func (s *Service) Factor(m Method) (Factor, bool) {
	f, ok := s.byMethod[m]
	return f, ok
}

// Methods returns the methods users may use (under some policy), in the
// order they are offered everywhere: Config.Policy's default first, then
// the order of Config.Factors.
func (s *Service) Methods() []Method {
	var ms []Method
	for _, f := range s.factors {
		if s.allowedAny(f.Method()) {
			ms = append(ms, f.Method())
		}
	}
	return s.defaultFirst(ms)
}

// defaultFirst moves Config.Policy's default method, when ms has it, to
// the front: the one place the order of methods is decided.
func (s *Service) defaultFirst(ms []Method) []Method {
	return defaultFirstOf(s.policy, ms)
}

// Shutdown stops the listeners (finishing what they queued, until ctx
// ends) and closes the store New opened. Call it when the app stops.
func (s *Service) Shutdown(ctx context.Context) error {
	var errs []error
	for _, l := range s.listeners {
		errs = append(errs, l.Shutdown(ctx))
	}
	if s.opened != nil {
		errs = append(errs, s.opened.Close())
	}
	return errors.Join(errs...)
}

func (s *Service) emit(ctx context.Context, ev event.Event) {
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
//
// The challenge is sealed into its id (Challenge.ID), which the caller
// keeps (in a session, a cookie) and passes to Send and Verify; the store
// keeps nothing of it until it is answered. Store round trips: one (the
// user's lockout and enrollment records; on a store without
// store.Batcher, one each), and the trusted device's record when c
// presents one.
func (s *Service) Begin(ctx context.Context, user User, c Client) (*Begun, error) {
	ctx, st := s.tel.start(ctx, stepBegin, "")
	b, err := s.begin(ctx, PurposeLogin, user, c, Requirement{})
	st.end(ctx, err)
	return b, err
}

// StepUp creates a challenge to re-verify a signed-in user before a
// sensitive action (purpose PurposeStepUp, or PurposeEnroll before adding a
// factor). Trusted devices never skip it. A user with no second factor gets
// ErrNotEnrolled.
func (s *Service) StepUp(ctx context.Context, user User, c Client, purpose Purpose) (*Challenge, error) {
	return s.StepUpFor(ctx, user, c, purpose, Requirement{})
}

// StepUpFor is StepUp for an action with a [Requirement]: the challenge
// offers only the user's methods that meet it (a phishing-resistant
// factor), so its proof passes CheckProofFor with the same requirement.
// A user who has second factors but none that meets it gets
// ErrNoQualifyingMethod: they must add one (a security key) first.
func (s *Service) StepUpFor(ctx context.Context, user User, c Client, purpose Purpose, req Requirement) (*Challenge, error) {
	ctx, st := s.tel.start(ctx, stepStepUp, "")
	v, err := s.stepUpFor(ctx, user, c, purpose, req)
	st.end(ctx, err)
	return v, err
}

// stepUpFor is StepUpFor, in its span.
func (s *Service) stepUpFor(ctx context.Context, user User, c Client, purpose Purpose, req Requirement) (*Challenge, error) {
	if req.MaxAge < 0 {
		return nil, invalidInput("Requirement.MaxAge must not be negative")
	}
	if purpose == "" {
		purpose = PurposeStepUp
	}
	if purpose == PurposeLogin || !validPurpose(purpose) {
		return nil, invalidInput("step-up purpose must be %q or %q", PurposeStepUp, PurposeEnroll)
	}
	b, err := s.begin(ctx, purpose, user, c, req)
	if err != nil {
		return nil, err
	}
	if b.Challenge == nil {
		return nil, ErrNotEnrolled
	}
	return b.Challenge, nil
}

func (s *Service) begin(ctx context.Context, purpose Purpose, user User, c Client, req Requirement) (*Begun, error) {
	if err := user.check(); err != nil {
		return nil, err
	}
	if !c.FirstFactor.valid() {
		return nil, invalidInput("unknown Client.FirstFactor %q", c.FirstFactor)
	}
	ip := ipString(c)
	// A valid trusted-device token is checked before the lockout: it is no
	// guess (it is signed and bound to this browser), and it lets the owner
	// in while someone who knows their password keeps the account locked.
	if purpose == PurposeLogin && s.trust != nil && c.DeviceToken != "" {
		ok, err := s.trust.Trusted(ctx, user, c)
		if err != nil {
			s.tel.deviceCheck(ctx, "error")
			return nil, fmt.Errorf("twofactor: checking trusted device: %w", err)
		}
		if !ok {
			s.tel.deviceCheck(ctx, "untrusted")
		} else {
			s.tel.deviceCheck(ctx, "trusted")
			s.emit(ctx, event.Event{Type: event.Trusted, UserID: user.ID, Purpose: purpose, IP: ip, UserAgent: c.UserAgent})
			return &Begun{Status: StatusTrusted}, nil
		}
	}
	pol, err := s.userPolicy(ctx, user)
	if err != nil {
		return nil, err
	}
	list, err := s.readUser(ctx, user.ID, pol, c, purpose)
	if err != nil {
		return nil, err
	}
	methods, err := s.offered(ctx, user, pol, list)
	if err != nil {
		return nil, err
	}
	if methods, err = s.qualifying(ctx, purpose, user, c, req, methods); err != nil {
		return nil, err
	}
	if len(methods) == 0 {
		s.emit(ctx, event.Event{Type: event.NoFactor, UserID: user.ID, Purpose: purpose, IP: ip, UserAgent: c.UserAgent})
		if pol.Required && purpose == PurposeLogin {
			// Only a user without a factor under a policy with a grace
			// reads (and at the first prompt writes) the grace record.
			left, ok, err := s.graceLeft(ctx, pol, user.ID, true)
			if err != nil {
				return nil, err
			}
			if ok {
				return &Begun{Status: StatusEnrollSuggested, Grace: &left}, nil
			}
			return &Begun{Status: StatusEnrollRequired}, nil
		}
		return &Begun{Status: StatusNoFactor}, nil
	}
	// A user left with recovery codes only still gets them offered, so they
	// can sign in and enroll a factor again; Check reports such users.
	now := s.now()
	ch := &Challenge{
		User:      user,
		Purpose:   purpose,
		Methods:   methods,
		CreatedAt: now,
		ExpiresAt: now.Add(s.limits.ChallengeTTL),
		IP:        ip,

		FirstFactor: c.FirstFactor,
		noRecord:    s.unrecorded(methods, list),
	}
	if err := s.seal(ch); err != nil {
		return nil, fmt.Errorf("twofactor: sealing challenge: %w", err)
	}
	s.emit(ctx, event.Event{Type: event.Begin, UserID: user.ID, ChallengeID: ch.Key(), Purpose: purpose, IP: ip, UserAgent: c.UserAgent,
		Methods: methods})
	return &Begun{Status: StatusChallenge, Challenge: ch}, nil
}

// offered returns the methods to offer user, in the order of Methods:
// those the user's policy pol allows that the user has enrolled, pol's
// default first. The user's enrollment records are read once, for every
// factor that is an Offerer; any other factor is asked for its
// Enrollments.
func (s *Service) offered(ctx context.Context, user User, pol Policy, list *recordList) ([]Method, error) {
	methods := make([]Method, 0, len(s.factors))
	for _, f := range s.factors {
		m := f.Method()
		if !pol.allows(m) {
			continue
		}
		var ok bool
		if o, isOfferer := f.(Offerer); isOfferer && list != nil {
			var err error
			if ok, err = o.Offered(user, list.records); err != nil {
				return nil, fmt.Errorf("twofactor: %s enrollments: %w", m, err)
			}
		} else {
			es, err := f.Enrollments(ctx, user)
			if err != nil {
				return nil, fmt.Errorf("twofactor: listing %s enrollments: %w", m, err)
			}
			ok = len(es) > 0
		}
		if ok {
			methods = append(methods, m)
		}
	}
	return defaultFirstOf(pol, methods), nil
}

// readUser reads, in one store round trip, what Begin needs of the user:
// their run of wrong answers, refused with ErrLocked when the next wrong
// answer would be beyond the lockout schedule, and, when a factor pol
// allows tells from them whether it is offered (an Offerer), their
// enrollment records, which it returns for offered (nil when none is
// needed).
func (s *Service) readUser(ctx context.Context, userID string, pol Policy, c Client, p Purpose) (*recordList, error) {
	var ops [2]store.Op
	batch := append(ops[:0], store.Op{Kind: store.OpPeek, Key: keyUserFail + userID})
	if s.records != nil && s.anyOfferer(pol) {
		batch = append(batch, store.Op{Kind: store.OpListEnrollments, UserID: userID})
	}
	if err := store.RunBatch(ctx, s.store, batch, s.now()); err != nil {
		return nil, fmt.Errorf("twofactor: reading the user's records: %w", err)
	}
	if err := s.lockedErr(ctx, batch[0].Counter, userID, c, "", p); err != nil {
		return nil, err
	}
	if len(batch) == 1 {
		return nil, nil
	}
	return &recordList{recs: batch[1].Records, read: true}, nil
}

// anyOfferer reports whether a factor pol allows is an Offerer.
func (s *Service) anyOfferer(pol Policy) bool {
	for _, f := range s.factors {
		if _, ok := f.(Offerer); ok && pol.allows(f.Method()) {
			return true
		}
	}
	return false
}

// unrecorded returns the bits of methods (Challenge.noRecord) whose factor
// is an Offerer and of which list, the user's records when Begin read
// them, holds none: a factor that tells from the records whether it is
// offered files its records under its method. Zero when the records were
// not read.
func (s *Service) unrecorded(methods []Method, list *recordList) uint64 {
	if list == nil || !list.read || list.err != nil {
		return 0
	}
	var bits uint64
	for i, m := range methods {
		if _, ok := s.byMethod[m].(Offerer); !ok {
			continue
		}
		if !slices.ContainsFunc(list.recs, func(r store.EnrollmentRecord) bool { return r.Method == string(m) }) {
			bits |= 1 << i
		}
	}
	return bits
}

// recorded reports whether the user may have an enrollment record of m,
// as far as Begin saw.
func (c *Challenge) recorded(m Method) bool {
	i := slices.Index(c.Methods, m)
	return i < 0 || c.noRecord&(1<<i) == 0
}

// recordList reads a user's enrollment records once, when first asked.
type recordList struct {
	ctx    context.Context
	st     store.Enrollments
	userID string
	recs   []store.EnrollmentRecord
	err    error
	read   bool
}

func (l *recordList) records() ([]store.EnrollmentRecord, error) {
	if !l.read {
		l.read = true
		l.recs, l.err = l.st.ListEnrollments(l.ctx, l.userID)
	}
	return l.recs, l.err
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
	if !ok || !ch.Offers(m) || !s.allowedAny(m) {
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
	return s.lockedErr(ctx, store.CounterValue{N: n, ResetAt: reset}, userID, c, chID, p)
}

// lockedErr is checkLocked's answer for the user's lockout counter fails.
func (s *Service) lockedErr(ctx context.Context, fails store.CounterValue, userID string, c Client, chID string, p Purpose) error {
	now := s.now()
	if until, locked := s.limits.lockedUntil(fails.N, fails.ResetAt, now); locked {
		s.emit(ctx, event.Event{Type: event.Failure, UserID: userID, ChallengeID: chID, Purpose: p, IP: ipString(c), UserAgent: c.UserAgent, Reason: event.ReasonLocked})
		return NewRetryError(ErrLocked, LimitUser, now, until)
	}
	return nil
}

// Send issues and delivers a code for method m (email, SMS) on the
// challenge. Cooldowns and caps are the factor's; they answer with a
// *RetryError matching ErrRateLimited. A user locked out gets ErrLocked, a
// challenge that ended or was revoked ErrChallengeNotFound, one whose
// answers are used up ErrTooManyAttempts, and nothing is sent.
//
// Store round trips: the factor's, with the Service's checks joined to
// its limits (a GatedSender: one for an email code, the code's storing
// going with the count); one more first for any other Sender.
func (s *Service) Send(ctx context.Context, challengeID string, m Method, c Client) (Sent, error) {
	ctx, st := s.tel.start(ctx, stepSend, m)
	v, err := s.send(ctx, challengeID, m, c)
	st.end(ctx, err)
	return v, err
}

// send is Send, in its span.
func (s *Service) send(ctx context.Context, challengeID string, m Method, c Client) (Sent, error) {
	ch, err := s.open(challengeID)
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
	if gs, ok := sender.(GatedSender); ok && gs.Gated() {
		// The factor joins the checks to its own limits' round trip.
		ch.gate = &SendGate{s: s, ch: ch, c: c}
	} else if err := s.checkLive(ctx, ch, c); err != nil {
		return Sent{}, err
	}
	ev := event.Event{UserID: ch.User.ID, ChallengeID: ch.Key(), Method: m, Purpose: ch.Purpose, IP: ipString(c), UserAgent: c.UserAgent}
	sent, err := sender.Send(ctx, ch, c)
	if g := ch.gate; g != nil && g.refused != nil {
		// The Service's own refusal, reported as checkLive's is.
		return Sent{}, g.refused
	}
	if err != nil {
		ev.Type, ev.Reason = event.SendFailed, reasonOf(err)
		if errors.Is(err, ErrRateLimited) {
			ev.Type = event.RateLimited
		}
		s.emit(ctx, ev)
		return Sent{}, err
	}
	ev.Type, ev.Label, ev.Until = event.Send, sent.Destination, sent.ExpiresAt
	s.emit(ctx, ev)
	return sent, nil
}

// Start runs a factor's begin step (WebAuthn) and returns the JSON its
// client needs. As Send does, it first checks that the challenge can
// still be answered, so that no user is asked to touch a security key for
// an answer that would be refused: a user locked out gets ErrLocked, a
// challenge that ended or was revoked ErrChallengeNotFound, one whose
// answers are used up ErrTooManyAttempts.
//
// Store round trips: one for a RecordStarter (the check and the user's
// records together), the check and then the factor's own for any other
// Starter.
func (s *Service) Start(ctx context.Context, challengeID string, m Method) (json.RawMessage, error) {
	ctx, st := s.tel.start(ctx, stepStart, m)
	v, err := s.start(ctx, challengeID, m)
	st.end(ctx, err)
	return v, err
}

// start is Start, in its span.
func (s *Service) start(ctx context.Context, challengeID string, m Method) (json.RawMessage, error) {
	ch, err := s.open(challengeID)
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
	var out json.RawMessage
	rs, withRecords := st.(RecordStarter)
	if withRecords && s.records != nil {
		recs := store.Op{Kind: store.OpListEnrollments, UserID: ch.User.ID}
		if err := s.live(ctx, ch, Client{}, true, &recs); err != nil {
			return nil, err
		}
		out, err = rs.StartRecords(ctx, ch, recs.Records)
	} else {
		if err := s.live(ctx, ch, Client{}, true, nil); err != nil {
			return nil, err
		}
		out, err = st.Start(ctx, ch)
	}
	if err != nil {
		return nil, err
	}
	s.emit(ctx, event.Event{Type: event.Start, UserID: ch.User.ID, ChallengeID: ch.Key(), Method: m, Purpose: ch.Purpose})
	return out, nil
}

// maxAnswer bounds answers; a WebAuthn assertion is a few kilobytes.
const maxAnswer = 16 << 10

// Verify checks one answer.
//
// Every answer is counted before any factor sees it, in one atomic bounded
// increment: against the challenge (MaxAttempts), the user's run of wrong
// answers (the escalating lockout) and the client's network
// (MaxIPAttempts). Whatever the interleaving of requests across app
// instances, no more answers reach a factor than the limits allow; a
// failure to count refuses the answer, and an answer a limit refuses is
// not counted against the user. Answers that are no guess do not stay on
// the user's count: a correct one ends the run of wrong answers (even one
// that loses the completion to another), and one the factor could not
// have accepted because what it answers was already used or is gone (the
// loser of a double submit, see ErrCodeReused and ErrNoCode; an
// enrollment removed while the challenge was pending, which a factor
// reports as ErrNotEnrolled and the user sees as ErrInvalidCode) is taken
// back.
//
// Then the factor verifies and consumes the answer, and the challenge is
// completed atomically: of concurrent correct answers exactly one succeeds.
// Wrong and expired codes both return ErrInvalidCode; the event says which.
// Any store or factor failure returns an error and never a Result.
//
// Store round trips: one for an email or SMS code, right or wrong (the
// count, with the checks that the challenge is live, the code's
// consumption, a CodeConsumer's, run only when the count refused nothing,
// and the challenge's end with the failure run's end and the last use,
// run only when the code matched; two with a Veto, whose verdict comes
// before the end), two for a TOTP code (the count, with the user's
// records; the time step's mark, a MarkVerifier's, with the end on its
// condition; three with a Veto or a clock drift to report), two for a
// backup code (the count, with a BatchVerifier's checks run only when the
// count refused nothing; the end); one or two for a wrong one; more on a
// store without store.Batcher. A
// right code to a challenge that a revocation (a password change, an
// administrator's reset) ended has ended it again and the user's run of
// wrong answers with it, in that round trip, before the revocation is
// read; it is refused all the same.
func (s *Service) Verify(ctx context.Context, a Answer) (*Result, error) {
	ctx, st := s.tel.start(ctx, stepVerify, a.Method)
	v, err := s.verify(ctx, a)
	st.end(ctx, err)
	return v, err
}

// verify is Verify, in its span.
func (s *Service) verify(ctx context.Context, a Answer) (*Result, error) {
	purpose := a.Purpose
	if purpose == "" {
		purpose = PurposeLogin
	}
	if ParseChallengeID(a.ChallengeID) != nil {
		return nil, ErrChallengeNotFound
	}
	// A malformed answer is refused before any store access and is not
	// counted: it reached no factor. To the user it is a wrong code; the
	// event says it was malformed.
	if s.malformed(a) {
		s.emit(ctx, event.Event{Type: event.Failure, ChallengeID: a.ChallengeID[:challengeKeyLen], Method: a.Method, Purpose: purpose,
			IP: ipString(a.Client), UserAgent: a.Client.UserAgent, Reason: event.ReasonMalformed})
		return nil, ErrMalformedCode
	}
	ch, err := s.open(a.ChallengeID)
	if err != nil {
		return nil, err
	}
	if ch.Purpose != purpose || (a.UserID != "" && a.UserID != ch.User.ID) {
		return nil, ErrChallengeNotFound
	}
	v := &verification{s: s, a: a, ch: ch, failKey: keyUserFail + ch.User.ID,
		ev: event.Event{UserID: ch.User.ID, ChallengeID: ch.Key(), Method: a.Method, Purpose: ch.Purpose, IP: ipString(a.Client), UserAgent: a.Client.UserAgent}}
	f, err := s.method(ch, a.Method)
	if err != nil {
		return v.fail(ctx, err)
	}
	rv, withRecords := f.(RecordVerifier)
	v.withRecords = withRecords && s.records != nil
	cc, consumer := f.(CodeConsumer)
	bv, batches := f.(BatchVerifier)
	batches = batches && !consumer
	var got Verified
	var verr error
	var consume store.Op  // the CodeConsumer's check of the answer
	var checks []store.Op // the BatchVerifier's
	switch {
	case consumer:
		consume, verr = cc.ConsumeOp(ch, a.Code)
		v.consumes = verr == nil
		if v.consumes {
			v.planEnd(ctx, cc)
		}
	case batches:
		checks, verr = bv.CheckOps(ch, a.Code)
		if verr != nil {
			checks = nil
		}
	}
	if err := v.count(ctx, &consume, checks); err != nil {
		return v.fail(ctx, err)
	}
	switch {
	case (consumer && !v.consumes) || (batches && verr != nil): // verr, before any store access
	case consumer:
		got, verr = cc.VerifyConsumed(ctx, ch, consume)
		got.Mark, got.CounterMark = store.Op{}, store.Op{}
	case batches && !v.withRecords:
		got, verr = bv.VerifyOps(ctx, ch, a.Code, checks)
		got.Mark, got.CounterMark = store.Op{}, store.Op{}
	case v.withRecords:
		got, verr = v.verifyRecords(ctx, f, rv, checks)
	default:
		got, verr = f.Verify(ctx, ch, a.Code)
		got.Mark, got.CounterMark = store.Op{}, store.Op{}
	}
	if verr != nil {
		return v.wrong(ctx, verr)
	}
	return v.complete(ctx, f, got)
}

// verifyRecords has f check the answer against the user's records, read
// with the count, and checks, its check operations run there (when it is
// also a BatchVerifier): with VerifyOpsMarked or VerifyMarked, whose
// marks end runs, when the Service can run them (marks), else with
// VerifyRecords. Marks that are not as checkMarks wants them are an error
// that is not the user's.
func (v *verification) verifyRecords(ctx context.Context, f Factor, rv RecordVerifier, checks []store.Op) (Verified, error) {
	if mv, ok := f.(MarkVerifier); ok && v.marks() {
		var got Verified
		var err error
		if bm, ok := f.(BatchMarkVerifier); ok {
			got, err = bm.VerifyOpsMarked(ctx, v.ch, v.a.Code, checks, v.records)
		} else {
			got, err = mv.VerifyMarked(ctx, v.ch, v.a.Code, v.records)
		}
		if err == nil {
			err = checkMarks(f, got)
		}
		return got, err
	}
	got, err := rv.VerifyRecords(ctx, v.ch, v.a.Code, v.records)
	got.Mark, got.CounterMark = store.Op{}, store.Op{} // only VerifyMarked leaves them to the Service
	return got, err
}

// checkMarks checks the marks that f's VerifyMarked returned in got: each
// an advance, and a counter only beside a mark, from a CounterVerifier.
func checkMarks(f Factor, got Verified) error {
	if got.Mark.Kind != 0 && got.Mark.Kind != store.OpAdvance {
		return fmt.Errorf("a mark of kind %s, not an advance", got.Mark.Kind)
	}
	switch {
	case got.CounterMark.Kind == 0:
		return nil
	case got.CounterMark.Kind != store.OpAdvance:
		return fmt.Errorf("a counter of kind %s, not an advance", got.CounterMark.Kind)
	case got.Mark.Kind == 0:
		return errors.New("a counter without a mark")
	}
	if _, ok := f.(CounterVerifier); !ok {
		return errors.New("a counter from a factor that is no CounterVerifier")
	}
	return nil
}

// marks reports whether the Service can run a MarkVerifier's mark in the
// round trip that ends the challenge: on a store.Batcher, with no Veto,
// whose verdict must come between the mark and the end.
func (v *verification) marks() bool {
	_, ok := v.s.store.(store.Batcher)
	return ok && v.s.veto == nil
}

// malformed reports whether a's answer can be refused unseen: empty, too
// long, or of a form its factor says it never accepts.
func (s *Service) malformed(a Answer) bool {
	if a.Code == "" || len(a.Code) > maxAnswer {
		return true
	}
	if ac, ok := s.byMethod[a.Method].(AnswerChecker); ok {
		return ac.CheckAnswer(a.Code) != nil
	}
	return false
}

// verification is one answer to a challenge, from its count on.
type verification struct {
	s       *Service
	a       Answer
	ch      *Challenge
	ev      event.Event
	failKey string
	now     time.Time
	// What count found: the challenge's answers, the user's run of wrong
	// answers, and when that run started.
	attempts, fails store.CounterValue
	start           time.Time
	// withRecords is set when the factor is a RecordVerifier: count reads
	// the user's records into records, in its batch.
	withRecords bool
	records     []store.EnrollmentRecord
	// consumes is set when the factor is a CodeConsumer that gave its
	// check of the answer: count runs it in its batch, when the count
	// admits the answer, and sets its result.
	consumes bool
	// fused is set when the challenge's end goes in count's batch, on the
	// condition that the CodeConsumer's check matched (planEnd): endGot
	// is what a match verifies, and ended the end's operation once it ran.
	fused  bool
	endGot Verified
	ended  store.Op
	// incrs, endIncr and ops hold count's bounded increments and batch,
	// and end's, so they take no allocation of their own.
	incrs   [4]store.BoundedIncr
	endIncr [1]store.BoundedIncr
	ops     [7]store.Op
}

// planEnd puts the challenge's end, the end of the user's run of wrong
// answers and the last use in the round trip that counts the answer and
// checks the code, each on the condition that the code matched
// (store.Op.If naming the check): an email or SMS code's Verify is then
// one round trip. It does so only on a store.Batcher and with no Veto,
// whose verdict must come between the check and the end; what a match
// verifies comes from the factor, asked before the check runs.
func (v *verification) planEnd(ctx context.Context, cc CodeConsumer) {
	if v.s.veto != nil {
		return
	}
	if _, ok := v.s.store.(store.Batcher); !ok {
		return
	}
	got, err := cc.VerifyConsumed(ctx, v.ch, store.Op{Kind: store.OpConsumeCode, Status: store.CodeMatched})
	if err != nil {
		return
	}
	v.fused, v.endGot = true, got
}

// endOps appends to ops the operations of end (the challenge's end, the
// run's end, the last use when the factor records one), each conditional
// on operation cond (one-based; 0 for none).
func (v *verification) endOps(ops []store.Op, got Verified, cond int, now time.Time) []store.Op {
	end := v.s.endOp(v.ch, v.endIncr[:0])
	end.If = cond
	ops = append(ops, end, store.Op{Kind: store.OpResetCounter, Key: v.failKey, If: cond})
	// A method of which Begin saw no record (an email address the host
	// gives, which the factor records only when its enrollments are
	// listed) has no last use to write: the UPDATE would match no row.
	if got.RecordUse && got.EnrollmentID != "" && v.s.records != nil && v.ch.recorded(v.a.Method) {
		ops = append(ops, store.Op{Kind: store.OpTouchEnrollment, UserID: v.ch.User.ID, ID: got.EnrollmentID, Time: now, If: cond})
	}
	return ops
}

// fail reports err as the outcome, in an event.
func (v *verification) fail(ctx context.Context, err error) (*Result, error) {
	v.ev.Type, v.ev.Reason = event.Failure, reasonOf(err)
	if errors.Is(err, ErrRateLimited) {
		v.ev.Type = event.RateLimited
	}
	v.s.emit(ctx, v.ev)
	return nil, err
}

// count counts the answer before any factor sees it, against the
// challenge, the user and the client network, in one atomic step that
// refuses it when a limit is reached (store.IncrAllBelow): a refused answer
// is no guess and is not counted against the user, so it needs no
// give-back. It still spends one of the challenge's answers and counts
// against the client network. The attempt counter lives as long as the
// challenge and is never reset, so at most MaxAttempts answers per
// challenge reach the factor; the user's counter is the lockout, its bound
// growing with the run's age as the schedule lets more answers in.
//
// The same step checks that the challenge was neither completed nor
// cancelled (its done counter, a check that is never counted), and, in
// the same round trip (store.RunBatch), reads the time before which the
// user's challenges were revoked, and the user's records when the factor
// checks the answer against them (a RecordVerifier): an answer to a
// revoked challenge, which only a password change or an administrator's
// reset makes, gives its count on the user back. A CodeConsumer's check
// of the answer goes in the same round trip, run only when the count
// refused nothing, and so do a BatchVerifier's checks, whose results are
// set in checks; one that ran for a revoked challenge has used a code
// that could no longer complete it.
func (v *verification) count(ctx context.Context, consume *store.Op, checks []store.Op) error {
	s, ch := v.s, v.ch
	v.now = s.now()
	key := ch.Key()
	incrs := append(v.incrs[:0],
		store.BoundedIncr{Key: keyDone + key, Window: time.Millisecond, Max: 1, Check: true},
		store.BoundedIncr{Key: keyAttempts + key, Window: ch.ExpiresAt.Sub(v.now), Max: int64(s.limits.MaxAttempts), CountRefused: true},
		store.BoundedIncr{Key: v.failKey, Window: s.limits.FailureMemory, Max: int64(s.limits.MaxUserFailures), Steps: s.failSteps},
	)
	if v.a.Client.IP.IsValid() {
		incrs = append(incrs, store.BoundedIncr{Key: s.ipCounterKey(v.a.Client.IP), Window: s.limits.IPWindow,
			Max: int64(s.limits.MaxIPAttempts), CountRefused: true})
	}
	// The reads go first: on SQL a batch is a transaction, and the counters'
	// rows (the client network's is shared) stay locked from the increment
	// to the commit, which should follow at once.
	ops := append(v.ops[:0], store.Op{Kind: store.OpGetState, Key: keyProofsBefore + ch.User.ID})
	if v.withRecords {
		ops = append(ops, store.Op{Kind: store.OpListEnrollments, UserID: ch.User.ID})
	}
	ops = append(ops, store.Op{Kind: store.OpIncrBelow, Incrs: incrs})
	counted := len(ops) - 1
	if v.consumes {
		op := *consume
		op.If = counted + 1
		ops = append(ops, op)
		if v.fused {
			ops = v.endOps(ops, v.endGot, counted+2, v.now)
		}
	}
	base := len(ops)
	ops, err := v.withChecks(ops, checks, counted+1)
	if err != nil {
		return err
	}
	if err := store.RunBatch(ctx, s.store, ops, v.now); err != nil {
		return fmt.Errorf("twofactor: counting attempts: %w", err)
	}
	for i := range checks {
		cond := checks[i].If
		checks[i] = ops[base+i]
		checks[i].If = cond
	}
	if v.withRecords {
		v.records = ops[1].Records
	}
	if v.consumes {
		*consume = ops[counted+1]
		if v.fused {
			v.ended = ops[counted+2]
		}
	}
	counts := ops[counted].Bounded
	v.attempts = store.CounterValue{N: counts[1].N, ResetAt: counts[1].ResetAt}
	v.fails = store.CounterValue{N: counts[2].N, ResetAt: counts[2].ResetAt}
	v.start = s.limits.runStart(v.fails.ResetAt)
	revoked, err := revokedAt(ch, ops[0])
	if err != nil || revoked {
		if counts[2].Incremented {
			s.takeBack(ctx, ch, v.failKey)
		}
		if err != nil {
			return err
		}
		return ErrChallengeNotFound
	}
	switch {
	case counts[0].Full:
		return ErrChallengeNotFound
	case len(counts) > 3 && counts[3].Full:
		return NewRetryError(ErrRateLimited, LimitIP, v.now, counts[3].ResetAt)
	case counts[1].Full:
		return ErrTooManyAttempts
	case counts[2].Full:
		// The next answer would be the (N+1)-th wrong one in a row.
		return NewRetryError(ErrLocked, LimitUser, v.now, s.limits.unlockAt(v.fails.N+1, v.start, v.fails.ResetAt))
	}
	return nil
}

// withChecks appends to ops a BatchVerifier's checks, each on the
// condition of the count (count, one-based) or of the check its If names
// among them.
func (v *verification) withChecks(ops, checks []store.Op, count int) ([]store.Op, error) {
	base := len(ops)
	for i, op := range checks {
		switch {
		case op.If == 0:
			op.If = count
		case op.If > 0 && op.If <= i:
			op.If += base
		default:
			return nil, fmt.Errorf("twofactor: %s check %d has If %d, which names none of the checks before it", v.a.Method, i, op.If)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// revokedAt reports whether ch was begun before the time its user's
// challenges and proofs were revoked, which op (an OpGetState of
// keyProofsBefore) read.
func revokedAt(ch *Challenge, op store.Op) (bool, error) {
	if !op.Found {
		return false, nil
	}
	before, err := strconv.ParseInt(string(op.Value), 10, 64)
	if err != nil {
		return false, fmt.Errorf("twofactor: reading revocation: %w", err)
	}
	return ch.CreatedAt.UnixMilli() <= before, nil
}

// checkLive refuses, in one store round trip, a step on a challenge that
// can no longer be answered, before it sends anything: its user is locked
// out (ErrLocked), it was completed, cancelled or revoked
// (ErrChallengeNotFound), or its answers are used up
// (ErrTooManyAttempts).
func (s *Service) checkLive(ctx context.Context, ch *Challenge, c Client) error {
	return s.live(ctx, ch, c, true, nil)
}

// live is checkLive, which leaves out the lockout when lockout is false,
// and runs with, when not nil, in the same round trip (its results are
// set when the error is nil).
func (s *Service) live(ctx context.Context, ch *Challenge, c Client, lockout bool, with *store.Op) error {
	key := ch.Key()
	all := [...]store.Op{
		{Kind: store.OpPeek, Key: keyUserFail + ch.User.ID},
		{Kind: store.OpGetState, Key: keyProofsBefore + ch.User.ID},
		{Kind: store.OpPeek, Key: keyDone + key},
		{Kind: store.OpPeek, Key: keyAttempts + key},
		{},
	}
	ops := all[:4]
	if with != nil {
		ops = all[:]
		ops[4] = *with
	}
	if err := store.RunBatch(ctx, s.store, ops, s.now()); err != nil {
		return fmt.Errorf("twofactor: reading the challenge's state: %w", err)
	}
	if with != nil {
		*with = ops[4]
	}
	revoked, err := revokedAt(ch, ops[1])
	switch {
	case err != nil:
		return err
	case revoked || ops[2].Counter.N > 0:
		return ErrChallengeNotFound
	case ops[3].Counter.N >= int64(s.limits.MaxAttempts):
		return ErrTooManyAttempts
	}
	if !lockout {
		return nil
	}
	return s.lockedErr(ctx, ops[0].Counter, ch.User.ID, c, key, ch.Purpose)
}

// wrong handles an answer the factor refused.
func (v *verification) wrong(ctx context.Context, verr error) (*Result, error) {
	s, ch := v.s, v.ch
	if errors.Is(verr, ErrNotEnrolled) && !errors.Is(verr, ErrInvalidCode) {
		// The enrollment the challenge offered is gone: to the user a
		// wrong code, not a system error.
		verr = errEnrollmentGone
	}
	if !errors.Is(verr, ErrInvalidCode) {
		return v.fail(ctx, fmt.Errorf("twofactor: %s verification: %w", v.a.Method, verr))
	}
	v.ev.Type, v.ev.Reason = event.Failure, reasonOf(verr)
	s.emit(ctx, v.ev)
	if v.ev.Reason == event.ReasonReplay || v.ev.Reason == event.ReasonNoCode || v.ev.Reason == event.ReasonNotEnrolled {
		// A code that was right but already used (a TOTP step taken by a
		// concurrent login), or an answer with nothing live to check it
		// against (the code its twin just consumed, an enrollment removed
		// meanwhile): it could never succeed, so it is no guess.
		s.takeBack(ctx, ch, v.failKey)
	} else if v.fails.N == s.limits.allowedFailures(v.start, v.now) {
		s.emit(ctx, event.Event{Type: event.Lockout, UserID: ch.User.ID, ChallengeID: ch.Key(), IP: v.ev.IP, UserAgent: v.ev.UserAgent,
			Count: int(v.fails.N), Until: s.limits.unlockAt(v.fails.N+1, v.start, v.fails.ResetAt)})
	}
	if v.attempts.N >= int64(s.limits.MaxAttempts) {
		// The challenge is spent: its codes die now, and the counter
		// refuses every later answer (and every send). An answer already
		// in flight that matched can still complete it.
		s.cleanup(ctx, ch, "")
		return nil, ErrTooManyAttempts
	}
	return nil, ErrInvalidCode
}

// complete ends the challenge after a right answer: exactly one caller
// takes it.
func (v *verification) complete(ctx context.Context, f Factor, got Verified) (*Result, error) {
	s, ch := v.s, v.ch
	if s.veto != nil {
		if err := v.askVeto(ctx, got); err != nil {
			return v.vetoed(ctx, err)
		}
	}
	// Ending the challenge and the user's run of wrong answers are one
	// store round trip (store.RunBatch). A correct answer ends the run
	// even when it lost the race to another (then it was no guess
	// either): the factor accepted it, which is proof of the factor.
	// The other factors' codes and ceremonies for the challenge are left
	// to expire with it: every answer checks the challenge's done counter
	// first, so nothing issued for one that ended can be used, and
	// deleting them would cost a store round trip a factor on every login.
	if err := v.end(ctx, got); err != nil {
		if errors.Is(err, errMarkTaken) {
			return v.wrong(ctx, ErrCodeReused)
		}
		if errors.Is(err, errCounterKept) {
			return v.wrong(ctx, f.(CounterVerifier).CounterRefused(ctx, ch, got, v.records))
		}
		if errors.Is(err, store.ErrNotFound) {
			return v.fail(ctx, ErrChallengeNotFound)
		}
		return v.fail(ctx, fmt.Errorf("twofactor: completing challenge: %w", err))
	}
	now := s.now()
	res := &Result{
		User: ch.User, Method: v.a.Method, Purpose: ch.Purpose,
		EnrollmentID: got.EnrollmentID, VerifiedAt: now, FirstFactor: ch.FirstFactor,
	}
	res.AMR, res.AAL, res.PhishingResistant = signInAssurance(ch.FirstFactor, assurance(f), got.AMR, ch.Purpose)
	res.Proof = s.signProof(ch.User.ID, ch.Purpose, v.a.Method, now, res.AMR, res.PhishingResistant, res.AAL)
	v.ev.Type, v.ev.Details, v.ev.EnrollmentID, v.ev.Count = event.Success, got.Details, got.EnrollmentID, got.Count
	s.emit(ctx, v.ev)
	if v.a.RememberDevice && s.trust != nil && ch.Purpose == PurposeLogin {
		g, err := s.trust.Remember(ctx, ch.User, v.a.Client)
		if err != nil {
			// The second factor passed; failing to remember the device only
			// means being asked again next time. Report it, do not fail.
			s.warn(ctx, ch, event.ReasonRememberFailed, err)
		} else {
			res.Device = &g
		}
	}
	return res, nil
}

// errMarkTaken is end's error when the factor's mark (Verified.Mark) did
// not advance: a concurrent sign-in took the time step first.
var errMarkTaken = errors.New("twofactor: the answer's mark was taken")

// errCounterKept is end's error when the factor's counter
// (Verified.CounterMark) did not rise.
var errCounterKept = errors.New("twofactor: the answer's counter did not rise")

// end completes the challenge, so that exactly one answer does, ends the
// user's run of wrong answers, whether it completed it or another answer
// had (store.ErrNotFound), and records the sign-in as the last use of the
// enrollment when the factor asks (Verified.RecordUse), in one round
// trip. With a factor's mark (Verified.Mark) the round trip starts with
// it and the rest waits on it (store.Op.If): when it does not advance,
// nothing else is written and end returns errMarkTaken. A counter
// (Verified.CounterMark) follows the mark, waiting on it, and the rest
// waits on the counter: when the counter does not rise, nothing of the
// end is written and end returns errCounterKept.
//
// On a store without store.Batcher the two are one call after the other,
// and a failure to end the run only leaves the count higher, which is the
// safe side: it is reported, and the answer stands.
func (v *verification) end(ctx context.Context, got Verified) error {
	if v.fused { // ended in count's batch, the code having matched
		if v.ended.Skipped || !v.ended.Bounded[0].Incremented {
			return store.ErrNotFound
		}
		return nil
	}
	s := v.s
	now := s.now()
	ops, cond := v.ops[:0], 0
	if got.Mark.Kind == store.OpAdvance {
		ops, cond = append(ops, got.Mark), 1
		if got.CounterMark.Kind == store.OpAdvance {
			counter := got.CounterMark
			counter.If = 1
			ops, cond = append(ops, counter), 2
		}
	}
	ops = v.endOps(ops, got, cond, now)
	touch := len(ops) == cond+3
	_, batcher := s.store.(store.Batcher)
	if !batcher {
		ops = ops[:1] // VerifyMarked is called on a Batcher only: no mark
	}
	if err := store.RunBatch(ctx, s.store, ops, now); err != nil {
		return err
	}
	if cond > 0 && !ops[0].First {
		return errMarkTaken
	}
	if cond > 1 && !ops[1].First {
		return errCounterKept
	}
	ops = ops[cond:]
	if !batcher {
		// One call after another: what follows the end only leaves the
		// count higher or the last use older, so a failure is reported
		// and the answer stands.
		if err := s.store.ResetCounter(ctx, v.failKey); err != nil {
			s.warn(ctx, v.ch, event.ReasonResetFailed, err)
		}
		if touch {
			op := store.Op{Kind: store.OpTouchEnrollment, UserID: v.ch.User.ID, ID: got.EnrollmentID, Time: now}
			if err := store.RunOp(ctx, s.store, &op, now); err != nil {
				s.warn(ctx, v.ch, event.ReasonTouchFailed, err)
			}
		}
	}
	if !ops[0].Bounded[0].Incremented {
		return store.ErrNotFound
	}
	return nil
}

// endOp is the operation that ends ch: its done counter taken from 0 to
// 1, which of concurrent calls exactly one does, kept until ch expires.
// incrs is space for its one entry.
func (s *Service) endOp(ch *Challenge, incrs []store.BoundedIncr) store.Op {
	window := max(ch.ExpiresAt.Sub(s.now()), time.Second)
	incrs = append(incrs, store.BoundedIncr{Key: keyDone + ch.Key(), Window: window, Max: 1})
	return store.Op{Kind: store.OpIncrBelow, Incrs: incrs}
}

// endChallenge ends ch (Cancel, a veto), and reports whether this call
// did (false when it had ended already).
func (s *Service) endChallenge(ctx context.Context, ch *Challenge) (bool, error) {
	ops := [1]store.Op{s.endOp(ch, nil)}
	if err := store.RunBatch(ctx, s.store, ops[:], s.now()); err != nil {
		return false, err
	}
	return ops[0].Bounded[0].Incremented, nil
}

// takeBack returns the counts of an answer that turned out not to be a
// guess. A failure only leaves the count higher, which is the safe side;
// it is reported.
func (s *Service) takeBack(ctx context.Context, ch *Challenge, keys ...string) {
	for _, k := range keys {
		if err := s.store.Decr(context.WithoutCancel(ctx), k); err != nil {
			s.warn(ctx, ch, event.ReasonTakeBackFailed, err)
		}
	}
}

// warn emits a warning about a step that failed after the outcome was
// decided.
func (s *Service) warn(ctx context.Context, ch *Challenge, reason event.Reason, err error) {
	ev := event.Event{Type: event.Warning, UserID: ch.User.ID, ChallengeID: ch.Key(), Reason: reason}
	if err != nil {
		ev.Details = map[string]string{event.DetailError: err.Error()}
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
				s.emit(ctx, event.Event{Type: event.Warning, UserID: ch.User.ID, ChallengeID: ch.Key(), Method: m, Reason: event.ReasonCancelFailed,
					Details: map[string]string{event.DetailError: err.Error()}})
			}
		}
	}
}

// Cancel ends a challenge (the user chose "cancel" and goes back to the
// login page). Every code issued for it stops working. Cancelling an unknown
// or finished challenge returns ErrChallengeNotFound.
func (s *Service) Cancel(ctx context.Context, challengeID string) error {
	ctx, st := s.tel.start(ctx, stepCancel, "")
	err := s.cancel(ctx, challengeID)
	st.end(ctx, err)
	return err
}

// cancel is Cancel, in its span.
func (s *Service) cancel(ctx context.Context, challengeID string) error {
	ch, err := s.open(challengeID)
	if err != nil {
		return err
	}
	ended, err := s.endChallenge(ctx, ch)
	if err != nil {
		return fmt.Errorf("twofactor: cancelling challenge: %w", err)
	}
	if !ended {
		return ErrChallengeNotFound
	}
	s.cleanup(ctx, ch, "")
	s.emit(ctx, event.Event{Type: event.Cancel, UserID: ch.User.ID, ChallengeID: ch.Key(), Purpose: ch.Purpose})
	return nil
}

func invalidInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}
