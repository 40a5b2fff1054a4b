package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// testAuditEventsOutbox: every transition has its audit entry, every change
// its event, and the CRM writeback its outbox row carrying the audit entry
// (not the adoption's: the CRM knows its own record) and the mirrored
// fields still to write, in order.
func testAuditEventsOutbox(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: email.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.Do(adapter.Resume{ID: email.ID, Agent: "alice"})
		h.Do(adapter.Release{ID: email.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: email.ID, Agent: "alice"})

		trail := h.Audit(email.ID)
		require.Equal(t, []string{"adopted", "assigned", "deferred", "resumed", "released", "completed"}, actions(trail))
		for k := 1; k < len(trail); k++ {
			require.Equal(t, trail[k-1].ToStatus, trail[k].FromStatus, "the trail is unbroken at %d", k)
		}
		require.Equal(t, contactpad.Completed, trail[len(trail)-1].ToStatus)

		var audits []contactpad.AuditEntry
		var fields []map[string]any
		for _, row := range h.Outbox() {
			require.Equal(t, email.CRMID, row.CRMID)
			require.Equal(t, "Case", row.CRMObject)
			require.Equal(t, adapter.OutboxChange, row.Kind)
			change := decodeChange(t, row)
			require.NotNil(t, change.Audit)
			require.NotNil(t, change.Writeback, "the state the audit record's templates see")
			require.Equal(t, change.Audit.ToStatus, change.Writeback.Status)
			audits = append(audits, *change.Audit)
			fields = append(fields, change.Fields)
		}
		require.Equal(t, actions(trail[1:]), actions(audits), "one outbox row per audit entry but the adoption, in order")
		// Nothing was written back yet, so each row asks for everything
		// the bridge changed since the adoption.
		require.Equal(t, map[string]any{"status": "connected", "owner_crm_user_id": "005000000000001AAA"}, fields[0])
		require.Equal(t, "deferred", fields[1]["status"])
		require.NotNil(t, fields[1]["due_by"])
		require.Equal(t, true, fields[1]["due_by_was_set_manually"])
		require.Equal(t, "deferred", fields[2]["resumed_from"])
		require.Nil(t, fields[2]["due_by"], "no due date once resumed")
		require.Contains(t, fields[2], "due_by")
		require.Equal(t, map[string]any{"status": "completed", "owner_crm_user_id": "005000000000001AAA", "due_by": nil,
			"due_by_was_set_manually": true, "resumed_from": nil}, fields[4], "resumed_from cleared when it ends")

		var changes int
		for _, e := range h.Events() {
			if e.Interaction != nil && e.Interaction.ID == email.ID {
				changes++
				require.False(t, e.At.IsZero())
			}
		}
		require.Equal(t, len(trail), changes, "one event per change")
	})
}

// testCrashSafety: an engine stopped in the middle of work leaves state,
// audit and outbox whole; a new engine on the same database fires the timers
// that fell due while it was down at once.
func testCrashSafety(t *testing.T, open Opener) {
	synctest.Test(t, func(t *testing.T) {
		h := Start(t, open, nil)
		deferred := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: deferred.ID, Agent: "alice", DueBy: in(time.Minute)})
		wrapping := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Release{ID: wrapping.ID, Agent: "alice"})
		h.Presence("bob", contactpad.Available)
		offered := h.Ingest(contactpad.Live, "support")
		require.Equal(t, contactpad.Offered, offered.Status)
		outbox, events := len(h.Outbox()), len(h.Events())

		h.Crash()
		time.Sleep(10 * time.Minute) // nothing runs while the process is down
		h.Restart(Settings())
		defer h.Stop()
		synctest.Wait()

		require.Equal(t, contactpad.Connected, h.Get(deferred.ID).Status, "overdue reopen fired at once")
		require.True(t, h.Get(deferred.ID).AutoOpenedDueToDueDate)
		require.Equal(t, contactpad.Completed, h.Get(wrapping.ID).Status, "overdue wrap-up end fired at once")
		require.Contains(t, actions(h.Audit(offered.ID)), "offer_timeout", "overdue offer timeout fired at once")
		require.Equal(t, "alice", h.Get(offered.ID).Owner, "and the call went to the next agent")
		require.Greater(t, len(h.Outbox()), outbox, "the old outbox is kept and the new changes added")
		require.Greater(t, len(h.Events()), events)
		require.Empty(t, h.Timers(time.Now()), "nothing overdue is left")
	})

	// Stop the engine while many commands are in flight: each command is
	// all or nothing.
	h := Start(t, open, nil)
	for _, a := range []string{"alice", "bob", "carol"} {
		h.Presence(a, contactpad.Available)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var applied atomic.Int64
	midway := make(chan struct{})
	go func() {
		defer close(done)
		parallel(8, func(n int) {
			for k := 0; ctx.Err() == nil; k++ {
				res, err := h.Engine.Apply(ctx, adapter.Ingest{Item: contactpad.WorkItem{CRMID: fmt.Sprintf("w%d-%d", n, k),
					CRMObject: "Case", Media: contactpad.NonLive, Service: "support"}})
				if applied.Add(1) == 300 {
					close(midway)
				}
				if err != nil || res.Interaction.Owner == "" {
					continue
				}
				_, _ = h.Engine.Apply(ctx, adapter.Release{ID: res.Interaction.ID, Agent: res.Interaction.Owner})
			}
		})
	}()
	<-midway // pull the plug with commands in flight
	h.Crash()
	cancel()
	<-done
	h.Restart(Settings())
	defer h.Stop()
	all := h.Interactions(adapter.InteractionFilter{})
	require.NotEmpty(t, all)
	auditRows := map[string]int{}
	for _, r := range h.Outbox() {
		if decodeChange(t, r).Audit != nil {
			auditRows[r.InteractionID]++
		}
	}
	for _, i := range all {
		trail := h.Audit(i.ID)
		require.Equal(t, i.Status, trail[len(trail)-1].ToStatus, "state and audit of %s agree", i.ID)
		require.Equal(t, contactpad.AuditAdopted, trail[0].Action)
		require.Equal(t, len(trail)-1, auditRows[i.ID], "every audit entry of %s but the adoption has its outbox row", i.ID)
	}
}

