package contactpad

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRecordSync walks the two writers of one record through the cases of
// RecordSync: what the bridge writes, and what it takes from the CRM.
func TestRecordSync(t *testing.T) {
	adopted := func() RecordSync {
		return RecordSync{
			Known: map[string]any{"Status": "Escalated", "OwnerId": "005A", "Due__c": nil},
			Want:  map[string]any{"Status": "New", "OwnerId": "005A", "Due__c": nil},
		}
	}
	t.Run("adopted: nothing to write though the bridge would map the status otherwise", func(t *testing.T) {
		s := adopted()
		require.Nil(t, s.Writes())
	})
	t.Run("a field the bridge changes is written; one it did not change is not", func(t *testing.T) {
		s := adopted()
		require.True(t, s.Change(map[string]any{"Status": "New", "OwnerId": "005B", "Due__c": nil}, nil))
		require.Equal(t, map[string]any{"OwnerId": "005B"}, s.Writes(), "Escalated stays: the bridge did not change the status")
		require.False(t, s.Change(map[string]any{"Status": "New", "OwnerId": "005B", "Due__c": nil}, nil), "no change")
	})
	t.Run("a change the CRM caused marks only the fields it is asked to", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "Closed", "OwnerId": "005A", "Due__c": "2026-11-23T09:00:00.000Z"},
			func(f string) bool { return f == "Due__c" })
		require.Equal(t, map[string]any{"Due__c": "2026-11-23T09:00:00.000Z"}, s.Writes())
		require.Equal(t, "Closed", s.Want["Status"], "wanted, not written")
	})
	t.Run("a value the CRM holds already is not written", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "Escalated", "OwnerId": "005A", "Due__c": nil}, nil)
		require.Nil(t, s.Writes())
	})
	t.Run("a value the CRM holds already is in step: a later change there is no conflict", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "Escalated", "OwnerId": "005A", "Due__c": nil}, nil)
		require.False(t, s.IsDirty("Status"))
		changed, conflicts := s.Observe(map[string]any{"Status": "Closed"}, func(string) bool { return true })
		require.Equal(t, []string{"Status"}, changed)
		require.Empty(t, conflicts, "the bridge never changed the CRM's Escalated")
		require.Nil(t, s.Writes(), "and does not write over Closed")
	})
	t.Run("a change undone while its write is on its way is written back once that write lands", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "New", "OwnerId": "005B", "Due__c": nil}, nil)
		sent := s.Writes()
		s.Sending(sent)
		s.Change(map[string]any{"Status": "New", "OwnerId": "005A", "Due__c": nil}, nil) // 005A is what the CRM held
		s.Accepted(sent, time.Now())                                                     // 005B landed
		require.Equal(t, map[string]any{"OwnerId": "005A"}, s.Writes(), "brought back to what the bridge wants")
	})
	t.Run("a change undone before it was written is in step again", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "New", "OwnerId": "005B", "Due__c": nil}, nil)
		require.True(t, s.IsDirty("OwnerId"))
		s.Change(map[string]any{"Status": "New", "OwnerId": "005A", "Due__c": nil}, nil)
		require.False(t, s.IsDirty("OwnerId"))
		require.Nil(t, s.Writes())
		_, conflicts := s.Observe(map[string]any{"OwnerId": "005C"}, nil)
		require.Empty(t, conflicts)
	})
	t.Run("an absent value is nil and is written as null", func(t *testing.T) {
		s := RecordSync{Known: map[string]any{"Due__c": "2026-11-23T09:00:00.000Z"}, Want: map[string]any{"Due__c": "2026-11-23T09:00:00.000Z"}}
		s.Change(map[string]any{"Due__c": nil}, nil)
		require.Equal(t, map[string]any{"Due__c": nil}, s.Writes())
	})
	t.Run("a value the bridge no longer has an opinion on is not written", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "Working"}, nil) // the owner is gone from what is wanted
		require.Equal(t, map[string]any{"Status": "Working"}, s.Writes())
	})
	t.Run("accepted writes are in step; a newer value waits", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "Working", "OwnerId": "005B", "Due__c": nil}, nil)
		sent := s.Writes()
		s.Change(map[string]any{"Status": "On Hold", "OwnerId": "005B", "Due__c": nil}, nil) // while the write is on its way
		s.Accepted(sent, time.Now())
		require.Equal(t, map[string]any{"Status": "On Hold"}, s.Writes())
		require.Equal(t, "Working", s.Known["Status"])
	})
	t.Run("the bridge's own write coming back is no news", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "Working", "OwnerId": "005B", "Due__c": nil}, nil)
		changed, conflicts := s.Observe(map[string]any{"Status": "Working", "OwnerId": "005B", "Due__c": nil}, nil)
		require.Empty(t, changed)
		require.Empty(t, conflicts)
		require.Nil(t, s.Writes(), "it is in step")
	})
	t.Run("a change made in the CRM is news, and the bridge keeps it", func(t *testing.T) {
		s := adopted()
		changed, conflicts := s.Observe(map[string]any{"Status": "Closed", "OwnerId": "005A", "Due__c": nil}, nil)
		require.Equal(t, []string{"Status"}, changed)
		require.Empty(t, conflicts)
		require.Equal(t, "Closed", s.Known["Status"])
		require.Nil(t, s.Writes())
	})
	t.Run("both changed one field: the CRM wins by default", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "New", "OwnerId": "005B", "Due__c": nil}, nil)
		changed, conflicts := s.Observe(map[string]any{"Status": "Escalated", "OwnerId": "005C", "Due__c": nil}, nil)
		require.Equal(t, []string{"OwnerId"}, changed)
		require.Equal(t, []string{"OwnerId"}, conflicts)
		require.Nil(t, s.Writes(), "the bridge's change is dropped")
	})
	t.Run("both changed one field: the bridge wins where the mapping says so", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "New", "OwnerId": "005B", "Due__c": nil}, nil)
		_, conflicts := s.Observe(map[string]any{"OwnerId": "005C"}, func(f string) bool { return f == "OwnerId" })
		require.Equal(t, []string{"OwnerId"}, conflicts)
		require.Equal(t, map[string]any{"OwnerId": "005B"}, s.Writes(), "written over the CRM's value")
	})
	t.Run("a field read for the first time is no news", func(t *testing.T) {
		s := adopted()
		changed, _ := s.Observe(map[string]any{"IsStopped": false}, nil)
		require.Empty(t, changed)
		require.Equal(t, false, s.Known["IsStopped"])
	})
	t.Run("the state survives JSON, numbers as float64", func(t *testing.T) {
		s := adopted()
		s.Change(map[string]any{"Status": "New", "OwnerId": "005B", "Due__c": nil, "Attempts__c": 3}, nil)
		b, err := json.Marshal(s)
		require.NoError(t, err)
		var back RecordSync
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, map[string]any{"OwnerId": "005B", "Attempts__c": 3.0}, back.Writes())
		require.False(t, back.Change(map[string]any{"Status": "New", "OwnerId": "005B", "Due__c": nil, "Attempts__c": 3}, nil),
			"3 and 3.0 are the same value")
	})
}

