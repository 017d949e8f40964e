package twofactortest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
)

// kit is one run against a host: the description, what it learned of the
// Service, every answer it saw and every secret it knows.
type kit struct {
	d      *desc
	svc    *twofactor.Service
	trust  *trust.Manager // nil: the Service trusts no device
	params totp.Params
	has    map[twofactor.Method]bool
	run    string // in every user id, so runs against one store never meet

	// signedOut is the status of each protected page to a signed-out
	// browser.
	signedOut map[string]int

	mu      sync.Mutex
	seen    []*answer
	secrets []secret
	users   int
	ips     int
}

// origin is where the kit addresses its requests.
const origin = "http://localhost"

// attacker is the origin of the cross-site requests.
const attacker = "https://attacker.example"

// userAgent is a browser's: trusted devices are bound to its family.
const userAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

func newKit(h Host) (*kit, error) {
	d, err := h.withDefaults()
	if err != nil {
		return nil, err
	}
	k := &kit{d: d, svc: h.Service, has: map[twofactor.Method]bool{}, signedOut: map[string]int{}, run: strings.ToLower(rand.Text()[:6])}
	for _, m := range k.svc.Methods() {
		k.has[m] = true
	}
	f, ok := k.svc.Factor(twofactor.MethodTOTP)
	tf, isTOTP := f.(*totp.Factor)
	if !ok || !isTOTP || !k.has[twofactor.MethodBackupCode] {
		return nil, fmt.Errorf("twofactortest: the Service needs the totp and backupcodes factors (its methods: %v): the kit signs its users in with them", k.svc.Methods())
	}
	k.params = tf.Params()
	k.trust, _ = k.svc.Trust().(*trust.Manager)
	return k, nil
}

func (k *kit) now() time.Time { return k.svc.Env().Now() }

// An answer is one response the kit saw.
type answer struct {
	idx    int    // its place among the answers the kit saw
	route  string // "POST /2fa/verify"
	status int
	header http.Header
	body   string
	set    []*http.Cookie
	// code is the "error" of the layer's JSON answers.
	code string
}

func (a *answer) String() string {
	if a.code != "" {
		return fmt.Sprintf("%s answered %d %s", a.route, a.status, a.code)
	}
	if loc := a.header.Get("Location"); loc != "" {
		return fmt.Sprintf("%s answered %d to %s", a.route, a.status, loc)
	}
	return fmt.Sprintf("%s answered %d", a.route, a.status)
}

// ok reports whether the request did what it asked: no error status.
func (a *answer) ok() bool { return a.status < 400 }

// redirectsTo reports whether a is a redirect whose location contains s.
func (a *answer) redirectsTo(s string) bool {
	return a.status >= 300 && a.status < 400 && strings.Contains(a.header.Get("Location"), s)
}

// A browser is one client of the app: its own address and cookies.
type browser struct {
	k  *kit
	ip netip.Addr

	mu  sync.Mutex
	jar map[string]*http.Cookie
}

// browser returns a new browser at an address of its own, so that the
// per-network limits of one check never meet another's.
func (k *kit) browser() *browser {
	k.mu.Lock()
	n := k.ips
	k.ips++
	k.mu.Unlock()
	nets := [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}
	nw := nets[(n/250)%len(nets)]
	return &browser{k: k, ip: netip.AddrFrom4([4]byte{nw[0], nw[1], nw[2], byte(1 + n%250)}), jar: map[string]*http.Cookie{}}
}

