package webauthn_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

// FuzzVerifyAnswer: any answer is either refused as malformed before the
// store is touched, or refused as a wrong answer; never accepted, never a
// panic.
func FuzzVerifyAnswer(f *testing.F) {
	fx := newFixture(f)
	k := newSoftKey(f, testRPID, testOrigin)
	fx.register(k, "key")
	ch := fx.challenge()
	opts, err := fx.f.Start(fx.ctx, ch)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(k.get(f, opts)))
	f.Add(`{}`)
	f.Add(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`)
	f.Add("[]")
	f.Add("")
	fresh := fx.challenge() // never started: nothing can verify
	f.Fuzz(func(t *testing.T, answer string) {
		calls := fx.st.Calls.Load()
		cerr := fx.f.CheckAnswer(answer)
		if cerr != nil && !errors.Is(cerr, twofactor.ErrInvalidInput) {
			t.Fatalf("CheckAnswer: %v", cerr)
		}
		_, err := fx.f.Verify(fx.ctx, fresh, answer)
		switch {
		case err == nil:
			t.Fatal("an answer verified without a ceremony")
		case cerr != nil:
			if !errors.Is(err, twofactor.ErrInvalidInput) {
				t.Fatalf("malformed answer gave %v", err)
			}
			if fx.st.Calls.Load() != calls {
				t.Fatal("a malformed answer reached the store")
			}
		case !errors.Is(err, twofactor.ErrInvalidCode):
			t.Fatalf("well-formed answer gave %v", err)
		}
	})
}

// FuzzCheckRegistration: registration responses are checked without a
// panic, and only ErrInvalidInput is returned.
func FuzzCheckRegistration(f *testing.F) {
	fx := newFixture(f)
	f.Add(newSoftKey(f, testRPID, testOrigin).create(f, fx.begin("key")))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"attestationObject":"oA","clientDataJSON":"e30"}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := webauthn.CheckRegistration(b); err != nil && !errors.Is(err, twofactor.ErrInvalidInput) {
			t.Fatalf("CheckRegistration: %v", err)
		}
	})
}

// FuzzConfigOrigins: New never panics, and an origin it accepts is https
// (or http on localhost) on the RP id or a subdomain of it.
func FuzzConfigOrigins(f *testing.F) {
	env := twofactor.Env{Store: store.NewMemory(), Keys: newKeys(f)}
	f.Add("example.com", "https://example.com")
	f.Add("example.com", "https://login.example.com:8443/")
	f.Add("example.com", "https://badexample.com")
	f.Add("localhost", "http://localhost:8080")
	f.Add("127.0.0.1", "http://127.0.0.1")
	f.Add("example.com", "https://user@example.com")
	f.Fuzz(func(t *testing.T, rpID, origin string) {
		w, err := webauthn.New(env, webauthn.Config{RPID: rpID, RPOrigins: []string{origin}})
		if err != nil {
			if !errors.Is(err, twofactor.ErrConfig) {
				t.Fatalf("New: %v", err)
			}
			return
		}
		u, err := url.Parse(w.Origins()[0])
		if err != nil {
			t.Fatalf("accepted origin %q does not parse", w.Origins()[0])
		}
		host := u.Hostname()
		if host != rpID && !strings.HasSuffix(host, "."+rpID) {
			t.Fatalf("accepted origin %q outside RP id %q", origin, rpID)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && host == "localhost") {
			t.Fatalf("accepted insecure origin %q", origin)
		}
	})
}
