package twofactorhttp

import (
	"encoding/binary"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/twofactorkit/twofactor"
)

// pending is the state of a sign-in (or step-up) between the password and
// the second factor. It lives in a cookie, never in a half-signed-in host
// session: the challenge id in the clear, the rest sealed with the keyring
// (AES-256-GCM under the current key, with its key id) and bound to the
// challenge id and the cookie name, so it opens only as the cookie of that
// challenge.
type pending struct {
	ChallengeID string
	UserID      string
	Purpose     twofactor.Purpose
	Return      string    // a path checked by cleanReturn, or ""
	Expires     int64     // Unix seconds: the challenge's expiry
	Sent        *sentCode // the last code sent, for the page
	// Back is the page a step-up was asked from (a path checked by
	// cleanReturn, or ""): cancelling goes back there rather than to
	// Return, which may be the page that asked for the step-up and would
	// ask again.
	Back string
}

// sentCode is what the page shows of the last code sent: the masked
// destination and when a new one may be asked for. Never the code.
type sentCode struct {
	Method      twofactor.Method
	Destination string // masked by the factor
	ResendAt    int64  // Unix milliseconds
}

// maxCookie bounds a pending cookie before any decoding: what browsers
// keep of one cookie, its name and attributes included, is about 4096
// bytes.
const maxCookie = 4000

func (h *Handler) pendingAD(challengeID string) []byte {
	return []byte("twofactorhttp pending v1\x00" + h.pendingName + "\x00" + challengeID)
}

// The sealed state is its fields joined by NUL, which none of them holds
// (user ids and return paths refuse control characters; a destination is
// stripped of them): user, purpose, return, expiry, then the method,
// destination and resend time of the last code sent, empty when none,
// then the page a step-up was asked from. A value of the seven fields
// before that one opens with no such page.
const pendingFields = 8

// sealPending returns the cookie value "<challenge id>~<sealed state>":
// '~' is in neither's alphabet.
func (h *Handler) sealPending(p *pending) (string, error) {
	var m, dest, resend string
	if p.Sent != nil {
		m, dest, resend = string(p.Sent.Method), stripControl(p.Sent.Destination), strconv.FormatInt(p.Sent.ResendAt, 10)
	}
	b := []byte(strings.Join([]string{p.UserID, string(p.Purpose), p.Return, strconv.FormatInt(p.Expires, 10), m, dest, resend, p.Back}, "\x00"))
	s, err := h.env.Keys.Seal(b, h.pendingAD(p.ChallengeID))
	if err != nil {
		return "", err
	}
	return p.ChallengeID + "~" + s, nil
}

func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// openPending parses and opens a pending cookie value. Anything that is not
// a value sealed by this layer for this cookie, still unexpired at now,
// with a well-formed challenge id, user id, purpose and return path, is
// refused with errNoPending.
func (h *Handler) openPending(value string, now time.Time) (*pending, error) {
	if len(value) > maxCookie {
		return nil, errNoPending
	}
	id, sealed, ok := strings.Cut(value, "~")
	if !ok || twofactor.ParseChallengeID(id) != nil {
		return nil, errNoPending
	}
	b, err := h.env.Keys.Open(sealed, h.pendingAD(id))
	if err != nil {
		return nil, errNoPending
	}
	f := strings.Split(string(b), "\x00")
	if len(f) == pendingFields-1 {
		f = append(f, "")
	}
	if len(f) != pendingFields {
		return nil, errNoPending
	}
	p := pending{ChallengeID: id, UserID: f[0], Purpose: twofactor.Purpose(f[1]), Return: f[2], Back: f[7]}
	if p.Expires, err = strconv.ParseInt(f[3], 10, 64); err != nil {
		return nil, errNoPending
	}
	if f[4] != "" {
		p.Sent = &sentCode{Method: twofactor.Method(f[4]), Destination: f[5]}
		if p.Sent.ResendAt, err = strconv.ParseInt(f[6], 10, 64); err != nil {
			return nil, errNoPending
		}
	}
	switch {
	case twofactor.CheckUserID(p.UserID) != nil,
		p.Purpose != twofactor.PurposeLogin && p.Purpose != twofactor.PurposeStepUp,
		p.Return != "" && cleanReturn(p.Return) != p.Return,
		p.Back != "" && cleanReturn(p.Back) != p.Back,
		!now.Before(time.Unix(p.Expires, 0)):
		return nil, errNoPending
	}
	return &p, nil
}

// readPending returns the request's pending sign-in.
func (h *Handler) readPending(r *http.Request) (*pending, error) {
	for _, c := range r.CookiesNamed(h.pendingName) {
		if p, err := h.openPending(c.Value, h.now()); err == nil {
			return p, nil
		}
	}
	return nil, errNoPending
}

// setPending writes the pending cookie: HttpOnly, SameSite=Lax, scoped to
// the prefix, Secure unless served on http://localhost, and living as long
// as the challenge.
func (h *Handler) setPending(w http.ResponseWriter, r *http.Request, p *pending) error {
	v, err := h.sealPending(p)
	if err != nil {
		return err
	}
	left := time.Unix(p.Expires, 0).Sub(h.now())
	c := h.cookie(r, h.pendingName, v, h.prefix)
	c.MaxAge = max(1, int(left/time.Second))
	c.Expires = time.Unix(p.Expires, 0).UTC()
	http.SetCookie(w, c)
	return nil
}

