package sim

import (
	"fmt"
	"net/http"
	"strings"
)

// maxCollection is how many records one sObject Collections request may carry.
const maxCollection = 200

func tooManyRecords() *response {
	return errorResponse(newAPIError(http.StatusBadRequest, "EXCEEDED_ID_LIMIT",
		fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", maxCollection)))
}

var rolledBack = &dmlError{code: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
	msg: "Record rolled back because not all records were valid and the request was using AllOrNone header"}

func failedResult(err *dmlError) object {
	return object{{"success", false}, {"errors", []object{err.result()}}}
}

// handleCollections serves /composite/sobjects: create (POST), update
// (PATCH), delete (DELETE ?ids=) and retrieve (GET /{Type}?ids=&fields=)
// of up to 200 records, and upsert by external id (PATCH /{Type}/{Field}).
// Results come in input order; with allOrNone a single failure rolls back
// every record of the request.
func (o *Org) handleCollections(req *apiRequest) *response {
	segs := req.segs
	switch len(segs) {
	case 2:
		switch req.method {
		case http.MethodPost:
			return o.writeCollection(req, nil, nil)
		case http.MethodPatch:
			return o.writeCollection(req, nil, nil)
		case http.MethodDelete:
			return o.deleteCollection(req)
		}
		return errorResponse(methodNotAllowed(req.method, "POST", "PATCH", "DELETE"))
	case 3:
		obj := o.schema.object(segs[2])
		if obj == nil {
			return errorResponse(notFound())
		}
		if req.method != http.MethodGet {
			return errorResponse(methodNotAllowed(req.method, "GET"))
		}
		return o.retrieveCollection(req, obj)
	case 4:
		obj := o.schema.object(segs[2])
		if obj == nil {
			return errorResponse(notFound())
		}
		ext := obj.field(segs[3])
		if ext == nil || !ext.ExternalID {
			return errorResponse(newAPIError(http.StatusNotFound, "NOT_FOUND",
				"Provided external ID field does not exist or is not accessible: "+segs[3]))
		}
		if req.method != http.MethodPatch {
			return errorResponse(methodNotAllowed(req.method, "PATCH"))
		}
		return o.writeCollection(req, obj, ext)
	}
	return errorResponse(notFound())
}

type collectionItem struct {
	obj  *objectDef
	vals map[string]any
	id   string
}

// writeCollection creates (POST), updates (PATCH) or, when ext is set,
// upserts the records of the request body.
func (o *Org) writeCollection(req *apiRequest, upsertObj *objectDef, ext *fieldDef) *response {
	var in struct {
		AllOrNone bool             `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}
	if err := decodeJSON(req.body, &in); err != nil {
		return errorResponse(err)
	}
	if len(in.Records) > maxCollection {
		return tooManyRecords()
	}
	// Salesforce deserializes the whole body before saving anything: an
	// unknown type or field, or a value of the wrong type, fails the request.
	items := make([]collectionItem, len(in.Records))
	for i, rec := range in.Records {
		typ := recordType(rec)
		obj := upsertObj
		if typ != "" || obj == nil {
			obj = o.schema.object(typ)
		}
		if obj == nil {
			msg := "sObject type '" + typ + "' is not supported."
			if typ == "" {
				msg = "Must specify a type attribute in the attributes map"
			}
			return errorResponse(newAPIError(http.StatusBadRequest, "INVALID_TYPE", msg))
		}
		vals, id, err := decodeRecord(obj, rec)
		if err != nil {
			return errorResponse(err)
		}
		items[i] = collectionItem{obj: obj, vals: vals, id: id}
	}
	w := req.writer()
	mark := req.tx.mark()
	results := make([]object, len(items))
	ok := make([]bool, len(items))
	failed := false
	for i, it := range items {
		var id string
		var created bool
		var err *dmlError
		switch {
		case ext != nil:
			id, created, err = o.upsertItem(w, it, ext)
		case req.method == http.MethodPost:
			id, err = o.create(w, it.obj, it.vals, it.id)
		case it.id == "":
			err = &dmlError{code: "MISSING_ARGUMENT", msg: "Id not specified in an update call"}
		default:
			id, err = it.id, o.update(w, it.obj, it.id, it.vals)
			if err == errRecordNotFound {
				err = &dmlError{code: "INVALID_CROSS_REFERENCE_KEY", msg: "invalid cross reference id"}
			}
			if full, valid := normalizeID(id); valid {
				id = full
			}
		}
		if err != nil {
			failed = true
			results[i] = failedResult(err)
			continue
		}
		ok[i] = true
		results[i] = saveResult(id)
		if ext != nil {
			results[i] = append(results[i], member{"created", created})
		}
	}
	if in.AllOrNone && failed {
		req.tx.rollback(mark)
		for i := range results {
			if ok[i] {
				results[i] = failedResult(rolledBack)
			}
		}
	}
	return jsonResponse(http.StatusOK, results)
}

func (o *Org) upsertItem(w *writer, it collectionItem, ext *fieldDef) (string, bool, *dmlError) {
	value, _ := it.vals[ext.Name].(string)
	if value == "" {
		return "", false, &dmlError{code: "MISSING_ARGUMENT", fields: []string{ext.Name},
			msg: ext.Name + " not specified"}
	}
	return o.upsert(w, it.obj, ext, value, it.vals)
}

// deleteCollection is DELETE /composite/sobjects?ids=...&allOrNone=...
func (o *Org) deleteCollection(req *apiRequest) *response {
	ids := splitList(req.query.Get("ids"))
	if len(ids) == 0 {
		return errorResponse(newAPIError(http.StatusBadRequest, "MISSING_ARGUMENT", "ids parameter is required"))
	}
	if len(ids) > maxCollection {
		return tooManyRecords()
	}
	allOrNone := strings.EqualFold(req.query.Get("allOrNone"), "true")
	w := req.writer()
	mark := req.tx.mark()
	results := make([]object, len(ids))
	ok := make([]bool, len(ids))
	failed := false
	for i, id := range ids {
		var err *dmlError
		full, valid := normalizeID(id)
		obj := o.schema.byPrefix[full[:min(3, len(full))]]
		switch {
		case !valid || obj == nil:
			err = &dmlError{code: "MALFORMED_ID", msg: "malformed id " + id, fields: []string{"Id"}}
		default:
			if err = o.remove(w, obj, full); err == errRecordNotFound {
				err = &dmlError{code: "INVALID_CROSS_REFERENCE_KEY", msg: "invalid cross reference id"}
			}
			id = full
		}
		if err != nil {
			failed = true
			results[i] = object{{"id", id}, {"success", false}, {"errors", []object{err.result()}}}
			continue
		}
		ok[i] = true
		results[i] = saveResult(id)
	}
	if allOrNone && failed {
		req.tx.rollback(mark)
		for i := range results {
			if ok[i] {
				results[i] = object{{"id", ids[i]}, {"success", false}, {"errors", []object{rolledBack.result()}}}
			}
		}
	}
	return jsonResponse(http.StatusOK, results)
}

// retrieveCollection is GET /composite/sobjects/{Type}?ids=...&fields=...:
// the records in the order asked, null for ids that name no live record.
func (o *Org) retrieveCollection(req *apiRequest, obj *objectDef) *response {
	ids := splitList(req.query.Get("ids"))
	names := splitList(req.query.Get("fields"))
	if len(ids) == 0 || len(names) == 0 {
		return errorResponse(newAPIError(http.StatusBadRequest, "MISSING_ARGUMENT", "ids and fields are required"))
	}
	if len(ids) > 2000 {
		return tooManyRecords()
	}
	var fields []*fieldDef
	for _, name := range names {
		f := obj.field(name)
		if f == nil {
			return errorResponse(newAPIError(http.StatusBadRequest, "INVALID_FIELD", noSuchColumn(-1, name, obj.Name).msg))
		}
		fields = append(fields, f)
	}
	out := make([]any, len(ids))
	for i, id := range ids {
		if r := o.liveRecord(id); r != nil && r.obj == obj && !o.faults.isDeleted(r.id) {
			out[i] = renderRecord(r, req.version, fields)
		}
	}
	return jsonResponse(http.StatusOK, out)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
