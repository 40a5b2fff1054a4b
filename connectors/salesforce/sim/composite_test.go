package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

type compositeResult struct {
	CompositeResponse []struct {
		Body           json.RawMessage   `json:"body"`
		HTTPHeaders    map[string]string `json:"httpHeaders"`
		HTTPStatusCode int               `json:"httpStatusCode"`
		ReferenceID    string            `json:"referenceId"`
	} `json:"compositeResponse"`
}

func sub(method, url, ref string, body any) map[string]any {
	s := map[string]any{"method": method, "url": url, "referenceId": ref}
	if body != nil {
		s["body"] = body
	}
	return s
}

func TestCompositeReferencesAndOneCall(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	before := e.org.Total()
	const base = "/services/data/v62.0"
	var res compositeResult
	e.callJSON(http.MethodPost, "/composite", map[string]any{"allOrNone": true, "compositeRequest": []any{
		sub("POST", base+"/sobjects/Case", "newCase", map[string]any{"Subject": "From composite", "Origin": "Web"}),
		sub("PATCH", base+"/sobjects/Case/@{newCase.id}", "update", map[string]any{"Status": "Working"}),
		sub("GET", base+"/query?q="+url.QueryEscape("SELECT Id, CaseNumber, Status FROM Case WHERE Id = '@{newCase.id}'"), "read", nil),
		sub("POST", base+"/sobjects/Task", "audit", map[string]any{"Subject": "Case @{read.records[0].CaseNumber} opened", "WhatId": "@{newCase.id}"}),
		sub("PATCH", base+"/composite/sobjects", "batch", map[string]any{"allOrNone": false, "records": []any{
			caseRecord(map[string]any{"Id": "500Sd0000000001IAA", "Ctibridge_Status__c": "deferred"}),
		}}),
	}}, http.StatusOK, &res)
	require.Len(t, res.CompositeResponse, 5)
	var created saveResultJSON
	require.NoError(t, json.Unmarshal(res.CompositeResponse[0].Body, &created))
	require.Equal(t, 201, res.CompositeResponse[0].HTTPStatusCode)
	require.Equal(t, "newCase", res.CompositeResponse[0].ReferenceID)
	require.Equal(t, base+"/sobjects/Case/"+created.ID, res.CompositeResponse[0].HTTPHeaders["Location"])
	require.Equal(t, 204, res.CompositeResponse[1].HTTPStatusCode)
	require.Equal(t, "null", string(res.CompositeResponse[1].Body))
	require.Equal(t, 200, res.CompositeResponse[2].HTTPStatusCode)
	require.Equal(t, 201, res.CompositeResponse[3].HTTPStatusCode, string(res.CompositeResponse[3].Body))
	require.Equal(t, 200, res.CompositeResponse[4].HTTPStatusCode)

	require.Equal(t, "Working", e.get("Case", created.ID)["Status"])
	var task map[string]any
	for _, r := range e.org.Records("Task") {
		if r["WhatId"] == created.ID {
			task = r
		}
	}
	require.Equal(t, "Case 00001019 opened", task["Subject"])
	require.Equal(t, "deferred", e.get("Case", "500Sd0000000001IAA")["Ctibridge_Status__c"])

	require.Equal(t, before+3, e.org.Total(), "the composite counts once, the two GETs once each")
	calls := e.org.Calls()
	require.Equal(t, 1, calls[CallComposite])
	require.Zero(t, calls[CallQuery]+calls[CallCollections])
}

