// Package storebench holds what the stores' benchmarks share: the writes
// of one engine command, so that SQLite's and PostgreSQL's numbers measure
// the same work.
package storebench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// Payload is the outbox payload of a Command.
var Payload = json.RawMessage(`{"status":"connected","owner":"alice","service":"support"}`)

// Interaction is a connected interaction as a command leaves it.
func Interaction(id string, version int64, now time.Time) *contactpad.Interaction {
	return &contactpad.Interaction{
		ID: id, CRMObject: "Case", CRMID: "500" + id,
		Media: contactpad.NonLive, Service: "support", Subject: "Order not delivered",
		Status: contactpad.Connected, Owner: "alice", Tags: []string{"web"},
		QueuedAt: &now, LastActivityAt: now, CreatedAt: now, UpdatedAt: now, Version: version,
	}
}

// Command returns a fn that writes what one command writes about i: the
// interaction, the audit entry auditID, an event, an outbox row and a
// timer.
func Command(i *contactpad.Interaction, auditID string, now time.Time) func(adapter.Tx) error {
	return func(tx adapter.Tx) error {
		if err := tx.PutInteraction(i); err != nil {
			return err
		}
		if err := tx.AppendAudit(&contactpad.AuditEntry{
			ID: auditID, InteractionID: i.ID, At: now, Actor: "alice", Action: "accepted",
			Category: "accept", FromStatus: contactpad.Offered, ToStatus: contactpad.Connected,
			Message: "Accepted by alice",
		}); err != nil {
			return err
		}
		if err := tx.AppendEvent(&adapter.Event{
			Type: adapter.EventInteractionUpdated, At: now, Interaction: i, Audience: []string{"alice"},
		}); err != nil {
			return err
		}
		if err := tx.AppendOutbox(&adapter.OutboxRow{
			InteractionID: i.ID, CRMObject: i.CRMObject, CRMID: i.CRMID, Kind: adapter.OutboxChange,
			Payload: Payload, CreatedAt: now,
		}); err != nil {
			return err
		}
		return tx.SetTimer(adapter.Timer{Kind: adapter.TimerInactivity, Ref: i.ID, DueAt: now.Add(time.Hour)})
	}
}

// PruneRows is how many rows one prune batch deletes: the daemon's
// (adapter.DefaultRetentionBatch).
const PruneRows = adapter.DefaultRetentionBatch

