package twofactor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// Administrators must have a second factor at once, staff within a week of
// their first prompt; everyone else may turn one on. The policy follows
// the host's own record of each user, read at every call.
func ExampleConfig_policies() {
	ctx := context.Background()
	key, _ := keyring.GenerateKey("k1")
	keys, _ := keyring.New(key)
	roles := map[string]string{"1": "admin", "2": "staff"} // the host's user table
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

	svc, err := twofactor.New(twofactor.Config{
		Store:   store.NewMemory(func() time.Time { return now }),
		Keys:    keys,
		Factors: factors(pinFactor{pins: map[string]string{}}),
		Policies: map[string]twofactor.Policy{
			"admin": {Required: true},
			"staff": {Required: true, Grace: twofactor.Grace{Days: 7}},
		},
		PolicyFor: func(_ context.Context, u twofactor.User) (string, error) {
			return roles[u.ID], nil // "" for everyone else: Config.Policy
		},
		Events: &event.Sink{Discard: true},
		Now:    func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"1", "2", "3"} {
		begun, _ := svc.Begin(ctx, twofactor.User{ID: id}, twofactor.Client{})
		fmt.Println(id, begun.Status)
	}

	now = now.Add(2 * 24 * time.Hour)
	left, _ := svc.SkipEnroll(ctx, twofactor.User{ID: "2"})
	fmt.Println("staff may skip until", left.Until.Format(time.DateOnly))

	now = now.Add(5 * 24 * time.Hour)
	begun, _ := svc.Begin(ctx, twofactor.User{ID: "2"}, twofactor.Client{})
	fmt.Println("a week on:", begun.Status)
	// Output:
	// 1 enroll_required
	// 2 enroll_suggested
	// 3 no_factor
	// staff may skip until 2026-03-09
	// a week on: enroll_required
}
