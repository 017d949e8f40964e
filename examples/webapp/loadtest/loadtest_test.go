package main

import (
	"context"
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// fakeClock is a pacer's clock that only moves when it sleeps, or when a
// test moves it.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if t.After(c.now) {
		c.now = t
	}
	return ctx.Err()
}

func TestDue(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, tt := range []struct {
		rate float64
		i    int64
		want time.Duration
	}{
		{1, 0, 0}, {1, 3, 3 * time.Second}, {20, 1, 50 * time.Millisecond}, {20, 19, 950 * time.Millisecond},
		{2.5, 5, 2 * time.Second}, {3, 1, 333333333 * time.Nanosecond},
	} {
		if got := due(start, tt.rate, tt.i).Sub(start); got != tt.want {
			t.Errorf("due(rate %g, %d) = start+%s, want start+%s", tt.rate, tt.i, got, tt.want)
		}
	}
}

// pace fires rate×window logins at their due times, keeps the schedule
// when a login is slow to start (open loop: the next ones are not
// pushed back, they start late and at once), and stops when told.
func TestPace(t *testing.T) {
	for _, tt := range []struct {
		rate   float64
		window time.Duration
		want   int64
	}{
		{20, time.Second, 20}, {2.5, 2 * time.Second, 5}, {3, time.Second, 3}, {0.5, 3 * time.Second, 2},
		{40, 5 * time.Minute, 12000}, {7, 1500 * time.Millisecond, 11},
	} {
		start := time.Unix(1000, 0)
		c := &fakeClock{now: start}
		var fired []time.Time
		n := pace(context.Background(), c, start, tt.rate, tt.window, func(i int64, due, now time.Time) bool {
			if !now.Equal(due) {
				t.Fatalf("rate %g: login %d started at %s, due %s", tt.rate, i, now, due)
			}
			fired = append(fired, due)
			return true
		})
		if n != tt.want || int64(len(fired)) != tt.want {
			t.Errorf("rate %g over %s: fired %d (returned %d), want %d", tt.rate, tt.window, len(fired), n, tt.want)
			continue
		}
		for i, f := range fired {
			if want := start.Add(time.Duration(float64(i) * float64(time.Second) / tt.rate)); !f.Equal(want) {
				t.Fatalf("rate %g: login %d due at %s, want %s", tt.rate, i, f.Sub(start), want.Sub(start))
			}
			if !f.Before(start.Add(tt.window)) {
				t.Fatalf("rate %g: login %d due at %s, after the window", tt.rate, i, f.Sub(start))
			}
		}
	}

	// The third login stalls the generator for a second: the logins due
	// meanwhile start at once, late, and the schedule goes on unchanged.
	start := time.Unix(1000, 0)
	c := &fakeClock{now: start}
	var lags []time.Duration
	n := pace(context.Background(), c, start, 10, time.Second, func(i int64, due, now time.Time) bool {
		lags = append(lags, now.Sub(due))
		if i == 2 {
			c.now = c.now.Add(time.Second)
		}
		return true
	})
	if n != 10 {
		t.Fatalf("with a stall: fired %d, want 10", n)
	}
	for i, lag := range lags {
		want := time.Duration(0)
		if i > 2 {
			want = time.Second - time.Duration(i-2)*100*time.Millisecond
		}
		if lag != want {
			t.Errorf("with a stall: login %d lag %s, want %s", i, lag, want)
		}
	}

	// fire returning false stops the pacer; so does the context.
	c = &fakeClock{now: start}
	if n := pace(context.Background(), c, start, 10, time.Second, func(i int64, _, _ time.Time) bool { return i < 3 }); n != 4 {
		t.Errorf("stopped by fire: fired %d, want 4", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := pace(ctx, &fakeClock{now: start}, start, 10, time.Second, func(int64, time.Time, time.Time) bool { return true }); n != 0 {
		t.Errorf("cancelled: fired %d, want 0", n)
	}
}

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 50, 7}, {[]time.Duration{7}, 99, 7},
		{hundred, 50, 50 * time.Millisecond}, {hundred, 99, 99 * time.Millisecond},
		{hundred, 100, 100 * time.Millisecond}, {hundred, 1, time.Millisecond}, {hundred, 0.5, time.Millisecond},
		{[]time.Duration{1, 2, 3, 4}, 50, 2}, {[]time.Duration{1, 2, 3, 4}, 51, 3}, {[]time.Duration{1, 2, 3, 4}, 99, 4},
		{[]time.Duration{1, 2, 3}, 50, 2},
	} {
		if got := percentile(tt.samples, tt.p); got != tt.want {
			t.Errorf("percentile(%d samples, %g) = %s, want %s", len(tt.samples), tt.p, got, tt.want)
		}
	}
	// summarize sorts first.
	s := summarize([]time.Duration{9, 1, 5, 3, 7})
	if s.n != 5 || s.p50 != 5 || s.p99 != 9 || s.max != 9 {
		t.Errorf("summarize = %+v, want n 5, p50 5, p99 9, max 9", s)
	}
}

