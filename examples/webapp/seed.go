package main

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/totp"
)

// seeded is what the first start enrolled for the demo users, for this
// package's tests; the app never shows it.
type seeded struct {
	TOTPSecret  string    // ada's authenticator-app secret, base32
	TOTPStep    int64     // the time step whose code confirmed it
	BackupCodes []string  // ada's backup codes
	Phone       string    // grace's number, E.164
	At          time.Time // when
}

// demoPhone is grace's number, in the range set aside for fiction.
const demoPhone = "+1 202 555 0143"

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// seed enrolls the demo users' factors through the Service, as each user
// would on the settings pages, unless a previous start did. Each user is
// enrolled as if they had no email address on file yet, so the factor is
// their first and, as for anyone turning two-factor authentication on, the
// backup codes come with it.
func (a *app) seed(ctx context.Context) (*seeded, error) {
	out := &seeded{At: time.Now()}
	acct, _ := a.users.named("ada")
	ada := acct.user()
	ada.Email = ""
	has, err := a.hasEnrollment(ctx, ada, twofactor.MethodTOTP)
	if err != nil {
		return nil, err
	}
	if !has {
		en, err := a.svc.BeginEnroll(ctx, ada, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
		if err != nil {
			return nil, fmt.Errorf("seeding ada's authenticator app: %w", err)
		}
		secret, err := totp.DecodeSecret(en.Secret)
		if err != nil {
			return nil, err
		}
		p := a.totp.Params()
		now := time.Now()
		done, err := a.svc.ConfirmEnroll(ctx, ada, twofactor.MethodTOTP, p.Code(secret, now))
		if err != nil {
			return nil, fmt.Errorf("seeding ada's authenticator app: %w", err)
		}
		out.TOTPSecret, out.TOTPStep, out.BackupCodes = en.Secret, p.Step(now), done.BackupCodes
	}

	acct, _ = a.users.named("grace")
	grace := acct.user()
	grace.Email = ""
	has, err = a.hasEnrollment(ctx, grace, twofactor.MethodSMS)
	if err != nil {
		return nil, err
	}
	if !has {
		phone, err := smscode.ParsePhone(demoPhone, "US")
		if err != nil {
			return nil, err
		}
		e164 := phone.E164
		if _, err := a.svc.BeginEnroll(ctx, grace, twofactor.MethodSMS, twofactor.EnrollRequest{Destination: e164}, ""); err != nil {
			return nil, fmt.Errorf("seeding grace's phone: %w", err)
		}
		m, ok := a.smsOutbox.Last(e164)
		code := sixDigits.FindString(m.Body)
		if !ok || code == "" {
			return nil, fmt.Errorf("seeding grace's phone: no code in the outbox")
		}
		if _, err := a.svc.ConfirmEnroll(ctx, grace, twofactor.MethodSMS, code); err != nil {
			return nil, fmt.Errorf("seeding grace's phone: %w", err)
		}
		// The outbox starts empty: that code was for the seeding only.
		a.smsOutbox.Reset()
		out.Phone = e164
	}
	return out, nil
}

func (a *app) hasEnrollment(ctx context.Context, u twofactor.User, m twofactor.Method) (bool, error) {
	es, err := a.svc.Enrollments(ctx, u)
	if err != nil {
		return false, err
	}
	for _, e := range es {
		if e.Method == m {
			return true, nil
		}
	}
	return false, nil
}