// clearPending drops the pending cookie the request carries, if any.
func (h *Handler) clearPending(w http.ResponseWriter, r *http.Request) {
	if !hasCookie(r, h.pendingName) {
		return
	}
	c := h.cookie(r, h.pendingName, "", h.prefix)
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// cookie returns a cookie with the layer's attributes. RFC 6265bis lets
// browsers keep Secure cookies set over http://localhost (a secure
// context), but not every client does, so they are sent without Secure
// there, and only there.
func (h *Handler) cookie(r *http.Request, name, value, path string) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		HttpOnly: true,
		Secure:   r.TLS != nil || !isLocalhost(r.Host),
		SameSite: http.SameSiteLaxMode,
	}
}

// isLocalhost reports whether host (with or without a port) is a loopback
// name or address.
func isLocalhost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

// The step-up cookie holds the Result.Proof of a step-up challenge, sealed
// and bound to the user: opened for any other user it does not open.
func (h *Handler) stepUpAD(userID string) []byte {
	return []byte("twofactorhttp step-up v1\x00" + h.stepUpName + "\x00" + userID)
}

// setStepUp writes the step-up cookie for the whole site (Path=/), so the
// middleware sees it on every protected page. It is a session cookie: the
// Service decides freshness from the proof's time, and a stale cookie is
// refused like a missing one.
func (h *Handler) setStepUp(w http.ResponseWriter, r *http.Request, userID, proof string) error {
	v, err := h.env.Keys.Seal([]byte(proof), h.stepUpAD(userID))
	if err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(r, h.stepUpName, v, "/"))
	return nil
}

// stepUpProof returns the proof in the request's step-up cookie for
// userID, or "".
func (h *Handler) stepUpProof(r *http.Request, userID string) string {
	for _, c := range r.CookiesNamed(h.stepUpName) {
		if len(c.Value) > maxCookie {
			continue
		}
		if b, err := h.env.Keys.Open(c.Value, h.stepUpAD(userID)); err == nil {
			return string(b)
		}
	}
	return ""
}

// clearStepUp drops the step-up cookie the request carries, if any, so
// that a fresh verification does not outlive the session it was made in
// (SignOut, a new sign-in, two-step verification turned off).
func (h *Handler) clearStepUp(w http.ResponseWriter, r *http.Request) {
	if !hasCookie(r, h.stepUpName) {
		return
	}
	c := h.cookie(r, h.stepUpName, "", "/")
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// hasCookie reports whether the request may carry the cookie: a cheap
// look at the Cookie header, without parsing it, for deciding whether to
// send a deletion (a false positive only sends one for nothing).
func hasCookie(r *http.Request, name string) bool {
	for _, line := range r.Header["Cookie"] {
		if strings.Contains(line, name+"=") {
			return true
		}
	}
	return false
}

// The enrolled mark is Enforce's memory that the browser's signed-in user
// has a second factor: set when the user signs in with one, or when
// Enforce has read it from the store, it lets the following requests pass
// with no store call until it is enrollMarkTTL old, while the user's
// policy allows the method of that factor. It is sealed and bound to the
// user, so it says nothing for anyone else, and holds when it was made
// and the method. A factor removed from the settings pages, or two-step
// verification turned off there, drops it; an administrator's reset from
// elsewhere is seen within enrollMarkTTL (end the user's sessions too).
const enrollMarkTTL = time.Hour

func (h *Handler) enrolledName() string { return h.stepUpName + "_enrolled" }

func (h *Handler) enrolledAD(userID string) []byte {
	return []byte("twofactorhttp enrolled v1\x00" + h.enrolledName() + "\x00" + userID)
}

// setEnrolled writes the enrolled mark for userID's factor of method m,
// made now, as a session cookie for the whole site.
func (h *Handler) setEnrolled(w http.ResponseWriter, r *http.Request, userID string, m twofactor.Method) {
	made := binary.BigEndian.AppendUint64(nil, uint64(h.env.Now().Unix()))
	v, err := h.env.Keys.Seal(append(made, m...), h.enrolledAD(userID))
	if err != nil {
		return // no mark: the next request reads the store again
	}
	http.SetCookie(w, h.cookie(r, h.enrolledName(), v, "/"))
}

// enrolledMark reports whether the request carries an enrolled mark for
// userID made less than enrollMarkTTL ago (and not in the future), of a
// method the user's policy (withPolicy) allows.
func (h *Handler) enrolledMark(r *http.Request, userID string) bool {
	now := h.env.Now().Unix()
	for _, c := range r.CookiesNamed(h.enrolledName()) {
		if len(c.Value) > maxCookie {
			continue
		}
		b, err := h.env.Keys.Open(c.Value, h.enrolledAD(userID))
		if err != nil || len(b) <= 8 {
			continue
		}
		made := int64(binary.BigEndian.Uint64(b))
		if made <= now && now-made < int64(enrollMarkTTL/time.Second) && h.allowed(r.Context(), twofactor.Method(b[8:])) {
			return true
		}
	}
	return false
}

// clearEnrolled drops the enrolled mark the request carries, if any.
func (h *Handler) clearEnrolled(w http.ResponseWriter, r *http.Request) {
	if !hasCookie(r, h.enrolledName()) {
		return
	}
	c := h.cookie(r, h.enrolledName(), "", "/")
	c.MaxAge = -1
	http.SetCookie(w, c)
}
