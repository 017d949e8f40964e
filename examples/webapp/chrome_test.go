package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/testenv"
)

// One Chromium serves every test of the binary; each test gets a fresh
// browser context (its own cookies and storage) and tab.
var browser struct {
	sync.Mutex
	ctx  context.Context
	stop func()
}

func browserCtx(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("a browser test")
	}
	browser.Lock()
	defer browser.Unlock()
	if browser.ctx != nil {
		return browser.ctx
	}
	path := testenv.Chromium(t)
	dir, err := os.MkdirTemp("", "webapp-chromium-")
	require.NoError(t, err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
	for _, f := range testenv.ChromiumFlags {
		name, value, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
		t.Fatalf("starting Chromium: %v", err)
	}
	browser.ctx = ctx
	browser.stop = func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	return ctx
}

func stopBrowser() {
	browser.Lock()
	defer browser.Unlock()
	if browser.stop != nil {
		browser.stop()
	}
}

// tab is one test's browser context and tab, on one app.
type tab struct {
	t    *testing.T
	ctx  context.Context
	app  *testApp
	size *screenSize // the size emulate shows the page at, if any
}

// stepTimeout bounds each step of a test: a page that never comes fails
// the test instead of hanging it.
const stepTimeout = 30 * time.Second

func newTab(t *testing.T, app *testApp) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx))
	return &tab{t: t, ctx: ctx, app: app}
}

// do runs steps within stepTimeout.
func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		html, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		b.t.Fatalf("browser: %v\nat %s:\n%s", err, loc, html)
	}
}

func run1[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(b.t, err)
	return v
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *tab, js string) T {
	b.t.Helper()
	return run1(b, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// open navigates to path and waits for sel on the page it ends on.
func (b *tab) open(path, sel string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.app.URL+path), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// path is the path of the page the tab shows.
func (b *tab) path() string {
	b.t.Helper()
	loc := run1(b, chromedp.Location())
	return strings.TrimPrefix(loc, b.app.URL)
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(run1(b, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)))
}

// Selectors of the pages a flow lands on.
const (
	onLogin     = `body[data-page="login"]`
	onHome      = `body[data-page="home"]`
	onChallenge = `main.tf-card section.tf-method`
	codeField   = `#tf-code`
	alert       = `[role="alert"]:not(:empty)`
)

// signIn types a user name and password on the login page; the caller
// waits for the page that follows.
func (b *tab) signIn(user, password string) {
	b.t.Helper()
	b.open("/login", "#user")
	b.checkPage()
	b.do(chromedp.SendKeys(chromedp.ID("user"), user), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)))
}

// signOut signs out from the bar's button.
func (b *tab) signOut() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(onLogin)))
}

// typeCode types a code into the challenge's code field; six-digit codes
// submit themselves, others (and any code of a form with a "trust this
// device" checkbox, which waits for its button) are submitted with Verify.
func (b *tab) typeCode(code string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(codeField)))
	n := eval[int](b, `(f => f.form.querySelector("input[type=checkbox]") ? 0 : parseInt(f.dataset.length || "0", 10))(document.querySelector("#tf-code"))`)
	b.do(chromedp.SendKeys(chromedp.CSS(codeField), code))
	if n != len(code) {
		b.do(chromedp.Click(chromedp.CSS(`#tf-verify button[type="submit"]`)))
	}
}

// chooseMethod picks another method on the challenge page.
func (b *tab) chooseMethod(name string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`nav.tf-others a[href*="method=%s"]`, name))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`section.tf-method[data-method="%s"]`, name))))
}

// outboxCode reads the newest code sent to to (an address or E.164
// number) from the outbox page, after waiting for one other than not.
func (b *tab) outboxCode(kind, to, not string) string {
	b.t.Helper()
	sel := fmt.Sprintf(`article.msg[data-kind=%q][data-to=%q] code.otp`, kind, to)
	for range 50 {
		b.open("/outbox", "main h1")
		got := eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
		if got != "" && got != not {
			return got
		}
	}
	b.t.Fatalf("no new %s to %s in the outbox", kind, to)
	return ""
}

// checkPage checks the keyboard and screen-reader basics of the page:
// every input has a label, and the page has one h1 and a language.
func (b *tab) checkPage() {
	b.t.Helper()
	unlabelled := eval[[]string](b, `Array.from(document.querySelectorAll("input, select, textarea"))
		.filter(el => !["hidden", "submit", "button"].includes(el.type))
		.filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
		.map(el => el.outerHTML)`)
	require.Empty(b.t, unlabelled, "inputs without a label on %s", b.path())
	require.Equal(b.t, 1, eval[int](b, `document.querySelectorAll("h1").length`), "one h1 on %s", b.path())
	require.NotEmpty(b.t, eval[string](b, `document.documentElement.lang`), "the language of %s", b.path())
}

