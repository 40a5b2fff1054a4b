package salesforce

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
	"github.com/jarcoal/httpmock"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

// localOrg starts the local org on 127.0.0.1 with n Cases and returns it,
// its URL and the Cases' ids.
func localOrg(t testing.TB, n int) (*sim.Org, string, []string) {
	t.Helper()
	org := sim.New(sim.Options{})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	var cases []sim.Record
	for k := range n {
		cases = append(cases, sim.Record{"attributes": map[string]any{"type": "Case"},
			"Subject": fmt.Sprintf("Case %d", k), "Status": "New", "Origin": "Email"})
	}
	require.NoError(t, org.Seed(cases))
	var ids []string
	for _, r := range org.Records("Case") {
		ids = append(ids, r["Id"].(string))
	}
	return org, srv.URL, ids
}

// testLog captures the connector's log lines at every level.
func testLog() (*logrus.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	l := logrus.New()
	l.SetOutput(&buf)
	l.SetLevel(logrus.DebugLevel)
	return l, &buf
}

func connect(t testing.TB, url string, mutate func(*Config)) *Client {
	t.Helper()
	log, _ := testLog()
	cfg := Config{LoginURL: url, Auth: AuthClientCredentials, ClientID: "ctibridge-local", ClientSecret: "local-secret",
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond, Logger: log}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(context.Background(), cfg)
	require.NoError(t, err)
	return c
}

// caseWriteback maps an audit entry to a Task, like the sample mapping
// does.
type caseWriteback struct{}

func (caseWriteback) Audit(c contactpad.RecordChange, crmID string) (*mapping.AuditRecord, error) {
	if c.Audit == nil {
		return nil, nil
	}
	return &mapping.AuditRecord{Object: "Task", ExternalIDField: "Ctibridge_Audit_Id__c", ExternalID: c.Audit.ID,
		Fields: map[string]any{"Subject": "ctibridge: " + c.Audit.Action, "WhatId": crmID, "Status": "Completed"}}, nil
}

// row makes an outbox row for a Case with the fields of status to write,
// as the sample mapping writes them, and an audit entry.
func row(id int64, crmID string, status contactpad.Status, auditID string) adapter.OutboxRow {
	payload, _ := json.Marshal(contactpad.RecordChange{
		Writeback: &contactpad.Writeback{Status: status},
		Audit:     &contactpad.AuditEntry{ID: auditID, Action: contactpad.AuditAction(status)},
		Fields: map[string]any{"Status": map[contactpad.Status]string{contactpad.Deferred: "On Hold",
			contactpad.Completed: "Closed"}[status], "Ctibridge_Status__c": string(status)},
	})
	return adapter.OutboxRow{ID: id, CRMObject: "Case", CRMID: crmID, Kind: adapter.OutboxChange, Payload: payload}
}

// fitCall asks sink to fit rows as the writer does, each with its
// payload read.
func fitCall(sink *Sink, rows []adapter.OutboxRow) []bool {
	changes := make([]*contactpad.RecordChange, len(rows))
	for k, r := range rows {
		var change contactpad.RecordChange
		if json.Unmarshal(r.Payload, &change) == nil {
			changes[k] = &change
		}
	}
	return sink.FitCall(rows, changes)
}

