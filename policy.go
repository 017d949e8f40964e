package twofactor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twofactorkit/twofactor/event"
)

// Grace lets a user whom a required policy finds without a second factor
// put off enrolling for a while: until the grace ends, Begin answers
// [StatusEnrollSuggested] instead of [StatusEnrollRequired], and the user
// may skip the prompt ([Service.SkipEnroll]). It ends at the first limit
// reached: the date Until, Days days after the user was first prompted, or
// Skips skips. The zero Grace gives none: the user must enroll at once.
//
// NIST SP 800-63B lets a verifier bind an authenticator after sign-in, so
// a grace is a way to roll a requirement out, not a weakening of it: the
// user is asked at every sign-in, and once it ends she reaches nothing
// before enrolling.
type Grace struct {
	// Until is a fixed deadline; zero means none.
	Until time.Time
	// Days counts from the user's first prompt; zero means no such limit.
	Days int
	// Skips is how many times the user may skip the prompt; zero means as
	// often as Until and Days allow.
	Skips int
}

// IsZero reports whether g gives no grace.
func (g Grace) IsZero() bool { return g.Until.IsZero() && g.Days == 0 && g.Skips == 0 }

// GraceLeft is what is left of a user's grace.
type GraceLeft struct {
	// Until is when the grace ends; zero when only skips bound it.
	Until time.Time
	// SkipsLeft is how many more skips the user has; -1 when the policy
	// does not count them.
	SkipsLeft int
	// Prompted is when the user was first prompted; zero when the policy
	// does not count days from it, or before the first prompt.
	Prompted time.Time
}

// The grace record: two counters per user, written only when a user
// without a second factor is prompted (the first time) or skips. Counters
// are atomic, so concurrent skips each count. The first prompt's counter
// is created once and never incremented after; its window's end, less
// graceMemory, is the first prompt's time. Both are kept for graceMemory,
// so a grace is given once per user in that time.
const (
	keyGracePrompt = "tf:gp:" // counter: its window starts at the user's first prompt
	keyGraceSkips  = "tf:gs:" // counter: the user's skips
	graceMemory    = 10 * 365 * 24 * time.Hour
)

// left computes what is left of g for a user first prompted at first
// (zero: never) who skipped skips times. ok is false when the grace is
// over.
func (g Grace) left(first time.Time, skips int64, now time.Time) (GraceLeft, bool) {
	if g.IsZero() {
		return GraceLeft{}, false
	}
	out := GraceLeft{Until: g.Until, SkipsLeft: -1}
	if g.Days > 0 {
		start := first
		if start.IsZero() {
			start = now
		} else {
			out.Prompted = first
		}
		end := start.Add(time.Duration(g.Days) * 24 * time.Hour)
		if out.Until.IsZero() || end.Before(out.Until) {
			out.Until = end
		}
	}
	if g.Skips > 0 {
		out.SkipsLeft = max(g.Skips-int(skips), 0)
		if out.SkipsLeft == 0 {
			return out, false
		}
	}
	if !out.Until.IsZero() && !now.Before(out.Until) {
		return out, false
	}
	return out, true
}

// checkPolicy checks one policy against the configured factors. name is
// how errors name it ("Policy", "Policies[\"admin\"]").
func checkPolicy(name string, p Policy, factors []Factor, byMethod map[Method]Factor) error {
	for _, m := range slices.Concat(p.Methods, p.Mandatory) {
		if _, ok := byMethod[m]; !ok {
			return configErr("%s names method %q but no factor for it is configured", name, m)
		}
	}
	for _, m := range p.Mandatory {
		if p.Methods != nil && !slices.Contains(p.Methods, m) {
			return configErr("%s.Mandatory method %q is not in %s.Methods", name, m, name)
		}
	}
	if p.Default != "" {
		if _, ok := byMethod[p.Default]; !ok {
			return configErr("%s.Default %q has no configured factor", name, p.Default)
		}
		if p.Methods != nil && !slices.Contains(p.Methods, p.Default) {
			return configErr("%s.Default %q is not in %s.Methods", name, p.Default, name)
		}
	}
	if p.Required {
		primary := false
		for _, f := range factors {
			if p.allows(f.Method()) && !isRecovery(f) {
				primary = true
			}
		}
		if !primary {
			return configErr("%s.Required needs at least one allowed factor that is not recovery-only", name)
		}
	}
	g := p.Grace
	switch {
	case !g.IsZero() && !p.Required:
		return configErr("%s.Grace is set but %s.Required is not: a grace is for a required second factor", name, name)
	case g.Days < 0 || g.Skips < 0:
		return configErr("%s.Grace.Days and Skips must not be negative (zero means no such limit)", name)
	}
	return nil
}

