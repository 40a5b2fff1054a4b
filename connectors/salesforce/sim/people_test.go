package sim

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The seed's users who are not agents.
const (
	sam  = "005Sd0000000004IAA" // Sam Supervisor
	dana = "005Sd0000000005IAA" // Dana Departed, inactive
)

func TestSeededPeople(t *testing.T) {
	org := New(Options{})
	require.NoError(t, org.Seed(DefaultSeed()))
	users := map[any]map[string]any{}
	for _, u := range org.Records("User") {
		users[u["Id"]] = u
	}
	tests := []struct {
		id, name, username string
		active             bool
	}{
		{"005Sd0000000001IAA", "Alice Archer", "alice@local.test", true},
		{sam, "Sam Supervisor", "sam@local.test", true},
		{dana, "Dana Departed", "dana@local.test", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := users[tc.id]
			require.NotNil(t, u)
			require.Equal(t, tc.name, u["Name"])
			require.Equal(t, tc.username, u["Username"])
			require.Equal(t, tc.username, u["Email"])
			require.Equal(t, tc.active, u["IsActive"])
		})
	}
}

func TestEditAsUser(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	e.clock.Advance(time.Minute) // past the stamps the seed used up
	id := "500Sd0000000001IAA"
	before := e.get("Case", id)
	calls, total := e.org.Calls(), e.org.Total()

	require.NoError(t, e.org.Edit(sam, "Case", id, map[string]any{
		"Status": "Closed", "IsStopped": true, "Ctibridge_Tags__c": "vip",
		"Ctibridge_Due_By__c": time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC),
	}))
	require.Equal(t, calls, e.org.Calls(), "an edit is no API call")
	require.Equal(t, total, e.org.Total())
	require.Empty(t, e.org.Writes("Case"), "nor an API write")

	rec := e.get("Case", id)
	require.Equal(t, sam, rec["LastModifiedById"])
	require.Equal(t, "2026-11-22T12:01:00.000+0000", rec["LastModifiedDate"])
	require.Equal(t, rec["LastModifiedDate"], rec["SystemModstamp"])
	require.Equal(t, before["CreatedById"], rec["CreatedById"])
	require.Equal(t, before["CreatedDate"], rec["CreatedDate"])
	require.Equal(t, before["OwnerId"], rec["OwnerId"])
	require.Equal(t, "vip", rec["Ctibridge_Tags__c"])
	require.Equal(t, "2026-11-23T09:30:00.000+0000", rec["Ctibridge_Due_By__c"])
	require.Equal(t, true, rec["IsClosed"], "derived fields follow")
	require.Equal(t, rec["LastModifiedDate"], rec["ClosedDate"])
	require.Equal(t, rec["LastModifiedDate"], rec["StopStartDate"])

	// The clock has not moved: the next change still gets a later stamp.
	require.NoError(t, e.org.Edit(sam, "case", id[:15], map[string]any{"Status": "Working"}))
	rec = e.get("Case", id)
	require.Equal(t, "2026-11-22T12:01:00.001+0000", rec["SystemModstamp"])
	require.Equal(t, false, rec["IsClosed"])
	require.Nil(t, rec["ClosedDate"])
	require.Equal(t, "2026-11-22T12:01:00.000+0000", rec["StopStartDate"])

	// Faults injected for API clients are not the person's: the lock waits
	// for the next API write.
	e.org.Faults().LockRows(1, id)
	e.org.Faults().MarkDeleted("500Sd0000000002IAA")
	require.NoError(t, e.org.Edit(sam, "Case", id, map[string]any{"Priority": "Low"}))
	require.NoError(t, e.org.Edit(sam, "Case", "500Sd0000000002IAA", map[string]any{"Priority": "Low"}))
	e.expectError(http.MethodPatch, "/sobjects/Case/"+id, map[string]any{"Priority": "High"}, http.StatusBadRequest, "UNABLE_TO_LOCK_ROW")
	e.expectError(http.MethodGet, "/sobjects/Case/500Sd0000000002IAA", nil, http.StatusNotFound, "ENTITY_IS_DELETED")
}

