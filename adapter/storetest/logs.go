package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func testAudit(t *testing.T, s adapter.Store) {
	entry := func(id, interaction string, at time.Time, data map[string]string) contactpad.AuditEntry {
		return contactpad.AuditEntry{
			ID: id, InteractionID: interaction, At: at, Actor: "alice", Action: "accepted",
			Category: "accept", FromStatus: contactpad.Offered, ToStatus: contactpad.Connected,
			Message: "accepted " + id, Data: data,
		}
	}
	// Out of time order and interleaved across interactions and Updates:
	// only the order of appending counts.
	batches := [][]contactpad.AuditEntry{
		{
			entry("a1", "i1", at(5*time.Minute), map[string]string{"reason": "busy"}),
			entry("b1", "i2", at(0), nil),
			entry("a2", "i1", at(0), map[string]string{}),
		},
		{
			entry("a3", "i1", at(5*time.Minute), nil),
			entry("b2", "i2", at(-time.Hour), map[string]string{"to": "bob", "note": "refund"}),
		},
	}
	for _, batch := range batches {
		var fns []func(adapter.Tx) error
		for _, e := range batch {
			fns = append(fns, func(tx adapter.Tx) error { return tx.AppendAudit(&e) })
		}
		update(t, s, fns...)
	}

	tests := []struct {
		name        string
		interaction string
		want        []contactpad.AuditEntry
	}{
		{name: "in the order appended", interaction: "i1", want: []contactpad.AuditEntry{
			entry("a1", "i1", at(5*time.Minute), map[string]string{"reason": "busy"}),
			entry("a2", "i1", at(0), map[string]string{}),
			entry("a3", "i1", at(5*time.Minute), nil),
		}},
		{name: "another interaction", interaction: "i2", want: []contactpad.AuditEntry{
			entry("b1", "i2", at(0), nil),
			entry("b2", "i2", at(-time.Hour), map[string]string{"to": "bob", "note": "refund"}),
		}},
		{name: "none", interaction: "i3", want: []contactpad.AuditEntry{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Audit(tt.interaction)
				require.NoError(t, err)
				equalList(t, tt.want, got)
				return nil
			})
		})
	}
}

func testEvents(t *testing.T, s adapter.Store) {
	view(t, s, func(tx adapter.Tx) error {
		last, err := tx.LastEventSeq()
		require.NoError(t, err)
		require.Zero(t, last, "LastEventSeq of a store without events")
		return nil
	})
	interaction := fullInteraction("i1")
	// The CRM sync state is the store's bookkeeping, not part of an event.
	interaction.Sync = contactpad.RecordSync{}
	interaction.Omni = nil     // not in events either
	interaction.SkipAgent = "" // not part of an event's JSON
	events := []*adapter.Event{
		{
			Type:        adapter.EventInteractionOffered,
			At:          t0,
			Interaction: interaction,
			Flags:       map[string]bool{"auto_accept": false, "reoffer": true},
			Audience:    []string{"alice"},
		},
		{
			Type: adapter.EventTransferRequested,
			At:   at(time.Second),
			Transfer: &contactpad.Transfer{
				ID: "t1", InteractionID: "i1", Mode: contactpad.Warm, Target: contactpad.Target{Agent: "bob"},
				Status: contactpad.TransferInitiated, Initiator: "alice", Assignee: "bob",
				ExpiresAt: ptr(at(time.Minute)), CreatedAt: at(time.Second), UpdatedAt: at(time.Second),
			},
			Audience: []string{"alice", "bob"},
		},
		{
			Type:  adapter.EventAgentPresence,
			At:    at(2 * time.Second),
			Agent: &adapter.AgentPresence{ID: "carol", Presence: contactpad.Busy},
			// Admins only.
			Audience: nil,
		},
		{
			Type: adapter.EventConsultStarted,
			At:   at(3 * time.Second),
			Consult: &contactpad.Consult{
				ID: "c1", InteractionID: "i1", Initiator: "alice", Target: contactpad.Target{Number: "+331"},
				Status: contactpad.ConsultRinging, CreatedAt: at(3 * time.Second), UpdatedAt: at(3 * time.Second),
			},
			Audience: []string{},
		},
		{
			Type:        adapter.EventInteractionInactive,
			At:          at(4 * time.Second),
			Interaction: interaction,
			Audience:    []string{"alice"},
		},
	}
	// Two Updates: Seq keeps increasing across transactions.
	for _, batch := range [][]*adapter.Event{events[:3], events[3:]} {
		var fns []func(adapter.Tx) error
		for _, e := range batch {
			fns = append(fns, func(tx adapter.Tx) error { return tx.AppendEvent(e) })
		}
		update(t, s, fns...)
	}

	t.Run("Seq is set and increases", func(t *testing.T) {
		for n := 1; n < len(events); n++ {
			require.Greater(t, events[n].Seq, events[n-1].Seq)
		}
		require.Positive(t, events[0].Seq)
	})

	t.Run("LastEventSeq is the last committed Seq", func(t *testing.T) {
		view(t, s, func(tx adapter.Tx) error {
			last, err := tx.LastEventSeq()
			require.NoError(t, err)
			require.Equal(t, events[len(events)-1].Seq, last)
			return nil
		})
	})

	all := make([]adapter.Event, len(events))
	for n, e := range events {
		all[n] = *e
	}
	tests := []struct {
		name  string
		after int64
		limit int
		want  []adapter.Event
	}{
		{name: "every event, whole", after: 0, limit: 100, want: all},
		{name: "after a seq, at most limit", after: events[1].Seq, limit: 2, want: all[2:4]},
		{name: "after the last", after: events[4].Seq, limit: 100, want: []adapter.Event{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.EventsAfter(tt.after, tt.limit)
				require.NoError(t, err)
				equalList(t, tt.want, got)
				return nil
			})
		})
	}
}

