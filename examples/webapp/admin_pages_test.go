package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminSignIn signs the administrator in with the email code.
func adminSignIn(b *tab) {
	b.t.Helper()
	b.signIn("admin", "admin")
	b.do(chromedp.WaitVisible(chromedp.CSS(codeField)))
	code := b.outboxCode("Email", "admin@example.com", "")
	b.open("/2fa/", codeField)
	b.typeCode(code)
	b.do(chromedp.WaitVisible(chromedp.CSS(onHome)))
}

// lockOut types wrong codes for grace until she is locked out, as
// someone with her password would.
func lockOut(t *testing.T, app *testApp) {
	t.Helper()
	c := newClient(t)
	grace := url.Values{"user": {"grace"}, "password": {"hopper"}}
	for range 2 {
		status, body := c.post(app.URL, "/login", grace)
		require.Equal(t, http.StatusOK, status, "%v", body)
		for range 5 {
			m, ok := app.App.mailOutbox.Last("grace@example.com")
			require.True(t, ok)
			status, body = c.post(app.URL, "/2fa/verify", url.Values{"method": {"email"}, "code": {wrongCode(sixDigits.FindString(m.Text))}})
			require.NotEqual(t, http.StatusOK, status, "%v", body)
		}
	}
	status, body := c.post(app.URL, "/login", grace)
	require.Equal(t, http.StatusTooManyRequests, status, "%v", body)
}