func TestSignIn(t *testing.T) {
	_, url, _ := localOrg(t, 0)
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		err    string
	}{
		{"client credentials", nil, ""},
		{"password", func(c *Config) {
			c.Auth, c.Username, c.Password = AuthPassword, "admin@local.test", "local-password"
		}, ""},
		{"bad client secret", func(c *Config) { c.ClientSecret = "hunter2" },
			"salesforce sign-in (client_credentials) at " + url + " refused: invalid_client"},
		{"bad password", func(c *Config) {
			c.Auth, c.Username, c.Password = AuthPassword, "admin@local.test", "hunter2"
		}, "salesforce sign-in (password) at " + url + " refused: invalid_grant authentication failure"},
		{"unknown auth", func(c *Config) { c.Auth = "saml" }, `unknown auth "saml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, lines := testLog()
			cfg := Config{LoginURL: url, Auth: AuthClientCredentials, ClientID: "ctibridge-local",
				ClientSecret: "local-secret", Logger: log}
			if tc.mutate != nil {
				tc.mutate(&cfg)
			}
			_, err := New(context.Background(), cfg)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
			for _, secret := range []string{"hunter2", "local-secret", "local-password"} {
				require.NotContains(t, err.Error(), secret, "no secret in the error")
				require.NotContains(t, lines.String(), secret, "no secret in the log")
			}
		})
	}
}

// TestSignInJWT: the JWT bearer flow signs the assertion with the
// connected app's private key; the org checks it with the certificate's key.
func TestSignInJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	org := sim.New(sim.Options{JWTKey: &key.PublicKey})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	jwt := func(c *Config) { c.Auth, c.Username, c.PrivateKey = AuthJWT, "admin@local.test", pemKey }
	c := connect(t, srv.URL, jwt)
	_, err = c.Query(context.Background(), "SELECT Id FROM Case")
	require.NoError(t, err)

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, err = New(context.Background(), Config{LoginURL: srv.URL, Auth: AuthJWT, ClientID: "ctibridge-local",
		Username: "admin@local.test", Logger: quiet(),
		PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})})
	require.ErrorContains(t, err, "salesforce sign-in (jwt) at "+srv.URL+" refused: invalid_grant", "a key the org does not know")
}

func quiet() *logrus.Logger { l, _ := testLog(); return l }

// TestSessionExpiry: an expired session is renewed once, transparently.
func TestSessionExpiry(t *testing.T) {
	org, url, _ := localOrg(t, 3)
	c := connect(t, url, nil)
	org.Faults().ExpireSessions()
	res, err := c.Query(context.Background(), "SELECT Id FROM Case")
	require.NoError(t, err)
	require.Equal(t, 3, res.TotalSize)
	require.Equal(t, 2, org.Calls()[sim.CallToken], "signed in again once")
}

// TestSinkBatches: N record writes pending together cost ceil(N/1000)
// composite calls; changes of one record coalesce into one update.
func TestSinkBatches(t *testing.T) {
	org, url, ids := localOrg(t, 1200)
	sink := NewSink(connect(t, url, nil), map[string]Writeback{"Case": caseWriteback{}})
	var rows []adapter.OutboxRow
	for k, id := range ids {
		rows = append(rows, row(int64(k+1), id, contactpad.Deferred, fmt.Sprintf("aud-%d-a", k)))
	}
	// Three changes of the first record: one update carrying the last
	// status, and three audit Tasks.
	rows = append(rows, row(2000, ids[0], contactpad.Connected, "aud-0-b"), row(2001, ids[0], contactpad.Completed, "aud-0-c"))
	before := org.Total()
	for k, err := range sink.Write(context.Background(), rows) {
		require.NoError(t, err, "row %d", k)
	}
	// 1200 updates + 1202 audit upserts = 2402 record writes: 3 calls.
	require.Equal(t, 3, org.Total()-before, "ceil(2402/1000) API calls")
	require.Equal(t, 3, org.Calls()[sim.CallComposite])
	byID := map[string]map[string]any{}
	for _, r := range org.Records("Case") {
		byID[r["Id"].(string)] = r
	}
	require.Equal(t, "Closed", byID[ids[0]]["Status"], "the last change of a record wins")
	require.Equal(t, "completed", byID[ids[0]]["Ctibridge_Status__c"])
	require.Equal(t, "On Hold", byID[ids[1]]["Status"])
	require.Equal(t, 1202, len(org.Records("Task")), "one Task per audit entry")

	// Writing the same rows again (a retry) duplicates nothing.
	for _, err := range sink.Write(context.Background(), rows) {
		require.NoError(t, err)
	}
	require.Equal(t, 1202, len(org.Records("Task")), "audit Tasks are upserted by Ctibridge_Audit_Id__c")
}

// TestSinkFitCall: FitCall counts the collections the rows make as Write
// packs them, so that the rows it takes go in one call; changes of one
// record count as one update. Once a new record's update would need a
// sixth collection, rows that only add audit entries still go, and a
// record whose row was left out has its later rows left out too.
func TestSinkFitCall(t *testing.T) {
	org, url, ids := localOrg(t, 600)
	sink := NewSink(connect(t, url, nil), map[string]Writeback{"Case": caseWriteback{}})
	rows := []adapter.OutboxRow{row(1, ids[0], contactpad.Deferred, "aud-0-a"), row(2, ids[0], contactpad.Completed, "aud-0-b")}
	for k, id := range ids[1:] {
		rows = append(rows, row(int64(k+3), id, contactpad.Deferred, fmt.Sprintf("aud-%d", k+1)))
	}
	taken := func(take []bool) (n int) {
		for _, ok := range take {
			if ok {
				n++
			}
		}
		return n
	}
	require.Equal(t, []bool{true, true}, fitCall(sink, rows[:2]), "one update, two upserts")
	// 401 rows: 400 records, 2 collections of updates; 401 audit entries,
	// 3 of upserts. The next record needs a third of updates: a sixth.
	take := fitCall(sink, rows)
	require.Equal(t, 401, taken(take))
	require.True(t, take[400])
	require.False(t, take[401])

	// A later change of a record in the call adds only its audit entry:
	// it fills the third collection of upserts. One of a record left out
	// is left out.
	more := append(slices.Clone(rows[:402]),
		row(1000, ids[5], contactpad.Completed, "aud-5-b"),
		row(1001, ids[400], contactpad.Completed, "aud-400-b"))
	take = fitCall(sink, more)
	require.Equal(t, 402, taken(take))
	require.True(t, take[402], "ids[5] is in the call: only an upsert")
	require.False(t, take[403], "ids[400] was left out")

	var fit []adapter.OutboxRow
	for k, ok := range take {
		if ok {
			fit = append(fit, more[k])
		}
	}
	before := org.Total()
	for k, err := range sink.Write(context.Background(), fit) {
		require.NoError(t, err, "row %d", k)
	}
	require.Equal(t, 1, org.Total()-before, "what fits goes in one call")
	require.Empty(t, fitCall(sink, nil))
}

// TestSinkRecordErrors: a deleted record is parked with its code, as gone;
// a locked row is retried; the other records of the call are written.
func TestSinkRecordErrors(t *testing.T) {
	org, url, ids := localOrg(t, 3)
	sink := NewSink(connect(t, url, nil), map[string]Writeback{"Case": caseWriteback{}})
	org.Faults().MarkDeleted(ids[0])
	org.Faults().LockRows(1, ids[1])
	rows := []adapter.OutboxRow{row(1, ids[0], contactpad.Deferred, "a1"), row(2, ids[1], contactpad.Deferred, "a2"),
		row(3, ids[2], contactpad.Deferred, "a3")}
	errs := sink.Write(context.Background(), rows)
	var park *adapter.ParkError
	require.ErrorAs(t, errs[0], &park)
	require.Equal(t, "ENTITY_IS_DELETED", park.Code)
	require.True(t, park.Gone, "the record is gone: its interaction ends")
	require.Error(t, errs[1])
	require.NotErrorAs(t, errs[1], &park, "a locked row is retried, not parked")
	require.ErrorContains(t, errs[1], "UNABLE_TO_LOCK_ROW")
	require.NoError(t, errs[2])

	errs = sink.Write(context.Background(), rows[1:2])
	require.NoError(t, errs[0], "the lock is gone on the retry")
}

// TestSinkOrgDown: a burst of 5xx is retried within the call; a longer
// outage fails every row with a retryable error.
func TestSinkOrgDown(t *testing.T) {
	org, url, ids := localOrg(t, 2)
	sink := NewSink(connect(t, url, nil), map[string]Writeback{"Case": caseWriteback{}})
	rows := []adapter.OutboxRow{row(1, ids[0], contactpad.Deferred, "a1"), row(2, ids[1], contactpad.Deferred, "a2")}
	org.Faults().FailNext(2, http.StatusServiceUnavailable)
	for _, err := range sink.Write(context.Background(), rows) {
		require.NoError(t, err, "two 503s are retried inside the call")
	}
	org.Faults().FailNext(50, http.StatusInternalServerError)
	for _, err := range sink.Write(context.Background(), rows) {
		var park *adapter.ParkError
		var unavailable *adapter.UnavailableError
		require.Error(t, err)
		require.NotErrorAs(t, err, &park, "an outage is retried later, not parked")
		require.ErrorAs(t, err, &unavailable, "no fault of the record's: it spends no attempt")
		require.ErrorContains(t, err, "UNKNOWN_EXCEPTION", "the org's last answer is kept when the retries run out")
	}
	org.Faults().Reset()
	org.Faults().ExceedLimit(1)
	for _, err := range sink.Write(context.Background(), rows) {
		var unavailable *adapter.UnavailableError
		require.ErrorContains(t, err, "REQUEST_LIMIT_EXCEEDED", "the limit is not hammered: the engine backs off")
		require.ErrorAs(t, err, &unavailable)
	}
}

// TestRetryLayer (httpmock under the retry layer): Retry-After is honoured,
// and an empty error array does not panic simpleforce.
func TestRetryLayer(t *testing.T) {
	mock := httpmock.NewMockTransport()
	mock.RegisterResponder(http.MethodPost, "https://login.test/services/oauth2/token",
		httpmock.NewStringResponder(200, `{"access_token":"tok","instance_url":"https://org.test","token_type":"Bearer"}`))
	calls := 0
	mock.RegisterResponder(http.MethodGet, `=~^https://org\.test/services/data/v62\.0/query`,
		func(req *http.Request) (*http.Response, error) {
			calls++
			switch calls {
			case 1:
				resp := httpmock.NewStringResponse(503, `[]`)
				resp.Header.Set("Retry-After", "0")
				return resp, nil
			case 2:
				return httpmock.NewStringResponse(400, `[]`), nil
			}
			return httpmock.NewStringResponse(200, `{"totalSize":0,"done":true,"records":[]}`), nil
		})
	c := connect(t, "https://login.test", func(c *Config) { c.Transport = mock })
	_, err := c.Query(context.Background(), "SELECT Id FROM Case")
	require.Error(t, err, "the 503 was retried; the 400 with an empty body is an error, not a panic")
	require.ErrorContains(t, err, "HTTP 400")
	require.Equal(t, 2, calls)
	_, err = c.Query(context.Background(), "SELECT Id FROM Case")
	require.NoError(t, err)
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Action
	}{
		{&APIError{Status: 401, Code: "INVALID_SESSION_ID"}, Reauthenticate},
		{&APIError{Status: 404, Code: "ENTITY_IS_DELETED"}, Park},
		{&APIError{Status: 400, Code: "INVALID_FIELD"}, Park},
		{&APIError{Status: 400, Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}, Park},
		{&APIError{Status: 400, Code: "UNABLE_TO_LOCK_ROW"}, Retry},
		{&APIError{Status: 403, Code: "REQUEST_LIMIT_EXCEEDED"}, Retry},
		{&APIError{Status: 503}, Retry},
		{io.ErrUnexpectedEOF, Retry},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) { require.Equal(t, tc.want, Classify(tc.err)) })
	}
	require.True(t, strings.HasPrefix((&APIError{Code: "X", Message: "m"}).Error(), "salesforce: X"))
}

// TestUnanswered: what says the org did not answer a call (Config.Answered)
// and what is an answer, even an error.
func TestUnanswered(t *testing.T) {
	for _, tc := range []struct {
		err      error
		answered bool
	}{
		{nil, true},
		{&APIError{Status: 404, Code: "ENTITY_IS_DELETED"}, true},
		{&APIError{Status: 400, Code: "UNABLE_TO_LOCK_ROW"}, true},
		{&APIError{Status: 400, Code: "MALFORMED_QUERY"}, true},
		{&APIError{Status: 503, Code: "SERVER_UNAVAILABLE"}, false},
		{&APIError{Status: 500, Code: "UNKNOWN_EXCEPTION"}, false},
		{&APIError{Status: 403, Code: "REQUEST_LIMIT_EXCEEDED"}, false},
		{&APIError{Status: 401, Code: "INVALID_SESSION_ID"}, false},
		{fmt.Errorf("POST composite: %w", io.ErrUnexpectedEOF), false},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			require.Equal(t, tc.answered, unanswered(tc.err) == nil)
		})
	}
}
