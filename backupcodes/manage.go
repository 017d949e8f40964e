package backupcodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
)

// BeginEnroll makes a new set of Count backup codes for the user, active
// at once, and returns them in Enrolling.Codes, formatted for display
// ("k7qm-3xvt-9fhd"). This is the only time they exist in plain text: the
// store keeps keyed hashes, so show them (or offer a download) now, once.
// A set the user had is replaced: every old code stops working at once.
// There is nothing to confirm (see ConfirmEnroll); req is not used.
//
// Issuing a set is the enrollment: it emits event.Enroll with
// Action event.ActionBackupCodesCreated (the user had no set) or
// event.ActionBackupCodesReplaced (a set was replaced), and Count the
// number of codes issued.
//
// twofactor.Service.ConfirmEnroll calls it when a user's first second
// factor is confirmed. To make a new set later, call
// twofactor.Service.BeginEnroll with twofactor.MethodBackupCode and the
// proof of a fresh step-up: it refuses a user who has a factor (backup
// codes included) without one. A host calling this method directly must
// check that itself.
//
// On a store error the old set may already be gone; the new one is then
// removed again (best effort) and the error returned, and the call can be
// repeated. Two calls at once for the same user may leave a mix of both
// sets: make one at a time.
func (f *Factor) BeginEnroll(ctx context.Context, user twofactor.User, _ twofactor.EnrollRequest) (*twofactor.Enrolling, error) {
	if err := checkUser(user); err != nil {
		return nil, err
	}
	plain, hashed, err := f.newSet(user.ID, f.count)
	if err != nil {
		return nil, err
	}
	oldSize, err := f.setSize(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	g := group(kindBackup, user.ID)
	if err := f.store.DeleteGroup(ctx, g); err != nil {
		return nil, fmt.Errorf("backupcodes: deleting old codes: %w", err)
	}
	// Never leave a partial set that nobody has seen.
	discard := func(err error) (*twofactor.Enrolling, error) {
		_ = f.store.DeleteGroup(context.WithoutCancel(ctx), g)
		return nil, err
	}
	// The codes, the old set's counts of uses dropped and the new one's
	// started, in one round trip (store.RunBatch).
	ops := make([]store.Op, 0, len(hashed)+3)
	for _, c := range hashed {
		ops = append(ops, store.PutCodeOp(c))
	}
	for _, k := range f.usesKeys(user.ID, oldSize) {
		ops = append(ops, store.Op{Kind: store.OpResetCounter, Key: k})
	}
	if f.lowThreshold >= 0 {
		ops = append(ops, store.Op{Kind: store.OpIncrBelow, Incrs: []store.BoundedIncr{{Key: usesKey(len(hashed), user.ID), Window: usesWindow, Max: math.MaxInt64}}})
	}
	if err := store.RunBatch(ctx, f.store, ops, f.now()); err != nil {
		return discard(fmt.Errorf("backupcodes: storing codes: %w", err))
	}
	if err := f.dropLegacyTally(ctx, user.ID, oldSize); err != nil {
		return discard(err)
	}
	if err := f.putSetRecord(ctx, user.ID, len(hashed)); err != nil {
		return discard(err)
	}
	action := event.ActionBackupCodesCreated
	if oldSize > 0 {
		action = event.ActionBackupCodesReplaced
	}
	f.events.Emit(ctx, event.Event{Type: event.Enroll, UserID: user.ID, Method: twofactor.MethodBackupCode,
		Action: action, EnrollmentID: EnrollmentBackupCodes, Label: setLabel, Count: len(plain)})
	return &twofactor.Enrolling{Method: twofactor.MethodBackupCode, Codes: plain}, nil
}

// ConfirmEnroll returns an error matching twofactor.ErrNotEnrolled: a set
// of backup codes is active as soon as BeginEnroll returns it, so there is
// nothing to confirm.
func (f *Factor) ConfirmEnroll(context.Context, twofactor.User, string) (twofactor.Enrollment, error) {
	return twofactor.Enrollment{}, fmt.Errorf("backupcodes: %w: backup codes need no confirmation", twofactor.ErrNotEnrolled)
}

// setLabel is the label of the record of a user's set of backup codes.
const setLabel = "Backup codes"

// setData is what the record of a user's set of backup codes holds; the
// record's own fields say when the set was made and last used.
type setData struct {
	Count int `json:"count"` // the set's size
}

// putSetRecord stores the record of the user's set of size codes, made
// now.
func (f *Factor) putSetRecord(ctx context.Context, userID string, size int) error {
	data, err := json.Marshal(setData{Count: size})
	if err != nil {
		return err
	}
	if err := f.store.PutEnrollment(ctx, store.EnrollmentRecord{
		UserID: userID, ID: EnrollmentBackupCodes, Method: string(twofactor.MethodBackupCode),
		Label: setLabel, Data: data, CreatedAt: f.now(),
	}); err != nil {
		return fmt.Errorf("backupcodes: storing the set's record: %w", err)
	}
	return nil
}

// setSize returns the size of the user's set from its record: zero when
// there is none (no set, or one made before sets had records). The size
// only tells which count of uses to drop with the set, so a record that
// does not decode reads as none rather than stop the set from being
// replaced or removed.
func (f *Factor) setSize(ctx context.Context, userID string) (int, error) {
	rec, err := f.store.GetEnrollment(ctx, userID, EnrollmentBackupCodes)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("backupcodes: reading the set's record: %w", err)
	}
	var d setData
	if json.Unmarshal(rec.Data, &d) != nil {
		return 0, nil
	}
	return d.Count, nil
}