// checkPolicies checks Config.Policies and PolicyFor.
func (cfg *Config) checkPolicies(factors []Factor, byMethod map[Method]Factor) error {
	if len(cfg.Policies) > 0 && cfg.PolicyFor == nil {
		return configErr("Config.Policies is set but Config.PolicyFor is nil: say which users each policy is for")
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Policies)) {
		if name == "" {
			return configErr("Config.Policies has an empty name: Config.Policy is the policy PolicyFor names with \"\"")
		}
		if err := checkPolicy(fmt.Sprintf("Policies[%q]", name), cfg.Policies[name], factors, byMethod); err != nil {
			return err
		}
	}
	return nil
}

func (p Policy) allows(m Method) bool {
	return p.Methods == nil || slices.Contains(p.Methods, m)
}

// PolicyFor returns the policy of user u and its name in Config.Policies
// ("" for Config.Policy), as Config.PolicyFor decides it now: nothing is
// cached, so a change to what it answers applies at the next call. A name
// PolicyFor gives that Config.Policies lacks is an error, and so is its
// own: callers fail closed.
func (s *Service) PolicyFor(ctx context.Context, u User) (name string, p Policy, err error) {
	if s.policyFor == nil {
		return "", s.policy, nil
	}
	name, err = s.policyFor(ctx, u)
	if err != nil {
		return "", Policy{}, fmt.Errorf("twofactor: deciding the policy of %q: %w", u.ID, err)
	}
	if name == "" {
		return "", s.policy, nil
	}
	p, ok := s.policies[name]
	if !ok {
		return "", Policy{}, fmt.Errorf("twofactor: Config.PolicyFor named policy %q for %q, which Config.Policies lacks", name, u.ID)
	}
	return name, p, nil
}

// Policies returns the named policies of Config.Policies (a copy).
func (s *Service) Policies() map[string]Policy { return maps.Clone(s.policies) }

// userPolicy is PolicyFor without the name.
func (s *Service) userPolicy(ctx context.Context, u User) (Policy, error) {
	_, p, err := s.PolicyFor(ctx, u)
	return p, err
}

// allowedAny reports whether some policy allows m.
func (s *Service) allowedAny(m Method) bool {
	if s.policy.allows(m) {
		return true
	}
	for _, p := range s.policies {
		if p.allows(m) {
			return true
		}
	}
	return false
}

// defaultFirstOf moves p's default method, when ms has it, to the front.
func defaultFirstOf(p Policy, ms []Method) []Method {
	if i := slices.Index(ms, p.Default); i > 0 {
		ms = slices.Insert(slices.Delete(ms, i, i+1), 0, p.Default)
	}
	return ms
}

// EnrollGrace reports what is left of the enrollment grace of user u
// under their policy. ok is false when the policy gives no grace (it does
// not require a factor, or has no Grace) or the grace is over. It does not
// look at the user's enrollments, and it writes nothing: before the first
// prompt, a grace of Days counts from now.
func (s *Service) EnrollGrace(ctx context.Context, u User) (GraceLeft, bool, error) {
	if err := u.check(); err != nil {
		return GraceLeft{}, false, err
	}
	p, err := s.userPolicy(ctx, u)
	if err != nil {
		return GraceLeft{}, false, err
	}
	return s.graceLeft(ctx, p, u.ID, false)
}

