package notify_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/notify"
	"github.com/twofactorkit/twofactor/store"
)

func exampleKeys() *keyring.Ring {
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

// Someone who knows Jane's password fails the second step: Jane hears of
// it. The notifier is one of the Service's listeners, built with its
// store, Users lookup and clock; the Service's Shutdown sends what is
// queued (here, at once: the sign-in's grace is decided on the spot).
func Example() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	directory := map[string]twofactor.User{"42": {ID: "42", DisplayName: "Jane", Email: "jane@example.com"}}

	notifications := &emailcode.Outbox{} // emailcode.NewSMTP in production
	codes := &emailcode.Outbox{}
	svc, err := twofactor.New(twofactor.Config{
		Store:   store.NewMemory(now),
		Keys:    exampleKeys(),
		Factors: []twofactor.FactorConfig{emailcode.Config{Sender: codes, ProductName: "Example"}},
		Listeners: []twofactor.ListenerConfig{notify.Config{
			Sender:      notifications,
			ProductName: "Example",
			Links:       notify.Links{Password: "https://example.com/settings/password"},
		}},
		Users: func(_ context.Context, id string) (twofactor.User, error) {
			u, ok := directory[id]
			if !ok {
				return twofactor.User{}, twofactor.ErrUnknownUser
			}
			return u, nil
		},
		Events: &event.Sink{Discard: true, Now: now},
		Now:    now,
	})
	if err != nil {
		log.Fatal(err)
	}

	// Someone with the password, from a browser the request names.
	client := twofactor.Client{IP: netip.MustParseAddr("198.51.100.23"),
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}
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

	if err := svc.Shutdown(ctx); err != nil {
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

// A settings page says which notifications are on, from the Config the
// Service was given: Config.Off switches kinds off.
func ExampleConfig_Enabled() {
	cfg := notify.Config{
		Sender: &emailcode.Outbox{},
		Off:    []notify.Kind{notify.DeviceTrusted, notify.BackupCodesLow},
	}
	for _, k := range cfg.Enabled() {
		fmt.Println(cfg.Name(k))
	}
	// Output:
	// Two-step verification turned on
	// Two-step verification turned off
	// A sign-in method added
	// A sign-in method removed
	// New backup codes
	// Reset by an administrator
	// Recovery code issued by an administrator
	// Sign-in locked after wrong codes
	// Someone with your password failed the second step
}

// A host with its own event pipeline builds the notifier alone, from an
// Env, hands it events, and shuts it down when the app stops.
func ExampleNew() {
	users := func(_ context.Context, id string) (twofactor.User, error) {
		return twofactor.User{ID: id, Email: "jane@example.com"}, nil
	}
	outbox := &emailcode.Outbox{}
	n, err := notify.New(twofactor.Env{Store: store.NewMemory(), Keys: exampleKeys(), Users: users},
		notify.Config{Sender: outbox, ProductName: "Example"})
	if err != nil {
		log.Fatal(err)
	}
	n.HandleEvent(context.Background(), event.Event{Type: event.Lockout, UserID: "42",
		Count: 10, Until: time.Now().Add(15 * time.Minute)})
	if err := n.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	m, _ := outbox.Last("jane@example.com")
	fmt.Println(m.Subject)
	// Output:
	// Example: Sign-in to your account is locked for a while
}