// FillPrunable writes PruneRows+1 events and PruneRows audit entries of a
// completed interaction, all at old, in transactions of 100 commands'
// worth: what one prune batch of each then deletes (the last event is
// never pruned; it goes with the next batch).
func FillPrunable(ctx context.Context, s adapter.Store, round int, old time.Time) error {
	i := Interaction(fmt.Sprint("pruned", round), 1, old)
	i.Status = contactpad.Completed
	if err := adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error { return tx.PutInteraction(i) }); err != nil {
		return err
	}
	for start := 0; start <= PruneRows; start += 100 {
		fns := make([]func(adapter.Tx) error, 0, 100)
		for n := start; n < min(start+100, PruneRows+1); n++ {
			fns = append(fns, func(tx adapter.Tx) error {
				if n < PruneRows {
					if err := tx.AppendAudit(&contactpad.AuditEntry{
						ID: fmt.Sprint(round, "-", n), InteractionID: i.ID, At: old, Actor: "alice", Action: "accepted",
						Category: "accept", FromStatus: contactpad.Offered, ToStatus: contactpad.Connected,
						Message: "Accepted by alice",
					}); err != nil {
						return err
					}
				}
				return tx.AppendEvent(&adapter.Event{
					Type: adapter.EventInteractionUpdated, At: old, Interaction: i, Audience: []string{"alice"},
				})
			})
		}
		errs, err := s.Update(ctx, fns)
		if err != nil {
			return err
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// PruneBatch measures one prune batch of each table, as the daemon's
// pruning runs them: one transaction of PruneRows rows. The engine's
// commits wait for it, so its time is the longest a commit waits for the
// pruning. Run it from a store's benchmark with a fresh store.
func PruneBatch(b *testing.B, s adapter.Store) {
	ctx := context.Background()
	old := time.Now().Add(-365 * 24 * time.Hour)
	before := time.Now().Add(-24 * time.Hour)
	for _, table := range []string{"events", "audit"} {
		b.Run(table, func(b *testing.B) {
			round := 0
			for b.Loop() {
				b.StopTimer()
				round++
				if err := FillPrunable(ctx, s, round, old); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				var n int
				err := adapter.UpdateOne(ctx, s, func(tx adapter.Tx) (err error) {
					if table == "events" {
						n, _, err = tx.PruneEvents(before, PruneRows)
					} else {
						n, err = tx.PruneAudit(before, PruneRows)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if n != PruneRows {
					b.Fatalf("pruned %d %s rows, want %d", n, table, PruneRows)
				}
			}
		})
	}
}

// BacklogRows is how many rows are due in ClaimBacklog: an hour of the
// CRM being down at a few actions a second.
const BacklogRows = 20_000

// ClaimRows is how many rows ClaimBacklog claims at a time: a CRM call's
// worth (the writer's claim limit).
const ClaimRows = 1_000

// errRollBack undoes a claim, so every round finds the same backlog.
var errRollBack = errors.New("roll the claim back")

// ClaimBacklog measures the writeback's claim (one op: an Update that
// claims ClaimRows rows and is rolled back) and its count of what is due
// (one op: a View of OutboxDue) with a backlog of BacklogRows due rows:
// 4,000 records of 5 rows each, every other row pending and the others in
// flight under a lease that expired, as a writer that died leaves them.
// Run it from a store's benchmark with a fresh store.
func ClaimBacklog(b *testing.B, s adapter.Store) {
	ctx := context.Background()
	now := time.Now()
	if err := FillBacklog(ctx, s, now); err != nil {
		b.Fatal(err)
	}
	claimAndCount(b, s, now, ClaimRows)
}

// FillBacklog appends BacklogRows outbox rows created an hour before now,
// claims them all under a lease that ended a minute before now, and puts
// every other one back to pending, due at once.
func FillBacklog(ctx context.Context, s adapter.Store, now time.Time) error {
	const perUpdate = 1_000
	old := now.Add(-time.Hour)
	for start := 0; start < BacklogRows; start += perUpdate {
		err := adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error {
			for n := start; n < start+perUpdate; n++ {
				if err := tx.AppendOutbox(&adapter.OutboxRow{
					InteractionID: fmt.Sprint("backlog", n%4_000), CRMObject: "Case", CRMID: fmt.Sprint("500B", n%4_000),
					Kind: adapter.OutboxChange, Payload: Payload, CreatedAt: old,
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error {
		rows, err := tx.ClaimOutbox(adapter.ClaimQuery{Now: old, LeaseUntil: now.Add(-time.Minute), Holder: "died"})
		if err != nil {
			return err
		}
		if len(rows) != BacklogRows {
			return fmt.Errorf("backlog: claimed %d rows, want %d", len(rows), BacklogRows)
		}
		var back []adapter.OutboxRow
		for k, r := range rows {
			if k%2 == 1 {
				r.State, r.NextAttemptAt = adapter.OutboxPending, old
				back = append(back, r)
			}
		}
		return tx.FinishOutbox(back)
	})
}

// RetryRows is how many rows wait for their retry in RetryBacklog; DueRows
// how many rows of other records are due among them.
const (
	RetryRows = 100_000
	DueRows   = 500
)

// RetryBacklog measures the writeback's claim and its count of what is
// due, as ClaimBacklog does, in a long CRM outage: RetryRows rows of
// 5,000 records failed and wait for their retry (the writer tried them
// while the CRM was down), and DueRows rows of new records, appended
// last, are due. What is due lies at the end of the pending rows in ID
// order, behind every row waiting for its retry. Run it from a store's
// benchmark with a fresh store.
func RetryBacklog(b *testing.B, s adapter.Store) {
	ctx := context.Background()
	now := time.Now()
	old := now.Add(-time.Hour)
	appendRows := func(n int, record func(int) string, at time.Time) error {
		return adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error {
			for k := range n {
				if err := tx.AppendOutbox(&adapter.OutboxRow{InteractionID: "i" + record(k), CRMObject: "Case",
					CRMID: record(k), Kind: adapter.OutboxChange, Payload: Payload, CreatedAt: at}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for start := 0; start < RetryRows; start += 1_000 {
		if err := appendRows(1_000, func(k int) string { return fmt.Sprint("500R", (start+k)%5_000) }, old); err != nil {
			b.Fatal(err)
		}
	}
	err := adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error {
		rows, err := tx.ClaimOutbox(adapter.ClaimQuery{Now: old, LeaseUntil: now.Add(time.Minute), Holder: "bench"})
		if err != nil {
			return err
		}
		if len(rows) != RetryRows {
			return fmt.Errorf("retry backlog: claimed %d rows, want %d", len(rows), RetryRows)
		}
		for k := range rows {
			rows[k].State, rows[k].Attempts, rows[k].NextAttemptAt = adapter.OutboxPending, 5, now.Add(5*time.Minute)
		}
		return tx.FinishOutbox(rows)
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := appendRows(DueRows, func(k int) string { return fmt.Sprint("500N", k) }, now); err != nil {
		b.Fatal(err)
	}
	claimAndCount(b, s, now, DueRows)
}

// claimAndCount runs the sub-benchmarks of ClaimBacklog and RetryBacklog
// at now: "claim" (an Update that claims up to ClaimRows rows and is
// rolled back) and "due" (a View of OutboxDue), each expecting want rows.
func claimAndCount(b *testing.B, s adapter.Store, now time.Time, want int) {
	ctx := context.Background()
	query := adapter.ClaimQuery{Now: now, LeaseUntil: now.Add(time.Minute), Limit: ClaimRows, Holder: "bench",
		OwnBy: now.Add(-time.Minute)}
	b.Run("claim", func(b *testing.B) {
		for b.Loop() {
			var n int
			err := adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error {
				rows, err := tx.ClaimOutbox(query)
				n = len(rows)
				if err != nil {
					return err
				}
				return errRollBack
			})
			if !errors.Is(err, errRollBack) {
				b.Fatalf("claim: %v", err)
			}
			if n != want {
				b.Fatalf("claimed %d rows, want %d", n, want)
			}
		}
	})
	b.Run("due", func(b *testing.B) {
		for b.Loop() {
			var due adapter.OutboxDue
			err := s.View(ctx, func(tx adapter.Tx) (err error) {
				due, err = tx.OutboxDue(query)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if due.Rows != want {
				b.Fatalf("%d rows due, want %d: a claim was not rolled back", due.Rows, want)
			}
		}
	})
}