// The outbox page lists messages newest first; the code is that of the
// newest email to the address that holds one: not a notification, not
// another address's, not an SMS.
func TestOutboxCode(t *testing.T) {
	page := []byte(`<main><section class="card wide"><h1>Outbox</h1>
<article class="msg" data-kind="Email" data-to="load7@example.com">
<h2><span class="kind">Email</span> to load7@example.com</h2>
<p class="muted">A device was trusted</p>
<details><summary>Whole message</summary><pre>Firefox on Linux</pre></details>
</article>
<article class="msg" data-kind="SMS" data-to="load7@example.com">
<p>Code: <code class="otp">111111</code></p>
</article>
<article class="msg" data-kind="Email" data-to="load17@example.com">
<p>Code: <code class="otp">222222</code></p>
</article>
<article class="msg" data-kind="Email" data-to="load7@example.com">
<p>Code: <code class="otp">333333</code></p>
</article>
<article class="msg" data-kind="Email" data-to="load7@example.com">
<p>Code: <code class="otp">444444</code></p>
</article>
<article class="msg" data-kind="Email" data-to="o&#39;hara&#43;x@example.com">
<p>Code: <code class="otp">555555</code></p>
</article>
</section></main>`)
	for to, want := range map[string]string{
		"load7@example.com": "333333", "load17@example.com": "222222", "o'hara+x@example.com": "555555", "load1@example.com": "",
	} {
		got, ok := outboxCode(page, to)
		if got != want || ok != (want != "") {
			t.Errorf("outboxCode(%s) = %q, %v; want %q", to, got, ok, want)
		}
	}
}

// Every user is a client network of its own, in the documentation
// ranges; an IPv6 user's addresses vary within its /64.
func TestClientAddresses(t *testing.T) {
	docs := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	nets := map[netip.Prefix]int{}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := 1; k <= 5000; k++ {
		base := clientBase(k)
		a := clientAddr(base, rng)
		in := false
		for _, d := range docs {
			in = in || d.Contains(a)
		}
		if !in {
			t.Fatalf("user %d: %s is outside the documentation ranges", k, a)
		}
		bits := 64
		if a.Is4() {
			bits = 32
			if a.As4()[3] == 0 || a.As4()[3] == 255 {
				t.Fatalf("user %d: %s is a network or broadcast address", k, a)
			}
		}
		n := netip.PrefixFrom(a, bits).Masked()
		if other, ok := nets[n]; ok {
			t.Fatalf("users %d and %d share the network %s", other, k, n)
		}
		nets[n] = k
		if b := clientAddr(base, rng); a.Is6() && (b == a || netip.PrefixFrom(b, 64).Masked() != n) {
			t.Fatalf("user %d: %s then %s: want another address of the same /64", k, a, b)
		}
	}
}

func TestWrongCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	right := []string{"000000", "000001", "000002"}
	for range 2000 {
		c := wrongCode(rng, 6, right)
		if len(c) != 6 {
			t.Fatalf("wrongCode = %q: want 6 digits", c)
		}
		for _, r := range right {
			if c == r {
				t.Fatalf("wrongCode = %q, one of the right codes", c)
			}
		}
	}
	// With every code but one right, the wrong one is that one.
	if c := wrongCode(rng, 1, []string{"0", "1", "2", "3", "4", "5", "6", "8", "9"}); c != "7" {
		t.Errorf("wrongCode = %q, want 7", c)
	}
}

