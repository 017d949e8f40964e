package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
)

// admin is the Service the commands work through, with the factors and
// the trusted-device manager they also call directly.
type admin struct {
	svc     *twofactor.Service
	store   store.Store
	keys    *ring
	events  *event.Sink
	totp    *totp.Factor
	backup  *backupcodes.Factor
	devices *trust.Manager
}

// newAdmin builds the Service on st with the factors the commands call
// and that send nothing: TOTP and backup codes. Enrollments of the other
// methods (SMS, email, security keys, the app's own factors) are read from
// their stored records (see collect), a reset removes them with the
// records (Service.AdminReset deletes every record of the user its
// factors leave), and rekey re-seals phone numbers and addresses with
// smscode.Rekey and emailcode.Rekey, so no factor that delivers codes is
// built and no sender is configured. Events go to stderr as JSON lines:
// the audit record of what the command did. recoveryTTL is the lifetime
// of recovery codes (zero: the default).
func newAdmin(st store.Store, keys *ring, stderr io.Writer, recoveryTTL time.Duration) (*admin, error) {
	events := &event.Sink{Logger: slog.New(slog.NewJSONHandler(stderr, nil))}
	svc, err := twofactor.New(twofactor.Config{
		Store: st,
		Keys:  keys.Ring,
		Factors: []twofactor.FactorConfig{
			totp.Config{},
			backupcodes.Config{RecoveryTTL: recoveryTTL},
		},
		Trust:  trust.Config{},
		Events: events,
	})
	if err != nil {
		return nil, err
	}
	a := &admin{svc: svc, store: st, keys: keys, events: svc.Env().Events}
	f, _ := svc.Factor(twofactor.MethodTOTP)
	a.totp = f.(*totp.Factor)
	f, _ = svc.Factor(twofactor.MethodBackupCode)
	a.backup = f.(*backupcodes.Factor)
	a.devices = svc.Trust().(*trust.Manager)
	return a, nil
}
