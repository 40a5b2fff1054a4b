package adapter

import (
	"errors"
	"fmt"

	"github.com/ctibridge/ctibridge/contactpad"
)

// OmniRefused takes in an offer that never reached Omni-Channel: the
// writer gave up on creating its AgentWork for the CRM user UserID (the
// org refused it for good, or it failed SyncOptions.MaxAttempts times;
// its outbox row is parked with Code). Omni-Channel times out only the
// AgentWork it has, and the bridge arms no offer timer of its own for a
// pushed offer, so without this the work would stay offered forever. If
// the interaction is still offered, pushed, to that user's agent, the
// offer is taken back like an Omni-Channel push timeout (without
// routing.push_timeout_presence: the agent missed nothing) and routed
// again, passing over that agent. Otherwise the offer has moved on and it
// changes nothing. The writer sends it (Engine.RunWriteback).
type OmniRefused struct {
	InteractionID, UserID, Code string
}

func (cmd OmniRefused) apply(c *change) error {
	i, err := c.tx.Interaction(cmd.InteractionID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.res.Interaction = i
	agent := c.agentOfCRMUser(cmd.UserID)
	if i.Status != contactpad.Offered || !PushedToOmni(i) || agent == "" || agent != i.Owner {
		return nil
	}
	o := *i.Omni
	o.Refused++
	i.Omni = &o
	msg := fmt.Sprintf("Omni-Channel refused the AgentWork for %s: %s", agent, cmd.Code)
	if waitsForOmni(&o) {
		msg += fmt.Sprintf(" (%d in a row: it waits until Omni-Channel answers an AgentWork of it or the record changes)", o.Refused)
	}
	return c.requeueOffer(i, stepOmniRefused, record{actor: contactpad.ActorSystem, action: contactpad.AuditRequeued,
		category: contactpad.CategoryRouting, message: msg, data: map[string]string{"code": cmd.Code}})
}

// maxOmniRefusals is how many AgentWork of one work item the CRM may
// refuse in a row before routing stops offering it. While an AgentWork
// is still out for its PSR, Salesforce refuses every other one; a
// refusal for another reason (a validation rule, say) may hold for every
// agent. Either way, offering it to agent after agent would only spend
// API calls: the work waits for Omni-Channel instead.
const maxOmniRefusals = 3

// waitsForOmni reports whether routing passes over work routed through
// Omni-Channel whose AgentWork the CRM refused too often in a row. An
// answer of an AgentWork of it read back, its PSR seen waiting, or its
// owner changed in the CRM lifts that.
func waitsForOmni(o *contactpad.OmniRouting) bool {
	return o != nil && o.Refused >= maxOmniRefusals
}

// freeInOmni lifts waitsForOmni: Omni-Channel showed the work item free
// (or gave it to someone).
func freeInOmni(i *contactpad.Interaction) {
	if i.Omni != nil && i.Omni.Refused > 0 {
		o := *i.Omni
		o.Refused = 0
		i.Omni = &o
	}
}