// ownNetwork reports whether a is in a network the kit's browsers use.
func ownNetwork(a netip.Addr) bool {
	for _, p := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"} {
		if netip.MustParsePrefix(p).Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// A call is one request a browser makes.
type call struct {
	method, path string
	form         url.Values
	json         bool        // ask for JSON, as a single-page app does
	header       http.Header // set after the browser's own headers; an empty value removes one
	from         netip.Addr  // the peer address, when not the browser's
	keep         bool        // leave the browser's cookies as they are
}

// do sends c as b and records the answer.
func (b *browser) do(c call) *answer {
	var body *strings.Reader
	target := c.path
	if c.method == http.MethodGet || c.method == http.MethodHead {
		if len(c.form) > 0 {
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + c.form.Encode()
		}
		body = strings.NewReader("")
	} else {
		body = strings.NewReader(c.form.Encode())
	}
	r, err := http.NewRequestWithContext(context.Background(), c.method, origin+target, body)
	if err != nil {
		return b.k.record(&answer{route: c.method + " " + c.path, status: 599, header: http.Header{}, body: err.Error()})
	}
	if c.method != http.MethodGet && c.method != http.MethodHead {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.Header.Set("User-Agent", userAgent)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if c.json {
		r.Header.Set("Accept", "application/json")
	} else {
		r.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	}
	for name, vs := range c.header {
		r.Header.Del(name)
		for _, v := range vs {
			if v != "" {
				r.Header.Add(name, v)
			}
		}
	}
	from := b.ip
	if c.from.IsValid() {
		from = c.from
	}
	r.RemoteAddr = netip.AddrPortFrom(from, 50000).String()
	for _, ck := range b.cookies() {
		r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	a := b.k.serve(r)
	if !c.keep {
		b.take(a.set)
	}
	return a
}

// serve runs the host's handler on r and records the answer. A panic is
// a 500, as net/http's server makes it.
func (k *kit) serve(r *http.Request) (a *answer) {
	w := httptest.NewRecorder()
	route := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		route += "?" + r.URL.RawQuery
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				w = httptest.NewRecorder()
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(w, "twofactortest: the handler panicked: %v", p)
			}
		}()
		k.d.Handler.ServeHTTP(w, r)
	}()
	res := w.Result()
	a = &answer{route: route, status: res.StatusCode, header: res.Header, body: w.Body.String(), set: res.Cookies()}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		var m struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(w.Body.Bytes(), &m) == nil {
			a.code = m.Error
		}
	}
	return k.record(a)
}

func (k *kit) record(a *answer) *answer {
	k.mu.Lock()
	defer k.mu.Unlock()
	a.idx = len(k.seen)
	k.seen = append(k.seen, a)
	return a
}

// take keeps the cookies an answer set, and drops those it ended.
func (b *browser) take(set []*http.Cookie) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range set {
		if c.MaxAge < 0 || (c.MaxAge == 0 && !c.Expires.IsZero() && c.Expires.Before(time.Now())) || c.Value == "" {
			delete(b.jar, c.Name)
			continue
		}
		cc := *c
		b.jar[c.Name] = &cc
	}
}

// cookies returns the browser's cookies, sorted by name.
func (b *browser) cookies() []*http.Cookie {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.SortedFunc(maps.Values(b.jar), func(x, y *http.Cookie) int { return strings.Compare(x.Name, y.Name) })
}

// cookie returns the value of the cookie called name, or "".
func (b *browser) cookie(name string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.jar[name]; ok {
		return c.Value
	}
	return ""
}

// setCookie gives the browser a cookie, as an attacker who copied it does.
func (b *browser) setCookie(name, value string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if value == "" {
		delete(b.jar, name)
		return
	}
	b.jar[name] = &http.Cookie{Name: name, Value: value, Path: "/"}
}

