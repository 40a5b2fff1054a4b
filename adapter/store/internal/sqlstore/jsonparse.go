package sqlstore

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonParser reads JSON from b at i, strictly and only the shapes the
// store's own encoders write (appendSyncJSON, appendEventJSON): strings
// without escapes, numbers, booleans, null, flat objects and arrays of
// them. Each method reports false where the input is anything else, and
// the caller then hands the whole input to encoding/json, whose result,
// and whose error, is the one that counts. What it does read, it reads as
// encoding/json would.
type jsonParser struct {
	b []byte
	i int
}

// space skips JSON's white space.
func (p *jsonParser) space() {
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
func (p *jsonParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// literal skips white space and then lit, reporting whether it was next.
func (p *jsonParser) literal(lit string) bool {
	p.space()
	if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
		p.i += len(lit)
		return true
	}
	return false
}

// string reads a string without escapes or control characters, in UTF-8.
func (p *jsonParser) string() (string, bool) {
	b, ok := p.stringBytes()
	return string(b), ok
}

// stringBytes reads a string as string does, returning its bytes in b.
func (p *jsonParser) stringBytes() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	ascii := true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// key reads an object's key, as bytes of b, and the colon after it.
func (p *jsonParser) key() ([]byte, bool) {
	k, ok := p.stringBytes()
	return k, ok && p.byte(':')
}

// value reads a field value: a string, a number (as float64), a boolean
// or null.
func (p *jsonParser) value() (any, bool) {
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
func (p *jsonParser) number() (any, bool) {
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

// object reads an object, calling field to read each key's value. The
// key is b's own bytes: switch on string(key), or copy it to keep it.
func (p *jsonParser) object(field func(key []byte) bool) bool {
	if !p.byte('{') {
		return false
	}
	for first := true; !p.byte('}'); first = false {
		if !first && !p.byte(',') {
			return false
		}
		k, ok := p.key()
		if !ok || !field(k) {
			return false
		}
	}
	return true
}

// array reads an array, calling elem to read each element.
func (p *jsonParser) array(elem func() bool) bool {
	if !p.byte('[') {
		return false
	}
	for first := true; !p.byte(']'); first = false {
		if !first && !p.byte(',') {
			return false
		}
		if !elem() {
			return false
		}
	}
	return true
}

// end reports whether nothing but white space is left.
func (p *jsonParser) end() bool {
	p.space()
	return p.i == len(p.b)
}

// values reads an object of field values, or null.
func (p *jsonParser) values(m *map[string]any) bool {
	if p.literal("null") {
		return true
	}
	*m = map[string]any{}
	return p.object(func(k []byte) bool {
		if _, dup := (*m)[string(k)]; dup {
			return false
		}
		v, ok := p.value()
		(*m)[string(k)] = v
		return ok
	})
}

// stringList reads an array of strings, or null.
func (p *jsonParser) stringList(list *[]string) bool {
	if p.literal("null") {
		return true
	}
	*list = []string{}
	return p.array(func() bool {
		v, ok := p.string()
		*list = append(*list, v)
		return ok
	})
}

// str reads a string into s.
func (p *jsonParser) str(s *string) bool {
	v, ok := p.string()
	*s = v
	return ok
}

// integer reads a number that encoding/json puts in an integer: digits,
// with no fraction or exponent, in range.
func (p *jsonParser) integer() (int64, bool) {
	p.space()
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || p.b[digits] == '0' && p.i-digits > 1 {
		return 0, false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return n, err == nil
}

func (p *jsonParser) int64(v *int64) bool {
	n, ok := p.integer()
	*v = n
	return ok
}

func (p *jsonParser) int(v *int) bool {
	n, ok := p.integer()
	*v = int(n)
	return ok && int64(int(n)) == n
}

func (p *jsonParser) bool(v *bool) bool {
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

// timePtr reads a time as time.Time's UnmarshalJSON does, or null.
func (p *jsonParser) timePtr(t **time.Time) bool {
	if p.literal("null") {
		return true
	}
	var v time.Time
	if !p.time(&v) {
		return false
	}
	*t = &v
	return true
}

// time reads a time, not null, as time.Time's UnmarshalJSON does.
func (p *jsonParser) time(t *time.Time) bool {
	p.space()
	start := p.i
	if _, ok := p.stringBytes(); !ok {
		return false
	}
	return t.UnmarshalJSON(p.b[start:p.i]) == nil
}