func TestSameValue(t *testing.T) {
	for _, tt := range []struct {
		a, b any
		same bool
	}{
		{nil, nil, true},
		{nil, "", false},
		{"a", "a", true},
		{"a", "A", false},
		{true, true, true},
		{true, "true", false},
		{3, 3.0, true},
		{json.Number("2.5"), 2.5, true},
		{int64(1), 2, false},
	} {
		require.Equal(t, tt.same, SameValue(tt.a, tt.b), "%#v vs %#v", tt.a, tt.b)
	}
}

func TestAdopted(t *testing.T) {
	agents := map[string]string{"005A": "alice"}
	agentOf := func(id string) string { return agents[id] }
	due := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name              string
		view              RecordView
		status            Status
		owner, waitingFor string
	}{
		{"new work of nobody's: queued", RecordView{Status: Queued, OwnerCRMUserID: "00GQUEUE"}, Queued, "", ""},
		{"new work of an agent's: queued for that agent", RecordView{Status: Queued, OwnerCRMUserID: "005A"}, Queued, "", "alice"},
		{"worked by an agent: connected", RecordView{Status: Connected, OwnerCRMUserID: "005A"}, Connected, "alice", ""},
		{"a status the mapping does not know, an agent's: connected", RecordView{OwnerCRMUserID: "005A"}, Connected, "alice", ""},
		{"worked by someone who is no agent: queued", RecordView{Status: Connected, OwnerCRMUserID: "005Z"}, Queued, "", ""},
		{"on hold: deferred", RecordView{Status: Deferred, OwnerCRMUserID: "005A", DueBy: &due}, Deferred, "alice", ""},
		{"closed: History", RecordView{Status: Completed, OwnerCRMUserID: "005Z"}, Completed, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, owner, waiting := tt.view.Adopted(agentOf)
			require.Equal(t, []string{string(tt.status), tt.owner, tt.waitingFor}, []string{string(status), owner, waiting})
		})
	}
}

