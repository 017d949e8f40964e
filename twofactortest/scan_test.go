package twofactortest

import (
	"net/http"
	"testing"
)

// The scan finds a secret in the forms pages show it in, and not in what
// only looks like it: a run of digits inside a longer number, a word, or a
// timestamp's fraction of a second.
func TestScan(t *testing.T) {
	for _, c := range []struct {
		kind  secretKind
		value string
		body  string
		found bool
	}{
		{kindDigits, "123456", `<input name="code" value="123456">`, true},
		{kindDigits, "123456", `{"code":"123456"}`, true},
		{kindDigits, "123456", "Your code is 123456.", true},
		{kindDigits, "123456", "1234567", false},
		{kindDigits, "123456", "a123456", false},
		{kindDigits, "123456", `"expires_at":"2026-03-02T09:15:00.123456Z"`, false},
		{kindDigits, "123456", `<time datetime="2026-03-02 09:15:00.123456+01:00">`, false},
		{kindText, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "key: jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp", true},
		{kindText, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "key: JBSW-Y3DP", false},
		{kindText, "k7qm-3xvt-9fhd", "<li>K7QM 3XVT 9FHD</li>", true},
		{kindText, "k7qm-3xvt-9fhd", "<li>k7qm3xvt9fhd</li>", true},
		{kindText, "k7qm-3xvt-9fhd", "<li>k7qm-3xvt-****</li>", false},
		{kindPhone, "+12025550143", "+1 202-555-0143", true},
		{kindPhone, "+12025550143", "(202) 555-0143", true},
		{kindPhone, "+12025550143", "&#43;12025550143", true},
		{kindPhone, "+12025550143", "+1 *** *** **43", false},
	} {
		k := &kit{}
		k.remember(c.kind, "the secret", c.value)
		k.record(&answer{route: "GET /", status: http.StatusOK, header: http.Header{}, body: c.body})
		if got := len(k.scan()) > 0; got != c.found {
			t.Errorf("%q in %q: found %v, want %v", c.value, c.body, got, c.found)
		}
	}
	// A secret in a header, and not before it existed.
	k := &kit{}
	k.record(&answer{route: "GET /early", status: http.StatusOK, header: http.Header{}, body: "123456"})
	k.remember(kindDigits, "the secret", "123456")
	k.record(&answer{route: "GET /late", status: http.StatusSeeOther, header: http.Header{"Location": {"/done?code=123456"}}})
	if ls := k.scan(); len(ls) != 1 || ls[0].a.route != "GET /late" {
		t.Errorf("leaks %v, want GET /late alone", ls)
	}
}
