package sim

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func caseRecord(fields map[string]any) map[string]any {
	fields["attributes"] = map[string]any{"type": "Case"}
	return fields
}

func TestCollectionCreate(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	var res []saveResultJSON
	e.callJSON(http.MethodPost, "/composite/sobjects/", map[string]any{"allOrNone": false, "records": []any{
		caseRecord(map[string]any{"Subject": "one"}),
		map[string]any{"attributes": map[string]any{"type": "Task"}, "Subject": "two", "WhatId": "500Sd0000000001IAA"},
		caseRecord(map[string]any{"Subject": "three", "Id": "500Sd0000000001IAA"}),
		caseRecord(map[string]any{"Subject": "four"}),
	}}, http.StatusOK, &res)
	require.Len(t, res, 4)
	require.True(t, res[0].Success)
	require.Regexp(t, `^500`, res[0].ID)
	require.Regexp(t, `^00T`, res[1].ID)
	require.False(t, res[2].Success)
	require.Empty(t, res[2].ID)
	require.Equal(t, "INVALID_FIELD", res[2].Errors[0].StatusCode)
	require.True(t, res[3].Success)
	require.Equal(t, "one", e.get("Case", res[0].ID)["Subject"])
	require.Equal(t, 1, e.org.Calls()[CallCollections])
}

func TestCollectionUpdatePerRecordErrors(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	ids := []string{"500Sd0000000001IAA", "500Sd0000000002IAA", "500Sd0000000003IAA", "500Sd0000000004IAA",
		"500Sd0000000005IAA", "500Sd0000000006IAA", "500Sd0000000007IAA"}
	e.org.Faults().LockRows(1, ids[2])
	e.org.Faults().MarkDeleted(ids[3])
	e.org.Faults().AddValidationRule("Case", "Ctibridge_Due_By__c", "Due date is required when deferring",
		func(r map[string]any) bool {
			return r["Ctibridge_Status__c"] == "deferred" && r["Ctibridge_Due_By__c"] == nil
		})
	e.org.Faults().Require("Case", "Subject")

	var res []saveResultJSON
	body := map[string]any{"allOrNone": false, "records": []any{
		caseRecord(map[string]any{"id": ids[0], "Ctibridge_Status__c": "open"}),
		caseRecord(map[string]any{"Ctibridge_Status__c": "open"}),
		caseRecord(map[string]any{"Id": ids[2], "Ctibridge_Status__c": "open"}),
		caseRecord(map[string]any{"Id": ids[3], "Ctibridge_Status__c": "open"}),
		caseRecord(map[string]any{"Id": makeID(prefixCase, "Zz", 1), "Ctibridge_Status__c": "open"}),
		caseRecord(map[string]any{"Id": ids[5], "Ctibridge_Status__c": "deferred"}),
		caseRecord(map[string]any{"Id": ids[6], "Subject": nil}),
		caseRecord(map[string]any{"Id": ids[1][:15], "Ctibridge_Status__c": "deferred", "Ctibridge_Due_By__c": "2026-11-23T10:00:00Z"}),
		caseRecord(map[string]any{"Id": "003Sd0000000001IAA", "Ctibridge_Status__c": "open"}),
	}}
	e.callJSON(http.MethodPatch, "/composite/sobjects", body, http.StatusOK, &res)
	type outcome struct{ code, msg string }
	var got []outcome
	for _, r := range res {
		if r.Success {
			got = append(got, outcome{"ok " + r.ID, ""})
			continue
		}
		require.Len(t, r.Errors, 1)
		require.NotNil(t, r.Errors[0].Fields, "fields is always present")
		got = append(got, outcome{r.Errors[0].StatusCode, r.Errors[0].Message})
	}
	require.Equal(t, []outcome{
		{"ok " + ids[0], ""},
		{"MISSING_ARGUMENT", "Id not specified in an update call"},
		{"UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records: " + ids[2]},
		{"ENTITY_IS_DELETED", "entity is deleted"},
		{"INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"},
		{"FIELD_CUSTOM_VALIDATION_EXCEPTION", "Due date is required when deferring"},
		{"REQUIRED_FIELD_MISSING", "Required fields are missing: [Subject]"},
		{"ok " + ids[1], ""},
		{"MALFORMED_ID", "Case ID: id value of incorrect type: 003Sd0000000001IAA"},
	}, got)
	require.Equal(t, []string{"Ctibridge_Due_By__c"}, res[5].Errors[0].Fields)
	require.Equal(t, "open", e.get("Case", ids[0])["Ctibridge_Status__c"])
	require.Nil(t, e.get("Case", ids[2])["Ctibridge_Status__c"])

	// The lock was for one write only: a retry goes through.
	e.callJSON(http.MethodPatch, "/composite/sobjects", map[string]any{"records": []any{
		caseRecord(map[string]any{"Id": ids[2], "Ctibridge_Status__c": "open"}),
	}}, http.StatusOK, &res)
	require.True(t, res[0].Success)
}

