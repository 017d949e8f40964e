// Command quickstart is the README's quick start as a program: a net/http
// app that already checks passwords adds a second factor with TOTP, email
// codes, backup codes and trusted devices, on an embedded SQLite store.
//
// It is a skeleton to read and copy from, not a full app: the password
// check and the session are the host's, so they are stubs here. Run it with
// go run ./examples/quickstart and open http://localhost:8080/login?user=ada.
package main

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
)

// quickstart:begin

// setup builds everything once, at start-up, with one error check: a
// mistake in the configuration (an email factor without a sender, a
// missing key) is reported here, not at the first login.
func setup(outbox emailcode.Sender) (*twofactor.Service, error) {
	return twofactor.New(twofactor.Config{
		OpenStore: sqlite.File("twofactor.db"),   // or Store: a PostgreSQL, MySQL or Redis store
		Keys:      keyring.Env("TWOFACTOR_KEYS"), // make one: twofactor keygen
		Factors: []twofactor.FactorConfig{
			totp.Config{Issuer: "Acme"},
			emailcode.Config{Sender: outbox, ProductName: "Acme"},
			backupcodes.Config{},
		},
		Trust: trust.Config{Duration: trust.Month},
	})
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
		k, err := keyring.GenerateKey("dev")
		if err != nil {
			log.Fatal(err)
		}
		os.Setenv("TWOFACTOR_KEYS", k.Encode())
	}
	outbox := &emailcode.Outbox{}
	svc, err := setup(outbox)
	if err != nil {
		log.Fatal(err)
	}
	devices := svc.Trust().(*trust.Manager)
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
