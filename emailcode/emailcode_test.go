package emailcode_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	texttemplate "text/template"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/eventlog"
	"github.com/twofactorkit/twofactor/internal/smtptest"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var alice = twofactor.User{ID: "u-alice", Name: "alice@example.com", DisplayName: "Alice", Email: "alice@example.com"}

var client = twofactor.Client{IP: netip.MustParseAddr("198.51.100.4"), UserAgent: "test"}

func keys(t testing.TB) *keyring.Ring {
	t.Helper()
	k, err := keyring.GenerateKey("k1")
	require.NoError(t, err)
	kr, err := keyring.New(k)
	require.NoError(t, err)
	return kr
}

type fixture struct {
	clock  *storetest.Clock
	store  *store.Memory
	keys   *keyring.Ring
	outbox *emailcode.Outbox
	events *eventlog.Log
	setup  setup // what f was built with
	f      *emailcode.Factor
}

// setup is what a test factor is built with, for tests to change.
type setup struct {
	twofactor.Env
	emailcode.Config
}

func newFixture(t testing.TB, mod func(*setup)) *fixture {
	t.Helper()
	fx := &fixture{clock: storetest.NewClock(t0), outbox: &emailcode.Outbox{}, events: &eventlog.Log{}, keys: keys(t)}
	fx.store = store.NewMemory(fx.clock.Now)
	fx.setup = setup{
		Env: twofactor.Env{Store: fx.store, Keys: fx.keys, Now: fx.clock.Now,
			Events: &event.Sink{Hook: fx.events.Hook, Discard: true, Now: fx.clock.Now}},
		Config: emailcode.Config{Sender: fx.outbox, ProductName: "Acme"},
	}
	if mod != nil {
		mod(&fx.setup)
	}
	f, err := emailcode.New(fx.setup.Env, fx.setup.Config)
	require.NoError(t, err)
	fx.f = f
	return fx
}

// service builds a Service from the fixture's Env and Config, and makes
// the factor it built fx.f.
func (fx *fixture) service(t testing.TB) *twofactor.Service {
	t.Helper()
	svc, err := twofactor.New(twofactor.Config{
		Store: fx.setup.Store, Keys: fx.setup.Keys, Factors: []twofactor.FactorConfig{fx.setup.Config},
		Events: fx.setup.Events, Now: fx.clock.Now,
	})
	require.NoError(t, err)
	f, ok := svc.Factor(twofactor.MethodEmail)
	require.True(t, ok)
	fx.f = f.(*emailcode.Factor)
	return svc
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

func (fx *fixture) lastCode(t testing.TB) string {
	t.Helper()
	m, ok := fx.outbox.Last(alice.Email)
	require.True(t, ok, "no message in the outbox")
	c := codeRE.FindString(m.Text)
	require.NotEmpty(t, c)
	return c
}

func challenge(id string, p twofactor.Purpose) *twofactor.Challenge {
	// Challenge ids are 43 base64url characters; tests use readable ones.
	return &twofactor.Challenge{ID: id, User: alice, Purpose: p, Methods: []twofactor.Method{twofactor.MethodEmail},
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

func TestNewConfigErrors(t *testing.T) {
	kr := keys(t)
	base := func() setup {
		return setup{twofactor.Env{Store: store.NewMemory(), Keys: kr}, emailcode.Config{Sender: &emailcode.Outbox{}}}
	}
	tests := []struct {
		name string
		mod  func(*setup)
		want string
	}{
		{"no store", func(c *setup) { c.Store = nil }, "Env.Store"},
		{"no keys", func(c *setup) { c.Keys = nil }, "Env.Keys"},
		{"store without codes", func(c *setup) { c.Store = statesOnly{store.NewMemory()} }, "does not implement store.Codes, store.CodeGroups, store.Enrollments, which emailcode needs"},
		{"no sender", func(c *setup) { c.Sender = nil }, "SMTP server configured first"},
		{"code length", func(c *setup) { c.Codes.Length = 3 }, "Codes.Length"},
		{"cooldown", func(c *setup) { c.Codes.ResendCooldown = time.Hour }, "Codes.ResendCooldown"},
		{"enrollment mode", func(c *setup) { c.Enrollment = 7 }, "Config.Enrollment 7"},
		{"product", func(c *setup) { c.ProductName = "A\r\nBcc: x" }, "ProductName"},
		{"window", func(c *setup) { c.Caps.Window = -time.Second }, "Window"},
		{"verification budget one account fills", func(c *setup) { c.Caps.VerifyPerDestination = 2 }, "VerifyPerDestination 2 must be more than 2"},
		{"template without code", func(c *setup) {
			c.Templates.Text = texttemplate.Must(texttemplate.New("t").Parse("hello"))
		}, "Code"},
		{"subject with newline", func(c *setup) {
			c.Templates.Subject = texttemplate.Must(texttemplate.New("s").Parse("a\nb"))
		}, "subject"},
		{"template error", func(c *setup) {
			c.Templates.HTML = htmltemplate.Must(htmltemplate.New("h").Parse("{{.Nope}}"))
		}, "html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.mod(&s)
			f, err := emailcode.New(s.Env, s.Config)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "emailcode: "), err.Error())
		})
	}
}