// signedIn asks the host who is signed in in b.
func (b *browser) signedIn() (string, bool) {
	r := httptest.NewRequest(http.MethodGet, origin+"/", nil)
	r.RemoteAddr = netip.AddrPortFrom(b.ip, 50000).String()
	r.Header.Set("User-Agent", userAgent)
	for _, ck := range b.cookies() {
		r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	return b.k.d.SignedIn(r)
}

// isSignedIn reports whether u is the signed-in user of b.
func (b *browser) isSignedIn(u *tuser) bool {
	id, ok := b.signedIn()
	return ok && id == u.ID
}

// password posts u's password to the host's login form, as a browser.
func (b *browser) password(u *tuser) *answer {
	return b.do(call{method: http.MethodPost, path: b.k.d.LoginPath, form: b.k.d.LoginForm(u.User)})
}

// pending returns the layer's pending cookie, or "".
func (b *browser) pending() string { return b.cookie(b.k.d.PendingCookie) }

// challengeID returns the id of b's pending challenge, in the clear in
// the pending cookie, or "".
func (b *browser) challengeID() string {
	id, _, ok := strings.Cut(b.pending(), "~")
	if !ok || twofactor.ParseChallengeID(id) != nil {
		return ""
	}
	return id
}

// verify answers b's pending challenge, asking for JSON.
func (b *browser) verify(m twofactor.Method, code string, remember bool) *answer {
	f := url.Values{"method": {string(m)}, "code": {code}}
	if remember {
		f.Set("remember", "on")
	}
	return b.do(call{method: http.MethodPost, path: b.k.d.Prefix + "verify", form: f, json: true})
}

// logout posts the host's logout form.
func (b *browser) logout() *answer {
	return b.do(call{method: http.MethodPost, path: b.k.d.LogoutPath, form: url.Values{}})
}

// get asks for a page as a browser.
func (b *browser) get(path string) *answer { return b.do(call{method: http.MethodGet, path: path}) }

// getJSON asks for path's JSON.
func (b *browser) getJSON(path string) *answer {
	return b.do(call{method: http.MethodGet, path: path, json: true})
}

// challenge runs u's password step in b and returns its answer, failing
// t when no second step began.
func (k *kit) challenge(t checkT, b *browser, u *tuser) *answer {
	t.Helper()
	a := b.password(u)
	if b.pending() == "" {
		t.Fatalf("the password step of %s began no second step: %s, and the browser holds no %s cookie (Host.LoginPath, Host.LoginForm, Host.PendingCookie)", u.ID, a, k.d.PendingCookie)
	}
	return a
}

// signIn signs u in through b: the password, then a backup code.
func (k *kit) signIn(t checkT, b *browser, u *tuser) {
	t.Helper()
	a := b.password(u)
	if b.pending() != "" {
		code := u.backupCode(t)
		if a = b.verify(twofactor.MethodBackupCode, code, false); a.ok() {
			u.used(code)
		}
	}
	if !b.isSignedIn(u) {
		t.Fatalf("the kit could not sign %s in with the password and a backup code (%s): check Host.LoginPath, Host.LoginForm and Host.SignedIn", u.ID, a)
	}
}

// stepUp gives b's signed-in user u a fresh step-up, with a backup code.
func (k *kit) stepUp(t checkT, b *browser, u *tuser) {
	t.Helper()
	a := b.do(call{method: http.MethodPost, path: k.d.Prefix + "step-up", form: url.Values{}, json: true})
	if a.status != http.StatusOK || b.pending() == "" {
		t.Fatalf("the kit could not begin a step-up for %s: %s", u.ID, a)
	}
	code := u.backupCode(t)
	if a = b.verify(twofactor.MethodBackupCode, code, false); !a.ok() {
		t.Fatalf("the kit could not finish a step-up for %s: %s", u.ID, a)
	}
	u.used(code)
	if b.cookie(k.d.StepUpCookie) == "" {
		t.Fatalf("after a step-up (%s) the browser holds no %s cookie: set Host.StepUpCookie to twofactorhttp.Config.StepUpCookie", a, k.d.StepUpCookie)
	}
}

// storm sends every code as an answer to b's pending challenge at once.
func (k *kit) storm(b *browser, m twofactor.Method, codes []string) []*answer {
	shots := make([]shot, len(codes))
	for i, c := range codes {
		shots[i] = shot{b, m, c}
	}
	return k.fire(shots)
}

// A shot is one answer of a storm.
type shot struct {
	b    *browser
	m    twofactor.Method
	code string
}

// fire sends every shot at once, one goroutine each, and returns the
// answers in order. The browsers' cookies do not change.
func (k *kit) fire(shots []shot) []*answer {
	out := make([]*answer, len(shots))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range shots {
		wg.Go(func() {
			<-start
			out[i] = s.b.do(call{method: http.MethodPost, path: k.d.Prefix + "verify", json: true, keep: true,
				form: url.Values{"method": {string(s.m)}, "code": {s.code}}})
		})
	}
	close(start)
	wg.Wait()
	return out
}

// count returns how many answers had each status.
func count(as []*answer) map[int]int {
	n := map[int]int{}
	for _, a := range as {
		n[a.status]++
	}
	return n
}
