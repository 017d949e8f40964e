package backupcodes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
)

// Generate makes the user's first set of Count backup codes and returns
// them in plain text, formatted for display ("k7qm-3xvt-9fhd"). This is the
// only time they exist in plain text: the store keeps keyed hashes, so show
// them (or offer a download) now, once.
//
// Call it in the enrollment flow, right after the user proved their first
// factor. When the user still has unused codes it returns an error matching
// twofactor.ErrAlreadyEnrolled and changes nothing: replacing a set goes
// through Regenerate, which asks for a fresh verification. A user whose
// codes are all used counts as having none; a host that offers Generate
// outside its enrollment flow should ask for a step-up proof first, as
// Regenerate does.
func (f *Factor) Generate(ctx context.Context, user twofactor.User) ([]string, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	n, err := f.store.CountGroup(ctx, group(kindBackup, user.ID))
	if err != nil {
		return nil, fmt.Errorf("backupcodes: counting backup codes: %w", err)
	}
	if n > 0 {
		return nil, fmt.Errorf("backupcodes: %w: the user has %d unused backup codes; use Regenerate to replace them", twofactor.ErrAlreadyEnrolled, n)
	}
	return f.replace(ctx, user, "generated")
}

// Regenerate replaces the user's whole set with Count new codes and returns
// them in plain text, like Generate. Every old code stops working at once.
//
// proof must show a fresh verification of a current factor by this user
// (twofactor.Result.Proof, checked with Config.Proofs or SetProofs): a
// missing, forged, foreign or stale proof returns an error matching
// twofactor.ErrStepUpRequired and changes nothing.
//
// On a store error the old set may already be gone; the new one is then
// removed again (best effort) and the error returned, and the call can be
// repeated.
func (f *Factor) Regenerate(ctx context.Context, user twofactor.User, proof string) ([]string, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	p := f.proofs.Load()
	if p == nil {
		return nil, configErr("Regenerate needs a ProofChecker: set Config.Proofs or call SetProofs with the Service")
	}
	if err := (*p).CheckProof(ctx, proof, user.ID, twofactor.PurposeStepUp); err != nil {
		if errors.Is(err, twofactor.ErrStepUpRequired) {
			return nil, fmt.Errorf("backupcodes: %w", err)
		}
		return nil, fmt.Errorf("backupcodes: %w: checking proof: %w", twofactor.ErrStepUpRequired, err)
	}
	return f.replace(ctx, user, "regenerated")
}

// replace draws a new set, then swaps it in for the old one.
func (f *Factor) replace(ctx context.Context, user twofactor.User, action string) ([]string, error) {
	plain, hashed, err := f.newSet(user.ID, f.count)
	if err != nil {
		return nil, err
	}
	if tally, ok := f.tally(user.ID, len(hashed)); ok {
		hashed = append(hashed, tally)
	}
	groups := []string{group(kindBackup, user.ID), tallyGroup(user.ID)}
	for _, g := range groups {
		if err := f.store.DeleteGroup(ctx, g); err != nil {
			return nil, fmt.Errorf("backupcodes: deleting old codes: %w", err)
		}
	}
	for _, c := range hashed {
		if err := f.store.PutCode(ctx, c); err != nil {
			// Never leave a partial set that nobody has seen.
			for _, g := range groups {
				_ = f.store.DeleteGroup(context.WithoutCancel(ctx), g)
			}
			return nil, fmt.Errorf("backupcodes: storing codes: %w", err)
		}
	}
	f.events.Emit(ctx, twofactor.Event{Type: twofactor.EventEnroll, UserID: user.ID, Method: twofactor.MethodBackupCode,
		Details: map[string]string{"action": action, "count": strconv.Itoa(len(plain))}})
	return plain, nil
}

// newSet draws n distinct backup codes for the user and returns them
// formatted for display, and as store records.
func (f *Factor) newSet(userID string, n int) ([]string, []store.Code, error) {
	plain := make([]string, 0, n)
	hashed := make([]store.Code, 0, n)
	seen := make(map[string]bool, n)
	for len(plain) < n {
		code, err := f.layout.random(f.rand, kindBackup)
		if err != nil {
			return nil, nil, fmt.Errorf("backupcodes: drawing a code: %w", err)
		}
		if seen[code] { // 2^-60 per pair; cheap to rule out
			continue
		}
		seen[code] = true
		h := f.keys.Hash(hashDomain, hashInput(kindBackup, userID, code))
		plain = append(plain, f.layout.format(code))
		hashed = append(hashed, store.Code{Group: group(kindBackup, userID), Key: storeKey(h), Hash: h})
	}
	return plain, hashed, nil
}

// Remaining returns how many unused backup codes the user has, for the
// account page (an outstanding recovery code is not counted).
func (f *Factor) Remaining(ctx context.Context, user twofactor.User) (int, error) {
	if err := checkUser(user); err != nil {
		return 0, err
	}
	n, err := f.store.CountGroup(ctx, group(kindBackup, user.ID))
	if err != nil {
		return 0, fmt.Errorf("backupcodes: counting backup codes: %w", err)
	}
	return n, nil
}

// IssueRecoveryCode is the administrator's way back in for a locked-out
// user (lost phone and backup codes): it returns one single-use recovery
// code, valid until expires (RecoveryTTL, 24 hours by default), for
// support staff to hand over after checking the user's identity by other
// means. It replaces any recovery code issued before.
//
// The user types it where a backup code goes; it is one group longer than
// a backup code. actor names the administrator and is required (an error
// matching twofactor.ErrInvalidInput otherwise). The operation is audited
// with a twofactor.EventAdminAction (Actor, Details["action"] =
// "recovery_code_issued"); signing in with the code emits
// EventRecoveryUsed.
func (f *Factor) IssueRecoveryCode(ctx context.Context, user twofactor.User, actor string) (code string, expires time.Time, err error) {
	if err := checkUser(user); err != nil {
		return "", time.Time{}, err
	}
	if strings.TrimSpace(actor) == "" {
		return "", time.Time{}, invalid("issuing a recovery code needs the administrator's identity (actor)")
	}
	c, err := f.layout.random(f.rand, kindRecovery)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("backupcodes: drawing a code: %w", err)
	}
	expires = f.now().Add(f.recoveryTTL)
	g := group(kindRecovery, user.ID)
	h := f.keys.Hash(hashDomain, hashInput(kindRecovery, user.ID, c))
	if err := f.store.DeleteGroup(ctx, g); err != nil {
		return "", time.Time{}, fmt.Errorf("backupcodes: revoking the previous recovery code: %w", err)
	}
	if err := f.store.PutCode(ctx, store.Code{Group: g, Key: storeKey(h), Hash: h, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, fmt.Errorf("backupcodes: storing the recovery code: %w", err)
	}
	f.events.Emit(ctx, twofactor.Event{Type: twofactor.EventAdminAction, UserID: user.ID, Actor: actor,
		Method:  twofactor.MethodBackupCode,
		Details: map[string]string{"action": "recovery_code_issued", "expires": expires.UTC().Format(time.RFC3339)}})
	return f.layout.format(c), expires, nil
}
