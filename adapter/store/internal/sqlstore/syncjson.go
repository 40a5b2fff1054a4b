package sqlstore

import (
	"encoding/json"
	"slices"
	"strconv"

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
	if s.AcceptedAt != nil && !jsonTime(*s.AcceptedAt) || s.Modified != nil && !jsonTime(*s.Modified) ||
		s.ReadSent != nil && !jsonTime(*s.ReadSent) {
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
	if s.Service != "" {
		b = append(b, `,"service":`...)
		b = appendJSONString(b, s.Service)
	}
	if s.Modified != nil {
		b = append(b, `,"modified":`...)
		b = appendJSONTime(b, *s.Modified)
	}
	if s.ReadSent != nil {
		b = append(b, `,"read_sent":`...)
		b = appendJSONTime(b, *s.ReadSent)
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
	p := jsonParser{b: b}
	if p.sync(s) {
		return nil
	}
	*s = contactpad.RecordSync{}
	return json.Unmarshal(b, s)
}

// syncFields are RecordSync's fields as JSON names them, in the order
// jsonParser.sync numbers them.
var syncFields = [...]string{"known", "want", "dirty", "unmatched", "sent", "accepted_at", "service", "modified", "read_sent"}

func (p *jsonParser) sync(s *contactpad.RecordSync) bool {
	var seen [len(syncFields)]bool
	return p.object(func(key []byte) bool {
		field := slices.Index(syncFields[:], string(key))
		if field < 0 || seen[field] {
			return false
		}
		seen[field] = true
		switch field {
		case 0:
			return p.values(&s.Known)
		case 1:
			return p.values(&s.Want)
		case 2:
			return p.stringList(&s.Dirty)
		case 3:
			return p.bool(&s.Unmatched)
		case 4:
			return p.sent(&s.Sent)
		case 5:
			return p.timePtr(&s.AcceptedAt)
		case 6:
			return p.str(&s.Service)
		case 7:
			return p.timePtr(&s.Modified)
		default:
			return p.timePtr(&s.ReadSent)
		}
	}) && p.end()
}

// sent reads an object of arrays of field values (or null each), or null.
func (p *jsonParser) sent(m *map[string][]any) bool {
	if p.literal("null") {
		return true
	}
	*m = map[string][]any{}
	return p.object(func(key []byte) bool {
		k := string(key)
		if _, dup := (*m)[k]; dup {
			return false
		}
		if p.literal("null") {
			(*m)[k] = nil
			return true
		}
		vs := []any{}
		ok := p.array(func() bool {
			v, ok := p.value()
			vs = append(vs, v)
			return ok
		})
		(*m)[k] = vs
		return ok
	})
}
