package adapter

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ctibridge/ctibridge/contactpad"
)

// The lifecycle of interactions is one table: for every step, what an
// agent does (the API's actions) or what routing, timers and the CRM do,
// the statuses it may start from, the status it leads to, the capability
// matrix cell it needs, the guards it must pass and the refusal when it
// cannot be taken. Settings.Can checks an agent's step against it; the
// engine refuses with what Can says, the API lists every interaction's
// actions with it, and the panel shows its reasons. Transfers and consults
// have their small tables beside it. docs/lifecycle.md is generated from
// these tables (go test ./adapter -run TestLifecycleDoc -update).

// Step is one move of an interaction's lifecycle.
type Step string

// What agents do. The steps of the capability matrix are named as its
// actions.
const (
	StepAccept       Step = "accept"
	StepDecline      Step = "decline"
	StepHold         Step = Step(contactpad.ActionHold)
	StepRetrieve     Step = Step(contactpad.ActionRetrieve)
	StepRelease      Step = Step(contactpad.ActionRelease)
	StepExtendWrapUp Step = "extend_wrap_up"
	StepFinishWrapUp Step = "finish_wrap_up"
	StepAbandon      Step = Step(contactpad.ActionAbandon)
	StepDefer        Step = Step(contactpad.ActionDefer)
	// StepResume takes work back from the Deferred or the History folder.
	StepResume Step = Step(contactpad.ActionResume)
	// StepReopen is a manual reopen before the due date (status: open).
	StepReopen   Step = "reopen"
	StepConsult  Step = Step(contactpad.ActionConsult)
	StepTransfer Step = Step(contactpad.ActionTransfer)
)

// What routing, timers and the CRM do.
const (
	stepOffer        Step = "offer"          // routing alerts an agent
	stepAssign       Step = "assign"         // routing connects an agent at once (auto-accept)
	stepOfferTimeout Step = "offer_timeout"  // nobody answered the offer in time
	stepRequeueOffer Step = "requeue"        // the offered agent logged out, or the CRM gave it to another
	stepComplete     Step = "complete"       // wrap-up ends (its timer, or release with no wrap-up)
	stepReopenOwner  Step = "reopen_owner"   // due date, customer reply or the CRM: back to the owner
	stepReopenQueue  Step = "reopen_queue"   // the same, back to routing
	stepResumeQueue  Step = "resume_queue"   // an admin sends it back to routing
	stepTransferCold Step = "transfer_cold"  // reassign now: back to routing for the target
	stepHandOver     Step = "hand_over"      // "Transfer now": the accepting agent owns it
	stepCloseInCRM   Step = "close_in_crm"   // closed in the CRM, or left the mapping's filter
	stepAbandonInCRM Step = "abandon_in_crm" // the same, where the mapping counts it abandoned
	stepReopenInCRM  Step = "reopen_in_crm"  // an ended interaction's record reopened in the CRM
	stepReassign     Step = "reassign"       // its owner changed in the CRM
	stepDeferInCRM   Step = "defer_in_crm"   // put on hold in the CRM
	// stepAcceptInOmni and stepDeclineInOmni are the answers to an offer
	// delivered as an AgentWork, read back from Omni-Channel.
	stepAcceptInOmni  Step = "accept_in_omni"
	stepDeclineInOmni Step = "decline_in_omni"
	// stepOmniRefused: the CRM refused to create the offer's AgentWork.
	stepOmniRefused Step = "omni_refused"
)

// AgentSteps are the steps agents take, in the order the API lists them.
var AgentSteps = []Step{StepAccept, StepDecline, StepRelease, StepHold, StepRetrieve, StepExtendWrapUp,
	StepFinishWrapUp, StepConsult, StepTransfer, StepAbandon, StepDefer, StepReopen, StepResume}

// InProgress is what an interaction has under way besides its status: a
// transfer or consult started and not ended. The guards of transfer and
// consult read it.
type InProgress struct {
	Transfer bool
	Consult  bool
}

