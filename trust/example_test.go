package trust_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/trust"
)

// codeFactor stands for a real second factor (totp, emailcode...): its
// answer is always "123456".
type codeFactor struct{}

func (codeFactor) Method() twofactor.Method { return "code" }

func (codeFactor) Enrollments(context.Context, twofactor.User) ([]twofactor.Enrollment, error) {
	return []twofactor.Enrollment{{ID: "e1", Method: "code"}}, nil
}

func (codeFactor) Verify(_ context.Context, _ *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	if answer != "123456" {
		return twofactor.Verified{}, twofactor.ErrInvalidCode
	}
	return twofactor.Verified{EnrollmentID: "e1"}, nil
}

// NewFactor makes codeFactor its own configuration, for Config.Factors.
func (c codeFactor) NewFactor(twofactor.Env) (twofactor.Factor, error) { return c, nil }

// A login handler remembers the browser after a second factor, and the next
// login from the same network and browser is not asked again. The
// Service builds the Manager from its trust.Config with its own store,
// keys, events and clock, and svc.Trust() returns it.
func Example() {
	// In a real app: keys from keyring.Env("TWOFACTOR_KEYS"), a
	// shared store, and the real clock.
	key := keyring.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, keyring.KeySize)}
	keys, _ := keyring.New(key)
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	svc, err := twofactor.New(twofactor.Config{
		Store:   store.NewMemory(now),
		Keys:    keys,
		Factors: []twofactor.FactorConfig{codeFactor{}},
		Trust: trust.Config{
			Duration:       trust.Month,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, // the load balancer
		},
		Events: &event.Sink{Discard: true},
		Now:    now,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	devices := svc.Trust().(*trust.Manager)
	ctx := context.Background()
	user := twofactor.User{ID: "42"}

	// First login: asked for the second factor, the user ticks "trust this
	// device".
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.RemoteAddr = "10.0.0.5:50000"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
	begun, _ := svc.Begin(ctx, user, devices.Client(r))
	fmt.Println(begun.Status)
	res, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: "code", Code: "123456",
		UserID: user.ID, Client: devices.Client(r), RememberDevice: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	w := httptest.NewRecorder()
	devices.SetCookie(w, *res.Device)
	setCookie := w.Header().Get("Set-Cookie")
	fmt.Println(setCookie[strings.Index(setCookie, ";")+2:])

	// The next login sends the cookie back, from a new address of the same
	// network: not asked.
	next := httptest.NewRequest(http.MethodPost, "/login", nil)
	next.RemoteAddr = "10.0.0.6:50001"
	next.Header.Set("X-Forwarded-For", "203.0.113.80")
	next.Header.Set("User-Agent", r.UserAgent())
	for _, c := range w.Result().Cookies() {
		next.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	begun, _ = svc.Begin(ctx, user, devices.Client(next))
	fmt.Println(begun.Status)

	list, _ := devices.List(ctx, user.ID)
	for _, d := range list {
		fmt.Println(d.Label, d.IP, d.ExpiresAt.Format(time.DateOnly))
	}
	// Output:
	// challenge
	// Path=/; Expires=Tue, 31 Mar 2026 12:00:00 GMT; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax
	// trusted
	// Firefox on Linux 203.0.113.0/24 2026-03-31
}

// ClientIP believes forwarding headers only from the proxies the host
// trusts.
func ExampleClientIP() {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7")

	r.RemoteAddr = "10.0.0.5:50000" // the load balancer
	fmt.Println(trust.ClientIP(r, proxies, trust.XForwardedFor))

	r.RemoteAddr = "192.0.2.9:50000" // a client writing its own header
	fmt.Println(trust.ClientIP(r, proxies, trust.XForwardedFor))

	r.RemoteAddr = "10.0.0.5:50000"
	r.Header.Set("Forwarded", `for="[2001:db8:cafe::17]:4711";proto=https`)
	fmt.Println(trust.ClientIP(r, proxies, trust.Forwarded))
	// Output:
	// 203.0.113.7
	// 192.0.2.9
	// 2001:db8:cafe::17
}

// ParseAgent names the browser for a devices page.
func ExampleParseAgent() {
	ua := "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
	fmt.Println(trust.ParseAgent(ua).Label())
	// Output: Safari on macOS
}
