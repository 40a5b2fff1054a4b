package sim

import (
	"strings"
)

// SaveError is why Edit or Create refused a change: the errorCode and
// message the REST API gives for the same save, and the record and fields
// concerned.
type SaveError struct {
	Op      string   // "edit" or "create"
	Object  string   // the sObject type, as the caller named it
	ID      string   // the record edited; "" for a create
	Fields  []string // the fields at fault, if the error is about fields
	Code    string   // Salesforce's errorCode, e.g. INVALID_FIELD
	Message string
}

// Error names the operation, object, record and fields:
// "edit Case 500Sd0000000001IAA: Foo__c: INVALID_FIELD: No such column ...".
func (e *SaveError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op + " " + e.Object)
	if e.ID != "" {
		b.WriteString(" " + e.ID)
	}
	b.WriteString(": ")
	if len(e.Fields) > 0 {
		b.WriteString(strings.Join(e.Fields, ", ") + ": ")
	}
	b.WriteString(e.Code + ": " + e.Message)
	return b.String()
}

// Edit changes a record as user would in the Salesforce UI, or as another
// integration would: LastModifiedById becomes user, LastModifiedDate and
// SystemModstamp the time of the change, and the fields the org derives
// (IsClosed, ClosedDate, StopStartDate, Name) follow. fields holds values as
// JSON carries them (Go ints and time.Times are accepted too) and goes
// through the checks of an API update: unknown fields, values of the wrong
// type, read-only fields, lookups, lengths, required fields, unique values
// and the validation rules of Faults. The faults injected for API clients
// (LockRows, MarkDeleted) do not apply. user must be the id of an active
// User.
//
// An edit is not an API call: Calls, Total, the API usage, Writes and
// FieldWrites do not count it. Errors are *SaveError.
func (o *Org) Edit(user, object, id string, fields map[string]any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	fail := func(e *dmlError) error {
		return &SaveError{Op: "edit", Object: object, ID: id, Fields: e.fields, Code: e.code, Message: e.msg}
	}
	obj, w, derr := o.asPerson(user, object)
	if derr != nil {
		return fail(derr)
	}
	vals, bodyID, aerr := decodeRecord(obj, normalizeNumbers(fields))
	if aerr != nil {
		return fail(&dmlError{code: aerr.code, msg: aerr.msg, fields: aerr.fields})
	}
	if bodyID != "" && !sameID(bodyID, id) {
		return fail(&dmlError{code: "INVALID_FIELD", msg: "The Id field should not be specified in the sobject data.",
			fields: []string{"Id"}})
	}
	if derr := o.update(w, obj, id, vals); derr != nil {
		return fail(derr)
	}
	return nil
}

// Create inserts a record as user would in the Salesforce UI, or as another
// integration would, and returns its id: CreatedById and LastModifiedById
// are user, and so is OwnerId unless fields sets it. fields is checked as by
// an API create (see Edit). Like Edit, a create is not an API call and is
// not counted. Errors are *SaveError.
func (o *Org) Create(user, object string, fields map[string]any) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fail := func(e *dmlError) error {
		return &SaveError{Op: "create", Object: object, Fields: e.fields, Code: e.code, Message: e.msg}
	}
	obj, w, derr := o.asPerson(user, object)
	if derr != nil {
		return "", fail(derr)
	}
	vals, id, aerr := decodeRecord(obj, normalizeNumbers(fields))
	if aerr != nil {
		return "", fail(&dmlError{code: aerr.code, msg: aerr.msg, fields: aerr.fields})
	}
	id, derr = o.create(w, obj, vals, id)
	if derr != nil {
		return "", fail(derr)
	}
	return id, nil
}

// asPerson prepares a change that user makes in the org: the object changed
// and a writer that is not an API client's. An inactive user cannot log in
// to change anything.
func (o *Org) asPerson(user, object string) (*objectDef, *writer, *dmlError) {
	obj := o.schema.object(object)
	if obj == nil {
		return nil, nil, &dmlError{code: "INVALID_TYPE", msg: "sObject type '" + object + "' is not supported."}
	}
	u := o.liveRecord(user)
	switch {
	case u == nil || u.obj.Name != "User":
		return nil, nil, &dmlError{code: "INVALID_CROSS_REFERENCE_KEY", msg: "no User has the id '" + user + "'"}
	case u.vals["IsActive"] != true:
		return nil, nil, &dmlError{code: "INACTIVE_OWNER_OR_USER", msg: "operation performed with inactive user " + u.id}
	}
	return obj, &writer{tx: &tx{}, user: u.id}, nil
}
