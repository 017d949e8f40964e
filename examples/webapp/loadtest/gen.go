package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Kinds of login.
const (
	kindTOTP      = "totp"       // a user with an authenticator app types its code
	kindEmail     = "email"      // a user with email codes only: the code is sent with the password step
	kindTOTPEmail = "totp→email" // a user with an app picks "email me a code" instead
	kindTrusted   = "trusted"    // a trusted device: signed in with the password alone
)

// The mix: the share of each kind of login, and how often each variation
// happens in the logins it applies to.
const (
	shareTrusted   = 0.15
	shareTOTP      = 0.42
	shareEmail     = 0.35
	shareTOTPEmail = 0.08

	pWrong       = 0.15 // a wrong code before the right one
	pRememberApp = 0.30 // TOTP logins of users without a trusted device tick "trust this device"
	pRememberOTP = 0.10 // email logins do so less often
	pEarlyResend = 0.10 // a resend inside the cooldown: refused, 429 resend_wait
	pResend      = 0.05 // a resend once the cooldown is over, then the new code (the old one is refused)
	pReplaySame  = 0.10 // the used code again on its own challenge, on the other instance
	pReplayNew   = 0.05 // the used code on a new challenge of the same user

	// resendMargin: no login waits for a cooldown when less than this is
	// left of the window, so that the run ends on time.
	resendMargin = 80 * time.Second
)

// Cookies the generator knows by name.
const (
	sessionCookie = "acme_session"     // the web app's session: set when signed in
	deviceCookie  = "__Host-tf_device" // the trusted device (trust.DefaultCookieName)
)

// instance is one running copy of the web app, as the generator sees it.
type target struct {
	name string // "A", "B"
	base string // http://127.0.0.1:port
}

// gen drives logins at a steady rate over both instances.
type gen struct {
	targets  [2]*target
	pool     *pool
	password string
	client   *http.Client
	stats    *stats
	totpOpts totp.ValidateOpts

	maxRequests int64
	requests    atomic.Int64
	capped      atomic.Bool
	windowEnd   time.Time
}

var errCap = errors.New("the cap on requests is reached")

func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // 127.0.0.1 only, whatever the environment says
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// pickKind draws the kind of the next login from the mix.
func pickKind(x float64) string {
	switch {
	case x < shareTrusted:
		return kindTrusted
	case x < shareTrusted+shareTOTP:
		return kindTOTP
	case x < shareTrusted+shareTOTP+shareEmail:
		return kindEmail
	default:
		return kindTOTPEmail
	}
}

// jar holds a browser's cookies for the host 127.0.0.1, both ports alike
// (as browsers do), Secure ones too: the app marks its cookies Secure
// for https, which a load test on http does not need.
type jar map[string]string

func (j jar) update(cs []*http.Cookie) {
	now := time.Now()
	for _, c := range cs {
		if c.MaxAge < 0 || c.Value == "" || (!c.Expires.IsZero() && c.Expires.Before(now)) {
			delete(j, c.Name)
			continue
		}
		j[c.Name] = c.Value
	}
}

func (j jar) clone() jar {
	out := make(jar, len(j))
	for k, v := range j {
		out[k] = v
	}
	return out
}

func (j jar) header() string {
	var b strings.Builder
	for k, v := range j {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k + "=" + v)
	}
	return b.String()
}

// answer is an HTTP answer: its status, JSON body (nil otherwise), raw
// body and cookies.
type answer struct {
	status  int
	body    map[string]any
	raw     []byte
	cookies []*http.Cookie
}

func (a answer) str(key string) string {
	s, _ := a.body[key].(string)
	return s
}

// short describes a for error examples: the status and the JSON error.
func (a answer) short() string {
	if e := a.str("error"); e != "" {
		return fmt.Sprintf("%d %s", a.status, e)
	}
	if s := a.str("status"); s != "" {
		return fmt.Sprintf("%d status %s", a.status, s)
	}
	return strconv.Itoa(a.status)
}

// login is one sign-in from start to end, with its own random draws.
type login struct {
	g      *gen
	u      *user
	rng    *rand.Rand
	a, b   *target // the password step goes to a, the second step mostly to b
	client string  // the X-Forwarded-For address
}

func (g *gen) other(t *target) *target {
	if t == g.targets[0] {
		return g.targets[1]
	}
	return g.targets[0]
}

