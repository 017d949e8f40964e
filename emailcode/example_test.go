package emailcode_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// newKeys returns a fresh keyring; in production give twofactor.Config.Keys
// keyring.Env("TWOFACTOR_KEYS").
func newKeys() *keyring.Ring {
	key, err := keyring.GenerateKey("k1")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := keyring.New(key)
	if err != nil {
		log.Fatal(err)
	}
	return keys
}

var sixDigits = regexp.MustCompile(`\d{6}`)

// A login with an email code, delivered to the development outbox. The
// factor's config holds only what is specific to email; the Service builds
// the factor with its store, keys, events and clock. The address on file
// counts as enrolled (EnrollImplicit, the default).
func Example() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	outbox := &emailcode.Outbox{} // a development server shows it: mux.Handle("GET /outbox", outbox)
	svc, err := twofactor.New(twofactor.Config{
		Store: store.NewMemory(now), Keys: newKeys(),
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: outbox, ProductName: "Example"}},
		Events:  &event.Sink{Discard: true}, Now: now,
	})
	if err != nil {
		log.Fatal(err)
	}

	// After the password check:
	user := twofactor.User{ID: "42", DisplayName: "Jane", Email: "jane@example.com"}
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
	greeting, _, _ := strings.Cut(msg.Text, "\n")
	fmt.Println(greeting)
	res, err := svc.Verify(ctx, twofactor.Answer{
		ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail, Code: sixDigits.FindString(msg.Text), UserID: user.ID,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", res.User.ID, res.Method)

	es, err := svc.Enrollments(ctx, user)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("settings list:", es[0].Label, "since", es[0].CreatedAt.Format(time.Kitchen))
	// Output:
	// code sent to j***@example.com
	// valid for 15m0s - resend after 1m0s
	// subject: Your Example verification code
	// Hello Jane,
	// verified: 42 email
	// settings list: j***@example.com since 3:04PM
}

// With EnrollOptIn, email is a factor users turn on: an address counts
// only once the user has confirmed it with a code, through the Service's
// enrollment steps.
func ExampleEnrollmentMode_optIn() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	outbox := &emailcode.Outbox{}
	svc, err := twofactor.New(twofactor.Config{
		Store: store.NewMemory(now), Keys: newKeys(),
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: outbox, Enrollment: emailcode.EnrollOptIn}},
		Events:  &event.Sink{Discard: true}, Now: now,
	})
	if err != nil {
		log.Fatal(err)
	}
	jane := twofactor.User{ID: "42", Email: "jane@example.com"}

	begun, err := svc.Begin(ctx, jane, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("before enrolling:", begun.Status)

	// Jane turns email codes on for her address (a user with no factor
	// yet needs no proof).
	en, err := svc.BeginEnroll(ctx, jane, twofactor.MethodEmail, twofactor.EnrollRequest{}, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("confirmation code sent to", en.Sent.Destination)
	msg, _ := outbox.Last(jane.Email)
	done, err := svc.ConfirmEnroll(ctx, jane, twofactor.MethodEmail, sixDigits.FindString(msg.Text))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("enrolled:", done.Enrollment.Label)

	begun, err = svc.Begin(ctx, jane, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after enrolling:", begun.Status, begun.Challenge.Methods)
	// Output:
	// before enrolling: no_factor
	// confirmation code sent to j***@example.com
	// enrolled: j***@example.com
	// after enrolling: challenge [email]
}

// Codes confirming an address have caps of their own: an account that
// keeps asking to confirm an address (here someone else's) runs into them,
// and the address's owner still gets their login codes.
func ExampleFactor_BeginEnroll() {
	ctx := context.Background()
	clock := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	now := func() time.Time { return clock }
	svc, err := twofactor.New(twofactor.Config{
		Store: store.NewMemory(now), Keys: newKeys(),
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: &emailcode.Outbox{}}},
		Events:  &event.Sink{Discard: true}, Now: now,
	})
	if err != nil {
		log.Fatal(err)
	}
	f, _ := svc.Factor(twofactor.MethodEmail)
	email := f.(*emailcode.Factor) // the factor the Service built

	// Mallory claims Jane's address and presses "resend" again and again.
	mallory := twofactor.User{ID: "666"}
	for n := 0; ; n++ {
		_, err := email.BeginEnroll(ctx, mallory, twofactor.EnrollRequest{Destination: "jane@example.com", Restart: true})
		var re *twofactor.RetryError
		if errors.As(err, &re) {
			fmt.Println("refused after", n, "codes:", re.Limit)
			break
		}
		clock = clock.Add(emailcode.DefaultResendCooldown)
	}

	// Jane signs in: her login codes are not what Mallory spent.
	jane := twofactor.User{ID: "42", Email: "jane@example.com"}
	begun, err := svc.Begin(ctx, jane, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	sent, err := svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("login code sent to", sent.Destination)
	// Output:
	// refused after 3 codes: verify_user_destination
	// login code sent to j***@example.com
}

// Without a sender the factor cannot be built: email needs an SMTP server
// configured first, and a product learns it when it starts.
func ExampleNew_noSender() {
	_, err := emailcode.New(twofactor.Env{Store: store.NewMemory(), Keys: newKeys()}, emailcode.Config{})
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

// In development, codes go to an Outbox instead of a mail server, and its
// page shows them, newest first. Serve it on a development server only:
// it holds live codes.
func ExampleOutbox() {
	outbox := &emailcode.Outbox{}
	svc, err := twofactor.New(twofactor.Config{
		Store: store.NewMemory(), Keys: newKeys(),
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: outbox, ProductName: "Example"}},
		Events:  &event.Sink{Discard: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /outbox", outbox) // http://localhost:8080/outbox
	_, _ = svc, mux
}