// focused is the id of the element that has the keyboard focus, once the
// page has given it to one.
func (b *tab) focused() string {
	b.t.Helper()
	return run1(b, chromedp.Poll[string](`document.activeElement && document.activeElement !== document.body ? document.activeElement.id : null`,
		chromedp.WithPollingTimeout(5*time.Second)))
}

// announced waits for a message announced to screen readers (role alert
// first, else role status or aria-live) and returns its text.
func (b *tab) announced() string {
	b.t.Helper()
	return run1(b, chromedp.Poll[string](`(() => {
		const shown = sel => Array.from(document.querySelectorAll(sel)).find(e => e.textContent.trim() !== "" && e.offsetParent !== null);
		const el = shown('[role="alert"]') || shown('[role="status"], [aria-live]');
		return el ? el.textContent.trim() : null;
	})()`, chromedp.WithPollingTimeout(10*time.Second)))
}

// cookie returns the browser's cookie named name for the app, or nil.
func (b *tab) cookie(name string) *network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.app.URL + "/2fa/"}})
	require.NoError(b.t, err)
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// setCookie puts a cookie back, as a browser that kept it would send it.
func (b *tab) setCookie(c *network.Cookie) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: c.Name, Value: c.Value, URL: b.app.URL + c.Path, Path: c.Path, HTTPOnly: &c.HTTPOnly, SameSite: c.SameSite,
		SourceScheme: c.SourceScheme, SourcePort: c.SourcePort,
	})
	require.NoError(b.t, err)
}

// screenshotDir is where screenshots go: $TWOFACTOR_SCREENSHOTS, relative
// to the repository's root, or "" to take none (CI keeps the committed
// ones).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("TWOFACTOR_SCREENSHOTS")
	if dir == "" || filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(repoRoot(t), dir)
}

// addAuthenticator plugs a CTAP2 virtual authenticator into the tab: a
// security key that is always present and verifies its user.
func (b *tab) addAuthenticator() cdpwebauthn.AuthenticatorID { return b.addAuthenticatorWith(true) }

// credentials lists what the authenticator holds.
func (b *tab) credentials(id cdpwebauthn.AuthenticatorID) []*cdpwebauthn.Credential {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: id})
	require.NoError(b.t, err)
	return res.Credentials
}

// click clicks sel and waits for then.
func (b *tab) click(sel, then string) {
	b.t.Helper()
	b.do(ready(sel), chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS(then)))
}

