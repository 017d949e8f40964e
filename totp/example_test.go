package totp_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/totp"
)

// exampleNow is a clock that stands still, so the examples' output is
// deterministic. A host leaves the clocks nil.
func exampleNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func exampleKeys() *keyring.Ring {
	key, err := keyring.GenerateKey("2026-01") // in production: keyring.Env("TWOFACTOR_KEYS").Load()
	if err != nil {
		panic(err)
	}
	keys, err := keyring.New(key)
	if err != nil {
		panic(err)
	}
	return keys
}

// appCode plays the user's authenticator app: it reads the URI from the QR
// code and shows the code at a time.
func appCode(uri string, at time.Time) string {
	k, err := totp.ParseURI(uri)
	if err != nil {
		panic(err)
	}
	return k.Code(k.Secret, at)
}

// The factor's Config holds only what is specific to it; twofactor.New
// builds the factor with the Service's store, keys, events and clock.
// Users enroll through the Service, then sign in with the app's codes.
func Example() {
	ctx := context.Background()
	svc, err := twofactor.New(twofactor.Config{
		Store:   store.NewMemory(exampleNow),
		Keys:    exampleKeys(),
		Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Example Corp"}},
		Events:  &event.Sink{Discard: true}, // the default logs to slog
		Now:     exampleNow,
	})
	if err != nil {
		panic(err)
	}
	user := twofactor.User{ID: "42", Name: "alice@example.com"}

	// Enrollment: no factor yet, so no proof is needed (pass "").
	p, err := svc.BeginEnroll(ctx, user, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.SplitN(p.URI, "?", 2)[0]) // show p.QR in an <img>, p.Secret to type
	fmt.Println("expires in", p.ExpiresAt.Sub(exampleNow()))

	// A wrong code keeps the enrollment pending: show the same QR code again.
	_, err = svc.ConfirmEnroll(ctx, user, twofactor.MethodTOTP, "000000")
	fmt.Println(errors.Is(err, twofactor.ErrInvalidCode))
	again, _ := svc.BeginEnroll(ctx, user, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	fmt.Println("same secret:", again.Secret == p.Secret)

	done, err := svc.ConfirmEnroll(ctx, user, twofactor.MethodTOTP, appCode(p.URI, exampleNow()))
	if err != nil {
		panic(err)
	}
	fmt.Println(done.Enrollment.Method, done.Enrollment.Label)

	// Sign-in, thirty seconds later.
	later := exampleNow().Add(30 * time.Second)
	begun, err := svc.Begin(ctx, user, twofactor.Client{})
	if err != nil {
		panic(err)
	}
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodTOTP,
		Code: appCode(p.URI, later), UserID: user.ID})
	if err != nil {
		panic(err)
	}
	fmt.Println("signed in with", res.Method)
	// Output:
	// otpauth://totp/Example%20Corp:alice@example.com
	// expires in 10m0s
	// true
	// same secret: true
	// totp Authenticator app
	// signed in with totp
}

// An enrollment page, with a factor built alone: Enrolling.URI is the
// otpauth URI and Enrolling.QR the PNG of its QR code. The page marks the
// URI and the PNG's data: URI as template.URL (the factor builds the URI
// from a fixed scheme and escaped names), so html/template keeps them in
// a link and an image; GroupSecret spaces the secret for typing.
func ExampleFactor_BeginEnroll() {
	env := twofactor.Env{Store: store.NewMemory(exampleNow), Keys: exampleKeys(), Now: exampleNow,
		Events: &event.Sink{Discard: true}}
	f, err := totp.New(env, totp.Config{Issuer: "Example Corp"})
	if err != nil {
		panic(err)
	}
	p, err := f.BeginEnroll(context.Background(), twofactor.User{ID: "42", Name: "alice@example.com"}, twofactor.EnrollRequest{})
	if err != nil {
		panic(err)
	}
	page := template.Must(template.New("enroll").Parse(
		`<a href="{{.URI}}"><img src="{{.QR}}" alt="QR code"></a> <code>{{.Secret}}</code>`))
	var html strings.Builder
	if err := page.Execute(&html, struct {
		URI, QR template.URL
		Secret  string
	}{
		template.URL(p.URI),
		template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(p.QR)),
		totp.GroupSecret(p.Secret),
	}); err != nil {
		panic(err)
	}
	fmt.Println(strings.Contains(html.String(), `href="otpauth://totp/`))
	fmt.Println(strings.Contains(html.String(), `src="data:image/png;base64,`))
	// Output:
	// true
	// true
}

// Verification at sign-in without a Service: the factor answers a
// challenge for the user; a code is accepted once.
func ExampleFactor_Verify() {
	ctx := context.Background()
	env := twofactor.Env{Store: store.NewMemory(exampleNow), Keys: exampleKeys(), Now: exampleNow,
		Events: &event.Sink{Discard: true}}
	f, err := totp.New(env, totp.Config{Issuer: "Example Corp"})
	if err != nil {
		panic(err)
	}
	user := twofactor.User{ID: "42", Name: "alice@example.com"}
	p, err := f.BeginEnroll(ctx, user, twofactor.EnrollRequest{})
	if err != nil {
		panic(err)
	}
	if _, err := f.ConfirmEnroll(ctx, user, appCode(p.URI, exampleNow())); err != nil {
		panic(err)
	}

	// The app is one step ahead of the server's clock.
	ch := &twofactor.Challenge{User: user}
	next := appCode(p.URI, exampleNow().Add(30*time.Second))
	v, err := f.Verify(ctx, ch, next)
	fmt.Println(err == nil, "drift", v.Details["drift"])

	_, err = f.Verify(ctx, ch, next)
	fmt.Println(errors.Is(err, twofactor.ErrCodeReused))
	// Output:
	// true drift +1
	// true
}

// GroupSecret spaces a secret for reading it out or typing it in.
func ExampleGroupSecret() {
	fmt.Println(totp.GroupSecret("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"))
	// Output: JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP
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
