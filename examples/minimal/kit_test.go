package main

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/twofactortest"
)

// The attack kit against the app as main serves it: no check finds a
// mistake of the app's. The app keeps its Service to itself, so the kit
// gets a second one on the same SQLite file and keys, as a second
// instance of the app would have; the app runs on the real clock, so the
// checks that need time to pass skip those parts.
func TestTwoFactorKit(t *testing.T) {
	t.Chdir(t.TempDir()) // the SQLite file and the keys go here
	h := app()
	svc, err := twofactor.New(twofactor.Config{
		OpenStore: sqlite.File("minimal.db"),
		Keys:      keyring.Dev("minimal.keys"),
		Trust:     trust.Config{},
		Users: func(_ context.Context, id string) (twofactor.User, error) {
			return twofactor.User{ID: id, Email: users[id].email}, nil
		},
		Factors: []twofactor.FactorConfig{totp.Config{Issuer: "Minimal"}, emailcode.Config{Sender: &emailcode.Outbox{}, ProductName: "Minimal"}, backupcodes.Config{}},
		Events:  &event.Sink{Discard: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Shutdown(context.Background()) })
	twofactortest.Run(t, twofactortest.Host{
		Handler: h,
		Service: svc,
		AddUser: func(u twofactortest.User) error {
			users[u.ID] = struct{ email, password string }{u.Email, u.Password}
			return nil
		},
		SignedIn: signedIn,
		Code:     func(to string) (string, bool) { return outboxCode(h, to) },
	})
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// outboxCode reads the newest code mailed to an address from the
// development outbox page, newest message first.
func outboxCode(h http.Handler, to string) (string, bool) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://localhost:8080/outbox", nil))
	for _, m := range strings.Split(w.Body.String(), "<article>")[1:] {
		if strings.Contains(m, "to <strong>"+html.EscapeString(to)+"</strong>") {
			c := sixDigits.FindString(m)
			return c, c != ""
		}
	}
	return "", false
}