func TestCollectionAllOrNone(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	before := e.org.Records("Case")
	e.org.Faults().LockRows(0, "500Sd0000000003IAA")
	var res []saveResultJSON
	e.callJSON(http.MethodPatch, "/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		caseRecord(map[string]any{"Id": "500Sd0000000001IAA", "Status": "Working"}),
		caseRecord(map[string]any{"Id": "500Sd0000000002IAA", "Status": "Working"}),
		caseRecord(map[string]any{"Id": "500Sd0000000003IAA", "Status": "Working"}),
		caseRecord(map[string]any{"Id": "500Sd0000000004IAA", "Status": "Working"}),
	}}, http.StatusOK, &res)
	for i, r := range res {
		require.False(t, r.Success)
		want := "ALL_OR_NONE_OPERATION_ROLLED_BACK"
		if i == 2 {
			want = "UNABLE_TO_LOCK_ROW"
		}
		require.Equal(t, want, r.Errors[0].StatusCode)
	}
	require.Equal(t, "Record rolled back because not all records were valid and the request was using AllOrNone header",
		res[0].Errors[0].Message)
	require.Equal(t, before, e.org.Records("Case"), "nothing changed")

	// Creates roll back too; the ids they had are not reused.
	e.callJSON(http.MethodPost, "/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		caseRecord(map[string]any{"Subject": "kept?"}),
		map[string]any{"attributes": map[string]any{"type": "Contact"}, "FirstName": "No last name"},
	}}, http.StatusOK, &res)
	require.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", res[0].Errors[0].StatusCode)
	require.Equal(t, "REQUIRED_FIELD_MISSING", res[1].Errors[0].StatusCode)
	require.Len(t, e.org.Records("Case"), 18)
	require.Len(t, e.org.Records("Contact"), 8)

	e.org.Faults().UnlockRows("500Sd0000000003IAA")
	e.callJSON(http.MethodPatch, "/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		caseRecord(map[string]any{"Id": "500Sd0000000003IAA", "Status": "Working"}),
	}}, http.StatusOK, &res)
	require.True(t, res[0].Success)
}