func TestEnrollmentsAndMask(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	es, err := fx.f.Enrollments(ctx, alice)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, twofactor.Enrollment{ID: "email", Method: twofactor.MethodEmail, Label: "a***@example.com", CreatedAt: t0}, es[0])

	for _, bad := range []string{"", "not an address", "Alice <alice@example.com>", "a@b.c, d@e.f"} {
		es, err := fx.f.Enrollments(ctx, twofactor.User{ID: "x", Email: bad})
		require.NoError(t, err)
		assert.Empty(t, es, bad)
	}

	tests := map[string]string{
		"jane@example.com": "j***@example.com",
		"j@example.com":    "j***@example.com",
		"@example.com":     "***",
		"nobody":           "***",
		"é@example.com":    "***@example.com",
	}
	for in, want := range tests {
		assert.Equal(t, want, emailcode.Mask(in), in)
	}
}

func TestSendVerify(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	ch := challenge("chal-1", twofactor.PurposeLogin)
	sent, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	assert.Equal(t, twofactor.Sent{Destination: "a***@example.com", ExpiresAt: t0.Add(15 * time.Minute), ResendAt: t0.Add(time.Minute)}, sent)

	msgs := fx.outbox.Messages()
	require.Len(t, msgs, 1)
	m := msgs[0]
	code := fx.lastCode(t)
	assert.Equal(t, alice.Email, m.To)
	assert.Equal(t, "Your Acme verification code", m.Subject)
	assert.NotContains(t, m.Subject, code, "the code stays out of the subject (lock screens)")
	assert.Contains(t, m.Text, code)
	assert.Contains(t, m.Text, "15 minutes")
	assert.Contains(t, m.HTML, code)
	assert.Contains(t, m.HTML, "Hello Alice")

	require.NoError(t, fx.f.CheckAnswer(code[:3]+" "+code[3:]))
	v, err := fx.f.Verify(ctx, ch, code[:3]+"-"+code[3:])
	require.NoError(t, err)
	assert.Equal(t, "email", v.EnrollmentID)
	_, err = fx.f.Verify(ctx, ch, code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a code works once")
}

func TestSendWithoutAddress(t *testing.T) {
	fx := newFixture(t, nil)
	ch := challenge("chal-1", twofactor.PurposeLogin)
	ch.User.Email = ""
	_, err := fx.f.Send(context.Background(), ch, client)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	assert.Empty(t, fx.outbox.Messages())
}

func TestCheckAnswer(t *testing.T) {
	fx := newFixture(t, nil)
	for _, bad := range []string{"", "12345", "1234567", "12345a", "١٢٣٤٥٦", strings.Repeat("1", 100)} {
		require.ErrorIs(t, fx.f.CheckAnswer(bad), twofactor.ErrInvalidInput, bad)
	}
	require.NoError(t, fx.f.CheckAnswer("123456"))
}

func TestExpiredLooksInvalid(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	ch := challenge("chal-1", twofactor.PurposeLogin)
	_, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	code := fx.lastCode(t)
	fx.clock.Advance(15 * time.Minute)
	_, err = fx.f.Verify(ctx, ch, code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Same(t, twofactor.ErrCodeExpired, err)
	assert.Equal(t, "twofactor: invalid code", err.Error())
}

func TestCooldownRetryAfter(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	ch := challenge("chal-1", twofactor.PurposeLogin)
	_, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	fx.clock.Advance(15 * time.Second)
	_, err = fx.f.Send(ctx, ch, client)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 45*time.Second, re.RetryAfter)
	assert.Len(t, fx.outbox.Messages(), 1)
	fx.clock.Advance(45 * time.Second)
	_, err = fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	assert.Len(t, fx.outbox.Messages(), 2)
}

func TestCapsPerUser(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.Caps.PerUser = 2 })
	ctx := context.Background()
	for i := range 2 {
		_, err := fx.f.Send(ctx, challenge(fmt.Sprint("c", i), twofactor.PurposeLogin), client)
		require.NoError(t, err)
	}
	_, err := fx.f.Send(ctx, challenge("c9", twofactor.PurposeLogin), client)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "user", re.Limit)
}

