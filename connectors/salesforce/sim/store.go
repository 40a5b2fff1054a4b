package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one record. vals maps canonical field names to string, bool,
// float64 or time.Time (date-times); dates are "2006-01-02" strings and
// ids are 18-character strings.
type row struct {
	obj     *objectDef
	id      string
	deleted bool
	vals    map[string]any
	// writes counts the creates and updates through the API that the
	// record has had, for Org.Writes.
	writes int
	// fieldWrites and unchanged account for the fields that API updates
	// wrote, for Org.FieldWrites and Org.UnchangedWrites. They live on the
	// row so that a rollback, which restores the row, undoes them too.
	fieldWrites map[string]FieldWrites
	unchanged   []unchangedWrite
}

func (r *row) clone() *row {
	c := *r
	c.vals = maps.Clone(r.vals)
	c.fieldWrites = maps.Clone(r.fieldWrites)
	c.unchanged = slices.Clone(r.unchanged)
	return &c
}

// table holds the records of one object in creation order, with an index of
// the values of its unique fields over live records.
type table struct {
	obj     *objectDef
	rows    map[string]*row
	order   []string
	unique  map[string]map[string]string // field -> lower-case value -> id
	autoSeq int
}

func newTable(obj *objectDef) *table {
	t := &table{obj: obj, rows: map[string]*row{}, unique: map[string]map[string]string{}, autoSeq: 1000}
	for _, f := range obj.Fields {
		if f.Unique {
			t.unique[f.Name] = map[string]string{}
		}
	}
	return t
}

func (t *table) rowsInOrder() []*row {
	out := make([]*row, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, t.rows[id])
	}
	return out
}

func (t *table) reindex() {
	for f := range t.unique {
		t.unique[f] = map[string]string{}
	}
	for _, r := range t.rows {
		t.index(r)
	}
}

func (t *table) index(r *row) {
	if r.deleted {
		return
	}
	for f, idx := range t.unique {
		if v, ok := r.vals[f].(string); ok {
			idx[strings.ToLower(v)] = r.id
		}
	}
}

func (t *table) unindex(r *row) {
	for f, idx := range t.unique {
		if v, ok := r.vals[f].(string); ok && idx[strings.ToLower(v)] == r.id {
			delete(idx, strings.ToLower(v))
		}
	}
}

// tx records how to undo the writes of one API call, so that allOrNone
// collections and composite requests can roll back. Autonumbers, ids and
// timestamps are not given back, as on Salesforce.
type tx struct {
	undo []undoEntry
}

type undoEntry struct {
	t    *table
	id   string
	prev *row // nil: the row was created
}

func (x *tx) mark() int { return len(x.undo) }

func (x *tx) save(t *table, id string, prev *row) {
	if prev != nil {
		prev = prev.clone()
	}
	x.undo = append(x.undo, undoEntry{t: t, id: id, prev: prev})
}

// rollback undoes every write since mark.
func (x *tx) rollback(mark int) {
	touched := map[*table]bool{}
	for i := len(x.undo) - 1; i >= mark; i-- {
		e := x.undo[i]
		touched[e.t] = true
		if e.prev != nil {
			e.t.rows[e.id] = e.prev
			continue
		}
		delete(e.t.rows, e.id)
		if i := slices.Index(e.t.order, e.id); i >= 0 {
			e.t.order = slices.Delete(e.t.order, i, i+1)
		}
	}
	x.undo = x.undo[:mark]
	for t := range touched {
		t.reindex()
	}
}

// writer carries what every write needs: the transaction and the running
// user. Seeding writes bypass the field-level security checks and may set
// ids and system fields. Only the writes of API calls (api) are counted, and
// only they meet the faults injected for API clients; Seed, Edit, Create and
// Generate change the org without an API call.
type writer struct {
	tx      *tx
	user    string
	seeding bool
	api     bool
}

var errRecordNotFound = &dmlError{code: "NOT_FOUND", msg: "The requested resource does not exist"}

func (o *Org) tableFor(obj *objectDef) *table { return o.tables[obj.Name] }

