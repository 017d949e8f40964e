package smscode_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
)

// steadyRand yields the same bytes again and again, so the example's codes
// are predictable. Never do this outside an example: leave Rand nil.
type steadyRand struct{}

func (steadyRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i%6) + 1
	}
	return len(p), nil
}

// Enrolling a phone, then signing in with an SMS code, with the
// development outbox. The factor's config holds only what is specific to
// SMS; the Service builds the factor with its store, keys, events, clock
// and randomness.
func Example() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	key, err := keyring.GenerateKey("k1")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := keyring.New(key)
	if err != nil {
		log.Fatal(err)
	}
	outbox := &smscode.Outbox{} // a development server shows it: mux.Handle("GET /sms-outbox", outbox)
	svc, err := twofactor.New(twofactor.Config{
		Store: store.NewMemory(now), Keys: keys,
		Factors: []twofactor.FactorConfig{smscode.Config{Sender: outbox, ProductName: "Example", WebOTPDomain: "example.com"}},
		Events:  &event.Sink{Discard: true}, Now: now,
		Rand: steadyRand{}, // only so the output below is fixed
	})
	if err != nil {
		log.Fatal(err)
	}
	user := twofactor.User{ID: "42"}

	// Add a phone: the number is confirmed before it counts. A user with
	// no factor yet needs no proof.
	en, err := svc.BeginEnroll(ctx, user, twofactor.MethodSMS,
		twofactor.EnrollRequest{Destination: "(415) 555-0112", Region: "US"}, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("confirmation code sent to", en.Sent.Destination)
	msg, _ := outbox.Last("+14155550112")
	fmt.Println(msg.Body)
	done, err := svc.ConfirmEnroll(ctx, user, twofactor.MethodSMS, "123456")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("enrolled:", done.Enrollment.ID, done.Enrollment.Label)

	// Sign in with it.
	begun, err := svc.Begin(ctx, user, twofactor.Client{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Send(ctx, begun.Challenge.ID, twofactor.MethodSMS, twofactor.Client{}); err != nil {
		log.Fatal(err)
	}
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodSMS, Code: "123 456"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", res.Method, res.EnrollmentID)
	// Output:
	// confirmation code sent to +1 *** *** **12
	// 123456 is your Example verification code. It expires in 15 minutes.
	//
	// @example.com #123456
	// enrolled: phone +1 *** *** **12
	// verified: sms phone
}

// Budgets bound how many SMS go out in all, whoever asks, so a toll-fraud
// run through many accounts, numbers and networks costs at most the
// budget. A total of one makes the point: the send that takes the last
// unit emits an event to alert on, and the next one, from anyone, is
// refused until the hour ends. The factor is used alone here, built with
// an Env of its own.
func ExampleBudgets() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	key, err := keyring.GenerateKey("k1")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := keyring.New(key)
	if err != nil {
		log.Fatal(err)
	}
	alerts := &event.Sink{Discard: true, Hook: func(_ context.Context, ev event.Event) {
		if ev.Type == event.BudgetReached {
			fmt.Println("alert:", ev.Reason, "budget of", ev.Count, "used up until", ev.Until.Format(time.RFC3339))
		}
	}}
	env := twofactor.Env{Store: store.NewMemory(now), Keys: keys, Events: alerts, Now: now}
	sms, err := smscode.New(env, smscode.Config{
		Sender: &smscode.Outbox{},
		// In production: about twice your busiest hour, and your main
		// countries' own budgets, e.g.
		// smscode.Budgets{Total: 5000, Countries: map[string]int{"US": 4000}}.
		Budgets: smscode.Budgets{Total: 1},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := sms.BeginEnroll(ctx, twofactor.User{ID: "1"}, twofactor.EnrollRequest{Destination: "+14155550112"}); err != nil {
		log.Fatal(err)
	}
	_, err = sms.BeginEnroll(ctx, twofactor.User{ID: "2"}, twofactor.EnrollRequest{Destination: "+447400123456"})
	var re *twofactor.RetryError
	if errors.As(err, &re) {
		fmt.Println("refused:", re.Limit, "limit, retry after", re.RetryAfter)
	}
	// Output:
	// alert: total budget of 1 used up until 2026-01-02T16:04:05Z
	// refused: total limit, retry after 1h0m0s
}

// Parsing what a user typed, with the region from a country picker.
func ExampleParsePhone() {
	for _, in := range [][2]string{{"(415) 555-0112", "US"}, {"+44 7400 123456", ""}, {"+1 876 210 1234", ""}, {"+1 900 200 1234", ""}, {"555-0112", ""}} {
		p, err := smscode.ParsePhone(in[0], in[1])
		if err != nil {
			fmt.Println(in[0], "->", err)
			continue
		}
		fmt.Println(in[0], "->", p.E164, p.Region, smscode.MaskPhone(p.E164))
	}
	// Output:
	// (415) 555-0112 -> +14155550112 US +1 *** *** **12
	// +44 7400 123456 -> +447400123456 GB +44 **** ****56
	// +1 876 210 1234 -> +18762101234 JM +1 *** *** **34
	// +1 900 200 1234 -> smscode: phone number type cannot receive codes: twofactor: invalid input (US)
	// 555-0112 -> smscode: invalid phone number: a national number needs a region
}

// A page turns each refusal into words of its own: the reasons are
// errors to match with errors.Is, and the *PhoneError names the region the
// number was read as.
func ExampleParsePhone_errors() {
	regionName := map[string]string{"US": "the United States", "GB": "the United Kingdom", "FR": "France"}
	say := func(err error) string {
		var pe *smscode.PhoneError
		errors.As(err, &pe)
		switch {
		case err == nil:
			return "OK"
		case errors.Is(err, smscode.ErrPhoneEmpty):
			return "Enter your phone number."
		case errors.Is(err, smscode.ErrPhoneNeedsRegion):
			return "Choose your country, or start the number with +."
		case errors.Is(err, smscode.ErrPhoneTooShort):
			return "That number is too short."
		case errors.Is(err, smscode.ErrPhoneTooLong):
			return "That number is too long."
		case errors.Is(err, smscode.ErrPhoneInvalidForRegion):
			return "That is not a valid number for " + regionName[pe.Region] + "."
		case errors.Is(err, smscode.ErrNumberType):
			return "That kind of number cannot receive text messages."
		case errors.Is(err, smscode.ErrInvalidPhone):
			return "That is not a phone number."
		}
		return "That number cannot be used."
	}
	for _, in := range [][2]string{{"", "US"}, {"555 0112", ""}, {"555 0112", "US"}, {"+1 055 555 0112", ""}, {"+1 800 555 0100", ""}, {"call me", "GB"}} {
		_, err := smscode.ParsePhone(in[0], in[1])
		fmt.Printf("%q: %s\n", in[0], say(err))
	}
	// Output:
	// "": Enter your phone number.
	// "555 0112": Choose your country, or start the number with +.
	// "555 0112": That number is too short.
	// "+1 055 555 0112": That is not a valid number for the United States.
	// "+1 800 555 0100": That kind of number cannot receive text messages.
	// "call me": That is not a phone number.
}

// A Twilio sender.
func ExampleNewTwilio() {
	gw, err := smscode.NewTwilio(smscode.TwilioConfig{
		AccountSID: "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		AuthToken:  "your-auth-token",
		From:       "+15005550006",
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = gw // give it to smscode.Config.Sender
}

// Any HTTP gateway taking a JSON body and a bearer token.
func ExampleNewGateway() {
	gw, err := smscode.NewGateway(smscode.GatewayConfig{
		URL:       "https://sms.example.net/v1/messages",
		Header:    http.Header{"Authorization": {"Bearer your-token"}},
		Format:    smscode.JSON,
		ToField:   "recipient",
		TextField: "text",
		Fields:    map[string]string{"sender": "Example"},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = gw
}
