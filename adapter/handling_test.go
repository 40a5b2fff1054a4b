package adapter_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// The rules of the handle time on hand-made audit trails, for the cases
// the engine's behaviour suite does not reach: admins, transfer and
// consult targets, reopens, declines, and the range's edges. The engine's
// own trails are tested in enginetest (testHandlingExport).
func TestNewHandlingReport(t *testing.T) {
	t0 := time.Date(2025, time.March, 3, 9, 0, 0, 0, time.UTC)
	min := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	const (
		queued    = contactpad.Queued
		offered   = contactpad.Offered
		connected = contactpad.Connected
		wrapUp    = contactpad.WrapUp
		deferred  = contactpad.Deferred
		completed = contactpad.Completed
	)
	entry := func(at time.Time, actor string, action contactpad.AuditAction, category contactpad.AuditCategory, from, to contactpad.Status, data ...string) contactpad.AuditEntry {
		e := contactpad.AuditEntry{InteractionID: "i1", At: at, Actor: actor, Action: action, Category: category,
			FromStatus: from, ToStatus: to}
		if len(data) > 0 {
			e.Data = map[string]string{}
			for n := 0; n+1 < len(data); n += 2 {
				e.Data[data[n]] = data[n+1]
			}
		}
		return e
	}
	created := entry(min(0), "system", "created", "routing", "", queued)
	assigned := func(at time.Time, agent string) contactpad.AuditEntry {
		return entry(at, "system", "assigned", "routing", queued, connected, "agent", agent)
	}
	interactions := map[string]*contactpad.Interaction{"i1": {ID: "i1", CRMObject: "Case", CRMID: "500A",
		Media: contactpad.NonLive, Service: "support"}}

	// row is what tests compare: who, what, and the handle time.
	type row struct {
		agent, action string
		handle        time.Duration
	}
	tests := []struct {
		name     string
		from, to time.Time
		trail    []contactpad.AuditEntry
		rows     []row
		aht      []adapter.HandlingAHT
	}{
		{
			name: "an assignment starts the time; each step counts since the previous one",
			trail: []contactpad.AuditEntry{created, assigned(min(1), "alice"),
				entry(min(4), "alice", "consult_started", "consult", connected, connected),
				entry(min(6), "alice", "released", "release", connected, wrapUp),
				entry(min(7), "alice", "completed", "wrap_up", wrapUp, completed)},
			rows: []row{{"alice", "consult_started", 3 * time.Minute}, {"alice", "released", 2 * time.Minute},
				{"alice", "completed", time.Minute}},
			aht: []adapter.HandlingAHT{{Agent: "alice", Media: contactpad.NonLive, Interactions: 1,
				HandleTime: 6 * time.Minute, AHT: 6 * time.Minute}},
		},
		{
			name: "work adopted as an agent's, then moved to another in the CRM, counts for each from then",
			trail: []contactpad.AuditEntry{
				entry(min(0), "system", "adopted", "routing", "", connected, "agent", "alice"),
				entry(min(2), "alice", "consult_started", "consult", connected, connected),
				entry(min(3), "crm", "reassigned", "crm", connected, connected, "from", "alice", "to", "bob"),
				entry(min(7), "bob", "released", "release", connected, wrapUp)},
			rows: []row{{"alice", "consult_started", 2 * time.Minute}, {"bob", "released", 4 * time.Minute}},
			aht: []adapter.HandlingAHT{
				{Agent: "alice", Media: contactpad.NonLive, Interactions: 1, HandleTime: 2 * time.Minute, AHT: 2 * time.Minute},
				{Agent: "bob", Media: contactpad.NonLive, Interactions: 1, HandleTime: 4 * time.Minute, AHT: 4 * time.Minute}},
		},
		{
			name: "a declined offer is not handling, and ringing is not handle time",
			trail: []contactpad.AuditEntry{created,
				entry(min(1), "system", "offered", "routing", queued, offered, "agent", "bob"),
				entry(min(2), "bob", "declined", "routing", offered, queued),
				entry(min(3), "system", "offered", "routing", queued, offered, "agent", "alice"),
				entry(min(5), "alice", "accepted", "accept", offered, connected),
				entry(min(8), "alice", "deferred", "status_action", connected, deferred)},
			rows: []row{{"alice", "accepted", 0}, {"alice", "deferred", 3 * time.Minute}},
			aht: []adapter.HandlingAHT{{Agent: "alice", Media: contactpad.NonLive, Interactions: 1,
				HandleTime: 3 * time.Minute, AHT: 3 * time.Minute}},
		},
		{
			name: "a transfer target's decline takes nothing from the owner",
			trail: []contactpad.AuditEntry{created, assigned(min(1), "alice"),
				entry(min(2), "alice", "transfer_requested", "transfer", connected, connected),
				entry(min(3), "bob", "transfer_failed", "transfer", connected, connected, "failed_reason", "declined"),
				entry(min(4), "system", "transfer_failed", "transfer", connected, connected, "failed_reason", "timeout"),
				entry(min(6), "alice", "transferred", "transfer", connected, queued, "mode", "cold")},
			rows: []row{{"alice", "transfer_requested", time.Minute}, {"bob", "transfer_failed", 0},
				{"alice", "transferred", 4 * time.Minute}},
			// Bob never held it: it is not one of his interactions.
			aht: []adapter.HandlingAHT{{Agent: "alice", Media: contactpad.NonLive, Interactions: 1,
				HandleTime: 5 * time.Minute, AHT: 5 * time.Minute}},
		},
		{
			name: "a warm transfer hands the time over at Transfer now",
			trail: []contactpad.AuditEntry{created, assigned(min(1), "alice"),
				entry(min(3), "alice", "transferred", "transfer", connected, connected, "to", "bob", "mode", "warm"),
				entry(min(4), "bob", "consult_started", "consult", connected, connected),
				entry(min(5), "alice", "consult_ended", "consult", connected, connected),
				entry(min(9), "bob", "released", "release", connected, wrapUp)},
			rows: []row{{"alice", "transferred", 2 * time.Minute}, {"bob", "consult_started", time.Minute},
				{"alice", "consult_ended", 0}, {"bob", "released", 5 * time.Minute}},
			aht: []adapter.HandlingAHT{
				{Agent: "alice", Media: contactpad.NonLive, Interactions: 1, HandleTime: 2 * time.Minute, AHT: 2 * time.Minute},
				{Agent: "bob", Media: contactpad.NonLive, Interactions: 1, HandleTime: 6 * time.Minute, AHT: 6 * time.Minute},
			},
		},
		{
			name: "an admin's defer ends the agent's time without a step; a reopen to the owner starts it again",
			trail: []contactpad.AuditEntry{created, assigned(min(1), "alice"),
				entry(min(2), "alice", "held", "hold", connected, connected),
				entry(min(5), "admin", "deferred", "status_action", connected, deferred),
				entry(min(30), "system", "reopened", "system", deferred, connected, "reopen_reason", "due_date"),
				entry(min(32), "alice", "released", "release", connected, wrapUp),
				entry(min(33), "system", "completed", "wrap_up", wrapUp, completed),
				entry(min(50), "alice", "resumed", "status_action", completed, connected, "resumed_from", "completed"),
				entry(min(51), "alice", "abandoned", "abandon", connected, contactpad.Abandoned)},
			rows: []row{{"alice", "held", time.Minute}, {"alice", "released", 2 * time.Minute},
				{"alice", "resumed", 0}, {"alice", "abandoned", time.Minute}},
			aht: []adapter.HandlingAHT{{Agent: "alice", Media: contactpad.NonLive, Abandoned: 1,
				AbandonedHandleTime: 4 * time.Minute}},
		},
		{
			name: "entries before from set the state; a step's time may start before from",
			from: min(10), to: min(20),
			trail: []contactpad.AuditEntry{created,
				entry(min(1), "system", "offered", "routing", queued, offered, "agent", "alice"),
				entry(min(2), "admin", "accepted", "accept", offered, connected),
				entry(min(5), "alice", "held", "hold", connected, connected),
				entry(min(12), "alice", "retrieved", "hold", connected, connected),
				entry(min(19), "alice", "released", "release", connected, wrapUp),
				entry(min(20), "alice", "completed", "wrap_up", wrapUp, completed)},
			rows: []row{{"alice", "retrieved", 7 * time.Minute}, {"alice", "released", 7 * time.Minute}},
			aht: []adapter.HandlingAHT{{Agent: "alice", Media: contactpad.NonLive, Interactions: 1,
				HandleTime: 14 * time.Minute, AHT: 14 * time.Minute}},
		},
		{
			name:  "no steps",
			trail: []contactpad.AuditEntry{created, assigned(min(1), "alice")},
			rows:  []row{},
			aht:   []adapter.HandlingAHT{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := adapter.NewHandlingReport(tt.from, tt.to, tt.trail, interactions)
			rows := make([]row, len(r.Steps))
			for n, s := range r.Steps {
				rows[n] = row{s.Agent, string(s.Action), s.HandleTime}
				require.Equal(t, "500A", s.CRMID)
				require.Equal(t, contactpad.NonLive, s.Media)
			}
			require.Equal(t, tt.rows, rows)
			require.Equal(t, tt.aht, r.AHT)
		})
	}
}

