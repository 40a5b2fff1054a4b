package enginetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// testHandlingExport: the handling export lists every agent step with the
// time the agent held the interaction since their previous step on it.
// Setting pending is a status_action step even with no reply; a wrap-up
// that runs out ends the agent's time; abandoned interactions count apart
// from the AHT; the range selects steps by time.
func testHandlingExport(t *testing.T, open Opener) {
	// Chats are offered (an accept step); emails are assigned at once.
	tweak := func(s *adapter.Settings) { s.AutoAccept[contactpad.SemiLive] = false }
	// The script runs in a bubble, where subtests cannot; it keeps what
	// the subtests check.
	var (
		t0                           time.Time
		chatA, emailB, chatC, emailD *contactpad.Interaction
		ranges                       = [][2]time.Duration{
			{0, time.Hour}, {time.Hour, 2 * time.Hour}, {0, 2 * time.Hour},
			{5*time.Minute + 20*time.Second, 16 * time.Minute}, {45 * time.Minute, 50 * time.Minute},
		}
		reports = map[[2]time.Duration]*adapter.HandlingReport{}
	)
	bubble(t, open, tweak, func(h *Harness) {
		t := h.T
		t0 = time.Now()
		require.Equal(t, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), t0.UTC(), "the bubble's epoch")
		// at sleeps until t0+d, so that each command has an instant of its own.
		at := func(d time.Duration) {
			t.Helper()
			require.True(t, time.Now().Before(t0.Add(d)), "the script goes forward")
			time.Sleep(time.Until(t0.Add(d)))
		}
		crmIDs := 0
		ingest := func(media contactpad.Media) *contactpad.Interaction {
			t.Helper()
			crmIDs++
			return h.IngestItem(contactpad.WorkItem{CRMID: fmt.Sprintf("500%015d", crmIDs), CRMObject: "Case",
				Media: media, Service: "billing", Subject: "billing question"})
		}

		at(time.Second)
		h.Presence("alice", contactpad.Available)

		// Chat A: accepted, then deferred five minutes later, no reply sent.
		at(10 * time.Second)
		chatA = ingest(contactpad.SemiLive)
		require.Equal(t, contactpad.Offered, chatA.Status)
		at(20 * time.Second)
		h.Do(adapter.Accept{ID: chatA.ID, Agent: "alice"})
		at(5*time.Minute + 20*time.Second)
		due := t0.Add(24 * time.Hour)
		h.Do(adapter.Defer{ID: chatA.ID, Agent: "alice", DueBy: &due})

		// Email B: assigned to alice at once, warm-transferred to bob, who
		// releases it; its wrap-up runs out (10s).
		at(6 * time.Minute)
		emailB = ingest(contactpad.NonLive)
		require.Equal(t, contactpad.Connected, emailB.Status)
		require.Equal(t, "alice", emailB.Owner)
		at(16 * time.Minute)
		tr := h.Do(adapter.StartTransfer{ID: emailB.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"},
			Mode: contactpad.Warm, Note: "refund"}).Transfer
		at(16*time.Minute + 10*time.Second)
		h.Presence("bob", contactpad.Available)
		at(16*time.Minute + 20*time.Second)
		h.Do(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "bob"})
		at(18 * time.Minute)
		h.Do(adapter.CompleteTransfer{TransferID: tr.ID, Agent: "alice"})
		at(28 * time.Minute)
		h.Do(adapter.Release{ID: emailB.ID, Agent: "bob"})

		// Chat C: accepted (within the push timeout), then abandoned.
		at(40*time.Minute + 50*time.Second)
		chatC = ingest(contactpad.SemiLive)
		at(41 * time.Minute)
		h.Do(adapter.Accept{ID: chatC.ID, Agent: "alice"})
		at(44 * time.Minute)
		h.Do(adapter.Abandon{ID: chatC.ID, Agent: "alice", Confirm: true, Reason: "release failed"})

		// Bob resumes B from History: the 22 minutes since its wrap-up
		// ended are not his.
		at(50 * time.Minute)
		require.Equal(t, contactpad.Completed, h.Get(emailB.ID).Status, "the wrap-up ran out at 28m10s")
		h.Do(adapter.Resume{ID: emailB.ID, Agent: "bob"})
		at(55 * time.Minute)
		h.Do(adapter.Release{ID: emailB.ID, Agent: "bob"})

		// Email D is assigned before the hour and released after it; alice
		// takes chat A back after the hour.
		at(59 * time.Minute)
		emailD = ingest(contactpad.NonLive)
		require.Equal(t, "alice", emailD.Owner)
		at(time.Hour + 2*time.Minute)
		h.Do(adapter.Release{ID: emailD.ID, Agent: "alice"})
		at(time.Hour + 10*time.Minute)
		h.Do(adapter.Resume{ID: chatA.ID, Agent: "alice"})
		at(time.Hour + 15*time.Minute)
		h.Do(adapter.Release{ID: chatA.ID, Agent: "alice"})
		at(2 * time.Hour)

		for _, r := range ranges {
			report, err := h.Engine.Handling(context.Background(), t0.Add(r[0]), t0.Add(r[1]))
			require.NoError(t, err)
			reports[r] = report
		}
	})

	step := func(d time.Duration, agent string, i *contactpad.Interaction, category contactpad.AuditCategory, action contactpad.AuditAction,
		from, to contactpad.Status, handle time.Duration) adapter.HandlingStep {
		return adapter.HandlingStep{At: t0.Add(d).UTC(), Agent: agent, InteractionID: i.ID, CRMObject: "Case",
			CRMID: i.CRMID, Media: i.Media, Service: "billing", Category: category, Action: action,
			FromStatus: from, ToStatus: to, HandleTime: handle}
	}
	var (
		acceptA    = step(20*time.Second, "alice", chatA, "accept", "accepted", contactpad.Offered, contactpad.Connected, 0)
		deferA     = step(5*time.Minute+20*time.Second, "alice", chatA, "status_action", "deferred", contactpad.Connected, contactpad.Deferred, 5*time.Minute)
		requestB   = step(16*time.Minute, "alice", emailB, "transfer", "transfer_requested", contactpad.Connected, contactpad.Connected, 10*time.Minute)
		transferB  = step(18*time.Minute, "alice", emailB, "transfer", "transferred", contactpad.Connected, contactpad.Connected, 2*time.Minute)
		releaseB   = step(28*time.Minute, "bob", emailB, "release", "released", contactpad.Connected, contactpad.WrapUp, 10*time.Minute)
		acceptC    = step(41*time.Minute, "alice", chatC, "accept", "accepted", contactpad.Offered, contactpad.Connected, 0)
		abandonC   = step(44*time.Minute, "alice", chatC, "abandon", "abandoned", contactpad.Connected, contactpad.Abandoned, 3*time.Minute)
		resumeB    = step(50*time.Minute, "bob", emailB, "status_action", "resumed", contactpad.Completed, contactpad.Connected, 0)
		releaseB2  = step(55*time.Minute, "bob", emailB, "release", "released", contactpad.Connected, contactpad.WrapUp, 5*time.Minute)
		releaseD   = step(time.Hour+2*time.Minute, "alice", emailD, "release", "released", contactpad.Connected, contactpad.WrapUp, 3*time.Minute)
		resumeA    = step(time.Hour+10*time.Minute, "alice", chatA, "status_action", "resumed", contactpad.Deferred, contactpad.Connected, 0)
		releaseA   = step(time.Hour+15*time.Minute, "alice", chatA, "release", "released", contactpad.Connected, contactpad.WrapUp, 5*time.Minute)
		firstHour  = []adapter.HandlingStep{acceptA, deferA, requestB, transferB, releaseB, acceptC, abandonC, resumeB, releaseB2}
		secondHour = []adapter.HandlingStep{releaseD, resumeA, releaseA}
	)
	tests := []struct {
		name     string
		from, to time.Duration
		steps    []adapter.HandlingStep
		aht      []adapter.HandlingAHT
	}{
		{name: "first hour", from: 0, to: time.Hour, steps: firstHour, aht: []adapter.HandlingAHT{
			{Agent: "alice", Media: contactpad.SemiLive, Interactions: 1, HandleTime: 5 * time.Minute, AHT: 5 * time.Minute,
				Abandoned: 1, AbandonedHandleTime: 3 * time.Minute},
			{Agent: "alice", Media: contactpad.NonLive, Interactions: 1, HandleTime: 12 * time.Minute, AHT: 12 * time.Minute},
			{Agent: "bob", Media: contactpad.NonLive, Interactions: 1, HandleTime: 15 * time.Minute, AHT: 15 * time.Minute},
		}},
		{name: "second hour: handle times that began before it", from: time.Hour, to: 2 * time.Hour, steps: secondHour,
			aht: []adapter.HandlingAHT{
				{Agent: "alice", Media: contactpad.SemiLive, Interactions: 1, HandleTime: 5 * time.Minute, AHT: 5 * time.Minute},
				{Agent: "alice", Media: contactpad.NonLive, Interactions: 1, HandleTime: 3 * time.Minute, AHT: 3 * time.Minute},
			}},
		{name: "both hours", from: 0, to: 2 * time.Hour, steps: append(append([]adapter.HandlingStep{}, firstHour...), secondHour...),
			aht: []adapter.HandlingAHT{
				{Agent: "alice", Media: contactpad.SemiLive, Interactions: 1, HandleTime: 10 * time.Minute, AHT: 10 * time.Minute,
					Abandoned: 1, AbandonedHandleTime: 3 * time.Minute},
				// B for 12 minutes and D for 3: 7.5 minutes each.
				{Agent: "alice", Media: contactpad.NonLive, Interactions: 2, HandleTime: 15 * time.Minute, AHT: 7*time.Minute + 30*time.Second},
				{Agent: "bob", Media: contactpad.NonLive, Interactions: 1, HandleTime: 15 * time.Minute, AHT: 15 * time.Minute},
			}},
		{name: "from is inclusive, to exclusive", from: 5*time.Minute + 20*time.Second, to: 16 * time.Minute,
			steps: []adapter.HandlingStep{deferA},
			aht: []adapter.HandlingAHT{
				{Agent: "alice", Media: contactpad.SemiLive, Interactions: 1, HandleTime: 5 * time.Minute, AHT: 5 * time.Minute},
			}},
		{name: "no step in range", from: 45 * time.Minute, to: 50 * time.Minute,
			steps: []adapter.HandlingStep{}, aht: []adapter.HandlingAHT{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reports[[2]time.Duration{tt.from, tt.to}]
			require.NotNil(t, r)
			require.Equal(t, t0.Add(tt.from), r.From)
			require.Equal(t, t0.Add(tt.to), r.To)
			require.Equal(t, tt.steps, r.Steps)
			require.Equal(t, tt.aht, r.AHT)
		})
	}

	t.Run("a range of many pages", func(t *testing.T) { testHandlingExportPages(t, open) })

	r := reports[[2]time.Duration{0, time.Hour}]
	t.Run("CSV", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, r.WriteCSV(&buf))
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		require.Len(t, lines, 1+len(firstHour))
		require.Equal(t, "at,agent,interaction_id,crm_object,crm_id,media,service,category,action,from_status,to_status,handle_time_s", lines[0])
		require.Equal(t, "2000-01-01T00:05:20Z,alice,"+chatA.ID+",Case,500000000000000001,semi-live,billing,status_action,deferred,connected,deferred,300", lines[2])

		buf.Reset()
		require.NoError(t, r.WriteAHTCSV(&buf))
		require.Equal(t, "agent,media,interactions,handle_time_s,aht_s,abandoned,abandoned_handle_time_s\n"+
			"alice,semi-live,1,300,300,1,180\n"+
			"alice,non-live,1,720,720,0,0\n"+
			"bob,non-live,1,900,900,0,0\n", buf.String())
	})
	t.Run("JSON", func(t *testing.T) {
		body, err := json.Marshal(r)
		require.NoError(t, err)
		var got struct {
			From  string           `json:"from"`
			To    string           `json:"to"`
			Steps []map[string]any `json:"steps"`
			AHT   []map[string]any `json:"aht"`
		}
		require.NoError(t, json.Unmarshal(body, &got))
		require.Equal(t, "2000-01-01T00:00:00Z", got.From)
		require.Equal(t, "2000-01-01T01:00:00Z", got.To)
		require.Len(t, got.Steps, len(firstHour))
		require.Equal(t, map[string]any{"at": "2000-01-01T00:05:20Z", "agent": "alice", "interaction_id": chatA.ID,
			"crm_object": "Case", "crm_id": "500000000000000001", "media": "semi-live", "service": "billing",
			"category": "status_action", "action": "deferred", "from_status": "connected", "to_status": "deferred",
			"handle_time_s": 300.0}, got.Steps[1])
		require.Equal(t, map[string]any{"agent": "alice", "media": "semi-live", "interactions": 1.0,
			"handle_time_s": 300.0, "aht_s": 300.0, "abandoned": 1.0, "abandoned_handle_time_s": 180.0}, got.AHT[0])
	})
}

