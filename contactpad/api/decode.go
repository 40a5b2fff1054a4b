package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxNameBytes bounds the fields that name something (an agent, a
// service, a status) or hold a time: no ID, enum value or RFC 3339 time
// is longer, and the refusal of a longer one quotes it.
const maxNameBytes = 255

// decode reads the request's JSON body into v strictly: the body must be
// one JSON object with only known fields, at most Options.MaxBodyBytes, of text
// the CRM can store (checkText). The Content-Type is not checked: "curl -d"
// sends a form type with JSON, and bearer tokens, which browsers never
// send by themselves, rule out cross-site form posts; so do the CSRF token
// and Origin check that a session cookie's state changes need (signin.go).
func decode(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("request body: want a JSON object, got nothing")
	}
	return decodeBytes(body, v)
}

// decodeOptional is decode for bodies that may be empty (all fields optional).
func decodeOptional(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return decodeBytes(body, v)
}

// decodeNone refuses a body on actions that take none, so a client that
// sends fields we would ignore learns it at once.
func decodeNone(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if b := bytes.TrimSpace(body); len(b) > 0 && !bytes.Equal(b, []byte("{}")) {
		return invalid("request body: this action takes no fields")
	}
	return nil
}

// readBody reads the body of every request that may have one, and refuses
// text the CRM cannot take (checkText), whatever the body is decoded into.
// Server.api caps the body at Options.MaxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &apiError{codeTooLarge, fmt.Sprintf("request body: larger than %d bytes (api.max_body_bytes)", tooLarge.Limit)}
	}
	if err != nil {
		return nil, invalid("request body: %v", err)
	}
	if err := checkText(body); err != nil {
		return nil, err
	}
	return body, nil
}

// checkText refuses a body that is not valid UTF-8, or that holds a NUL
// character (the escape \u0000) in any string, key or value, at any depth,
// naming where. encoding/json would turn invalid bytes into U+FFFD without
// a word and keep NULs, which PostgreSQL and Salesforce refuse far from
// the request that sent them: a 500, or a writeback parked for good.
// Refused here, the client learns where.
func checkText(body []byte) error {
	valid := utf8.Valid(body)
	// Only a body with the escape can hold a NUL: a raw NUL byte is a
	// syntax error, which decoding reports.
	if valid && !bytes.Contains(body, []byte(`\u0000`)) {
		return nil
	}
	where, key, what, ok := findBadText(body)
	switch {
	case !ok && valid:
		return nil
	case !ok:
		// Outside any string: not JSON either. Counted from 1, like the
		// byte of a JSON syntax error.
		return invalidText("request body: not valid UTF-8 at byte %d", invalidUTF8At(body)+1)
	case key != "" && where == "":
		return invalidText("request body: key %q: %s", key, what)
	case key != "":
		return invalidText("request body: field %q: key %q: %s", where, key, what)
	case where == "":
		return invalidText("request body: %s", what)
	}
	return invalidText("request body: field %q: %s", where, what)
}

// What findBadText finds wrong with a string.
const (
	hasNUL     = "NUL characters (\\u0000) are not allowed"
	notUTF8Str = "not valid UTF-8"
)

// invalidUTF8At returns the offset of the first byte of b that is not part
// of valid UTF-8, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// findBadText walks the JSON of body in document order to the first string
// that holds a NUL or bytes that are not UTF-8, and says which (what). It
// returns the path of that value (note, target.agent, items[2]), or for
// such a key the path of its object and the key (invalid bytes shown as
// U+FFFD); ok is false when there is none, or when the body is not JSON,
// which decoding reports.
func findBadText(body []byte) (where, key, what string, ok bool) {
	// frame is an open object or array: its path, and the key or index of
	// the value being read in it.
	type frame struct {
		path    string
		object  bool
		key     string
		wantKey bool
		index   int
	}
	var stack []*frame
	// here is the path of the value about to be read.
	here := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if !f.object {
			return f.path + "[" + strconv.Itoa(f.index) + "]"
		}
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
	}
	// done moves the innermost container past the value just read.
	done := func() {
		if len(stack) == 0 {
			return
		}
		if f := stack[len(stack)-1]; f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", "", "", false
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				stack = append(stack, &frame{path: here(), object: tok == '{', wantKey: tok == '{'})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			// The token's bytes, with the ASCII separators before it:
			// encoding/json has replaced any invalid bytes in tok.
			what := ""
			switch {
			case !utf8.Valid(body[from:dec.InputOffset()]):
				what = notUTF8Str
			case strings.ContainsRune(tok, 0):
				what = hasNUL
			}
			if f := len(stack); f > 0 && stack[f-1].object && stack[f-1].wantKey {
				if what != "" {
					return stack[f-1].path, tok, what, true
				}
				stack[f-1].key, stack[f-1].wantKey = tok, false
				continue
			}
			if what != "" {
				return here(), "", what, true
			}
			done()
		default:
			done()
		}
	}
}

