package totp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/totp"
)

// exampleFactor returns a factor on a memory store whose clock stands still
// at a fixed time, so the examples' output is deterministic.
func exampleFactor() (*totp.Factor, func() time.Time) {
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	key, err := twofactor.GenerateKey("2026-01")
	if err != nil {
		panic(err)
	}
	keys, err := twofactor.NewKeyring(key)
	if err != nil {
		panic(err)
	}
	f, err := totp.New(totp.Config{
		Store:  store.NewMemory(now),
		Keys:   keys,
		Issuer: "Example Corp",
		Now:    now,
		Events: &twofactor.Events{Discard: true},
	})
	if err != nil {
		panic(err)
	}
	return f, now
}

// appCode plays the user's authenticator app: it reads the URI from the QR
// code and shows the current code.
func appCode(uri string, at time.Time) string {
	k, err := totp.ParseURI(uri)
	if err != nil {
		panic(err)
	}
	return k.Code(k.Secret, at)
}

// Enrollment: start it, show the QR code, and confirm it with the first code
// the user types.
func ExampleFactor_BeginEnroll() {
	f, now := exampleFactor()
	ctx := context.Background()
	user := twofactor.User{ID: "42", Name: "alice@example.com"}

	p, err := f.BeginEnroll(ctx, user)
	if err != nil {
		panic(err)
	}
	// Render p.DataURI in an <img>, and p.Secret for typing in by hand.
	fmt.Println(strings.SplitN(p.URI, "?", 2)[0])
	fmt.Println(strings.HasPrefix(p.DataURI, "data:image/png;base64,"))
	fmt.Println("expires in", p.ExpiresAt.Sub(now()))
	// Output:
	// otpauth://totp/Example%20Corp:alice@example.com
	// true
	// expires in 10m0s
}

// Confirmation: a wrong code keeps the enrollment pending; the right one
// activates it.
func ExampleFactor_ConfirmEnroll() {
	f, now := exampleFactor()
	ctx := context.Background()
	user := twofactor.User{ID: "42", Name: "alice@example.com"}
	p, err := f.BeginEnroll(ctx, user)
	if err != nil {
		panic(err)
	}

	code := appCode(p.URI, now())
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	_, err = f.ConfirmEnroll(ctx, user, p.ID, wrong)
	fmt.Println(errors.Is(err, twofactor.ErrInvalidCode))

	e, err := f.ConfirmEnroll(ctx, user, p.ID, code)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Method, e.Label)
	// Output:
	// true
	// totp Authenticator app
}

// Verification at sign-in: the factor answers a challenge for the user; a
// code is accepted once.
func ExampleFactor_Verify() {
	f, now := exampleFactor()
	ctx := context.Background()
	user := twofactor.User{ID: "42", Name: "alice@example.com"}
	p, err := f.BeginEnroll(ctx, user)
	if err != nil {
		panic(err)
	}
	if _, err := f.ConfirmEnroll(ctx, user, p.ID, appCode(p.URI, now())); err != nil {
		panic(err)
	}

	// Thirty seconds later the app shows the next code. (A host normally
	// goes through twofactor.Service, which builds the challenge.)
	later := now().Add(30 * time.Second)
	ch := &twofactor.Challenge{User: user}
	v, err := f.Verify(ctx, ch, appCode(p.URI, later))
	fmt.Println(err == nil, "drift", v.Details["drift"]) // the app is one step ahead of the server's clock

	_, err = f.Verify(ctx, ch, appCode(p.URI, later))
	fmt.Println(errors.Is(err, twofactor.ErrCodeReused))
	// Output:
	// true drift +1
	// true
}

// Checking a code with plain values, without a store: what the twofactor
// command does.
func ExampleParams_Match() {
	secret := []byte("12345678901234567890") // RFC 6238's test secret
	p := totp.DefaultParams
	at := time.Unix(1111111109, 0)
	code := p.Code(secret, at.Add(-30*time.Second))
	_, offset, ok, err := p.Match(secret, code, at, 1)
	fmt.Println(code, offset, ok, err)
	// Output: 731029 -1 true <nil>
}
