package twofactorhttp

import (
	"cmp"
	"context"
	"net/http"

	"golang.org/x/text/language"

	"github.com/twofactorkit/twofactor/i18n"
)

// langs are the texts of every language a request may be served in.
type langs struct {
	cat    *i18n.Catalog
	by     map[language.Tag]*Strings
	fixed  *Strings                         // Config.Strings: every request
	choose func(*http.Request) language.Tag // Config.Language
	first  *Strings                         // the catalogue's first language: English
}

func (h *Handler) setLanguages(cfg Config) error {
	l := &langs{cat: cmp.Or(cfg.Languages, i18n.Default()), by: map[language.Tag]*Strings{}, choose: cfg.Language}
	for _, tag := range l.cat.Languages() {
		s, err := StringsFor(l.cat, tag)
		if err != nil {
			return err
		}
		l.by[tag] = s
		if l.first == nil {
			l.first = s
		}
	}
	if l.first == nil {
		return configErr("Config.Languages has no language")
	}
	if cfg.Strings != nil {
		s, err := cfg.Strings.complete(l.cat)
		if err != nil {
			return err
		}
		l.fixed = s
	}
	h.langs = l
	return nil
}

// tag returns the language r is served in.
func (l *langs) tag(r *http.Request) language.Tag {
	switch {
	case l.fixed != nil:
		return l.fixed.tag
	case l.choose != nil:
		return l.cat.Match(l.choose(r))
	}
	return l.cat.MatchRequest(r)
}

// strings returns the texts of tag.
func (l *langs) strings(tag language.Tag) *Strings {
	if l.fixed != nil {
		return l.fixed
	}
	if s := l.by[tag]; s != nil {
		return s
	}
	if s := l.by[l.cat.Match(tag)]; s != nil {
		return s
	}
	return l.first
}

// tr returns the texts r is served in: those of the language its context
// carries (set by localize as the request entered the layer), else
// chosen now.
func (h *Handler) tr(r *http.Request) *Strings {
	if s, ok := h.fromContext(r.Context()); ok {
		return s
	}
	return h.langs.strings(h.langs.tag(r))
}

// trc returns the texts of the request whose context is ctx, once
// localize or localizeAdmin saw it; English for a context that did not
// come through them.
func (h *Handler) trc(ctx context.Context) *Strings {
	if s, ok := h.fromContext(ctx); ok {
		return s
	}
	return h.langs.strings(h.langs.cat.Match())
}

func (h *Handler) fromContext(ctx context.Context) (*Strings, bool) {
	if h.langs.fixed != nil {
		return h.langs.fixed, true
	}
	if tag, ok := i18n.FromContext(ctx); ok {
		return h.langs.strings(tag), true
	}
	if tag, ok := ctx.Value(adminLangKey{}).(language.Tag); ok {
		return h.langs.strings(tag), true
	}
	return nil, false
}

// adminLangKey holds the administrator's language: the pages follow it,
// the messages the Service sends to the user they act on do not.
type adminLangKey struct{}

// localizeAdmin serves next with the administrator's language in its
// context for the pages only.
func (h *Handler) localizeAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminLangKey{}, h.langs.tag(r))))
	})
}

// localize serves next with the request's language in its context, so
// that the pages and the Service's messages (email and SMS codes,
// notifications) sent while serving it speak it.
func (h *Handler) localize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, h.withLanguage(r))
	})
}

// withLanguage returns r with its language in its context (r itself when
// it has it already): the entry of each route, and of Begin, which the
// host calls from its own login route.
func (h *Handler) withLanguage(r *http.Request) *http.Request {
	tag := h.langs.tag(r)
	if cur, ok := i18n.FromContext(r.Context()); ok && cur == tag {
		return r
	}
	return r.WithContext(i18n.WithLanguage(r.Context(), tag))
}
