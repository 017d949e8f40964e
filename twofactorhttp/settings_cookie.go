package twofactorhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// The settings pages keep two short-lived cookies, sealed with the
// keyring and bound to the cookie's name and the user: the set-up waiting
// for its code (the enrollment cookie), and a new set of backup codes for
// the page that shows it once and its download. Both are HttpOnly,
// SameSite=Lax, scoped to <prefix>settings/, and Secure except on
// http://localhost.

// sealCookie writes v as JSON, sealed for userID, in the cookie name until
// expires.
func (h *Handler) sealCookie(w http.ResponseWriter, r *http.Request, name, userID string, v any, expires time.Time) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	s, err := h.env.Keys.Seal(b, h.enrollAD(name, userID))
	if err != nil {
		h.log.Error("twofactorhttp: sealing a settings cookie", "error", err.Error())
		return
	}
	c := h.cookie(r, name, s, h.url(routeSettings))
	c.MaxAge = max(1, int(expires.Sub(h.now())/time.Second))
	c.Expires = expires.UTC()
	http.SetCookie(w, c)
}

// openCookie opens the cookie name sealed for userID into v.
func (h *Handler) openCookie(r *http.Request, name, userID string, v any) bool {
	for _, c := range r.CookiesNamed(name) {
		if len(c.Value) > maxCookie {
			continue
		}
		b, err := h.env.Keys.Open(c.Value, h.enrollAD(name, userID))
		if err != nil {
			continue
		}
		if json.Unmarshal(b, v) == nil {
			return true
		}
	}
	return false
}

// dropCookie deletes the cookie name, when the request may carry it.
func (h *Handler) dropCookie(w http.ResponseWriter, r *http.Request, name string) {
	if !hasCookie(r, name) {
		return
	}
	c := h.cookie(r, name, "", h.url(routeSettings))
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// readJSONObject reads a JSON object whose values are strings, booleans
// or numbers, as strings. Errors match errBadRequest.
func readJSONObject(r *http.Request, ctype string) (map[string]string, error) {
	if mt, _, _ := mime.ParseMediaType(ctype); !isJSONType(mt) {
		return nil, fmt.Errorf("%w: content type %q", errBadRequest, ctype)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, bodyErr(err)
	}
	out := map[string]string{}
	if len(bytes.TrimSpace(b)) == 0 {
		return out, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("%w: body is not a JSON object", errBadRequest)
	}
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
		default:
			return nil, fmt.Errorf("%w: field %q is not a string", errBadRequest, k)
		}
	}
	return out, nil
}

// checked reports whether a form checkbox or JSON boolean is set.
func checked(v string) bool { return v == "on" || v == "true" || v == "1" || v == "yes" }
