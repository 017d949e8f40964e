package twofactortest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactorhttp"
	"github.com/twofactorkit/twofactor/twofactortest"
)

// A host's test builds the app as main does, on a store and a clock the
// test owns, and describes it to Run: its handler, its Service, and three
// functions of its own (add a user, say who is signed in, read the code
// an email went out with).
func Example() {
	var t *testing.T // the host's test: func TestTwoFactor(t *testing.T)

	clock := storetest.NewClock(time.Now())
	a, err := newApp(store.NewMemory(clock.Now), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	twofactortest.Run(t, twofactortest.Host{
		Handler:  a.handler,
		Service:  a.tf.Service(),
		AddUser:  a.addUser,
		SignedIn: a.userID,
		Code:     a.code,
		Advance:  clock.Advance,
	})
}

// app is the host: a net/http app with a password login, its own
// sessions, and two-factor authentication through twofactorhttp.
type app struct {
	handler http.Handler
	tf      *twofactorhttp.Handler
	outbox  *emailcode.Outbox

	mu       sync.Mutex
	users    map[string]twofactortest.User // id -> user (a real app: its user table)
	sessions map[string]string             // token -> user id
}

func newApp(st twofactor.Store, now func() time.Time) (*app, error) {
	a := &app{outbox: &emailcode.Outbox{}, users: map[string]twofactortest.User{}, sessions: map[string]string{}}
	key, err := keyring.GenerateKey("k1")
	if err != nil {
		return nil, err
	}
	keys, err := keyring.New(key)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	a.tf, err = twofactorhttp.New(twofactorhttp.Config{
		Mux:    mux,
		SignIn: a.startSession,
		UserID: a.userID,
		TwoFactor: twofactor.Config{
			Store:   st,
			Keys:    keys,
			Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Example"}, emailcode.Config{Sender: a.outbox}, backupcodes.Config{}},
			Trust:   trust.Config{},
			Users:   a.user,
			Now:     now,
		},
	})
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		u, ok := a.users[r.FormValue("user")]
		a.mu.Unlock()
		if !ok || u.Password != r.FormValue("password") { // a real app compares hashes
			http.Error(w, "Wrong user name or password.", http.StatusUnauthorized)
			return
		}
		a.tf.Begin(w, r, u.ID) // the second step, then startSession
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("session"); err == nil {
			a.mu.Lock()
			delete(a.sessions, c.Value)
			a.mu.Unlock()
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Path: "/", MaxAge: -1})
		a.tf.SignOut(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := a.userID(r)
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		fmt.Fprintf(w, "Hello %s", id)
	})
	a.handler = http.NewCrossOriginProtection().Handler(mux)
	return a, nil
}

func (a *app) addUser(u twofactortest.User) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.users[u.ID] = u
	return nil
}

// user is twofactor.Config.Users.
func (a *app) user(_ context.Context, id string) (twofactor.User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	if !ok {
		return twofactor.User{}, twofactor.ErrUnknownUser
	}
	return twofactor.User{ID: u.ID, Email: u.Email}, nil
}

func (a *app) startSession(w http.ResponseWriter, _ *http.Request, id string) error {
	token := rand.Text()
	a.mu.Lock()
	a.sessions[token] = id
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return nil
}

func (a *app) userID(r *http.Request) (string, bool) {
	c, err := r.Cookie("session")
	if err != nil {
		return "", false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.sessions[c.Value]
	return id, ok
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// code reads the newest code emailed to an address from the outbox.
func (a *app) code(to string) (string, bool) {
	msgs := a.outbox.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if strings.EqualFold(msgs[i].To, to) && sixDigits.MatchString(msgs[i].Text) {
			return sixDigits.FindString(msgs[i].Text), true
		}
	}
	return "", false
}