func TestDeliveryFailure(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.Caps.PerUser = 3 })
	ctx := context.Background()
	ch := challenge("chal-1", twofactor.PurposeLogin)
	_, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	old := fx.lastCode(t)
	fx.clock.Advance(time.Minute)

	fx.outbox.FailWith(errors.New("mail server down"))
	_, err = fx.f.Send(ctx, ch, client)
	require.ErrorIs(t, err, emailcode.ErrDelivery)
	assert.True(t, strings.HasPrefix(err.Error(), "emailcode: "), err.Error())

	// No usable code: the earlier one was replaced and the new one deleted.
	n, err := fx.store.CountGroup(ctx, "otc:email:chal-1")
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = fx.f.Verify(ctx, ch, old)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)

	// No cooldown: retry at once works; the failure still counted (3 of 3).
	fx.outbox.FailWith(nil)
	_, err = fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	fx.clock.Advance(time.Minute)
	_, err = fx.f.Send(ctx, ch, client)
	require.ErrorIs(t, err, twofactor.ErrRateLimited)
}

func TestPurposeBinding(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	// An address confirmation is pending while a login code is sent.
	_, err := fx.f.BeginEnroll(ctx, alice, twofactor.EnrollRequest{Client: client})
	require.NoError(t, err)
	vcode := fx.lastCode(t)
	login := challenge("chal-1", twofactor.PurposeLogin)
	_, err = fx.f.Send(ctx, login, client)
	require.NoError(t, err)
	code := fx.lastCode(t)

	stepUp := challenge("chal-1", twofactor.PurposeStepUp)
	_, err = fx.f.Verify(ctx, stepUp, code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a login code never satisfies a step-up")
	if code != vcode {
		_, err = fx.f.ConfirmEnroll(ctx, alice, code)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode, "nor confirms an address")
	}
	other := challenge("chal-1", twofactor.PurposeLogin)
	other.User.ID = "u-mallory"
	_, err = fx.f.Verify(ctx, other, code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "nor another user's challenge with the same id")
	_, err = fx.f.Verify(ctx, login, code)
	require.NoError(t, err)

	// A code confirming an address never satisfies a login, in any group.
	for _, id := range []string{"enroll:" + alice.ID, "chal-2"} {
		_, err = fx.f.Verify(ctx, challenge(id, twofactor.PurposeLogin), vcode)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	// Nor confirms for another user.
	_, err = fx.f.ConfirmEnroll(ctx, twofactor.User{ID: "u-mallory", Email: alice.Email}, vcode)
	require.ErrorIs(t, err, twofactor.ErrNotEnrolled)
	_, err = fx.f.ConfirmEnroll(ctx, alice, "12")
	require.Same(t, twofactor.ErrMalformedCode, err)
	_, err = fx.f.ConfirmEnroll(ctx, alice, vcode)
	require.NoError(t, err)
}

func TestCancelKillsCodes(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	ch := challenge("chal-1", twofactor.PurposeLogin)
	_, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	require.NoError(t, fx.f.Cancel(ctx, ch))
	_, err = fx.f.Verify(ctx, ch, fx.lastCode(t))
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
}

func TestFiveWrongAnswersKillCode(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	ch := challenge("chal-1", twofactor.PurposeLogin)
	_, err := fx.f.Send(ctx, ch, client)
	require.NoError(t, err)
	code := fx.lastCode(t)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	for range 5 {
		_, err := fx.f.Verify(ctx, ch, wrong)
		require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	}
	_, err = fx.f.Verify(ctx, ch, code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
}

func TestRaceExactlyOneSuccess(t *testing.T) {
	ctx := context.Background()
	for round := range 10 {
		fx := newFixture(t, nil)
		ch := challenge("chal-1", twofactor.PurposeLogin)
		_, err := fx.f.Send(ctx, ch, client)
		require.NoError(t, err)
		code := fx.lastCode(t)
		var wins, losses atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 64 {
			wg.Go(func() {
				<-start
				_, err := fx.f.Verify(ctx, ch, code)
				if err == nil {
					wins.Add(1)
				} else if errors.Is(err, twofactor.ErrInvalidCode) {
					losses.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), wins.Load(), "round %d", round)
		require.Equal(t, int32(63), losses.Load(), "round %d", round)
	}
}

// The end-to-end flow through the root Service: Begin, Send, Verify, with
// every event free of the code and the full address.
func TestServiceEndToEnd(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	svc := fx.service(t)

	b, err := svc.Begin(ctx, alice, client)
	require.NoError(t, err)
	require.Equal(t, twofactor.StatusChallenge, b.Status)
	require.Equal(t, []twofactor.Method{twofactor.MethodEmail}, b.Challenge.Methods)

	sent, err := svc.Send(ctx, b.Challenge.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	assert.Equal(t, "a***@example.com", sent.Destination)
	_, err = svc.Send(ctx, b.Challenge.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, twofactor.ErrRateLimited)
	code := fx.lastCode(t)

	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodEmail, Code: "12x456", Client: client})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode, "a malformed code is a wrong code to the user")
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodEmail, Code: code, UserID: alice.ID, Client: client})
	require.NoError(t, err)
	assert.Equal(t, alice.ID, res.User.ID)
	assert.Equal(t, twofactor.MethodEmail, res.Method)

	// A second login: cancel kills the code.
	b2, err := svc.Begin(ctx, alice, client)
	require.NoError(t, err)
	_, err = svc.Send(ctx, b2.Challenge.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	code2 := fx.lastCode(t)
	require.NoError(t, svc.Cancel(ctx, b2.Challenge.ID))
	n, err := fx.store.CountGroup(ctx, "otc:email:"+b2.Challenge.ID)
	require.NoError(t, err)
	assert.Zero(t, n)

	evs := fx.events.All()
	var types []event.Type
	for _, ev := range evs {
		types = append(types, ev.Type)
		assertClean(t, ev, code, code2, alice.Email)
	}
	assert.Contains(t, types, event.Send)
	assert.Contains(t, types, event.Success)
	assert.Contains(t, types, event.RateLimited)
}

func TestServiceExpiredReason(t *testing.T) {
	fx := newFixture(t, func(c *setup) { c.Codes.TTL = 5 * time.Minute })
	ctx := context.Background()
	svc := fx.service(t)
	b, err := svc.Begin(ctx, alice, client)
	require.NoError(t, err)
	_, err = svc.Send(ctx, b.Challenge.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)
	code := fx.lastCode(t)
	fx.clock.Advance(5 * time.Minute)
	_, err = svc.Verify(ctx, twofactor.Answer{ChallengeID: b.Challenge.ID, Method: twofactor.MethodEmail, Code: code, Client: client})
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
	assert.Equal(t, "twofactor: invalid code", err.Error())
	var reasons []event.Reason
	for _, ev := range fx.events.All() {
		if ev.Type == event.Failure {
			reasons = append(reasons, ev.Reason)
		}
		assertClean(t, ev, code, alice.Email)
	}
	assert.Equal(t, []event.Reason{event.ReasonExpired}, reasons)
}

// assertClean fails if any field of ev holds one of the secrets.
func assertClean(t *testing.T, ev event.Event, secrets ...string) {
	t.Helper()
	all := []string{string(ev.Type), ev.UserID, ev.ChallengeID, string(ev.Method), string(ev.Purpose), string(ev.Reason),
		string(ev.Action), ev.EnrollmentID, ev.Label, ev.IP, ev.UserAgent, ev.Actor}
	for k, v := range ev.Details {
		all = append(all, k, v)
	}
	for _, s := range secrets {
		for _, f := range all {
			assert.NotContains(t, f, s, "event %s leaks a secret", ev.Type)
		}
	}
}

// parsedMail is a received message split into its parts.
type parsedMail struct {
	Header mail.Header
	Text   string
	HTML   string
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	out := parsedMail{Header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			out.Text = string(body)
		case "text/html":
			out.HTML = string(body)
		}
	}
	return out
}

