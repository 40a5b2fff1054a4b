package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// soqlFixture is an org with a handful of records whose every field a query
// test may look at, on the test clock (2026-11-22T12:00:00Z).
type soqlFixture struct {
	org                *Org
	k1, k2, k3, k4, k5 string
	c1, c2, u1         string
	t1, t2, l1         string
}

func newSOQLFixture(t testing.TB) *soqlFixture {
	t.Helper()
	org := New(Options{Now: newClock().Now})
	f := &soqlFixture{
		org: org,
		u1:  makeID(prefixUser, "Tt", 1),
		c1:  makeID(prefixContact, "Tt", 1), c2: makeID(prefixContact, "Tt", 2),
		k1: makeID(prefixCase, "Tt", 1), k2: makeID(prefixCase, "Tt", 2), k3: makeID(prefixCase, "Tt", 3),
		k4: makeID(prefixCase, "Tt", 4), k5: makeID(prefixCase, "Tt", 5),
		l1: makeID(prefixChat, "Tt", 1),
		t1: makeID(prefixTask, "Tt", 1), t2: makeID(prefixTask, "Tt", 2),
	}
	typ := func(name string) map[string]any { return map[string]any{"type": name} }
	require.NoError(t, org.Seed([]Record{
		{"attributes": typ("User"), "Id": f.u1, "Username": "alice@local.test", "FirstName": "Alice", "LastName": "Archer", "Email": "alice@local.test"},
		{"attributes": typ("Contact"), "Id": f.c1, "FirstName": "Ann", "LastName": "Lee", "Email": "ann@x.com"},
		{"attributes": typ("Contact"), "Id": f.c2, "FirstName": "Bob", "LastName": "Stone", "Email": "bob@x.com"},
		{"attributes": typ("Case"), "Id": f.k1, "Subject": "Printer on fire", "Status": "New", "Priority": "High",
			"Origin": "Email", "Type": "Billing", "ContactId": f.c1, "OwnerId": f.u1, "CreatedDate": "2026-11-22T09:00:00Z",
			"Ctibridge_Due_By__c": "2026-11-23T10:00:00Z", "Ctibridge_Auto_Opened__c": true},
		{"attributes": typ("Case"), "Id": f.k2, "Subject": "Refund 50%", "Status": "Working", "Priority": "Medium",
			"Origin": "Web", "Type": "Technical", "ContactId": f.c2, "CreatedDate": "2026-11-21T10:00:00Z"},
		{"attributes": typ("Case"), "Id": f.k3, "Status": "Closed", "Priority": "Low", "Origin": "Phone",
			"CreatedDate": "2026-11-20T10:00:00.000+0000"},
		{"attributes": typ("Case"), "Id": f.k4, "Subject": "printer jam_2", "Status": "New", "Priority": "Low",
			"Origin": "Email", "Type": "Billing", "ContactId": f.c1, "CreatedDate": "2026-10-01T00:00:00Z"},
		{"attributes": typ("Case"), "Id": f.k5, "Subject": "Deleted one", "Status": "New", "CreatedDate": "2026-11-22T08:00:00Z"},
		{"attributes": typ("LiveChatTranscript"), "Id": f.l1, "Status": "Waiting", "ContactId": f.c2},
		{"attributes": typ("Task"), "Id": f.t1, "Subject": "Call back", "ActivityDate": "2026-11-22", "WhatId": f.k1},
		{"attributes": typ("Task"), "Id": f.t2, "Subject": "Chase chat", "ActivityDate": "2026-11-25", "WhatId": f.l1},
	}))
	org.mu.Lock()
	require.Nil(t, org.remove(&writer{tx: &tx{}, user: org.adminID}, org.schema.object("Case"), f.k5))
	org.mu.Unlock()
	return f
}

type queryResult struct {
	TotalSize      int              `json:"totalSize"`
	Done           bool             `json:"done"`
	NextRecordsURL string           `json:"nextRecordsUrl"`
	Records        []map[string]any `json:"records"`
}