func TestMix(t *testing.T) {
	if sum := shareTrusted + shareTOTP + shareEmail + shareTOTPEmail; math.Abs(sum-1) > 1e-9 {
		t.Fatalf("the shares of the kinds add up to %g, not 1", sum)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	n := map[string]int{}
	const draws = 100_000
	for range draws {
		n[pickKind(rng.Float64())]++
	}
	for kind, share := range map[string]float64{kindTrusted: shareTrusted, kindTOTP: shareTOTP, kindEmail: shareEmail, kindTOTPEmail: shareTOTPEmail} {
		if got := float64(n[kind]) / draws; math.Abs(got-share) > 0.01 {
			t.Errorf("%s: drawn %.3f of the time, want %.3f", kind, got, share)
		}
	}
}

// The pool lends a user to one login at a time, a TOTP user only while
// it has an unused code (its current step's, else the next one's), an
// email user only with codes left under the hourly cap.
func TestPoolTake(t *testing.T) {
	now := time.Unix(30*1000+5, 0) // step 1000
	p := &pool{period: 30, digits: 6}
	fresh := &user{k: 1, secret: "A", lastStep: 998}
	usedNow := &user{k: 2, secret: "B", lastStep: 1000}
	usedNext := &user{k: 3, secret: "C", lastStep: 1001}
	p.totp = []*user{fresh, usedNow, usedNext}
	mailer := &user{k: 4}
	p.email = []*user{mailer}
	rng := rand.New(rand.NewPCG(7, 8))

	if u := p.take(kindTOTP, now, rng); u != fresh {
		t.Fatalf("first TOTP take: %+v, want the user whose current code is unused", u)
	}
	if u := p.take(kindTOTP, now, rng); u != usedNow {
		t.Fatalf("second TOTP take: %+v, want the user with the next step's code", u)
	}
	if u := p.take(kindTOTP, now, rng); u != nil {
		t.Fatalf("third TOTP take: %+v, want none (busy, or no code left)", u)
	}
	p.release(fresh)
	if u := p.take(kindTOTP, now, rng); u != fresh {
		t.Fatalf("after release: %+v, want the released user", u)
	}

	if u := p.take(kindTrusted, now, rng); u != nil {
		t.Fatalf("trusted take with no device: %+v", u)
	}
	p.trusted(usedNext, "cookie")
	if u := p.take(kindTrusted, now, rng); u != usedNext {
		t.Fatalf("trusted take: %+v, want the user with a device", u)
	}

	for i := range emailCapPerUser - 3 {
		p.sent(mailer, now.Add(-time.Duration(i)*time.Minute))
	}
	if u := p.take(kindEmail, now, rng); u != nil {
		t.Fatalf("email take with 3 codes left: %+v, want none (a login may ask for 4)", u)
	}
	if u := p.take(kindEmail, now.Add(time.Hour), rng); u != mailer {
		t.Fatalf("email take an hour later: %+v, want the user", u)
	}
}

// The timeline counts what ended in each interval, the last one cut at
// the end, and nothing outside.
func TestTimeline(t *testing.T) {
	from := time.Unix(1000, 0)
	at := func(s float64) time.Time { return from.Add(time.Duration(s * float64(time.Second))) }
	signed := []time.Time{at(-1), at(0), at(4.9), at(5), at(12), at(12.5)}
	ended := []timed{{at(1), 10}, {at(2), 30}, {at(3), 20}, {at(7), 5}, {at(12.4), 1}, {at(13), 99}}
	bs := timeline(from, at(12.5), 5*time.Second, signed, ended)
	if len(bs) != 3 {
		t.Fatalf("%d intervals, want 3", len(bs))
	}
	for i, want := range []bucket{
		{from: at(0), to: at(5), signedIn: 2, requests: 3, p99: 30},
		{from: at(5), to: at(10), signedIn: 1, requests: 1, p99: 5},
		{from: at(10), to: at(12.5), signedIn: 1, requests: 1, p99: 1},
	} {
		if bs[i] != want {
			t.Errorf("interval %d: %+v, want %+v", i, bs[i], want)
		}
	}
	// A short tail joins the interval before it.
	bs = timeline(from, at(10.3), 5*time.Second, signed, ended)
	if len(bs) != 2 || bs[1].to != at(10.3) || bs[1].signedIn != 1 || bs[1].requests != 1 {
		t.Errorf("with a short tail: %+v, want 2 intervals, the second to 10.3s with 1 login and 1 request", bs)
	}
	for window, want := range map[time.Duration]time.Duration{
		5 * time.Minute: 30 * time.Second, 20 * time.Second: 5 * time.Second, time.Minute: 10 * time.Second, 72 * time.Second: 10 * time.Second,
	} {
		if got := timelineWidth(window); got != want {
			t.Errorf("timelineWidth(%s) = %s, want %s", window, got, want)
		}
	}
}
