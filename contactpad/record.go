package contactpad

import "time"

// AuditEntry records one transition or agent action on an interaction.
type AuditEntry struct {
	ID            string    `json:"id"`
	InteractionID string    `json:"interaction_id"`
	At            time.Time `json:"at"`
	// Actor is the agent who acted, or "system" for timers and ingest, or
	// "admin".
	Actor string `json:"actor"`
	// Action names what happened: created, offered, accepted, declined,
	// released, deferred, resumed, reopened, transferred, ...
	Action string `json:"action"`
	// Category is the handling-export category of the step (accept,
	// status_action, transfer, release, abandon, consult, hold, wrap_up,
	// routing, system).
	Category   string            `json:"category"`
	FromStatus Status            `json:"from_status"`
	ToStatus   Status            `json:"to_status"`
	Message    string            `json:"message"`
	Data       map[string]string `json:"data,omitempty"`
}

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
