package main

import (
	"net/http"

	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor/i18n"
)

// appTexts are the app's own words on the library's pages (its bar),
// added to the library's catalogue: English first, which defines the
// keys, then each language the library ships.
var appTexts = map[language.Tag]i18n.Messages{
	language.English: {"app.Home": "Home", "app.Security": "Security", "app.Admin": "Admin", "app.Outbox": "Outbox",
		"app.SignOut": "Sign out", "app.Main": "Main"},
	language.German: {"app.Home": "Start", "app.Security": "Sicherheit", "app.Admin": "Verwaltung", "app.Outbox": "Postausgang",
		"app.SignOut": "Abmelden", "app.Main": "Hauptmenü"},
	language.French: {"app.Home": "Accueil", "app.Security": "Sécurité", "app.Admin": "Administration", "app.Outbox": "Messages envoyés",
		"app.SignOut": "Se déconnecter", "app.Main": "Menu principal"},
	language.Spanish: {"app.Home": "Inicio", "app.Security": "Seguridad", "app.Admin": "Administración", "app.Outbox": "Bandeja de salida",
		"app.SignOut": "Cerrar sesión", "app.Main": "Menú principal"},
	language.BrazilianPortuguese: {"app.Home": "Início", "app.Security": "Segurança", "app.Admin": "Administração", "app.Outbox": "Caixa de saída",
		"app.SignOut": "Sair", "app.Main": "Menu principal"},
	language.Japanese: {"app.Home": "ホーム", "app.Security": "セキュリティ", "app.Admin": "管理", "app.Outbox": "送信済み",
		"app.SignOut": "ログアウト", "app.Main": "メインメニュー"},
	language.Arabic: {"app.Home": "الرئيسية", "app.Security": "الأمان", "app.Admin": "الإدارة", "app.Outbox": "الصادر",
		"app.SignOut": "تسجيل الخروج", "app.Main": "القائمة الرئيسية"},
}

// nav is the bar's words in one language.
type nav struct {
	Home, Security, Admin, Outbox, SignOut, Main string
}

// languages are the library's catalogue with the app's words, and the
// bar's words by language.
type languages struct {
	cat *i18n.Catalog
	nav map[language.Tag]*nav
}

func newLanguages() (*languages, error) {
	cat, err := i18n.Default().With(language.English, appTexts[language.English])
	if err != nil {
		return nil, err
	}
	for tag, msgs := range appTexts {
		if cat, err = cat.With(tag, msgs); err != nil {
			return nil, err
		}
	}
	l := &languages{cat: cat, nav: map[language.Tag]*nav{}}
	for _, tag := range cat.Languages() {
		n := &nav{}
		if err := cat.Fill(tag, "app.", n); err != nil {
			return nil, err
		}
		l.nav[tag] = n
	}
	return l, nil
}

// navFor returns the bar's words in the language the library chose for
// r (it marks the request's context), else English.
func (l *languages) navFor(r *http.Request) *nav {
	tag, _ := i18n.FromContext(r.Context())
	if n := l.nav[l.cat.Match(tag)]; n != nil {
		return n
	}
	return l.nav[language.English]
}
