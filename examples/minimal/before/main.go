// Command before is a small net/http app with a password login and one
// page for signed-in users: examples/minimal as it was before two-factor
// authentication. Compare the two:
//
//	git diff --no-index examples/minimal/before/main.go examples/minimal/main.go
//
// Run it with go run ./examples/minimal/before and open
// http://localhost:8080 (user ada, password lovelace).
package main

import (
	"crypto/rand"
	"crypto/subtle"
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
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { page.Execute(w, "") })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		name := r.FormValue("user")
		u, ok := users[name]
		if !ok || subtle.ConstantTimeCompare([]byte(r.FormValue("password")), []byte(u.password)) != 1 {
			http.Error(w, "Wrong user name or password.", http.StatusUnauthorized)
			return
		}
		if err := startSession(w, r, name); err != nil {
			http.Error(w, "Sign-in is unavailable.", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("session"); err == nil {
			mu.Lock()
			delete(sessions, c.Value)
			mu.Unlock()
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Path: "/", MaxAge: -1})
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
