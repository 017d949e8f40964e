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
	"github.com/twofactorkit/twofactor/webauthn"
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
	// webauthn is the WebAuthn factor, built only when the command was given
	// the app's RP ID; nil otherwise.
	webauthn *webauthn.Factor
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
//
// With rpID, the app's WebAuthn RP ID, the WebAuthn factor is built too:
// removing a security key then also frees its credential id, which its
// registration claimed store-wide under the RP ID (without that, the same
// key could never be registered again). The commands run no ceremony, so
// its origin is only a placeholder.
func newAdmin(st store.Store, keys *ring, stderr io.Writer, recoveryTTL time.Duration, rpID string) (*admin, error) {
	events := &event.Sink{Logger: slog.New(slog.NewJSONHandler(stderr, nil))}
	factors := []twofactor.FactorConfig{
		totp.Config{},
		backupcodes.Config{RecoveryTTL: recoveryTTL},
	}
	if rpID != "" {
		factors = append(factors, webauthn.Config{RPID: rpID, RPOrigins: []string{"https://" + rpID}})
	}
	svc, err := twofactor.New(twofactor.Config{
		Store:   st,
		Keys:    keys.Ring,
		Factors: factors,
		Trust:   trust.Config{},
		Events:  events,
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
	if f, ok := svc.Factor(twofactor.MethodWebAuthn); ok {
		a.webauthn = f.(*webauthn.Factor)
	}
	return a, nil
}