// query runs SOQL through the query resource, as an API call would.
func (f *soqlFixture) query(t *testing.T, src string, all bool) (int, queryResult, []apiErr) {
	t.Helper()
	resource := "query"
	if all {
		resource = "queryAll"
	}
	f.org.mu.Lock()
	resp := f.org.route(&apiRequest{method: http.MethodGet, version: "62.0", segs: []string{resource},
		query: url.Values{"q": {src}}, header: http.Header{}, user: f.org.adminID, tx: &tx{}})
	f.org.mu.Unlock()
	data, err := json.Marshal(resp.body)
	require.NoError(t, err)
	var res queryResult
	var errs []apiErr
	if resp.status == http.StatusOK {
		require.NoError(t, json.Unmarshal(data, &res))
	} else {
		require.NoError(t, json.Unmarshal(data, &errs))
	}
	return resp.status, res, errs
}

func ids(records []map[string]any) []string {
	out := []string{}
	for _, r := range records {
		out = append(out, r["Id"].(string))
	}
	return out
}

func TestSOQLResults(t *testing.T) {
	f := newSOQLFixture(t)
	tests := []struct {
		name string
		q    string
		want []string // ids in result order
	}{
		{"all in creation order", "SELECT Id FROM Case", []string{f.k1, f.k2, f.k3, f.k4}},
		{"keywords, names and text values ignore case", "select id, SUBJECT from case where subject = 'PRINTER ON FIRE'", []string{f.k1}},
		{"!= matches nulls", "SELECT Id FROM Case WHERE Subject != 'Printer on fire'", []string{f.k2, f.k3, f.k4}},
		{"<> is !=", "SELECT Id FROM Case WHERE Subject <> 'Printer on fire'", []string{f.k2, f.k3, f.k4}},
		{"= null", "SELECT Id FROM Case WHERE Subject = null", []string{f.k3}},
		{"!= null", "SELECT Id FROM Case WHERE Subject != NULL", []string{f.k1, f.k2, f.k4}},
		{">= date-time Z", "SELECT Id FROM Case WHERE CreatedDate >= 2026-11-21T10:00:00Z", []string{f.k1, f.k2}},
		{"< date-time +0000", "SELECT Id FROM Case WHERE CreatedDate < 2026-11-21T10:00:00.000+0000", []string{f.k3, f.k4}},
		{"> date-time with offset", "SELECT Id FROM Case WHERE CreatedDate > 2026-11-21T11:00:00+01:00", []string{f.k1}},
		{"<= date-time", "SELECT Id FROM Case WHERE CreatedDate <= 2026-11-20T10:00:00Z", []string{f.k3, f.k4}},
		{"IN", "SELECT Id FROM Case WHERE Status IN ('New', 'Closed')", []string{f.k1, f.k3, f.k4}},
		{"NOT IN matches nulls", "SELECT Id FROM Case WHERE Type NOT IN ('Billing')", []string{f.k2, f.k3}},
		{"IN with null", "SELECT Id FROM Case WHERE Type IN ('Technical', null)", []string{f.k2, f.k3}},
		{"LIKE prefix", "SELECT Id FROM Case WHERE Subject LIKE 'printer%'", []string{f.k1, f.k4}},
		{"LIKE escaped %", `SELECT Id FROM Case WHERE Subject LIKE '%50\%'`, []string{f.k2}},
		{"LIKE escaped _ and _", `SELECT Id FROM Case WHERE Subject LIKE 'printer jam\__'`, []string{f.k4}},
		{"LIKE _", "SELECT Id FROM Case WHERE Subject LIKE 'Refund__0%'", []string{f.k2}},
		{"AND", "SELECT Id FROM Case WHERE Status = 'New' AND Priority = 'High'", []string{f.k1}},
		{"OR", "SELECT Id FROM Case WHERE Status = 'Closed' OR Priority = 'High'", []string{f.k1, f.k3}},
		{"NOT", "SELECT Id FROM Case WHERE NOT Status = 'New'", []string{f.k2, f.k3}},
		{"NOT (...)", "SELECT Id FROM Case WHERE NOT (Status = 'New' OR Status = 'Closed')", []string{f.k2}},
		{"(NOT ...) AND", "SELECT Id FROM Case WHERE (NOT Status = 'New') AND Origin != null", []string{f.k2, f.k3}},
		{"AND (NOT (...))", "SELECT Id FROM Case WHERE Origin != null AND (NOT (Status = 'Closed' OR Type = 'Billing'))", []string{f.k2}},
		{"(NOT (... AND ...)) AND (... OR (... AND ...))", "SELECT Id FROM Case WHERE (NOT (IsClosed = false AND Type != null)) " +
			"AND (CreatedDate > 2026-11-21T10:00:00Z OR (CreatedDate = 2026-11-20T10:00:00Z AND Id > '" + f.k2 + "'))", []string{f.k3}},
		{"Id > and ORDER BY Id agree", "SELECT Id FROM Case WHERE Id > '" + f.k2 + "' ORDER BY Id DESC", []string{f.k4, f.k3}},
		{"parentheses", "SELECT Id FROM Case WHERE (Status = 'New' OR Status = 'Working') AND Origin = 'Email'", []string{f.k1, f.k4}},
		{"boolean true", "SELECT Id FROM Case WHERE IsClosed = true", []string{f.k3}},
		{"boolean false", "SELECT Id FROM Case WHERE Ctibridge_Auto_Opened__c = FALSE", []string{f.k2, f.k3, f.k4}},
		{"relationship filter", "SELECT Id FROM Case WHERE Contact.Email = 'ann@x.com'", []string{f.k1, f.k4}},
		{"15-character id", "SELECT Id FROM Case WHERE Id = '" + f.k2[:15] + "'", []string{f.k2}},
		{"reference IN", "SELECT Id FROM Case WHERE ContactId IN ('" + f.c2 + "')", []string{f.k2}},
		{"date literal", "SELECT Id FROM Task WHERE ActivityDate = 2026-11-22", []string{f.t1}},
		{"date > TODAY", "SELECT Id FROM Task WHERE ActivityDate > TODAY", []string{f.t2}},
		{"date-time = TODAY", "SELECT Id FROM Case WHERE CreatedDate = TODAY", []string{f.k1}},
		{"date-time = YESTERDAY", "SELECT Id FROM Case WHERE CreatedDate = YESTERDAY", []string{f.k2}},
		{"LAST_N_DAYS", "SELECT Id FROM Case WHERE CreatedDate = LAST_N_DAYS:2", []string{f.k1, f.k2, f.k3}},
		{"TOMORROW", "SELECT Id FROM Case WHERE Ctibridge_Due_By__c = TOMORROW", []string{f.k1}},
		{"NEXT_N_DAYS", "SELECT Id FROM Case WHERE Ctibridge_Due_By__c = NEXT_N_DAYS:3", []string{f.k1}},
		{"< TODAY", "SELECT Id FROM Case WHERE CreatedDate < TODAY", []string{f.k2, f.k3, f.k4}},
		{"polymorphic relationship", "SELECT Id FROM Task WHERE What.Subject LIKE 'Printer%'", []string{f.t1}},
		{"ORDER BY", "SELECT Id FROM Case ORDER BY CreatedDate", []string{f.k4, f.k3, f.k2, f.k1}},
		{"ORDER BY DESC puts nulls last", "SELECT Id FROM Case ORDER BY Subject DESC", []string{f.k2, f.k1, f.k4, f.k3}},
		{"ORDER BY ASC puts nulls first", "SELECT Id FROM Case ORDER BY Subject", []string{f.k3, f.k4, f.k1, f.k2}},
		{"NULLS LAST", "SELECT Id FROM Case ORDER BY Subject ASC NULLS LAST", []string{f.k4, f.k1, f.k2, f.k3}},
		{"several keys", "SELECT Id FROM Case ORDER BY Priority, CreatedDate DESC", []string{f.k1, f.k3, f.k4, f.k2}},
		{"relationship key, NULLS FIRST", "SELECT Id FROM Case ORDER BY Contact.Name DESC NULLS FIRST", []string{f.k3, f.k2, f.k1, f.k4}},
		{"LIMIT", "SELECT Id FROM Case ORDER BY CreatedDate LIMIT 2", []string{f.k4, f.k3}},
		{"LIMIT OFFSET", "SELECT Id FROM Case ORDER BY CreatedDate LIMIT 2 OFFSET 1", []string{f.k3, f.k2}},
		{"OFFSET", "SELECT Id FROM Case ORDER BY CreatedDate OFFSET 3", []string{f.k1}},
		{"OFFSET past the end", "SELECT Id FROM Case OFFSET 10", []string{}},
		{"LIMIT 0", "SELECT Id FROM Case LIMIT 0", []string{}},
		{"multi-line", "SELECT Id\nFROM Case\nWHERE Origin = 'Phone'", []string{f.k3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, res, errs := f.query(t, tc.q, false)
			require.Equal(t, http.StatusOK, status, "%v", errs)
			require.Equal(t, tc.want, ids(res.Records))
			require.Equal(t, len(tc.want), res.TotalSize)
			require.True(t, res.Done)
		})
	}
}

