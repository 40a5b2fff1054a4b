package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
)

// valueKind is the type of a work item field.
type valueKind int

const (
	kindText valueKind = iota
	kindNumber
	kindTags
)

// valueSpec is one entry of the field map: where a work item field comes
// from (a record field, a template of record fields, or only the default),
// how its values translate, and what happens when it is empty.
type valueSpec struct {
	kind valueKind
	path string
	line int
	// field is the record field, e.g. Priority or Contact.Name.
	field string
	// tmpl is a template over the record's fields.
	tmpl *template.Template
	// values translates record values (as text) to work item values:
	// strings, or ints for kindNumber.
	values map[string]any
	// def is used when the record has no value (or, with values, a value
	// not in values): a string, an int or a []string by kind.
	def        any
	hasDefault bool
	required   bool
	// split separates tags (kindTags).
	split string
}

// raw is the record's value for the spec: the field, the template's
// output, or nil.
func (s *valueSpec) raw(m *Mapping, id string, env, data map[string]any) (any, error) {
	switch {
	case s.field != "":
		return fieldValue(env, s.field), nil
	case s.tmpl != nil:
		out, err := execute(s.tmpl, data)
		if err != nil {
			return nil, m.recordErr(id, s.path, s.line, "template failed: %v", err)
		}
		return out, nil
	}
	return nil, nil
}

// resolve applies the value map and the default to the raw value.
func (s *valueSpec) resolve(m *Mapping, id string, env, data map[string]any) (any, error) {
	v, err := s.raw(m, id, env, data)
	if err != nil {
		return nil, err
	}
	if empty(v) {
		if s.hasDefault {
			return s.def, nil
		}
		if s.required {
			return nil, m.recordErr(id, s.path, s.line, "%s is empty and required", s.source())
		}
		return nil, nil
	}
	if s.values != nil {
		if mapped, ok := s.values[text(v)]; ok {
			return mapped, nil
		}
		if s.hasDefault {
			return s.def, nil
		}
	}
	return v, nil
}

// source names where the value comes from, for messages.
func (s *valueSpec) source() string {
	if s.field != "" {
		return s.field
	}
	return "the template's output"
}

// text returns the spec's value as a string; "" for a nil spec.
func (s *valueSpec) text(m *Mapping, id string, env, data map[string]any) (string, error) {
	if s == nil {
		return "", nil
	}
	v, err := s.resolve(m, id, env, data)
	if err != nil || v == nil {
		return "", err
	}
	return text(v), nil
}

// number returns the spec's value as a whole number; 0 for a nil spec.
func (s *valueSpec) number(m *Mapping, id string, env, data map[string]any) (int, error) {
	if s == nil {
		return 0, nil
	}
	v, err := s.resolve(m, id, env, data)
	if err != nil || v == nil {
		return 0, err
	}
	n, ok := wholeNumber(v)
	if !ok {
		return 0, m.recordErr(id, s.path, s.line, "%s value %q is not in values and not a whole number", s.source(), text(v))
	}
	return n, nil
}

// list returns the spec's value as tags: the text split at the separator,
// each tag trimmed and translated by the value map, empty ones dropped.
func (s *valueSpec) list(m *Mapping, id string, env, data map[string]any) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	v, err := s.raw(m, id, env, data)
	if err != nil {
		return nil, err
	}
	var tags []string
	if !empty(v) {
		for _, tag := range strings.Split(text(v), s.split) {
			if tag = strings.TrimSpace(tag); tag == "" {
				continue
			}
			if mapped, ok := s.values[tag]; ok {
				tag = text(mapped)
			}
			if tag != "" {
				tags = append(tags, tag)
			}
		}
	}
	if len(tags) > 0 {
		return tags, nil
	}
	if s.hasDefault {
		return append([]string(nil), s.def.([]string)...), nil
	}
	if s.required {
		return nil, m.recordErr(id, s.path, s.line, "%s is empty and required", s.source())
	}
	return nil, nil
}

// fieldValue returns the value at a dotted path of env; nil when missing.
func fieldValue(env map[string]any, path string) any {
	var v any = env
	for _, seg := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v, _ = lookup(m, seg)
	}
	return v
}

// empty reports whether a record value counts as no value.
func empty(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && s == ""
}

// text formats a record value as the text a value map matches: numbers
// without exponent or trailing zeros, booleans as true and false.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case json.Number:
		return v.String()
	}
	return fmt.Sprint(v)
}

// wholeNumber converts a number, or text that is one, to an int.
func wholeNumber(v any) (int, bool) {
	var f float64
	switch v := v.(type) {
	case int:
		return v, true
	case int64:
		f = float64(v)
	case int32:
		return int(v), true
	case float64:
		f = v
	case json.Number:
		return wholeNumber(v.String())
	case string:
		s := strings.TrimSpace(v)
		if n, err := strconv.Atoi(s); err == nil {
			return n, true
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}
