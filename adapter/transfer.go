package adapter

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ctibridge/ctibridge/contactpad"
)

func (cmd StartTransfer) apply(c *change) error {
	i, err := c.owned(cmd.ID, cmd.Agent, contactpad.ActionTransfer)
	if err != nil {
		return err
	}
	if i.Status != contactpad.Connected {
		return &TransitionError{Object: "interaction", ID: i.ID, Action: "transfer", State: string(i.Status)}
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
	open, err := c.tx.OpenTransfers(TransferFilter{InteractionID: i.ID})
	if err != nil {
		return err
	}
	if len(open) > 0 {
		return &ConflictError{Reason: fmt.Sprintf("interaction %s already has transfer %s in progress", i.ID, open[0].ID)}
	}
	t := &contactpad.Transfer{ID: newID("trf"), InteractionID: i.ID, Mode: mode, Target: cmd.Target,
		Note: cmd.Note, Status: contactpad.TransferInitiated, Initiator: i.Owner, CreatedAt: c.now, UpdatedAt: c.now}
	before := *i
	if cmd.Note != "" {
		i.TransferNote = cmd.Note
	}
	if mode == contactpad.Cold {
		return c.coldTransfer(i, before, t, actorOf(cmd.Agent))
	}
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	c.res.Transfer = t
	if err := c.save(i, before, record{actor: actorOf(cmd.Agent), action: "transfer_requested", category: "transfer",
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
// the target service's queue.
func (c *change) coldTransfer(i *contactpad.Interaction, before contactpad.Interaction, t *contactpad.Transfer, actor string) error {
	if err := take(i, stepTransferCold, "transfer"); err != nil {
		return err
	}
	now := c.now
	i.Owner, i.Held, i.QueuedAt, i.SkipAgent, i.TargetAgent = "", false, &now, "", t.Target.Agent
	if t.Target.Service != "" {
		i.Service = t.Target.Service
	}
	t.Status = contactpad.TransferCompleted
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	c.res.Transfer = t
	if err := c.save(i, before, record{actor: actor, action: "transferred", category: "transfer",
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
// first such agent of the target service. Otherwise it waits, and the
// target gets it when it becomes available (deliverTransfersTo). The accept
// timeout runs from delivery.
func (c *change) deliverTransfer(t *contactpad.Transfer, i *contactpad.Interaction) error {
	a, err := c.pick(t.Target.Agent, t.Target.Service, i.Media, t.Initiator)
	if a == nil || err != nil {
		return err
	}
	return c.deliver(t, a.ID)
}

// deliverTransfersTo delivers the waiting warm transfers that a, now
// available with load, can take.
func (c *change) deliverTransfersTo(a *contactpad.Agent, load contactpad.Capacity) error {
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
		if !c.hasRoom(a, load, i.Media) {
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
	expires := c.now.Add(c.s.TransferAccept)
	t.Assignee, t.ExpiresAt, t.UpdatedAt = agent, &expires, c.now
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	if err := c.tx.SetTimer(Timer{Kind: TimerTransferAccept, Ref: t.ID, DueAt: expires}); err != nil {
		return err
	}
	return c.emitTransfer(EventTransferRequested, t)
}

// emitTransfer emits a transfer event to its initiator and assignee or target.
func (c *change) emitTransfer(typ EventType, t *contactpad.Transfer) error {
	snapshot := *t
	return c.emit(Event{Type: typ, Transfer: &snapshot, Audience: audience(t.Initiator, t.Assignee, t.Target.Agent)})
}

// transfer loads a transfer that agent (if any) must be party to as who.
func (c *change) transfer(id, agent string, who func(*contactpad.Transfer) string) (*contactpad.Transfer, error) {
	t, err := c.tx.Transfer(id)
	if err != nil {
		return nil, fmt.Errorf("transfer %s: %w", id, err)
	}
	if agent != "" && who(t) != agent {
		return nil, fmt.Errorf("transfer %s is not addressed to %s: %w", id, agent, ErrForbidden)
	}
	// The command's result is this transfer, as the command leaves it; not
	// one that routing delivers or cancels on the side.
	c.res.Transfer = t
	return t, nil
}

func assignee(t *contactpad.Transfer) string  { return t.Assignee }
func initiator(t *contactpad.Transfer) string { return t.Initiator }

func transferStateError(t *contactpad.Transfer, action string) error {
	state := string(t.Status)
	if t.Status == contactpad.TransferInitiated && t.Assignee == "" {
		state = "initiated (not delivered yet)"
	}
	return &TransitionError{Object: "transfer", ID: t.ID, Action: action, State: state}
}

func (cmd AcceptTransfer) apply(c *change) error {
	t, err := c.transfer(cmd.TransferID, cmd.Agent, assignee)
	if err != nil {
		return err
	}
	if t.Status != contactpad.TransferInitiated || t.Assignee == "" {
		return transferStateError(t, "accept")
	}
	t.Status, t.ExpiresAt, t.UpdatedAt = contactpad.TransferAccepted, nil, c.now
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	if err := c.tx.ClearTimer(TimerTransferAccept, t.ID); err != nil {
		return err
	}
	return c.emitTransfer(EventTransferAccepted, t)
}

func (cmd DeclineTransfer) apply(c *change) error {
	t, err := c.transfer(cmd.TransferID, cmd.Agent, assignee)
	if err != nil {
		return err
	}
	if t.Status != contactpad.TransferInitiated || t.Assignee == "" {
		return transferStateError(t, "decline")
	}
	t.DeclineReason = cmd.Reason
	return c.endTransfer(t, contactpad.TransferFailed, contactpad.FailedDeclined, actorOf(cmd.Agent))
}

func (cmd CancelTransfer) apply(c *change) error {
	t, err := c.transfer(cmd.TransferID, cmd.Agent, initiator)
	if err != nil {
		return err
	}
	if !t.Status.Open() {
		return transferStateError(t, "cancel")
	}
	return c.endTransfer(t, contactpad.TransferCanceled, "", actorOf(cmd.Agent))
}

// endTransfer stops an open transfer. The initiator keeps the interaction,
// and its note stays on the interaction for the next attempt.
func (c *change) endTransfer(t *contactpad.Transfer, status contactpad.TransferStatus, reason, actor string) error {
	t.Status, t.FailedReason, t.ExpiresAt, t.UpdatedAt = status, reason, nil, c.now
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	if err := c.tx.ClearTimer(TimerTransferAccept, t.ID); err != nil {
		return err
	}
	typ, action, msg := EventTransferFailed, "transfer_failed", "Transfer to "+t.Target.String()+" failed: "+reason
	if status == contactpad.TransferCanceled {
		typ, action, msg = EventTransferCanceled, "transfer_canceled", "Transfer to "+t.Target.String()+" canceled"
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
	if reason != "" {
		data["failed_reason"] = reason
	}
	return c.audit(i, record{actor: actor, action: action, category: "transfer", message: msg, data: data})
}

func (cmd CompleteTransfer) apply(c *change) error {
	t, err := c.transfer(cmd.TransferID, cmd.Agent, initiator)
	if err != nil {
		return err
	}
	if t.Status != contactpad.TransferAccepted {
		return transferStateError(t, "complete")
	}
	i, err := c.interaction(t.InteractionID)
	if err != nil {
		return err
	}
	before := *i
	if err := take(i, stepTransferWarm, "complete transfer of"); err != nil {
		return err
	}
	i.Owner, i.Held = t.Assignee, false
	t.Status, t.UpdatedAt = contactpad.TransferCompleted, c.now
	if err := c.tx.PutTransfer(t); err != nil {
		return err
	}
	if err := c.save(i, before, record{actor: actorOf(cmd.Agent), action: "transferred", category: "transfer",
		message: fmt.Sprintf("Transferred from %s to %s", t.Initiator, t.Assignee), activity: true,
		data: map[string]string{"transfer": t.ID, "from": t.Initiator, "to": t.Assignee, "mode": "warm", "note": t.Note}}); err != nil {
		return err
	}
	if err := c.emitTransfer(EventTransferCompleted, t); err != nil {
		return err
	}
	return c.routeAgent(t.Initiator, false)
}

// transferTimedOut fails a delivered warm transfer nobody accepted in time.
func (c *change) transferTimedOut(t *contactpad.Transfer) error {
	return c.endTransfer(t, contactpad.TransferFailed, contactpad.FailedTimeout, actorSystem)
}

// cancelOpenTransfers cancels the interaction's open transfers because it
// is leaving its owner's hands (released, deferred, abandoned).
func (c *change) cancelOpenTransfers(i *contactpad.Interaction, why string) error {
	open, err := c.tx.OpenTransfers(TransferFilter{InteractionID: i.ID})
	if err != nil {
		return err
	}
	for _, t := range open {
		if err := c.endTransfer(t, contactpad.TransferCanceled, why, actorSystem); err != nil {
			return err
		}
	}
	return nil
}
