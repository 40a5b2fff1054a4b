package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSObjectCRUD(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	e.clock.Advance(time.Minute) // past the stamps the seed used up
	contact := "003Sd0000000001IAA"

	resp, body := e.call(http.MethodPost, "/sobjects/Case", map[string]any{
		"attributes": map[string]any{"type": "Case"}, "Subject": "Printer on fire", "Origin": "Email", "ContactId": contact[:15],
	})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	var created saveResultJSON
	require.NoError(t, json.Unmarshal(body, &created))
	require.JSONEq(t, `{"id":"`+created.ID+`","success":true,"errors":[]}`, string(body))
	require.Regexp(t, `^500[0-9A-Za-z]{15}$`, created.ID)
	id := created.ID

	rec := e.get("Case", id)
	require.Equal(t, map[string]any{"type": "Case", "url": "/services/data/v62.0/sobjects/Case/" + id}, rec["attributes"])
	require.Equal(t, "Printer on fire", rec["Subject"])
	require.Equal(t, "New", rec["Status"], "defaulted")
	require.Equal(t, "Medium", rec["Priority"], "defaulted")
	require.Equal(t, contact, rec["ContactId"], "stored as 18 characters")
	require.Equal(t, e.org.UserID(), rec["OwnerId"], "owned by the running user")
	require.Equal(t, "00001019", rec["CaseNumber"], "after the 18 seeded Cases")
	require.Equal(t, false, rec["IsClosed"])
	require.Equal(t, "2026-11-22T12:01:00.000+0000", rec["CreatedDate"])
	require.Equal(t, rec["CreatedDate"], rec["SystemModstamp"])
	require.Nil(t, rec["Description"])

	var some map[string]any
	e.callJSON(http.MethodGet, "/sobjects/Case/"+id+"?fields=Subject,status", nil, http.StatusOK, &some)
	require.Len(t, some, 3)
	require.Equal(t, "New", some["Status"])

	// The clock does not move: stamps still increase, one millisecond at a time.
	resp, body = e.call(http.MethodPatch, "/sobjects/Case/"+id, map[string]any{"Status": "Closed", "Ctibridge_Due_By__c": "2026-11-23T09:30:00+01:00"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))
	require.Empty(t, body)
	rec = e.get("Case", id)
	require.Equal(t, "Closed", rec["Status"])
	require.Equal(t, true, rec["IsClosed"])
	require.Equal(t, "2026-11-22T12:01:00.001+0000", rec["ClosedDate"])
	require.Equal(t, "2026-11-22T12:01:00.001+0000", rec["SystemModstamp"])
	require.Equal(t, "2026-11-22T12:01:00.001+0000", rec["LastModifiedDate"])
	require.Equal(t, "2026-11-23T08:30:00.000+0000", rec["Ctibridge_Due_By__c"])
	require.Equal(t, "2026-11-22T12:01:00.000+0000", rec["CreatedDate"])

	e.clock.Advance(time.Minute)
	e.callJSON(http.MethodPatch, "/sobjects/Case/"+id, map[string]any{"Status": "Working", "Description": ""}, http.StatusNoContent, nil)
	rec = e.get("Case", id)
	require.Equal(t, false, rec["IsClosed"])
	require.Nil(t, rec["ClosedDate"])
	require.Equal(t, "2026-11-22T12:02:00.000+0000", rec["SystemModstamp"])

	e.callJSON(http.MethodDelete, "/sobjects/Case/"+id, nil, http.StatusNoContent, nil)
	deleted := e.expectError(http.MethodGet, "/sobjects/Case/"+id, nil, http.StatusNotFound, "ENTITY_IS_DELETED")
	require.Equal(t, "entity is deleted", deleted.Message)
	e.expectError(http.MethodPatch, "/sobjects/Case/"+id, map[string]any{"Status": "New"}, http.StatusNotFound, "ENTITY_IS_DELETED")
	e.expectError(http.MethodDelete, "/sobjects/Case/"+id, nil, http.StatusNotFound, "ENTITY_IS_DELETED")

	unknown := makeID(prefixCase, "Zz", 42)
	resp, body = e.call(http.MethodGet, "/sobjects/Case/"+unknown, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.JSONEq(t, `[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`, string(body))
	e.expectError(http.MethodPatch, "/sobjects/Case/"+unknown, map[string]any{"Status": "New"}, http.StatusNotFound, "NOT_FOUND")
	e.expectError(http.MethodGet, "/sobjects/Case/"+contact, nil, http.StatusNotFound, "NOT_FOUND")
	e.expectError(http.MethodGet, "/sobjects/Nope/"+unknown, nil, http.StatusNotFound, "NOT_FOUND")
	e.expectError(http.MethodPut, "/sobjects/Case/"+unknown, nil, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	require.Equal(t, 16, e.org.Calls()[CallSObject])
}

func TestSObjectWriteErrors(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	caseID := "500Sd0000000001IAA"
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
		msg    string
		fields []string
	}{
		{"unknown field", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"Foo__c": 1}, 400, "INVALID_FIELD",
			"No such column 'Foo__c' on sobject of type Case", nil},
		{"read-only fields", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"CaseNumber": "1", "IsClosed": true}, 400,
			"INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: CaseNumber, IsClosed. Please check the security " +
				"settings of this field and verify that it is read/write for your profile or permission set.", []string{"CaseNumber", "IsClosed"}},
		{"bad date-time", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"Ctibridge_Due_By__c": "tomorrow"}, 400,
			"JSON_PARSER_ERROR", "Cannot deserialize instance of datetime from VALUE_STRING value tomorrow or request may be missing a required field", nil},
		{"bad boolean", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"Ctibridge_Auto_Opened__c": "maybe"}, 400,
			"JSON_PARSER_ERROR", "Cannot deserialize instance of boolean from VALUE_STRING value maybe or request may be missing a required field", nil},
		{"not JSON", http.MethodPatch, "/sobjects/Case/" + caseID, "{", 400, "JSON_PARSER_ERROR", "", nil},
		{"malformed lookup", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"ContactId": "nope"}, 400,
			"MALFORMED_ID", "Contact ID: id value of incorrect type: nope", []string{"ContactId"}},
		{"lookup of the wrong type", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"ContactId": caseID}, 400,
			"FIELD_INTEGRITY_EXCEPTION", "Contact ID: id value of incorrect type: " + caseID, []string{"ContactId"}},
		{"lookup to nothing", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"ContactId": makeID(prefixContact, "Zz", 9)}, 400,
			"INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []string{"ContactId"}},
		{"too long", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"Ctibridge_Status__c": string(make([]byte, 41))}, 400,
			"STRING_TOO_LONG", "", []string{"Ctibridge_Status__c"}},
		{"different Id in body", http.MethodPatch, "/sobjects/Case/" + caseID, map[string]any{"Id": "500Sd0000000002IAA"}, 400,
			"INVALID_FIELD", "The Id field should not be specified in the sobject data.", nil},
		{"Id on create", http.MethodPost, "/sobjects/Case", map[string]any{"Id": caseID}, 400,
			"INVALID_FIELD", "cannot specify Id in an insert call", []string{"Id"}},
		{"required field", http.MethodPost, "/sobjects/Contact", map[string]any{"FirstName": "Ann"}, 400,
			"REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", []string{"LastName"}},
		{"clearing a required field", http.MethodPatch, "/sobjects/Contact/003Sd0000000001IAA", map[string]any{"LastName": nil}, 400,
			"REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", []string{"LastName"}},
		{"unique value", http.MethodPost, "/sobjects/User", map[string]any{"Username": "ALICE@local.test", "LastName": "A", "Email": "a@b.c"}, 400,
			"DUPLICATE_VALUE", "duplicate value found: Username duplicates value on record with id: 005Sd0000000001IAA", []string{"Username"}},
		{"users cannot be deleted", http.MethodDelete, "/sobjects/User/005Sd0000000001IAA", nil, 400,
			"INSUFFICIENT_ACCESS_OR_READONLY", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := e.expectError(tc.method, tc.path, tc.body, tc.status, tc.code)
			if tc.msg != "" {
				require.Equal(t, tc.msg, got.Message)
			}
			if tc.fields != nil {
				require.Equal(t, tc.fields, got.Fields)
			}
		})
	}
	rec := e.get("Case", caseID)
	require.Equal(t, "Charged twice for invoice INV-20931", rec["Subject"], "no failed write changed the record")
}

