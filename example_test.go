package twofactor_test

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// pinFactor is a second factor written by a host: a PIN the user set up
// earlier in the host's own database. Any type with Method, Enrollments and
// Verify is a factor; a real one would also throttle, hash its PINs and
// record their use.
type pinFactor struct {
	pins map[string]string // user id -> PIN (a real host stores a hash)
}

func (p pinFactor) Method() twofactor.Method { return "pin" }

func (p pinFactor) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	if _, ok := p.pins[u.ID]; !ok {
		return nil, nil
	}
	return []twofactor.Enrollment{{ID: "pin", Method: "pin", Label: "Account PIN"}}, nil
}

func (p pinFactor) Verify(_ context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	want, ok := p.pins[ch.User.ID]
	if !ok || subtle.ConstantTimeCompare([]byte(answer), []byte(want)) != 1 {
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
	return twofactor.Verified{EnrollmentID: "pin"}, nil
}

// A host adds its own factor type and runs the login flow: Begin after the
// password check, then Verify the user's answer.
func Example() {
	ctx := context.Background()
	key, _ := keyring.GenerateKey("k1") // in production: keyring.ParseKey(os.Getenv("TWOFACTOR_KEY"))
	keys, _ := keyring.New(key)

	svc, err := twofactor.New(twofactor.Config{
		Store:   store.NewMemory(),
		Keys:    keys,
		Factors: factors(pinFactor{pins: map[string]string{"42": "2468"}}),
		Events:  &event.Sink{Discard: true}, // the default logs to slog
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	user := twofactor.User{ID: "42", Name: "ada"}
	client := twofactor.Client{IP: netip.MustParseAddr("192.0.2.10"), UserAgent: "Mozilla/5.0"}
	begun, err := svc.Begin(ctx, user, client)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(begun.Status, begun.Challenge.Methods)

	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: "pin", Code: "1111", UserID: user.ID, Client: client})
	fmt.Println(errors.Is(err, twofactor.ErrInvalidCode))

	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: "pin", Code: "2468", UserID: user.ID, Client: client})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signed in:", res.User.ID, "with", res.Method)
	// Output:
	// challenge [pin]
	// true
	// signed in: 42 with pin
}

// Errors tell the host what to show: a wrong or expired code, a dead
// challenge, or a limit with the time to wait.
func ExampleRetryError() {
	err := fmt.Errorf("verify: %w", twofactor.NewRetryError(twofactor.ErrLocked, "user",
		mustTime("2026-11-23T12:00:00Z"), mustTime("2026-11-23T12:14:30Z")))
	var re *twofactor.RetryError
	if errors.Is(err, twofactor.ErrLocked) && errors.As(err, &re) {
		fmt.Println("locked; try again in", re.RetryAfter)
	}
	// Output: locked; try again in 14m30s
}

// A step-up proof from Verify guards the host's own sensitive actions.
func ExampleService_CheckProof() {
	ctx := context.Background()
	key, _ := keyring.GenerateKey("k1")
	keys, _ := keyring.New(key)
	svc, _ := twofactor.New(twofactor.Config{
		Store: store.NewMemory(), Keys: keys,
		Factors: factors(pinFactor{pins: map[string]string{"42": "2468"}}),
		Events:  &event.Sink{Discard: true},
	})
	user := twofactor.User{ID: "42"}

	ch, _ := svc.StepUp(ctx, user, twofactor.Client{}, twofactor.PurposeStepUp)
	res, _ := svc.Verify(ctx, twofactor.Answer{ChallengeID: ch.ID, Method: "pin", Code: "2468", UserID: "42", Purpose: twofactor.PurposeStepUp})

	fmt.Println(svc.CheckProof(ctx, res.Proof, "42", twofactor.PurposeStepUp))
	fmt.Println(errors.Is(svc.CheckProof(ctx, "", "42", twofactor.PurposeStepUp), twofactor.ErrStepUpRequired))
	// Output:
	// <nil>
	// true
}
