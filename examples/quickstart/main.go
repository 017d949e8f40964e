// Command quickstart is the README's quick start as a program: a net/http
// app that already checks passwords adds a second factor with TOTP, email
// codes, backup codes and trusted devices, on an embedded SQLite store.
//
// It is a skeleton to read and copy from, not a full app: the password
// check and the session are the host's, so they are stubs here. Run it with
// go run ./examples/quickstart and open http://localhost:8080/login?user=ada.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
)

// quickstart:begin

// setup builds the service once, at start-up. Configuration mistakes (an
// email factor without a sender, say) are reported here, not at the first
// login.
func setup(ctx context.Context, outbox emailcode.Sender) (*twofactor.Service, *trust.Manager, error) {
	st, err := sqlite.OpenStore(ctx, "twofactor.db") // or PostgreSQL/MySQL via sqlstore, or redisstore
	if err != nil {
		return nil, nil, err
	}
	keys, err := twofactor.LoadKeyring("TWOFACTOR_KEYS") // make one: twofactor keygen
	if err != nil {
		return nil, nil, err
	}
	// Each factor's config holds only what is its own: the Service hands
	// them its store, keys, events and clock.
	app, err := totp.New(totp.Config{Issuer: "Acme"})
	if err != nil {
		return nil, nil, err
	}
	email, err := emailcode.New(emailcode.Config{Sender: outbox, ProductName: "Acme"})
	if err != nil {
		return nil, nil, err
	}
	backup, err := backupcodes.New(backupcodes.Config{})
	if err != nil {
		return nil, nil, err
	}
	devices, err := trust.New(trust.Config{Duration: trust.Month})
	if err != nil {
		return nil, nil, err
	}
	svc, err := twofactor.New(twofactor.Config{
		Store:   st,
		Keys:    keys,
		Factors: []twofactor.Factor{app, email, backup},
		Trust:   devices,
	})
	if err != nil {
		return nil, nil, err
	}
	return svc, devices, nil
}

// afterPassword runs once the host has checked the password. It returns the
// challenge id to keep in the session when a second step is needed.
func afterPassword(w http.ResponseWriter, r *http.Request, svc *twofactor.Service, devices *trust.Manager, user twofactor.User) string {
	begun, err := svc.Begin(r.Context(), user, devices.Client(r))
	var retry *twofactor.RetryError
	switch {
	case errors.As(err, &retry):
		http.Error(w, fmt.Sprintf("Too many attempts. Try again in %s.", retry.RetryAfter), http.StatusTooManyRequests)
	case err != nil:
		http.Error(w, "Sign-in is unavailable.", http.StatusServiceUnavailable) // fail closed
	case begun.Status == twofactor.StatusChallenge:
		// Offer begun.Challenge.Methods. For email, send the code:
		// svc.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, devices.Client(r)).
		fmt.Fprintf(w, "second step: %v\n", begun.Challenge.Methods)
		return begun.Challenge.ID
	default:
		// StatusTrusted or StatusNoFactor: signed in.
		// StatusEnrollRequired: signed in, straight to enrollment.
		fmt.Fprintf(w, "signed in (%v)\n", begun.Status)
	}
	return ""
}

// answer checks the code the user typed.
func answer(w http.ResponseWriter, r *http.Request, svc *twofactor.Service, devices *trust.Manager, userID, challengeID string) {
	res, err := svc.Verify(r.Context(), twofactor.Answer{
		ChallengeID:    challengeID,
		UserID:         userID,
		Method:         twofactor.Method(r.FormValue("method")),
		Code:           r.FormValue("code"),
		Client:         devices.Client(r),
		RememberDevice: r.FormValue("remember") == "on",
	})
	switch {
	case errors.Is(err, twofactor.ErrInvalidCode):
		http.Error(w, "That code is not right.", http.StatusUnauthorized) // wrong or expired: one message
	case err != nil:
		http.Error(w, "Please sign in again.", http.StatusUnauthorized)
	default:
		if res.Device != nil {
			devices.SetCookie(w, *res.Device)
		}
		// Signed in. Keep res.Proof in the session for sensitive actions.
		fmt.Fprintln(w, "signed in")
	}
}

// quickstart:end

func main() {
	if os.Getenv("TWOFACTOR_KEYS") == "" {
		k, err := twofactor.GenerateKey("dev")
		if err != nil {
			log.Fatal(err)
		}
		os.Setenv("TWOFACTOR_KEYS", k.Encode())
	}
	outbox := &emailcode.Outbox{}
	svc, devices, err := setup(context.Background(), outbox)
	if err != nil {
		log.Fatal(err)
	}
	// The stubs below stand for the host's own login and session (a real
	// app keeps the challenge id in its session).
	var mu sync.Mutex
	pending := map[string]string{} // user id -> challenge id
	http.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		user := twofactor.User{ID: r.FormValue("user"), Email: r.FormValue("user") + "@example.com"}
		if id := afterPassword(w, r, svc, devices, user); id != "" {
			mu.Lock()
			pending[user.ID] = id
			mu.Unlock()
		}
	})
	http.HandleFunc("/answer", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		id := pending[r.FormValue("user")]
		mu.Unlock()
		answer(w, r, svc, devices, r.FormValue("user"), id)
	})
	log.Println("listening on http://localhost:8080")
	log.Fatal(http.ListenAndServe("localhost:8080", nil))
}
