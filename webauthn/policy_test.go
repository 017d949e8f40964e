package webauthn_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/webauthn"
)

var softkeyAAGUID = "74776f66-6163-746f-722d-736f66746b79"

// The authenticator policy: its lists are checked and normalised in New.
func TestAuthenticatorPolicyConfig(t *testing.T) {
	env := twofactor.Env{Store: store.NewMemory(), Keys: newKeys(t)}
	base := webauthn.Config{RPID: testRPID, RPOrigins: []string{testOrigin}}
	for name, tt := range map[string]struct {
		mod  func(*webauthn.Config)
		want string
	}{
		"allowed malformed": {func(c *webauthn.Config) { c.AllowedAAGUIDs = []string{softkeyAAGUID, "not-a-uuid"} }, `AllowedAAGUIDs[1] "not-a-uuid"`},
		"denied malformed":  {func(c *webauthn.Config) { c.DeniedAAGUIDs = []string{"74776f666163746f722d736f66746b79"} }, `DeniedAAGUIDs[0] "74776f666163746f722d736f66746b79"`},
		"bad digit":         {func(c *webauthn.Config) { c.DeniedAAGUIDs = []string{"74776f66-6163-746f-722d-736f66746k79"} }, "DeniedAAGUIDs[0]"},
		"misplaced hyphen":  {func(c *webauthn.Config) { c.DeniedAAGUIDs = []string{"74776f6-66163-746f-722d-736f66746b79"} }, "DeniedAAGUIDs[0]"},
		"both": {func(c *webauthn.Config) {
			c.AllowedAAGUIDs = []string{softkeyAAGUID}
			c.DeniedAAGUIDs = []string{softkeyAAGUID}
		}, "both set"},
		"allowed nil uuid": {func(c *webauthn.Config) { c.AllowedAAGUIDs = []string{"00000000-0000-0000-0000-000000000000"} }, "nil UUID"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := base
			tt.mod(&cfg)
			_, err := webauthn.New(env, cfg)
			require.ErrorIs(t, err, twofactor.ErrConfig)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	cfg := base
	cfg.AllowedAAGUIDs = []string{" " + strings.ToUpper(softkeyAAGUID) + " "}
	_, err := webauthn.New(env, cfg)
	require.NoError(t, err, "upper case and spaces are normalised")
	cfg = base
	cfg.DeniedAAGUIDs = []string{"00000000-0000-0000-0000-000000000000"}
	_, err = webauthn.New(env, cfg)
	require.NoError(t, err, "a deny list may refuse authenticators that hide their model")
}

// At registration, a refused authenticator gets a typed error that says
// why, matching twofactor.ErrInvalidInput, and leaves its credential id
// free; lists ask for direct attestation, so browsers pass the AAGUID on.
func TestAuthenticatorPolicyRegistration(t *testing.T) {
	other := "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	zero := func(k *softKey) { k.aaguid = [16]byte{} }
	synced := func(k *softKey) { k.flags |= flagBE }
	for _, tt := range []struct {
		name    string
		cfg     func(*webauthn.Config)
		key     func(*softKey)
		want    error
		inError string
	}{
		{"allowed", func(c *webauthn.Config) { c.AllowedAAGUIDs = []string{other, strings.ToUpper(softkeyAAGUID)} }, nil, nil, ""},
		{"not allowed", func(c *webauthn.Config) { c.AllowedAAGUIDs = []string{other} }, nil, webauthn.ErrAuthenticatorNotAllowed, softkeyAAGUID},
		{"zero not allowed", func(c *webauthn.Config) { c.AllowedAAGUIDs = []string{other} }, zero, webauthn.ErrAuthenticatorNotAllowed, "00000000-0000-0000-0000-000000000000"},
		{"denied", func(c *webauthn.Config) { c.DeniedAAGUIDs = []string{softkeyAAGUID} }, nil, webauthn.ErrAuthenticatorNotAllowed, softkeyAAGUID},
		{"not denied", func(c *webauthn.Config) { c.DeniedAAGUIDs = []string{other} }, nil, nil, ""},
		{"zero denied", func(c *webauthn.Config) { c.DeniedAAGUIDs = []string{"00000000-0000-0000-0000-000000000000"} }, zero, webauthn.ErrAuthenticatorNotAllowed, "denied"},
		{"synced refused", func(c *webauthn.Config) { c.RefuseSynced = true }, synced, webauthn.ErrSyncedRefused, "sync"},
		{"device-bound with RefuseSynced", func(c *webauthn.Config) { c.RefuseSynced = true }, nil, nil, ""},
		{"synced allowed by default", func(*webauthn.Config) {}, synced, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, withConfig(tt.cfg))
			for _, passkey := range []bool{false, true} {
				user := fx.user
				if passkey {
					user = bob
				}
				k := newPasskey(t, testRPID, testOrigin)
				if tt.key != nil {
					tt.key(k)
				}
				en, err := fx.f.BeginEnroll(fx.ctx, user, twofactor.EnrollRequest{Label: "k", Passkey: passkey})
				require.NoError(t, err)
				wantAtt := "none"
				if len(fx.cfg.AllowedAAGUIDs)+len(fx.cfg.DeniedAAGUIDs) > 0 {
					wantAtt = "direct"
				}
				assert.Equal(t, wantAtt, parseOptions(t, en.Options).PublicKey.Attestation)
				_, err = fx.f.ConfirmEnroll(fx.ctx, user, string(k.create(t, en.Options)))
				if tt.want == nil {
					require.NoError(t, err)
					continue
				}
				require.ErrorIs(t, err, tt.want)
				require.ErrorIs(t, err, twofactor.ErrInvalidInput)
				assert.NotErrorIs(t, err, twofactor.ErrInvalidCode)
				assert.Contains(t, err.Error(), tt.inError)
				cs, err := fx.f.Credentials(fx.ctx, user)
				require.NoError(t, err)
				assert.Empty(t, cs)

				// The credential id is free: without the policy, the same
				// authenticator registers.
				open := newFixture(t, func(env *twofactor.Env, _ *webauthn.Config) { env.Store, env.Now = fx.st, fx.clk.Now })
				_, err = open.f.ConfirmEnroll(fx.ctx, user, string(k.create(t, open.beginPasskey(user, "k"))))
				require.NoError(t, err)
			}
		})
	}
}

