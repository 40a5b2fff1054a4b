package contactpad

import "time"

// Status is where an interaction is in its lifecycle. The allowed moves
// between statuses are the transition table in package adapter.
type Status string

// The interaction statuses of the API.
const (
	// Queued interactions wait in their service for an agent.
	Queued Status = "queued"
	// Offered interactions alert one agent, who may accept or decline.
	Offered Status = "offered"
	// Connected interactions are worked by their owner (the Ongoing folder).
	Connected Status = "connected"
	// WrapUp follows release: the owner finishes notes for a timed period.
	WrapUp Status = "wrap_up"
	// Completed interactions are done (the History folder).
	Completed Status = "completed"
	// Abandoned interactions were force-ended; they count apart from completed.
	Abandoned Status = "abandoned"
	// Deferred interactions are pending until their due date (the Deferred folder).
	Deferred Status = "deferred"
)

// Statuses lists every status.
var Statuses = []Status{Queued, Offered, Connected, WrapUp, Completed, Abandoned, Deferred}

// HoldsCapacity reports whether an interaction in this status counts
// against its owner's capacity.
func (s Status) HoldsCapacity() bool { return s == Offered || s == Connected || s == WrapUp }

// Folder is a view of an agent's interactions in the panel.
type Folder string

// The panel's folders.
const (
	FolderOngoing  Folder = "ongoing"
	FolderDeferred Folder = "deferred"
	FolderHistory  Folder = "history"
)

// Statuses returns the statuses shown in the folder.
func (f Folder) Statuses() []Status {
	switch f {
	case FolderOngoing:
		return []Status{Offered, Connected, WrapUp}
	case FolderDeferred:
		return []Status{Deferred}
	case FolderHistory:
		return []Status{Completed, Abandoned}
	}
	return nil
}

// Why a deferred interaction reopened without an agent.
const (
	ReopenDueDate       = "due_date"
	ReopenCustomerReply = "customer_reply"
	// ReopenCRM: someone reopened the record in the CRM.
	ReopenCRM = "crm"
)

// Where an interaction was resumed from.
const (
	ResumedFromDeferred  = "deferred"
	ResumedFromCompleted = "completed"
)

