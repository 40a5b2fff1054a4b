package sqlite

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// BenchmarkUpdate measures the engine's hot path: Updates of batchSize fns,
// each writing what one command writes (the interaction, an audit entry, an
// event, an outbox row and a timer), committed durably (synchronous=FULL).
// One op is one Update; fns/s is the throughput in commands.
//
//	go test -run xxx -bench Update -benchtime 20x ./adapter/store/sqlite/
func BenchmarkUpdate(b *testing.B) {
	const batchSize = 256
	for _, bc := range []struct {
		name string
		// id names the interaction of fn f in batch n.
		id func(n, f int) string
	}{
		{name: "new interactions", id: func(n, f int) string { return fmt.Sprintf("i-%d-%d", n, f) }},
		{name: "existing interactions", id: func(_, f int) string { return fmt.Sprintf("i-%d", f) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openTemp(b)
			now := time.Date(2025, time.March, 1, 9, 30, 0, 0, time.UTC)
			payload := json.RawMessage(`{"status":"connected","owner":"alice","service":"support"}`)
			fns := make([]func(adapter.Tx) error, batchSize)
			n := 0
			var elapsed time.Duration
			for b.Loop() {
				for f := range fns {
					i := &contactpad.Interaction{
						ID: bc.id(n, f), CRMObject: "Case", CRMID: "500" + bc.id(n, f),
						Media: contactpad.NonLive, Service: "support", Subject: "Order not delivered",
						Status: contactpad.Connected, Owner: "alice", Tags: []string{"web"},
						QueuedAt: &now, LastActivityAt: now, CreatedAt: now, UpdatedAt: now, Version: int64(n),
					}
					fns[f] = func(tx adapter.Tx) error {
						if err := tx.PutInteraction(i); err != nil {
							return err
						}
						if err := tx.AppendAudit(&contactpad.AuditEntry{
							ID: fmt.Sprint(n, f), InteractionID: i.ID, At: now, Actor: "alice", Action: "accepted",
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
							Payload: payload, CreatedAt: now,
						}); err != nil {
							return err
						}
						return tx.SetTimer(adapter.Timer{Kind: adapter.TimerInactivity, Ref: i.ID, DueAt: now.Add(time.Hour)})
					}
				}
				start := time.Now()
				errs, err := s.Update(b.Context(), fns)
				elapsed += time.Since(start)
				require.NoError(b, err)
				for _, err := range errs {
					require.NoError(b, err)
				}
				n++
			}
			fnsDone := float64(n * batchSize)
			b.ReportMetric(fnsDone/elapsed.Seconds(), "fns/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/fnsDone, "ns/fn")
		})
	}
}