// checkURL refuses a request whose path or query parameters, once
// percent-decoded, are not valid UTF-8 or hold a NUL character, naming the
// parameter: the API looks them up in the store, and PostgreSQL answers
// such text with an error rather than a miss.
func checkURL(r *http.Request) error {
	if what := badText(r.URL.Path); what != "" {
		return invalidText("path %q: %s", r.URL.Path, what)
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if what := badText(name); what != "" {
			return invalidText("query parameter name %q: %s", name, what)
		}
		for _, v := range q[name] {
			if what := badText(v); what != "" {
				return invalidText("query parameter %q: %s", name, what)
			}
		}
	}
	return nil
}

// badText says what is wrong with s as text for the CRM, "" if nothing.
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return fmt.Sprintf("not valid UTF-8 at byte %d", invalidUTF8At([]byte(s))+1)
	case strings.ContainsRune(s, 0):
		return "NUL characters are not allowed"
	}
	return ""
}

// checkLen refuses a field value longer than limit bytes; key is the
// config key that sets the limit ("" when it is fixed).
func checkLen(field, v string, limit int, key string) error {
	if len(v) > limit {
		return tooLong(field, len(v), limit, key)
	}
	return nil
}

// checkNames refuses a name or time field longer than maxNameBytes: the
// fields come in pairs of name and value.
func checkNames(fieldValues ...string) error {
	for k := 0; k+1 < len(fieldValues); k += 2 {
		if err := checkLen(fieldValues[k], fieldValues[k+1], maxNameBytes, ""); err != nil {
			return err
		}
	}
	return nil
}

func decodeBytes(body []byte, v any) error {
	// encoding/json takes null for any object and leaves v as it was: an
	// action would run as if it had no body.
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return invalid("request body: want a JSON object, got null")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("request body: more than one JSON value")
	}
	return exactKeys(body, reflect.TypeOf(v))
}

// exactKeys refuses a key of body that names a field of t only when case
// is ignored, as unknown. encoding/json matches keys case-insensitively:
// it would take {"presenCe":"busy"} for "presence", which openapi.json
// refuses, and of {"presence":"busy","Presence":"available"} the last
// would win where a proxy that reads keys as written sees the first.
// body has decoded into t already: only the keys remain to check.
func exactKeys(body []byte, t reflect.Type) error {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return invalid("request body: %s", describeJSONError(err))
	}
	if key := inexactKey(doc, t, ""); key != "" {
		return invalid("request body: unknown field %q", key)
	}
	return nil
}

// inexactKey walks doc as it decoded into t and returns the path of the
// first key (keys in sorted order) that names no field of its struct
// exactly; "" if there is none. Maps, and values of an interface type,
// take every key.
func inexactKey(doc any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	at := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, _ := doc.(map[string]any)
		fields := jsonFields(t)
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			f, ok := fields[key]
			if !ok {
				return at(key)
			}
			if bad := inexactKey(obj[key], f.Type, at(key)); bad != "" {
				return bad
			}
		}
	case reflect.Map:
		obj, _ := doc.(map[string]any)
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			if bad := inexactKey(obj[key], t.Elem(), at(key)); bad != "" {
				return bad
			}
		}
	case reflect.Slice, reflect.Array:
		list, _ := doc.([]any)
		for k, v := range list {
			if bad := inexactKey(v, t.Elem(), path+"["+strconv.Itoa(k)+"]"); bad != "" {
				return bad
			}
		}
	}
	return ""
}

// jsonFields maps the JSON names of a struct's fields, as encoding/json
// spells them (the tag's name, else the field's), to the fields; the
// fields of an untagged embedded struct are the struct's own.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for _, f := range reflect.VisibleFields(t) {
		tag := f.Tag.Get("json")
		embedded := f.Type
		if embedded.Kind() == reflect.Pointer {
			embedded = embedded.Elem()
		}
		if !f.IsExported() || tag == "-" || (f.Anonymous && tag == "" && embedded.Kind() == reflect.Struct) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// describeJSONError says what was wrong with a body, naming the field.
func describeJSONError(err error) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("want a JSON object, got %s", typ.Value)
		}
		return fmt.Sprintf("field %q: want %s, got %s", typ.Field, jsonKind(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	msg := err.Error()
	if field, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + field
	}
	if strings.HasPrefix(msg, "parsing time ") {
		return "invalid time (want RFC 3339, e.g. 2026-11-22T15:04:05Z): " + strings.TrimPrefix(msg, "parsing time ")
	}
	return strings.TrimPrefix(msg, "json: ")
}

func jsonKind(goType string) string {
	switch goType {
	case "time.Time", "*time.Time":
		return "an RFC 3339 time string"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "float64":
		return "a number"
	}
	return goType
}

// parseTime reads an RFC 3339 time field; nil stays nil.
func parseTime(field string, v *string) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	if err := checkNames(field, *v); err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return nil, invalid("field %q: %q is not an RFC 3339 time (e.g. 2026-11-22T15:04:05Z)", field, *v)
	}
	return &t, nil
}