// rule is one row of the lifecycle table.
type rule struct {
	from []contactpad.Status
	to   contactpad.Status // "" keeps the status
	// agent makes it an agent's step: only the interaction's owner takes
	// it (an admin takes any).
	agent bool
	// cell is the capability-matrix cell it needs for the media type.
	cell   contactpad.Action
	guards []guard
	// notFrom says, for people, why it cannot be taken from a status
	// outside from; statusWhyNot says it otherwise.
	notFrom map[contactpad.Status]string
	about   string
}

// guard is a condition besides the status that a step needs.
type guard struct {
	holds func(i *contactpad.Interaction, s *Settings, p InProgress) bool
	// code is the refusal's API code: CodeInvalidTransition (the state)
	// or CodeConflict (something else stands in the way).
	code   string
	reason string
	about  string
	// detail, if set, says more than reason in the error's message.
	detail func(i *contactpad.Interaction, s *Settings) string
	// underWay: it reads InProgress (which UnderWay reads for the statuses
	// in live).
	underWay bool
}

var (
	open    = []contactpad.Status{contactpad.Queued, contactpad.Offered, contactpad.Connected, contactpad.WrapUp}
	live    = []contactpad.Status{contactpad.Connected}
	ended   = []contactpad.Status{contactpad.Completed, contactpad.Abandoned}
	notDone = append(slices.Clone(open), contactpad.Deferred)

	notHeld = guard{holds: func(i *contactpad.Interaction, _ *Settings, _ InProgress) bool { return !i.Held },
		code: CodeInvalidTransition, reason: "Already on hold.", about: "not on hold"}
	held = guard{holds: func(i *contactpad.Interaction, _ *Settings, _ InProgress) bool { return i.Held },
		code: CodeInvalidTransition, reason: "Not on hold.", about: "on hold"}
	extensionLeft = guard{holds: func(i *contactpad.Interaction, s *Settings, _ InProgress) bool {
		return i.WrapUpExtended < s.WrapUpMaxExtensions
	}, code: CodeConflict, reason: "No wrap-up extension left.", about: "an extension left (timeouts.wrap_up_max_extensions)",
		detail: func(i *contactpad.Interaction, s *Settings) string {
			return fmt.Sprintf("no wrap-up extension left (%d of %d used)", i.WrapUpExtended, s.WrapUpMaxExtensions)
		}}
	noTransfer = guard{holds: func(_ *contactpad.Interaction, _ *Settings, p InProgress) bool { return !p.Transfer },
		code: CodeConflict, reason: "A transfer is in progress.", about: "no transfer in progress", underWay: true}
	notInOmni = guard{holds: func(i *contactpad.Interaction, _ *Settings, _ InProgress) bool { return !PushedToOmni(i) },
		code: CodeConflict, reason: "Offered through Omni-Channel: answer it in the Omni-Channel widget.",
		about: "not offered through Omni-Channel (mappings[].omni), where the agent answers"}
	noConsult = guard{holds: func(_ *contactpad.Interaction, _ *Settings, p InProgress) bool { return !p.Consult },
		code: CodeConflict, reason: "A consult is in progress.", about: "no consult in progress", underWay: true}
)