func TestSOQLRecordShape(t *testing.T) {
	f := newSOQLFixture(t)
	status, res, errs := f.query(t, "SELECT Subject, Contact.Name, Id, Owner.Name, Contact.Email, CreatedDate FROM Case ORDER BY CreatedDate DESC LIMIT 2", false)
	require.Equal(t, http.StatusOK, status, "%v", errs)
	data, err := json.Marshal(res.Records[0])
	require.NoError(t, err)
	require.JSONEq(t, `{
		"attributes": {"type": "Case", "url": "/services/data/v62.0/sobjects/Case/`+f.k1+`"},
		"Subject": "Printer on fire",
		"Contact": {"attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/`+f.c1+`"},
			"Name": "Ann Lee", "Email": "ann@x.com"},
		"Id": "`+f.k1+`",
		"Owner": {"attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/`+f.u1+`"}, "Name": "Alice Archer"},
		"CreatedDate": "2026-11-22T09:00:00.000+0000"
	}`, string(data))

	// Keys come in SELECT order, relationships nested where first selected.
	f.org.mu.Lock()
	resp := f.org.route(&apiRequest{method: http.MethodGet, version: "62.0", segs: []string{"query"},
		query: url.Values{"q": {"SELECT Subject, Contact.Name, Id FROM Case WHERE Id = '" + f.k3 + "'"}}, header: http.Header{}, tx: &tx{}})
	f.org.mu.Unlock()
	raw, err := json.Marshal(resp.body)
	require.NoError(t, err)
	require.Equal(t, `{"totalSize":1,"done":true,"records":[{"attributes":{"type":"Case","url":"/services/data/v62.0/sobjects/Case/`+
		f.k3+`"},"Subject":null,"Contact":null,"Id":"`+f.k3+`"}]}`, string(raw))
}