func TestUpsertByExternalID(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	path := "/sobjects/Task/Ctibridge_Audit_Id__c/audit-0001"
	body := map[string]any{"Subject": "Interaction deferred", "WhatId": "500Sd0000000001IAA", "Status": "Completed"}

	resp, data := e.call(http.MethodPatch, path, body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(data))
	var res saveResultJSON
	require.NoError(t, json.Unmarshal(data, &res))
	require.JSONEq(t, `{"id":"`+res.ID+`","success":true,"errors":[],"created":true}`, string(data))

	body["Subject"] = "Interaction resumed by an agent"
	resp, data = e.call(http.MethodPatch, path, body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	require.JSONEq(t, `{"id":"`+res.ID+`","success":true,"errors":[],"created":false}`, string(data))

	var tasks []map[string]any
	for _, r := range e.org.Records("Task") {
		if r["Ctibridge_Audit_Id__c"] == "audit-0001" {
			tasks = append(tasks, r)
		}
	}
	require.Len(t, tasks, 1)
	require.Equal(t, "Interaction resumed by an agent", tasks[0]["Subject"])
	require.Equal(t, true, tasks[0]["IsClosed"])

	got := e.get("Task/Ctibridge_Audit_Id__c", "AUDIT-0001")
	require.Equal(t, res.ID, got["Id"], "external ids match without regard to case")

	notExternal := e.expectError(http.MethodPatch, "/sobjects/Task/Subject/x", body, http.StatusNotFound, "NOT_FOUND")
	require.Equal(t, "Provided external ID field does not exist or is not accessible: Subject", notExternal.Message)
	e.callJSON(http.MethodDelete, path, nil, http.StatusNoContent, nil)
	e.expectError(http.MethodGet, path, nil, http.StatusNotFound, "NOT_FOUND")
}

func TestDescribe(t *testing.T) {
	e := newEnv(t, Options{})
	var d struct {
		Name, KeyPrefix string
		Fields          []struct {
			Name                                                         string
			Type                                                         string
			Createable, Updateable, Nillable, ExternalID, Unique, Custom bool
			Filterable                                                   bool
			ReferenceTo                                                  []string
			RelationshipName                                             *string
			PicklistValues                                               []struct{ Value string }
		}
	}
	e.callJSON(http.MethodGet, "/sobjects/Task/describe", nil, http.StatusOK, &d)
	require.Equal(t, "Task", d.Name)
	require.Equal(t, "00T", d.KeyPrefix)
	byName := map[string]int{}
	for i, f := range d.Fields {
		byName[f.Name] = i
	}
	audit := d.Fields[byName["Ctibridge_Audit_Id__c"]]
	require.True(t, audit.ExternalID && audit.Unique && audit.Custom && audit.Createable && audit.Nillable)
	what := d.Fields[byName["WhatId"]]
	require.Equal(t, "reference", what.Type)
	require.Equal(t, []string{"Case", "LiveChatTranscript"}, what.ReferenceTo)
	require.Equal(t, "What", *what.RelationshipName)
	created := d.Fields[byName["CreatedDate"]]
	require.False(t, created.Createable || created.Updateable || created.Nillable)
	require.Equal(t, "datetime", created.Type)
	require.Len(t, d.Fields[byName["Status"]].PicklistValues, 5)

	var c struct{ Fields []struct{ Name, Type string } }
	e.callJSON(http.MethodGet, "/sobjects/Case/describe", nil, http.StatusOK, &c)
	var names []string
	for _, f := range c.Fields {
		names = append(names, f.Name)
	}
	for _, want := range []string{"Id", "CaseNumber", "Subject", "Description", "Status", "Priority", "Origin", "OwnerId",
		"ContactId", "Type", "Reason", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsClosed", "Ctibridge_Status__c",
		"Ctibridge_Due_By__c", "Ctibridge_Due_By_Set_Manually__c", "Ctibridge_Auto_Opened__c", "Ctibridge_Resumed_From__c",
		"Ctibridge_Tags__c", "IsStopped", "StopStartDate"} {
		require.Contains(t, names, want)
	}
	var basic map[string]any
	e.callJSON(http.MethodGet, "/sobjects/LiveChatTranscript", nil, http.StatusOK, &basic)
	require.Equal(t, "570", basic["objectDescribe"].(map[string]any)["keyPrefix"])
	require.Equal(t, 3, e.org.Calls()[CallDescribe])
}

func TestDescribeCaseDerivedFields(t *testing.T) {
	e := newEnv(t, Options{})
	type fieldJSON struct {
		Name, Label, Type                                   string
		Createable, Updateable, Nillable, DefaultedOnCreate bool
		Filterable, Sortable, Calculated                    bool
	}
	var d struct{ Fields []fieldJSON }
	e.callJSON(http.MethodGet, "/sobjects/Case/describe", nil, http.StatusOK, &d)
	byName := map[string]fieldJSON{}
	for _, f := range d.Fields {
		byName[f.Name] = f
	}
	tests := []fieldJSON{
		{Name: "IsStopped", Label: "Stopped", Type: "boolean", Createable: true, Updateable: true, DefaultedOnCreate: true,
			Filterable: true, Sortable: true},
		{Name: "StopStartDate", Label: "Stopped Since", Type: "datetime", Nillable: true, Filterable: true, Sortable: true},
		{Name: "IsClosed", Label: "Closed", Type: "boolean", DefaultedOnCreate: true, Filterable: true, Sortable: true, Calculated: true},
		{Name: "ClosedDate", Label: "Closed Date", Type: "datetime", Nillable: true, Filterable: true, Sortable: true},
		{Name: "CreatedDate", Label: "Created Date", Type: "datetime", DefaultedOnCreate: true, Filterable: true, Sortable: true},
	}
	for _, want := range tests {
		t.Run(want.Name, func(t *testing.T) {
			require.Equal(t, want, byName[want.Name])
		})
	}
}

func TestSeedFiles(t *testing.T) {
	org := New(Options{})
	require.NoError(t, org.LoadSeed("../../../testdata/salesforce/seed.json"))
	counts := map[string]int{}
	for _, name := range []string{"User", "Contact", "Case", "LiveChatTranscript", "Task"} {
		counts[name] = len(org.Records(name))
	}
	require.Equal(t, map[string]int{"User": 6, "Contact": 8, "Case": 18, "LiveChatTranscript": 8, "Task": 2}, counts)

	origins, types := map[any]int{}, map[any]int{}
	for _, c := range org.Records("Case") {
		origins[c["Origin"]]++
		if c["Type"] == "Billing" {
			types["billing"]++
		} else {
			types["support"]++
		}
	}
	require.Equal(t, map[any]int{"Email": 9, "Web": 6, "Phone": 3}, origins)
	require.Equal(t, map[any]int{"billing": 7, "support": 11}, types)

	shared, err := os.ReadFile("../../../testdata/salesforce/seed.json")
	require.NoError(t, err)
	require.Equal(t, string(shared), string(defaultSeed), "seed.json here (embedded) must stay a copy of testdata/salesforce/seed.json")

	bad := New(Options{})
	err = bad.Seed([]Record{
		{"attributes": map[string]any{"type": "Contact"}, "LastName": "Fine"},
		{"attributes": map[string]any{"type": "Contact"}, "Nope": "x"},
	})
	require.EqualError(t, err, "seed record 1 (Contact): INVALID_FIELD: No such column 'Nope' on sobject of type Contact")
	require.Empty(t, bad.Records("Contact"), "a failed seed inserts nothing")
	require.ErrorContains(t, bad.Seed([]Record{{"Name": "x"}}), `unknown sObject type ""`)
	require.ErrorContains(t, bad.LoadSeed("no/such/file.json"), "load seed")
}

func TestCaseStoppedEntitlement(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	e.clock.Advance(time.Minute) // past the stamps the seed used up
	id := "500Sd0000000001IAA"
	seeded := e.get("Case", id)
	require.Equal(t, false, seeded["IsStopped"], "defaulted on create")
	require.Nil(t, seeded["StopStartDate"])

	// Each step writes the Case in turn; since is StopStartDate afterwards,
	// "now" for the time of that very write.
	steps := []struct {
		name    string
		advance time.Duration
		body    map[string]any
		stopped bool
		since   string
	}{
		{"stopping sets the write time", 0, map[string]any{"IsStopped": true}, true, "now"},
		{"stopping again keeps it", time.Minute, map[string]any{"IsStopped": true}, true, "2026-11-22T12:01:00.000+0000"},
		{"other writes keep it", time.Minute, map[string]any{"Status": "Working"}, true, "2026-11-22T12:01:00.000+0000"},
		{"closing keeps it", time.Minute, map[string]any{"Status": "Closed"}, true, "2026-11-22T12:01:00.000+0000"},
		{"resuming clears it", time.Minute, map[string]any{"IsStopped": false, "Status": "Working"}, false, ""},
		{"null is false", time.Minute, map[string]any{"IsStopped": nil}, false, ""},
		{"stopping later sets the new time", time.Minute, map[string]any{"IsStopped": "true"}, true, "now"},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			e.clock.Advance(step.advance)
			e.callJSON(http.MethodPatch, "/sobjects/Case/"+id, step.body, http.StatusNoContent, nil)
			rec := e.get("Case", id)
			require.Equal(t, step.stopped, rec["IsStopped"])
			switch step.since {
			case "":
				require.Nil(t, rec["StopStartDate"])
			case "now":
				require.Equal(t, rec["LastModifiedDate"], rec["StopStartDate"])
			default:
				require.Equal(t, step.since, rec["StopStartDate"])
			}
		})
	}

	created := e.create("Case", map[string]any{"Subject": "Stopped from the start", "IsStopped": true})
	rec := e.get("Case", created)
	require.Equal(t, true, rec["IsStopped"])
	require.Equal(t, rec["CreatedDate"], rec["StopStartDate"])

	var res queryResult
	e.callJSON(http.MethodGet, "/query?q="+url.QueryEscape("SELECT Id FROM Case WHERE IsStopped = true AND StopStartDate != null ORDER BY StopStartDate"),
		nil, http.StatusOK, &res)
	require.Equal(t, []string{id, created}, ids(res.Records))

	// StopStartDate is the org's: clients can neither create nor update it.
	for _, method := range []string{http.MethodPost, http.MethodPatch} {
		path := "/sobjects/Case"
		if method == http.MethodPatch {
			path += "/" + id
		}
		refused := e.expectError(method, path, map[string]any{"StopStartDate": "2026-11-22T09:00:00Z"}, http.StatusBadRequest,
			"INVALID_FIELD_FOR_INSERT_UPDATE")
		require.Equal(t, []string{"StopStartDate"}, refused.Fields)
	}
}
