package main

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/totp"
)

// TestNoSecretsPrinted: status and devices, in text and JSON, never print
// a secret, a code, a full phone number or an email address, nor anything
// sealed or a device's cookie; neither do the commands that change
// things, on stdout or in their audit events.
func TestNoSecretsPrinted(t *testing.T) {
	eachStore(t, func(t *testing.T, b *backend) {
		k1, k2 := newKey(t, "k1"), newKey(t, "k2")
		a := newApp(t, b, k1)
		secret := a.enrollTOTP("ann")
		a.enrollSMS("ann", "+14155550112")
		a.enrollEmail("ann", "ann.smith@example.com")
		codes := a.backupCodes("ann")
		a.securityKey("ann", "YubiKey 5")
		cookie := a.trustDevice("ann")
		a.wrongAnswers("ann", secret, 10)

		forbidden := []string{
			totp.EncodeSecret(secret), totp.GroupSecret(totp.EncodeSecret(secret)), hex.EncodeToString(secret),
			"+14155550112", "14155550112", "4155550112", "555-0112", "5550112",
			"ann.smith@example.com", "ann.smith",
			cookie, k1.Encode(), k2.Encode(),
			base64.RawURLEncoding.EncodeToString(k1.Secret), base64.RawURLEncoding.EncodeToString(k2.Secret),
		}
		for _, code := range codes {
			forbidden = append(forbidden, code, strings.ReplaceAll(code, "-", ""))
		}
		for _, m := range a.smsBox.Messages() {
			forbidden = append(forbidden, sixDigits.FindString(m.Body))
		}
		for _, m := range a.mailBox.Messages() {
			forbidden = append(forbidden, sixDigits.FindString(m.Text))
		}
		recs, err := b.st.ListEnrollments(ctx, "ann")
		require.NoError(t, err)
		for _, r := range recs {
			for _, m := range sealedRE.FindAll(r.Data, -1) {
				sealed := string(m)
				forbidden = append(forbidden, sealed[strings.LastIndex(sealed, ":")+1:])
			}
		}
		check := func(what string, r result) {
			t.Helper()
			for _, s := range forbidden {
				require.NotContains(t, r.stdout, s, "%s stdout", what)
				require.NotContains(t, r.stderr, s, "%s stderr", what)
			}
		}

		c := newCLI(t, b, k1)
		for _, args := range [][]string{
			{"status", "ann"}, {"status", "ann", "--json"},
			{"devices", "ann"}, {"devices", "ann", "--json"},
		} {
			r := c.run(args...)
			require.Equal(t, 0, r.status, "%v: %s", args, r.stderr)
			check(strings.Join(args, " "), r)
		}
		// A wrong key's error names the key, not its secret.
		wrong := newCLI(t, b, k2).run("status", "ann")
		require.Equal(t, 2, wrong.status)
		check("status with a wrong key", wrong)
		// The commands that change things, and their audit events.
		for _, args := range [][]string{
			{"recovery-code", "ann", "--actor", "alice"},
			{"unlock", "ann", "--actor", "alice", "--json"},
			{"revoke-devices", "ann", "--actor", "alice"},
			{"reset", "ann", "--actor", "alice", "--reason", "lost phone", "--yes", "--rp-id", "example.com"},
		} {
			r := c.run(args...)
			require.Equal(t, 0, r.status, "%v: %s", args, r.stderr)
			check(strings.Join(args, " "), r)
		}
	})
}
