package twofactorhttp_test

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/i18n"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/twofactorhttp"
	"github.com/twofactorkit/twofactor/webauthn"
	"golang.org/x/text/language"
)

// pin is a factor of the host's own: a PIN the user set earlier. Any type
// with Method, Enrollments and Verify is a factor; the library's own are in
// the totp, emailcode, smscode, backupcodes and webauthn packages.
type pin map[string]string // user id -> PIN

func (p pin) Method() twofactor.Method { return "pin" }

func (p pin) Enrollments(_ context.Context, u twofactor.User) ([]twofactor.Enrollment, error) {
	if _, ok := p[u.ID]; !ok {
		return nil, nil
	}
	return []twofactor.Enrollment{{ID: "pin", Method: "pin"}}, nil
}

func (p pin) Verify(_ context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if subtle.ConstantTimeCompare([]byte(answer), []byte(p[ch.User.ID])) != 1 {
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
	return twofactor.Verified{EnrollmentID: "pin"}, nil
}

// hostUsers is the host's user table, given once to
// twofactor.Config.Users.
func hostUsers(_ context.Context, id string) (twofactor.User, error) {
	if id != "ann" && id != "bob" {
		return twofactor.User{}, twofactor.ErrUnknownUser
	}
	return twofactor.User{ID: id, Email: id + "@example.com"}, nil
}

// newService is the host's Service, with its own factor.
func newService(policy twofactor.Policy) *twofactor.Service {
	key, _ := keyring.GenerateKey("k1") // in production: keyring.Env("TWOFACTOR_KEYS")
	keys, _ := keyring.New(key)
	svc, err := twofactor.New(twofactor.Config{
		Store: store.NewMemory(),
		Keys:  keys,
		Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) {
			return pin{"ann": "2468"}, nil
		})},
		Users:  hostUsers,
		Policy: policy,
		Events: &event.Sink{Discard: true},
	})
	if err != nil {
		panic(err)
	}
	return svc
}

// An app with a password login adds the second step: New mounts the
// Handler on the app's mux, the login handler calls Begin after the
// password check, the session starts in SignIn, and the logout handler
// calls SignOut.
func Example() {
	svc := newService(twofactor.Policy{})
	mux := http.NewServeMux()
	h, err := twofactorhttp.New(twofactorhttp.Config{
		Service: svc,
		Mux:     mux, // New mounts the routes at /2fa/
		SignIn: func(w http.ResponseWriter, r *http.Request, _ string) error {
			res, _ := twofactorhttp.ResultFrom(r)
			// The host's own session starts here, and only here.
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "for-" + res.User.ID, Path: "/", HttpOnly: true, Secure: true})
			return nil // nothing written: the layer redirects to the return path
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... the host checks r.FormValue("password") here ...
		h.Begin(w, r, r.FormValue("user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		// ... the host ends its own session here ...
		h.SignOut(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})

	// What a browser does: the password, then the PIN.
	w := post(mux, "/login?next=/account", "user=ann&password=secret", nil)
	fmt.Println(w.Code, w.Header().Get("Location"))
	pending := w.Result().Cookies() // the sealed pending sign-in
	w = post(mux, "/2fa/verify", "method=pin&code=1357", pending)
	fmt.Println(w.Code, "wrong PIN")
	w = post(mux, "/2fa/verify", "method=pin&code=2468", pending)
	fmt.Println(w.Code, w.Header().Get("Location"), w.Result().Cookies()[0].Name)
	// Output:
	// 303 /2fa/
	// 401 wrong PIN
	// 303 /account session
}

func post(h http.Handler, target, form string, cookies []*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "https://example.com"+target, strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// A page for sensitive actions asks for a fresh second factor first. A
// browser is sent through a step-up challenge and back; an API client gets
// 401 with the route to start one.
func ExampleHandler_StepUp() {
	mux := http.NewServeMux()
	h, _ := twofactorhttp.New(twofactorhttp.Config{
		Service: newService(twofactor.Policy{}),
		Mux:     mux,
		SignIn:  func(http.ResponseWriter, *http.Request, string) error { return nil },
		// The host's session says who is signed in; the Service's Users
		// says who that is.
		UserID: func(r *http.Request) (string, bool) {
			c, err := r.Cookie("session")
			if err != nil {
				return "", false
			}
			return c.Value, true
		},
	})
	mux.Handle("/account/delete", h.StepUp(0).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "deleting the account")
	})))

	r := httptest.NewRequest(http.MethodGet, "https://example.com/account/delete", nil)
	r.AddCookie(&http.Cookie{Name: "session", Value: "ann"})
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("Location"))

	r.Header.Set("Accept", "application/json")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 303 /2fa/step-up?next=%2Faccount%2Fdelete
	// 401 {"error":"step_up_required","message":"Confirm it's you to continue.","next":"/2fa/step-up"}
}