func TestCompositeThousandRecordsInOneCall(t *testing.T) {
	e := newEnv(t, Options{})
	seedCases(t, e.org, 1000)
	all := e.org.Records("Case")
	var subs []any
	for batch := 0; batch < 5; batch++ {
		var records []any
		for _, r := range all[batch*200 : (batch+1)*200] {
			records = append(records, caseRecord(map[string]any{"Id": r["Id"], "Ctibridge_Status__c": "open"}))
		}
		subs = append(subs, sub("PATCH", "/services/data/v62.0/composite/sobjects", fmt.Sprintf("batch%d", batch),
			map[string]any{"allOrNone": false, "records": records}))
	}
	var res compositeResult
	e.callJSON(http.MethodPost, "/composite", map[string]any{"allOrNone": false, "compositeRequest": subs}, http.StatusOK, &res)
	for _, r := range res.CompositeResponse {
		var results []saveResultJSON
		require.NoError(t, json.Unmarshal(r.Body, &results))
		require.Len(t, results, 200)
	}
	for _, r := range e.org.Records("Case") {
		require.Equal(t, "open", r["Ctibridge_Status__c"])
	}
	require.Equal(t, 1, e.org.Total())

	// A sixth collection or query is refused, before anything runs.
	subs = append(subs, sub("GET", "/services/data/v62.0/query?q=SELECT+Id+FROM+Case", "q", nil))
	refused := e.expectError(http.MethodPost, "/composite", map[string]any{"compositeRequest": subs}, http.StatusBadRequest, "INVALID_API_INPUT")
	require.Contains(t, refused.Message, "at most 5 sObject Collections or query subrequests")
}

