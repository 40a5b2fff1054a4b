package adapter

import (
	"fmt"

	"github.com/ctibridge/ctibridge/contactpad"
)

func (cmd Hold) apply(c *change) error {
	return c.setHeld(cmd.ID, cmd.Agent, contactpad.ActionHold, stepHold, "held", true)
}

func (cmd Retrieve) apply(c *change) error {
	return c.setHeld(cmd.ID, cmd.Agent, contactpad.ActionRetrieve, stepRetrieve, "retrieved", false)
}

func (c *change) setHeld(id, agent string, action contactpad.Action, s step, done string, held bool) error {
	i, err := c.owned(id, agent, action)
	if err != nil {
		return err
	}
	if i.Held == held && i.Status == contactpad.Connected {
		state := "connected (not held)"
		if held {
			state = "connected (held)"
		}
		return &TransitionError{Object: "interaction", ID: i.ID, Action: string(action), State: state}
	}
	before := *i
	if err := take(i, s, string(action)); err != nil {
		return err
	}
	i.Held = held
	return c.save(i, before, record{actor: actorOf(agent), action: done, category: "hold", activity: true})
}

func (cmd Release) apply(c *change) error {
	i, err := c.owned(cmd.ID, cmd.Agent, contactpad.ActionRelease)
	if err != nil {
		return err
	}
	before := *i
	if err := take(i, stepRelease, "release"); err != nil {
		return err
	}
	if err := c.cancelOpenTransfers(i, "released"); err != nil {
		return err
	}
	i.Held = false
	r := record{actor: actorOf(cmd.Agent), action: "released", category: "release", activity: true}
	wrap := c.s.WrapUp[i.Media]
	if wrap <= 0 {
		// No wrap-up configured for this media type: done at once.
		if err := take(i, stepComplete, "release"); err != nil {
			return err
		}
		i.ResumedFrom = ""
		if err := c.save(i, before, r); err != nil {
			return err
		}
		return c.routeAgent(i.Owner, false)
	}
	ends := c.now.Add(wrap)
	i.WrapUpEndsAt, i.WrapUpExtended = &ends, 0
	return c.save(i, before, r)
}

func (cmd ExtendWrapUp) apply(c *change) error {
	i, err := c.owned(cmd.ID, cmd.Agent, "")
	if err != nil {
		return err
	}
	if i.Status != contactpad.WrapUp {
		return &TransitionError{Object: "interaction", ID: i.ID, Action: "extend wrap-up of", State: string(i.Status)}
	}
	if i.WrapUpExtended >= c.s.WrapUpMaxExtensions {
		return &ConflictError{Reason: fmt.Sprintf("interaction %s: no wrap-up extension left (%d of %d used)",
			i.ID, i.WrapUpExtended, c.s.WrapUpMaxExtensions)}
	}
	before := *i
	ends := i.WrapUpEndsAt.Add(c.s.WrapUp[i.Media])
	i.WrapUpEndsAt = &ends
	i.WrapUpExtended++
	return c.save(i, before, record{actor: actorOf(cmd.Agent), action: "wrap_up_extended", category: "wrap_up",
		activity: true, data: map[string]string{"ends_at": ends.UTC().Format(timeFormat)}})
}

func (cmd FinishWrapUp) apply(c *change) error {
	i, err := c.owned(cmd.ID, cmd.Agent, "")
	if err != nil {
		return err
	}
	return c.completeWrapUp(i, record{actor: actorOf(cmd.Agent), action: "completed", category: "wrap_up",
		message: "Wrap-up finished", activity: true})
}

// completeWrapUp ends wrap-up: the interaction is completed and its owner's
// capacity is free for the next one.
func (c *change) completeWrapUp(i *contactpad.Interaction, r record) error {
	before := *i
	if err := take(i, stepComplete, "finish wrap-up of"); err != nil {
		return err
	}
	i.WrapUpEndsAt, i.ResumedFrom = nil, ""
	if err := c.save(i, before, r); err != nil {
		return err
	}
	return c.routeAgent(i.Owner, false)
}

func (cmd Abandon) apply(c *change) error {
	i, err := c.owned(cmd.ID, cmd.Agent, contactpad.ActionAbandon)
	if err != nil {
		return err
	}
	if !cmd.Confirm {
		return ErrConfirmRequired
	}
	before := *i
	if err := take(i, stepAbandon, "abandon"); err != nil {
		return err
	}
	if err := c.cancelOpenTransfers(i, "abandoned"); err != nil {
		return err
	}
	i.Held, i.WrapUpEndsAt, i.ResumedFrom = false, nil, ""
	if err := c.save(i, before, record{actor: actorOf(cmd.Agent), action: "abandoned", category: "abandon",
		activity: true, data: map[string]string{"reason": cmd.Reason}}); err != nil {
		return err
	}
	return c.routeAgent(i.Owner, false)
}
