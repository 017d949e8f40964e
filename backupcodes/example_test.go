package backupcodes_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// Make a user's backup codes, show them once, and sign in with one. The
// factor needs no settings of its own: twofactor.New builds it from its
// Config with the Service's store, keyring, events and clock, and gives it
// back by its method.
func Example() {
	ctx := context.Background()
	key, _ := keyring.GenerateKey("2026-01")
	keys, _ := keyring.New(key)

	svc, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: keys,
		Events: &event.Sink{Discard: true}, Factors: []twofactor.FactorConfig{backupcodes.Config{}}})
	if err != nil {
		panic(err)
	}
	f, _ := svc.Factor(twofactor.MethodBackupCode)
	codes := f.(*backupcodes.Factor)

	// Enrollment: make the set and show it to the user, once. (Usually
	// Service.ConfirmEnroll does this with the user's first factor; a
	// user who has a factor passes a fresh step-up proof instead of "".)
	alice := twofactor.User{ID: "42", Name: "alice@example.com"}
	enrolling, err := svc.BeginEnroll(ctx, alice, twofactor.MethodBackupCode, twofactor.EnrollRequest{}, "")
	if err != nil {
		panic(err)
	}
	set := enrolling.Codes
	fmt.Println("codes to show:", len(set))
	fmt.Println("looks like k7qm-3xvt-9fhd:", len(set[0]) == 14 && strings.Count(set[0], "-") == 2)

	// Sign-in: the user types a code, in whatever case and spacing.
	begun, err := svc.Begin(ctx, alice, twofactor.Client{})
	if err != nil {
		panic(err)
	}
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID,
		Method: twofactor.MethodBackupCode, Code: strings.ToUpper(strings.ReplaceAll(set[0], "-", " "))})
	if err != nil {
		panic(err)
	}
	fmt.Println("signed in with:", res.Method)

	// The same code never works twice.
	begun, _ = svc.Begin(ctx, alice, twofactor.Client{})
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID,
		Method: twofactor.MethodBackupCode, Code: set[0]})
	fmt.Println("reused:", errors.Is(err, twofactor.ErrInvalidCode))

	left, _ := codes.Remaining(ctx, alice)
	fmt.Println("left:", left)
	// Output:
	// codes to show: 10
	// looks like k7qm-3xvt-9fhd: true
	// signed in with: backup_code
	// reused: true
	// left: 9
}

// An administrator issues a one-time recovery code to a locked-out user.
func ExampleFactor_IssueRecoveryCode() {
	ctx := context.Background()
	key, _ := keyring.GenerateKey("2026-01")
	keys, _ := keyring.New(key)
	// Used alone, without a Service, the factor is built with an Env of its
	// own: a store and keys at least.
	codes, err := backupcodes.New(twofactor.Env{Store: store.NewMemory(), Keys: keys,
		Events: &event.Sink{Discard: true}}, backupcodes.Config{})
	if err != nil {
		panic(err)
	}

	bob := twofactor.User{ID: "7"}
	code, expires, err := codes.IssueRecoveryCode(ctx, bob, "support:jane")
	if err != nil {
		panic(err)
	}
	_ = expires // tell the user how long the code works
	fmt.Println("groups:", strings.Count(code, "-")+1)

	_, _, err = codes.IssueRecoveryCode(ctx, bob, "")
	fmt.Println("without an actor:", errors.Is(err, twofactor.ErrInvalidInput))
	// Output:
	// groups: 4
	// without an actor: true
}