// record returns the row with the given id, deleted or not, or nil.
func (o *Org) record(id string) *row {
	id, ok := normalizeID(id)
	if !ok {
		return nil
	}
	obj := o.schema.byPrefix[id[:3]]
	if obj == nil {
		return nil
	}
	return o.tableFor(obj).rows[id]
}

// liveRecord is record without deleted rows: what lookups resolve to.
func (o *Org) liveRecord(id string) *row {
	r := o.record(id)
	if r == nil || r.deleted {
		return nil
	}
	return r
}

func (o *Org) newID(prefix string) string {
	for {
		o.idSeq++
		id := makeID(prefix, "Lz", o.idSeq)
		if o.record(id) == nil {
			return id
		}
	}
}

// stamp returns the time of a write: Options.Now at millisecond precision,
// forced strictly after the previous write so that SystemModstamp watermarks
// never see two writes at the same instant.
func (o *Org) stamp() time.Time {
	t := o.now().UTC().Truncate(time.Millisecond)
	if !t.After(o.lastStamp) {
		t = o.lastStamp.Add(time.Millisecond)
	}
	o.lastStamp = t
	return t
}

// decodeRecord turns a JSON record of a write into typed field values. Its
// errors are those Salesforce raises while deserializing the request body
// (unknown field, value of the wrong type), which fail the whole request;
// they name the field in fields, which the REST body leaves out. The
// record's id, if it has one, is returned apart.
func decodeRecord(obj *objectDef, in map[string]any) (map[string]any, string, *apiError) {
	vals := map[string]any{}
	id := ""
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v := in[k]
		if k == "attributes" {
			continue
		}
		if strings.EqualFold(k, "Id") {
			s, ok := v.(string)
			if !ok && v != nil {
				err := jsonParserError(fmt.Sprintf("Cannot deserialize instance of id from %s value %v or request may be missing a required field", jsonKind(v), v))
				err.fields = []string{"Id"}
				return nil, "", err
			}
			id = s
			continue
		}
		f := obj.field(k)
		if f == nil {
			err := newAPIError(http.StatusBadRequest, "INVALID_FIELD",
				fmt.Sprintf("No such column '%s' on sobject of type %s", k, obj.Name))
			err.fields = []string{k}
			return nil, "", err
		}
		cv, err := coerce(f, v)
		if err != nil {
			err.fields = []string{f.Name}
			return nil, "", err
		}
		vals[f.Name] = cv
	}
	return vals, id, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "VALUE_STRING"
	case json.Number, float64:
		return "VALUE_NUMBER_INT"
	case bool:
		return "VALUE_TRUE"
	case map[string]any:
		return "START_OBJECT"
	case []any:
		return "START_ARRAY"
	}
	return "VALUE_NULL"
}

// coerce converts a JSON value to the representation of the field's type.
func coerce(f *fieldDef, v any) (any, *apiError) {
	if v == nil {
		return nil, nil
	}
	bad := func(typ string) *apiError {
		return jsonParserError(fmt.Sprintf("Cannot deserialize instance of %s from %s value %v or request may be missing a required field",
			typ, jsonKind(v), v))
	}
	switch f.Type {
	case typeBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if p, err := strconv.ParseBool(strings.ToLower(b)); err == nil {
				return p, nil
			}
		}
		return nil, bad("boolean")
	case typeDouble:
		switch n := v.(type) {
		case json.Number:
			if x, err := n.Float64(); err == nil {
				return x, nil
			}
		case float64:
			return n, nil
		case string:
			if x, err := strconv.ParseFloat(n, 64); err == nil {
				return x, nil
			}
		}
		return nil, bad("double")
	case typeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, bad("datetime")
		}
		if s == "" {
			return nil, nil
		}
		if t, ok := parseDateTime(s); ok {
			return t, nil
		}
		return nil, bad("datetime")
	case typeDate:
		s, ok := v.(string)
		if !ok {
			return nil, bad("date")
		}
		if s == "" {
			return nil, nil
		}
		if t, err := time.Parse(dateLayout, s); err == nil {
			return t.Format(dateLayout), nil
		}
		if t, ok := parseDateTime(s); ok {
			return t.Format(dateLayout), nil
		}
		return nil, bad("date")
	}
	// Text, ids and references: Salesforce stores an empty string as null.
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return nil, bad(string(f.Type))
	}
	if s == "" {
		return nil, nil
	}
	return s, nil
}

