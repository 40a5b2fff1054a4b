package salesforce

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// withAgentWork is row with the AgentWork of an offer of its Case to user.
func withAgentWork(r adapter.OutboxRow, org *sim.Org, psr, user string) adapter.OutboxRow {
	var change contactpad.RecordChange
	_ = json.Unmarshal(r.Payload, &change)
	change.AgentWork = &contactpad.AgentWorkOffer{ServiceChannelID: org.ServiceChannelID("Cases"), WorkItemID: r.CRMID,
		UserID: user, PSRID: psr, CapacityWeight: 1}
	r.Payload, _ = json.Marshal(change)
	return r
}

// TestSinkPartlyWritten: the record update, audit upsert and AgentWork
// create of a row go in collections of their own, which the org takes or
// refuses one by one. A row whose AgentWork is refused while its update
// and audit Task landed, or whose update fails while the rest landed,
// fails with an *adapter.PartlyWrittenError saying what landed, wrapping
// the failure: a second AgentWork for a pushed PSR
// (FIELD_INTEGRITY_EXCEPTION) is parked, a locked row retried.
func TestSinkPartlyWritten(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(sim.DefaultSeed()))
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	const alice, bob = "005Sd0000000001IAA", "005Sd0000000002IAA"
	var cases, psrs []string
	for _, subject := range []string{"Routed", "Locked"} {
		id, err := org.Create(alice, "Case", map[string]any{"Subject": subject, "Origin": "Web", "OwnerId": org.QueueID("Support_Omni")})
		require.NoError(t, err)
		cases = append(cases, id)
		for _, p := range org.Records("PendingServiceRouting") {
			if p["WorkItemId"] == id {
				psrs = append(psrs, p["Id"].(string))
			}
		}
	}
	require.Len(t, psrs, 2)
	sink := NewSink(connect(t, srv.URL, nil), map[string]Writeback{"Case": caseWriteback{}})
	ctx := context.Background()

	errs := sink.Write(ctx, []adapter.OutboxRow{withAgentWork(row(1, cases[0], contactpad.Deferred, "w1"), org, psrs[0], alice)})
	require.NoError(t, errs[0])

	// bob's AgentWork for the same PSR: refused; the update and Task land.
	org.Faults().LockRows(1, cases[1])
	errs = sink.Write(ctx, []adapter.OutboxRow{
		withAgentWork(row(2, cases[0], contactpad.Deferred, "w2"), org, psrs[0], bob),
		withAgentWork(row(3, cases[1], contactpad.Deferred, "w3"), org, psrs[1], bob),
	})
	var part *adapter.PartlyWrittenError
	require.ErrorAs(t, errs[0], &part)
	require.Equal(t, adapter.PartlyWrittenError{Err: part.Err, Fields: true, Audit: true}, *part)
	var park *adapter.ParkError
	require.ErrorAs(t, errs[0], &park)
	require.Equal(t, "FIELD_INTEGRITY_EXCEPTION", park.Code)
	require.Equal(t, "On Hold", recordOf(org, "Case", cases[0])["Status"], "the update landed")

	// The locked Case's update fails; its Task and AgentWork land.
	require.ErrorAs(t, errs[1], &part)
	require.Equal(t, adapter.PartlyWrittenError{Err: part.Err, Audit: true, AgentWork: true}, *part)
	require.NotErrorAs(t, errs[1], &park, "a locked row is retried")
	require.ErrorContains(t, errs[1], "UNABLE_TO_LOCK_ROW")
	require.Len(t, org.Records("AgentWork"), 2, "alice's on the first Case, bob's on the second")
	var audits []any
	for _, task := range org.Records("Task") {
		if id := task["Ctibridge_Audit_Id__c"]; id != nil {
			audits = append(audits, id)
		}
	}
	require.Equal(t, []any{"w1", "w2", "w3"}, audits, "each audit Task landed")
}

// recordOf returns the live record of object with id, or nil.
func recordOf(org *sim.Org, object, id string) map[string]any {
	for _, r := range org.Records(object) {
		if r["Id"] == id {
			return r
		}
	}
	return nil
}