func TestSOQLCountAndQueryAll(t *testing.T) {
	f := newSOQLFixture(t)
	_, res, _ := f.query(t, "SELECT COUNT() FROM Case WHERE Status = 'New'", false)
	require.Equal(t, 2, res.TotalSize)
	require.Empty(t, res.Records)

	_, res, _ = f.query(t, "SELECT Id, IsDeleted FROM Case WHERE Subject = 'Deleted one'", false)
	require.Empty(t, res.Records)
	_, res, _ = f.query(t, "SELECT Id, IsDeleted FROM Case WHERE Subject = 'Deleted one'", true)
	require.Equal(t, []string{f.k5}, ids(res.Records))
	require.Equal(t, true, res.Records[0]["IsDeleted"])
	_, res, _ = f.query(t, "SELECT COUNT() FROM Case", true)
	require.Equal(t, 5, res.TotalSize)
}

func TestSOQLErrors(t *testing.T) {
	f := newSOQLFixture(t)
	tests := []struct {
		name    string
		q       string
		code    string
		message string // the whole message, or a part of it with contains
		exact   bool
	}{
		{"unknown field", "SELECT Foo FROM Case", "INVALID_FIELD",
			"\nSELECT Foo FROM Case\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' on entity 'Case'. If you are " +
				"attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference " +
				"your WSDL or the describe call for the appropriate names.", true},
		{"unknown field on a later row", "SELECT Id\nFROM Case\nWHERE Foo = 1", "INVALID_FIELD",
			"\nWHERE Foo = 1\n      ^\nERROR at Row:3:Column:7\nNo such column 'Foo' on entity 'Case'.", false},
		{"unknown object", "SELECT Id FROM Foo", "INVALID_TYPE",
			"ERROR at Row:1:Column:16\nsObject type 'Foo' is not supported.", false},
		{"unknown relationship", "SELECT Id, Account.Name FROM Case", "INVALID_FIELD",
			"Didn't understand relationship 'Account' in field path.", false},
		{"two relationship levels", "SELECT Contact.Owner.Name FROM Case", "INVALID_FIELD",
			"Didn't understand relationship 'Owner' in field path.", false},
		{"unknown field across a relationship", "SELECT Contact.Foo FROM Case", "INVALID_FIELD",
			"No such column 'Foo' on entity 'Contact'.", false},
		{"relationship without field", "SELECT Contact FROM Case", "INVALID_FIELD", "No such column 'Contact' on entity 'Case'.", false},
		{"long text cannot be filtered", "SELECT Id FROM Case WHERE Description = 'x'", "INVALID_FIELD",
			"field 'Description' can not be filtered in a query call", false},
		{"long text cannot be sorted", "SELECT Id FROM Case ORDER BY Description", "INVALID_FIELD",
			"field 'Description' can not be sorted in a query call", false},
		{"quoted date-time", "SELECT Id FROM Case WHERE CreatedDate = '2026-11-22'", "INVALID_FIELD",
			"value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes", false},
		{"date literal for a date-time", "SELECT Id FROM Case WHERE CreatedDate > 2026-11-22", "INVALID_FIELD",
			"must be of type dateTime", false},
		{"quoted boolean", "SELECT Id FROM Case WHERE IsClosed = 'true'", "INVALID_FIELD",
			"value of filter criterion for field 'IsClosed' must be of type boolean and should not be enclosed in quotes", false},
		{"unquoted string", "SELECT Id FROM Case WHERE Subject = 5", "INVALID_FIELD",
			"value of filter criterion for field 'Subject' must be of type string and should be enclosed in quotes", false},
		{"bad id", "SELECT Id FROM Case WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc", false},
		{"LIKE on a date-time", "SELECT Id FROM Case WHERE CreatedDate LIKE '2026%'", "INVALID_QUERY_FILTER_OPERATOR", "invalid operator", false},
		{"< on a boolean", "SELECT Id FROM Case WHERE IsClosed < true", "INVALID_QUERY_FILTER_OPERATOR", "invalid operator on boolean field", false},
		{"AND mixed with OR", "SELECT Id FROM Case WHERE Status = 'New' AND Priority = 'High' OR Origin = 'Web'", "MALFORMED_QUERY",
			"unexpected token: OR", false},
		{"NOT then AND", "SELECT Id FROM Case WHERE NOT Status = 'New' AND Priority = 'High'", "MALFORMED_QUERY",
			"\nSELECT Id FROM Case WHERE NOT Status = 'New' AND Priority = 'High'\n" + strings.Repeat(" ", 45) +
				"^\nERROR at Row:1:Column:46\nunexpected token: AND", true},
		{"NOT (...) then AND", "SELECT Id FROM Case WHERE NOT (IsClosed = false AND Origin != null) AND (Status = 'New')",
			"MALFORMED_QUERY", "Column:69\nunexpected token: AND", false},
		{"AND NOT", "SELECT Id FROM Case WHERE Origin != null AND NOT Status = 'New'", "MALFORMED_QUERY",
			"Column:46\nunexpected token: NOT", false},
		{"OR NOT (...)", "SELECT Id FROM Case WHERE Origin != null OR NOT (Status = 'New')", "MALFORMED_QUERY",
			"unexpected token: NOT", false},
		{"NOT then OR inside parentheses", "SELECT Id FROM Case WHERE (NOT Status = 'New' OR Origin = null)", "MALFORMED_QUERY",
			"unexpected token: OR", false},
		{"NOT NOT", "SELECT Id FROM Case WHERE NOT NOT Status = 'New'", "MALFORMED_QUERY", "unexpected token: NOT", false},
		{"no fields", "SELECT FROM Case", "MALFORMED_QUERY", "\nSELECT FROM Case\n       ^\nERROR at Row:1:Column:8\nunexpected token: FROM", true},
		{"no FROM", "SELECT Id Case", "MALFORMED_QUERY", "unexpected token: Case", false},
		{"dangling WHERE", "SELECT Id FROM Case WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>", false},
		{"unterminated string", "SELECT Id FROM Case WHERE Subject = 'abc", "MALFORMED_QUERY", "mismatched character", false},
		{"aggregate function", "SELECT COUNT(Id) FROM Case", "MALFORMED_QUERY", "unexpected token: Id", false},
		{"function in field list", "SELECT FIELDS(ALL) FROM Case", "MALFORMED_QUERY", "unexpected token: (", false},
		{"sub-query", "SELECT Id FROM Case WHERE ContactId IN (SELECT Id FROM Contact)", "MALFORMED_QUERY", "unexpected token: SELECT", false},
		{"bind variable", "SELECT Id FROM Case WHERE Subject = :subject", "MALFORMED_QUERY", "unexpected token: :", false},
		{"negative LIMIT", "SELECT Id FROM Case LIMIT -1", "MALFORMED_QUERY", "unexpected token: -1", false},
		{"GROUP BY", "SELECT Status FROM Case GROUP BY Status", "MALFORMED_QUERY", "unexpected token: GROUP", false},
		{"OFFSET too large", "SELECT Id FROM Case OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000", false},
		{"duplicate field", "SELECT Id, Subject, id FROM Case", "MALFORMED_QUERY", "duplicate field selected: id", false},
		{"empty", "  ", "MALFORMED_QUERY", "A query string has to be specified", true},
		{"bad character", "SELECT Id FROM Case WHERE Subject = 'a' & Status = 'b'", "MALFORMED_QUERY", "no viable alternative at character '&'", false},
		{"bad escape", `SELECT Id FROM Case WHERE Subject = 'a\q'`, "MALFORMED_QUERY", "Invalid string literal", false},
		{"bad date-time", "SELECT Id FROM Case WHERE CreatedDate > 2026-13-45T99:00:00Z", "MALFORMED_QUERY", "no viable alternative", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, errs := f.query(t, tc.q, false)
			require.Equal(t, http.StatusBadRequest, status)
			require.Len(t, errs, 1)
			require.Equal(t, tc.code, errs[0].ErrorCode, errs[0].Message)
			if tc.exact {
				require.Equal(t, tc.message, errs[0].Message)
			} else {
				require.Contains(t, errs[0].Message, tc.message)
			}
		})
	}
}
