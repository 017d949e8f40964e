package twofactortest

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/twofactorkit/twofactor"
)

// checkNoSecrets: no page, JSON answer or header the kit saw, in this
// check or any before, shows a code, a secret or a full phone number it
// knows. This check signs a user with every factor in as a browser, has
// codes sent, answers a used code, and opens every page of the user's
// (and an administrator's page about them) before it looks.
func (k *kit) checkNoSecrets(t checkT) {
	w := want{word: "leak", totp: true, email: k.has[twofactor.MethodEmail] && k.d.Code != nil}
	w.sms = k.has[twofactor.MethodSMS] && k.d.Code != nil
	u := k.newUser(t, w)
	b := k.browser()
	a := k.challenge(t, b, u)
	since := a.idx
	pre := k.d.Prefix
	b.get(pre)
	b.getJSON(pre)
	for m, to := range map[twofactor.Method]string{twofactor.MethodEmail: u.Email, twofactor.MethodSMS: u.phone} {
		if to == "" || !k.hasMethod(t, u, m) {
			continue
		}
		b.do(call{method: http.MethodPost, path: pre + "send", form: url.Values{"method": {string(m)}}})
		k.code(to, since)
		b.get(pre + "?method=" + string(m))
		b.getJSON(pre)
	}
	// A code that worked once, answered as a browser: the page refusing
	// it must not show it back.
	b.do(call{method: http.MethodPost, path: pre + "verify", form: url.Values{"method": {string(twofactor.MethodTOTP)}, "code": {u.first}}})
	code := u.backupCode(t)
	if a := b.do(call{method: http.MethodPost, path: pre + "verify", form: url.Values{"method": {string(twofactor.MethodBackupCode)}, "code": {code}}}); a.ok() {
		u.used(code)
	}
	if !b.isSignedIn(u) {
		t.Fatalf("the kit could not sign %s in with a backup code as a browser", u.ID)
	}
	s := pre + "settings/"
	pages := append(slices.Clone(k.d.Protected), s, s+"totp", s+"phone", s+"email", s+"keys", s+"backup-codes", s+"devices", s+"disable")
	for _, p := range pages {
		b.get(p)
		b.getJSON(p)
	}
	k.stepUp(t, b, u)
	for _, p := range pages {
		b.get(p)
	}
	if k.d.AdminPrefix != "" {
		admin := k.newUser(t, want{word: "leakadmin", totp: true, admin: true})
		ab := k.browser()
		k.signIn(t, ab, admin)
		ab.get(k.d.AdminPrefix + "user?id=" + url.QueryEscape(u.ID))
		ab.getJSON(k.d.AdminPrefix + "user?id=" + url.QueryEscape(u.ID))
	}
	for _, l := range k.scan() {
		t.Errorf("%s shows %s: no page, JSON answer or header may show a code, a secret or a full phone number "+
			"(the layer's settings pages show an authenticator app's secret during its set-up and new backup codes once, nothing else). "+
			"Look for the host's handler, template or middleware that prints it", l.a, l.s.what)
	}
}

// A leak is an answer that shows a secret.
type leak struct {
	a *answer
	s secret
}

var (
	// timestamps are blanked before looking for numeric codes: their
	// fractions of a second are runs of digits too.
	timestamps = regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?`)
	digitRuns  = regexp.MustCompile(`[0-9]+`)
	// flatten drops what people and pages put between the characters
	// of a code or a number.
	flatten = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "", "\u00a0", "", "&nbsp;", "", "&#43;", "+", "\n", "", "\t", "")
)

// scan returns, for every answer the kit saw, each secret it shows that
// existed when it was sent, once per secret and route.
func (k *kit) scan() []leak {
	k.mu.Lock()
	seen, secrets := slices.Clone(k.seen), slices.Clone(k.secrets)
	k.mu.Unlock()
	digits := map[string][]secret{}
	texts := map[string][]secret{}
	var phones []secret
	lengths := map[int]bool{}
	for _, s := range secrets {
		switch s.kind {
		case kindDigits:
			digits[s.value] = append(digits[s.value], s)
		case kindPhone:
			phones = append(phones, s)
		default:
			v := strings.ToLower(flatten.Replace(s.value))
			texts[v] = append(texts[v], s)
			lengths[len(v)] = true
		}
	}
	var out []leak
	reported := map[string]bool{}
	report := func(a *answer, ss []secret) {
		for _, s := range ss {
			key := s.what + "\x00" + a.route
			if a.idx >= s.since && !reported[key] {
				reported[key] = true
				out = append(out, leak{a, s})
			}
		}
	}
	for _, a := range seen {
		var sb strings.Builder
		sb.WriteString(a.body)
		for name, vs := range a.header {
			if name == "Set-Cookie" {
				continue // sealed by the layer, or the host's session
			}
			sb.WriteString("\n" + strings.Join(vs, "\n"))
		}
		text := sb.String()
		blank := timestamps.ReplaceAllString(text, " ")
		for _, loc := range digitRuns.FindAllStringIndex(blank, -1) {
			i, j := loc[0], loc[1]
			if (i > 0 && alnum(blank[i-1])) || (j < len(blank) && alnum(blank[j])) {
				continue
			}
			report(a, digits[blank[i:j]])
		}
		flat := strings.ToLower(flatten.Replace(text))
		for n := range lengths {
			for i := 0; i+n <= len(flat); i++ {
				if ss, ok := texts[flat[i:i+n]]; ok {
					report(a, ss)
				}
			}
		}
		for _, p := range phones {
			if strings.Contains(flat, p.value) || strings.Contains(flat, strings.TrimPrefix(p.value, "+1")) {
				report(a, []secret{p})
			}
		}
	}
	return out
}

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