// Interaction is one piece of customer work, made from one CRM record.
type Interaction struct {
	ID        string `json:"id"`
	CRMID     string `json:"crm_id"`
	CRMObject string `json:"crm_object"`
	Media     Media  `json:"media"`
	Service   string `json:"service"`
	Subject   string `json:"subject"`
	// Priority routes higher values first.
	Priority int    `json:"priority"`
	Status   Status `json:"status"`
	Held     bool   `json:"held"`
	// Owner is the agent who has the interaction: the offered agent while
	// offered, the worker while connected or in wrap-up, the last worker
	// afterwards. Empty while queued and never worked.
	Owner                  string     `json:"owner"`
	DueBy                  *time.Time `json:"due_by"`
	DueBySetManually       bool       `json:"due_by_was_set_manually"`
	AutoOpenedDueToDueDate bool       `json:"auto_opened_due_to_due_date"`
	ResumedFrom            string     `json:"resumed_from"`
	// ReopenReason says why a deferred interaction last reopened by itself:
	// ReopenDueDate or ReopenCustomerReply.
	ReopenReason string `json:"reopen_reason"`
	// Tags and Category come from the CRM record; deferral rules match on them.
	Tags     []string `json:"tags"`
	Category string   `json:"category"`
	// Customer is who the customer is, as the panel shows it beside the
	// work: a phone number or a name from the record (the mapping's
	// customer field); empty when the mapping has none.
	Customer string `json:"customer"`
	// ConnectedAt is when the interaction last became connected to its
	// owner (accepted, assigned, reopened, resumed, or handed over by a
	// transfer): the start of the panel's talk timer. Nil until then.
	ConnectedAt *time.Time `json:"connected_at"`
	// TransferNote is the note of its transfers: what the target of a
	// warm transfer reads, kept after a failed attempt for the next one,
	// and shown to the new owner. Stored here only (Transfer.Note is it).
	TransferNote string `json:"transfer_note"`
	// TargetAgent reserves a queued interaction for one agent (a cold
	// transfer to an agent who is not available yet).
	TargetAgent string `json:"target_agent"`
	// SkipAgent is the agent who last declined or missed the offer; routing
	// prefers others until someone accepts.
	SkipAgent string `json:"-"`
	// TransferredFrom is the agent who transferred it to a service or
	// another agent: routing never gives it back to them until another
	// agent has taken it.
	TransferredFrom string     `json:"transferred_from"`
	WrapUpEndsAt    *time.Time `json:"wrap_up_ends_at"`
	WrapUpExtended  int        `json:"wrap_up_extensions"`
	OfferExpiresAt  *time.Time `json:"offer_expires_at"`
	QueuedAt        *time.Time `json:"queued_at"`
	LastActivityAt  time.Time  `json:"last_activity_at"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// Version counts committed changes; stores use it to detect lost updates.
	Version int64 `json:"version"`
	// Sync is what the bridge knows of the CRM record the interaction
	// mirrors; empty for work that comes from no record.
	Sync RecordSync `json:"-"`
	// Omni is set when the interaction is routed through Salesforce
	// Omni-Channel as an external router (mappings[].omni); nil otherwise.
	Omni *OmniRouting `json:"-"`
}

// WorkItem is what a CRM connector hands to the engine: one CRM record,
// already mapped.
type WorkItem struct {
	CRMID     string   `json:"crm_id"`
	CRMObject string   `json:"crm_object"`
	Media     Media    `json:"media"`
	Service   string   `json:"service"`
	Subject   string   `json:"subject"`
	Priority  int      `json:"priority"`
	Tags      []string `json:"tags"`
	Category  string   `json:"category"`
	// Customer is the customer's phone number or name (Interaction.Customer).
	Customer string `json:"customer"`
	// CustomerReply says the customer wrote since the record was last read
	// (the mapping's reopen_on_customer_reply rule matched): a deferred
	// interaction reopens before its due date.
	CustomerReply bool `json:"customer_reply"`
	// CRM is what the record shows of the fields the interaction mirrors;
	// nil when the source does not say.
	CRM *RecordState `json:"crm,omitempty"`
	// Unmatched says the record no longer matches its mapping's filter
	// (closed, or filtered out in the CRM): its interaction, if it has one,
	// ends. Only CRMID, CRMObject and CRM are set then.
	Unmatched bool `json:"unmatched,omitempty"`
	// Problem says why the source could not turn the record into a work
	// item (no media rule matches, say); only CRMID and CRMObject are set
	// then. The engine records it and has the source read it again later.
	Problem string `json:"problem,omitempty"`
	// Omni is what the source read of the record's Omni-Channel external
	// routing (its PSR, or an AgentWork answered); nil when it has none.
	Omni *OmniItem `json:"omni,omitempty"`
}

// Agent is a person who works interactions, with live presence.
type Agent struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	CRMUserID string   `json:"crm_user_id"`
	Services  []string `json:"services"`
	Capacity  Capacity `json:"capacity"`
	Presence  Presence `json:"presence"`
	// PresenceAt is when presence last changed; routing offers to the agent
	// idle longest first.
	PresenceAt time.Time `json:"presence_at"`
	// LastOfferAt is when the agent was last given work by routing.
	LastOfferAt time.Time `json:"last_offer_at"`
}

// Serves reports whether the agent works the service.
func (a *Agent) Serves(service string) bool {
	for _, s := range a.Services {
		if s == service {
			return true
		}
	}
	return false
}

// Service is a queue of interactions.
type Service struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// TransferMode is warm (the target accepts first) or cold (reassign now).
type TransferMode string

// The transfer modes.
const (
	Warm TransferMode = "warm"
	Cold TransferMode = "cold"
)

// TransferStatus is where a transfer is.
type TransferStatus string

// The transfer statuses of the API.
const (
	TransferInitiated TransferStatus = "initiated"
	TransferAccepted  TransferStatus = "accepted"
	TransferCompleted TransferStatus = "completed"
	TransferFailed    TransferStatus = "failed"
	TransferCanceled  TransferStatus = "canceled"
)

// Open reports whether the transfer is still in progress.
func (s TransferStatus) Open() bool { return s == TransferInitiated || s == TransferAccepted }

// Why a transfer failed.
const (
	FailedDeclined = "declined"
	FailedTimeout  = "timeout"
)

// Target is whom a transfer or consult goes to: exactly one field is set.
type Target struct {
	Agent   string `json:"agent,omitempty"`
	Service string `json:"service,omitempty"`
	Number  string `json:"number,omitempty"`
}

// String names the target for messages and audit entries.
func (t Target) String() string {
	switch {
	case t.Agent != "":
		return "agent " + t.Agent
	case t.Service != "":
		return "service " + t.Service
	case t.Number != "":
		return "number " + t.Number
	}
	return "nobody"
}

// Transfer moves an interaction from its owner to another agent or service.
type Transfer struct {
	ID            string       `json:"id"`
	InteractionID string       `json:"interaction_id"`
	Mode          TransferMode `json:"mode"`
	Target        Target       `json:"target"`
	// Note is the interaction's transfer note (Interaction.TransferNote),
	// which the target reads.
	Note          string         `json:"note"`
	Status        TransferStatus `json:"status"`
	FailedReason  string         `json:"failed_reason"`
	DeclineReason string         `json:"decline_reason"`
	Initiator     string         `json:"initiator"`
	// Assignee is the agent the request was delivered to (the target agent,
	// or the agent chosen from the target service). Empty until delivered.
	Assignee string `json:"assignee"`
	// AnswerIn is AnswerInOmni when the request was delivered to the
	// assignee as an AgentWork (work routed through Salesforce
	// Omni-Channel): the assignee answers it in the Omni-Channel widget.
	AnswerIn  string     `json:"answer_in,omitempty"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// AnswerInOmni says where an offer or a transfer request is answered when
// Salesforce Omni-Channel delivers it: in the Omni-Channel widget.
const AnswerInOmni = "omni_channel"

// ConsultStatus is where a consult leg is.
type ConsultStatus string

// The consult statuses.
const (
	ConsultRinging   ConsultStatus = "ringing"
	ConsultConnected ConsultStatus = "connected"
	ConsultEnded     ConsultStatus = "ended"
)

// Why a consult ended (Consult.EndedReason).
const (
	ConsultEndedReleased  = "released"   // either party ended it
	ConsultEndedTimeout   = "timeout"    // not answered in time
	ConsultEndedLoggedOut = "logged_out" // its target logged out while it rang
)

// Consult is a separate live leg from an interaction's owner to another
// agent or an external number, linked to the interaction. Ending one does
// not end the other.
type Consult struct {
	ID            string        `json:"id"`
	InteractionID string        `json:"interaction_id"`
	Initiator     string        `json:"initiator"`
	Target        Target        `json:"target"`
	Status        ConsultStatus `json:"status"`
	EndedReason   string        `json:"ended_reason"`
	ExpiresAt     *time.Time    `json:"expires_at"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
}