// testConcurrency: many agents acting at once never own one interaction
// twice and never exceed their capacity.
func testConcurrency(t *testing.T, open Opener) {
	const agents, perAgent = 24, 16
	h := Start(t, open, func(s *adapter.Settings) {
		s.Agents = nil
		for n := range agents {
			s.Agents = append(s.Agents, contactpad.Agent{ID: fmt.Sprintf("agent%02d", n), Services: []string{"support"},
				Capacity: contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 2, contactpad.NonLive: 3}})
		}
		s.Agents = append(s.Agents, contactpad.Agent{ID: "racer", Services: []string{"billing"},
			Capacity: contactpad.Capacity{contactpad.NonLive: 1}})
		s.AutoAccept[contactpad.Live] = false
	})
	defer h.Stop()
	ctx := context.Background()
	parallel(agents, func(n int) {
		id := fmt.Sprintf("agent%02d", n)
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		_, _ = h.Engine.Apply(ctx, adapter.SetPresence{Agent: id, Presence: contactpad.Available})
		for k := range perAgent {
			media := contactpad.Medias[rng.IntN(3)]
			// Two agents ingest the same record: one interaction either way.
			crmID := fmt.Sprintf("case-%d", (n/2)*1000+k)
			_, err := h.Engine.Apply(ctx, adapter.Ingest{Item: contactpad.WorkItem{CRMID: crmID, CRMObject: "Case",
				Media: media, Service: "support"}})
			require.NoError(t, err)
			var mine []*contactpad.Interaction
			require.NoError(t, h.Store.View(ctx, func(tx adapter.Tx) error {
				var err error
				mine, err = tx.Interactions(adapter.InteractionFilter{Owner: id, Statuses: contactpad.FolderOngoing.Statuses()})
				return err
			}))
			for _, i := range mine {
				var cmd adapter.Command
				switch i.Status {
				case contactpad.Offered:
					cmd = adapter.Accept{ID: i.ID, Agent: id}
					if rng.IntN(4) == 0 {
						cmd = adapter.Decline{ID: i.ID, Agent: id}
					}
				case contactpad.Connected:
					cmd = adapter.Release{ID: i.ID, Agent: id}
					if i.Media != contactpad.Live && rng.IntN(3) == 0 {
						cmd = adapter.Defer{ID: i.ID, Agent: id, DueBy: in(time.Hour)}
					}
				case contactpad.WrapUp:
					cmd = adapter.FinishWrapUp{ID: i.ID, Agent: id}
				}
				// Another agent's command may have moved it on: refusals are fine.
				_, _ = h.Engine.Apply(ctx, cmd)
			}
			if rng.IntN(10) == 0 {
				_, _ = h.Engine.Apply(ctx, adapter.SetPresence{Agent: id, Presence: contactpad.Busy})
				_, _ = h.Engine.Apply(ctx, adapter.SetPresence{Agent: id, Presence: contactpad.Available})
			}
			checkCapacity(h)
		}
	})
	checkCapacity(h)
	all := h.Interactions(adapter.InteractionFilter{})
	require.Len(t, all, agents/2*perAgent, "one interaction per CRM record however many ingest it")
	for _, i := range all {
		created := 0
		for _, e := range h.Audit(i.ID) {
			if e.Action == contactpad.AuditAdopted {
				created++
			}
		}
		require.Equal(t, 1, created, "%s adopted once", i.CRMID)
	}

	// Its owner sends the same interaction to every agent at once: one wins.
	h.Presence("racer", contactpad.Available)
	i := h.Ingest(contactpad.NonLive, "billing")
	owner := i.Owner
	require.Equal(t, "racer", owner)
	var won atomic.Int32
	parallel(agents, func(n int) {
		target := fmt.Sprintf("agent%02d", n)
		if target == owner {
			return
		}
		if _, err := h.Engine.Apply(ctx, adapter.StartTransfer{ID: i.ID, Agent: owner, Mode: contactpad.Cold,
			Target: contactpad.Target{Agent: target}}); err == nil {
			won.Add(1)
		}
	})
	require.Equal(t, int32(1), won.Load(), "exactly one transfer of the same interaction succeeds")
	transferred := 0
	for _, e := range h.Audit(i.ID) {
		if e.Action == contactpad.AuditTransferred {
			transferred++
		}
	}
	require.Equal(t, 1, transferred)
	checkCapacity(h)
}

func decodeChange(t testing.TB, row adapter.OutboxRow) contactpad.RecordChange {
	var change contactpad.RecordChange
	require.NoError(t, json.Unmarshal(row.Payload, &change))
	return change
}

// checkCapacity requires that no agent holds more than its capacity.
func checkCapacity(h *Harness) {
	h.T.Helper()
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		agents, err := tx.Agents()
		if err != nil {
			return err
		}
		for _, a := range agents {
			load, err := tx.Load(a.ID)
			if err != nil {
				return err
			}
			for _, m := range contactpad.Medias {
				require.LessOrEqual(h.T, load[m], a.Capacity[m], "%s %s", a.ID, m)
			}
		}
		return nil
	}))
}