// linkColours checks every link of the page's card, in the light and the
// dark scheme: each takes the library's accent (not the browser's blue or
// visited purple), reads at 4.5:1 or more on the card, and shows a focus
// ring of at least 2px when it has the keyboard focus. It returns what it
// found wrong.
func linkColours(b *tab) []string {
	b.t.Helper()
	var bad []string
	for _, scheme := range []string{"light", "dark"} {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		cancel()
		require.NoError(b.t, err)
		found := eval[[]string](b, `(() => {
			const rgb = s => s.match(/[\d.]+/g).slice(0, 3).map(Number);
			const lum = c => {
				const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
				return 0.2126 * r + 0.7152 * g + 0.0722 * b;
			};
			const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
			const card = document.querySelector("main.tf-card");
			const probe = document.createElement("span");
			probe.style.color = "var(--tf-accent)";
			card.appendChild(probe);
			const accent = getComputedStyle(probe).color;
			probe.remove();
			const bg = rgb(getComputedStyle(card).backgroundColor);
			const out = [];
			for (const a of card.querySelectorAll("a")) {
				const cs = getComputedStyle(a);
				const name = `+"`"+`${a.textContent.trim()} (${a.getAttribute("href")})`+"`"+`;
				if (a.classList.contains("tf-button")) {
					continue;
				}
				if (cs.color !== accent) out.push(name + ": colour " + cs.color + ", not the accent " + accent);
				const r = ratio(rgb(cs.color), bg);
				if (r < 4.5) out.push(name + ": contrast " + r.toFixed(2));
				a.focus();
				const f = getComputedStyle(a);
				if (document.activeElement !== a || f.outlineStyle === "none" || parseFloat(f.outlineWidth) < 2) {
					out.push(name + ": no focus ring");
				}
				a.blur();
			}
			return out;
		})()`)
		for _, f := range found {
			bad = append(bad, scheme+": "+f)
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
	require.NoError(b.t, err)
	return bad
}

// laptop sets the tab's viewport to a laptop's, 1280x800, as a desktop
// browser (clearing an emulation does not give the window's size back).
func laptop(b *tab) {
	b.t.Helper()
	b.do(chromedp.EmulateViewport(1280, 800, chromedp.EmulateScale(1)))
}

// lockoutText is the lockout line; the date comes before the time when
// the lockout lifts on another day than today (near midnight UTC).
var lockoutText = regexp.MustCompile(`^Locked out after 10 wrong codes · lifts at (\d{1,2} [A-Z][a-z]{2} \d{4} )?\d\d:\d\d UTC, in (1[0-5]|[1-9]) minutes?$`)

// What support staff meet on the administrator pages: people named as
// the app names them, a lockout with its count and end beside Unlock,
// a policy page that shows only what it can act on, links in the
// library's colour, and an unknown id that keeps the bar and the lookup.
func TestBrowserAdminPages(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	lockOut(t, app)
	admin := newTab(t, app)
	adminSignIn(admin)
	laptop(admin)

	// The lookup page.
	admin.open("/admin/2fa/", "#tf-user")
	admin.checkPage()
	assert.Empty(t, linkColours(admin), "links of the lookup page")

	// Grace, locked out: her name, her login and address beside it, and
	// the lockout first, with Unlock on the same line.
	admin.open("/admin/2fa/user?id=u3", `body[data-page="admin_user"]`)
	admin.checkPage()
	assert.Equal(t, "Two-step verification of Grace Hopper", admin.text("h1"))
	assert.Equal(t, "Two-step verification of Grace Hopper · Acme", eval[string](admin, `document.title`))
	assert.Equal(t, "grace · grace@example.com · User ID u3", admin.text(".tf-who"))
	assert.Regexp(t, lockoutText, admin.text(".tf-lockout-row p.tf-warn"))
	assert.Equal(t, "Unlock", admin.text(".tf-lockout-row form button"))
	beside := eval[string](admin, `(() => {
		const p = document.querySelector(".tf-lockout-row p").getBoundingClientRect();
		const b = document.querySelector(".tf-lockout-row button").getBoundingClientRect();
		const ok = b.left >= p.right - 1 && b.top < p.bottom && b.bottom > p.top;
		return ok ? "" : JSON.stringify({p, b});
	})()`)
	assert.Empty(t, beside, "Unlock is beside the lockout at laptop size")
	assert.Empty(t, linkColours(admin), "links of the user page")

	// The policy: the trust durations are text, not chips that look like
	// buttons; nobody's phone number is asked for, so no list of people
	// without one.
	admin.open("/admin/2fa/policy", `body[data-page="admin_policy"]`)
	admin.checkPage()
	assert.Equal(t, "Session only, 1 day, 1 week, 30 days (current)", admin.text("dd.tf-plain"))
	assert.Equal(t, []string{}, eval[[]string](admin, `Array.from(document.querySelectorAll("dl.tf-policy *"))
		.filter(el => { const cs = getComputedStyle(el); return cs.borderTopStyle !== "none" || cs.borderRadius !== "0px" || el.matches("li, button, [role=button]"); })
		.map(el => el.outerHTML)`), "nothing on the policy looks like a control")
	assert.NotContains(t, admin.text("main"), "Users without a phone number")
	assert.Empty(t, linkColours(admin), "links of the policy page")

	// A recovery code for ada.
	admin.open("/admin/2fa/user?id=u2", `body[data-page="admin_user"]`)
	assert.Equal(t, "Two-step verification of Ada Lovelace", admin.text("h1"))
	assert.Zero(t, eval[int](admin, `document.querySelectorAll(".tf-lockout form").length`), "nothing to unlock")
	admin.click(`form[action="/admin/2fa/user/recovery-code"] button`, `body[data-page="admin_code"]`)
	admin.checkPage()
	// The code stays on one line on a phone, to be read out whole.
	admin.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	assert.Equal(t, 1, eval[int](admin, `document.querySelector(".tf-admin-code code").getClientRects().length`), "the recovery code on one line")
	assert.LessOrEqual(t, eval[float64](admin, `document.querySelector(".tf-admin-code").scrollWidth - document.querySelector(".tf-admin-code").clientWidth`), 0.0, "and within its box")
	admin.do(chromedp.EmulateViewport(1280, 800, chromedp.EmulateScale(1)))

	// An id nobody has: the lookup again, with the id, under the bar.
	admin.open("/admin/2fa/user?id=u33", alert)
	admin.checkPage()
	assert.Equal(t, "No user with that ID.", admin.announced())
	assert.Equal(t, "u33", eval[string](admin, `document.getElementById("tf-user").value`))
	for _, sel := range []string{`header.bar a[href="/admin/2fa/"]`, `header.bar form[action="/logout"] button`, `main a[href="/admin/2fa/policy"]`} {
		assert.True(t, eval[bool](admin, fmt.Sprintf(`document.querySelector(%q) !== null`, sel)), sel)
	}
	assert.Empty(t, linkColours(admin), "links of the no-such-user page")
	admin.do(chromedp.SetValue(chromedp.ID("tf-user"), "u3"), chromedp.Submit(chromedp.ID("tf-user")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="admin_user"]`)))
	assert.Equal(t, "Two-step verification of Grace Hopper", admin.text("h1"))

	// Unlocked: the lockout says so and offers nothing more.
	admin.click(`.tf-lockout-row form button`, `p.tf-notice`)
	assert.Equal(t, "Not locked out.", admin.text(".tf-lockout-row p"))
	assert.Zero(t, eval[int](admin, `document.querySelectorAll(".tf-lockout form").length`))
}
