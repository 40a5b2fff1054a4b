package adapter

import (
	"fmt"

	"github.com/ctibridge/ctibridge/contactpad"
)

func (cmd Hold) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepHold)
	if err != nil {
		return err
	}
	before := *i
	i.Held = true
	return c.save(i, before, record{actor: actorOf(cmd.Agent), action: contactpad.AuditHeld, category: contactpad.CategoryHold,
		message: "Put on hold by " + actorOf(cmd.Agent), activity: true})
}

func (cmd Retrieve) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepRetrieve)
	if err != nil {
		return err
	}
	before := *i
	i.Held = false
	return c.save(i, before, record{actor: actorOf(cmd.Agent), action: contactpad.AuditRetrieved, category: contactpad.CategoryHold,
		message: "Taken off hold by " + actorOf(cmd.Agent), activity: true})
}

func (cmd Release) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepRelease)
	if err != nil {
		return err
	}
	before := *i
	if err := take(i, StepRelease); err != nil {
		return err
	}
	if err := c.cancelOpenTransfers(i, "released"); err != nil {
		return err
	}
	i.Held = false
	r := record{actor: actorOf(cmd.Agent), action: contactpad.AuditReleased, category: contactpad.CategoryRelease,
		message: "Released by " + actorOf(cmd.Agent), activity: true}
	wrap := c.s.WrapUp[i.Media]
	if wrap <= 0 {
		// No wrap-up configured for this media type: done at once.
		if err := take(i, stepComplete); err != nil {
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
	i, err := c.may(cmd.ID, cmd.Agent, StepExtendWrapUp)
	if err != nil {
		return err
	}
	before := *i
	ends := i.WrapUpEndsAt.Add(c.s.WrapUp[i.Media])
	i.WrapUpEndsAt = &ends
	i.WrapUpExtended++
	return c.save(i, before, record{actor: actorOf(cmd.Agent), action: contactpad.AuditWrapUpExtended,
		category: contactpad.CategoryWrapUp, activity: true,
		message: fmt.Sprintf("Wrap-up extended by %s until %s (%d of %d)", actorOf(cmd.Agent), ends.UTC().Format(timeFormat),
			i.WrapUpExtended, c.s.WrapUpMaxExtensions),
		data: map[string]string{"ends_at": ends.UTC().Format(timeFormat)}})
}

func (cmd FinishWrapUp) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepFinishWrapUp)
	if err != nil {
		return err
	}
	return c.completeWrapUp(i, record{actor: actorOf(cmd.Agent), action: contactpad.AuditCompleted,
		category: contactpad.CategoryWrapUp, message: "Wrap-up finished by " + actorOf(cmd.Agent), activity: true})
}

// completeWrapUp ends wrap-up: the interaction is completed and its owner's
// capacity is free for the next one.
func (c *change) completeWrapUp(i *contactpad.Interaction, r record) error {
	before := *i
	if err := take(i, stepComplete); err != nil {
		return err
	}
	i.WrapUpEndsAt, i.ResumedFrom = nil, ""
	if err := c.save(i, before, r); err != nil {
		return err
	}
	return c.routeAgent(i.Owner, false)
}

func (cmd Abandon) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepAbandon)
	if err != nil {
		return err
	}
	if !cmd.Confirm {
		return ErrConfirmRequired
	}
	before := *i
	if err := take(i, StepAbandon); err != nil {
		return err
	}
	if err := c.cancelOpenTransfers(i, "abandoned"); err != nil {
		return err
	}
	i.Held, i.WrapUpEndsAt, i.ResumedFrom = false, nil, ""
	msg := "Abandoned by " + actorOf(cmd.Agent)
	if cmd.Reason != "" {
		msg += ": " + cmd.Reason
	}
	if err := c.save(i, before, record{actor: actorOf(cmd.Agent), action: contactpad.AuditAbandoned,
		category: contactpad.CategoryAbandon, activity: true, message: msg,
		data: map[string]string{"reason": cmd.Reason}}); err != nil {
		return err
	}
	return c.routeAgent(i.Owner, false)
}