func TestEditErrors(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	id := "500Sd0000000001IAA"
	e.callJSON(http.MethodDelete, "/sobjects/Case/500Sd0000000009IAA", nil, http.StatusNoContent, nil)
	e.org.Faults().AddValidationRule("Case", "Ctibridge_Due_By__c", "Due date is required when deferring",
		func(r map[string]any) bool {
			return r["Ctibridge_Status__c"] == "deferred" && r["Ctibridge_Due_By__c"] == nil
		})
	before := e.org.Records("Case")

	tests := []struct {
		name   string
		user   string
		object string
		id     string
		fields map[string]any
		code   string
		at     []string // the fields named
		msg    string   // the whole error, when given
	}{
		{"unknown field", sam, "Case", id, map[string]any{"Status": "Working", "Nope__c": 1}, "INVALID_FIELD", []string{"Nope__c"},
			"edit Case 500Sd0000000001IAA: Nope__c: INVALID_FIELD: No such column 'Nope__c' on sobject of type Case"},
		{"bad boolean", sam, "Case", id, map[string]any{"IsStopped": "maybe"}, "JSON_PARSER_ERROR", []string{"IsStopped"},
			"edit Case 500Sd0000000001IAA: IsStopped: JSON_PARSER_ERROR: Cannot deserialize instance of boolean from " +
				"VALUE_STRING value maybe or request may be missing a required field"},
		{"bad date-time", sam, "Case", id, map[string]any{"Ctibridge_Due_By__c": "tomorrow"}, "JSON_PARSER_ERROR",
			[]string{"Ctibridge_Due_By__c"}, ""},
		{"read-only fields", sam, "Case", id, map[string]any{"StopStartDate": "2026-11-22T09:00:00Z", "IsClosed": true},
			"INVALID_FIELD_FOR_INSERT_UPDATE", []string{"IsClosed", "StopStartDate"}, ""},
		{"too long", sam, "Case", id, map[string]any{"Ctibridge_Status__c": strings.Repeat("x", 41)}, "STRING_TOO_LONG",
			[]string{"Ctibridge_Status__c"}, ""},
		{"lookup to nothing", sam, "Case", id, map[string]any{"OwnerId": makeID(prefixUser, "Zz", 9)}, "INVALID_CROSS_REFERENCE_KEY",
			[]string{"OwnerId"}, ""},
		{"another Id", sam, "Case", id, map[string]any{"Id": "500Sd0000000002IAA"}, "INVALID_FIELD", []string{"Id"}, ""},
		{"validation rule", sam, "Case", id, map[string]any{"Ctibridge_Status__c": "deferred"}, "FIELD_CUSTOM_VALIDATION_EXCEPTION",
			[]string{"Ctibridge_Due_By__c"}, ""},
		{"clearing a required field", sam, "Contact", "003Sd0000000001IAA", map[string]any{"LastName": nil},
			"REQUIRED_FIELD_MISSING", []string{"LastName"}, ""},
		{"no such record", sam, "Case", makeID(prefixCase, "Zz", 42), nil, "NOT_FOUND", nil, ""},
		{"deleted record", sam, "Case", "500Sd0000000009IAA", map[string]any{"Status": "Working"}, "ENTITY_IS_DELETED", nil,
			"edit Case 500Sd0000000009IAA: ENTITY_IS_DELETED: entity is deleted"},
		{"malformed id", sam, "Case", "nope", nil, "MALFORMED_ID", []string{"Id"}, ""},
		{"unknown object", sam, "Account", id, nil, "INVALID_TYPE", nil, ""},
		{"unknown user", makeID(prefixUser, "Zz", 9), "Case", id, nil, "INVALID_CROSS_REFERENCE_KEY", nil, ""},
		{"not a user", "003Sd0000000001IAA", "Case", id, nil, "INVALID_CROSS_REFERENCE_KEY", nil, ""},
		{"inactive user", dana, "Case", id, map[string]any{"Status": "Working"}, "INACTIVE_OWNER_OR_USER", nil,
			"edit Case 500Sd0000000001IAA: INACTIVE_OWNER_OR_USER: operation performed with inactive user 005Sd0000000005IAA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.org.Edit(tc.user, tc.object, tc.id, tc.fields)
			var saveErr *SaveError
			require.True(t, errors.As(err, &saveErr), "%v", err)
			require.Equal(t, tc.code, saveErr.Code, err.Error())
			require.Equal(t, tc.at, saveErr.Fields)
			require.Contains(t, err.Error(), "edit "+tc.object+" "+tc.id+": ", "names the object and the record")
			if tc.msg != "" {
				require.EqualError(t, err, tc.msg)
			}
		})
	}
	require.Equal(t, before, e.org.Records("Case"), "no refused edit changed anything")
}