// do sends one request as the login's browser and records its latency
// under step.
func (l *login) do(ctx context.Context, step string, t *target, method, path string, form url.Values, j jar, wantJSON bool) (answer, error) {
	if l.g.requests.Add(1) > l.g.maxRequests {
		l.g.capped.Store(true)
		return answer{}, errCap
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, body)
	if err != nil {
		return answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if wantJSON {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", l.u.ua)
	req.Header.Set("X-Forwarded-For", l.client)
	if c := j.header(); c != "" {
		req.Header.Set("Cookie", c)
	}
	start := time.Now()
	res, err := l.g.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return answer{}, err
	}
	l.g.stats.observe(step, time.Since(start))
	a := answer{status: res.StatusCode, raw: raw, cookies: res.Cookies()}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			return a, fmt.Errorf("%s %s: %d, bad JSON: %v", method, path, res.StatusCode, err)
		}
	}
	j.update(a.cookies)
	return a, nil
}

func (l *login) post(ctx context.Context, step string, t *target, path string, form url.Values, j jar) (answer, error) {
	return l.do(ctx, step, t, http.MethodPost, path, form, j, true)
}

// fail records an unexpected outcome and ends the login.
func (l *login) fail(kind, format string, args ...any) {
	l.g.stats.fail(kind, l.u.login+": "+fmt.Sprintf(format, args...))
}

// transport records a request that got no answer.
// sendEmail asks t to send the user an email code (a send or a resend)
// and notes the time in the user pool. ok is false when the request
// failed in transport, which it has reported.
func (l *login) sendEmail(ctx context.Context, t *target, j jar) (a answer, ok bool) {
	a, err := l.post(ctx, stepSend, t, "/2fa/send", url.Values{"method": {"email"}}, j)
	l.g.pool.sent(l.u, time.Now())
	if err != nil {
		l.transport(stepSend, err)
		return a, false
	}
	return a, true
}

func (l *login) transport(step string, err error) {
	switch {
	case errors.Is(err, errCap):
		l.fail("request cap reached", "%v", err)
	case errors.Is(err, context.Canceled):
		l.fail("login cut short at the end of the run", "%s: %v", step, err)
	default:
		l.fail(step+": no answer", "%v", err)
	}
}

// run is one login of the kind, with the user the pool lent it.
func (g *gen) run(ctx context.Context, i int64, kind string, u *user, remember bool, rng *rand.Rand) {
	defer g.pool.release(u)
	l := &login{g: g, u: u, rng: rng, a: g.targets[i%2], b: g.targets[(i+1)%2],
		client: clientAddr(u.addrBase, rng).String()}
	var ok bool
	switch kind {
	case kindTrusted:
		ok = l.trusted(ctx)
	case kindTOTP:
		ok = l.totp(ctx, remember)
	case kindEmail, kindTOTPEmail:
		ok = l.email(ctx, kind == kindTOTPEmail)
	}
	if ok {
		g.stats.signedIn(kind)
	}
}

// challenge is what the password step answered.
type challenge struct {
	methods     []string
	sent        string // the method of a code sent with it, or ""
	resendAfter time.Duration
}

// begin is the password step on t: it must answer a challenge.
func (l *login) begin(ctx context.Context, t *target, j jar) (*challenge, bool) {
	a, err := l.post(ctx, stepPassword, t, "/login", url.Values{"user": {l.u.login}, "password": {l.g.password}}, j)
	if err != nil {
		l.transport(stepPassword, err)
		return nil, false
	}
	if a.status != http.StatusOK || a.str("status") != "challenge" {
		l.fail("password step: no challenge", "%s on %s", a.short(), t.name)
		return nil, false
	}
	c := &challenge{}
	if ms, ok := a.body["methods"].([]any); ok {
		for _, m := range ms {
			if mm, ok := m.(map[string]any); ok {
				s, _ := mm["method"].(string)
				c.methods = append(c.methods, s)
			}
		}
	}
	if s, ok := a.body["sent"].(map[string]any); ok {
		c.sent, _ = s["method"].(string)
		if secs, ok := s["resend_after"].(float64); ok {
			c.resendAfter = time.Duration(secs * float64(time.Second))
		}
		// Sent or refused, a code asked for counts on the user's caps.
	}
	if c.sent != "" || l.u.secret == "" {
		l.g.pool.sent(l.u, time.Now())
	}
	return c, true
}

func (c *challenge) offers(m string) bool {
	for _, x := range c.methods {
		if x == m {
			return true
		}
	}
	return false
}

// signedIn says whether a verify or password answer signed the user in.
func signedIn(a answer, j jar) bool {
	return a.status == http.StatusOK && a.str("status") == "signed_in" && j[sessionCookie] != ""
}

