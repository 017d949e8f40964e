package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
	"html/template"
	"log"
	"net/http"
	"sync"
)

// users stands for the app's user table; a real app keeps password hashes.
var users = map[string]struct{ email, password string }{
	"ada": {"ada@example.com", "lovelace"},
}

// sessions stands for the app's session store: token -> user name.
var (
	mu       sync.Mutex
	sessions = map[string]string{}
)

var page = must(template.New("page").Parse(`<!doctype html>
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Minimal</title>
{{if .}}<p>Hello {{.}}, you are signed in.</p><form method="post" action="/logout"><button>Sign out</button></form>
{{else}}<form method="post" action="/login"><input name="user" value="ada" autocomplete="username">
<input name="password" type="password" placeholder="lovelace" autocomplete="current-password"> <button>Sign in</button></form>{{end}}`))

func main() {
	log.Print("listening on http://localhost:8080")
	log.Fatal(http.ListenAndServe("localhost:8080", app()))
}

func app() http.Handler {
	mux := http.NewServeMux()
	outbox := &emailcode.Outbox{} // development only: codes show at /outbox instead of being mailed
	tf, err := twofactorhttp.New(twofactorhttp.Config{Mux: mux, UserID: signedIn, SignIn: startSession, TwoFactor: twofactor.Config{
		OpenStore: sqlite.File("minimal.db"), Keys: keyring.Dev("minimal.keys"), Trust: trust.Config{}, Users: func(_ context.Context, id string) (twofactor.User, error) {
			return twofactor.User{ID: id, Email: users[id].email}, nil
		}, Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Minimal"}, emailcode.Config{Sender: outbox, ProductName: "Minimal"}, backupcodes.Config{}}}})
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("GET /outbox", outbox)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { page.Execute(w, "") })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		name := r.FormValue("user")
		u, ok := users[name]
		if !ok || subtle.ConstantTimeCompare([]byte(r.FormValue("password")), []byte(u.password)) != 1 {
			http.Error(w, "Wrong user name or password.", http.StatusUnauthorized)
			return
		}
		tf.Begin(w, r, name) // the second step, then startSession
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("session"); err == nil {
			mu.Lock()
			delete(sessions, c.Value)
			mu.Unlock()
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Path: "/", MaxAge: -1})
		tf.SignOut(w, r) // the step-up and any pending sign-in end with the session
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		name, ok := signedIn(r)
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		page.Execute(w, name)
	})
	return http.NewCrossOriginProtection().Handler(mux)
}

// startSession signs name in with a new random token, as a session
// manager renews its token at sign-in (a real one can fail: its store).
func startSession(w http.ResponseWriter, r *http.Request, name string) error {
	token := rand.Text()
	mu.Lock()
	sessions[token] = name
	mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

func signedIn(r *http.Request) (string, bool) {
	c, err := r.Cookie("session")
	if err != nil {
		return "", false
	}
	mu.Lock()
	defer mu.Unlock()
	name, ok := sessions[c.Value]
	return name, ok
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