func TestSMTPDelivery(t *testing.T) {
	for _, mode := range []struct {
		name     string
		implicit bool
		tls      emailcode.TLSMode
	}{
		{"starttls", false, emailcode.StartTLS},
		{"implicit-tls", true, emailcode.ImplicitTLS},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := smtptest.New(t, mode.implicit)
			sender, err := emailcode.NewSMTP(emailcode.SMTPConfig{
				Host: srv.Host, Port: srv.Port, Username: srv.User, Password: srv.Pass,
				From: "Acme <no-reply@acme.test>", TLS: mode.tls,
				TLSConfig: &tls.Config{RootCAs: srv.RootCAs, MinVersion: tls.VersionTLS12},
				Timeout:   5 * time.Second,
			})
			require.NoError(t, err)
			fx := newFixture(t, func(c *setup) { c.Sender = sender })
			ctx := context.Background()
			ch := challenge("chal-smtp", twofactor.PurposeLogin)
			_, err = fx.f.Send(ctx, ch, client)
			require.NoError(t, err)

			got := srv.Received()
			require.Len(t, got, 1)
			r := got[0]
			assert.True(t, r.TLS, "sent over TLS")
			assert.True(t, r.Auth, "authenticated")
			assert.Equal(t, "no-reply@acme.test", r.From)
			assert.Equal(t, []string{alice.Email}, r.To)

			m := parseMail(t, r.Data)
			dec := new(mime.WordDecoder)
			subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
			require.NoError(t, err)
			assert.Equal(t, "Your Acme verification code", subject)
			assert.Contains(t, m.Header.Get("To"), alice.Email)
			assert.Contains(t, m.Header.Get("From"), "no-reply@acme.test")
			assert.NotEmpty(t, m.Header.Get("Date"))
			assert.NotEmpty(t, m.Header.Get("Message-Id"))
			code := codeRE.FindString(m.Text)
			require.NotEmpty(t, code, "text part has the code: %q", m.Text)
			assert.Contains(t, m.HTML, code, "html part has the code")
			assert.Contains(t, m.HTML, "<p")

			_, err = fx.f.Verify(ctx, ch, code)
			require.NoError(t, err, "the mailed code verifies")
		})
	}
}

