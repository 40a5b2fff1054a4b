package adapter

import (
	"errors"
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// routeBatch bounds how many queued interactions one routing pass looks at
// for one agent.
const routeBatch = 32

func (cmd SyncAgents) apply(c *change) error {
	for _, want := range cmd.Agents {
		a := want
		if got, err := c.tx.Agent(want.ID); err == nil {
			a.Presence, a.PresenceAt, a.LastOfferAt = got.Presence, got.PresenceAt, got.LastOfferAt
		} else if errors.Is(err, ErrNotFound) {
			a.Presence, a.PresenceAt = contactpad.LoggedOut, c.now
		} else {
			return err
		}
		a.Services = nonNil(a.Services)
		if err := c.tx.PutAgent(&a); err != nil {
			return fmt.Errorf("sync agent %s: %w", a.ID, err)
		}
	}
	// At start (or with new services and capacity), the agents who are
	// available take the work that waited for them.
	for _, a := range cmd.Agents {
		if err := c.routeAgent(a.ID, false); err != nil {
			return err
		}
	}
	return nil
}

func (cmd SetPresence) apply(c *change) error {
	if _, err := contactpad.ParsePresence(string(cmd.Presence)); err != nil {
		return &InvalidError{Field: "presence", Reason: err.Error()}
	}
	if c.s.PresenceSource != "" && cmd.Agent != "" {
		return &PresenceFollowsCRMError{Source: c.s.PresenceSource, CRMName: c.crmName()}
	}
	a, err := c.agent(cmd.Agent)
	if err != nil {
		return err
	}
	return c.setPresence(a, cmd.Presence)
}

// setPresence changes a's presence and does what follows: an agent who
// logs out gives its pending offers back to routing; an available agent is
// routed work and the transfers waiting for it.
func (c *change) setPresence(a *contactpad.Agent, p contactpad.Presence) error {
	return c.changePresence(a, p, AgentPresence{}, false)
}

// changePresence is setPresence with the event's origin: origin's Source,
// CRMStatus and BusyMedia go in the agent.presence event, which is
// emitted when the presence changes or, with changed, whatever it is
// (FollowPresence changed the agent's busy media types).
func (c *change) changePresence(a *contactpad.Agent, p contactpad.Presence, origin AgentPresence, changed bool) error {
	if a.Presence != p || changed {
		if a.Presence != p {
			a.Presence, a.PresenceAt = p, c.now
		}
		if err := c.tx.PutAgent(a); err != nil {
			return err
		}
		snapshot := *a
		c.res.Agent = &snapshot
		origin.ID, origin.Presence = a.ID, p
		if err := c.emit(Event{Type: EventAgentPresence, Agent: &origin, Audience: []string{a.ID}}); err != nil {
			return err
		}
	}
	if c.res.Agent == nil {
		snapshot := *a
		c.res.Agent = &snapshot
	}
	if p == contactpad.LoggedOut {
		if err := c.endRingingConsults(a.ID); err != nil {
			return err
		}
		offers, err := c.tx.Interactions(InteractionFilter{Owner: a.ID, Statuses: []contactpad.Status{contactpad.Offered}})
		if err != nil {
			return err
		}
		for _, i := range offers {
			if PushedToOmni(i) {
				// Omni-Channel has it as an AgentWork, which Salesforce's
				// external routing gives the router no way to take back (and
				// while it is out, Salesforce refuses another for the same
				// PSR): the agent's answer there, or its push timeout, ends it.
				continue
			}
			if err := c.requeueOffer(i, stepRequeueOffer, record{actor: contactpad.ActorSystem, action: contactpad.AuditRequeued,
				category: contactpad.CategoryRouting, message: fmt.Sprintf("Offer withdrawn: %s logged out", a.ID)}); err != nil {
				return err
			}
		}
	}
	// An agent who says it is ready again may be offered the work it
	// declined or missed before.
	return c.routeAgent(a.ID, p != contactpad.Available)
}

// requeueOffer takes an offered interaction back from its agent and routes
// it to someone else.
func (c *change) requeueOffer(i *contactpad.Interaction, s Step, r record) error {
	before := *i
	if err := take(i, s); err != nil {
		return err
	}
	now := c.now
	i.SkipAgent, i.Owner, i.OfferExpiresAt = before.Owner, "", nil
	if i.QueuedAt == nil {
		i.QueuedAt = &now
	}
	unpush(i)
	if err := c.save(i, before, r); err != nil {
		return err
	}
	return c.routeInteraction(i)
}

// routeInteraction offers a queued interaction to the best agent with room
// for it: its reserved target agent if any, else the available agent of its
// service who has waited longest for work. With nobody free it stays queued.
func (c *change) routeInteraction(i *contactpad.Interaction) error {
	if i.Status != contactpad.Queued || waitsForOmni(i.Omni) {
		return nil
	}
	a, err := c.pick(i.TargetAgent, i.Service, i.Media, i.SkipAgent, i.TransferredFrom)
	if a == nil || err != nil {
		return err
	}
	return c.offer(i, a)
}

// pick chooses who gets work of media now: the named agent if it is
// available with room, else (with no agent named) the available agent of
// service with room who has waited longest for work, other than skip and
// sender. It returns nil when nobody can take it now.
func (c *change) pick(agent, service string, media contactpad.Media, skip, sender string) (*contactpad.Agent, error) {
	if agent != "" {
		a, err := c.agent(agent)
		if err != nil || !a.Presence.Routable() {
			return nil, err
		}
		load, err := c.tx.Load(a.ID)
		if err != nil || !c.hasRoom(a, load, media) {
			return nil, err
		}
		return a, nil
	}
	// The store applies hasRoom's rule in its query (Tx.Candidate).
	a, err := c.tx.Candidate(CandidateQuery{Service: service, Media: media, Skip: skip, Sender: sender, Idle: c.s.ReleaseAllBeforeNext})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return a, err
}

// routeAgent delivers an available agent the warm transfers waiting for
// it, then offers it the queued work it has room for, reserved work
// first, then by priority and wait time. With honourSkip, it passes over work the
// agent has just declined or missed. Under release_all_before_next, an
// agent who holds nothing is given the next interactions up to its
// capacity in this pass.
func (c *change) routeAgent(agentID string, honourSkip bool) error {
	a, err := c.agent(agentID)
	if err != nil {
		return err
	}
	if !a.Presence.Routable() {
		return nil
	}
	load, err := c.tx.Load(a.ID)
	if err != nil {
		return err
	}
	fresh := c.s.ReleaseAllBeforeNext && idle(load)
	room := func(m contactpad.Media) bool {
		if fresh {
			return load[m] < a.Capacity[m]
		}
		return c.hasRoom(a, load, m)
	}
	// Transfers waiting for this agent come first: a colleague is handing
	// a customer over, and queued work would fill the agent's room until
	// the transfer times out.
	if err := c.deliverTransfersTo(a, load, room); err != nil {
		return err
	}
	for {
		var media []contactpad.Media
		for _, m := range contactpad.Medias {
			if room(m) {
				media = append(media, m)
			}
		}
		if len(media) == 0 {
			break
		}
		queued, err := c.tx.Queued(QueuedQuery{Agent: a.ID, Services: a.Services, Media: media, Skip: honourSkip, Limit: routeBatch})
		if err != nil {
			return err
		}
		offered := 0
		for _, i := range queued {
			if !room(i.Media) || waitsForOmni(i.Omni) {
				continue
			}
			if err := c.offer(i, a); err != nil {
				return err
			}
			load[i.Media]++
			offered++
		}
		// A full batch that made progress may hide more work the agent has
		// room for; offered work leaves the queue, so the next read moves on.
		if len(queued) < routeBatch || offered == 0 {
			break
		}
	}
	return nil
}

// idle reports whether load holds nothing.
func idle(load contactpad.Capacity) bool {
	for _, n := range load {
		if n > 0 {
			return false
		}
	}
	return true
}

// offer gives i to a: connected at once when its media auto-accepts, else
// offered until a answers or the push timeout expires.
func (c *change) offer(i *contactpad.Interaction, a *contactpad.Agent) error {
	before := *i
	r := record{actor: contactpad.ActorSystem, category: contactpad.CategoryRouting, data: map[string]string{"agent": a.ID}}
	if work := c.omniOffer(i, a); work != nil {
		// Omni-Channel delivers it: the agent answers there, where the
		// push also times out (no offer timer here).
		if err := take(i, stepOffer); err != nil {
			return err
		}
		i.OfferExpiresAt, r.agentWork = nil, work
		r.action, r.message, r.event = contactpad.AuditOffered, "Offered to "+a.ID+" through Omni-Channel", EventInteractionOffered
	} else if c.s.AutoAccept[i.Media] {
		if err := take(i, stepAssign); err != nil {
			return err
		}
		r.action, r.message = contactpad.AuditAssigned, "Assigned to "+a.ID
	} else {
		if err := take(i, stepOffer); err != nil {
			return err
		}
		expires := c.now.Add(c.s.PushTimeout)
		i.OfferExpiresAt = &expires
		r.action, r.message, r.event = contactpad.AuditOffered, "Offered to "+a.ID, EventInteractionOffered
	}
	if c.routed != nil && i.QueuedAt != nil {
		c.routed = append(c.routed, c.now.Sub(*i.QueuedAt).Seconds())
	}
	// An offer keeps when the work was queued: the customer still waits,
	// and work the offer goes back to the queue from keeps its place.
	i.Owner, i.TargetAgent = a.ID, ""
	if i.Status == contactpad.Connected {
		i.SkipAgent, i.TransferredFrom, i.QueuedAt = "", "", nil
	}
	a.LastOfferAt = c.now
	if err := c.tx.PutAgent(a); err != nil {
		return err
	}
	return c.save(i, before, r)
}

func (cmd Accept) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepAccept)
	if err != nil {
		return err
	}
	before := *i
	if err := take(i, StepAccept); err != nil {
		return err
	}
	i.OfferExpiresAt, i.SkipAgent, i.TransferredFrom, i.QueuedAt = nil, "", "", nil
	return c.save(i, before, record{actor: actorOf(cmd.Agent), action: contactpad.AuditAccepted, category: contactpad.CategoryAccept,
		message: "Accepted by " + i.Owner, activity: true})
}

