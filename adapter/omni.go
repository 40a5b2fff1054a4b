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
// AgentWork; a cold transfer is a new offer, so a new AgentWork.

// omniOffer returns the AgentWork that delivers i to a through
// Omni-Channel and marks i pushed, or nil when i is not routed through
// Omni-Channel or a has no CRM user to push to (the bridge offers it
// itself then).
func (c *change) omniOffer(i *contactpad.Interaction, a *contactpad.Agent) *contactpad.AgentWorkOffer {
	if i.Omni == nil {
		return nil
	}
	user := c.agents[a.ID].CRMUserID
	if user == "" {
		user = a.CRMUserID
	}
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
	if i.Omni == nil || slices.Contains(i.Omni.Answered, ans.WorkID) || i.Status != contactpad.Offered ||
		!i.Omni.Pushed || c.agentOfCRMUser(ans.UserID) != i.Owner {
		return nil
	}
	o := *i.Omni
	o.Answered = slices.Clone(o.Answered)
	o.Answer(ans.WorkID)
	o.Pushed = false
	i.Omni = &o
	agent := i.Owner
	switch ans.Status {
	case contactpad.AgentWorkOpened:
		before := *i
		if err := take(i, stepAcceptInOmni); err != nil {
			return err
		}
		// The org deleted the PSR: a later offer goes to the agent directly.
		o.PSRID, o.WorkID = "", ans.WorkID
		i.OfferExpiresAt, i.SkipAgent, i.TransferredFrom = nil, "", ""
		return c.save(i, before, record{actor: actorOf(agent), action: contactpad.AuditAccepted,
			category: contactpad.CategoryAccept, message: "Accepted by " + agent + " in Omni-Channel", activity: true,
			data: map[string]string{"agent_work": ans.WorkID}})
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