// lifecycle is the table. Apply refuses anything it does not allow.
var lifecycle = map[Step]rule{
	StepAccept: {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Connected, agent: true,
		guards:  []guard{notInOmni},
		notFrom: map[contactpad.Status]string{contactpad.Connected: "Already accepted."},
		about:   "the offered agent takes the work"},
	StepDecline: {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Queued, agent: true,
		guards: []guard{notInOmni},
		about:  "the offered agent refuses it, with a reason: routing offers it to another"},
	StepRelease: {from: live, to: contactpad.WrapUp, agent: true, cell: contactpad.ActionRelease,
		notFrom: map[contactpad.Status]string{contactpad.WrapUp: "Already released: wrap-up is running."},
		about:   "ends the customer contact: wrap-up (completed at once when the media type has none)"},
	StepHold: {from: live, agent: true, cell: contactpad.ActionHold, guards: []guard{notHeld},
		about: "puts the customer on hold"},
	StepRetrieve: {from: live, agent: true, cell: contactpad.ActionRetrieve, guards: []guard{held},
		about: "takes the customer off hold"},
	StepExtendWrapUp: {from: []contactpad.Status{contactpad.WrapUp}, agent: true, guards: []guard{extensionLeft},
		about: "adds one wrap-up period"},
	StepFinishWrapUp: {from: []contactpad.Status{contactpad.WrapUp}, to: contactpad.Completed, agent: true,
		about: "ends wrap-up now"},
	StepConsult: {from: live, agent: true, cell: contactpad.ActionConsult, guards: []guard{noConsult},
		about: "opens a consult leg to an agent (available or interruptible) or a number"},
	StepTransfer: {from: live, agent: true, cell: contactpad.ActionTransfer, guards: []guard{noTransfer},
		about: "warm: asks the target (never the sender), who accepts within timeouts.transfer_accept of the request; cold: back to routing for the target at once"},
	StepAbandon: {from: []contactpad.Status{contactpad.Connected, contactpad.WrapUp}, to: contactpad.Abandoned,
		agent: true, cell: contactpad.ActionAbandon,
		notFrom: map[contactpad.Status]string{contactpad.Completed: "Already ended.", contactpad.Abandoned: "Already ended."},
		about:   "force-ends it when release did not work (needs confirm): no wrap-up, counted apart"},
	StepDefer: {from: []contactpad.Status{contactpad.Connected, contactpad.Queued}, to: contactpad.Deferred, agent: true,
		cell:    contactpad.ActionDefer,
		notFrom: map[contactpad.Status]string{contactpad.Deferred: "Already deferred."},
		about:   "pending until due_by (strictly in the future, or computed by a deferral rule): capacity freed"},
	StepReopen: {from: []contactpad.Status{contactpad.Deferred}, to: contactpad.Connected, agent: true,
		cell: contactpad.ActionResume,
		notFrom: map[contactpad.Status]string{
			contactpad.Completed: "Only a deferred interaction can be reopened; resume it from History.",
			contactpad.Abandoned: "Abandoned interactions cannot be reopened."},
		about: "back into the agent's Ongoing folder before the due date (an admin's: back to routing)"},
	StepResume: {from: []contactpad.Status{contactpad.Deferred, contactpad.Completed}, to: contactpad.Connected,
		agent: true, cell: contactpad.ActionResume,
		notFrom: map[contactpad.Status]string{contactpad.Abandoned: "Abandoned interactions cannot be resumed.",
			contactpad.Queued: onlyResumable, contactpad.Offered: onlyResumable, contactpad.Connected: onlyResumable,
			contactpad.WrapUp: onlyResumable},
		about: "back from the Deferred or History folder into the agent's Ongoing folder (an admin's: back to routing)"},

	stepOffer:        {from: []contactpad.Status{contactpad.Queued}, to: contactpad.Offered, about: "routing alerts the agent who waited longest"},
	stepAssign:       {from: []contactpad.Status{contactpad.Queued}, to: contactpad.Connected, about: "routing connects the agent at once (routing.auto_accept)"},
	stepOfferTimeout: {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Queued, about: "the offer was not answered within routing.push_timeout"},
	stepRequeueOffer: {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Queued, about: "the offered agent logged out, or the CRM gave the work to another"},
	stepComplete:     {from: []contactpad.Status{contactpad.WrapUp}, to: contactpad.Completed, about: "wrap-up ends (timeouts.wrap_up; at once for a media type with none)"},
	stepReopenOwner:  {from: []contactpad.Status{contactpad.Deferred}, to: contactpad.Connected, about: "the due date, a customer reply or the CRM reopens it into its owner's Ongoing folder (over capacity if need be)"},
	stepReopenQueue:  {from: []contactpad.Status{contactpad.Deferred}, to: contactpad.Queued, about: "the due date, a customer reply or the CRM reopens it back to routing (deferral.reopen: queue, or the owner logged out)"},
	stepResumeQueue:  {from: []contactpad.Status{contactpad.Deferred, contactpad.Completed}, to: contactpad.Queued, about: "an admin resumes it: back to routing"},
	stepTransferCold: {from: live, to: contactpad.Queued, about: "a cold transfer: routed to the target, never back to the sender until another agent took it (include_sender: only when nobody else can)"},
	stepHandOver:     {from: live, about: `"Transfer now": the agent who accepted the warm transfer owns it`},
	stepCloseInCRM:   {from: notDone, to: contactpad.Completed, about: "closed in the CRM, or no longer matching the mapping's filter (sync.closed: complete)"},
	stepAbandonInCRM: {from: notDone, to: contactpad.Abandoned, about: "closed in the CRM, or no longer matching the mapping's filter (sync.closed: abandon)"},
	stepReopenInCRM:  {from: ended, to: contactpad.Queued, about: "reopened in the CRM: routed, to the record's owner when that is an agent"},
	stepReassign: {from: []contactpad.Status{contactpad.Queued, contactpad.Connected, contactpad.WrapUp, contactpad.Deferred,
		contactpad.Completed, contactpad.Abandoned}, about: "its owner changed in the CRM to an agent's user (sync.owner_changed: reassign)"},
	stepAcceptInOmni: {from: []contactpad.Status{contactpad.Offered, contactpad.Queued}, to: contactpad.Connected,
		about: "accepted in Omni-Channel: its AgentWork is Opened (mappings[].omni), whoever the bridge offered it to"},
	stepDeclineInOmni: {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Queued, about: "declined in Omni-Channel, or its push timed out there: routed again, with a new AgentWork"},
	stepOmniRefused:   {from: []contactpad.Status{contactpad.Offered}, to: contactpad.Queued, about: "the CRM refused to create the offer's AgentWork (its writeback row parked): routed again, to another agent"},
	stepDeferInCRM:    {from: []contactpad.Status{contactpad.Queued, contactpad.Offered, contactpad.Connected, contactpad.WrapUp}, to: contactpad.Deferred, about: "put on hold in the CRM, until the due date it shows: an offer is taken back, a wrap-up ends"},
}

