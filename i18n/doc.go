// Package i18n holds the texts of the library in several languages: the
// pages and JSON messages of twofactorhttp, the emails of emailcode, the
// text messages of smscode and the notifications of notify, in one
// format.
//
// A [Catalog] maps each language to its messages, by key ("page.Verify",
// "email.Subject", "notify.Kinds.lockout.Subject"). A message is a string
// with fmt placeholders (%s, %d; %[2]s to change their order), a
// [Plural] whose form the language's Unicode CLDR plural rules choose, or
// a list (the month names of [Dates]). [Default] is the catalogue the
// library ships: English, German, French, Spanish, Brazilian Portuguese,
// Japanese and Arabic, the last laid out right to left.
//
// English is the reference. Every other language must keep each of its
// keys' kind and placeholders, and give each plural the categories its
// rules use; [Catalog.Check] says where one does not, and the shipped
// files are checked by this package's tests. A language may leave keys
// out: a lookup falls back to its parent language in the catalogue
// ("de-CH" to "de"), then to English, and [Catalog.Missing] lists what a
// translation still lacks.
//
// A host changes a few strings, or adds a language, without copying the
// rest:
//
//	cat, err := i18n.Default().With(language.German, i18n.Messages{
//		"page.TitleLogin": "Anmeldung bestätigen",
//	})
//
// and gives cat to twofactorhttp.Config.Languages and the factors'
// Languages. A host's own keys go to English first, then to the other
// languages, so a host's pages may keep their texts in the same
// catalogue. A file in the shipped format ([File], JSON) is added with
// [ParseFile] and [Catalog.Add].
//
// Which language speaks: twofactorhttp serves each request in the
// language its Config.Language chooses, else the request's
// Accept-Language ([Catalog.MatchHeader], by golang.org/x/text/language's
// matching), and marks it in the request's context ([WithLanguage]). The
// Service's messages sent while serving that request follow it; a
// message sent outside one follows twofactor.User.Language, else English
// ([Catalog.MessageLanguage]).
package i18n
