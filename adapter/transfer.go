package adapter

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ctibridge/ctibridge/contactpad"
)

func (cmd StartTransfer) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepTransfer)
	if err != nil {
		return err
	}
	mode := cmd.Mode
	if mode == "" {
		mode = contactpad.Warm
	}
	if mode != contactpad.Warm && mode != contactpad.Cold {
		return &InvalidError{Field: "mode", Reason: fmt.Sprintf("unknown transfer mode %q (want warm or cold)", mode)}
	}
	if err := c.checkTransferTarget(i, cmd.Target); err != nil {
		return err
	}
	if cmd.IncludeSender && (mode != contactpad.Cold || cmd.Target.Service == "") {
		return &InvalidError{Field: "include_sender", Reason: "only a cold transfer to a service can include its sender"}
	}
	before := *i
	// The note is stored once, on the interaction: a retry without one
	// keeps the last attempt's.
	if cmd.Note != "" {
		i.TransferNote = cmd.Note
	}
	t := &contactpad.Transfer{ID: newID("trf"), InteractionID: i.ID, Mode: mode, Target: cmd.Target,
		Note: i.TransferNote, Status: contactpad.TransferInitiated, Initiator: i.Owner,
		CreatedAt: c.now, UpdatedAt: c.now}
	if mode == contactpad.Cold {
		return c.coldTransfer(i, before, t, cmd.IncludeSender, actorOf(cmd.Agent))
	}
	// The accept timeout runs from the request, delivered or not.
	expires := c.now.Add(c.s.TransferAccept)
	t.ExpiresAt = &expires
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	if err := c.tx.SetTimer(Timer{Kind: TimerTransferAccept, Ref: t.ID, DueAt: expires}); err != nil {
		return err
	}
	c.res.Transfer = t
	if err := c.save(i, before, record{actor: actorOf(cmd.Agent), action: contactpad.AuditTransferRequested, category: contactpad.CategoryTransfer,
		message: "Warm transfer to " + cmd.Target.String(), activity: true,
		data: map[string]string{"transfer": t.ID, "target": cmd.Target.String()}}); err != nil {
		return err
	}
	return c.deliverTransfer(t, i)
}

func (c *change) checkTransferTarget(i *contactpad.Interaction, target contactpad.Target) error {
	switch {
	case target.Number != "":
		return &InvalidError{Field: "target.number", Reason: "transfers go to an agent or a service; consult a number instead"}
	case (target.Agent == "") == (target.Service == ""):
		return &InvalidError{Field: "target", Reason: "set exactly one of agent or service"}
	case target.Agent == i.Owner:
		return &InvalidError{Field: "target.agent", Reason: "cannot transfer to yourself"}
	case target.Agent != "":
		if _, err := c.tx.Agent(target.Agent); errors.Is(err, ErrNotFound) {
			return &InvalidError{Field: "target.agent", Reason: fmt.Sprintf("unknown agent %q", target.Agent)}
		} else if err != nil {
			return err
		}
	case !slices.ContainsFunc(c.s.Services, func(s contactpad.Service) bool { return s.ID == target.Service }):
		return &InvalidError{Field: "target.service", Reason: fmt.Sprintf("unknown service %q", target.Service)}
	}
	return nil
}

// coldTransfer reassigns now: the initiator lets go and the interaction is
// routed to the target agent (reserved for it until it is available) or to
// the target service's queue. Routing never gives it back to the initiator
// until another agent has taken it; with includeSender, only when nobody
// else can.
func (c *change) coldTransfer(i *contactpad.Interaction, before contactpad.Interaction, t *contactpad.Transfer, includeSender bool, actor string) error {
	if err := take(i, stepTransferCold); err != nil {
		return err
	}
	now := c.now
	i.Owner, i.Held, i.QueuedAt, i.TargetAgent = "", false, &now, t.Target.Agent
	i.SkipAgent, i.TransferredFrom = "", t.Initiator
	if includeSender {
		i.SkipAgent, i.TransferredFrom = t.Initiator, ""
	}
	if t.Target.Service != "" {
		i.Service = t.Target.Service
	}
	t.Status = contactpad.TransferCompleted
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	c.res.Transfer = t
	if err := c.save(i, before, record{actor: actor, action: contactpad.AuditTransferred, category: contactpad.CategoryTransfer,
		message: "Cold transfer to " + t.Target.String(), activity: true,
		data: map[string]string{"transfer": t.ID, "from": t.Initiator, "target": t.Target.String(), "mode": "cold"}}); err != nil {
		return err
	}
	if err := c.emitTransfer(EventTransferCompleted, t); err != nil {
		return err
	}
	if err := c.routeInteraction(i); err != nil {
		return err
	}
	return c.routeAgent(t.Initiator, false)
}