func TestCreateAsUser(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	calls, total := e.org.Calls(), e.org.Total()

	id, err := e.org.Create(sam, "Case", map[string]any{"Subject": "Customer called the supervisor", "Origin": "Phone"})
	require.NoError(t, err)
	require.Regexp(t, `^500[0-9A-Za-z]{15}$`, id)
	owned, err := e.org.Create(sam, "Case", map[string]any{"Subject": "For Alice", "OwnerId": "005Sd0000000001IAA"})
	require.NoError(t, err)
	require.Equal(t, calls, e.org.Calls(), "a create is no API call")
	require.Equal(t, total, e.org.Total())
	require.Empty(t, e.org.Writes("Case"), "nor an API write")

	rec := e.get("Case", id)
	require.Equal(t, sam, rec["CreatedById"])
	require.Equal(t, sam, rec["LastModifiedById"])
	require.Equal(t, sam, rec["OwnerId"], "owned by its creator")
	require.Equal(t, "New", rec["Status"], "defaulted")
	require.Equal(t, "00001019", rec["CaseNumber"])
	require.Equal(t, false, rec["IsStopped"])
	rec = e.get("Case", owned)
	require.Equal(t, "005Sd0000000001IAA", rec["OwnerId"])
	require.Equal(t, sam, rec["CreatedById"])

	tests := []struct {
		name   string
		user   string
		object string
		fields map[string]any
		code   string
		at     []string
		msg    string
	}{
		{"Id given", sam, "Case", map[string]any{"Id": "500Sd0000000001IAA"}, "INVALID_FIELD", []string{"Id"},
			"create Case: Id: INVALID_FIELD: cannot specify Id in an insert call"},
		{"required field missing", sam, "Contact", map[string]any{"FirstName": "Ann"}, "REQUIRED_FIELD_MISSING", []string{"LastName"},
			"create Contact: LastName: REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]"},
		{"read-only field", sam, "Case", map[string]any{"CaseNumber": "1"}, "INVALID_FIELD_FOR_INSERT_UPDATE", []string{"CaseNumber"}, ""},
		{"unknown field", sam, "Case", map[string]any{"Nope__c": true}, "INVALID_FIELD", []string{"Nope__c"}, ""},
		{"inactive user", dana, "Case", map[string]any{"Subject": "x"}, "INACTIVE_OWNER_OR_USER", nil, ""},
		{"unknown object", sam, "Account", map[string]any{"Name": "x"}, "INVALID_TYPE", nil,
			"create Account: INVALID_TYPE: sObject type 'Account' is not supported."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.org.Create(tc.user, tc.object, tc.fields)
			require.Empty(t, got)
			var saveErr *SaveError
			require.True(t, errors.As(err, &saveErr), "%v", err)
			require.Equal(t, tc.code, saveErr.Code, err.Error())
			require.Equal(t, tc.at, saveErr.Fields)
			if tc.msg != "" {
				require.EqualError(t, err, tc.msg)
			}
		})
	}
	require.Len(t, e.org.Records("Case"), 20)
	require.Len(t, e.org.Records("Contact"), 8)
}

func TestLastModifiedByName(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	id := "500Sd0000000001IAA"
	lastModifiedBy := func() map[string]any {
		t.Helper()
		var res queryResult
		e.callJSON(http.MethodGet, "/query?q="+url.QueryEscape(
			"SELECT Id, LastModifiedById, LastModifiedBy.Name FROM Case WHERE Id = '"+id+"'"), nil, http.StatusOK, &res)
		require.Len(t, res.Records, 1)
		return res.Records[0]
	}
	steps := []struct {
		name   string
		change func()
		user   string
		userID string
	}{
		{"seeded by the integration user", func() {}, "Integration User", e.org.UserID()},
		{"edited by Sam", func() {
			require.NoError(t, e.org.Edit(sam, "Case", id, map[string]any{"Status": "Working"}))
		}, "Sam Supervisor", sam},
		{"Sam's name is calculated anew", func() {
			require.NoError(t, e.org.Edit(sam, "User", sam, map[string]any{"FirstName": "Samantha"}))
		}, "Samantha Supervisor", sam},
		{"written by the bridge", func() {
			e.callJSON(http.MethodPatch, "/sobjects/Case/"+id, map[string]any{"Ctibridge_Status__c": "open"}, http.StatusNoContent, nil)
		}, "Integration User", e.org.UserID()},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.change()
			rec := lastModifiedBy()
			require.Equal(t, step.userID, rec["LastModifiedById"])
			require.Equal(t, map[string]any{
				"attributes": map[string]any{"type": "User", "url": "/services/data/v62.0/sobjects/User/" + step.userID},
				"Name":       step.user,
			}, rec["LastModifiedBy"])
		})
	}
}