// graceLeft reads the user's grace record, and creates its first prompt
// when prompt is set and the policy counts days from it. It reads only
// what the policy's grace needs: nothing for a date alone.
func (s *Service) graceLeft(ctx context.Context, p Policy, userID string, prompt bool) (GraceLeft, bool, error) {
	g := p.Grace
	if !p.Required || g.IsZero() {
		return GraceLeft{}, false, nil
	}
	now := s.now()
	var first time.Time
	if g.Days > 0 {
		n, reset, err := s.store.Peek(ctx, keyGracePrompt+userID)
		if err != nil {
			return GraceLeft{}, false, fmt.Errorf("twofactor: reading the enrollment grace: %w", err)
		}
		if n == 0 && prompt {
			// Concurrent first prompts both increment; the window, and
			// so the first prompt's time, is the first one's.
			if _, reset, err = s.store.Incr(ctx, keyGracePrompt+userID, graceMemory); err != nil {
				return GraceLeft{}, false, fmt.Errorf("twofactor: recording the first enrollment prompt: %w", err)
			}
			n = 1
		}
		if n > 0 {
			first = reset.Add(-graceMemory)
		}
	}
	var skips int64
	if g.Skips > 0 {
		n, _, err := s.store.Peek(ctx, keyGraceSkips+userID)
		if err != nil {
			return GraceLeft{}, false, fmt.Errorf("twofactor: reading the enrollment grace: %w", err)
		}
		skips = n
	}
	left, ok := g.left(first, skips, now)
	return left, ok, nil
}

// SkipEnroll records that user u, prompted to enroll during their grace
// (Begin answered StatusEnrollSuggested), chose to go on without a second
// factor this time, and returns what is left of the grace after this
// skip. It returns ErrEnrollRequired when the grace is over or the policy
// gives none. Each skip is
// counted atomically, so concurrent skips cannot exceed Grace.Skips. It
// emits an event.EnrollSkipped.
func (s *Service) SkipEnroll(ctx context.Context, u User) (GraceLeft, error) {
	if err := u.check(); err != nil {
		return GraceLeft{}, err
	}
	p, err := s.userPolicy(ctx, u)
	if err != nil {
		return GraceLeft{}, err
	}
	left, ok, err := s.graceLeft(ctx, p, u.ID, true)
	if err != nil {
		return GraceLeft{}, err
	}
	if !ok {
		return GraceLeft{}, ErrEnrollRequired
	}
	if p.Grace.Skips > 0 {
		n, _, err := s.store.Incr(ctx, keyGraceSkips+u.ID, graceMemory)
		if err != nil {
			return GraceLeft{}, fmt.Errorf("twofactor: counting the skip: %w", err)
		}
		if n > int64(p.Grace.Skips) {
			return GraceLeft{}, ErrEnrollRequired
		}
		left.SkipsLeft = p.Grace.Skips - int(n)
	}
	s.emit(ctx, event.Event{Type: event.EnrollSkipped, UserID: u.ID, Until: left.Until, Count: max(left.SkipsLeft, 0)})
	return left, nil
}

// A GraceRecord is what the store keeps of a user's enrollment grace:
// when they were first prompted (zero: never, or not under a policy that
// counts days) and how often they skipped (counted only under a policy
// that limits skips). Both are kept for ten years.
type GraceRecord struct {
	Prompted time.Time
	Skips    int
}

// GraceRecord reads the grace record of the user with userID, for an
// administrator's tools: it needs no policy, and writes nothing.
func (s *Service) GraceRecord(ctx context.Context, userID string) (GraceRecord, error) {
	if err := CheckUserID(userID); err != nil {
		return GraceRecord{}, err
	}
	var rec GraceRecord
	n, reset, err := s.store.Peek(ctx, keyGracePrompt+userID)
	if err != nil {
		return rec, fmt.Errorf("twofactor: reading the enrollment grace: %w", err)
	}
	if n > 0 {
		rec.Prompted = reset.Add(-graceMemory)
	}
	skips, _, err := s.store.Peek(ctx, keyGraceSkips+userID)
	if err != nil {
		return rec, fmt.Errorf("twofactor: reading the enrollment grace: %w", err)
	}
	rec.Skips = int(skips)
	return rec, nil
}
