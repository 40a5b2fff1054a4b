package sim

import (
	"net/http"
	"strings"
)

// handleSObjects serves /sobjects: describeGlobal, describe, and the create,
// read, update, upsert and delete of single records.
func (o *Org) handleSObjects(req *apiRequest) *response {
	segs := req.segs
	if len(segs) == 1 {
		if req.method != http.MethodGet {
			return errorResponse(methodNotAllowed(req.method, "GET", "HEAD"))
		}
		return o.describeGlobal(req.version)
	}
	obj := o.schema.object(segs[1])
	if obj == nil {
		return errorResponse(notFound())
	}
	switch len(segs) {
	case 2:
		switch req.method {
		case http.MethodGet:
			return jsonResponse(http.StatusOK, object{
				{"objectDescribe", describeSummary(obj, req.version)}, {"recentItems", []object{}},
			})
		case http.MethodPost:
			return o.createOne(req, obj)
		}
		return errorResponse(methodNotAllowed(req.method, "GET", "HEAD", "POST"))
	case 3:
		if segs[2] == "describe" {
			if req.method != http.MethodGet {
				return errorResponse(methodNotAllowed(req.method, "GET", "HEAD"))
			}
			return jsonResponse(http.StatusOK, describe(obj, req.version))
		}
		switch req.method {
		case http.MethodGet:
			return o.getOne(req, obj, segs[2])
		case http.MethodPatch:
			return o.updateOne(req, obj, segs[2])
		case http.MethodDelete:
			return o.deleteOne(req, obj, segs[2])
		}
		return errorResponse(methodNotAllowed(req.method, "GET", "HEAD", "PATCH", "DELETE"))
	case 4:
		ext := obj.field(segs[2])
		if ext == nil || !ext.ExternalID && ext.Type != typeID {
			return errorResponse(newAPIError(http.StatusNotFound, "NOT_FOUND",
				"Provided external ID field does not exist or is not accessible: "+segs[2]))
		}
		switch req.method {
		case http.MethodGet:
			return o.getOne(req, obj, o.idByExternal(obj, ext, segs[3]))
		case http.MethodPatch:
			return o.upsertOne(req, obj, ext, segs[3])
		case http.MethodDelete:
			return o.deleteOne(req, obj, o.idByExternal(obj, ext, segs[3]))
		}
		return errorResponse(methodNotAllowed(req.method, "GET", "HEAD", "PATCH", "DELETE"))
	}
	return errorResponse(notFound())
}

// idByExternal finds the live record whose external id field has value; "" if none.
func (o *Org) idByExternal(obj *objectDef, ext *fieldDef, value string) string {
	if ext.Type == typeID {
		return value
	}
	return o.tableFor(obj).unique[ext.Name][strings.ToLower(value)]
}

// decodeOne decodes the body of a single-record write.
func decodeOne(obj *objectDef, body []byte) (map[string]any, string, *apiError) {
	var in map[string]any
	if err := decodeJSON(body, &in); err != nil {
		return nil, "", err
	}
	return decodeRecord(obj, in)
}

func saveResult(id string) object {
	return object{{"id", id}, {"success", true}, {"errors", []object{}}}
}

func (o *Org) createOne(req *apiRequest, obj *objectDef) *response {
	vals, id, aerr := decodeOne(obj, req.body)
	if aerr != nil {
		return errorResponse(aerr)
	}
	id, derr := o.create(req.writer(), obj, vals, id)
	if derr != nil {
		return errorResponse(derr.apiError())
	}
	resp := jsonResponse(http.StatusCreated, saveResult(id))
	resp.headers = map[string]string{"Location": recordURL(req.version, obj.Name, id)}
	return resp
}

func (o *Org) getOne(req *apiRequest, obj *objectDef, id string) *response {
	fields := obj.Fields
	if list := req.query.Get("fields"); list != "" {
		fields = nil
		for _, name := range strings.Split(list, ",") {
			f := obj.field(strings.TrimSpace(name))
			if f == nil {
				return errorResponse(newAPIError(http.StatusBadRequest, "INVALID_FIELD",
					noSuchColumn(-1, strings.TrimSpace(name), obj.Name).msg))
			}
			fields = append(fields, f)
		}
	}
	full, ok := normalizeID(id)
	if !ok || full[:3] != obj.KeyPrefix {
		return errorResponse(notFound())
	}
	r := o.tableFor(obj).rows[full]
	switch {
	case r == nil:
		return errorResponse(notFound())
	case r.deleted || o.faults.isDeleted(full):
		return errorResponse((&dmlError{code: "ENTITY_IS_DELETED", msg: "entity is deleted"}).apiError())
	}
	return jsonResponse(http.StatusOK, renderRecord(r, req.version, fields))
}

// singleWriteError maps a save error of a record named in the URL to its
// REST response: an id that names no record of the type is 404 NOT_FOUND.
func singleWriteError(err *dmlError) *response {
	if err == errRecordNotFound || err.code == "MALFORMED_ID" && len(err.fields) == 1 && err.fields[0] == "Id" {
		return errorResponse(notFound())
	}
	return errorResponse(err.apiError())
}

