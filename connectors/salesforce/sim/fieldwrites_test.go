package sim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// apiCall is one request of a test's sequence and the status it must get.
type apiCall struct {
	method, path string
	body         any
	status       int
}

func TestFieldWrites(t *testing.T) {
	const (
		case1 = "500Sd0000000001IAA" // New, High, Email, Billing, contact 003Sd0000000001IAA
		case2 = "500Sd0000000002IAA" // New, Medium
		case3 = "500Sd0000000003IAA" // Working, Low
		base  = "/services/data/v62.0"
	)
	audit := func(subject, status string) map[string]any {
		return map[string]any{"attributes": map[string]any{"type": "Task"}, "Ctibridge_Audit_Id__c": "a-1",
			"Subject": subject, "Status": status, "WhatId": case1}
	}
	tests := []struct {
		name      string
		object    string
		calls     []apiCall
		want      map[string]FieldWrites
		unchanged []UnchangedWrite // an ID "" is a record the calls created
	}{
		{
			name:   "PATCH of one record compares stored values",
			object: "Case",
			calls: []apiCall{
				{http.MethodPatch, "/sobjects/Case/" + case1, map[string]any{"Status": "New", "Priority": "Low",
					"Ctibridge_Due_By__c": "2026-11-23T10:00:00.000Z", "Ctibridge_Auto_Opened__c": false, "Ctibridge_Tags__c": "",
					"Description": "", "ContactId": "003Sd0000000001"}, http.StatusNoContent},
				{http.MethodPatch, "/sobjects/Case/" + case1, map[string]any{"Ctibridge_Due_By__c": "2026-11-23T11:00:00+01:00",
					"Priority": "low", "Ctibridge_Auto_Opened__c": nil, "IsStopped": true}, http.StatusNoContent},
				{http.MethodPatch, "/sobjects/Case/Id/" + case1, map[string]any{"IsStopped": "true"}, http.StatusOK},
			},
			want: map[string]FieldWrites{
				"Status": {Unchanged: 1}, "Priority": {Changed: 2}, "Ctibridge_Due_By__c": {Changed: 1, Unchanged: 1},
				"Ctibridge_Auto_Opened__c": {Unchanged: 2}, "Ctibridge_Tags__c": {Unchanged: 1}, "ContactId": {Unchanged: 1},
				"Description": {Changed: 1}, "IsStopped": {Changed: 1, Unchanged: 1},
			},
			unchanged: []UnchangedWrite{
				{case1, "Status", "New"}, {case1, "ContactId", "003Sd0000000001IAA"},
				{case1, "Ctibridge_Auto_Opened__c", false}, {case1, "Ctibridge_Tags__c", nil},
				{case1, "Ctibridge_Due_By__c", "2026-11-23T10:00:00.000+0000"}, {case1, "Ctibridge_Auto_Opened__c", false},
				{case1, "IsStopped", true},
			},
		},
		{
			name:   "collection update, refused records not counted",
			object: "Case",
			calls: []apiCall{
				{http.MethodPatch, "/composite/sobjects", map[string]any{"allOrNone": false, "records": []any{
					caseRecord(map[string]any{"Id": case1, "Status": "New"}),
					caseRecord(map[string]any{"Id": case2, "Status": "Working"}),
					caseRecord(map[string]any{"Id": case3, "Status": "Working"}),
					caseRecord(map[string]any{"Id": makeID(prefixCase, "Zz", 1), "Status": "Working"}),
					caseRecord(map[string]any{"Id": case1, "Ctibridge_Status__c": strings.Repeat("x", 41)}),
				}}, http.StatusOK},
			},
			want:      map[string]FieldWrites{"Status": {Changed: 1, Unchanged: 2}},
			unchanged: []UnchangedWrite{{case1, "Status", "New"}, {case3, "Status", "Working"}},
		},
		{
			name:   "upserts that find their record count, upserts that create do not",
			object: "Task",
			calls: []apiCall{
				{http.MethodPatch, "/composite/sobjects/Task/Ctibridge_Audit_Id__c", map[string]any{"records": []any{
					audit("Deferred", "Not Started")}}, http.StatusOK},
				{http.MethodPatch, "/composite/sobjects/Task/Ctibridge_Audit_Id__c", map[string]any{"records": []any{
					audit("Deferred", "Completed")}}, http.StatusOK},
				{http.MethodPatch, "/sobjects/Task/Ctibridge_Audit_Id__c/a-1", map[string]any{"Subject": "Deferred"}, http.StatusOK},
			},
			want: map[string]FieldWrites{"Subject": {Unchanged: 2}, "Status": {Changed: 1}, "WhatId": {Unchanged: 1}},
			unchanged: []UnchangedWrite{
				{"", "Subject", "Deferred"}, {"", "WhatId", case1}, {"", "Subject", "Deferred"},
			},
		},
		{
			name:   "creates do not count",
			object: "Case",
			calls: []apiCall{
				{http.MethodPost, "/sobjects/Case", map[string]any{"Subject": "new"}, http.StatusCreated},
				{http.MethodPost, "/composite/sobjects", map[string]any{"records": []any{caseRecord(map[string]any{"Subject": "new"})}},
					http.StatusOK},
			},
			want: map[string]FieldWrites{},
		},
		{
			name:   "refused single writes do not count",
			object: "Case",
			calls: []apiCall{
				{http.MethodPatch, "/sobjects/Case/" + case1, map[string]any{"Status": "New", "ContactId": makeID(prefixContact, "Zz", 1)},
					http.StatusBadRequest},
				{http.MethodPatch, "/sobjects/Case/" + case1, map[string]any{"Status": "New", "Nope__c": 1}, http.StatusBadRequest},
			},
			want: map[string]FieldWrites{},
		},
		{
			name:   "an allOrNone rollback undoes the counts",
			object: "Case",
			calls: []apiCall{
				{http.MethodPatch, "/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
					caseRecord(map[string]any{"Id": case1, "Status": "New"}),
					caseRecord(map[string]any{"Id": case2, "Status": "Working"}),
					caseRecord(map[string]any{"Id": makeID(prefixCase, "Zz", 1), "Status": "Working"}),
				}}, http.StatusOK},
				{http.MethodPost, "/composite", map[string]any{"allOrNone": true, "compositeRequest": []any{
					sub("PATCH", base+"/sobjects/Case/"+case1, "one", map[string]any{"Status": "New"}),
					sub("PATCH", base+"/composite/sobjects", "many", map[string]any{"records": []any{
						caseRecord(map[string]any{"Id": case2, "Priority": "High"})}}),
					sub("PATCH", base+"/sobjects/Case/"+case3, "bad", map[string]any{"Nope__c": "x"}),
				}}, http.StatusOK},
			},
			want: map[string]FieldWrites{},
		},
		{
			name:   "inside /composite",
			object: "Case",
			calls: []apiCall{
				{http.MethodPost, "/composite", map[string]any{"allOrNone": true, "compositeRequest": []any{
					sub("PATCH", base+"/sobjects/Case/"+case1, "one", map[string]any{"Status": "New"}),
					sub("PATCH", base+"/composite/sobjects", "many", map[string]any{"records": []any{
						caseRecord(map[string]any{"Id": case2, "Priority": "Medium"}),
						caseRecord(map[string]any{"Id": case3, "Priority": "Medium"}),
					}}),
				}}, http.StatusOK},
			},
			want:      map[string]FieldWrites{"Status": {Unchanged: 1}, "Priority": {Changed: 1, Unchanged: 1}},
			unchanged: []UnchangedWrite{{case1, "Status", "New"}, {case2, "Priority", "Medium"}},
		},
		{
			name:   "writes to a record deleted since still count",
			object: "Case",
			calls: []apiCall{
				{http.MethodPatch, "/sobjects/Case/" + case1, map[string]any{"Status": "New"}, http.StatusNoContent},
				{http.MethodDelete, "/sobjects/Case/" + case1, nil, http.StatusNoContent},
			},
			want:      map[string]FieldWrites{"Status": {Unchanged: 1}},
			unchanged: []UnchangedWrite{{case1, "Status", "New"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			require.NoError(t, e.org.Seed(DefaultSeed()))
			for i, c := range tc.calls {
				resp, body := e.call(c.method, c.path, c.body)
				require.Equal(t, c.status, resp.StatusCode, "call %d: %s", i, body)
			}
			require.Equal(t, tc.want, e.org.FieldWrites(tc.object))
			unchanged := e.org.UnchangedWrites(tc.object)
			require.NotNil(t, unchanged)
			for i := range unchanged {
				if i < len(tc.unchanged) && tc.unchanged[i].ID == "" {
					unchanged[i].ID = ""
				}
			}
			require.Equal(t, tc.unchanged, append([]UnchangedWrite(nil), unchanged...))
		})
	}
}

func TestFieldWritesIgnorePeopleAndSeed(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	require.NoError(t, e.org.Edit(sam, "Case", "500Sd0000000001IAA", map[string]any{"Status": "New", "Priority": "Low"}))
	_, err := e.org.Create(sam, "Case", map[string]any{"Subject": "by a person"})
	require.NoError(t, err)
	require.Empty(t, e.org.FieldWrites("Case"))
	require.Empty(t, e.org.UnchangedWrites("Case"))
	require.Nil(t, e.org.FieldWrites("Nope"))
	require.Nil(t, e.org.UnchangedWrites("Nope"))
}