// trusted signs in from a trusted device: the password step alone.
func (l *login) trusted(ctx context.Context) bool {
	j := jar{deviceCookie: l.u.device}
	a, err := l.post(ctx, stepTrusted, l.a, "/login", url.Values{"user": {l.u.login}, "password": {l.g.password}}, j)
	if err != nil {
		l.transport(stepTrusted, err)
		return false
	}
	if !signedIn(a, j) {
		l.fail("trusted device not signed in", "%s on %s", a.short(), l.a.name)
		l.g.pool.trusted(l.u, "")
		return false
	}
	l.g.pool.trusted(l.u, j[deviceCookie])
	return true
}

// totpCode is the code of the step to use: the current one, or the next
// when the current one was used (the app accepts one step either side).
func (l *login) totpCode(now time.Time) (int64, string, error) {
	step := max(l.g.pool.step(now), l.u.lastStep+1)
	code, err := totp.GenerateCodeCustom(l.u.secret, time.Unix(step*l.g.pool.period, 0), l.g.totpOpts)
	return step, code, err
}

// totp signs in with the authenticator app.
func (l *login) totp(ctx context.Context, remember bool) bool {
	j := jar{}
	c, ok := l.begin(ctx, l.a, j)
	if !ok {
		return false
	}
	if !c.offers("totp") {
		l.fail("no authenticator app offered", "methods %v", c.methods)
		return false
	}
	step, code, err := l.totpCode(time.Now())
	if err != nil {
		l.fail("computing a TOTP code", "%v", err)
		return false
	}
	if l.rng.Float64() < pWrong {
		var near []string
		for s := step - 2; s <= step+2; s++ {
			c, _ := totp.GenerateCodeCustom(l.u.secret, time.Unix(s*l.g.pool.period, 0), l.g.totpOpts)
			near = append(near, c)
		}
		if !l.wrong(ctx, l.a, j, "totp", near) {
			return false
		}
	}
	before := j.clone()
	a, err := l.post(ctx, stepVerify, l.b, "/2fa/verify", l.verifyForm("totp", code, remember), j)
	l.u.lastStep = step // used, or at least tried: never typed again
	if err != nil {
		l.transport(stepVerify, err)
		return false
	}
	if !signedIn(a, j) {
		if a.status == http.StatusUnauthorized && a.str("error") == "invalid_code" {
			if l.g.pool.step(time.Now()) > step+1 {
				l.fail("TOTP code expired before it was checked", "step %d, %s late", step, time.Since(time.Unix((step+2)*l.g.pool.period, 0)))
			} else {
				l.g.stats.add(countLost, 1)
				l.fail("right code refused", "TOTP step %d on %s", step, l.b.name)
			}
			return false
		}
		l.fail("verify: unexpected answer", "TOTP: %s on %s", a.short(), l.b.name)
		return false
	}
	l.remembered(remember, j)
	l.replays(ctx, "totp", code, before)
	return true
}

