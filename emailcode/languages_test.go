package emailcode_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/i18n"
)

// A code's email speaks the language of the request that sends it; a
// Service called without one uses the user's language, which the
// challenge keeps from Begin to Send; else English.
func TestMessageLanguage(t *testing.T) {
	fx := newFixture(t, nil)
	svc := fx.service(t)
	cat := i18n.Default()
	send := func(ctx context.Context, u twofactor.User) emailcode.Message {
		t.Helper()
		fx.outbox.Reset()
		b, err := svc.Begin(ctx, u, client)
		require.NoError(t, err)
		_, err = svc.Send(ctx, b.Challenge.ID, twofactor.MethodEmail, client)
		require.NoError(t, err)
		m, ok := fx.outbox.Last(u.Email)
		require.True(t, ok)
		return m
	}
	ja := alice
	ja.Language = "ja"
	m := send(context.Background(), ja)
	assert.Equal(t, "【Acme】確認コードのお知らせ", m.Subject)
	assert.Contains(t, m.HTML, `<html lang="ja" dir="ltr">`)

	m = send(i18n.WithLanguage(context.Background(), language.German), ja)
	assert.Contains(t, m.Subject, "Acme")
	assert.Contains(t, m.Text, cat.String(language.German, "email.NeverShare"), "the request's language over the user's")

	m = send(i18n.WithLanguage(context.Background(), language.Arabic), alice)
	assert.Contains(t, m.HTML, `<html lang="ar" dir="rtl">`)
	assert.Contains(t, m.HTML, `<p dir="ltr"`, "the code keeps its order")

	m = send(context.Background(), alice)
	assert.Equal(t, "Your Acme verification code", m.Subject)
	assert.Contains(t, m.Text, "It expires in 15 minutes.")
}
