package twofactorhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/twofactorhttp"
)

// BenchmarkLogin measures one full login with an email code, in one run,
// two ways on the same Service, factors and memory store:
//
//   - service: Service.Begin, Send and Verify called directly, as a host
//     without this package would;
//   - http: the same steps through the handlers over httptest (the host's
//     login route calling Handler.Begin, then POST send and POST verify,
//     with their cookies, forms, redirects and SignIn).
//
// It reports both costs per login, http-service-ratio (the login through
// the handlers over the Service alone; serve-service-ratio counts only the
// time inside ServeHTTP, leaving out making the requests and reading the
// responses), and overhead-ratio, what the HTTP layer adds divided by what
// the Service itself costs: below 1 means the layer costs less than the
// flow it serves. That includes what net/http costs
// any host for three requests; bare-http measures that alone (the same
// requests to handlers that only parse the form, read and set a cookie and
// redirect), and layer-overhead-ratio leaves it out: what this package
// adds beyond hand-written handlers. The same ratios in CPU time (cpu-)
// are steadier on a busy machine; they include the garbage collector's
// work, which allocations cause.
func BenchmarkLogin(b *testing.B) {
	e := newEnv(b, envOpt{
		svc:   func(c *twofactor.Config) { c.Limits.MaxIPAttempts = 1 << 30 },
		layer: func(c *twofactorhttp.Config) { c.ManualSend = true },
	})
	e.who.set("alice", twofactor.MethodEmail)
	ctx := context.Background()
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	client := twofactor.Client{IP: netip.MustParseAddr("203.0.113.9"), UserAgent: ua}

	viaService := func() {
		begun, err := e.svc.Begin(ctx, alice, client)
		if err != nil || begun.Status != twofactor.StatusChallenge {
			b.Fatal(err, begun)
		}
		id := begun.Challenge.ID
		if _, err := e.svc.Send(ctx, id, twofactor.MethodEmail, client); err != nil {
			b.Fatal(err)
		}
		res, err := e.svc.Verify(ctx, twofactor.Answer{ChallengeID: id, Method: twofactor.MethodEmail, Code: e.email.code(id), UserID: alice.ID, Client: client})
		if err != nil || res.Proof == "" {
			b.Fatal(err)
		}
	}

	var served time.Duration // inside ServeHTTP, during measured logins
	post := func(path, form string, c *http.Cookie) *httptest.ResponseRecorder {
		// A request as net/http's server hands it over (httptest.NewRequest
		// would add a 4 KiB reader of its own to each).
		r, err := http.NewRequest(http.MethodPost, "https://example.com"+path, strings.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		r.RemoteAddr = "203.0.113.9:4711"
		r.Header.Set("User-Agent", ua)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		t0 := time.Now()
		e.mux.ServeHTTP(w, r)
		served += time.Since(t0)
		if w.Code != http.StatusSeeOther {
			b.Fatalf("POST %s: %d %s", path, w.Code, w.Body)
		}
		return w
	}
	viaHTTP := func() {
		w := post("/login", "user=alice&password=pw&next=%2Faccount", nil)
		var pc *http.Cookie
		for _, c := range w.Result().Cookies() {
			if c.Name == twofactorhttp.DefaultPendingCookie {
				pc = c
			}
		}
		id, _, _ := strings.Cut(pc.Value, "~")
		post("/2fa/send", "method=email", pc)
		w = post("/2fa/verify", "method=email&code="+e.email.code(id), pc)
		if w.Header().Get("Location") != "/account" {
			b.Fatal("not signed in")
		}
	}

	// bare is what any host's own handlers for the three steps pay in
	// net/http alone, without the second factor: the same requests, each
	// parsing its form, reading and setting a cookie and redirecting.
	bareMux := http.NewServeMux()
	bareStep := func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		_, _ = r.Cookie("pending")
		http.SetCookie(w, &http.Cookie{Name: "pending", Value: strings.Repeat("x", 120), Path: "/2fa/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		w.Header().Set("Location", "/2fa/")
		w.WriteHeader(http.StatusSeeOther)
	}
	bareMux.HandleFunc("POST /login", bareStep)
	bareMux.HandleFunc("POST /2fa/send", bareStep)
	bareMux.HandleFunc("POST /2fa/verify", bareStep)
	bareCookie := &http.Cookie{Name: "pending", Value: strings.Repeat("x", 120)}
	viaBare := func() {
		for _, p := range []string{"/login", "/2fa/send", "/2fa/verify"} {
			r, _ := http.NewRequest(http.MethodPost, "https://example.com"+p, strings.NewReader("user=alice&password=pw&method=email&code=123456"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(bareCookie)
			bareMux.ServeHTTP(httptest.NewRecorder(), r)
		}
	}

	viaService()
	viaHTTP()
	served = 0
	// The two flows alternate in batches, so a busy machine slows both
	// alike; wall time and the process's CPU time are both measured.
	const batch = 50
	var svc, web, bare, svcCPU, webCPU, bareCPU time.Duration
	measure := func(n int, flow func(), wall, cpu *time.Duration) {
		c0, _ := cpuTime()
		t0 := time.Now()
		for range n {
			flow()
		}
		*wall += time.Since(t0)
		c1, _ := cpuTime()
		*cpu += c1 - c0
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		n := min(batch, b.N-done)
		measure(n, viaService, &svc, &svcCPU)
		measure(n, viaHTTP, &web, &webCPU)
		measure(n, viaBare, &bare, &bareCPU)
		if done%1000 == 950 {
			// Let what the logins stored expire and be swept, as a
			// running store would, so the store does not grow.
			b.StopTimer()
			e.clock.Advance(time.Hour)
			if _, err := e.mem.Sweep(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	perLogin := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(perLogin(svc), "service-ns/login")
	b.ReportMetric(perLogin(web), "http-ns/login")
	b.ReportMetric(float64(web)/float64(svc), "http-service-ratio")
	b.ReportMetric(float64(served)/float64(svc), "serve-service-ratio")
	b.ReportMetric(float64(web-svc)/float64(svc), "overhead-ratio")
	b.ReportMetric(perLogin(bare), "bare-http-ns/login")
	b.ReportMetric(float64(web-svc-bare)/float64(svc), "layer-overhead-ratio")
	if svcCPU > 0 {
		b.ReportMetric(perLogin(svcCPU), "service-cpu-ns/login")
		b.ReportMetric(perLogin(webCPU), "http-cpu-ns/login")
		b.ReportMetric(float64(webCPU-svcCPU)/float64(svcCPU), "cpu-overhead-ratio")
		b.ReportMetric(float64(webCPU-svcCPU-bareCPU)/float64(svcCPU), "cpu-layer-overhead-ratio")
	}
}
