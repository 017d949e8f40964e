package webauthn_test

import (
	"context"
	"fmt"
	"log"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

// browserKey stands in for the page's script and the user's security key,
// so the example runs without a browser.
var browserKey = newSoftKey(exampleT{}, "example.com", "https://example.com")

// Example shows the server side of registering a security key and then
// using it as the second factor of a login. The factor's config holds only
// the relying party: twofactor.New builds the factor with the Service's
// store, keyring, events and clock. In a real app the two browser steps
// are the page's script calling navigator.credentials.
func Example() {
	ctx := context.Background()
	key, _ := keyring.GenerateKey("k1")
	keys, _ := keyring.New(key)

	svc, err := twofactor.New(twofactor.Config{Store: store.NewMemory(), Keys: keys,
		Factors: []twofactor.FactorConfig{webauthn.Config{
			RPID: "example.com", RPDisplayName: "Example", RPOrigins: []string{"https://example.com"},
		}},
		Events: &event.Sink{Discard: true}})
	if err != nil {
		log.Fatal(err)
	}
	user := twofactor.User{ID: "42", Name: "alice@example.com"}

	// Registration, for a signed-in user. A user who has a second factor
	// already passes the proof of a fresh step-up instead of "".
	enrolling, err := svc.BeginEnroll(ctx, user, twofactor.MethodWebAuthn, twofactor.EnrollRequest{Label: "YubiKey 5"}, "")
	if err != nil {
		log.Fatal(err)
	}
	created := browserKey.create(exampleT{}, enrolling.Options) // navigator.credentials.create
	enrolled, err := svc.ConfirmEnroll(ctx, user, twofactor.MethodWebAuthn, string(created))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered:", enrolled.Enrollment.Label)

	// Login: the password was right, now the second factor.
	begun, err := svc.Begin(ctx, user, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("offered:", begun.Challenge.Methods)
	options, err := svc.Start(ctx, begun.Challenge.ID, twofactor.MethodWebAuthn)
	if err != nil {
		log.Fatal(err)
	}
	assertion := browserKey.get(exampleT{}, options) // navigator.credentials.get
	res, err := svc.Verify(ctx, twofactor.Answer{
		ChallengeID: begun.Challenge.ID,
		Method:      twofactor.MethodWebAuthn,
		Code:        string(assertion),
		UserID:      user.ID,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in:", res.User.ID, "with", res.Method)

	// The same assertion does not work twice.
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodWebAuthn, Code: string(assertion)})
	fmt.Println("replay:", err)
	// Output:
	// registered: YubiKey 5
	// offered: [webauthn]
	// signed in: 42 with webauthn
	// replay: twofactor: challenge not found or expired
}
