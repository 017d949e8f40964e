package totp_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/totp"
)

var secret20 = []byte("12345678901234567890")

func TestURIEscaping(t *testing.T) {
	tests := []struct {
		name, issuer, account string
		wantLabel             string // escaped path after otpauth://totp/
	}{
		{"plain", "Example", "alice@example.com", "Example:alice@example.com"},
		{"spaces", "Acme Corp", "Alice Smith", "Acme%20Corp:Alice%20Smith"},
		{"colon in issuer", "Acme:EU", "bob", "Acme%3AEU:bob"},
		{"colon in account", "Acme", "tenant:bob", "Acme:tenant%3Abob"},
		{"non-ASCII", "Société Générale", "José Müller", "Soci%C3%A9t%C3%A9%20G%C3%A9n%C3%A9rale:Jos%C3%A9%20M%C3%BCller"},
		{"reserved characters", "A&B=C?", "x/y#z+1%", "A%26B%3DC%3F:x%2Fy%23z%2B1%25"},
		{"no issuer", "", "carol", "carol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := totp.Key{Secret: secret20, Issuer: tt.issuer, Account: tt.account, Params: totp.DefaultParams}
			uri := k.URI()
			require.True(t, strings.HasPrefix(uri, "otpauth://totp/"+tt.wantLabel+"?"), uri)
			assert.NotContains(t, uri, "+", "a space must be %20: some apps show + literally")

			// Our parser gets every field back.
			got, err := totp.ParseURI(uri)
			require.NoError(t, err)
			assert.Equal(t, tt.issuer, got.Issuer)
			assert.Equal(t, tt.account, got.Account)
			assert.Equal(t, secret20, got.Secret)
			assert.Equal(t, totp.DefaultParams, got.Params)

			// pquerna reads the same issuer (from the query parameter),
			// secret and parameters.
			pk, err := otp.NewKeyFromURL(uri)
			require.NoError(t, err)
			assert.Equal(t, tt.issuer, pk.Issuer())
			assert.Equal(t, totp.EncodeSecret(secret20), pk.Secret())
			assert.Equal(t, uint64(30), pk.Period())
			assert.Equal(t, otp.DigitsSix, pk.Digits())
			assert.Equal(t, otp.AlgorithmSHA1, pk.Algorithm())

			// The query decodes with the standard library too.
			u, err := url.Parse(uri)
			require.NoError(t, err)
			assert.Equal(t, tt.issuer, u.Query().Get("issuer"))
		})
	}
}

// TestPquernaLabelIsAmbiguous documents why URIs are built here: pquerna
// leaves a colon in the issuer unescaped, so the label's issuer/account
// split moves.
func TestPquernaLabelIsAmbiguous(t *testing.T) {
	k, err := pqtotp.Generate(pqtotp.GenerateOpts{Issuer: "Acme:EU", AccountName: "bob", Secret: secret20})
	require.NoError(t, err)
	assert.Equal(t, "EU:bob", k.AccountName(), "pquerna splits its own label at the issuer's colon")
	ours := totp.Key{Secret: secret20, Issuer: "Acme:EU", Account: "bob", Params: totp.DefaultParams}
	got, err := totp.ParseURI(ours.URI())
	require.NoError(t, err)
	assert.Equal(t, "bob", got.Account)
}

func TestParseURI(t *testing.T) {
	const s = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	ok := []struct {
		uri  string
		want totp.Key
	}{
		{"otpauth://totp/Ex:alice?secret=" + s + "&issuer=Ex",
			totp.Key{Secret: secret20, Issuer: "Ex", Account: "alice", Params: totp.DefaultParams}},
		{"otpauth://totp/alice?secret=" + strings.ToLower(s),
			totp.Key{Secret: secret20, Account: "alice", Params: totp.DefaultParams}},
		{"OTPAUTH://TOTP/Ex%3Aalice?secret=" + s + "&algorithm=sha512&digits=8&period=60",
			totp.Key{Secret: secret20, Issuer: "Ex", Account: "alice", Params: totp.Params{Algorithm: totp.SHA512, Digits: 8, Period: 60}}},
		{"otpauth://totp/Label:%20alice?secret=" + s + "====&issuer=Other",
			totp.Key{Secret: secret20, Issuer: "Other", Account: "alice", Params: totp.DefaultParams}},
	}
	for _, tt := range ok {
		t.Run("ok "+tt.uri, func(t *testing.T) {
			k, err := totp.ParseURI(tt.uri)
			require.NoError(t, err)
			assert.Equal(t, tt.want, *k)
		})
	}
	bad := []string{
		"",
		"not a uri",
		"https://totp/x?secret=" + s,
		"otpauth://hotp/x?secret=" + s + "&counter=1",
		"otpauth://totp/x",
		"otpauth://totp/x?secret=",
		"otpauth://totp/x?secret=GEZDGNBV",   // 5 bytes: too short
		"otpauth://totp/x?secret=" + s + "1", // '1' is not base32
		"otpauth://totp/x?secret=" + s + "&secret=" + s,
		"otpauth://totp/x?secret=" + s + "&algorithm=MD5",
		"otpauth://totp/x?secret=" + s + "&digits=5",
		"otpauth://totp/x?secret=" + s + "&digits=six",
		"otpauth://totp/x?secret=" + s + "&period=0",
		"otpauth://totp/x?secret=" + s + "&period=-30",
		"otpauth://totp/x?secret=" + s + "&period=99999999999999999999",
		"otpauth://totp/x?secret=" + s + "&period=30;",
		"otpauth://user@totp/x?secret=" + s,
		"otpauth://totp:99/x?secret=" + s,
		"otpauth://totp/x?secret=" + strings.Repeat("A", 5000),
		"otpauth://totp/x?secret=" + s + "&x=%zz",
	}
	for _, uri := range bad {
		t.Run("bad "+uri[:min(len(uri), 60)], func(t *testing.T) {
			k, err := totp.ParseURI(uri)
			assert.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.Nil(t, k)
		})
	}
}

func FuzzParseURI(f *testing.F) {
	f.Add("otpauth://totp/Ex:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Ex")
	f.Add("otpauth://totp/Acme%3AEU:tenant%3Abob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%3AEU&algorithm=SHA256&digits=8&period=60")
	f.Add("otpauth://totp/Soci%C3%A9t%C3%A9:Jos%C3%A9?secret=gezdgnbvgy3tqojq&period=15")
	f.Add("otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQ&counter=0")
	f.Add("otpauth://totp/%zz?secret=A")
	f.Fuzz(func(t *testing.T, uri string) {
		k, err := totp.ParseURI(uri)
		if err != nil {
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			require.Nil(t, k)
			return
		}
		require.NoError(t, k.Params.Check())
		require.GreaterOrEqual(t, len(k.Secret), totp.MinSecretSize)
		require.LessOrEqual(t, len(k.Secret), totp.MaxSecretSize)
		// What we parse, we write back so that it parses the same. (The
		// account is trimmed of leading spaces when read, as some issuers
		// put one after the colon; a name of only spaces reads as empty.)
		again, err := totp.ParseURI(k.URI())
		require.NoError(t, err, k.URI())
		require.Equal(t, k.Secret, again.Secret)
		require.Equal(t, k.Params, again.Params)
		if k.Issuer == "" && strings.Contains(k.Account, ":") {
			return // without an issuer, the format cannot tell a colon in the account from the separator
		}
		require.Equal(t, k.Issuer, again.Issuer)
		require.Equal(t, strings.TrimLeft(k.Account, " "), again.Account)
	})
}
