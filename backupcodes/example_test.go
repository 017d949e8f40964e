package backupcodes_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/store"
)

// Make a user's backup codes, show them once, and sign in with one. The
// factor needs no config of its own: twofactor.New gives it the Service's
// store, keyring, events and clock.
func Example() {
	ctx := context.Background()
	key, _ := twofactor.GenerateKey("2026-01")
	keys, _ := twofactor.NewKeyring(key)

	codes, err := backupcodes.New(backupcodes.Config{})
	if err != nil {
		panic(err)
	}
	svc, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: keys,
		Events: &twofactor.Events{Discard: true}, Factors: []twofactor.Factor{codes}})
	if err != nil {
		panic(err)
	}

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
	key, _ := twofactor.GenerateKey("2026-01")
	keys, _ := twofactor.NewKeyring(key)
	// Used alone, without a Service, the factor needs its store and keys.
	codes, _ := backupcodes.New(backupcodes.Config{Store: store.NewMemory(), Keys: keys,
		Events: &twofactor.Events{Discard: true}})

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