func (o *Org) updateOne(req *apiRequest, obj *objectDef, id string) *response {
	vals, bodyID, aerr := decodeOne(obj, req.body)
	if aerr != nil {
		return errorResponse(aerr)
	}
	if bodyID != "" && !sameID(bodyID, id) {
		return errorResponse(newAPIError(http.StatusBadRequest, "INVALID_FIELD",
			"The Id field should not be specified in the sobject data."))
	}
	if derr := o.update(req.writer(), obj, id, vals); derr != nil {
		return singleWriteError(derr)
	}
	return &response{status: http.StatusNoContent}
}

func sameID(a, b string) bool {
	x, ok1 := normalizeID(a)
	y, ok2 := normalizeID(b)
	return ok1 && ok2 && x == y
}

func (o *Org) deleteOne(req *apiRequest, obj *objectDef, id string) *response {
	if id == "" {
		return errorResponse(notFound())
	}
	if derr := o.remove(req.writer(), obj, id); derr != nil {
		return singleWriteError(derr)
	}
	return &response{status: http.StatusNoContent}
}

// upsertOne is PATCH /sobjects/{Type}/{ExternalIdField}/{value}: 201 when it
// created the record, 200 when it updated one.
func (o *Org) upsertOne(req *apiRequest, obj *objectDef, ext *fieldDef, value string) *response {
	vals, _, aerr := decodeOne(obj, req.body)
	if aerr != nil {
		return errorResponse(aerr)
	}
	w := req.writer()
	if ext.Type == typeID {
		if derr := o.update(w, obj, value, vals); derr != nil {
			return singleWriteError(derr)
		}
		full, _ := normalizeID(value)
		return jsonResponse(http.StatusOK, append(saveResult(full), member{"created", false}))
	}
	id, created, derr := o.upsert(w, obj, ext, value, vals)
	if derr != nil {
		return errorResponse(derr.apiError())
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	resp := jsonResponse(status, append(saveResult(id), member{"created", created}))
	if created {
		resp.headers = map[string]string{"Location": recordURL(req.version, obj.Name, id)}
	}
	return resp
}

func objectURLs(obj *objectDef, version string) object {
	base := "/services/data/v" + version + "/sobjects/" + obj.Name
	return object{
		{"sobject", base},
		{"describe", base + "/describe"},
		{"rowTemplate", base + "/{ID}"},
	}
}

func describeSummary(obj *objectDef, version string) object {
	return object{
		{"name", obj.Name},
		{"label", obj.Label},
		{"labelPlural", obj.LabelPlural},
		{"keyPrefix", obj.KeyPrefix},
		{"custom", false},
		{"createable", obj.Createable},
		{"updateable", obj.Updateable},
		{"deletable", obj.Deletable},
		{"queryable", true},
		{"searchable", true},
		{"urls", objectURLs(obj, version)},
	}
}

func (o *Org) describeGlobal(version string) *response {
	var list []object
	for _, obj := range o.schema.objects {
		list = append(list, describeSummary(obj, version))
	}
	return jsonResponse(http.StatusOK, object{{"encoding", "UTF-8"}, {"maxBatchSize", 200}, {"sobjects", list}})
}

// describe is the body of GET /sobjects/{Type}/describe.
func describe(obj *objectDef, version string) object {
	var fields []object
	for _, f := range obj.Fields {
		var rel any
		if f.RelationshipName != "" {
			rel = f.RelationshipName
		}
		referenceTo := f.ReferenceTo
		if referenceTo == nil {
			referenceTo = []string{}
		}
		picklist := []object{}
		for _, v := range f.Picklist {
			picklist = append(picklist, object{
				{"active", true}, {"defaultValue", f.DefaultOnCreate == v}, {"label", v}, {"validFor", nil}, {"value", v},
			})
		}
		fields = append(fields, object{
			{"name", f.Name},
			{"label", f.Label},
			{"type", string(f.Type)},
			{"length", f.Length},
			{"createable", f.Createable},
			{"updateable", f.Updateable},
			{"nillable", f.Nillable},
			// The org sets its read-only fields on create, except the nillable
			// ones it derives later (ClosedDate, StopStartDate).
			{"defaultedOnCreate", f.DefaultOnCreate != nil || f.Name == "OwnerId" || !f.Createable && !f.Calculated && !f.Nillable},
			{"externalId", f.ExternalID},
			{"unique", f.Unique},
			{"idLookup", f.Type == typeID || f.ExternalID || f.Unique},
			{"custom", f.Custom},
			{"filterable", f.Filterable},
			{"sortable", f.Sortable},
			{"autoNumber", f.AutoNumber},
			{"calculated", f.Calculated},
			{"nameField", f.Name == "Name" || f.Name == "CaseNumber" && obj.Name == "Case" || f.Name == "Subject" && obj.Name == "Task"},
			{"referenceTo", referenceTo},
			{"relationshipName", rel},
			{"picklistValues", picklist},
			{"soapType", soapType(f.Type)},
		})
	}
	out := describeSummary(obj, version)
	out = append(out, member{"fields", fields})
	return out
}

func soapType(t fieldType) string {
	switch t {
	case typeID, typeReference:
		return "tns:ID"
	case typeBoolean:
		return "xsd:boolean"
	case typeDateTime:
		return "xsd:dateTime"
	case typeDate:
		return "xsd:date"
	case typeDouble:
		return "xsd:double"
	}
	return "xsd:string"
}