const onlyResumable = "Only deferred or completed interactions can be resumed."

// statusWhyNot says why an agent's step cannot be taken from a status.
var statusWhyNot = map[contactpad.Status]string{
	contactpad.Queued:    "Waiting in the queue, not assigned to you.",
	contactpad.Offered:   "Accept the offer first.",
	contactpad.Connected: "Not while it is connected.",
	contactpad.WrapUp:    "Not during wrap-up.",
	contactpad.Deferred:  "Deferred: resume it first.",
	contactpad.Completed: "Completed: resume it from History first.",
	contactpad.Abandoned: "Abandoned: it cannot be worked on again.",
}

// Can says whether agent may take step on i now, with p what i has under
// way: nil, or the refusal Apply gives (ErrForbidden when i is not the
// agent's, an *ActionNotAllowedError when the capability matrix forbids
// it for i's media type, a *TransitionError when i's status or state does
// not allow it, a *ConflictError when something else stands in the way).
// An empty agent is an admin. Explain turns the refusal into a sentence
// for people.
func (s *Settings) Can(i *contactpad.Interaction, step Step, agent string, p InProgress) error {
	r, ok := lifecycle[step]
	if !ok {
		return fmt.Errorf("unknown step %q", step)
	}
	if agent != "" && r.agent && i.Owner != agent {
		return fmt.Errorf("interaction %s is not %s's: %w", i.ID, agent, ErrForbidden)
	}
	if r.cell != "" && !s.Matrix.Allows(i.Media, r.cell) {
		return &ActionNotAllowedError{Action: r.cell, Media: i.Media}
	}
	if !slices.Contains(r.from, i.Status) {
		why, ok := r.notFrom[i.Status]
		if !ok {
			why = statusWhyNot[i.Status]
		}
		return &TransitionError{Object: "interaction", ID: i.ID, Action: string(step), State: string(i.Status), Reason: why}
	}
	for _, g := range r.guards {
		if g.holds(i, s, p) {
			continue
		}
		if g.code == CodeConflict {
			detail := strings.ToLower(g.reason[:1]) + strings.TrimSuffix(g.reason[1:], ".")
			if g.detail != nil {
				detail = g.detail(i, s)
			}
			return &ConflictError{Reason: fmt.Sprintf("interaction %s: %s", i.ID, detail), Say: g.reason}
		}
		return &TransitionError{Object: "interaction", ID: i.ID, Action: string(step), State: string(i.Status), Reason: g.reason}
	}
	return nil
}

