package webauthn_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/webauthn"
)

func TestAssurance(t *testing.T) {
	as := (&webauthn.Factor{}).Assurance()
	assert.True(t, as.PhishingResistant)
	assert.Equal(t, 2, as.AAL, "no attestation: never AAL3")
	assert.Equal(t, twofactor.ChannelAuthenticator, as.Channel)
}

// Each verification reports its own method references, from the
// assertion's flags: a device-bound key is "hwk", a synced passkey "swk",
// user presence "user", user verification "mfa".
func TestVerifiedAMR(t *testing.T) {
	tests := []struct {
		name  string
		flags byte
		amr   []string
	}{
		{"device-bound, presence", flagUP, []string{"hwk", "user"}},
		{"device-bound, verified", flagUP | flagUV, []string{"hwk", "user", "mfa"}},
		{"synced passkey, verified", flagUP | flagUV | flagBE | flagBS, []string{"swk", "user", "mfa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			svc := newService(t, fx)
			k := newSoftKey(t, testRPID, testOrigin)
			k.flags = tt.flags
			fx.register(k, "key")
			ch, err := svc.StepUpFor(fx.ctx, fx.user, twofactor.Client{}, twofactor.PurposeStepUp, twofactor.Requirement{PhishingResistant: true})
			require.NoError(t, err)
			assert.Equal(t, []twofactor.Method{twofactor.MethodWebAuthn}, ch.Methods)
			opts, err := svc.Start(fx.ctx, ch.ID, twofactor.MethodWebAuthn)
			require.NoError(t, err)
			res, err := svc.Verify(fx.ctx, twofactor.Answer{ChallengeID: ch.ID, Method: twofactor.MethodWebAuthn, Code: string(k.get(t, opts)), Purpose: twofactor.PurposeStepUp})
			require.NoError(t, err)
			assert.Equal(t, tt.amr, res.AMR)
			assert.True(t, res.PhishingResistant)
			assert.Equal(t, 2, res.AAL)
			require.NoError(t, svc.CheckProofFor(fx.ctx, res.Proof, fx.user.ID, twofactor.PurposeStepUp, twofactor.Requirement{PhishingResistant: true}))
		})
	}
}