// Under a policy that requires a second factor, a signed-in user without
// one is sent to the host's enrollment page before any page Enforce
// guards.
func ExampleHandler_Enforce() {
	h, _ := twofactorhttp.New(twofactorhttp.Config{
		Service: newService(twofactor.Policy{Required: true}),
		Mux:     http.NewServeMux(),
		SignIn:  func(http.ResponseWriter, *http.Request, string) error { return nil },
		UserID: func(r *http.Request) (string, bool) {
			id := r.Header.Get("X-Demo-User")
			return id, id != ""
		},
		EnrollURL: "/settings/2fa",
	})
	app := h.Enforce().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the app")
	}))
	for _, user := range []string{"ann", "bob"} {
		r := httptest.NewRequest(http.MethodGet, "https://example.com/projects?page=2", nil)
		r.Header.Set("X-Demo-User", user)
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		fmt.Println(user, w.Code, cmp.Or(w.Header().Get("Location"), strings.TrimSpace(w.Body.String())))
	}
	// Output:
	// ann 200 the app
	// bob 303 /settings/2fa?next=%2Fprojects%3Fpage%3D2
}

// One table for every request, whatever its language: the defaults of
// one language, with a few texts changed. Empty fields keep the
// catalogue's.
func ExampleStringsFor() {
	fr, err := twofactorhttp.StringsFor(i18n.Default(), language.French)
	if err != nil {
		panic(err)
	}
	fr.InvalidCode = "Ce code n’est pas le bon. Vérifiez-le et réessayez."
	_ = twofactorhttp.Config{Strings: fr} // with Service, Mux and SignIn
	fmt.Println(fr.InvalidCode)
	fmt.Println(fr.Plural(fr.Minutes, 1), "·", fr.Plural(fr.Minutes, 15))
	// Output:
	// Ce code n’est pas le bon. Vérifiez-le et réessayez.
	// 1 minute · 15 minutes
}

// Pages in the user's language: the one the host keeps for the user
// (here a cookie), else the browser's; one string changed in German.
func ExampleConfig_languages() {
	cat, err := i18n.Default().With(language.German, i18n.Messages{"page.TitleLogin": "Anmeldung bestätigen"})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	h, err := twofactorhttp.New(twofactorhttp.Config{
		Service:   newService(twofactor.Policy{}),
		Mux:       mux,
		SignIn:    func(http.ResponseWriter, *http.Request, string) error { return nil },
		Languages: cat,
		Language: func(r *http.Request) language.Tag {
			if c, err := r.Cookie("lang"); err == nil {
				return language.Make(c.Value)
			}
			return i18n.Default().MatchHeader(r.Header.Get("Accept-Language"))
		},
	})
	if err != nil {
		panic(err)
	}
	for _, lang := range []string{"de", "ja"} {
		r := httptest.NewRequest(http.MethodPost, "https://example.com/login", nil)
		r.Header.Set("Accept", "text/html")
		r.AddCookie(&http.Cookie{Name: "lang", Value: lang})
		w := httptest.NewRecorder()
		h.Begin(w, r, "ann") // after the host checked ann's password; to the challenge page
		page := httptest.NewRequest(http.MethodGet, "https://example.com"+w.Header().Get("Location"), nil)
		for _, c := range append(w.Result().Cookies(), &http.Cookie{Name: "lang", Value: lang}) {
			page.AddCookie(c)
		}
		w = httptest.NewRecorder()
		mux.ServeHTTP(w, page)
		title := regexp.MustCompile(`<h1>([^<]*)</h1>`).FindStringSubmatch(w.Body.String())
		fmt.Println(lang, title[1])
	}
	// Output:
	// de Anmeldung bestätigen
	// ja 2段階認証
}