// Capabilities lists the actions of the capability matrix that agent may
// take on i now ("" for an admin), with p what i has under way.
func (s *Settings) Capabilities(i *contactpad.Interaction, agent string, p InProgress) []contactpad.Action {
	out := []contactpad.Action{}
	for _, a := range contactpad.Actions {
		if s.Can(i, Step(a), agent, p) == nil {
			out = append(out, a)
		}
	}
	return out
}

// Say is the sentence for people that err carries, if it has one: a
// reason of the lifecycle table, or a refusal written for agents (Log in
// to accept it.). Unlike Explain it says nothing otherwise, and never
// quotes an error's own text, which may name ids.
func Say(err error) string {
	var (
		transition *TransitionError
		conflict   *ConflictError
	)
	switch {
	case errors.As(err, &transition):
		return transition.Reason
	case errors.As(err, &conflict):
		return conflict.Say
	}
	return ""
}

// Explain says in a sentence for people (an agent in the panel) why err
// refused a step: the reason of the lifecycle table; "" for nil.
func Explain(err error) string {
	var (
		conflict   *ConflictError
		notAllowed *ActionNotAllowedError
	)
	if say := Say(err); say != "" {
		return say
	}
	switch {
	case err == nil:
		return ""
	case errors.As(err, &conflict):
		return conflict.Reason
	case errors.As(err, &notAllowed):
		return fmt.Sprintf("Not possible for %s.", mediaNames[notAllowed.Media])
	case errors.Is(err, ErrForbidden):
		return "It is not yours."
	}
	return "Not possible now."
}

var mediaNames = map[contactpad.Media]string{contactpad.Live: "calls", contactpad.SemiLive: "chats",
	contactpad.NonLive: "cases"}

// UnderWay reads what i has under way, where a guard of the lifecycle
// reads it: for an interaction in a status no such step starts from, it
// reads nothing.
func UnderWay(tx Tx, i *contactpad.Interaction) (InProgress, error) {
	if !slices.Contains(live, i.Status) {
		return InProgress{}, nil
	}
	return tx.InProgress(i.ID)
}

// can is Can inside a command: it loads what the interaction has under way
// when step's guards read it.
func (c *change) can(i *contactpad.Interaction, step Step, agent string) error {
	var p InProgress
	if readsUnderWay(lifecycle[step]) {
		var err error
		if p, err = UnderWay(c.tx, i); err != nil {
			return err
		}
	}
	return c.s.Can(i, step, agent, p)
}

// readsUnderWay reports whether r has a guard that reads what the
// interaction has under way.
func readsUnderWay(r rule) bool {
	return slices.ContainsFunc(r.guards, func(g guard) bool { return g.underWay })
}

// may loads the interaction id and checks that agent may take step on it
// now (Can).
func (c *change) may(id, agent string, step Step) (*contactpad.Interaction, error) {
	i, err := c.interaction(id)
	if err != nil {
		return nil, err
	}
	if err := c.can(i, step, agent); err != nil {
		return nil, err
	}
	return i, nil
}

// take moves i along step: to the step's status, or a TransitionError if
// the table does not allow step from i's status.
func take(i *contactpad.Interaction, s Step) error {
	r := lifecycle[s]
	if !slices.Contains(r.from, i.Status) {
		return &TransitionError{Object: "interaction", ID: i.ID, Action: string(s), State: string(i.Status)}
	}
	if r.to != "" {
		i.Status = r.to
	}
	return nil
}

