package redisstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// FuzzDecode feeds arbitrary bytes to every decoder of stored values, as if
// another program had written under the prefix: none may panic, and what a
// decoder accepts must be consistent with its encoder.
func FuzzDecode(f *testing.F) {
	d, _ := encodeDevice(store.Device{ID: "d1", UserID: "u1", CreatedAt: time.Unix(1, 0), ExpiresAt: time.UnixMilli(1_800_000_000_000)})
	e, _ := encodeEnrollment(store.EnrollmentRecord{UserID: "u1", ID: "e1", Method: "totp", Data: []byte{0, 1}})
	f.Add([]byte("1800000000000|value"))
	f.Add([]byte("0|"))
	f.Add(encodeCode(1_800_000_000_000, 3, []byte("h|a|s|h")))
	f.Add(d)
	f.Add(e)
	f.Add([]byte("-1|x"))
	f.Add([]byte("99999999999999999999999|x"))
	f.Add([]byte("|"))
	f.Add([]byte("007|x"))
	f.Add([]byte("+7|x"))
	f.Add(appendOwned(1_800_000_000_000, "0123456789abcdef", "alice", []byte("value|with;separators")))
	f.Add(appendOwned(0, "0123456789abcdef", "", nil))
	f.Add([]byte("5;0123456789abcdef;9;short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if exp, payload, ok := parseEnvelope(b); ok {
			if exp < 0 {
				t.Fatalf("negative expiry %d accepted", exp)
			}
			if !bytes.Equal(appendEnvelope(exp, payload), b) {
				t.Fatalf("envelope %q does not re-encode", b)
			}
		}
		if exp, token, owner, payload, ok := parseOwned(b); ok {
			if exp < 0 || len(token) != tokenLen {
				t.Fatalf("owned state %q accepted with exp %d, token %q", b, exp, token)
			}
			if !bytes.Equal(appendOwned(exp, token, owner, payload), b) {
				t.Fatalf("owned state %q does not re-encode", b)
			}
			if _, _, plain := parseEnvelope(b); plain {
				t.Fatalf("%q reads both as an owned and as a plain state", b)
			}
		}
		if exp, payload, ok := parseState(b); ok {
			if exp < 0 || len(payload) > len(b) {
				t.Fatalf("state %q accepted with exp %d", b, exp)
			}
		}
		if exp, maxAttempts, hash, ok := parseCode(b); ok {
			if len(hash) == 0 || exp < 0 || maxAttempts < 0 {
				t.Fatalf("code %q accepted with exp %d, max %d, hash %q", b, exp, maxAttempts, hash)
			}
		}
		if dev, exp, ok := parseDevice(b); ok {
			if dev.ID == "" || dev.UserID == "" || exp != expiryMillis(dev.ExpiresAt) {
				t.Fatalf("device %q accepted: %+v", b, dev)
			}
		}
		if rec, ok := parseEnrollment(b, "u1", "e1"); ok && (rec.UserID != "u1" || rec.ID != "e1") {
			t.Fatalf("enrollment %q accepted for the wrong record: %+v", b, rec)
		}
		_, _ = countLive(map[string]string{"k:x": string(b), "a:x": string(b)}, 1_800_000_000_000)
	})
}

// FuzzCodeRoundTrip checks that any code the store writes reads back
// unchanged, whatever bytes its hash holds.
func FuzzCodeRoundTrip(f *testing.F) {
	f.Add(int64(0), 0, []byte("h"))
	f.Add(int64(1_800_000_000_000), 5, []byte("a|b||c"))
	f.Add(int64(1), 1<<30, []byte{0, 0xff, '|'})
	f.Fuzz(func(t *testing.T, exp int64, maxAttempts int, hash []byte) {
		if exp < 0 || maxAttempts < 0 || len(hash) == 0 {
			return // not a code the store writes
		}
		gotExp, gotMax, gotHash, ok := parseCode(encodeCode(exp, maxAttempts, hash))
		if !ok || gotExp != exp || gotMax != int64(maxAttempts) || !bytes.Equal(gotHash, hash) {
			t.Fatalf("round trip of (%d, %d, %q): (%d, %d, %q, %v)", exp, maxAttempts, hash, gotExp, gotMax, gotHash, ok)
		}
	})
}
