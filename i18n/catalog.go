package i18n

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/language"
)

// ErrCatalog is wrapped by every error of a catalogue that does not
// parse or does not fit: a value of the wrong kind, an unknown key, a
// lost placeholder.
var ErrCatalog = errors.New("i18n: bad catalogue")

// Messages are one language's texts by key. A value is a string, a
// Plural, or a []string (a list, such as the month names).
type Messages map[string]any

// File is the form of a catalogue file: a language, its writing
// direction and its messages. In JSON a Plural is an object whose
// members are its categories ({"one": "1 day", "other": "%d days"}) and
// a list an array of strings.
type File struct {
	Language  string `json:"language"`  // a BCP 47 tag: "pt-BR"
	Direction string `json:"direction"` // "ltr" or "rtl"; empty is "ltr"
	// Maps, in the English file, are the prefixes of keys that name
	// entries of a map ("page.Methods"): a language may add entries
	// under them that English lacks (a host's own method).
	Maps     []string `json:"maps,omitempty"`
	Messages Messages `json:"messages"`
}

// A Catalog holds the texts of several languages, English among them.
// Looking up a key a language lacks falls back to its parent language in
// the catalogue (pt-PT to pt), then to English, so a language may be
// added in part. A Catalog is immutable and safe for concurrent use;
// With and Add return new ones.
type Catalog struct {
	langs   map[language.Tag]*lang
	maps    []string
	tags    []language.Tag // English first, then sorted
	matcher language.Matcher
}

type lang struct {
	tag  language.Tag
	dir  string
	msgs Messages
}

//go:embed locales/*.json
var locales embed.FS

var builtin = sync.OnceValue(func() *Catalog {
	entries, err := locales.ReadDir("locales")
	if err != nil {
		panic(err)
	}
	c := &Catalog{langs: map[language.Tag]*lang{}}
	for _, e := range entries {
		data, err := locales.ReadFile(path.Join("locales", e.Name()))
		if err != nil {
			panic(err)
		}
		f, err := ParseFile(data)
		if err != nil {
			panic(fmt.Sprintf("i18n: locales/%s: %v", e.Name(), err))
		}
		if c, err = c.add(f, false); err != nil {
			panic(fmt.Sprintf("i18n: locales/%s: %v", e.Name(), err))
		}
	}
	return c
})

// Default returns the catalogue the library ships: English, German,
// French, Spanish, Brazilian Portuguese, Japanese and Arabic.
func Default() *Catalog { return builtin() }