// email signs in with a code sent by email: sent with the password step
// for a user with email codes only, asked for on the challenge by a user
// with an app (pick).
func (l *login) email(ctx context.Context, pick bool) bool {
	j := jar{}
	c, ok := l.begin(ctx, l.a, j)
	if !ok {
		return false
	}
	sender := l.a
	switch {
	case c.sent == "email":
	case pick:
		sender = l.b
		a, ok := l.sendEmail(ctx, sender, j)
		if !ok {
			return false
		}
		if a.status != http.StatusOK {
			l.fail("send: unexpected answer", "%s on %s", a.short(), sender.name)
			return false
		}
		c.resendAfter = time.Duration(num(a.body["resend_after"]) * float64(time.Second))
	default:
		l.fail("password step: no email code sent", "methods %v, sent %q", c.methods, c.sent)
		return false
	}
	sentAt := time.Now()
	if l.rng.Float64() < pEarlyResend {
		t := l.g.other(sender)
		a, ok := l.sendEmail(ctx, t, j)
		if !ok {
			return false
		}
		if a.status == http.StatusTooManyRequests && a.str("error") == "resend_wait" {
			l.g.stats.add(countEarlyResend, 1)
		} else {
			l.fail("resend inside the cooldown not refused", "%s on %s", a.short(), t.name)
			return false
		}
	}
	code, ok := l.outboxCode(ctx, sender, l.u.lastCode)
	if !ok {
		return false
	}
	if l.rng.Float64() < pResend && time.Until(l.g.windowEnd) > resendMargin {
		// Wait out the cooldown, ask again on the other instance, read the
		// new code there; the old one is replaced and must be refused.
		wait := time.Until(sentAt.Add(c.resendAfter)) + 250*time.Millisecond
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			l.transport(stepSend, ctx.Err())
			return false
		}
		sender = l.g.other(sender)
		a, ok := l.sendEmail(ctx, sender, j)
		if !ok {
			return false
		}
		if a.status != http.StatusOK {
			l.fail("resend after the cooldown refused", "%s on %s", a.short(), sender.name)
			return false
		}
		l.g.stats.add(countResent, 1)
		old := code
		if code, ok = l.outboxCode(ctx, sender, old); !ok {
			return false
		}
		if !l.replay(ctx, l.g.other(sender), j, "email", old) {
			return false
		}
	}
	if l.rng.Float64() < pWrong {
		if !l.wrong(ctx, l.a, j, "email", []string{code}) {
			return false
		}
	}
	remember := l.u.device == "" && l.rng.Float64() < pRememberOTP
	before := j.clone()
	a, err := l.post(ctx, stepVerify, l.b, "/2fa/verify", l.verifyForm("email", code, remember), j)
	if err != nil {
		l.transport(stepVerify, err)
		return false
	}
	if !signedIn(a, j) {
		if a.status == http.StatusUnauthorized && a.str("error") == "invalid_code" {
			l.g.stats.add(countLost, 1)
			l.fail("right code refused", "email code on %s", l.b.name)
			return false
		}
		l.fail("verify: unexpected answer", "email: %s on %s", a.short(), l.b.name)
		return false
	}
	l.u.lastCode = code
	l.remembered(remember, j)
	l.replays(ctx, "email", code, before)
	return true
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func (l *login) verifyForm(method, code string, remember bool) url.Values {
	f := url.Values{"method": {method}, "code": {code}}
	if remember {
		f.Set("remember", "on")
	}
	return f
}

// remembered keeps the trusted-device cookie a verify with remember set.
func (l *login) remembered(remember bool, j jar) {
	if !remember {
		return
	}
	if j[deviceCookie] == "" {
		l.fail("no trusted-device cookie", "remember was ticked")
		return
	}
	l.g.stats.add(countRemembered, 1)
	l.g.pool.trusted(l.u, j[deviceCookie])
}

// wrong answers a wrong code (none of right) on t: it must be refused
// with 401 invalid_code.
func (l *login) wrong(ctx context.Context, t *target, j jar, method string, right []string) bool {
	code := wrongCode(l.rng, l.g.pool.digits, right)
	a, err := l.post(ctx, stepVerify, t, "/2fa/verify", url.Values{"method": {method}, "code": {code}}, j)
	if err != nil {
		l.transport(stepVerify, err)
		return false
	}
	switch {
	case a.status == http.StatusUnauthorized && a.str("error") == "invalid_code":
		l.g.stats.add(countWrongRefused, 1)
		return true
	case a.status == http.StatusOK:
		l.fail("wrong code accepted", "%s code on %s", method, t.name)
	default:
		l.fail("wrong code: unexpected answer", "%s: %s on %s", method, a.short(), t.name)
	}
	return false
}