// ready waits until the element sel names can take a click: a
// security-key or passkey button only once webauthn.js has bound it (it
// marks it data-webauthn-bound), as a click before that does nothing.
func ready(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(function (e) {
		return !!e && (!e.hasAttribute("data-webauthn") || e.hasAttribute("data-webauthn-bound"));
	})(document.querySelector(%q))`, sel))
}

// stepUpForm is the step-up page's button: "Continue", shown only to a
// navigation from another site; stepUpChallenge is the challenge page a
// step-up goes straight to otherwise.
const (
	stepUpForm      = `form[action$="/step-up"] button`
	stepUpChallenge = `body[data-page="challenge"] section.tf-method`
)

// throughStepUp waits for then, answering a step-up on the way when the
// page asks for one (answer runs on the challenge page), and reports
// whether it did.
func (b *tab) throughStepUp(then string, answer func()) bool {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(then + ", " + stepUpForm + ", " + stepUpChallenge)))
	if eval[bool](b, fmt.Sprintf(`document.querySelector(%q) !== null`, stepUpForm)) {
		b.checkPage()
		b.click(stepUpForm, onChallenge)
	}
	if eval[bool](b, fmt.Sprintf(`document.querySelector(%q) !== null`, stepUpChallenge)) {
		b.checkPage()
		answer()
		b.do(chromedp.WaitVisible(chromedp.CSS(then)))
		return true
	}
	return false
}

// ---- Accessibility audits with axe-core, at a laptop's and a phone's size.

// screenSize is a size a page is audited and photographed at.
type screenSize struct {
	suffix        string // of the screenshot's name: "" or "-phone"
	width, height int64
	mobile        bool // a phone: mobile layout, touch, twice the pixels
}

var (
	laptopSize = screenSize{"", 1280, 800, false}
	phoneSize  = screenSize{"-phone", 390, 844, true}
)

// emulate shows the page at s until reset is called.
func (b *tab) emulate(s screenSize) (reset func()) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(s.width, s.height, s.options()...))
	b.size = &s
	// The layout settles on the next animation frame: nothing animates
	// and the fonts are local.
	eval[bool](b, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	return func() { b.t.Helper(); b.size = nil; b.do(chromedp.ResetViewport()) }
}

func (s screenSize) options() []chromedp.EmulateViewportOption {
	if s.mobile {
		return []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait}
	}
	return []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
}

// axeSource is axe-core's script, read once.
var axeSource struct {
	sync.Once
	js  string
	err error
}

// axeTags are the rules the pages must pass: WCAG 2.0, 2.1 and 2.2 at
// levels A and AA, and axe's best practices. Every best-practice rule
// applies to these pages (they have landmarks, headings and forms), so
// none is turned off.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"}

// axeViolation is a rule a page breaks, and where.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

func (v axeViolation) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s (%s): %s <%s>", v.ID, v.Impact, v.Help, v.URL)
	for _, n := range v.Nodes {
		fmt.Fprintf(&s, "\n      %v: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", "; "))
	}
	return s.String()
}

// axe runs axe-core on the page as it is shown now and returns what it
// breaks. The script is put in through the DevTools protocol, which the
// pages' Content-Security-Policy does not apply to.
func (b *tab) axe() []axeViolation {
	b.t.Helper()
	path := testenv.Axe(b.t)
	axeSource.Do(func() {
		src, err := os.ReadFile(path)
		axeSource.js, axeSource.err = string(src), err
	})
	require.NoError(b.t, axeSource.err, "axe-core's script")
	if !eval[bool](b, `typeof window.axe === "object"`) {
		eval[bool](b, axeSource.js+"\n;typeof window.axe === \"object\"")
	}
	tags := `["` + strings.Join(axeTags, `", "`) + `"]`
	return eval[[]axeViolation](b, `axe.run(document, {runOnly: {type: "tag", values: `+tags+`}, resultTypes: ["violations"]})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary || ""}))})))`)
}

// audit checks the page with axe-core at a laptop's size and a phone's,
// and fails the test with every rule the page breaks, where, and how to
// fix it.
func (b *tab) audit() {
	b.t.Helper()
	b.auditAs("")
}

// auditAs is audit, also saving screenshots as name.png and
// name-phone.png when screenshots are asked for and name is not "".
func (b *tab) auditAs(name string) {
	b.t.Helper()
	for _, msg := range b.auditReport(name) {
		b.t.Error(msg)
	}
}

// auditReport runs axe-core on the page at each size (saving screenshots
// as auditAs does) and says, for each size where the page breaks rules,
// which rules, where, and how to fix them.
func (b *tab) auditReport(name string) []string {
	b.t.Helper()
	page := b.path()
	var out []string
	for _, s := range []screenSize{laptopSize, phoneSize} {
		reset := b.emulate(s)
		vs := b.axe()
		if name != "" {
			b.capture(name + s.suffix)
		}
		reset()
		if len(vs) > 0 {
			var msg strings.Builder
			fmt.Fprintf(&msg, "%s at %dx%d breaks %d accessibility rules:", page, s.width, s.height, len(vs))
			for _, v := range vs {
				msg.WriteString("\n  - " + v.String())
			}
			out = append(out, msg.String())
		}
	}
	return out
}

// capture saves the whole page, from its top, as it is shown now as
// name.png, when screenshots are asked for.
func (b *tab) capture(name string) {
	b.t.Helper()
	dir := screenshotDir(b.t)
	if dir == "" {
		return
	}
	png := b.fullScreenshot()
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// enterCode puts code in the code field, as a paste would, and submits
// its form: with or without JavaScript, whether or not the page would
// submit the code by itself.
func (b *tab) enterCode(code string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(codeField)))
	eval[bool](b, fmt.Sprintf(`(f => { f.value = %q; f.form.submit(); return true; })(document.querySelector(%q))`, code, codeField))
}

// await waits for sel on the page the tab ends on. A wait begun while
// one page replaces another can miss the new page, so it looks again,
// each look bounded, until stepTimeout.
func (b *tab) await(sel string) {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
	}
	b.do(chromedp.WaitVisible(chromedp.CSS(sel))) // fails, showing the page
}

// press clicks sel and awaits then.
func (b *tab) press(sel, then string) {
	b.t.Helper()
	b.do(ready(sel), chromedp.Click(chromedp.CSS(sel)))
	b.await(then)
}

// ---- End of the accessibility audits.

// fullScreenshot returns the whole page as a PNG. A page laid out right
// to left is shown in a viewport as tall as itself and captured within
// it: Chromium's capture beyond the viewport shifts such a page sideways.
func (b *tab) fullScreenshot() []byte {
	b.t.Helper()
	if b.size == nil || eval[string](b, `document.documentElement.dir`) != "rtl" {
		return run1(b, chromedp.FullScreenshot(100))
	}
	s := *b.size
	h := max(s.height, eval[int64](b, `document.documentElement.scrollHeight`))
	b.do(chromedp.EmulateViewport(s.width, h, s.options()...))
	eval[bool](b, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	png := run1(b, chromedp.CaptureScreenshot())
	b.do(chromedp.EmulateViewport(s.width, s.height, s.options()...))
	return png
}