func TestSMTPFailures(t *testing.T) {
	srv := smtptest.New(t, false)
	ctx := context.Background()
	t.Run("bad password", func(t *testing.T) {
		sender, err := emailcode.NewSMTP(emailcode.SMTPConfig{
			Host: srv.Host, Port: srv.Port, Username: srv.User, Password: "wrong",
			From: "no-reply@acme.test", TLSConfig: &tls.Config{RootCAs: srv.RootCAs}, Timeout: 5 * time.Second,
		})
		require.NoError(t, err)
		fx := newFixture(t, func(c *setup) { c.Sender = sender })
		ch := challenge("chal-x", twofactor.PurposeLogin)
		_, err = fx.f.Send(ctx, ch, client)
		require.ErrorIs(t, err, emailcode.ErrDelivery)
		n, err := fx.store.CountGroup(ctx, "otc:email:chal-x")
		require.NoError(t, err)
		assert.Zero(t, n, "no code left behind")
		_, err = fx.f.Send(ctx, ch, client)
		require.ErrorIs(t, err, emailcode.ErrDelivery, "no cooldown after a failure: the retry reaches the server")
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		sender, err := emailcode.NewSMTP(emailcode.SMTPConfig{
			Host: srv.Host, Port: srv.Port, Username: srv.User, Password: srv.Pass,
			From: "no-reply@acme.test", Timeout: 5 * time.Second,
		})
		require.NoError(t, err)
		err = sender.Send(ctx, emailcode.Message{To: alice.Email, Subject: "s", Text: "t"})
		require.Error(t, err)
	})
	assert.Empty(t, srv.Received())
}

func TestSMTPConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  emailcode.SMTPConfig
		want string
	}{
		{"no host", emailcode.SMTPConfig{From: "a@b.c"}, "Host"},
		{"bad from", emailcode.SMTPConfig{Host: "smtp.example.com", From: "nope"}, "From"},
		{"plain to remote", emailcode.SMTPConfig{Host: "smtp.example.com", From: "a@b.c", TLS: emailcode.NoTLS}, "loopback"},
		{"plain with auth", emailcode.SMTPConfig{Host: "127.0.0.1", From: "a@b.c", TLS: emailcode.NoTLS, Username: "u"}, "unencrypted"},
		{"bad mode", emailcode.SMTPConfig{Host: "smtp.example.com", From: "a@b.c", TLS: 9}, "TLS"},
		{"bad port", emailcode.SMTPConfig{Host: "smtp.example.com", From: "a@b.c", Port: 70000}, "Port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := emailcode.NewSMTP(tt.cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := emailcode.NewSMTP(emailcode.SMTPConfig{Host: "localhost", From: "a@b.c", TLS: emailcode.NoTLS})
	require.NoError(t, err)
}

// FuzzCheckAnswer: CheckAnswer never panics, rejects with ErrInvalidInput
// only, and whatever it accepts reaches the store as a plain wrong code.
func FuzzCheckAnswer(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "12-34-56", "", "abcdef", "1234567", "\xff\xfe", "１２３４５６"} {
		f.Add(s)
	}
	fx := newFixture(f, nil)
	ch := challenge("chal-fuzz", twofactor.PurposeLogin)
	f.Fuzz(func(t *testing.T, answer string) {
		err := fx.f.CheckAnswer(answer)
		if err != nil {
			if !errors.Is(err, twofactor.ErrInvalidInput) {
				t.Fatalf("CheckAnswer(%q) = %v, want ErrInvalidInput", answer, err)
			}
		}
		// No code was issued: every answer must fail as an invalid code.
		if _, err := fx.f.Verify(context.Background(), ch, answer); !errors.Is(err, twofactor.ErrInvalidCode) {
			t.Fatalf("Verify(%q) = %v, want ErrInvalidCode", answer, err)
		}
	})
}

// Two app instances sharing one store behave as one: the cooldown and caps
// hold across them, and a code sent by one verifies on the other, once.
// Every send request counts toward the caps, the one the cooldown refused
// too, so three requests fill a cap of three.
func TestInstancesShareLimits(t *testing.T) {
	a := newFixture(t, func(c *setup) { c.Caps.PerUser = 3 })
	b, err := emailcode.New(twofactor.Env{Store: a.store, Keys: a.keys, Now: a.clock.Now, Events: &event.Sink{Discard: true}},
		emailcode.Config{Sender: a.outbox, Caps: emailcode.Caps{PerUser: 3}})
	require.NoError(t, err)
	ctx := context.Background()
	ch := challenge("chal-1", twofactor.PurposeLogin)
	_, err = a.f.Send(ctx, ch, client)
	require.NoError(t, err)
	_, err = b.Send(ctx, ch, client)
	require.ErrorIs(t, err, twofactor.ErrRateLimited, "cooldown from the other instance")
	_, err = b.Send(ctx, challenge("chal-2", twofactor.PurposeLogin), client)
	require.NoError(t, err)
	_, err = a.f.Send(ctx, challenge("chal-3", twofactor.PurposeLogin), client)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "user", re.Limit, "the cap counts both instances' sends")

	code := a.lastCode(t) // chal-2's code, sent by b
	_, err = a.f.Verify(ctx, challenge("chal-2", twofactor.PurposeLogin), code)
	require.NoError(t, err)
	_, err = b.Verify(ctx, challenge("chal-2", twofactor.PurposeLogin), code)
	require.ErrorIs(t, err, twofactor.ErrInvalidCode)
}

