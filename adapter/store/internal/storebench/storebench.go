// Package storebench holds what the stores' benchmarks share: the writes
// of one engine command, so that SQLite's and PostgreSQL's numbers measure
// the same work.
package storebench

import (
	"encoding/json"
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