// At login, a credential registered before the policy changed fails: in
// Verify with the typed error, in FinishDiscovery with the one refusal.
func TestAuthenticatorPolicyLogin(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  func(*webauthn.Config)
		key  func(*softKey)
		want error
	}{
		{"not allowed", func(c *webauthn.Config) { c.AllowedAAGUIDs = []string{"cb69481e-8ff7-4039-93ec-0a2729a154a8"} }, nil, webauthn.ErrAuthenticatorNotAllowed},
		{"denied", func(c *webauthn.Config) { c.DeniedAAGUIDs = []string{softkeyAAGUID} }, nil, webauthn.ErrAuthenticatorNotAllowed},
		{"synced", func(c *webauthn.Config) { c.RefuseSynced = true }, func(k *softKey) { k.flags |= flagBE }, webauthn.ErrSyncedRefused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			k := newPasskey(t, testRPID, testOrigin)
			if tt.key != nil {
				tt.key(k)
			}
			fx.registerPasskey(fx.user, k, "phone")
			strict := newFixture(t, func(env *twofactor.Env, c *webauthn.Config) {
				env.Store, env.Now = fx.st, fx.clk.Now
				tt.cfg(c)
			})

			ch := fx.challenge()
			opts, err := strict.f.Start(fx.ctx, ch)
			require.NoError(t, err)
			_, err = strict.f.Verify(fx.ctx, ch, string(k.get(t, opts)))
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, twofactor.ErrInvalidInput)
			assert.True(t, fx.credentials()[0].LastUsedAt.IsZero())

			id, opts := strict.discovery()
			d, err := strict.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts)))
			require.ErrorIs(t, err, twofactor.ErrInvalidCode)
			assert.Equal(t, "webauthn: passkey not accepted", err.Error())
			assert.Empty(t, d.UserID)

			// The factor without the policy still lets it in.
			id, opts = fx.discovery()
			_, err = fx.f.FinishDiscovery(fx.ctx, id, string(k.get(t, opts)))
			require.NoError(t, err)
		})
	}
}