func TestCompositeLimitsAndValidation(t *testing.T) {
	e := newEnv(t, Options{})
	var subs []any
	for i := 0; i < 26; i++ {
		subs = append(subs, sub("GET", "/services/data/v62.0/sobjects/Case/describe", fmt.Sprintf("d%d", i), nil))
	}
	tooMany := e.expectError(http.MethodPost, "/composite", map[string]any{"compositeRequest": subs}, http.StatusBadRequest, "INVALID_API_INPUT")
	require.Contains(t, tooMany.Message, "at most 25 subrequests")
	var res compositeResult
	e.callJSON(http.MethodPost, "/composite", map[string]any{"compositeRequest": subs[:25]}, http.StatusOK, &res)
	require.Len(t, res.CompositeResponse, 25)

	for name, body := range map[string]any{
		"no subrequests":     map[string]any{"compositeRequest": []any{}},
		"duplicate ref":      map[string]any{"compositeRequest": []any{subs[0], subs[0]}},
		"bad ref":            map[string]any{"compositeRequest": []any{sub("GET", "/services/data/v62.0/sobjects/Case/describe", "a-b", nil)}},
		"not an API url":     map[string]any{"compositeRequest": []any{sub("GET", "/services/apexrest/x", "a", nil)}},
		"nested composite":   map[string]any{"compositeRequest": []any{sub("POST", "/services/data/v62.0/composite", "a", nil)}},
		"unsupported limits": map[string]any{"compositeRequest": []any{sub("GET", "/services/data/v62.0/limits", "a", nil)}},
	} {
		t.Run(name, func(t *testing.T) {
			e.expectError(http.MethodPost, "/composite", body, http.StatusBadRequest, "INVALID_API_INPUT")
		})
	}
	e.expectError(http.MethodGet, "/composite", nil, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	e.expectError(http.MethodPost, "/composite", "[", http.StatusBadRequest, "JSON_PARSER_ERROR")
}

func TestCompositeFailures(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	const base = "/services/data/v62.0"
	bodyOf := func(r compositeResult, i int) []apiErr {
		var errs []apiErr
		require.NoError(t, json.Unmarshal(r.CompositeResponse[i].Body, &errs), string(r.CompositeResponse[i].Body))
		return errs
	}

	// allOrNone: the failure rolls back the subrequests before it, and the others say why.
	var res compositeResult
	e.callJSON(http.MethodPost, "/composite", map[string]any{"allOrNone": true, "compositeRequest": []any{
		sub("POST", base+"/sobjects/Case", "first", map[string]any{"Subject": "rolled back"}),
		sub("PATCH", base+"/sobjects/Case/500Sd0000000001IAA", "bad", map[string]any{"Nope__c": "x"}),
		sub("POST", base+"/sobjects/Case", "never", map[string]any{"Subject": "never run"}),
	}}, http.StatusOK, &res)
	require.Equal(t, []int{400, 400, 400}, []int{res.CompositeResponse[0].HTTPStatusCode,
		res.CompositeResponse[1].HTTPStatusCode, res.CompositeResponse[2].HTTPStatusCode})
	require.Equal(t, "PROCESSING_HALTED", bodyOf(res, 0)[0].ErrorCode)
	require.Equal(t, "The transaction was rolled back since another operation in the same transaction failed.", bodyOf(res, 0)[0].Message)
	require.Equal(t, "INVALID_FIELD", bodyOf(res, 1)[0].ErrorCode)
	require.Equal(t, "PROCESSING_HALTED", bodyOf(res, 2)[0].ErrorCode)
	require.Len(t, e.org.Records("Case"), 18)

	// Without allOrNone the others run; a reference to a failed subrequest halts its dependant only.
	e.callJSON(http.MethodPost, "/composite", map[string]any{"allOrNone": false, "compositeRequest": []any{
		sub("POST", base+"/sobjects/Contact", "contact", map[string]any{"FirstName": "No last name"}),
		sub("POST", base+"/sobjects/Case", "dependant", map[string]any{"Subject": "x", "ContactId": "@{contact.id}"}),
		sub("POST", base+"/sobjects/Case", "independent", map[string]any{"Subject": "kept"}),
		sub("GET", base+"/sobjects/Case/500Sd0000000001IAA?fields=Subject", "read", nil),
	}}, http.StatusOK, &res)
	require.Equal(t, "REQUIRED_FIELD_MISSING", bodyOf(res, 0)[0].ErrorCode)
	halted := bodyOf(res, 1)[0]
	require.Equal(t, "PROCESSING_HALTED", halted.ErrorCode)
	require.Contains(t, halted.Message, "Invalid reference specified. No value for contact.id found in contact.")
	require.Equal(t, 201, res.CompositeResponse[2].HTTPStatusCode)
	require.Equal(t, 200, res.CompositeResponse[3].HTTPStatusCode)
	require.Len(t, e.org.Records("Case"), 19)
	require.Equal(t, 2, e.org.Total())
}

// TestCompositeQueries runs the queries of a poll (changed records past a
// watermark, then the state of known ones) as subrequests of one composite.
func TestCompositeQueries(t *testing.T) {
	e := newEnv(t, Options{})
	const (
		base      = "/services/data/v62.0"
		watermark = "2026-01-01T00:00:00.000Z"
	)
	k := func(n uint64) string { return makeID(prefixCase, "Tt", n) }
	kase := func(n uint64, status, origin, stamp string) Record {
		r := Record{"attributes": map[string]any{"type": "Case"}, "Id": k(n), "Subject": fmt.Sprintf("Case %d", n),
			"Status": status, "SystemModstamp": stamp}
		if origin != "" {
			r["Origin"] = origin
		}
		return r
	}
	var seed []Record
	for _, r := range DefaultSeed() {
		if recordType(r) == "User" {
			seed = append(seed, r)
		}
	}
	require.NoError(t, e.org.Seed(append(seed,
		kase(1, "Closed", "Email", watermark),              // the watermark itself
		kase(2, "Closed", "Email", watermark),              // same instant, later Id
		kase(3, "New", "", watermark),                      // open without an origin
		kase(4, "New", "Web", "2026-01-02T00:00:00.000Z"),  // open with an origin
		kase(5, "Closed", "Phone", "2026-01-02T00:00:00Z"), // later
		kase(6, "Closed", "Email", "2025-12-31T23:59:59Z"), // earlier
		kase(7, "Working", "Chat", "2026-01-03T00:00:00Z"), // open with an origin
	)))
	// Sam closes Case 4 in the org: it moves past every other.
	require.NoError(t, e.org.Edit(sam, "Case", k(4), map[string]any{"Status": "Closed"}))

	changed := "SELECT Id, SystemModstamp, Status FROM Case WHERE (NOT (IsClosed = false AND Origin != null)) AND " +
		"(SystemModstamp > " + watermark + " OR (SystemModstamp = " + watermark + " AND Id > '" + k(1) + "')) " +
		"ORDER BY SystemModstamp, Id LIMIT 2000"
	known := "SELECT Id, Status FROM Case WHERE (IsClosed = false) AND Id IN ('" + k(5) + "','" + k(4)[:15] + "','" + k(7) + "','" + k(3) + "')"
	modifiers := "SELECT Id, LastModifiedById, LastModifiedBy.Name FROM Case WHERE Id IN ('" + k(3) + "','" + k(4) + "') ORDER BY Id"
	query := func(soql string) string { return base + "/query?q=" + url.QueryEscape(soql) }

	before, calls := e.org.Total(), e.org.Calls()
	var res compositeResult
	e.callJSON(http.MethodPost, "/composite", map[string]any{"compositeRequest": []any{
		sub("GET", query(changed), "changed", nil),
		sub("GET", query(known), "known", nil),
		sub("GET", query(modifiers), "modifiers", nil),
	}}, http.StatusOK, &res)
	require.Equal(t, before+1, e.org.Total(), "one API call")
	require.Equal(t, calls[CallCompositeQuery]+1, e.org.Calls()[CallCompositeQuery], "a composite of queries only: a poll")
	require.Equal(t, calls[CallComposite], e.org.Calls()[CallComposite])
	require.Equal(t, calls[CallQuery], e.org.Calls()[CallQuery])

	tests := []struct {
		ref    string
		ids    []string
		fields map[string][]any // field -> values in record order
	}{
		{"changed", []string{k(2), k(3), k(5), k(4)}, map[string][]any{
			"Status": {"Closed", "New", "Closed", "Closed"},
			"SystemModstamp": {"2026-01-01T00:00:00.000+0000", "2026-01-01T00:00:00.000+0000", "2026-01-02T00:00:00.000+0000",
				e.get("Case", k(4))["SystemModstamp"]},
		}},
		{"known", []string{k(3), k(7)}, map[string][]any{"Status": {"New", "Working"}}},
		{"modifiers", []string{k(3), k(4)}, map[string][]any{
			"LastModifiedById": {e.org.UserID(), sam},
			"LastModifiedBy": {
				map[string]any{"attributes": map[string]any{"type": "User", "url": base + "/sobjects/User/" + e.org.UserID()}, "Name": "Integration User"},
				map[string]any{"attributes": map[string]any{"type": "User", "url": base + "/sobjects/User/" + sam}, "Name": "Sam Supervisor"},
			},
		}},
	}
	require.Len(t, res.CompositeResponse, len(tests))
	for i, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			r := res.CompositeResponse[i]
			require.Equal(t, tc.ref, r.ReferenceID)
			require.Equal(t, http.StatusOK, r.HTTPStatusCode, string(r.Body))
			var body map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(r.Body, &body))
			require.ElementsMatch(t, []string{"totalSize", "done", "records"}, slices.Collect(maps.Keys(body)), "no nextRecordsUrl")
			var page queryResult
			require.NoError(t, json.Unmarshal(r.Body, &page))
			require.True(t, page.Done)
			require.Equal(t, len(tc.ids), page.TotalSize)
			require.Equal(t, tc.ids, ids(page.Records))
			for field, want := range tc.fields {
				var got []any
				for _, rec := range page.Records {
					got = append(got, rec[field])
				}
				require.Equal(t, want, got, field)
			}
		})
	}

	// Salesforce refuses NOT next to AND without parentheses, and so does the org.
	e.callJSON(http.MethodPost, "/composite", map[string]any{"compositeRequest": []any{
		sub("GET", query("SELECT Id FROM Case WHERE NOT (IsClosed = false AND Origin != null) AND SystemModstamp > "+watermark), "bad", nil),
		sub("GET", query(known), "known", nil),
	}}, http.StatusOK, &res)
	require.Equal(t, http.StatusBadRequest, res.CompositeResponse[0].HTTPStatusCode)
	var errs []apiErr
	require.NoError(t, json.Unmarshal(res.CompositeResponse[0].Body, &errs))
	require.Equal(t, "MALFORMED_QUERY", errs[0].ErrorCode)
	require.Contains(t, errs[0].Message, "unexpected token: AND")
	require.Equal(t, http.StatusOK, res.CompositeResponse[1].HTTPStatusCode, "without allOrNone the others run")
}