// A host's own factor gets pages by what it implements (GenericUI); its
// MethodUI says the rest, here the shape of its codes.
func ExampleMethodUI() {
	mux := http.NewServeMux()
	_, err := twofactorhttp.New(twofactorhttp.Config{
		Service: newService(twofactor.Policy{}),
		Mux:     mux,
		SignIn:  func(http.ResponseWriter, *http.Request, string) error { return nil },
		Methods: []twofactorhttp.MethodUI{{Method: "pin", Route: "pin", Code: twofactorhttp.CodeField{Length: 4, Numeric: true}}},
	})
	fmt.Println(err)
	_, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, "/2fa/settings/pin", nil))
	fmt.Println(pattern)
	// Output:
	// <nil>
	// /2fa/
}

// Support staff's pages: New mounts them behind the host's own
// administrator check (Guard); Actor names who acts, for the audit trail.
func ExampleAdminConfig() {
	staffOnly := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Demo-Staff") == "" { // the host's own check
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	mux := http.NewServeMux()
	_, _ = twofactorhttp.New(twofactorhttp.Config{
		Service: newService(twofactor.Policy{}),
		Mux:     mux,
		SignIn:  func(http.ResponseWriter, *http.Request, string) error { return nil },
		Admin: twofactorhttp.AdminConfig{
			Guard: staffOnly,
			Actor: func(r *http.Request) string { return "support:" + r.Header.Get("X-Demo-Staff") },
		},
	})

	body := strings.NewReader("id=ann&reason=lost+phone%2C+ID+checked+on+a+call&identity_checked=on")
	r := httptest.NewRequest(http.MethodPost, "https://example.com/admin/2fa/user/reset", body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("X-Demo-Staff", "jo")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 200 {"ok":true,"status":"reset","next":"/admin/2fa/user?id=ann"}
}

// Passkey sign-in on the host's login page: the field's autocomplete and
// the button of the package documentation, and the security-key script,
// post here; a passkey names its account, so no user is named.
func ExampleHandler_passkeySignIn() {
	key, _ := keyring.GenerateKey("k1")
	keys, _ := keyring.New(key)
	svc, err := twofactor.New(twofactor.Config{
		Store:   store.NewMemory(),
		Keys:    keys,
		Factors: []twofactor.FactorConfig{webauthn.Config{RPID: "example.com", RPOrigins: []string{"https://example.com"}}},
		Users:   hostUsers,
		Events:  &event.Sink{Discard: true},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	if _, err := twofactorhttp.New(twofactorhttp.Config{Service: svc, Mux: mux,
		SignIn: func(http.ResponseWriter, *http.Request, string) error { return nil }}); err != nil {
		panic(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://example.com/2fa/webauthn/passkey/begin", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	var begin struct {
		Ceremony string `json:"ceremony"`
		Options  struct {
			PublicKey struct {
				RPID             string `json:"rpId"`
				UserVerification string `json:"userVerification"`
				AllowCredentials []any  `json:"allowCredentials"`
			} `json:"publicKey"`
		} `json:"options"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &begin)
	pk := begin.Options.PublicKey
	fmt.Println(w.Code, begin.Ceremony != "", pk.RPID, pk.UserVerification, len(pk.AllowCredentials))
	// Output:
	// 200 true example.com required 0
}