// legacyTallyGroup is where sets made before the uses counter kept a
// tally record; it is deleted with the set.
func legacyTallyGroup(userID string) string { return "backup-uses:" + userID }

// usesKeys returns the keys of what may count the uses of the user's set
// of oldSize codes (zero: no record of it): the counter of a set of the
// configured size, and of one of oldSize.
func (f *Factor) usesKeys(userID string, oldSize int) []string {
	keys := []string{usesKey(f.count, userID)}
	if oldSize > 0 && oldSize != f.count {
		keys = append(keys, usesKey(oldSize, userID))
	}
	return keys
}

// dropSetState deletes what counted the uses of the user's old set of
// oldSize codes (zero: no record of it).
func (f *Factor) dropSetState(ctx context.Context, userID string, oldSize int) error {
	for _, k := range f.usesKeys(userID, oldSize) {
		if err := f.store.ResetCounter(ctx, k); err != nil {
			return fmt.Errorf("backupcodes: resetting the count of uses: %w", err)
		}
	}
	return f.dropLegacyTally(ctx, userID, oldSize)
}

// dropLegacyTally deletes the tally of uses that a set with no record
// (oldSize zero) may have kept before sets had a counter.
func (f *Factor) dropLegacyTally(ctx context.Context, userID string, oldSize int) error {
	if oldSize == 0 {
		if err := f.store.DeleteGroup(ctx, legacyTallyGroup(userID)); err != nil {
			return fmt.Errorf("backupcodes: deleting old codes: %w", err)
		}
	}
	return nil
}

// removeSet deletes the user's set of backup codes, what counted its uses
// and its record.
func (f *Factor) removeSet(ctx context.Context, userID string) error {
	size, err := f.setSize(ctx, userID)
	if err != nil {
		return err
	}
	if err := f.store.DeleteGroup(ctx, group(kindBackup, userID)); err != nil {
		return fmt.Errorf("backupcodes: deleting codes: %w", err)
	}
	if err := f.dropSetState(ctx, userID, size); err != nil {
		return err
	}
	if err := f.store.DeleteEnrollment(ctx, userID, EnrollmentBackupCodes); err != nil {
		return fmt.Errorf("backupcodes: deleting the set's record: %w", err)
	}
	return nil
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
// with a event.AdminAction with Action
// event.ActionRecoveryCodeIssued, the Actor and Until (when the code
// expires); signing in with the code emits EventRecoveryUsed.
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
	now := f.now()
	expires = now.Add(f.recoveryTTL)
	g := group(kindRecovery, user.ID)
	h := f.keys.Hash(hashDomain, hashInput(kindRecovery, user.ID, c))
	if err := f.store.DeleteGroup(ctx, g); err != nil {
		return "", time.Time{}, fmt.Errorf("backupcodes: revoking the previous recovery code: %w", err)
	}
	if err := f.store.PutCode(ctx, store.Code{Group: g, Key: storeKey(h), Hash: h, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, fmt.Errorf("backupcodes: storing the recovery code: %w", err)
	}
	if err := f.store.PutEnrollment(ctx, store.EnrollmentRecord{
		UserID: user.ID, ID: EnrollmentRecoveryCode, Method: string(twofactor.MethodBackupCode),
		Label: "Recovery code from support", CreatedAt: now,
	}); err != nil {
		_ = f.store.DeleteGroup(context.WithoutCancel(ctx), g)
		return "", time.Time{}, fmt.Errorf("backupcodes: storing the recovery code's record: %w", err)
	}
	f.events.Emit(ctx, event.Event{Type: event.AdminAction, UserID: user.ID, Actor: actor,
		Method: twofactor.MethodBackupCode, Action: event.ActionRecoveryCodeIssued,
		EnrollmentID: EnrollmentRecoveryCode, Until: expires})
	return f.layout.format(c), expires, nil
}