// A mail server that refuses the message: the Service's send-failure
// event says "delivery", and the caller can tell it with errors.Is.
func TestServiceSendDeliveryFailure(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	svc := fx.service(t)
	b, err := svc.Begin(ctx, alice, client)
	require.NoError(t, err)
	fx.outbox.FailWith(errors.New("550 mailbox unavailable"))
	_, err = svc.Send(ctx, b.Challenge.ID, twofactor.MethodEmail, client)
	require.ErrorIs(t, err, emailcode.ErrDelivery)
	evs := fx.events.OfType(event.SendFailed)
	require.Len(t, evs, 1)
	assert.Equal(t, emailcode.ReasonDelivery, evs[0].Reason)
}

// verifyFrom has account id ask to confirm addr, pressing "resend" each
// time (Restart), as a script hammering the enrollment would.
func verifyFrom(fx *fixture, id, addr string, c twofactor.Client) error {
	_, err := fx.f.BeginEnroll(context.Background(), twofactor.User{ID: id},
		twofactor.EnrollRequest{Destination: addr, Client: c, Restart: true})
	return err
}

// Other accounts aiming every verification code they may at someone's
// address cannot keep her from confirming it: at the defaults it takes as
// many accounts as the address has slots (20), not a few. Her own resends
// are never refused by them once she has a code.
func TestOwnerConfirmsDespiteOtherAccounts(t *testing.T) {
	ctx := context.Background()
	attack := func(fx *fixture, accounts int) {
		t.Helper()
		for range emailcode.DefaultCapVerifyUserDestination {
			for a := range accounts {
				ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(a)})
				require.NoError(t, verifyFrom(fx, fmt.Sprint("evil-", a), alice.Email, twofactor.Client{IP: ip}), "account %d", a)
			}
			fx.clock.Advance(emailcode.DefaultResendCooldown)
		}
	}
	for _, others := range []int{3, emailcode.DefaultCapVerifyDestination - 1} {
		t.Run(fmt.Sprint(others, " other accounts"), func(t *testing.T) {
			fx := newFixture(t, nil)
			attack(fx, others)
			e := fx.enroll(t, alice, alice.Email)
			assert.Equal(t, emailcode.EnrollmentID, e.ID, "she confirmed her address")
		})
	}
	t.Run("her resends", func(t *testing.T) {
		fx := newFixture(t, nil)
		attack(fx, emailcode.DefaultCapVerifyDestination-1)
		require.NoError(t, verifyFrom(fx, alice.ID, alice.Email, client), "her first code takes the last slot")
		var re *twofactor.RetryError
		require.ErrorAs(t, verifyFrom(fx, "late", alice.Email, twofactor.Client{IP: netip.MustParseAddr("192.0.2.200")}), &re)
		assert.Equal(t, emailcode.LimitVerifyDestination, re.Limit)
		fx.clock.Advance(emailcode.DefaultResendCooldown)
		require.NoError(t, verifyFrom(fx, alice.ID, alice.Email, client), "her resend needs no new slot")
		_, err := fx.f.ConfirmEnroll(ctx, alice, fx.lastCode(t))
		require.NoError(t, err)
	})
	t.Run("as many accounts as slots", func(t *testing.T) {
		fx := newFixture(t, nil)
		attack(fx, emailcode.DefaultCapVerifyDestination)
		var re *twofactor.RetryError
		require.ErrorAs(t, verifyFrom(fx, alice.ID, alice.Email, client), &re)
		assert.Equal(t, emailcode.LimitVerifyDestination, re.Limit)
		assert.LessOrEqual(t, re.RetryAfter, emailcode.DefaultCapWindow)
	})
}