// TransferStep is one move of a transfer.
type TransferStep string

// The steps of a transfer.
const (
	TransferAcceptStep   TransferStep = "accept"   // the assignee takes the request
	TransferDeclineStep  TransferStep = "decline"  // the assignee refuses it
	TransferCompleteStep TransferStep = "complete" // the initiator hands over ("Transfer now")
	TransferCancelStep   TransferStep = "cancel"   // the initiator gives up
	transferTimeoutStep  TransferStep = "timeout"  // not accepted within the accept timeout
)

// transferRule is one row of the transfer table.
type transferRule struct {
	from []contactpad.TransferStatus
	// delivered: only a request delivered to an assignee.
	delivered bool
	// by is who may take it: the transfer's assignee or initiator ("" the
	// system); who says so in a refusal.
	by  func(t *contactpad.Transfer) string
	who string
	// inPanel: an agent answers the request here only when it was not
	// delivered through Omni-Channel (AnswerIn), where it is answered then.
	inPanel bool
	// signedIn: the agent it was delivered to must be logged in (a
	// logged-out agent would own work nobody sees); a request delivered
	// before they logged out waits for them to log in again.
	signedIn bool
	to       contactpad.TransferStatus
	about    string
}

func assignee(t *contactpad.Transfer) string  { return t.Assignee }
func initiator(t *contactpad.Transfer) string { return t.Initiator }

var initiated = []contactpad.TransferStatus{contactpad.TransferInitiated}

// transfers is the lifecycle of a warm transfer (a cold one completes at
// once).
var transfers = map[TransferStep]transferRule{
	TransferAcceptStep: {from: initiated, delivered: true, by: assignee, who: "the agent it was delivered to", inPanel: true, signedIn: true, to: contactpad.TransferAccepted,
		about: "the target (or the agent routing chose from the target service) takes the request; work routed through Omni-Channel: in the Omni-Channel widget, which hands it over at once"},
	TransferDeclineStep: {from: initiated, delivered: true, by: assignee, who: "the agent it was delivered to", inPanel: true, to: contactpad.TransferFailed,
		about: "the target refuses it (failed_reason declined); the initiator keeps the work and the note"},
	TransferCompleteStep: {from: []contactpad.TransferStatus{contactpad.TransferAccepted}, by: initiator, who: "its initiator",
		to: contactpad.TransferCompleted, about: `"Transfer now": the target owns the work`},
	TransferCancelStep: {from: []contactpad.TransferStatus{contactpad.TransferInitiated, contactpad.TransferAccepted},
		by: initiator, who: "its initiator", to: contactpad.TransferCanceled, about: "the initiator gives up; released, deferred or abandoned work cancels it too"},
	transferTimeoutStep: {from: initiated, to: contactpad.TransferFailed,
		about: "nobody accepted it within timeouts.transfer_accept of the request (failed_reason timeout)"},
}

// CanTransfer says whether agent may take step on the transfer t now ("" is
// an admin): nil, ErrForbidden when the step is not the agent's to take,
// or a *TransitionError naming t's state.
func CanTransfer(t *contactpad.Transfer, step TransferStep, agent string) error {
	r := transfers[step]
	// The agent a request names, before it reaches them (they are busy or
	// full), is told it is not delivered yet.
	awaited := r.delivered && t.Assignee == "" && t.Target.Agent == agent
	if agent != "" && r.by != nil && r.by(t) != agent && !awaited {
		return fmt.Errorf("transfer %s: only %s may %s it, not %s: %w", t.ID, r.who, step, agent, ErrForbidden)
	}
	if !slices.Contains(r.from, t.Status) || r.delivered && t.Assignee == "" {
		state := string(t.Status)
		if t.Status == contactpad.TransferInitiated && t.Assignee == "" {
			state = "initiated (not delivered yet)"
		}
		return &TransitionError{Object: "transfer", ID: t.ID, Action: string(step), State: state}
	}
	if agent != "" && r.inPanel && t.AnswerIn == contactpad.AnswerInOmni {
		return &ConflictError{Reason: fmt.Sprintf("transfer %s: delivered through Omni-Channel, where %s answers it", t.ID, t.Assignee),
			Say: "Delivered through Omni-Channel: answer it in the Omni-Channel widget."}
	}
	return nil
}

