package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Column encodings, the same as the SQLite store's (see its codec.go):
//
//   - a time is a BIGINT of nanoseconds since the Unix epoch, in UTC; the zero
//     time.Time and a nil *time.Time are NULL. Integers sort and compare like
//     the times they encode, which the ORDER BY and due_at <= now clauses
//     rely on.
//   - a bool is an INTEGER 0 or 1.
//   - a list or a map is JSON TEXT.
//
// Values go to pgx as int64, string or nil (NULL) and come back into
// int64, string, or *int64 and *string for the nullable columns.

var (
	// minTime and maxTime bound the times an int64 of nanoseconds can hold
	// (years 1677 to 2262).
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
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
	b, err := json.Marshal(ss)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("encode %s: %w", field, err)
	}
	return string(b)
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

// sqlLimit turns a limit into a LIMIT operand: a limit <= 0 means no limit,
// which PostgreSQL spells LIMIT NULL.
func sqlLimit(limit int) any {
	if limit <= 0 {
		return nil
	}
	return int64(limit)
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

// timeOf decodes a nullable time column; NULL is the zero time.
func timeOf(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// timePtrOf decodes a nullable time column; NULL is nil.
func timePtrOf(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := time.Unix(0, *n).UTC()
	return &t
}

// decoder turns JSON columns back into field values, keeping the first error.
type decoder struct {
	err error
}

// strings decodes a JSON array; the result is never nil, so it encodes to
// JSON as [] rather than null.
func (d *decoder) strings(field, s string) []string {
	if s == "" || s == "[]" {
		return []string{}
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
func (d *decoder) json(field string, s *string, dst any) {
	if s == nil {
		return
	}
	if err := json.Unmarshal([]byte(*s), dst); err != nil && d.err == nil {
		d.err = fmt.Errorf("decode %s: %w", field, err)
	}
}
