package emailcode_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"regexp"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/store"
)

// A login with an email code, delivered to the development outbox.
func Example() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	st := store.NewMemory(now)
	key, err := twofactor.GenerateKey("k1")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := twofactor.NewKeyring(key)
	if err != nil {
		log.Fatal(err)
	}
	quiet := &twofactor.Events{Discard: true}

	outbox := &emailcode.Outbox{}
	email, err := emailcode.New(emailcode.Config{
		Store: st, Keys: keys, Sender: outbox, ProductName: "Example", Events: quiet, Now: now,
	})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := twofactor.New(twofactor.Config{
		Store: st, Keys: keys, Factors: []twofactor.Factor{email}, Events: quiet, Now: now,
	})
	if err != nil {
		log.Fatal(err)
	}

	// After the password check:
	user := twofactor.User{ID: "42", Name: "Jane", Email: "jane@example.com"}
	begun, err := svc.Begin(ctx, user, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	sent, err := svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("code sent to", sent.Destination)
	fmt.Println("valid for", sent.ExpiresAt.Sub(now()), "- resend after", sent.ResendAt.Sub(now()))

	// The user reads the mail and types the code.
	msg, _ := outbox.Last(user.Email)
	fmt.Println("subject:", msg.Subject)
	code := regexp.MustCompile(`\d{6}`).FindString(msg.Text)

	res, err := svc.Verify(ctx, twofactor.Answer{
		ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail, Code: code, UserID: user.ID,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", res.User.ID, res.Method)
	// Output:
	// code sent to j***@example.com
	// valid for 15m0s - resend after 1m0s
	// subject: Your Example verification code
	// verified: 42 email
}

// Proving that a user owns an address, at sign-up. Verification codes
// have caps of their own: an account that keeps asking to verify an
// address (here someone else's) runs into them, and the address's owner
// still gets their login codes.
func ExampleFactor_SendVerification() {
	ctx := context.Background()
	clock := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	now := func() time.Time { return clock }
	st := store.NewMemory(now)
	key, err := twofactor.GenerateKey("k1")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := twofactor.NewKeyring(key)
	if err != nil {
		log.Fatal(err)
	}
	quiet := &twofactor.Events{Discard: true}
	outbox := &emailcode.Outbox{}
	email, err := emailcode.New(emailcode.Config{Store: st, Keys: keys, Sender: outbox, Events: quiet, Now: now})
	if err != nil {
		log.Fatal(err)
	}

	jane := twofactor.User{ID: "42", Email: "jane@example.com"}
	sent, err := email.SendVerification(ctx, jane, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verification code sent to", sent.Destination)
	msg, _ := outbox.Last(jane.Email)
	if err := email.ConfirmVerification(ctx, jane, regexp.MustCompile(`\d{6}`).FindString(msg.Text)); err != nil {
		log.Fatal(err)
	}
	fmt.Println("address verified")

	// Another account claims Jane's address and asks again and again.
	mallory := twofactor.User{ID: "666", Email: jane.Email}
	for n := 0; ; n++ {
		_, err := email.SendVerification(ctx, mallory, twofactor.Client{})
		var re *twofactor.RetryError
		if errors.As(err, &re) {
			fmt.Println("refused after", n, "codes:", re.Limit)
			break
		}
		clock = clock.Add(emailcode.DefaultResendCooldown)
	}

	// Jane signs in: her login codes are not what Mallory spent.
	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: keys, Factors: []twofactor.Factor{email}, Events: quiet, Now: now})
	if err != nil {
		log.Fatal(err)
	}
	begun, err := svc.Begin(ctx, jane, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	sent, err = svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("login code sent to", sent.Destination)
	// Output:
	// verification code sent to j***@example.com
	// address verified
	// refused after 3 codes: verify_user_destination
	// login code sent to j***@example.com
}

// Without a sender the factor cannot be built: email needs an SMTP server
// configured first.
func ExampleNew_noSender() {
	key, _ := twofactor.GenerateKey("k1")
	keys, _ := twofactor.NewKeyring(key)
	_, err := emailcode.New(emailcode.Config{Store: store.NewMemory(nil), Keys: keys})
	fmt.Println(err)
	// Output:
	// emailcode: twofactor: invalid configuration: Config.Sender is nil: email needs an SMTP server configured first (NewSMTP), or an *Outbox in development
}

// An SMTP sender for a submission server with STARTTLS and a password.
func ExampleNewSMTP() {
	smtp, err := emailcode.NewSMTP(emailcode.SMTPConfig{
		Host:     "smtp.example.com", // port 587, STARTTLS required
		Username: "mailer@example.com",
		Password: "app-password",
		From:     "Example <no-reply@example.com>",
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = smtp // give it to emailcode.Config.Sender
}