// parseDateTime accepts the ISO 8601 forms clients send for date-times.
func parseDateTime(s string) (time.Time, bool) {
	for _, layout := range append([]string{time.RFC3339Nano, dateTimeLayout, "2006-01-02T15:04:05-0700",
		"2006-01-02T15:04:05.000Z0700"}, dateTimeLayouts...) {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// checkValues runs the save-time checks on the fields a write sets.
func (o *Org) checkValues(w *writer, obj *objectDef, vals map[string]any, creating bool) *dmlError {
	if !w.seeding {
		var denied []string
		for _, f := range obj.Fields {
			if _, set := vals[f.Name]; !set {
				continue
			}
			if creating && !f.Createable || !creating && !f.Updateable {
				denied = append(denied, f.Name)
			}
		}
		if len(denied) > 0 {
			return &dmlError{code: "INVALID_FIELD_FOR_INSERT_UPDATE", fields: denied, msg: fmt.Sprintf(
				"Unable to create/update fields: %s. Please check the security settings of this field and verify "+
					"that it is read/write for your profile or permission set.", strings.Join(denied, ", "))}
		}
	}
	for _, f := range obj.Fields {
		v, set := vals[f.Name]
		if !set || v == nil {
			continue
		}
		if s, ok := v.(string); ok && f.Length > 0 && f.Type != typeReference && len([]rune(s)) > f.Length {
			return &dmlError{code: "STRING_TOO_LONG", fields: []string{f.Name},
				msg: fmt.Sprintf("%s: data value too large: %.20s... (max length=%d)", f.Label, s, f.Length)}
		}
		if f.Type != typeReference {
			continue
		}
		raw := v.(string)
		id, ok := normalizeID(raw)
		if !ok {
			return &dmlError{code: "MALFORMED_ID", fields: []string{f.Name},
				msg: fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, raw)}
		}
		target := o.schema.byPrefix[id[:3]]
		if target == nil || !slices.Contains(f.ReferenceTo, target.Name) {
			return &dmlError{code: "FIELD_INTEGRITY_EXCEPTION", fields: []string{f.Name},
				msg: fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, raw)}
		}
		vals[f.Name] = id
		if w.seeding {
			continue
		}
		switch r := o.record(id); {
		case r == nil:
			return &dmlError{code: "INVALID_CROSS_REFERENCE_KEY", fields: []string{f.Name}, msg: "invalid cross reference id"}
		case r.deleted:
			return &dmlError{code: "ENTITY_IS_DELETED", fields: []string{f.Name}, msg: "entity is deleted"}
		}
	}
	return nil
}