// deliverTransfer hands a warm transfer request to its target when the
// target can take it now: a named agent who is available with room, or the
// first such agent of the target service other than the initiator.
// Otherwise it waits, and the target gets it when it becomes available
// (deliverTransfersTo), until the accept timeout that runs from the request.
func (c *change) deliverTransfer(t *contactpad.Transfer, i *contactpad.Interaction) error {
	a, err := c.pick(t.Target.Agent, t.Target.Service, i.Media, t.Initiator, "")
	if a == nil || err != nil {
		return err
	}
	return c.deliver(t, a.ID)
}

// deliverTransfersTo delivers the waiting warm transfers that a, now
// available with load, has room for.
func (c *change) deliverTransfersTo(a *contactpad.Agent, load contactpad.Capacity, room func(contactpad.Media) bool) error {
	waiting, err := c.tx.OpenTransfers(TransferFilter{Undelivered: true})
	if err != nil {
		return err
	}
	for _, t := range waiting {
		if t.Initiator == a.ID || (t.Target.Agent != a.ID && !a.Serves(t.Target.Service)) {
			continue
		}
		i, err := c.interaction(t.InteractionID)
		if err != nil {
			return err
		}
		if !room(i.Media) {
			continue
		}
		if err := c.deliver(t, a.ID); err != nil {
			return err
		}
		load[i.Media]++
	}
	return nil
}

func (c *change) deliver(t *contactpad.Transfer, agent string) error {
	t.Assignee, t.UpdatedAt = agent, c.now
	if err := c.omniTransfer(t); err != nil {
		return err
	}
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	return c.emitTransfer(EventTransferRequested, t)
}

// emitTransfer emits a transfer event to its initiator and assignee or target.
func (c *change) emitTransfer(typ EventType, t *contactpad.Transfer) error {
	snapshot := *t
	return c.emit(Event{Type: typ, Transfer: &snapshot, Audience: audience(t.Initiator, t.Assignee, t.Target.Agent)})
}

// transfer loads a transfer and checks that agent (if any) may take step
// on it now (CanTransfer).
func (c *change) transfer(id, agent string, step TransferStep) (*contactpad.Transfer, error) {
	t, err := c.tx.Transfer(id) // its error names the transfer
	if err != nil {
		return nil, err
	}
	if err := CanTransfer(t, step, agent); err != nil {
		return nil, err
	}
	if transfers[step].signedIn {
		if a, err := c.tx.Agent(t.Assignee); err != nil {
			return nil, err
		} else if a.Presence == contactpad.LoggedOut {
			return nil, &ConflictError{Reason: fmt.Sprintf("transfer %s: %s is logged out", t.ID, a.ID), Say: fmt.Sprintf("Log in to %s it.", step)}
		}
	}
	// The command's result is this transfer, as the command leaves it; not
	// one that routing delivers or cancels on the side.
	c.res.Transfer = t
	return t, nil
}

func (cmd AcceptTransfer) apply(c *change) error {
	t, err := c.transfer(cmd.TransferID, cmd.Agent, TransferAcceptStep)
	if err != nil {
		return err
	}
	t.Status, t.ExpiresAt, t.UpdatedAt = transfers[TransferAcceptStep].to, nil, c.now
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	if err := c.tx.ClearTimer(TimerTransferAccept, t.ID); err != nil {
		return err
	}
	return c.emitTransfer(EventTransferAccepted, t)
}

func (cmd DeclineTransfer) apply(c *change) error {
	t, err := c.transfer(cmd.TransferID, cmd.Agent, TransferDeclineStep)
	if err != nil {
		return err
	}
	t.DeclineReason = cmd.Reason
	return c.endTransfer(t, TransferDeclineStep, contactpad.FailedDeclined, actorOf(cmd.Agent), "")
}