// blockedBy is r as Tx.Outbox lists it, waiting behind the parked row id.
func blockedBy(r adapter.OutboxRow, id int64) adapter.OutboxRow {
	r.BlockedBy = id
	return r
}

func testOutbox(t *testing.T, s adapter.Store) {
	payload := json.RawMessage(`{"status":"connected","owner":"alice"}`)
	rows := []*adapter.OutboxRow{
		{InteractionID: "i1", CRMObject: "Case", CRMID: "500A", Kind: adapter.OutboxChange, Payload: payload, CreatedAt: t0},
		{InteractionID: "i2", CRMObject: "Case", CRMID: "500B", Kind: adapter.OutboxChange, State: adapter.OutboxParked,
			Attempts: 3, ErrorCode: "INVALID_FIELD", ErrorMessage: "No such column", CreatedAt: at(time.Second)},
		{InteractionID: "i1", CRMObject: "Case", CRMID: "500A", Kind: adapter.OutboxChange, State: adapter.OutboxPending,
			CreatedAt: at(2 * time.Second)},
		{InteractionID: "i3", Kind: adapter.OutboxChange, Payload: json.RawMessage(`{}`), State: adapter.OutboxDone},
		// A later change of 500B: it waits behind the parked row.
		{InteractionID: "i2", CRMObject: "Case", CRMID: "500B", Kind: adapter.OutboxChange, CreatedAt: at(3 * time.Second)},
	}
	var fns []func(adapter.Tx) error
	for _, r := range rows {
		fns = append(fns, func(tx adapter.Tx) error { return tx.AppendOutbox(r) })
	}
	update(t, s, fns...)

	t.Run("ID is set and increases, state defaults to pending", func(t *testing.T) {
		require.Positive(t, rows[0].ID)
		for n := 1; n < len(rows); n++ {
			require.Greater(t, rows[n].ID, rows[n-1].ID)
		}
		require.Equal(t, adapter.OutboxPending, rows[0].State)
	})

	tests := []struct {
		name  string
		state adapter.OutboxState
		limit int
		want  []adapter.OutboxRow
	}{
		{name: "pending by ID, each with the parked row it waits behind", state: adapter.OutboxPending, limit: 10,
			want: []adapter.OutboxRow{*rows[0], *rows[2], blockedBy(*rows[4], rows[1].ID)}},
		{name: "at most limit", state: adapter.OutboxPending, limit: 1, want: []adapter.OutboxRow{*rows[0]}},
		{name: "parked", state: adapter.OutboxParked, limit: 10, want: []adapter.OutboxRow{*rows[1]}},
		{name: "done", state: adapter.OutboxDone, limit: 10, want: []adapter.OutboxRow{*rows[3]}},
		{name: "none", state: adapter.OutboxInFlight, limit: 10, want: []adapter.OutboxRow{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Outbox(tt.state, tt.limit)
				require.NoError(t, err)
				equalList(t, tt.want, got)
				return nil
			})
		})
	}
}
