package adapter

import (
	"encoding/json"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// EventType names what an event reports.
type EventType string

// The event types of the API.
const (
	EventInteractionCreated  EventType = "interaction.created"
	EventInteractionUpdated  EventType = "interaction.updated"
	EventInteractionOffered  EventType = "interaction.offered"
	EventInteractionInactive EventType = "interaction.inactive"
	EventTransferRequested   EventType = "transfer.requested"
	EventTransferAccepted    EventType = "transfer.accepted"
	EventTransferFailed      EventType = "transfer.failed"
	EventTransferCompleted   EventType = "transfer.completed"
	EventTransferCanceled    EventType = "transfer.canceled"
	EventConsultStarted      EventType = "consult.started"
	EventConsultConnected    EventType = "consult.connected"
	EventConsultEnded        EventType = "consult.ended"
	EventAgentPresence       EventType = "agent.presence"
)

// Event reports one change, for the SSE stream, webhooks and metrics.
type Event struct {
	// Seq orders events in the store; it is the SSE event id.
	Seq         int64                   `json:"id"`
	Type        EventType               `json:"type"`
	At          time.Time               `json:"at"`
	Interaction *contactpad.Interaction `json:"interaction,omitempty"`
	Transfer    *contactpad.Transfer    `json:"transfer,omitempty"`
	Consult     *contactpad.Consult     `json:"consult,omitempty"`
	Agent       *AgentPresence          `json:"agent,omitempty"`
	Flags       map[string]bool         `json:"flags,omitempty"`
	// Audience lists the agents who see the event on their stream (the
	// owner, a transfer's initiator and assignee, a consult's parties).
	// Admins see every event.
	Audience []string `json:"-"`
}

// AgentPresence is the payload of an agent.presence event.
type AgentPresence struct {
	ID       string              `json:"id"`
	Presence contactpad.Presence `json:"presence"`
	// Source says where a change came from: PresenceFromOmni, or ""
	// (ctibridge: the agent, routing or an admin).
	Source string `json:"source,omitempty"`
	// CRMStatus is the Omni-Channel status (DeveloperName) behind a
	// change from Omni-Channel; "" when the agent signed out of it.
	CRMStatus string `json:"crm_status,omitempty"`
	// BusyMedia are the media types that take no new work though the
	// agent is available (FollowPresence).
	BusyMedia []contactpad.Media `json:"busy_media,omitempty"`
}

// PresenceFromOmni is the AgentPresence.Source of a presence that follows
// the agent's Omni-Channel status in Salesforce.
const PresenceFromOmni = "omni"

// OutboxKind says what a writeback row carries.
type OutboxKind string

// OutboxChange is the kind of a row whose Payload is a contactpad.RecordChange.
const OutboxChange OutboxKind = "change"

// OutboxState is where a writeback row is.
type OutboxState string

// The outbox states. The writer (connectors/salesforce) moves rows from
// pending to done, or to parked with the CRM's error code.
const (
	OutboxPending  OutboxState = "pending"
	OutboxInFlight OutboxState = "in_flight"
	OutboxDone     OutboxState = "done"
	OutboxParked   OutboxState = "parked"
)

// OutboxRow is one change to write back to the CRM, stored in the same
// transaction as the state change it reports (transactional outbox).
type OutboxRow struct {
	ID            int64           `json:"id"`
	InteractionID string          `json:"interaction_id"`
	CRMObject     string          `json:"crm_object"`
	CRMID         string          `json:"crm_id"`
	Kind          OutboxKind      `json:"kind"`
	Payload       json.RawMessage `json:"payload"`
	State         OutboxState     `json:"state"`
	Attempts      int             `json:"attempts"`
	ErrorCode     string          `json:"error_code"`
	ErrorMessage  string          `json:"error_message"`
	CreatedAt     time.Time       `json:"created_at"`
	// NextAttemptAt is when a row that failed may be tried again.
	NextAttemptAt time.Time `json:"next_attempt_at"`
	// LeaseUntil is when a claimed (in flight) row may be claimed again by
	// another writer, because its writer seems gone.
	LeaseUntil time.Time `json:"lease_until"`
	// Holder names the writer (the engine's WithHolder) that claimed it.
	Holder string `json:"holder"`
	// BlockedBy, in Tx.Outbox's lists, is the parked row of the same
	// record this row waits behind (a record's changes are written in
	// order); 0 when none.
	BlockedBy int64 `json:"blocked_by,omitempty"`
}

// TimerKind names what a timer does when it fires.
type TimerKind string

// The timers of the engine. Each is keyed by Ref: the interaction, transfer
// or consult ID it belongs to.
const (
	TimerOfferTimeout   TimerKind = "offer_timeout"
	TimerWrapUpEnd      TimerKind = "wrap_up_end"
	TimerTransferAccept TimerKind = "transfer_accept"
	TimerConsult        TimerKind = "consult_timeout"
	TimerDueDate        TimerKind = "due_date"
	TimerInactivity     TimerKind = "inactivity"
)

// Timer is a row in the store that fires a command at DueAt.
type Timer struct {
	Kind  TimerKind `json:"kind"`
	Ref   string    `json:"ref"`
	DueAt time.Time `json:"due_at"`
}
