package twofactorhttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// A route that moves money asks for a security key or passkey, verified
// in the last two minutes: a user whose only factor is a PIN is told to
// add a key.
func ExampleStepUp_PhishingResistant() {
	mux := http.NewServeMux()
	h, _ := twofactorhttp.New(twofactorhttp.Config{
		Service: newService(twofactor.Policy{}),
		Mux:     mux,
		SignIn:  func(http.ResponseWriter, *http.Request, string) error { return nil },
		UserID: func(r *http.Request) (string, bool) {
			c, err := r.Cookie("session")
			if err != nil {
				return "", false
			}
			return c.Value, true
		},
	})
	mux.Handle("/account/payout", h.StepUp(2*time.Minute).PhishingResistant().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "paying out")
	})))

	r := httptest.NewRequest(http.MethodGet, "https://example.com/account/payout", nil)
	r.AddCookie(&http.Cookie{Name: "session", Value: "ann"})
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Location"))

	r = httptest.NewRequest(http.MethodPost, "https://example.com/2fa/step-up?require=phishing_resistant", nil)
	r.AddCookie(&http.Cookie{Name: "session", Value: "ann"})
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 303 /2fa/step-up?require=phishing_resistant&next=%2Faccount%2Fpayout
	// 403 {"error":"no_qualifying_method","message":"This needs a security key or passkey, and your account has none yet. Add one, then try again.","next":"/2fa/settings/"}
}
