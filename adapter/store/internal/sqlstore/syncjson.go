package sqlstore

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ctibridge/ctibridge/contactpad"
)

// appendSyncJSON appends json.Marshal(s) to b, byte for byte, written
// without reflection: every save of an interaction from a CRM record
// encodes its crm_sync column, about 2% of the engine's CPU time at 200
// agents through encoding/json (docs/benchmarks.md). A field value that
// is not nil, a bool or a string (a number, in practice) is encoded by
// json.Marshal on its own, and a time encoding/json refuses goes to
// json.Marshal whole. TestSyncJSON holds the two to the same bytes.
func appendSyncJSON(b []byte, s *contactpad.RecordSync) ([]byte, error) {
	if s.AcceptedAt != nil && !jsonTime(*s.AcceptedAt) {
		payload, err := json.Marshal(s)
		return append(b, payload...), err
	}
	// Each field is written with the comma before it; the first one's is
	// dropped at the end.
	n0 := len(b)
	var err error
	if len(s.Known) > 0 {
		b = append(b, `,"known":`...)
		if b, err = appendValuesJSON(b, s.Known); err != nil {
			return b, err
		}
	}
	if len(s.Want) > 0 {
		b = append(b, `,"want":`...)
		if b, err = appendValuesJSON(b, s.Want); err != nil {
			return b, err
		}
	}
	if len(s.Dirty) > 0 {
		b = append(b, `,"dirty":`...)
		b = append(b, '[')
		for k, f := range s.Dirty {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f)
		}
		b = append(b, ']')
	}
	if s.Unmatched {
		b = append(b, `,"unmatched":true`...)
	}
	if len(s.Sent) > 0 {
		b = append(b, `,"sent":{`...)
		var space [16]string
		for k, f := range sortedKeys(space[:0], s.Sent) {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f)
			b = append(b, ':')
			vs := s.Sent[f]
			if vs == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '[')
			for n, v := range vs {
				if n > 0 {
					b = append(b, ',')
				}
				if b, err = appendValueJSON(b, v); err != nil {
					return b, err
				}
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	if s.AcceptedAt != nil {
		b = append(b, `,"accepted_at":`...)
		b = appendJSONTime(b, *s.AcceptedAt)
	}
	if len(b) == n0 {
		return append(b, "{}"...), nil
	}
	b[n0] = '{' // the first field's comma
	return append(b, '}'), nil
}

// sortedKeys appends the keys of m to keys, sorted as encoding/json
// writes them.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendValuesJSON appends a map of field values as encoding/json does:
// by key, sorted.
func appendValuesJSON(b []byte, m map[string]any) ([]byte, error) {
	b = append(b, '{')
	var space [16]string
	for k, f := range sortedKeys(space[:0], m) {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f)
		b = append(b, ':')
		var err error
		if b, err = appendValueJSON(b, m[f]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendValueJSON appends one field value: nil, a bool or a string here,
// anything else through json.Marshal.
func appendValueJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendJSONString(b, v), nil
	}
	value, err := json.Marshal(v)
	return append(b, value...), err
}

// parseSyncJSON decodes a crm_sync column into s, which must be zero, as
// json.Unmarshal(b, s) would: every read of an interaction decodes it,
// 2-3% of the bridge's CPU time through encoding/json (docs/benchmarks.md).
// It reads what appendSyncJSON writes: the fields once each, field values
// that are strings, numbers, booleans or null, strings without escapes.
// Anything else (an escape, a nested value, a duplicate, an error) goes to
// json.Unmarshal whole. FuzzParseSyncJSON holds the two to the same result.
func parseSyncJSON(b []byte, s *contactpad.RecordSync) error {
	p := syncParser{b: b}
	if p.sync(s) {
		return nil
	}
	*s = contactpad.RecordSync{}
	return json.Unmarshal(b, s)
}

// syncFields are RecordSync's fields as JSON names them, in the order
// syncParser.sync numbers them.
var syncFields = [...]string{"known", "want", "dirty", "unmatched", "sent", "accepted_at"}

// syncParser reads a crm_sync column's JSON from b at i. Each method
// reports false where the input is not what appendSyncJSON writes.
type syncParser struct {
	b []byte
	i int
}