func (cmd Decline) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepDecline)
	if err != nil {
		return err
	}
	agent := i.Owner
	msg := "Declined by " + agent
	if cmd.Reason != "" {
		msg += ": " + cmd.Reason
	}
	r := record{actor: actorOf(cmd.Agent), action: contactpad.AuditDeclined, category: contactpad.CategoryRouting,
		message: msg, data: map[string]string{"reason": cmd.Reason}}
	if err := c.requeueOffer(i, StepDecline, r); err != nil {
		return err
	}
	return c.routeAgent(agent, true)
}

// offerTimedOut returns an unanswered offer to the queue and changes the
// agent's presence as configured.
//
// A timeout that fires more than lateOffer late was the bridge's doing,
// not the agent's (it could not take their answer): the work goes to the
// next agent all the same, but the agent's presence stays.
func (c *change) offerTimedOut(i *contactpad.Interaction, late time.Duration) error {
	agent := i.Owner
	msg := fmt.Sprintf("Not answered by %s within %s", agent, c.s.PushTimeout)
	if late > lateOffer {
		msg += fmt.Sprintf(": the bridge could not take answers for %s", late.Round(time.Second))
	}
	if err := c.requeueOffer(i, stepOfferTimeout, record{actor: contactpad.ActorSystem, action: contactpad.AuditOfferTimeout,
		category: contactpad.CategoryRouting, message: msg}); err != nil {
		return err
	}
	a, err := c.agent(agent)
	if err != nil {
		return err
	}
	if c.s.PushTimeoutPresence == "" || c.s.PushTimeoutPresence == a.Presence || late > lateOffer {
		return nil
	}
	return c.setPresence(a, c.s.PushTimeoutPresence)
}
