package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor/store/storetest"
	"github.com/twofactorkit/twofactor/twofactortest"
)

// The attack kit against the app, as it serves requests, on SQLite and a
// clock the test moves: no check finds a mistake of the app's.
func TestTwoFactorKit(t *testing.T) {
	clock := storetest.NewClock(time.Now())
	cfg, err := parseConfig([]string{"-data", t.TempDir(), "-notify-grace", "0s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.now = clock.Now
	a, err := newApp(cfg, "http://localhost:8080", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.close(context.Background()) })
	twofactortest.Run(t, twofactortest.Host{
		Handler:  a.handler(),
		Service:  a.svc,
		SignedIn: a.sessions.userID,
		AddUser: func(u twofactortest.User) error {
			return a.users.add(&account{ID: u.ID, Login: u.ID, Name: u.ID, Email: u.Email, Password: u.Password, Admin: u.Admin})
		},
		Code:        a.lastCode,
		Protected:   []string{"/", "/2fa/settings/"},
		AdminPrefix: adminPrefix,
		Advance:     clock.Advance,
	})
}

// lastCode is the code of the newest email or SMS to an address or a
// number, from the development outboxes.
func (a *app) lastCode(to string) (string, bool) {
	if strings.HasPrefix(to, "+") {
		m, ok := a.smsOutbox.Last(to)
		return sixDigits.FindString(m.Body), ok && sixDigits.MatchString(m.Body)
	}
	msgs := a.mailOutbox.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if strings.EqualFold(m.To, to) && strings.Contains(m.Subject, "verification code") {
			return sixDigits.FindString(m.Text), sixDigits.MatchString(m.Text)
		}
	}
	return "", false
}
