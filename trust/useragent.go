package trust

import "strings"

// maxUAScan bounds how much of a User-Agent the family parser reads; real
// ones are a few hundred bytes, and a hostile megabyte header must not cost
// a megabyte of scanning per check.
const maxUAScan = 512

// An Agent is what the library reads from a User-Agent header: the browser
// family and the operating system, both from a short fixed list, or "Other".
type Agent struct {
	Browser string // "Firefox", "Chrome", "Safari", "Edge", "Opera", "Samsung Internet", "Vivaldi", "Internet Explorer", "Other"
	OS      string // "Windows", "macOS", "iOS", "Android", "ChromeOS", "Linux", "Other"
}

// Label returns a user-visible name such as "Firefox on Linux".
func (a Agent) Label() string {
	switch {
	case a.Browser == "Other" && a.OS == "Other":
		return "Unknown browser"
	case a.OS == "Other":
		return a.Browser
	case a.Browser == "Other":
		return "Browser on " + a.OS
	}
	return a.Browser + " on " + a.OS
}

// browsers are tried in order: many browsers also claim to be Chrome and
// Safari, so the specific markers come first.
var browsers = []struct{ marker, name string }{
	{"Edg/", "Edge"},
	{"EdgA/", "Edge"},
	{"EdgiOS/", "Edge"},
	{"Edge/", "Edge"},
	{"OPR/", "Opera"},
	{"OPiOS/", "Opera"},
	{"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Vivaldi/", "Vivaldi"},
	{"YaBrowser/", "Yandex"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"Chrome/", "Chrome"},
	{"Chromium/", "Chrome"},
	{"MSIE ", "Internet Explorer"},
	{"Trident/", "Internet Explorer"},
	{"Safari/", "Safari"},
}

var systems = []struct{ marker, name string }{
	{"Windows", "Windows"},
	{"iPhone", "iOS"},
	{"iPad", "iOS"},
	{"iPod", "iOS"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
	{"X11", "Linux"},
}

// ParseAgent reads the browser family and operating system from a
// User-Agent header. It is deliberately small: it names the common browsers
// so a devices page can say "Firefox on Linux" and so UAFamily binding
// survives browser updates. Anything it does not know is "Other".
func ParseAgent(ua string) Agent {
	if len(ua) > maxUAScan {
		ua = ua[:maxUAScan]
	}
	a := Agent{Browser: "Other", OS: "Other"}
	for _, b := range browsers {
		if strings.Contains(ua, b.marker) {
			a.Browser = b.name
			break
		}
	}
	if a.Browser == "Safari" && !strings.Contains(ua, "Version/") && !strings.Contains(ua, "Mobile/") {
		// WebKit embedders claim Safari/ without Safari's Version/ token.
		a.Browser = "Other"
	}
	for _, s := range systems {
		if strings.Contains(ua, s.marker) {
			a.OS = s.name
			break
		}
	}
	return a
}