func TestHandlingReportEncoding(t *testing.T) {
	t0 := time.Date(2025, time.March, 3, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	trail := []contactpad.AuditEntry{
		{InteractionID: "i1", At: t0, Actor: "system", Action: "assigned", Category: "routing",
			FromStatus: contactpad.Queued, ToStatus: contactpad.Connected, Data: map[string]string{"agent": "alice"}},
		{InteractionID: "i1", At: t0.Add(90*time.Second + 500*time.Millisecond), Actor: "alice", Action: "deferred",
			Category: "status_action", FromStatus: contactpad.Connected, ToStatus: contactpad.Deferred},
		// Not in the interactions given: no media, service or CRM record.
		{InteractionID: "gone", At: t0.Add(2 * time.Minute), Actor: "bob", Action: "released", Category: "release",
			FromStatus: contactpad.Connected, ToStatus: contactpad.WrapUp},
	}
	interactions := map[string]*contactpad.Interaction{"i1": {ID: "i1", CRMObject: "Case", CRMID: "500A",
		Media: contactpad.SemiLive, Service: "support, \"tier 2\""}}

	t.Run("CSV", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, adapter.NewHandlingReport(time.Time{}, time.Time{}, trail, interactions).WriteCSV(&buf))
		require.Equal(t, "at,agent,interaction_id,crm_object,crm_id,media,service,category,action,from_status,to_status,handle_time_s\n"+
			"2025-03-03T08:01:30.5Z,alice,i1,Case,500A,semi-live,\"support, \"\"tier 2\"\"\",status_action,deferred,connected,deferred,90.5\n"+
			"2025-03-03T08:02:00Z,bob,gone,,,,,release,released,connected,wrap_up,0\n", buf.String())
	})
	t.Run("JSON with open bounds", func(t *testing.T) {
		body, err := json.Marshal(adapter.NewHandlingReport(time.Time{}, time.Time{}, trail[:2], interactions))
		require.NoError(t, err)
		require.JSONEq(t, `{"from": null, "to": null,
			"steps": [{"at": "2025-03-03T08:01:30.5Z", "agent": "alice", "interaction_id": "i1", "crm_object": "Case",
				"crm_id": "500A", "media": "semi-live", "service": "support, \"tier 2\"", "category": "status_action",
				"action": "deferred", "from_status": "connected", "to_status": "deferred", "handle_time_s": 90.5}],
			"aht": [{"agent": "alice", "media": "semi-live", "interactions": 1, "handle_time_s": 90.5, "aht_s": 90.5,
				"abandoned": 0, "abandoned_handle_time_s": 0}]}`, string(body))
	})
	t.Run("JSON of an empty range", func(t *testing.T) {
		body, err := json.Marshal(adapter.NewHandlingReport(t0, t0.Add(time.Hour), nil, nil))
		require.NoError(t, err)
		require.JSONEq(t, `{"from": "2025-03-03T08:00:00Z", "to": "2025-03-03T09:00:00Z", "steps": [], "aht": []}`, string(body))
	})
}
