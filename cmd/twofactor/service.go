package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
	"github.com/twofactorkit/twofactor/webauthn"
)

// errNoDelivery is what the command's email and SMS senders answer: the
// administrator's commands read and remove enrollments, they never send a
// message.
var errNoDelivery = errors.New("the twofactor command sends no email or SMS")

type noMail struct{}

func (noMail) Send(context.Context, emailcode.Message) error { return errNoDelivery }

type noSMS struct{}

func (noSMS) Send(context.Context, smscode.Message) error { return errNoDelivery }

// admin is the Service the commands work through, with the factors and
// the trusted-device manager they also call directly.
type admin struct {
	svc     *twofactor.Service
	store   store.Store
	keys    *ring
	events  *twofactor.Events
	totp    *totp.Factor
	backup  *backupcodes.Factor
	devices *trust.Manager
}

// The relying party the WebAuthn factor is configured with. Listing and
// removing credentials does not depend on it; no ceremony runs here.
const (
	adminRPID   = "localhost"
	adminOrigin = "http://localhost"
)

// newAdmin builds the Service on st with every factor of the library, so
// that whatever a user has enrolled is seen, and removed by a reset.
// Factor configs hold only their own fields; twofactor.New binds the
// store, keys, events and clock. Events go to stderr as JSON lines: the
// audit record of what the command did. recoveryTTL is the lifetime of
// recovery codes (zero: the default).
//
// The email factor is configured to count confirmed addresses only
// (emailcode.EnrollOptIn): the command does not know the addresses on
// file in the app, and so never records one.
func newAdmin(st store.Store, keys *ring, stderr io.Writer, policy twofactor.Policy, recoveryTTL time.Duration) (*admin, error) {
	events := &twofactor.Events{Logger: slog.New(slog.NewJSONHandler(stderr, nil))}
	app, err := totp.New(totp.Config{})
	if err != nil {
		return nil, err
	}
	email, err := emailcode.New(emailcode.Config{Sender: noMail{}, Enrollment: emailcode.EnrollOptIn})
	if err != nil {
		return nil, err
	}
	sms, err := smscode.New(smscode.Config{Sender: noSMS{}})
	if err != nil {
		return nil, err
	}
	backup, err := backupcodes.New(backupcodes.Config{RecoveryTTL: recoveryTTL})
	if err != nil {
		return nil, err
	}
	keysFactor, err := webauthn.New(webauthn.Config{RPID: adminRPID, RPOrigins: []string{adminOrigin}})
	if err != nil {
		return nil, err
	}
	devices, err := trust.New(trust.Config{})
	if err != nil {
		return nil, err
	}
	svc, err := twofactor.New(twofactor.Config{
		Store:   st,
		Keys:    keys.Keyring,
		Factors: []twofactor.Factor{app, sms, email, keysFactor, backup},
		Trust:   devices,
		Policy:  policy,
		Events:  events,
	})
	if err != nil {
		return nil, err
	}
	return &admin{svc: svc, store: st, keys: keys, events: events, totp: app, backup: backup, devices: devices}, nil
}
