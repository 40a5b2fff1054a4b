package adapter

import (
	"slices"

	"github.com/ctibridge/ctibridge/contactpad"
)

// step names one move of an interaction between statuses.
type step string

// The steps of an interaction's lifecycle.
const (
	stepOffer        step = "offer"          // routing alerts an agent
	stepAssign       step = "assign"         // routing connects an agent at once (auto-accept)
	stepAccept       step = "accept"         // the offered agent accepts
	stepDecline      step = "decline"        // the offered agent declines: back to the queue
	stepOfferTimeout step = "offer_timeout"  // nobody answered the offer in time
	stepRequeueOffer step = "requeue"        // the offered agent logged out
	stepHold         step = "hold"           // live only
	stepRetrieve     step = "retrieve"       // live only
	stepRelease      step = "release"        // into wrap-up
	stepComplete     step = "complete"       // wrap-up ends (timer or finish)
	stepAbandon      step = "abandon"        // force end, no wrap-up
	stepDefer        step = "defer"          // pending until due_by
	stepReopenOwner  step = "reopen"         // due date: back to the owner
	stepReopenQueue  step = "reopen_queue"   // due date: back to routing
	stepResume       step = "resume"         // an agent takes it back from deferred or completed
	stepResumeQueue  step = "resume_queue"   // an admin sends it back to routing
	stepTransferCold step = "transfer_cold"  // reassign now: back to routing for the target
	stepTransferWarm step = "transfer_warm"  // "Transfer now": the accepting agent owns it
	stepCloseInCRM   step = "close_in_crm"   // the record was closed in the CRM, or left its mapping's filter
	stepAbandonInCRM step = "abandon_in_crm" // the same, where the mapping counts it as abandoned
	stepReopenInCRM  step = "reopen_in_crm"  // an ended interaction's record was reopened in the CRM
)

// transitions is the whole lifecycle: for each step, the statuses it may be
// taken from and the status it leads to. Apply refuses anything else with
// a TransitionError naming the state and the action.
var transitions = map[step]struct {
	from []contactpad.Status
	to   contactpad.Status
}{
	stepOffer:        {from: []contactpad.Status{contactpad.Queued}, to: contactpad.Offered},
	stepAssign:       {from: []contactpad.Status{contactpad.Queued}, to: contactpad.Connected},
	stepAccept:       {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Connected},
	stepDecline:      {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Queued},
	stepOfferTimeout: {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Queued},
	stepRequeueOffer: {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Queued},
	stepHold:         {from: []contactpad.Status{contactpad.Connected}, to: contactpad.Connected},
	stepRetrieve:     {from: []contactpad.Status{contactpad.Connected}, to: contactpad.Connected},
	stepRelease:      {from: []contactpad.Status{contactpad.Connected}, to: contactpad.WrapUp},
	stepComplete:     {from: []contactpad.Status{contactpad.WrapUp}, to: contactpad.Completed},
	stepAbandon:      {from: []contactpad.Status{contactpad.Connected, contactpad.WrapUp}, to: contactpad.Abandoned},
	stepDefer:        {from: []contactpad.Status{contactpad.Connected, contactpad.Queued}, to: contactpad.Deferred},
	stepReopenOwner:  {from: []contactpad.Status{contactpad.Deferred}, to: contactpad.Connected},
	stepReopenQueue:  {from: []contactpad.Status{contactpad.Deferred}, to: contactpad.Queued},
	stepResume:       {from: []contactpad.Status{contactpad.Deferred, contactpad.Completed}, to: contactpad.Connected},
	stepResumeQueue:  {from: []contactpad.Status{contactpad.Deferred, contactpad.Completed}, to: contactpad.Queued},
	stepTransferCold: {from: []contactpad.Status{contactpad.Connected}, to: contactpad.Queued},
	stepTransferWarm: {from: []contactpad.Status{contactpad.Connected}, to: contactpad.Connected},
	stepCloseInCRM:   {from: notEnded, to: contactpad.Completed},
	stepAbandonInCRM: {from: notEnded, to: contactpad.Abandoned},
	stepReopenInCRM:  {from: []contactpad.Status{contactpad.Completed, contactpad.Abandoned}, to: contactpad.Queued},
}

// notEnded are the statuses an interaction can be closed from in the CRM.
var notEnded = []contactpad.Status{contactpad.Queued, contactpad.Offered, contactpad.Connected,
	contactpad.WrapUp, contactpad.Deferred}

// canTake reports whether step may be taken from status.
func canTake(s step, from contactpad.Status) bool {
	return slices.Contains(transitions[s].from, from)
}

// take moves i along step, or returns a TransitionError naming i's status
// and action (the user-facing name of what was attempted).
func take(i *contactpad.Interaction, s step, action string) error {
	if !canTake(s, i.Status) {
		return &TransitionError{Object: "interaction", ID: i.ID, Action: action, State: string(i.Status)}
	}
	i.Status = transitions[s].to
	return nil
}