// checkRecord runs the checks on the record as it would be saved: required
// fields, unique values and the validation rules of Faults.
func (o *Org) checkRecord(obj *objectDef, id string, merged map[string]any) *dmlError {
	var missing []string
	for _, f := range obj.Fields {
		if (f.Required || o.faults.isRequired(obj.Name, f.Name)) && merged[f.Name] == nil {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return &dmlError{code: "REQUIRED_FIELD_MISSING", fields: missing,
			msg: fmt.Sprintf("Required fields are missing: [%s]", strings.Join(missing, ", "))}
	}
	t := o.tableFor(obj)
	for name, idx := range t.unique {
		v, ok := merged[name].(string)
		if !ok {
			continue
		}
		if other, dup := idx[strings.ToLower(v)]; dup && other != id {
			return &dmlError{code: "DUPLICATE_VALUE", fields: []string{name},
				msg: fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", name, other)}
		}
	}
	if e := o.faults.validate(obj.Name, renderVals(merged)); e != nil {
		return e
	}
	return nil
}

// derive maintains the fields Salesforce computes from others. A date the
// org sets when a flag turns on (ClosedDate, StopStartDate) keeps its first
// value while the flag stays on and is cleared when it turns off.
func derive(obj *objectDef, vals map[string]any, now time.Time) {
	switch obj.Name {
	case "Case":
		closed := vals["Status"] == "Closed"
		if closed && vals["ClosedDate"] == nil {
			vals["ClosedDate"] = now
		}
		if !closed {
			vals["ClosedDate"] = nil
		}
		vals["IsClosed"] = closed
		stopped := vals["IsStopped"] == true
		if stopped && vals["StopStartDate"] == nil {
			vals["StopStartDate"] = now
		}
		if !stopped {
			vals["StopStartDate"] = nil
		}
	case "Task":
		vals["IsClosed"] = vals["Status"] == "Completed"
	case "Contact", "User":
		first, _ := vals["FirstName"].(string)
		last, _ := vals["LastName"].(string)
		if name := strings.TrimSpace(first + " " + last); name != "" {
			vals["Name"] = name
		} else {
			vals["Name"] = nil
		}
	}
}

// create inserts a record and returns its id. id is honoured only when seeding.
func (o *Org) create(w *writer, obj *objectDef, vals map[string]any, id string) (string, *dmlError) {
	if !obj.Createable && !w.seeding {
		return "", &dmlError{code: "INVALID_TYPE_FOR_OPERATION", msg: "entity type cannot be inserted: " + obj.Label}
	}
	if id != "" && !w.seeding {
		return "", &dmlError{code: "INVALID_FIELD", fields: []string{"Id"}, msg: "cannot specify Id in an insert call"}
	}
	if err := o.checkValues(w, obj, vals, true); err != nil {
		return "", err
	}
	t := o.tableFor(obj)
	merged := map[string]any{}
	for _, f := range obj.Fields {
		if f.DefaultOnCreate != nil {
			merged[f.Name] = f.DefaultOnCreate
		}
	}
	if obj.field("OwnerId") != nil {
		merged["OwnerId"] = w.user
	}
	for k, v := range vals {
		if v == nil && obj.field(k).Type == typeBoolean {
			v = false
		}
		merged[k] = v
	}
	if err := o.checkRecord(obj, "", merged); err != nil {
		return "", err
	}
	if err := o.omniBeforeCreate(w, obj, merged, o.now().UTC()); err != nil {
		return "", err
	}
	if id == "" {
		id = o.newID(obj.KeyPrefix)
	} else {
		full, ok := normalizeID(id)
		if !ok || full[:3] != obj.KeyPrefix {
			return "", &dmlError{code: "MALFORMED_ID", fields: []string{"Id"}, msg: fmt.Sprintf("%s ID: id value of incorrect type: %s", obj.Label, id)}
		}
		if o.record(full) != nil {
			return "", &dmlError{code: "DUPLICATE_VALUE", fields: []string{"Id"}, msg: "duplicate value found: Id duplicates value on record with id: " + full}
		}
		id = full
	}
	now := o.stamp()
	for _, f := range obj.Fields {
		if f.AutoNumber && merged[f.Name] == nil {
			t.autoSeq++
			merged[f.Name] = fmt.Sprintf(obj.AutoFormat, t.autoSeq)
		}
	}
	merged["Id"] = id
	setDefault := func(name string, v any) {
		if merged[name] == nil {
			merged[name] = v
		}
	}
	setDefault("CreatedDate", now)
	setDefault("CreatedById", w.user)
	setDefault("LastModifiedDate", now)
	setDefault("LastModifiedById", w.user)
	setDefault("SystemModstamp", now)
	if obj.field("IsDeleted") != nil {
		merged["IsDeleted"] = false
	}
	if s, ok := merged["SystemModstamp"].(time.Time); ok && s.After(o.lastStamp) {
		o.lastStamp = s
	}
	derive(obj, merged, now)
	r := &row{obj: obj, id: id, vals: merged}
	if w.api {
		r.writes = 1
	}
	t.rows[id] = r
	t.order = append(t.order, id)
	t.index(r)
	w.tx.save(t, id, nil)
	if err := o.omniAfterCreate(w, r); err != nil {
		return "", err
	}
	return id, nil
}

// update changes a record. It returns errRecordNotFound when no record has the id.
func (o *Org) update(w *writer, obj *objectDef, id string, vals map[string]any) *dmlError {
	if !obj.Updateable && !w.seeding {
		return &dmlError{code: "INVALID_TYPE_FOR_OPERATION", msg: "entity type cannot be updated: " + obj.Label}
	}
	r, err := o.writable(w, obj, id)
	if err != nil {
		return err
	}
	if err := o.checkValues(w, obj, vals, false); err != nil {
		return err
	}
	merged := maps.Clone(r.vals)
	for k, v := range vals {
		if v == nil && obj.field(k).Type == typeBoolean {
			v = false
		}
		merged[k] = v
	}
	if err := o.checkRecord(obj, r.id, merged); err != nil {
		return err
	}
	now := o.stamp()
	merged["LastModifiedDate"] = now
	merged["LastModifiedById"] = w.user
	merged["SystemModstamp"] = now
	derive(obj, merged, now)
	t := o.tableFor(obj)
	w.tx.save(t, r.id, r)
	t.unindex(r)
	before := r.vals
	r.vals = merged
	if w.api {
		r.writes++
		o.countFieldWrites(r, before, vals)
	}
	t.index(r)
	return o.omniAfterUpdate(w, r, before)
}

// writable finds a record that a write may change, or the error Salesforce
// gives. The faults of API clients (MarkDeleted, LockRows) apply to API writes.
func (o *Org) writable(w *writer, obj *objectDef, id string) (*row, *dmlError) {
	full, ok := normalizeID(id)
	if !ok || full[:3] != obj.KeyPrefix {
		return nil, &dmlError{code: "MALFORMED_ID", fields: []string{"Id"},
			msg: fmt.Sprintf("%s ID: id value of incorrect type: %s", obj.Label, id)}
	}
	r := o.tableFor(obj).rows[full]
	switch {
	case r == nil:
		return nil, errRecordNotFound
	case r.deleted || w.api && o.faults.isDeleted(full):
		return nil, &dmlError{code: "ENTITY_IS_DELETED", msg: "entity is deleted"}
	case w.api && o.faults.takeLock(full):
		return nil, &dmlError{code: "UNABLE_TO_LOCK_ROW",
			msg: "unable to obtain exclusive access to this record or 1 records: " + full}
	}
	return r, nil
}

// remove deletes a record (to the recycle bin: queryAll still sees it).
func (o *Org) remove(w *writer, obj *objectDef, id string) *dmlError {
	if !obj.Deletable {
		return &dmlError{code: "INSUFFICIENT_ACCESS_OR_READONLY", msg: "insufficient access rights on object id"}
	}
	r, err := o.writable(w, obj, id)
	if err != nil {
		return err
	}
	t := o.tableFor(obj)
	w.tx.save(t, r.id, r)
	t.unindex(r)
	now := o.stamp()
	r.deleted = true
	r.vals["IsDeleted"] = true
	r.vals["SystemModstamp"] = now
	return nil
}

// upsert updates the live record whose external id field has value, or
// creates one with that value.
func (o *Org) upsert(w *writer, obj *objectDef, ext *fieldDef, value string, vals map[string]any) (string, bool, *dmlError) {
	delete(vals, ext.Name)
	if id, ok := o.tableFor(obj).unique[ext.Name][strings.ToLower(value)]; ok {
		return id, false, o.update(w, obj, id, vals)
	}
	vals[ext.Name] = value
	id, err := o.create(w, obj, vals, "")
	return id, err == nil, err
}

// renderVals is a record's values in their JSON form, for snapshots and validation rules.
func renderVals(vals map[string]any) map[string]any {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		out[k] = renderValue(v)
	}
	return out
}

// renderRecord is the body of GET /sobjects/{Type}/{id}: attributes and the
// given fields in schema order.
func renderRecord(r *row, version string, fields []*fieldDef) object {
	out := object{{"attributes", recordAttributes(r, version)}}
	for _, f := range fields {
		out = append(out, member{f.Name, renderValue(r.vals[f.Name])})
	}
	return out
}