func TestCollectionLimitsAndRequestErrors(t *testing.T) {
	e := newEnv(t, Options{})
	seedCases(t, e.org, 201)
	records := make([]any, 201)
	for i, r := range e.org.Records("Case") {
		records[i] = caseRecord(map[string]any{"Id": r["Id"], "Status": "Working"})
	}
	tooMany := e.expectError(http.MethodPatch, "/composite/sobjects", map[string]any{"records": records}, http.StatusBadRequest, "EXCEEDED_ID_LIMIT")
	require.Equal(t, "record limit reached. cannot submit more than 200 records into this call", tooMany.Message)

	var res []saveResultJSON
	e.callJSON(http.MethodPatch, "/composite/sobjects", map[string]any{"records": records[:200]}, http.StatusOK, &res)
	require.Len(t, res, 200)
	for _, r := range res {
		require.True(t, r.Success)
	}

	// Deserialization errors fail the whole request, before any record is saved.
	bad := []any{caseRecord(map[string]any{"Subject": "fine"}), caseRecord(map[string]any{"Nope__c": 1})}
	unknown := e.expectError(http.MethodPost, "/composite/sobjects", map[string]any{"records": bad}, http.StatusBadRequest, "INVALID_FIELD")
	require.Equal(t, "No such column 'Nope__c' on sobject of type Case", unknown.Message)
	e.expectError(http.MethodPost, "/composite/sobjects", map[string]any{"records": []any{map[string]any{"Subject": "x"}}},
		http.StatusBadRequest, "INVALID_TYPE")
	e.expectError(http.MethodPost, "/composite/sobjects", map[string]any{"records": []any{
		map[string]any{"attributes": map[string]any{"type": "Account"}, "Name": "x"}}}, http.StatusBadRequest, "INVALID_TYPE")
	e.expectError(http.MethodPost, "/composite/sobjects", `{"records": [`, http.StatusBadRequest, "JSON_PARSER_ERROR")
	require.Len(t, e.org.Records("Case"), 201)
	e.expectError(http.MethodPut, "/composite/sobjects", nil, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
}

func TestCollectionUpsertDeleteRetrieve(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	audit := func(id, subject string) map[string]any {
		return map[string]any{"attributes": map[string]any{"type": "Task"}, "Ctibridge_Audit_Id__c": id,
			"Subject": subject, "WhatId": "500Sd0000000001IAA"}
	}
	var res []saveResultJSON
	e.callJSON(http.MethodPatch, "/composite/sobjects/Task/Ctibridge_Audit_Id__c", map[string]any{"allOrNone": false,
		"records": []any{audit("a-1", "first"), audit("a-2", "second")}}, http.StatusOK, &res)
	require.True(t, *res[0].Created && *res[1].Created)
	first := res[0].ID

	e.callJSON(http.MethodPatch, "/composite/sobjects/Task/Ctibridge_Audit_Id__c", map[string]any{"allOrNone": false,
		"records": []any{audit("a-1", "first, again"), audit("a-3", "third"), audit("", "no key")}}, http.StatusOK, &res)
	require.Equal(t, first, res[0].ID)
	require.False(t, *res[0].Created)
	require.True(t, *res[1].Created)
	require.Equal(t, "MISSING_ARGUMENT", res[2].Errors[0].StatusCode)
	require.Len(t, e.org.Records("Task"), 5)

	e.expectError(http.MethodPatch, "/composite/sobjects/Task/Subject", map[string]any{"records": []any{}}, http.StatusNotFound, "NOT_FOUND")

	var got []map[string]any
	e.callJSON(http.MethodGet, "/composite/sobjects/Task?ids="+first+","+makeID(prefixTask, "Zz", 1)+"&fields=Subject,Ctibridge_Audit_Id__c",
		nil, http.StatusOK, &got)
	require.Len(t, got, 2)
	require.Equal(t, "first, again", got[0]["Subject"])
	require.Nil(t, got[1])

	e.callJSON(http.MethodDelete, "/composite/sobjects?allOrNone=false&ids="+first+",nope,"+first, nil, http.StatusOK, &res)
	require.True(t, res[0].Success)
	require.Equal(t, "MALFORMED_ID", res[1].Errors[0].StatusCode)
	require.Equal(t, "ENTITY_IS_DELETED", res[2].Errors[0].StatusCode)
	require.Equal(t, first, res[2].ID)
	require.Len(t, e.org.Records("Task"), 4)

	e.callJSON(http.MethodDelete, fmt.Sprintf("/composite/sobjects?allOrNone=true&ids=%s,%s", "00TSd0000000001MAA", first), nil, http.StatusOK, &res)
	require.Equal(t, "ALL_OR_NONE_OPERATION_ROLLED_BACK", res[0].Errors[0].StatusCode)
	require.Len(t, e.org.Records("Task"), 4)

	raw, _ := e.call(http.MethodGet, "/composite/sobjects/Task?ids="+first, nil)
	require.Equal(t, http.StatusBadRequest, raw.StatusCode)

}

func TestWritesCountsEachCreateAndUpdate(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	seeded := "500Sd0000000001IAA"
	require.Empty(t, e.org.Writes("Case"), "Seed's inserts are not writes")
	e.org.Faults().LockRows(1, "500Sd0000000002IAA")
	var res []saveResultJSON
	e.callJSON(http.MethodPatch, "/composite/sobjects/", map[string]any{"allOrNone": false, "records": []any{
		caseRecord(map[string]any{"Id": seeded, "Ctibridge_Status__c": "open"}),
		caseRecord(map[string]any{"Id": "500Sd0000000002IAA", "Ctibridge_Status__c": "open"}),
	}}, http.StatusOK, &res)
	require.False(t, res[1].Success, "a refused write does not count")
	upsert := func() {
		var r []saveResultJSON
		e.callJSON(http.MethodPatch, "/composite/sobjects/Task/Ctibridge_Audit_Id__c", map[string]any{"allOrNone": false,
			"records": []any{map[string]any{"attributes": map[string]any{"type": "Task"}, "Ctibridge_Audit_Id__c": "a-1",
				"Subject": "audit", "WhatId": seeded}}}, http.StatusOK, &r)
		require.True(t, r[0].Success, "%+v", r)
	}
	upsert()
	require.Equal(t, map[string]int{"500Sd0000000001IAA": 1}, e.org.Writes("Case"))
	tasks := e.org.Writes("Task")
	require.Len(t, tasks, 1)
	upsert()
	for id := range tasks {
		require.Equal(t, 2, e.org.Writes("Task")[id], "an upsert that finds its record is an update")
	}
	require.Nil(t, e.org.Writes("NoSuchObject"))
}