// wrongCode is a code of n digits that is none of right.
func wrongCode(rng *rand.Rand, n int, right []string) string {
	for {
		c := fmt.Sprintf("%0*d", n, rng.Int64N(pow10(n)))
		ok := true
		for _, r := range right {
			if c == r {
				ok = false
			}
		}
		if ok {
			return c
		}
	}
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// replays sometimes gives the code that just signed in again: on its own
// challenge (with the cookies from before the sign-in) on the other
// instance, or on a new challenge of the same user, which is then
// cancelled.
func (l *login) replays(ctx context.Context, method, code string, before jar) {
	if l.rng.Float64() < pReplaySame {
		l.replay(ctx, l.a, before, method, code)
	}
	if l.rng.Float64() < pReplayNew {
		j := jar{}
		if _, ok := l.begin(ctx, l.b, j); !ok {
			return
		}
		if !l.replay(ctx, l.a, j, method, code) {
			return
		}
		a, err := l.post(ctx, stepCancel, l.b, "/2fa/cancel", url.Values{}, j)
		if err != nil {
			l.transport(stepCancel, err)
			return
		}
		if a.status != http.StatusOK || a.str("status") != "cancelled" {
			l.fail("cancel: unexpected answer", "%s on %s", a.short(), l.b.name)
		}
	}
}

// replay gives a used (or replaced) code: it must be refused, 401 or 410.
func (l *login) replay(ctx context.Context, t *target, j jar, method, code string) bool {
	l.g.stats.add(countReplays, 1)
	a, err := l.post(ctx, stepVerify, t, "/2fa/verify", url.Values{"method": {method}, "code": {code}}, j)
	if err != nil {
		l.transport(stepVerify, err)
		return false
	}
	switch {
	case (a.status == http.StatusUnauthorized && a.str("error") == "invalid_code") ||
		(a.status == http.StatusGone && (a.str("error") == "challenge_ended" || a.str("error") == "too_many_attempts")):
		l.g.stats.add(countReplayRefused, 1)
		return true
	case a.status == http.StatusOK:
		l.g.stats.add(countTwice, 1)
		l.fail("used code accepted again", "%s on %s: %s", method, t.name, a.short())
	default:
		l.fail("replay: unexpected answer", "%s: %s on %s", method, a.short(), t.name)
	}
	return false
}

// outboxCode reads the newest email code to the user from t's outbox,
// waiting briefly for one other than not.
func (l *login) outboxCode(ctx context.Context, t *target, not string) (string, bool) {
	for try := 0; ; try++ {
		a, err := l.do(ctx, stepOutbox, t, http.MethodGet, "/outbox", nil, jar{}, false)
		if err != nil {
			l.transport(stepOutbox, err)
			return "", false
		}
		if a.status != http.StatusOK {
			l.fail("outbox: unexpected answer", "%d on %s", a.status, t.name)
			return "", false
		}
		if code, ok := outboxCode(a.raw, l.u.email); ok && code != not {
			return code, true
		}
		if try == 10 {
			l.fail("email code not in the outbox", "on %s", t.name)
			return "", false
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			l.transport(stepOutbox, ctx.Err())
			return "", false
		}
	}
}

// The outbox page of the web app (templates/outbox.html): one article per
// message, newest first, with the code of a message that holds one.
var (
	articleRE = regexp.MustCompile(`<article class="msg" data-kind="([^"]*)" data-to="([^"]*)">`)
	codeRE    = regexp.MustCompile(`<code class="otp">([0-9]+)</code>`)
)

// outboxCode returns the code of the newest email to to that holds a code.
func outboxCode(page []byte, to string) (string, bool) {
	locs := articleRE.FindAllSubmatchIndex(page, -1)
	for i, m := range locs {
		if string(page[m[2]:m[3]]) != "Email" || html.UnescapeString(string(page[m[4]:m[5]])) != to {
			continue
		}
		end := len(page)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		body := page[m[1]:end]
		if k := bytes.Index(body, []byte("</article>")); k >= 0 {
			body = body[:k]
		}
		if c := codeRE.FindSubmatch(body); c != nil {
			return string(c[1]), true
		}
	}
	return "", false
}

// drive runs the logins of one window: open-loop, each in its own
// goroutine when it is due, at most maxInflight at once; it waits for
// them, at most drain after the window, and cuts the rest short.
func (g *gen) drive(ctx context.Context, rate float64, window, drain time.Duration, maxInflight int, seed uint64) (fired int64) {
	loginCtx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	slots := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup
	pick := rand.New(rand.NewPCG(seed, 0))
	start := time.Now().Add(20 * time.Millisecond)
	g.windowEnd = start.Add(window)
	fired = pace(ctx, realClock{}, start, rate, window, func(i int64, due, now time.Time) bool {
		g.stats.lag(now.Sub(due))
		if g.capped.Load() {
			return false
		}
		kind := pickKind(pick.Float64())
		remember := false
		if kind == kindTrusted && !g.pool.hasDevices() {
			kind, remember = kindTOTP, true // no trusted device yet: make one
		} else if kind == kindTOTP {
			remember = pick.Float64() < pRememberApp
		}
		u := g.pool.take(kind, now, pick)
		if u == nil {
			g.stats.add(countNoUser, 1)
			return true
		}
		if kind == kindTOTP && u.device != "" {
			remember = false
		}
		select {
		case slots <- struct{}{}:
		default:
			g.pool.release(u)
			g.stats.add(countNoSlot, 1)
			return true
		}
		rng := rand.New(rand.NewPCG(seed, uint64(i)+1))
		wg.Go(func() {
			defer func() { <-slots }()
			g.run(loginCtx, i, kind, u, remember, rng)
		})
		return true
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drain):
		cut()
		<-done
	case <-ctx.Done():
		cut()
		<-done
	}
	return fired
}

func totpOpts(digits int, period int64) totp.ValidateOpts {
	return totp.ValidateOpts{Period: uint(period), Digits: otp.Digits(digits), Algorithm: otp.AlgorithmSHA1}
}
