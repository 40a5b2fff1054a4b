package adapter

import (
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Command is one request to change state. Every command goes through
// Engine.Apply: one store transaction that writes the new state with its
// audit entries, events, outbox rows and timers, or nothing at all.
//
// Commands that name an Agent act as that agent and are refused with
// ErrForbidden when the interaction, transfer or consult is not theirs. An
// empty Agent means an admin or the system, which may act on anything.
type Command interface {
	apply(c *change) error
}

// Result is what a committed command produced.
type Result struct {
	Interaction *contactpad.Interaction
	Transfer    *contactpad.Transfer
	Consult     *contactpad.Consult
	Agent       *contactpad.Agent
	// Events are the events the command committed, with their Seq.
	Events []Event
	// Stale says an Ingest's read of the record may predate the bridge's
	// latest write to it, and was ignored: the record is to be read again.
	Stale bool
}

// Ingest turns a CRM work item into an interaction, or updates the
// interaction already made from the same CRM record (idempotent by CRM id).
type Ingest struct {
	Item contactpad.WorkItem
	// ReadAt is when the source's read of the record was sent (zero: not
	// known). A read sent before the CRM answered the bridge's latest
	// write to the record may show it from before that write: all but
	// its descriptive fields are ignored, and Result.Stale is set.
	ReadAt time.Time
}

// SyncAgents makes the store's agents match the configured ones, keeping
// the presence of agents that already exist, and routes the queued work
// to the available ones (the engine sends it at start).
type SyncAgents struct{ Agents []contactpad.Agent }

// SetPresence changes an agent's presence.
type SetPresence struct {
	Agent    string
	Presence contactpad.Presence
}

// FollowPresence sets an agent's presence from the CRM's (Omni-Channel),
// as the system: Presence, and the Busy media types, which take no new
// work though the agent is available (their capacity counts as 0, the
// rest is the configured one). Status is the CRM's status behind it ("":
// signed out), for the agent.presence event. The presence mirror sends
// it (Engine.RunPresence); it is no agent's action.
type FollowPresence struct {
	Agent    string
	Presence contactpad.Presence
	Busy     []contactpad.Media
	Status   string
}

// Accept answers an offer.
type Accept struct{ ID, Agent string }

// Decline refuses an offer; the interaction goes to another agent.
type Decline struct{ ID, Agent, Reason string }

// Hold puts a live interaction on hold.
type Hold struct{ ID, Agent string }

// Retrieve takes a live interaction off hold.
type Retrieve struct{ ID, Agent string }

// Release ends the customer contact and starts wrap-up.
type Release struct{ ID, Agent string }

// ExtendWrapUp adds one wrap-up period, up to the configured number of times.
type ExtendWrapUp struct{ ID, Agent string }

// FinishWrapUp ends wrap-up now.
type FinishWrapUp struct{ ID, Agent string }

// Abandon force-ends an interaction when release did not work: no wrap-up,
// capacity freed at once, counted apart from completed.
type Abandon struct {
	ID, Agent string
	Confirm   bool
	Reason    string
}

// Defer makes an interaction pending until DueBy. A nil DueBy is computed
// by the first matching deferral rule, or refused with ErrDueByRequired.
type Defer struct {
	ID, Agent string
	DueBy     *time.Time
}

// Resume takes an interaction back from the Deferred or the History folder
// into Agent's Ongoing folder. With no Agent (an admin), it goes back to
// routing. A manual reopen (status: open) is a Resume of a deferred one.
type Resume struct{ ID, Agent string }

// Reopen takes a deferred interaction back before its due date (the
// API's status: open): a Resume that only a deferred interaction allows.
type Reopen struct{ ID, Agent string }

// StartConsult opens a consult leg to an agent or an external number.
type StartConsult struct {
	ID, Agent string
	Target    contactpad.Target
}

// AnswerConsult connects a ringing consult leg (its target agent answers).
type AnswerConsult struct{ ConsultID, Agent string }

// EndConsult ends a consult leg; either party may end it.
type EndConsult struct{ ConsultID, Agent string }

// StartTransfer starts a warm or cold transfer to an agent or a service.
// Routing never gives the work back to its sender until another agent has
// taken it; IncludeSender (a cold transfer to a service only) lets it, when
// nobody else can take it. An empty Note keeps the note of the last attempt.
type StartTransfer struct {
	ID, Agent     string
	Target        contactpad.Target
	Mode          contactpad.TransferMode
	Note          string
	IncludeSender bool
}

// AcceptTransfer answers a warm transfer request addressed to Agent.
type AcceptTransfer struct{ TransferID, Agent string }

// DeclineTransfer refuses a warm transfer request addressed to Agent.
type DeclineTransfer struct{ TransferID, Agent, Reason string }

// CompleteTransfer hands an accepted warm transfer over ("Transfer now").
type CompleteTransfer struct{ TransferID, Agent string }

// CancelTransfer gives up an open transfer; the initiator keeps the work.
type CancelTransfer struct{ TransferID, Agent string }

// FireTimer runs what a due timer stands for. The scheduler sends it; it
// does nothing if the timer was cleared or re-armed since it was read.
type FireTimer struct{ Timer Timer }