// ParseFile parses a catalogue file (see File). Unknown fields are
// refused, as are values that are neither a string, a Plural nor a list.
func ParseFile(data []byte) (File, error) {
	var raw struct {
		Language  string                     `json:"language"`
		Direction string                     `json:"direction"`
		Maps      []string                   `json:"maps"`
		Messages  map[string]json.RawMessage `json:"messages"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return File{}, fmt.Errorf("%w: %v", ErrCatalog, err)
	}
	f := File{Language: raw.Language, Direction: raw.Direction, Maps: raw.Maps, Messages: make(Messages, len(raw.Messages))}
	for k, v := range raw.Messages {
		val, err := decodeValue(v)
		if err != nil {
			return File{}, fmt.Errorf("%w: %s: %v", ErrCatalog, k, err)
		}
		f.Messages[k] = val
	}
	return f, nil
}

func decodeValue(v json.RawMessage) (any, error) {
	switch t := bytes.TrimSpace(v); {
	case len(t) > 0 && t[0] == '"':
		var s string
		err := json.Unmarshal(t, &s)
		return s, err
	case len(t) > 0 && t[0] == '[':
		var l []string
		err := json.Unmarshal(t, &l)
		return l, err
	case len(t) > 0 && t[0] == '{':
		var p Plural
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, err
		}
		if p.Other == "" {
			return nil, errors.New(`a plural needs its "other" form`)
		}
		return p, nil
	}
	return nil, errors.New("a value must be a string, a list of strings or a plural object")
}

// Add returns a catalogue with f's language added, or, when the
// catalogue has that language, with f's messages replacing its own. The
// keys must be keys English has, with values of the same kind and the
// same placeholders (see Check).
func (c *Catalog) Add(f File) (*Catalog, error) { return c.add(f, true) }

// With returns a catalogue with msgs added to, or replacing the texts
// of, language tag: the way to change a few strings, or to add a
// language, without copying the rest. New keys are added to English
// first: a host's own pages may keep their texts in the same catalogue.
func (c *Catalog) With(tag language.Tag, msgs Messages) (*Catalog, error) {
	f := File{Language: tag.String(), Messages: msgs}
	if l, ok := c.langs[tag]; ok {
		f.Direction = l.dir
	}
	return c.add(f, true)
}

func (c *Catalog) add(f File, check bool) (*Catalog, error) {
	tag, err := language.Parse(f.Language)
	if err != nil || f.Language == "" {
		return nil, fmt.Errorf("%w: language %q is not a BCP 47 tag", ErrCatalog, f.Language)
	}
	dir := f.Direction
	switch dir {
	case "", "ltr", "rtl":
	default:
		return nil, fmt.Errorf("%w: direction %q is neither ltr nor rtl", ErrCatalog, dir)
	}
	n := &Catalog{langs: maps.Clone(c.langs), maps: append(slices.Clone(c.maps), f.Maps...)}
	l := &lang{tag: tag, dir: cmpOr(dir, "ltr"), msgs: Messages{}}
	if old, ok := c.langs[tag]; ok {
		l.msgs = maps.Clone(old.msgs)
		l.dir = cmpOr(dir, old.dir)
	}
	maps.Copy(l.msgs, f.Messages)
	n.langs[tag] = l
	n.index()
	if check {
		if err := c.checkLang(tag, f.Messages); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *Catalog) index() {
	c.tags = c.tags[:0]
	for t := range c.langs {
		if t != language.English {
			c.tags = append(c.tags, t)
		}
	}
	sort.Slice(c.tags, func(i, j int) bool { return c.tags[i].String() < c.tags[j].String() })
	if _, ok := c.langs[language.English]; ok {
		c.tags = append([]language.Tag{language.English}, c.tags...)
	}
	c.matcher = language.NewMatcher(c.tags)
}

// Languages returns the catalogue's languages, English first.
func (c *Catalog) Languages() []language.Tag { return slices.Clone(c.tags) }

// Direction returns "rtl" for a language written right to left, else
// "ltr".
func (c *Catalog) Direction(tag language.Tag) string {
	if l := c.langs[c.Match(tag)]; l != nil {
		return l.dir
	}
	return "ltr"
}

// Match returns the catalogue's language that best serves a reader of
// the given languages, in order of preference, by the CLDR matching
// rules of golang.org/x/text/language: "de-AT" is served German, "pt"
// and "pt-PT" Brazilian Portuguese when it is the only Portuguese, a
// language the catalogue lacks English.
func (c *Catalog) Match(prefs ...language.Tag) language.Tag {
	if len(c.tags) == 0 {
		return language.English
	}
	_, i, conf := c.matcher.Match(prefs...)
	if conf == language.No {
		return c.tags[0]
	}
	return c.tags[i]
}

// MatchHeader returns the language that best serves an Accept-Language
// header (RFC 9110 section 12.5.4), with its quality values. A header
// that does not parse is served English.
func (c *Catalog) MatchHeader(acceptLanguage string) language.Tag {
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return c.Match()
	}
	return c.Match(prefs...)
}

// MatchRequest returns the language for r: the one its context carries
// (WithLanguage), else its Accept-Language header's.
func (c *Catalog) MatchRequest(r *http.Request) language.Tag {
	if t, ok := FromContext(r.Context()); ok {
		return c.Match(t)
	}
	return c.MatchHeader(r.Header.Get("Accept-Language"))
}

// chain returns the languages a lookup in tag tries, in order: tag, its
// parents in the catalogue, English.
func (c *Catalog) chain(tag language.Tag) []*lang {
	var out []*lang
	seen := map[language.Tag]bool{}
	for t := tag; ; t = t.Parent() {
		if l := c.langs[t]; l != nil && !seen[t] {
			out = append(out, l)
			seen[t] = true
		}
		if t.IsRoot() {
			break
		}
	}
	if l := c.langs[language.English]; l != nil && !seen[language.English] {
		out = append(out, l)
	}
	return out
}

// Lookup returns the value of key in tag, falling back as the catalogue
// does.
func (c *Catalog) Lookup(tag language.Tag, key string) (any, bool) {
	for _, l := range c.chain(tag) {
		if v, ok := l.msgs[key]; ok {
			return v, true
		}
	}
	return nil, false
}

// String returns the string value of key in tag, or "" when there is
// none.
func (c *Catalog) String(tag language.Tag, key string) string {
	v, _ := c.Lookup(tag, key)
	s, _ := v.(string)
	return s
}

// Keys returns the keys tag sets itself, sorted, without those it takes
// from another language; with prefixes, only those that start with one
// of them ("page.", or "Months" for the month names).
func (c *Catalog) Keys(tag language.Tag, prefixes ...string) []string {
	l := c.langs[tag]
	if l == nil {
		return nil
	}
	var out []string
	for k := range l.msgs {
		if len(prefixes) == 0 || slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Missing returns the keys English has and tag does not set itself:
// what a translation still lacks.
func (c *Catalog) Missing(tag language.Tag) []string {
	l, en := c.langs[tag], c.langs[language.English]
	if l == nil || en == nil {
		return nil
	}
	var out []string
	for k := range en.msgs {
		if _, ok := l.msgs[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Check reports the first key of tag that English lacks, that holds a
// value of another kind than English's, or whose placeholders (%s, %d,
// %q, %%, {name}) differ from English's; and a Plural that lacks a
// category tag's plural rules use.
func (c *Catalog) Check(tag language.Tag) error {
	l := c.langs[tag]
	if l == nil {
		return fmt.Errorf("%w: no language %s", ErrCatalog, tag)
	}
	if tag == language.English {
		return nil
	}
	return c.checkLang(tag, l.msgs)
}

// checkLang checks msgs, to be set in tag, against c's English.
func (c *Catalog) checkLang(tag language.Tag, msgs Messages) error {
	en := c.langs[language.English]
	if en == nil {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(msgs)) {
		v := msgs[k]
		ref, ok := en.msgs[k]
		if !ok {
			// English defines the keys: a host adds its own there first
			// ("app.Home"), then in other languages.
			if tag == language.English || c.mapEntry(en, k) {
				continue
			}
			return fmt.Errorf("%w: %s: %s is not a key", ErrCatalog, tag, k)
		}
		if err := sameShape(tag, ref, v); err != nil {
			return fmt.Errorf("%w: %s: %s: %v", ErrCatalog, tag, k, err)
		}
	}
	return nil
}

// mapEntry reports whether k is an entry of one of the maps English has
// ("page.Methods.mine.Name" beside "page.Methods.totp.Name").
func (c *Catalog) mapEntry(en *lang, k string) bool {
	for _, p := range c.maps {
		rest, ok := strings.CutPrefix(k, p+".")
		if !ok || rest == "" {
			continue
		}
		_, field, nested := strings.Cut(rest, ".")
		for ek := range en.msgs {
			erest, ok := strings.CutPrefix(ek, p+".")
			if !ok {
				continue
			}
			_, efield, enested := strings.Cut(erest, ".")
			if nested == enested && field == efield {
				return true
			}
		}
	}
	return false
}

func sameShape(tag language.Tag, ref, v any) error {
	switch r := ref.(type) {
	case string:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string, have %T", v)
		}
		return samePlaceholders(r, s)
	case []string:
		l, ok := v.([]string)
		if !ok {
			return fmt.Errorf("want a list, have %T", v)
		}
		if len(l) != len(r) {
			return fmt.Errorf("want %d items, have %d", len(r), len(l))
		}
		for i := range l {
			if l[i] == "" {
				return fmt.Errorf("item %d is empty", i+1)
			}
		}
	case Plural:
		p, ok := v.(Plural)
		if !ok {
			return fmt.Errorf("want a plural, have %T", v)
		}
		want := strings.Join(placeholders(r.Other), " ")
		forms := p.forms()
		for _, cat := range Categories(tag) {
			f, ok := forms[cat]
			if !ok {
				return fmt.Errorf("the plural lacks its %q form", cat)
			}
			// A form may leave the count out ("a day", "كل يوم"), but no
			// other placeholder.
			got := placeholders(f)
			if len(got) > 0 && strings.Join(got, " ") != want {
				return fmt.Errorf("form %q has placeholders %v, English %v", cat, got, placeholders(r.Other))
			}
		}
	}
	return nil
}

func samePlaceholders(ref, s string) error {
	a, b := placeholders(ref), placeholders(s)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		return fmt.Errorf("placeholders %v, English has %v", b, a)
	}
	return nil
}

// placeholders returns the fmt verbs (%s, %d, %q, %%) and the {name}
// fields of s, in order.
func placeholders(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			j := i + 1
			if j < len(s) && s[j] == '[' {
				if k := strings.IndexByte(s[j:], ']'); k > 0 {
					j += k + 1
				}
			}
			if j < len(s) {
				out = append(out, "%"+s[j:j+1])
				i = j
			}
		case '{':
			if j := strings.IndexByte(s[i:], '}'); j > 1 && !strings.ContainsAny(s[i+1:i+j], " {") {
				out = append(out, s[i:i+j+1])
				i += j
			}
		}
	}
	return out
}

// MessageLanguage returns the language of a message sent to a user:
// the language ctx carries (the user's own request, which
// i18n.WithLanguage marked), else userLang (twofactor.User.Language,
// a BCP 47 tag), else English, each served by the catalogue's closest.
func (c *Catalog) MessageLanguage(ctx context.Context, userLang string) language.Tag {
	if t, ok := FromContext(ctx); ok {
		return c.Match(t)
	}
	if userLang != "" {
		if t, err := language.Parse(userLang); err == nil {
			return c.Match(t)
		}
	}
	return c.Match()
}

type ctxKey struct{}

// WithLanguage returns ctx carrying tag: the language of the messages a
// Service sends while serving ctx (email and SMS codes, notifications),
// and of pages when a handler finds it there.
func WithLanguage(ctx context.Context, tag language.Tag) context.Context {
	return context.WithValue(ctx, ctxKey{}, tag)
}

// FromContext returns the language ctx carries, if any.
func FromContext(ctx context.Context) (language.Tag, bool) {
	t, ok := ctx.Value(ctxKey{}).(language.Tag)
	return t, ok
}
