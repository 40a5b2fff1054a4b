package sim_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/k-capehart/go-salesforce/v3"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// TestGoSalesforceConformance drives the local org with
// github.com/k-capehart/go-salesforce, a client library written against the
// real Salesforce API by people who never saw this package.
//
// The org serves API version 63.0 here because the library pins v63.0 in
// two places the caller cannot configure: the prefix it strips from
// nextRecordsUrl and the subrequest URLs of its composite calls.
func TestGoSalesforceConformance(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	org := sim.New(sim.Options{APIVersion: "63.0", SecurityToken: "tok", JWTKey: &key.PublicKey})
	require.NoError(t, org.Seed(sim.DefaultSeed()))
	extra := make([]sim.Record, 4500)
	for i := range extra {
		extra[i] = sim.Record{"attributes": map[string]any{"type": "Case"}, "Subject": fmt.Sprintf("Bulk case %04d", i),
			"ContactId": "003Sd0000000001IAA"}
	}
	require.NoError(t, org.Seed(extra))
	srv := httptest.NewServer(org)
	defer srv.Close()
	client := func(t *testing.T, creds salesforce.Creds) *salesforce.Salesforce {
		t.Helper()
		creds.Domain = srv.URL
		sf, err := salesforce.Init(creds)
		require.NoError(t, err)
		require.Equal(t, srv.URL, sf.GetInstanceUrl())
		return sf
	}

	t.Run("authentication flows", func(t *testing.T) {
		sf := client(t, salesforce.Creds{ConsumerKey: "ctibridge-local", ConsumerSecret: "local-secret"})
		require.Equal(t, salesforce.AuthFlowClientCredentials, sf.GetAuthFlow())

		sf = client(t, salesforce.Creds{Username: "admin@local.test", Password: "local-password", SecurityToken: "tok",
			ConsumerKey: "ctibridge-local", ConsumerSecret: "local-secret"})
		require.Equal(t, salesforce.AuthFlowUsernamePassword, sf.GetAuthFlow())

		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		sf = client(t, salesforce.Creds{Username: "alice@local.test", ConsumerKey: "ctibridge-local", ConsumerRSAPem: string(keyPEM)})
		require.Equal(t, salesforce.AuthFlowJWT, sf.GetAuthFlow())
		var me []struct{ Id, Name string }
		require.NoError(t, sf.Query("SELECT Id, Name FROM User WHERE Username = 'alice@local.test'", &me))
		require.Equal(t, "Alice Archer", me[0].Name)

		_, err := salesforce.Init(salesforce.Creds{Domain: srv.URL, Username: "admin@local.test", Password: "wrong",
			SecurityToken: "tok", ConsumerKey: "ctibridge-local", ConsumerSecret: "local-secret"})
		require.ErrorContains(t, err, "400 Bad Request")
	})

	sf := client(t, salesforce.Creds{ConsumerKey: "ctibridge-local", ConsumerSecret: "local-secret"})

	t.Run("query with pagination and relationship fields", func(t *testing.T) {
		type caseRow struct {
			Id      string
			Subject string
			Contact struct{ Name string }
		}
		before := org.Calls()[sim.CallQuery]
		var rows []caseRow
		require.NoError(t, sf.Query("SELECT Id, Subject, Contact.Name FROM Case WHERE Subject LIKE 'Bulk case%' ORDER BY Subject", &rows))
		require.Len(t, rows, 4500)
		require.Equal(t, "Bulk case 0000", rows[0].Subject)
		require.Equal(t, "Bulk case 4499", rows[4499].Subject)
		require.Equal(t, "Maya Lindqvist", rows[2001].Contact.Name)
		require.Equal(t, before+3, org.Calls()[sim.CallQuery], "three pages of 2000 at most")
	})

	var inserted string
	t.Run("insert one", func(t *testing.T) {
		res, err := sf.InsertOne("Case", map[string]any{"Subject": "Inserted by go-salesforce", "Origin": "Web"})
		require.NoError(t, err)
		require.True(t, res.Success)
		require.Regexp(t, `^500[0-9A-Za-z]{15}$`, res.Id)
		inserted = res.Id
		require.NoError(t, sf.UpdateOne("Case", map[string]any{"Id": inserted, "Ctibridge_Status__c": "open"}))
	})

	t.Run("update a collection", func(t *testing.T) {
		var open []struct{ Id string }
		require.NoError(t, sf.Query("SELECT Id FROM Case WHERE Subject LIKE 'Bulk case 00%'", &open))
		require.Len(t, open, 100)
		records := make([]map[string]any, len(open))
		for i, r := range open {
			records[i] = map[string]any{"Id": r.Id, "Status": "Working", "Ctibridge_Due_By__c": "2026-11-23T10:00:00.000+0000"}
		}
		results, err := sf.UpdateCollection("Case", records, 200)
		require.NoError(t, err)
		require.False(t, results.HasSalesforceErrors)
		require.Len(t, results.Results, 100)
		var working []struct{ Id string }
		require.NoError(t, sf.Query("SELECT Id FROM Case WHERE Status = 'Working' AND Ctibridge_Due_By__c = 2026-11-23T10:00:00Z", &working))
		require.Len(t, working, 100)
	})

	t.Run("composite of collections is one API call; upsert collection", func(t *testing.T) {
		var rows []struct{ Id string }
		require.NoError(t, sf.Query("SELECT Id FROM Case WHERE Subject LIKE 'Bulk case%' LIMIT 1000", &rows))
		records := make([]map[string]any, len(rows))
		for i, r := range rows {
			records[i] = map[string]any{"Id": r.Id, "Ctibridge_Tags__c": "bulk"}
		}
		before := org.Total()
		results, err := sf.UpdateComposite("Case", records, 200, false)
		require.NoError(t, err)
		require.False(t, results.HasSalesforceErrors)
		require.Len(t, results.Results, 1000)
		require.Equal(t, before+1, org.Total())

		audits := []map[string]any{
			{"Ctibridge_Audit_Id__c": "audit-1", "Subject": "Interaction deferred", "WhatId": inserted},
			{"Ctibridge_Audit_Id__c": "audit-2", "Subject": "Interaction resumed by an agent", "WhatId": inserted},
		}
		results, err = sf.UpsertCollection("Task", "Ctibridge_Audit_Id__c", audits, 200)
		require.NoError(t, err)
		require.False(t, results.HasSalesforceErrors)
		results, err = sf.UpsertCollection("Task", "Ctibridge_Audit_Id__c", audits, 200)
		require.NoError(t, err)
		require.False(t, results.HasSalesforceErrors)
		var tasks []struct{ Subject string }
		require.NoError(t, sf.Query("SELECT Subject FROM Task WHERE WhatId = '"+inserted+"'", &tasks))
		require.Len(t, tasks, 2, "upserting twice by external id keeps one record per id")
	})

	t.Run("errors decode", func(t *testing.T) {
		org.Faults().LockRows(1, inserted)
		results, err := sf.UpdateCollection("Case", []map[string]any{{"Id": inserted, "Status": "Escalated"}}, 200)
		require.NoError(t, err)
		require.True(t, results.HasSalesforceErrors)
		require.Equal(t, "UNABLE_TO_LOCK_ROW", results.Results[0].Errors[0].StatusCode)

		err = sf.UpdateOne("Case", map[string]any{"Id": inserted, "Nope__c": "x"})
		require.Error(t, err)
		var sfErrs []salesforce.SalesforceErrorMessage
		require.NoError(t, json.Unmarshal([]byte(err.Error()), &sfErrs), err.Error())
		require.Equal(t, "INVALID_FIELD", sfErrs[0].ErrorCode)
		require.Equal(t, "No such column 'Nope__c' on sobject of type Case", sfErrs[0].Message)

		var rows []struct{ Id string }
		err = sf.Query("SELECT Nope FROM Case", &rows)
		require.Error(t, err)
		require.NoError(t, json.Unmarshal([]byte(err.Error()), &sfErrs), err.Error())
		require.Equal(t, "INVALID_FIELD", sfErrs[0].ErrorCode)

		require.NoError(t, sf.DeleteOne("Case", map[string]any{"Id": inserted}))
		err = sf.DeleteOne("Case", map[string]any{"Id": inserted})
		require.NoError(t, json.Unmarshal([]byte(err.Error()), &sfErrs), err.Error())
		require.Equal(t, "ENTITY_IS_DELETED", sfErrs[0].ErrorCode)
	})

	t.Run("expired session is renewed by the client", func(t *testing.T) {
		tokens := org.Calls()[sim.CallToken]
		org.Faults().ExpireSessions()
		var users []struct{ Username string }
		require.NoError(t, sf.Query("SELECT Username FROM User ORDER BY Username", &users))
		require.Len(t, users, 6)
		require.Equal(t, tokens+1, org.Calls()[sim.CallToken])
	})
}