func (cmd CancelTransfer) apply(c *change) error {
	t, err := c.transfer(cmd.TransferID, cmd.Agent, TransferCancelStep)
	if err != nil {
		return err
	}
	return c.endTransfer(t, TransferCancelStep, "", actorOf(cmd.Agent), "")
}

// endTransfer stops an open transfer along step (decline, cancel or
// timeout). The initiator keeps the interaction, and its note stays on the
// interaction for the next attempt. msg, if set, is the audit message
// instead of the step's own.
func (c *change) endTransfer(t *contactpad.Transfer, step TransferStep, reason, actor, msg string) error {
	t.Status, t.FailedReason, t.ExpiresAt, t.UpdatedAt = transfers[step].to, reason, nil, c.now
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	if err := c.tx.ClearTimer(TimerTransferAccept, t.ID); err != nil {
		return err
	}
	typ, action := EventTransferFailed, contactpad.AuditTransferFailed
	switch {
	case msg != "":
		if step == TransferCancelStep {
			typ, action = EventTransferCanceled, contactpad.AuditTransferCanceled
		}
	case step == TransferDeclineStep:
		msg = fmt.Sprintf("Transfer to %s declined by %s", t.Target.String(), t.Assignee)
		if t.DeclineReason != "" {
			msg += ": " + t.DeclineReason
		}
	case step == transferTimeoutStep:
		msg = fmt.Sprintf("Transfer to %s failed: not accepted within %s", t.Target.String(), c.s.TransferAccept)
		if t.Assignee == "" {
			msg = fmt.Sprintf("Transfer to %s failed: nobody could take it within %s", t.Target.String(), c.s.TransferAccept)
		}
	default:
		typ, action, msg = EventTransferCanceled, contactpad.AuditTransferCanceled, "Transfer to "+t.Target.String()+" canceled"
		if reason != "" {
			msg += ": interaction " + reason
		}
	}
	if err := c.emitTransfer(typ, t); err != nil {
		return err
	}
	i, err := c.interaction(t.InteractionID)
	if err != nil {
		return err
	}
	data := map[string]string{"transfer": t.ID}
	if t.FailedReason != "" {
		data["failed_reason"] = t.FailedReason
	}
	return c.audit(i, record{actor: actor, action: action, category: contactpad.CategoryTransfer, message: msg, data: data})
}

func (cmd CompleteTransfer) apply(c *change) error {
	t, err := c.transfer(cmd.TransferID, cmd.Agent, TransferCompleteStep)
	if err != nil {
		return err
	}
	i, err := c.interaction(t.InteractionID)
	if err != nil {
		return err
	}
	return c.handOver(i, *i, t, record{actor: actorOf(cmd.Agent),
		message: fmt.Sprintf("Transferred from %s to %s", t.Initiator, t.Assignee)})
}

// handOver completes the accepted warm transfer t of i, which was before:
// its assignee owns it now. r gives the audit entry's actor and message.
func (c *change) handOver(i *contactpad.Interaction, before contactpad.Interaction, t *contactpad.Transfer, r record) error {
	if err := take(i, stepHandOver); err != nil {
		return err
	}
	i.Owner, i.Held = t.Assignee, false
	t.Status, t.UpdatedAt = transfers[TransferCompleteStep].to, c.now
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	r.action, r.category, r.activity = contactpad.AuditTransferred, contactpad.CategoryTransfer, true
	data := map[string]string{"transfer": t.ID, "from": t.Initiator, "to": t.Assignee, "mode": "warm", "note": i.TransferNote}
	for k, v := range r.data {
		data[k] = v
	}
	r.data = data
	if err := c.save(i, before, r); err != nil {
		return err
	}
	if err := c.emitTransfer(EventTransferCompleted, t); err != nil {
		return err
	}
	return c.routeAgent(t.Initiator, false)
}

// cancelOpenTransfers cancels the interaction's open transfers because it
// is leaving its owner's hands (released, deferred, abandoned).
func (c *change) cancelOpenTransfers(i *contactpad.Interaction, why string) error {
	open, err := c.tx.OpenTransfers(TransferFilter{InteractionID: i.ID})
	if err != nil {
		return err
	}
	for _, t := range open {
		if err := c.endTransfer(t, TransferCancelStep, why, contactpad.ActorSystem, ""); err != nil {
			return err
		}
	}
	return nil
}
