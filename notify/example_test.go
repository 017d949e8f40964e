package notify_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/notify"
	"github.com/twofactorkit/twofactor/store"
)

func exampleKeys() *twofactor.Keyring {
	key, err := twofactor.GenerateKey("k1")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := twofactor.NewKeyring(key)
	if err != nil {
		log.Fatal(err)
	}
	return keys
}

// Someone who knows Jane's password fails the second step: Jane hears of
// it. The notifier hangs on the Service's events; Shutdown sends what is
// queued (here, at once: the sign-in's grace is decided on the spot).
func Example() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	st := store.NewMemory(now)
	directory := map[string]twofactor.User{"42": {ID: "42", DisplayName: "Jane", Email: "jane@example.com"}}

	notifications := &emailcode.Outbox{} // emailcode.NewSMTP in production
	n, err := notify.New(notify.Config{
		Sender: notifications,
		Users: func(_ context.Context, id string) (twofactor.User, error) {
			return directory[id], nil
		},
		Store:       st,
		ProductName: "Example",
		Links:       notify.Links{Password: "https://example.com/settings/password"},
		Now:         now,
	})
	if err != nil {
		log.Fatal(err)
	}
	codes := &emailcode.Outbox{}
	email, err := emailcode.New(emailcode.Config{Sender: codes, ProductName: "Example"})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: exampleKeys(), Factors: []twofactor.Factor{email},
		Events: n.Events(&twofactor.Events{Discard: true}), Now: now})
	if err != nil {
		log.Fatal(err)
	}
	n.Attach(svc)

	// Someone with the password, from a browser the request names.
	client := twofactor.Client{IP: netip.MustParseAddr("198.51.100.23")}
	ctx = notify.WithUserAgent(ctx, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	begun, err := svc.Begin(ctx, directory["42"], client)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, client); err != nil {
		log.Fatal(err)
	}
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodEmail,
		Code: "000000", UserID: "42", Client: client})
	fmt.Println("verify:", err)

	if err := n.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	m, _ := notifications.Last("jane@example.com")
	fmt.Println("Subject:", m.Subject)
	body, _, _ := strings.Cut(m.Text, "\n-- \n") // above the signature line
	fmt.Println(body)
	// Output:
	// verify: twofactor: invalid code
	// Subject: Example: Someone signed in with your password but did not pass the second step
	// Hello Jane,
	//
	// Someone signed in with your password but did not pass the second step.
	//
	//     When: 2 January 2026, 15:04 UTC
	//     Network: 198.51.100.23
	//     Browser: Chrome on Windows
	//     Method: Email
	//
	// If this was not you, change your password: someone else knows it.
	//
	// Change your password: https://example.com/settings/password
}

// A settings page says which notifications are on. Config.Off switches
// kinds off.
func ExampleNotifier_On() {
	n, err := notify.New(notify.Config{
		Sender: &emailcode.Outbox{},
		Users:  func(context.Context, string) (twofactor.User, error) { return twofactor.User{}, nil },
		Store:  store.NewMemory(),
		Off:    []notify.Kind{notify.DeviceTrusted, notify.BackupCodesLow},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	for _, k := range notify.Kinds() {
		on := "on "
		if !n.On(k) {
			on = "off"
		}
		fmt.Println(on, n.Strings().Kinds[k].Name)
	}
	// Output:
	// on  Two-step verification turned on
	// on  Two-step verification turned off
	// on  A sign-in method added
	// on  A sign-in method removed
	// on  New backup codes
	// off Few backup codes left
	// off A device trusted
	// on  Reset by an administrator
	// on  Recovery code issued by an administrator
	// on  Sign-in locked after wrong codes
	// on  Someone with your password failed the second step
}

// A host that already has a hook keeps it: Events chains the notifier's
// after it.
func ExampleNotifier_Events() {
	n, err := notify.New(notify.Config{
		Sender: &emailcode.Outbox{},
		Users:  func(context.Context, string) (twofactor.User, error) { return twofactor.User{}, nil },
		Store:  store.NewMemory(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	audit := &twofactor.Events{Hook: func(_ context.Context, ev twofactor.Event) {
		fmt.Println("audit:", ev.Type)
	}, Discard: true}
	events := n.Events(audit) // give it to twofactor.Config.Events
	events.Emit(context.Background(), twofactor.Event{Type: twofactor.EventBegin, UserID: "42"})
	// Output:
	// audit: challenge.begin
}

// Messages about failed sign-ins name the browser when the request's
// User-Agent is in the context the Service gets: wrap the handler that
// verifies codes (the twofactorhttp handler, say).
func ExampleMiddleware() {
	var verifier http.Handler = http.NotFoundHandler() // the twofactorhttp.Handler
	http.Handle("/2fa/", notify.Middleware(verifier))
}
