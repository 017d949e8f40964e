package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/keyring"
)

// account is one of the app's own users: what a real app keeps in its
// user table.
type account struct {
	ID       string // stable: what the library knows the user by
	Login    string // what the user types
	Name     string
	Email    string // "" for no address on file
	Admin    bool
	Role     string // with Admin, the account's two-step verification policy (app.policyFor)
	Password string // the demo password, printed at start
	About    string // what the demo account has, printed at start
	hash     []byte // bcrypt
}

// demoAccounts are the app's users. Their second factors are enrolled at
// the first start (seed.go).
func demoAccounts() []*account {
	return []*account{
		{ID: "u1", Login: "alan", Name: "Alan Turing", Password: "turing",
			About: "nothing enrolled: try every factor from scratch"},
		{ID: "u2", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com", Password: "lovelace",
			About: "authenticator app and backup codes (or pick Email: the code is in /outbox)"},
		{ID: "u3", Login: "grace", Name: "Grace Hopper", Email: "grace@example.com", Password: "hopper",
			About: "SMS to +1 202-555-0143 and email (codes in /outbox)"},
		{ID: "u4", Login: "admin", Name: "Site Administrator", Email: "admin@example.com", Password: "admin", Admin: true,
			About: "administrator: the admin pages; must have two-step verification; email codes (in /outbox)"},
		{ID: "u5", Login: "katherine", Name: "Katherine Johnson", Password: "johnson", Role: "staff",
			About: "staff: nothing yet, must set it up within 7 days of the first prompt; may skip until then"},
	}
}

// users is the app's user table: the demo accounts, and any added while
// the app runs (this package's tests add theirs). It is safe for
// concurrent use: the security emails look users up on their own
// goroutine.
type users struct {
	mu      sync.RWMutex
	byLogin map[string]*account
	byID    map[string]*account
	dummy   []byte // compared against when the login is unknown, to take as long
}

// demoCost is the bcrypt cost of the demo users' hashes. Their passwords
// are printed at start, so the hashes guard nothing and take bcrypt's
// minimum cost; hash real passwords at bcrypt.DefaultCost or more.
const demoCost = bcrypt.MinCost

func newUsers(accounts []*account) (*users, error) {
	u := &users{byLogin: map[string]*account{}, byID: map[string]*account{}}
	for _, a := range accounts {
		if err := u.add(a); err != nil {
			return nil, err
		}
	}
	var err error
	u.dummy, err = bcrypt.GenerateFromPassword([]byte("no such user"), demoCost)
	return u, err
}

// add hashes the password of a and adds it: its login and its id must be
// new.
func (u *users) add(a *account) error {
	h, err := bcrypt.GenerateFromPassword([]byte(a.Password), demoCost)
	if err != nil {
		return err
	}
	a.hash = h
	return u.insert(a)
}

// insert adds a, whose hash is set: its login and its id must be new.
func (u *users) insert(a *account) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byLogin[a.Login] != nil || u.byID[a.ID] != nil {
		return fmt.Errorf("webapp: an account %q (id %q) exists", a.Login, a.ID)
	}
	u.byLogin[a.Login] = a
	u.byID[a.ID] = a
	return nil
}

// find returns the account with the id.
func (u *users) find(id string) (*account, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	a, ok := u.byID[id]
	return a, ok
}

// named returns the account with the login.
func (u *users) named(login string) (*account, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	a, ok := u.byLogin[login]
	return a, ok
}

// check returns the account whose login and password these are.
func (u *users) check(login, password string) (*account, bool) {
	a, ok := u.named(login)
	h := u.dummy
	if ok {
		h = a.hash
	}
	err := bcrypt.CompareHashAndPassword(h, []byte(password))
	return a, ok && err == nil
}

// user is what the library knows of an account.
func (a *account) user() twofactor.User {
	return twofactor.User{ID: a.ID, Name: a.Login, DisplayName: a.Name, Email: a.Email}
}

// Sessions are cookies sealed with the app's keyring: the user id and when
// the session ends. Copies of the app that share the keys share sessions.

const (
	sessionCookie = "acme_session"
	sessionTTL    = 12 * time.Hour
)

var sessionAD = []byte("examples/webapp session")

type session struct {
	UserID  string `json:"u"`
	Expires int64  `json:"e"`
}

type sessions struct {
	keys   *keyring.Ring // the Service's keys
	users  *users
	secure bool // the site is served over https
}

// start signs the user in, as Config.SignIn of twofactorhttp once the
// second step has passed: a new cookie, so a session never outlives its
// sign-in.
func (s *sessions) start(w http.ResponseWriter, _ *http.Request, userID string) error {
	b, err := json.Marshal(session{UserID: userID, Expires: time.Now().Add(sessionTTL).Unix()})
	if err != nil {
		return err
	}
	v, err := s.keys.Seal(b, sessionAD)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: v, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL / time.Second)})
	return nil
}

func (s *sessions) end(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// account returns the signed-in account of r.
func (s *sessions) account(r *http.Request) (*account, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	b, err := s.keys.Open(c.Value, sessionAD)
	if err != nil {
		return nil, false
	}
	var ss session
	if json.Unmarshal(b, &ss) != nil || time.Now().Unix() >= ss.Expires {
		return nil, false
	}
	return s.users.find(ss.UserID)
}

// userID is Config.UserID of twofactorhttp: the id of the signed-in user
// of r.
func (s *sessions) userID(r *http.Request) (string, bool) {
	a, ok := s.account(r)
	if !ok {
		return "", false
	}
	return a.ID, true
}
