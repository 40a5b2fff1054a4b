package sim

import (
	"cmp"
	"slices"
	"time"
)

// FieldWrites counts the API updates that wrote one field of an object:
// how many set it to a new value and how many to the value it already had.
type FieldWrites struct {
	Changed, Unchanged int
}

// UnchangedWrite is one API update of a field that set it to the value it
// already had.
type UnchangedWrite struct {
	ID    string // the record's 18-character id
	Field string
	Value any // in its JSON form, as Records gives it
}

// unchangedWrite is an UnchangedWrite on its row; seq orders it among all.
type unchangedWrite struct {
	seq   uint64
	field string
	value any
}

// FieldWrites returns, by field, how many times API updates of existing
// records of an object (a PATCH of one record, sObject Collections updates,
// upserts that find their record, also inside /composite) set the field to
// a new value and how many times to the value it already had, over all the
// object's records, deleted ones included. Values compare as stored: a
// date-time written as "...000Z" is the same instant written with an offset,
// an empty string is null, a null checkbox is false, text compares with case.
// Creates (and upserts that create), Seed, Edit, Create and Generate do not
// count, nor do writes a rollback undid, nor the fields the org sets itself
// (LastModifiedDate, LastModifiedById, SystemModstamp, derived fields). Tests
// use it to prove that a client writes only what changed. It is nil for an
// unknown object.
func (o *Org) FieldWrites(sobject string) map[string]FieldWrites {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj := o.schema.object(sobject)
	if obj == nil {
		return nil
	}
	out := map[string]FieldWrites{}
	for _, r := range o.tableFor(obj).rows {
		for field, n := range r.fieldWrites {
			sum := out[field]
			sum.Changed += n.Changed
			sum.Unchanged += n.Unchanged
			out[field] = sum
		}
	}
	return out
}

// UnchangedWrites returns the writes FieldWrites counts as Unchanged, in the
// order they happened (the fields of one write in schema order), to show a
// test what a client wrote for nothing. It is nil for an unknown object.
func (o *Org) UnchangedWrites(sobject string) []UnchangedWrite {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj := o.schema.object(sobject)
	if obj == nil {
		return nil
	}
	var all []unchangedWrite
	ids := map[uint64]string{}
	for _, r := range o.tableFor(obj).rows {
		for _, u := range r.unchanged {
			all = append(all, u)
			ids[u.seq] = r.id
		}
	}
	slices.SortFunc(all, func(a, b unchangedWrite) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]UnchangedWrite, len(all))
	for i, u := range all {
		out[i] = UnchangedWrite{ID: ids[u.seq], Field: u.field, Value: renderValue(u.value)}
	}
	return out
}

// countFieldWrites accounts for an API update of r that wrote the fields
// of written: before holds the values it replaced, r.vals those it saved.
func (o *Org) countFieldWrites(r *row, before, written map[string]any) {
	for _, f := range r.obj.Fields {
		if _, ok := written[f.Name]; !ok {
			continue
		}
		if r.fieldWrites == nil {
			r.fieldWrites = map[string]FieldWrites{}
		}
		n := r.fieldWrites[f.Name]
		if value := r.vals[f.Name]; sameValue(before[f.Name], value) {
			n.Unchanged++
			o.fieldWrites++
			r.unchanged = append(r.unchanged, unchangedWrite{seq: o.fieldWrites, field: f.Name, value: value})
		} else {
			n.Changed++
		}
		r.fieldWrites[f.Name] = n
	}
}

// sameValue reports whether two stored values are equal: date-times as
// instants, everything else (strings, booleans, numbers, null) as is.
func sameValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return a == b
}
