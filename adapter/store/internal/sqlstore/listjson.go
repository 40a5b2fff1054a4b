package sqlstore

import (
	"slices"
	"strconv"

	"github.com/ctibridge/ctibridge/contactpad"
)

// The JSON of the list and map columns every command reads or writes (an
// agent's services and capacity at each routing, an interaction's tags),
// without reflection: encoding/json's bytes, and a reader for what it
// writes that leaves anything else (escapes, spaces, numbers it does not
// know) to json.Unmarshal. TestListJSON holds both to encoding/json.

// appendStringsJSON appends ss as json.Marshal writes a non-nil list.
func appendStringsJSON(b []byte, ss []string) []byte {
	b = append(b, '[')
	for k, s := range ss {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendCapacityJSON appends c as json.Marshal writes it: by media, sorted.
func appendCapacityJSON(b []byte, c contactpad.Capacity) []byte {
	var space [8]contactpad.Media
	media := space[:0]
	for m := range c {
		media = append(media, m)
	}
	slices.Sort(media)
	b = append(b, '{')
	for k, m := range media {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(m))
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(c[m]), 10)
	}
	return append(b, '}')
}

// parseStringsJSON reads a JSON list of strings that need no unescaping
// (["a","b"], no spaces). ok is false for anything else.
func parseStringsJSON(s string) (ss []string, ok bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	ss = []string{}
	for rest := s[1 : len(s)-1]; rest != ""; {
		var str string
		if str, rest, ok = cutPlainString(rest); !ok {
			return nil, false
		}
		ss = append(ss, str)
		if rest, ok = cutComma(rest); !ok {
			return nil, false
		}
	}
	return ss, true
}

// parseCapacityJSON reads a JSON object of plain keys and small integers
// ({"live":1,"non_live":5}, no spaces) into c. ok is false for anything
// else, and c is then left as it was.
func parseCapacityJSON(s string, c contactpad.Capacity) (ok bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	type entry struct {
		media contactpad.Media
		n     int
	}
	var space [8]entry
	entries := space[:0]
	for rest := s[1 : len(s)-1]; rest != ""; {
		var key string
		if key, rest, ok = cutPlainString(rest); !ok || rest == "" || rest[0] != ':' {
			return false
		}
		rest = rest[1:]
		end := 0
		for end < len(rest) && rest[end] != ',' {
			end++
		}
		n, ok := plainInt(rest[:end])
		if !ok {
			return false
		}
		entries = append(entries, entry{contactpad.Media(key), n})
		if rest, ok = cutComma(rest[end:]); !ok {
			return false
		}
	}
	for _, e := range entries {
		c[e.media] = e.n
	}
	return true
}

// cutPlainString cuts a quoted string of printable ASCII with no escapes
// off the front of s.
func cutPlainString(s string) (str, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	for k := 1; k < len(s); k++ {
		switch c := s[k]; {
		case c == '"':
			return s[1:k], s[k+1:], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", s, false
		}
	}
	return "", s, false
}

// cutComma cuts the comma between two elements off the front of s: s is
// empty (the end) or a comma followed by more.
func cutComma(s string) (rest string, ok bool) {
	switch {
	case s == "":
		return "", true
	case s[0] == ',' && len(s) > 1:
		return s[1:], true
	}
	return s, false
}

// plainInt parses a JSON integer of at most 9 digits (no fraction, no
// exponent, no leading zero), as json.Unmarshal reads one into an int.
func plainInt(s string) (int, bool) {
	digits := s
	if digits != "" && digits[0] == '-' {
		digits = digits[1:]
	}
	if digits == "" || len(digits) > 9 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	n := 0
	for k := 0; k < len(digits); k++ {
		if digits[k] < '0' || digits[k] > '9' {
			return 0, false
		}
		n = n*10 + int(digits[k]-'0')
	}
	if len(digits) < len(s) {
		n = -n
	}
	return n, true
}