func (p *syncParser) sync(s *contactpad.RecordSync) bool {
	var seen [len(syncFields)]bool
	first := true
	if !p.byte('{') {
		return false
	}
	for !p.byte('}') {
		if !first && !p.byte(',') {
			return false
		}
		first = false
		key, ok := p.key()
		if !ok {
			return false
		}
		field := slices.Index(syncFields[:], key)
		if field < 0 || seen[field] {
			return false
		}
		seen[field] = true
		switch field {
		case 0:
			ok = p.values(&s.Known)
		case 1:
			ok = p.values(&s.Want)
		case 2:
			ok = p.stringList(&s.Dirty)
		case 3:
			ok = p.bool(&s.Unmatched)
		case 4:
			ok = p.sent(&s.Sent)
		case 5:
			ok = p.timePtr(&s.AcceptedAt)
		}
		if !ok {
			return false
		}
	}
	p.space()
	return p.i == len(p.b)
}

// space skips JSON's white space.
func (p *syncParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte skips white space and then c, reporting whether c was next.
func (p *syncParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// literal skips white space and then lit, reporting whether it was next.
func (p *syncParser) literal(lit string) bool {
	p.space()
	if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
		p.i += len(lit)
		return true
	}
	return false
}

// string reads a string without escapes or control characters, in UTF-8.
func (p *syncParser) string() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	ascii := true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// key reads an object's key and the colon after it.
func (p *syncParser) key() (string, bool) {
	k, ok := p.string()
	return k, ok && p.byte(':')
}

// value reads a field value: a string, a number (as float64), a boolean
// or null.
func (p *syncParser) value() (any, bool) {
	p.space()
	if p.i == len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.string()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, false
}

// number reads a JSON number as encoding/json reads one into an any.
func (p *syncParser) number() (any, bool) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return nil, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	return f, err == nil
}

// values reads an object of field values, or null.
func (p *syncParser) values(m *map[string]any) bool {
	if p.literal("null") {
		return true
	}
	if !p.byte('{') {
		return false
	}
	*m = map[string]any{}
	for first := true; !p.byte('}'); first = false {
		if !first && !p.byte(',') {
			return false
		}
		k, ok := p.key()
		if !ok {
			return false
		}
		if _, dup := (*m)[k]; dup {
			return false
		}
		if (*m)[k], ok = p.value(); !ok {
			return false
		}
	}
	return true
}

// stringList reads an array of strings, or null.
func (p *syncParser) stringList(list *[]string) bool {
	if p.literal("null") {
		return true
	}
	if !p.byte('[') {
		return false
	}
	*list = []string{}
	for first := true; !p.byte(']'); first = false {
		if !first && !p.byte(',') {
			return false
		}
		v, ok := p.string()
		if !ok {
			return false
		}
		*list = append(*list, v)
	}
	return true
}

func (p *syncParser) bool(v *bool) bool {
	switch {
	case p.literal("true"):
		*v = true
	case p.literal("false"):
		*v = false
	default:
		return false // null too: rare enough for json.Unmarshal
	}
	return true
}

// sent reads an object of arrays of field values (or null each), or null.
func (p *syncParser) sent(m *map[string][]any) bool {
	if p.literal("null") {
		return true
	}
	if !p.byte('{') {
		return false
	}
	*m = map[string][]any{}
	for first := true; !p.byte('}'); first = false {
		if !first && !p.byte(',') {
			return false
		}
		k, ok := p.key()
		if !ok {
			return false
		}
		if _, dup := (*m)[k]; dup {
			return false
		}
		if p.literal("null") {
			(*m)[k] = nil
			continue
		}
		if !p.byte('[') {
			return false
		}
		vs := []any{}
		for first := true; !p.byte(']'); first = false {
			if !first && !p.byte(',') {
				return false
			}
			v, ok := p.value()
			if !ok {
				return false
			}
			vs = append(vs, v)
		}
		(*m)[k] = vs
	}
	return true
}

// timePtr reads a time as time.Time's UnmarshalJSON does, or null.
func (p *syncParser) timePtr(t **time.Time) bool {
	if p.literal("null") {
		return true
	}
	p.space()
	start := p.i
	if _, ok := p.string(); !ok {
		return false
	}
	var v time.Time
	if v.UnmarshalJSON(p.b[start:p.i]) != nil {
		return false
	}
	*t = &v
	return true
}
