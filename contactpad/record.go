package contactpad

import "time"

// AuditEntry records one transition or agent action on an interaction.
type AuditEntry struct {
	ID            string    `json:"id"`
	InteractionID string    `json:"interaction_id"`
	At            time.Time `json:"at"`
	// Actor is the agent who acted, or one of the reserved actors
	// (ActorSystem, ActorAdmin, ActorCRM).
	Actor string `json:"actor"`
	// Action names what happened.
	Action AuditAction `json:"action"`
	// Category is the handling-export category of the step.
	Category   AuditCategory     `json:"category"`
	FromStatus Status            `json:"from_status"`
	ToStatus   Status            `json:"to_status"`
	Message    string            `json:"message"`
	Data       map[string]string `json:"data,omitempty"`
}

// The actors of audit entries that are no agent. No agent may have one of
// these IDs (config checks it), so an entry's actor says who acted.
const (
	// ActorSystem is routing, timers and ingest.
	ActorSystem = "system"
	// ActorAdmin is an admin's command (a command that names no agent).
	ActorAdmin = "admin"
	// ActorCRM is a change people or other integrations made in the CRM.
	ActorCRM = "crm"
)

// ReservedActors are the actor IDs no agent may have.
var ReservedActors = []string{ActorSystem, ActorAdmin, ActorCRM}

// AuditAction names what an audit entry records.
type AuditAction string

// The audit actions.
const (
	AuditAdopted            AuditAction = "adopted"  // first sight of a record, as the CRM shows it
	AuditCreated            AuditAction = "created"  // first sight of a record, reset to new work
	AuditOffered            AuditAction = "offered"  // routing alerts an agent
	AuditAssigned           AuditAction = "assigned" // routing connects an agent (auto-accept)
	AuditAccepted           AuditAction = "accepted" // the agent accepted the offer
	AuditDeclined           AuditAction = "declined" // the agent declined the offer
	AuditOfferTimeout       AuditAction = "offer_timeout"
	AuditRequeued           AuditAction = "requeued" // the offer withdrawn: the agent logged out
	AuditHeld               AuditAction = "held"
	AuditRetrieved          AuditAction = "retrieved"
	AuditReleased           AuditAction = "released"
	AuditWrapUpExtended     AuditAction = "wrap_up_extended"
	AuditCompleted          AuditAction = "completed"
	AuditAbandoned          AuditAction = "abandoned"
	AuditDeferred           AuditAction = "deferred"
	AuditReopened           AuditAction = "reopened"
	AuditResumed            AuditAction = "resumed"
	AuditTransferRequested  AuditAction = "transfer_requested"
	AuditTransferred        AuditAction = "transferred"
	AuditTransferFailed     AuditAction = "transfer_failed"
	AuditTransferCanceled   AuditAction = "transfer_canceled"
	AuditConsultStarted     AuditAction = "consult_started"
	AuditConsultEnded       AuditAction = "consult_ended"
	AuditClosed             AuditAction = "closed"     // closed (or filtered out) in the CRM
	AuditReassigned         AuditAction = "reassigned" // owner changed in the CRM
	AuditOwnerChangeIgnored AuditAction = "owner_change_ignored"
	AuditDeferIgnored       AuditAction = "defer_ignored"
	AuditDueDateChanged     AuditAction = "due_date_changed"
	AuditServiceChanged     AuditAction = "service_changed" // the mapping gives the record another service
	AuditConflict           AuditAction = "conflict"        // both the CRM and the bridge changed a field
)

// AuditCategory is the handling-export category of an audit entry.
type AuditCategory string

// The audit categories. Accept to wrap-up are agents' handling; routing,
// system and crm are not.
const (
	CategoryAccept       AuditCategory = "accept"
	CategoryStatusAction AuditCategory = "status_action" // defer, resume: handling even with no reply sent
	CategoryTransfer     AuditCategory = "transfer"
	CategoryRelease      AuditCategory = "release"
	CategoryAbandon      AuditCategory = "abandon"
	CategoryConsult      AuditCategory = "consult"
	CategoryHold         AuditCategory = "hold"
	CategoryWrapUp       AuditCategory = "wrap_up"
	CategoryRouting      AuditCategory = "routing"
	CategorySystem       AuditCategory = "system"
	CategoryCRM          AuditCategory = "crm"
)

// RecordChange is the payload of an outbox row: one change of one CRM
// record, written in the same transaction as the state change it reports.
// A writer sends Fields as a record update and the audit entry as a record
// of its own (e.g. a Task), in row order per record.
type RecordChange struct {
	// Writeback is the interaction's mirrored state after the change, for
	// the templates of the audit record; nil when unchanged.
	Writeback *Writeback `json:"writeback,omitempty"`
	// Audit is the audit entry of the change, if it has one.
	Audit *AuditEntry `json:"audit,omitempty"`
	// Fields are the record's fields to update (RecordSync.Writes): when the
	// change is made, those it asks for; when the writer sends it, those
	// still to write then.
	Fields map[string]any `json:"fields,omitempty"`
	// AgentWork, when set, is an offer to deliver through Omni-Channel:
	// the writer creates the AgentWork after the record's update.
	AgentWork *AgentWorkOffer `json:"agent_work,omitempty"`
}

// Writeback is the interaction fields the CRM mirrors. The mapping turns
// it into CRM field values. Owner and OwnerCRMUserID name the agent who
// works (or worked) the interaction; they are empty while it waits in the
// queue or is only offered, so that the record's owner changes when an
// agent takes the work, not when it is offered.
type Writeback struct {
	Status                 Status     `json:"status"`
	Owner                  string     `json:"owner"`
	OwnerCRMUserID         string     `json:"owner_crm_user_id"`
	DueBy                  *time.Time `json:"due_by"`
	DueBySetManually       bool       `json:"due_by_was_set_manually"`
	AutoOpenedDueToDueDate bool       `json:"auto_opened_due_to_due_date"`
	ResumedFrom            string     `json:"resumed_from"`
	Service                string     `json:"service"`
}
