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
	return c.requeueOffer(i, stepOmniRefused, record{actor: contactpad.ActorSystem, action: contactpad.AuditRequeued,
		category: contactpad.CategoryRouting, message: fmt.Sprintf("Omni-Channel refused the AgentWork for %s: %s", agent, cmd.Code),
		data: map[string]string{"code": cmd.Code}})
}
