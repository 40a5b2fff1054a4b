package adapter

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Omni-Channel external routing (mappings[].omni): the bridge routes the
// work items of a Salesforce queue routed externally with its own rules,
// and delivers each offer as an AgentWork the writer creates (a record
// write of the outbox, batched like the others). The agent answers in the
// Omni-Channel widget; the source reads the answer back (an AgentWork no
// longer Assigned) and Ingest turns it into the offer's accept, decline or
// timeout. The panel's accept and decline are refused for such an offer:
// Salesforce gives no API to answer an AgentWork for the agent. Work the
// bridge completes closes the record (its mapped status), which closes the
// AgentWork; a cold transfer is a new offer, so a new AgentWork. A warm
// transfer request goes to its assignee as an AgentWork too, answered in
// the widget: accepting it there hands the work over at once (Omni-Channel
// makes the first agent's AgentWork Transferred and the new one Opened),
// declining it or letting its push time out fails the transfer.

// omniOffer returns the AgentWork that delivers i to a through
// Omni-Channel and marks i pushed, or nil when i is not routed through
// Omni-Channel or a has no CRM user to push to (the bridge offers it
// itself then).
func (c *change) omniOffer(i *contactpad.Interaction, a *contactpad.Agent) *contactpad.AgentWorkOffer {
	if i.Omni == nil {
		return nil
	}
	user := c.crmUserOf(a)
	if user == "" {
		unpush(i)
		return nil
	}
	o := *i.Omni
	o.Pushed, o.WorkID = true, ""
	i.Omni = &o
	return &contactpad.AgentWorkOffer{ServiceChannelID: o.ServiceChannelID, WorkItemID: i.CRMID, UserID: user,
		PSRID: o.PSRID, CapacityWeight: o.CapacityWeight}
}

// crmUserOf returns a's CRM user id, as configured or as stored.
func (c *change) crmUserOf(a *contactpad.Agent) string {
	if user := c.agents[a.ID].CRMUserID; user != "" {
		return user
	}
	return a.CRMUserID
}

// omniTransfer delivers the warm transfer request t, delivered to its
// assignee now, as an AgentWork for the assignee's user when its
// interaction is routed through Omni-Channel (and the assignee has a CRM
// user): the assignee answers it in the Omni-Channel widget (AnswerIn).
// The AgentWork goes out with an audit entry of the delivery.
func (c *change) omniTransfer(t *contactpad.Transfer) error {
	i, err := c.interaction(t.InteractionID)
	if err != nil || i.Omni == nil {
		return err
	}
	a, err := c.agent(t.Assignee)
	if err != nil {
		return err
	}
	user := c.crmUserOf(a)
	if user == "" {
		return nil
	}
	t.AnswerIn = contactpad.AnswerInOmni
	return c.audit(i, record{actor: contactpad.ActorSystem, action: contactpad.AuditTransferRequested, category: contactpad.CategoryTransfer,
		message: "Transfer request delivered to " + a.ID + " through Omni-Channel",
		data:    map[string]string{"transfer": t.ID, "to": a.ID},
		agentWork: &contactpad.AgentWorkOffer{ServiceChannelID: i.Omni.ServiceChannelID, WorkItemID: i.CRMID, UserID: user,
			PSRID: i.Omni.PSRID, CapacityWeight: i.Omni.CapacityWeight}})
}

// adoptRouting takes in the PSR a record the bridge already works shows
// (it went back into the queue after its interaction ended): the next
// offer pushes it. It is saved with whatever the record's change leads to.
func adoptRouting(i *contactpad.Interaction, item *contactpad.OmniItem) {
	if item == nil || item.PSRID == "" || PushedToOmni(i) || i.Omni != nil && i.Omni.PSRID == item.PSRID {
		return
	}
	o := contactpad.OmniRouting{}
	if i.Omni != nil {
		o = *i.Omni
	}
	o.PSRID, o.ServiceChannelID, o.CapacityWeight, o.WorkID = item.PSRID, item.ServiceChannelID, item.CapacityWeight, ""
	i.Omni = &o
}

