package i18n

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

var (
	pluralType = reflect.TypeFor[Plural]()
	listType   = reflect.TypeFor[[]string]()
)

// Fill sets the fields of the struct dst points to from the texts of
// tag, looking each up under prefix followed by the field's name: a
// string field under "page.Verify", a Plural or []string field the same
// way, a nested struct's fields under "page.Settings.Title", and a map
// whose keys are strings and whose values are strings or structs under
// "page.Methods.totp.Name" (one entry per key the catalogue has). A
// field tagged `i18n:"-"` is left alone; one tagged `i18n:"/Months"` is
// looked up under that key, without the prefix. A field whose key the
// catalogue lacks keeps its value.
//
// The packages of the library fill their Strings this way; a host's own
// pages may do the same with their own keys.
func (c *Catalog) Fill(tag language.Tag, prefix string, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%w: Fill needs a pointer to a struct, not %T", ErrCatalog, dst)
	}
	return c.fillStruct(tag, prefix, v.Elem())
}

func fieldKey(prefix string, f reflect.StructField) (string, bool) {
	t := f.Tag.Get("i18n")
	switch {
	case !f.IsExported() || t == "-":
		return "", false
	case strings.HasPrefix(t, "/"):
		return t[1:], true
	}
	return prefix + f.Name, true
}

func (c *Catalog) fillStruct(tag language.Tag, prefix string, v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		key, ok := fieldKey(prefix, t.Field(i))
		if !ok {
			continue
		}
		if err := c.fillValue(tag, key, v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Catalog) fillValue(tag language.Tag, key string, f reflect.Value) error {
	switch {
	case f.Kind() == reflect.String || f.Type() == pluralType || f.Type() == listType:
		val, ok := c.Lookup(tag, key)
		if !ok {
			return nil
		}
		rv := reflect.ValueOf(val)
		if f.Kind() == reflect.String && rv.Kind() == reflect.String {
			f.SetString(rv.String())
			return nil
		}
		if !rv.Type().AssignableTo(f.Type()) {
			return fmt.Errorf("%w: %s holds a %T where a %s is wanted", ErrCatalog, key, val, f.Type())
		}
		if l, ok := val.([]string); ok {
			rv = reflect.ValueOf(slices.Clone(l))
		}
		f.Set(rv)
	case f.Kind() == reflect.Struct:
		return c.fillStruct(tag, key+".", f)
	case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String:
		return c.fillMap(tag, key+".", f)
	}
	return nil
}

// fillMap fills a map from the keys under prefix: "prefix.<map key>" for
// a map of strings, "prefix.<map key>.<field>" for a map of structs.
func (c *Catalog) fillMap(tag language.Tag, prefix string, m reflect.Value) error {
	kt, vt := m.Type().Key(), m.Type().Elem()
	names := map[string]bool{}
	for _, l := range c.chain(tag) {
		for k := range l.msgs {
			rest, ok := strings.CutPrefix(k, prefix)
			if !ok {
				continue
			}
			if vt.Kind() == reflect.Struct {
				rest, _, ok = strings.Cut(rest, ".")
				if !ok {
					continue
				}
			}
			names[rest] = true
		}
	}
	if len(names) == 0 {
		return nil
	}
	if m.IsNil() {
		m.Set(reflect.MakeMap(m.Type()))
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		mk := reflect.New(kt).Elem()
		mk.SetString(name)
		ev := reflect.New(vt).Elem()
		if old := m.MapIndex(mk); old.IsValid() {
			ev.Set(old)
		}
		var err error
		if vt.Kind() == reflect.Struct {
			err = c.fillStruct(tag, prefix+name+".", ev)
		} else {
			err = c.fillValue(tag, prefix+name, ev)
		}
		if err != nil {
			return err
		}
		m.SetMapIndex(mk, ev)
	}
	return nil
}

// Extract returns the texts of the struct src points to (or holds) as
// Messages under prefix, the inverse of Fill: a host with a table of
// strings written for an earlier release turns it into a language of a
// catalogue with Extract and With. Empty strings are left out.
func Extract(prefix string, src any) Messages {
	out := Messages{}
	v := reflect.Indirect(reflect.ValueOf(src))
	if v.Kind() == reflect.Struct {
		extractStruct(out, prefix, v)
	}
	return out
}

func extractStruct(out Messages, prefix string, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		key, ok := fieldKey(prefix, t.Field(i))
		if ok {
			extractValue(out, key, v.Field(i))
		}
	}
}

func extractValue(out Messages, key string, f reflect.Value) {
	switch {
	case f.Kind() == reflect.String:
		if s := f.String(); s != "" {
			out[key] = s
		}
	case f.Type() == pluralType:
		if p := f.Interface().(Plural); p.Other != "" {
			out[key] = p
		}
	case f.Type() == listType:
		if l := f.Interface().([]string); len(l) > 0 {
			out[key] = slices.Clone(l)
		}
	case f.Kind() == reflect.Struct:
		extractStruct(out, key+".", f)
	case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String:
		for _, mk := range f.MapKeys() {
			extractValue(out, key+"."+mk.String(), f.MapIndex(mk))
		}
	}
}