// testHandlingExportPages: a range of more audit entries than the export
// reads at a time (1,000) comes out whole, each step once.
func testHandlingExportPages(t *testing.T, open Opener) {
	const emails = 400 // created and assigned, released: 1,200 entries
	tweak := func(s *adapter.Settings) {
		s.Agents[0].Capacity = contactpad.Capacity{contactpad.NonLive: emails}
		s.WrapUp[contactpad.NonLive] = 0
	}
	var (
		report *adapter.HandlingReport
		ids    = map[string]bool{}
	)
	bubble(t, open, tweak, func(h *Harness) {
		t0 := time.Now()
		time.Sleep(time.Second)
		h.Presence("alice", contactpad.Available)
		time.Sleep(time.Second)
		ingests := make([]adapter.Command, emails)
		for n := range ingests {
			ingests[n] = adapter.Ingest{Item: contactpad.WorkItem{CRMID: fmt.Sprintf("500%015d", n), CRMObject: "Case",
				Media: contactpad.NonLive, Service: "billing"}}
		}
		releases := make([]adapter.Command, emails)
		for n, out := range h.Engine.ApplyAll(context.Background(), ingests) {
			require.NoError(h.T, out.Err)
			require.Equal(h.T, "alice", out.Interaction.Owner)
			releases[n] = adapter.Release{ID: out.Interaction.ID, Agent: "alice"}
			ids[out.Interaction.ID] = true
		}
		time.Sleep(time.Minute)
		for _, out := range h.Engine.ApplyAll(context.Background(), releases) {
			require.NoError(h.T, out.Err)
		}
		var err error
		report, err = h.Engine.Handling(context.Background(), t0, time.Now().Add(time.Second))
		require.NoError(h.T, err)
	})

	require.Equal(t, emails, len(report.Steps), "steps")
	for n, s := range report.Steps {
		require.True(t, ids[s.InteractionID], "step %d: %s", n, s.InteractionID)
		delete(ids, s.InteractionID)
		require.Equal(t, contactpad.AuditReleased, s.Action)
		if n > 0 {
			require.False(t, s.At.Before(report.Steps[n-1].At), "in time order")
		}
	}
	require.Empty(t, ids, "every email has its step")
	require.Equal(t, []adapter.HandlingAHT{{Agent: "alice", Media: contactpad.NonLive, Interactions: emails,
		HandleTime: emails * time.Minute, AHT: time.Minute}}, report.AHT)
}