// ConsultStep is one move of a consult leg.
type ConsultStep string

// The steps of a consult.
const (
	ConsultAnswerStep  ConsultStep = "answer"  // the target agent picks up
	ConsultReleaseStep ConsultStep = "release" // either party ends the leg
	consultTimeoutStep ConsultStep = "timeout" // not answered within the consult timeout
)

type consultRule struct {
	from []contactpad.ConsultStatus
	// by is who may take it; who says so in a refusal.
	by    func(k *contactpad.Consult) []string
	who   string
	to    contactpad.ConsultStatus
	about string
}

// consults is the lifecycle of a consult leg.
var consults = map[ConsultStep]consultRule{
	ConsultAnswerStep: {from: []contactpad.ConsultStatus{contactpad.ConsultRinging},
		by: func(k *contactpad.Consult) []string { return []string{k.Target.Agent} }, who: "the consulted agent", to: contactpad.ConsultConnected,
		about: "the consulted agent answers"},
	ConsultReleaseStep: {from: []contactpad.ConsultStatus{contactpad.ConsultRinging, contactpad.ConsultConnected},
		by: func(k *contactpad.Consult) []string { return []string{k.Initiator, k.Target.Agent} }, who: "a party to it", to: contactpad.ConsultEnded,
		about: "either party ends the leg; the interaction goes on"},
	consultTimeoutStep: {from: []contactpad.ConsultStatus{contactpad.ConsultRinging}, to: contactpad.ConsultEnded,
		about: "not answered within timeouts.consult"},
}

// CanConsult says whether agent may take step on the consult k now ("" is
// an admin): nil, ErrForbidden when the agent is no party to it, or a
// *TransitionError naming k's state.
func CanConsult(k *contactpad.Consult, step ConsultStep, agent string) error {
	r := consults[step]
	if agent != "" && r.by != nil && !slices.Contains(r.by(k), agent) {
		return fmt.Errorf("consult %s: only %s may %s it, not %s: %w", k.ID, r.who, step, agent, ErrForbidden)
	}
	if !slices.Contains(r.from, k.Status) {
		return &TransitionError{Object: "consult", ID: k.ID, Action: string(step), State: string(k.Status)}
	}
	return nil
}