// Attackers' accounts ask to verify the victim's address until every one of
// them is refused. The victim still gets every login code of their budget:
// verification codes never spend it.
func TestVerificationSparesLoginBudget(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	refused := map[string]bool{}
	sent := 0
	for round := range 2 * emailcode.DefaultCapVerifyUser {
		for a := range emailcode.DefaultCapVerifyDestination + 2 { // more accounts than the destination has slots
			ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(a)})
			err := verifyFrom(fx, fmt.Sprint("evil-", a), alice.Email, twofactor.Client{IP: ip})
			if err == nil {
				sent++
				continue
			}
			var re *twofactor.RetryError
			require.ErrorAs(t, err, &re, "round %d", round)
			refused[re.Limit] = true
		}
		fx.clock.Advance(emailcode.DefaultResendCooldown)
	}
	assert.Equal(t, emailcode.DefaultCapVerifyDestination*emailcode.DefaultCapVerifyUserDestination, sent,
		"the address's verification budget bounds the spam: slots × what one account may send")
	assert.True(t, refused[emailcode.LimitVerifyDestination], "%v", refused)
	assert.False(t, refused[emailcode.LimitDestination], "%v", refused)

	for i := range emailcode.DefaultCapDestination {
		_, err := fx.f.Send(ctx, challenge(fmt.Sprint("login-", i), twofactor.PurposeLogin), client)
		require.NoError(t, err, "login code %d", i)
		fx.clock.Advance(emailcode.DefaultResendCooldown)
	}
}

// One account hammering BeginEnroll at an address, within and after
// the cooldown, spends only its own budget: another account can still
// verify the address.
func TestVerificationOneAccountCannotExhaustAnother(t *testing.T) {
	fx := newFixture(t, nil)
	sent := 0
	limits := map[string]int{}
	for i := range 60 {
		err := verifyFrom(fx, "evil", alice.Email, client)
		if err == nil {
			sent++
		} else {
			var re *twofactor.RetryError
			require.ErrorAs(t, err, &re)
			limits[re.Limit]++
		}
		if i%3 == 2 {
			fx.clock.Advance(emailcode.DefaultResendCooldown)
		}
	}
	// Refused requests count on the account's own caps too, so hammering
	// inside the cooldown burns its budget sooner.
	assert.Positive(t, sent)
	assert.LessOrEqual(t, sent, emailcode.DefaultCapVerifyUserDestination)
	assert.Positive(t, limits[emailcode.LimitResend])
	assert.Positive(t, limits[emailcode.LimitVerifyUserDestination])
	assert.Zero(t, limits[emailcode.LimitVerifyDestination])

	// The address's owner, on another network, verifies it: every one of
	// their own sends goes out.
	owner := twofactor.Client{IP: netip.MustParseAddr("203.0.113.50")}
	for i := range emailcode.DefaultCapVerifyUserDestination {
		require.NoError(t, verifyFrom(fx, alice.ID, alice.Email, owner), "send %d", i)
		fx.clock.Advance(emailcode.DefaultResendCooldown)
	}
	_, err := fx.f.ConfirmEnroll(context.Background(), alice, fx.lastCode(t))
	require.NoError(t, err)
}

// An account's verification codes are capped across addresses too.
func TestVerificationCapPerAccount(t *testing.T) {
	fx := newFixture(t, nil)
	for i := range emailcode.DefaultCapVerifyUser {
		require.NoError(t, verifyFrom(fx, "u1", fmt.Sprintf("a%d@example.com", i), client), "address %d", i)
		fx.clock.Advance(emailcode.DefaultResendCooldown)
	}
	err := verifyFrom(fx, "u1", "another@example.com", client)
	var re *twofactor.RetryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, emailcode.LimitVerifyUser, re.Limit)
	require.NoError(t, verifyFrom(fx, "u2", "another@example.com", client), "another account has its own")
}
