package twofactor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// assuredPIN is the host's PIN factor, saying what it assures: a PIN is
// no second factor NIST SP 800-63B accepts after a password, so AAL1.
type assuredPIN struct{ pinFactor }

func (assuredPIN) Assurance() twofactor.Assurance {
	return twofactor.Assurance{AMR: []string{"pin"}, AAL: 1}
}

// A host puts what the second step assured into its session or token in
// one call, and refuses sign-ins its risk check does not like.
func ExampleResult_Claims() {
	ctx := context.Background()
	key, _ := keyring.GenerateKey("k1")
	keys, _ := keyring.New(key)
	blocked := netip.MustParsePrefix("198.51.100.0/24")
	now := func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }
	svc, _ := twofactor.New(twofactor.Config{
		Store:   store.NewMemory(now),
		Keys:    keys,
		Factors: factors(assuredPIN{pinFactor{pins: map[string]string{"42": "2468"}}}),
		Events:  &event.Sink{Discard: true},
		Now:     now,
		Veto: func(_ context.Context, in twofactor.VetoInput) error {
			if blocked.Contains(in.Client.IP) {
				return errors.New("network on the block list")
			}
			return nil
		},
	})
	user := twofactor.User{ID: "42"}

	for _, ip := range []string{"198.51.100.7", "192.0.2.10"} {
		client := twofactor.Client{IP: netip.MustParseAddr(ip)}
		begun, _ := svc.Begin(ctx, user, client)
		res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: "pin", Code: "2468", UserID: user.ID, Client: client})
		if errors.Is(err, twofactor.ErrVetoed) {
			fmt.Println(ip, "refused:", err)
			continue
		}
		if err != nil {
			fmt.Println(ip, err)
			continue
		}
		claims, _ := json.Marshal(res.Claims())
		fmt.Println(ip, string(claims))
	}
	// Output:
	// 198.51.100.7 refused: twofactor: verification refused: network on the block list
	// 192.0.2.10 {"amr":["pwd","pin","mfa"],"aal":1,"phishing_resistant":false,"auth_time":"2026-11-23T12:00:00Z"}
}

// A sensitive action asks for a phishing-resistant factor: the step-up
// offers only such factors, and a user who has none is told to add one.
func ExampleService_StepUpFor() {
	ctx := context.Background()
	key, _ := keyring.GenerateKey("k1")
	keys, _ := keyring.New(key)
	svc, _ := twofactor.New(twofactor.Config{
		Store:   store.NewMemory(),
		Keys:    keys,
		Factors: factors(assuredPIN{pinFactor{pins: map[string]string{"42": "2468"}}}),
		Events:  &event.Sink{Discard: true},
	})
	need := twofactor.Requirement{PhishingResistant: true, MaxAge: 2 * time.Minute}
	_, err := svc.StepUpFor(ctx, twofactor.User{ID: "42"}, twofactor.Client{}, twofactor.PurposeStepUp, need)
	if errors.Is(err, twofactor.ErrNoQualifyingMethod) {
		fmt.Println("add a security key first")
	}
	// Output: add a security key first
}