// unpush records that i's offer, if any, is no AgentWork out in
// Omni-Channel any longer.
func unpush(i *contactpad.Interaction) {
	if PushedToOmni(i) {
		o := *i.Omni
		o.Pushed = false
		i.Omni = &o
	}
}

// PushedToOmni reports whether i's current offer is an AgentWork, which
// the agent answers in Omni-Channel (the API tells the panel so).
func PushedToOmni(i *contactpad.Interaction) bool { return i.Omni != nil && i.Omni.Pushed }

// omniAnswer takes in an AgentWork answered in Omni-Channel: the offer of
// the interaction of its work item to the AgentWork's user is accepted,
// declined or timed out. An answer already taken in, of an older offer or
// of another agent's changes nothing.
func (c *change) omniAnswer(item contactpad.WorkItem) error {
	ans := item.Omni.Answer
	i, err := c.tx.InteractionByCRM(item.CRMObject, item.CRMID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.res.Interaction = i
	if i.Omni == nil || slices.Contains(i.Omni.Answered, ans.WorkID) {
		return nil
	}
	t, err := c.omniTransferOf(i, ans.UserID)
	if err != nil {
		return err
	}
	if t != nil {
		return c.omniTransferAnswer(i, t, ans)
	}
	agent := c.agentOfCRMUser(ans.UserID)
	offered := i.Status == contactpad.Offered && i.Omni.Pushed && agent == i.Owner
	if agent != "" && ans.Status == contactpad.AgentWorkOpened &&
		(offered || i.Status == contactpad.Queued || i.Status == contactpad.Offered && agent != i.Owner) {
		return c.acceptedInOmni(i, agent, ans)
	}
	if i.Status == contactpad.Queued && waitsForOmni(i.Omni) {
		// Omni-Channel let an AgentWork of it go (declined, timed out):
		// its PSR waits again, and routing may offer it.
		before := *i
		takeAnswer(i, ans.WorkID)
		if err := c.save(i, before, record{}); err != nil {
			return err
		}
		return c.routeInteraction(i)
	}
	if !offered {
		return nil
	}
	takeAnswer(i, ans.WorkID).Pushed = false
	switch ans.Status {
	case contactpad.AgentWorkDeclined:
		if err := c.requeueOffer(i, stepDeclineInOmni, record{actor: actorOf(agent), action: contactpad.AuditDeclined,
			category: contactpad.CategoryRouting, message: "Declined by " + agent + " in Omni-Channel",
			data: map[string]string{"agent_work": ans.WorkID}}); err != nil {
			return err
		}
		return c.routeAgent(agent, true)
	case contactpad.AgentWorkPushTimeout, contactpad.AgentWorkUnavailable:
		why := "not answered in time"
		if ans.Status == contactpad.AgentWorkUnavailable {
			why = "the agent was unavailable"
		}
		if err := c.requeueOffer(i, stepDeclineInOmni, record{actor: contactpad.ActorSystem, action: contactpad.AuditOfferTimeout,
			category: contactpad.CategoryRouting, message: fmt.Sprintf("Omni-Channel: %s by %s", why, agent),
			data: map[string]string{"agent_work": ans.WorkID}}); err != nil {
			return err
		}
		a, err := c.agent(agent)
		if err != nil || c.s.PushTimeoutPresence == "" || c.s.PushTimeoutPresence == a.Presence {
			return err
		}
		return c.setPresence(a, c.s.PushTimeoutPresence)
	}
	return nil
}

// omniTransferOf returns the open warm transfer request of i delivered
// through Omni-Channel to the agent of CRM user, or nil.
func (c *change) omniTransferOf(i *contactpad.Interaction, user string) (*contactpad.Transfer, error) {
	agent := c.agentOfCRMUser(user)
	if agent == "" {
		return nil, nil
	}
	open, err := c.tx.OpenTransfers(TransferFilter{InteractionID: i.ID})
	if err != nil {
		return nil, err
	}
	for _, t := range open {
		if t.AnswerIn == contactpad.AnswerInOmni && t.Assignee == agent && t.Status == contactpad.TransferInitiated {
			return t, nil
		}
	}
	return nil, nil
}

// omniTransferAnswer takes in the answer, in Omni-Channel, of the warm
// transfer request t of i: accepted, Omni-Channel has handed the work over
// (the assignee's AgentWork is Opened, the initiator's Transferred), and
// so does the bridge; declined or not answered in time, the transfer
// fails and the initiator keeps the work.
func (c *change) omniTransferAnswer(i *contactpad.Interaction, t *contactpad.Transfer, ans *contactpad.AgentWorkAnswer) error {
	c.res.Transfer = t
	agent := t.Assignee
	data := map[string]string{"agent_work": ans.WorkID}
	// The answer is taken in once: the poll may read it again.
	before := *i
	o := takeAnswer(i, ans.WorkID)
	if ans.Status != contactpad.AgentWorkOpened {
		if err := c.save(i, before, record{}); err != nil {
			return err
		}
	}
	switch ans.Status {
	case contactpad.AgentWorkOpened:
		// The org deleted the PSR, if any: a later offer goes to the agent directly.
		o.PSRID, o.WorkID, o.Pushed = "", ans.WorkID, false
		t.Status, t.ExpiresAt, t.UpdatedAt = transfers[TransferAcceptStep].to, nil, c.now
		if err := c.tx.ClearTimer(TimerTransferAccept, t.ID); err != nil {
			return err
		}
		if err := c.emitTransfer(EventTransferAccepted, t); err != nil {
			return err
		}
		return c.handOver(i, before, t, record{actor: actorOf(agent), data: data,
			message: fmt.Sprintf("Transferred from %s to %s: accepted by %s in Omni-Channel", t.Initiator, agent, agent)})
	case contactpad.AgentWorkDeclined:
		return c.endTransfer(t, TransferDeclineStep, contactpad.FailedDeclined, actorOf(agent),
			fmt.Sprintf("Transfer to %s declined by %s in Omni-Channel", t.Target.String(), agent))
	case contactpad.AgentWorkPushTimeout, contactpad.AgentWorkUnavailable:
		why := "not answered in time"
		if ans.Status == contactpad.AgentWorkUnavailable {
			why = agent + " was unavailable"
		}
		return c.endTransfer(t, transferTimeoutStep, contactpad.FailedTimeout, contactpad.ActorSystem,
			fmt.Sprintf("Transfer to %s failed in Omni-Channel: %s", t.Target.String(), why))
	}
	return nil
}

// acceptedInOmni takes in an AgentWork of i that agent accepted in
// Omni-Channel: the offer to agent, or, while the bridge had i queued or
// offered to another agent, an AgentWork it created earlier and still out
// there. Salesforce gave agent the work, so the bridge connects it to
// agent, and another agent it was offered to gets its room back.
func (c *change) acceptedInOmni(i *contactpad.Interaction, agent string, ans *contactpad.AgentWorkAnswer) error {
	before := *i
	if err := take(i, stepAcceptInOmni); err != nil {
		return err
	}
	o := takeAnswer(i, ans.WorkID)
	// The org deleted the PSR: a later offer goes to the agent directly.
	o.PSRID, o.WorkID, o.Pushed = "", ans.WorkID, false
	i.Owner, i.OfferExpiresAt, i.QueuedAt, i.TargetAgent, i.SkipAgent, i.TransferredFrom = agent, nil, nil, "", "", ""
	if err := c.save(i, before, record{actor: actorOf(agent), action: contactpad.AuditAccepted,
		category: contactpad.CategoryAccept, message: "Accepted by " + agent + " in Omni-Channel", activity: true,
		data: map[string]string{"agent_work": ans.WorkID}}); err != nil {
		return err
	}
	if before.Status != contactpad.Offered || before.Owner == agent {
		return nil
	}
	return c.routeAgent(before.Owner, false)
}

// takeAnswer records on i that the answer of AgentWork workID was taken
// in (so that reading it again changes nothing) and that Omni-Channel
// works for it (OmniRouting.Refused), and returns i's routing to go on
// changing.
func takeAnswer(i *contactpad.Interaction, workID string) *contactpad.OmniRouting {
	o := *i.Omni
	o.Answered = slices.Clone(o.Answered)
	o.Answer(workID)
	o.Refused = 0
	i.Omni = &o
	return &o
}