// TestSentComesBack: a value the bridge sent without learning whether the
// CRM took it (its writer died) is its own write when a poll reads it
// back: no change people made, no conflict; the bridge still writes what
// it wants now. Once the CRM takes a write, the field's sent values are
// forgotten.
func TestSentComesBack(t *testing.T) {
	s := RecordSync{Known: map[string]any{"Status": "Working"}, Want: map[string]any{"Status": "Working"}}
	s.Change(map[string]any{"Status": "On Hold"}, nil)
	s.Sending(s.Writes())
	require.Equal(t, map[string][]any{"Status": {"On Hold"}}, s.Sent)

	// The writer died; the agent went on: the bridge now wants Closed.
	s.Change(map[string]any{"Status": "Closed"}, nil)
	changed, conflicts := s.Observe(map[string]any{"Status": "On Hold"}, nil)
	require.Empty(t, changed, "its own write landing is no change in the CRM")
	require.Empty(t, conflicts)
	require.Equal(t, map[string]any{"Status": "Closed"}, s.Writes(), "what it wants now is still written")

	s.Sending(s.Writes())
	require.Equal(t, []any{"On Hold", "Closed"}, s.Sent["Status"])
	s.Accepted(map[string]any{"Status": "Closed"}, time.Now())
	require.Nil(t, s.Sent)
	require.Nil(t, s.Writes())

	// A person who then sets a value the bridge once sent changed it.
	s.Change(map[string]any{"Status": "Working"}, nil)
	s.Sending(s.Writes())
	s.Accepted(map[string]any{"Status": "Working"}, time.Now())
	changed, _ = s.Observe(map[string]any{"Status": "On Hold"}, nil)
	require.Equal(t, []string{"Status"}, changed)

	for range 10 {
		s.Sending(map[string]any{"Due__c": fmt.Sprint(len(s.Sent["Due__c"]))})
	}
	require.Len(t, s.Sent["Due__c"], 4, "bounded")
}

// TestStaleRead: a read sent before the CRM answered the bridge's latest
// write may show the values that write replaced; one sent after cannot.
func TestStaleRead(t *testing.T) {
	written := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var s RecordSync
	require.False(t, s.Stale(written.Add(-time.Hour)), "nothing written yet")
	s.Accepted(map[string]any{"Status": "Closed"}, written)
	require.True(t, s.Stale(written.Add(-time.Millisecond)))
	require.False(t, s.Stale(written))
	require.False(t, s.Stale(written.Add(time.Second)))
	require.False(t, s.Stale(time.Time{}), "a read of unknown time is taken as it is")

	s.Accepted(map[string]any{"Status": "Working"}, written.Add(-time.Minute))
	require.Equal(t, written, *s.AcceptedAt, "an answer that came back earlier does not move it back")
	s.Accepted(nil, written.Add(time.Minute))
	require.Equal(t, written, *s.AcceptedAt, "nothing accepted, nothing written")
}
