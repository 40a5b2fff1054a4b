package contactpad

// Salesforce Omni-Channel external routing: the org makes a
// PendingServiceRouting (PSR) for each work item placed in a queue routed
// externally; the bridge routes the item with its own rules and delivers
// the offer by creating an AgentWork for the agent's user; the agent
// accepts or declines in the Omni-Channel widget (or the push times out
// there), and the poll reads the answer back.

// The AgentWork statuses the bridge reads back.
const (
	AgentWorkOpened      = "Opened"
	AgentWorkDeclined    = "Declined"
	AgentWorkPushTimeout = "DeclinedOnPushTimeout"
	AgentWorkUnavailable = "Unavailable"
)

// maxAnswered bounds OmniRouting.Answered: an item is declined a few times
// at most before someone takes it.
const maxAnswered = 20

// OmniRouting is how an interaction is routed through Omni-Channel.
type OmniRouting struct {
	// PSRID is the PendingServiceRouting the org made for the work item;
	// empty once an agent accepted (the org deletes it then): a later
	// offer (a transfer) routes the item to the agent directly.
	PSRID            string  `json:"psr_id,omitempty"`
	ServiceChannelID string  `json:"service_channel_id"`
	CapacityWeight   float64 `json:"capacity_weight,omitempty"`
	// Pushed says the current offer was delivered as an AgentWork: the
	// agent answers it in Omni-Channel, which also times it out.
	Pushed bool `json:"pushed,omitempty"`
	// WorkID is the AgentWork of the accepted work, once read back.
	WorkID string `json:"work_id,omitempty"`
	// Answered lists the AgentWork whose answers the bridge took in, newest
	// last (at most 20), so that reading one again changes nothing.
	Answered []string `json:"answered,omitempty"`
	// Refused counts the AgentWork the CRM refused in a row for this
	// work item. At a few, routing stops offering it until Omni-Channel
	// shows it free (see adapter.OmniRefused).
	Refused int `json:"refused,omitempty"`
}

// Answer records that the answer of AgentWork id was taken in.
func (o *OmniRouting) Answer(id string) {
	o.Answered = append(o.Answered, id)
	if len(o.Answered) > maxAnswered {
		o.Answered = o.Answered[len(o.Answered)-maxAnswered:]
	}
}

// OmniItem is what a source read of a work item's external routing: its
// PSR, or an AgentWork answered in Omni-Channel.
type OmniItem struct {
	PSRID            string  `json:"psr_id,omitempty"`
	ServiceChannelID string  `json:"service_channel_id,omitempty"`
	CapacityWeight   float64 `json:"capacity_weight,omitempty"`
	// Answer, when set, is an AgentWork of the item that is no longer
	// Assigned; the WorkItem carries nothing else of the record then.
	Answer *AgentWorkAnswer `json:"answer,omitempty"`
}

// AgentWorkAnswer is an AgentWork as the org shows it after the agent
// answered (Status AgentWorkOpened, AgentWorkDeclined, ...).
type AgentWorkAnswer struct {
	WorkID string `json:"work_id"`
	UserID string `json:"user_id"`
	Status string `json:"status"`
}

// AgentWorkOffer is the AgentWork a change asks the writer to create: the
// offer of a work item to the agent's user, through Omni-Channel.
type AgentWorkOffer struct {
	ServiceChannelID string  `json:"service_channel_id"`
	WorkItemID       string  `json:"work_item_id"`
	UserID           string  `json:"user_id"`
	PSRID            string  `json:"psr_id,omitempty"`
	CapacityWeight   float64 `json:"capacity_weight,omitempty"`
}
