package redisstore

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// Stored values. Everything a Lua script must read starts with the expiry
// in Unix milliseconds as decimal digits ("0" for never) and a '|', so
// scripts and Sweep can find it without decoding the rest.
//
//	state:  <exp>|<value bytes>
//	owned state: <exp>;<token>;<owner length>;<owner><value bytes>
//	device: <exp>|<device JSON>
//	code:   <exp>|<max attempts>|<hash bytes>   (a field of the group hash)

// appendEnvelope returns exp|payload.
func appendEnvelope(exp int64, payload []byte) []byte {
	b := make([]byte, 0, 21+len(payload))
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, '|')
	return append(b, payload...)
}

// parseEnvelope splits exp|payload. The payload aliases b. Only what
// appendEnvelope writes is accepted: a non-negative decimal without sign or
// leading zeros.
func parseEnvelope(b []byte) (exp int64, payload []byte, ok bool) {
	return cutNumber(b, '|')
}

// cutNumber splits b at the first sep, which must follow a non-negative
// decimal without sign or leading zeros; the rest aliases b.
func cutNumber(b []byte, sep byte) (n int64, rest []byte, ok bool) {
	i := bytes.IndexByte(b, sep)
	if i <= 0 || i > 19 || (b[0] == '0' && i > 1) {
		return 0, nil, false
	}
	for _, c := range b[:i] {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return n, b[i+1:], true
}

// tokenLen is the length of the random token of an owned state, in hex
// digits.
const tokenLen = 16

// appendOwned returns the value of a state filed under owner. The token
// names this put: the owner's index entry carries the same token, so
// DeleteOwnedStates can tell the entry of the state it deleted from one a
// concurrent put wrote. Readers of the plain envelope (and earlier
// versions of this package) reject it as malformed rather than misread it.
func appendOwned(exp int64, token, owner string, payload []byte) []byte {
	b := make([]byte, 0, 48+len(owner)+len(payload))
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, ';')
	b = append(b, token...)
	b = append(b, ';')
	b = strconv.AppendInt(b, int64(len(owner)), 10)
	b = append(b, ';')
	b = append(b, owner...)
	return append(b, payload...)
}

// parseOwned splits what appendOwned wrote; the payload aliases b.
func parseOwned(b []byte) (exp int64, token, owner string, payload []byte, ok bool) {
	exp, rest, ok := cutNumber(b, ';')
	if !ok || len(rest) < tokenLen+1 || rest[tokenLen] != ';' {
		return 0, "", "", nil, false
	}
	for _, c := range rest[:tokenLen] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return 0, "", "", nil, false
		}
	}
	token = string(rest[:tokenLen])
	n, rest, ok := cutNumber(rest[tokenLen+1:], ';')
	if !ok || n > int64(len(rest)) {
		return 0, "", "", nil, false
	}
	return exp, token, string(rest[:n]), rest[n:], true
}

// parseState reads a state value, owned or not.
func parseState(b []byte) (exp int64, payload []byte, ok bool) {
	if exp, payload, ok := parseEnvelope(b); ok {
		return exp, payload, true
	}
	exp, _, _, payload, ok = parseOwned(b)
	return exp, payload, ok
}

// encodeCode returns the group-hash value of a code.
func encodeCode(exp int64, maxAttempts int, hash []byte) []byte {
	b := make([]byte, 0, 32+len(hash))
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(maxAttempts), 10)
	b = append(b, '|')
	return append(b, hash...)
}

// parseCode splits a code value; the hash aliases b.
func parseCode(b []byte) (exp, maxAttempts int64, hash []byte, ok bool) {
	exp, rest, ok := parseEnvelope(b)
	if !ok {
		return 0, 0, nil, false
	}
	maxAttempts, hash, ok = parseEnvelope(rest)
	if !ok || len(hash) == 0 {
		return 0, 0, nil, false
	}
	return exp, maxAttempts, hash, true
}

// deviceJSON is a Device as stored.
type deviceJSON struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user"`
	Label      string    `json:"label,omitempty"`
	IP         string    `json:"ip,omitempty"`
	UserAgent  string    `json:"ua,omitempty"`
	CreatedAt  time.Time `json:"created"`
	ExpiresAt  time.Time `json:"expires"`
	LastSeenAt time.Time `json:"seen"`
}

func encodeDevice(d store.Device) ([]byte, error) {
	js, err := json.Marshal(deviceJSON(d))
	if err != nil {
		return nil, err
	}
	return appendEnvelope(expiryMillis(d.ExpiresAt), js), nil
}

// parseDevice decodes a device value and checks that it is a complete
// record whose envelope agrees with it.
func parseDevice(b []byte) (store.Device, int64, bool) {
	exp, js, ok := parseEnvelope(b)
	if !ok {
		return store.Device{}, 0, false
	}
	var d deviceJSON
	if err := json.Unmarshal(js, &d); err != nil || d.ID == "" || d.UserID == "" || exp != expiryMillis(d.ExpiresAt) {
		return store.Device{}, 0, false
	}
	return store.Device(d), exp, true
}

// enrollmentJSON is an EnrollmentRecord as stored; the user id is in the
// key, and checked against the record on read.
type enrollmentJSON struct {
	UserID     string    `json:"user"`
	ID         string    `json:"id"`
	Method     string    `json:"method"`
	Label      string    `json:"label,omitempty"`
	Data       []byte    `json:"data,omitempty"`
	CreatedAt  time.Time `json:"created"`
	LastUsedAt time.Time `json:"used"`
}

func encodeEnrollment(e store.EnrollmentRecord) ([]byte, error) {
	return json.Marshal(enrollmentJSON(e))
}

func parseEnrollment(b []byte, userID, id string) (store.EnrollmentRecord, bool) {
	var e enrollmentJSON
	if err := json.Unmarshal(b, &e); err != nil || e.UserID != userID || e.ID != id {
		return store.EnrollmentRecord{}, false
	}
	return store.EnrollmentRecord(e), true
}
