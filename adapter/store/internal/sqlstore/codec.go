package sqlstore

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// Column encodings, the same in every table and in both databases:
//
//   - a time is a BIGINT of nanoseconds since the Unix epoch, in UTC; the zero
//     time.Time and a nil *time.Time are NULL. Integers sort and compare like
//     the times they encode, which the ORDER BY and due_at <= now clauses
//     rely on.
//   - a bool is an INTEGER 0 or 1.
//   - a list or a map is JSON TEXT.
//
// Values go to the driver as int64, string or nil (NULL). Columns that may
// be NULL, or whose integer type differs between the databases, are
// scanned into `any` (the fastest path through database/sql) and decoded
// here: SQLite gives int64, PostgreSQL int64 for BIGINT and int32 for
// INTEGER.

var (
	// minTime and maxTime bound the times an int64 of nanoseconds can hold
	// (years 1677 to 2262).
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = adapter.MaxTime
)

// encoder turns field values into column values, keeping the first error so
// a Put can encode a whole row and check once.
type encoder struct {
	err error
}

// time encodes t, or NULL for the zero time. A time an int64 of
// nanoseconds cannot hold is an error rather than a silently wrong value.
func (e *encoder) time(field string, t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		if e.err == nil {
			e.err = fmt.Errorf("%s %s is outside the storable range (%d to %d)",
				field, t.Format(time.RFC3339Nano), minTime.Year(), maxTime.Year())
		}
		return nil
	}
	return t.UnixNano()
}

// timePtr encodes *t, or NULL for nil.
func (e *encoder) timePtr(field string, t *time.Time) any {
	if t == nil {
		return nil
	}
	return e.time(field, *t)
}

// strings encodes a list as a JSON array; nil and empty are both "[]".
func (e *encoder) strings(field string, ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	return string(appendStringsJSON(make([]byte, 0, 64), ss))
}

// json encodes v as JSON TEXT, or NULL when isNil.
func (e *encoder) json(field string, v any, isNil bool) any {
	if isNil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		if e.err == nil {
			e.err = fmt.Errorf("encode %s: %w", field, err)
		}
		return nil
	}
	return string(b)
}

// sync encodes s as JSON TEXT (see appendSyncJSON), or NULL when it holds
// nothing.
func (e *encoder) sync(s *contactpad.RecordSync) any {
	if isZeroSync(*s) {
		return nil
	}
	b, err := appendSyncJSON(make([]byte, 0, 512), s)
	if err != nil {
		if e.err == nil {
			e.err = fmt.Errorf("encode crm_sync: %w", err)
		}
		return nil
	}
	return string(b)
}

// boundTime encodes a time used only for comparison (DueTimers' now),
// clamping it to the storable range so that any time compares correctly.
func boundTime(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// boolInt encodes a bool as 0 or 1.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// unixOrZero encodes t as UTC nanoseconds, 0 for the zero time, for the
// NOT NULL columns whose zero means "not set".
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decoder turns column values, scanned into `any`, back into field values,
// keeping the first error.
type decoder struct {
	err error
}

func (d *decoder) fail(field string, v any) {
	if d.err == nil {
		d.err = fmt.Errorf("decode %s: unexpected column value %T", field, v)
	}
}

// int decodes an integer column; NULL is 0.
func (d *decoder) int(field string, v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case nil:
		return 0
	}
	d.fail(field, v)
	return 0
}

// bool decodes an INTEGER 0/1 column.
func (d *decoder) bool(field string, v any) bool {
	return d.int(field, v) != 0
}

// time decodes a time column; NULL is the zero time.
func (d *decoder) time(field string, v any) time.Time {
	switch v := v.(type) {
	case int64:
		return time.Unix(0, v).UTC()
	case nil:
		return time.Time{}
	}
	d.fail(field, v)
	return time.Time{}
}

// timePtr decodes a nullable time column; NULL is nil.
func (d *decoder) timePtr(field string, v any) *time.Time {
	if v == nil {
		return nil
	}
	t := d.time(field, v)
	return &t
}

// strings decodes a JSON array; the result is never nil, so it encodes to
// JSON as [] rather than null.
func (d *decoder) strings(field, s string) []string {
	if s == "" || s == "[]" {
		return []string{}
	}
	if ss, ok := parseStringsJSON(s); ok {
		return ss
	}
	var ss []string
	if err := json.Unmarshal([]byte(s), &ss); err != nil {
		if d.err == nil {
			d.err = fmt.Errorf("decode %s: %w", field, err)
		}
		return []string{}
	}
	if ss == nil {
		ss = []string{}
	}
	return ss
}

// json decodes a nullable JSON TEXT column into dst; NULL leaves dst alone.
func (d *decoder) json(field string, v any, dst any) {
	d.decodeJSON(field, v, func(b []byte) error { return json.Unmarshal(b, dst) })
}

// sync decodes a crm_sync column into dst, which is zero; NULL leaves it
// so (see parseSyncJSON).
func (d *decoder) sync(field string, v any, dst *contactpad.RecordSync) {
	d.decodeJSON(field, v, func(b []byte) error { return parseSyncJSON(b, dst) })
}

// decodeJSON decodes a nullable JSON TEXT column with decode; NULL is not
// decoded.
func (d *decoder) decodeJSON(field string, v any, decode func([]byte) error) {
	var b []byte
	switch v := v.(type) {
	case nil:
		return
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		d.fail(field, v)
		return
	}
	if err := decode(b); err != nil && d.err == nil {
		d.err = fmt.Errorf("decode %s: %w", field, err)
	}
}

// text decodes a nullable TEXT column as bytes; NULL is nil.
func (d *decoder) text(field string, v any) []byte {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return []byte(v)
	case []byte:
		return append([]byte(nil), v...)
	}
	d.fail(field, v)
	return nil
}

// list encodes a list parameter (for InList and ListTable) as the dialect
// passes lists: a JSON array, or a []string that is never nil (a NULL
// array would match nothing, and NOT of that keep everything).
func (t *Tx) list(ss []string) (any, error) {
	if !t.dialect.JSONLists {
		if ss == nil {
			return []string{}, nil
		}
		return ss, nil
	}
	if len(ss) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ss)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