// LifecycleMarkdown renders the tables as docs/lifecycle.md publishes them.
func LifecycleMarkdown() string {
	var b strings.Builder
	b.WriteString("# The lifecycle of interactions\n\n")
	b.WriteString("Generated from the tables of `adapter/actions.go` by `go test ./adapter -run TestLifecycleDoc -update`;\n")
	b.WriteString("a test fails when this file and the code differ. `Settings.Can` checks an agent's step against the\n")
	b.WriteString("first table: the engine refuses with it, the API lists each interaction's `actions` with it,\n")
	b.WriteString("and the panel shows its reasons.\n\n")
	b.WriteString("## What agents do\n\n")
	b.WriteString("Only the interaction's owner takes these (an admin any). A refusal's API code: `forbidden` (not\n")
	b.WriteString("the agent's), `action_not_allowed` (the capability matrix forbids it for the media type),\n")
	b.WriteString("`invalid_transition` (not from this status or state), `conflict` (something stands in the way).\n\n")
	b.WriteString("| step | from | to | matrix cell | guards | what it does |\n|---|---|---|---|---|---|\n")
	for _, step := range AgentSteps {
		writeRule(&b, step, lifecycle[step])
	}
	b.WriteString("\nWhy not, from a status a step does not start from (the panel's reason; steps name their own\n")
	b.WriteString("where they differ):\n\n| status | reason |\n|---|---|\n")
	for _, st := range contactpad.Statuses {
		fmt.Fprintf(&b, "| %s | %s |\n", st, statusWhyNot[st])
	}
	b.WriteString("\n")
	b.WriteString("Deferred work keeps its slot: at its due date (or when the customer replies) it goes back to\n")
	b.WriteString("its owner whenever the owner is logged in, even over capacity, and the owner's own reopen or\n")
	b.WriteString("resume of it needs no free slot; routing offers the owner nothing new until they are under\n")
	b.WriteString("capacity again. Resuming from History needs a free slot.\n\n")
	b.WriteString("## What routing, timers and the CRM do\n\n")
	b.WriteString("| step | from | to | what it does |\n|---|---|---|---|\n")
	var system []Step
	for step := range lifecycle {
		if !slices.Contains(AgentSteps, step) {
			system = append(system, step)
		}
	}
	slices.Sort(system)
	for _, step := range system {
		r := lifecycle[step]
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", step, statuses(r.from), to(r.to), r.about)
	}
	b.WriteString("\n## The capability matrix (defaults)\n\n")
	b.WriteString("| action | live | semi-live | non-live |\n|---|---|---|---|\n")
	m := contactpad.DefaultMatrix()
	for _, a := range contactpad.Actions {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", a, yesNo(m.Allows(contactpad.Live, a)),
			yesNo(m.Allows(contactpad.SemiLive, a)), yesNo(m.Allows(contactpad.NonLive, a)))
	}
	b.WriteString("\n`capabilities` in the config overrides cells; hold and retrieve go together, as do defer and\n")
	b.WriteString("resume (reopen needs the resume cell).\n\n")
	b.WriteString("## Transfers\n\n| step | from | by | to | what it does |\n|---|---|---|---|---|\n")
	for _, step := range []TransferStep{TransferAcceptStep, TransferDeclineStep, TransferCompleteStep, TransferCancelStep, transferTimeoutStep} {
		r := transfers[step]
		from := make([]string, len(r.from))
		for k, st := range r.from {
			from[k] = string(st)
		}
		by := "the system"
		switch {
		case step == TransferAcceptStep || step == TransferDeclineStep:
			by = "the assignee"
		case r.by != nil:
			by = "the initiator"
		}
		where := strings.Join(from, ", ")
		if r.delivered {
			where += " (delivered)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", step, where, by, r.to, r.about)
	}
	b.WriteString("\nA warm transfer to an agent who is busy, away or full waits, undelivered, until they are\n")
	b.WriteString("available with room. Then it is delivered before any queued work is offered to them: queued\n")
	b.WriteString("work would otherwise fill their room while a colleague waits with the customer.\n")
	b.WriteString("\n## Consults\n\n| step | from | by | to | what it does |\n|---|---|---|---|---|\n")
	for _, step := range []ConsultStep{ConsultAnswerStep, ConsultReleaseStep, consultTimeoutStep} {
		r := consults[step]
		from := make([]string, len(r.from))
		for k, st := range r.from {
			from[k] = string(st)
		}
		by := "the system"
		switch step {
		case ConsultAnswerStep:
			by = "the consulted agent"
		case ConsultReleaseStep:
			by = "either party"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", step, strings.Join(from, ", "), by, r.to, r.about)
	}
	return b.String()
}

func writeRule(b *strings.Builder, step Step, r rule) {
	cell := "-"
	if r.cell != "" {
		cell = string(r.cell)
	}
	var guards []string
	for _, g := range r.guards {
		guards = append(guards, fmt.Sprintf("%s (else `%s`: %s)", g.about, g.code, g.reason))
	}
	g := "-"
	if len(guards) > 0 {
		g = strings.Join(guards, "; ")
	}
	fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", step, statuses(r.from), to(r.to), cell, g, r.about)
}

func statuses(ss []contactpad.Status) string {
	out := make([]string, len(ss))
	for k, s := range ss {
		out[k] = string(s)
	}
	return strings.Join(out, ", ")
}

func to(s contactpad.Status) string {
	if s == "" {
		return "(same)"
	}
	return string(s)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
