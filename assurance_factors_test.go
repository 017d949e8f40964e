package twofactor_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/smscode"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/webauthn"
)

// What each of the library's factors claims, as the package documentation
// reasons it: RFC 8176 values, channels, NIST SP 800-63B levels.
func TestFactorAssurance(t *testing.T) {
	tests := []struct {
		f    twofactor.Assurer
		want twofactor.Assurance
	}{
		{&totp.Factor{}, twofactor.Assurance{AMR: []string{"otp"}, Channel: twofactor.ChannelApp, AAL: 2}},
		{&emailcode.Factor{}, twofactor.Assurance{AMR: []string{"otp"}, Channel: twofactor.ChannelEmail, AAL: 1}},
		{&smscode.Factor{}, twofactor.Assurance{AMR: []string{"sms"}, Channel: twofactor.ChannelPhone, AAL: 2}},
		{&backupcodes.Factor{}, twofactor.Assurance{AMR: []string{"otp"}, AAL: 2}},
		{&webauthn.Factor{}, twofactor.Assurance{AMR: []string{"swk"}, Channel: twofactor.ChannelAuthenticator, PhishingResistant: true, AAL: 2}},
	}
	for _, tt := range tests {
		t.Run(string(tt.f.Method()), func(t *testing.T) {
			assert.Equal(t, tt.want, tt.f.Assurance())
		})
	}
}
