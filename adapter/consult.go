package adapter

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/ctibridge/ctibridge/contactpad"
)

// e164 is an international phone number: +, then up to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func (cmd StartConsult) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepConsult)
	if err != nil {
		return err
	}
	target := cmd.Target
	switch {
	case target.Service != "":
		return &InvalidError{Field: "target.service", Reason: "consult an agent or a number"}
	case (target.Agent == "") == (target.Number == ""):
		return &InvalidError{Field: "target", Reason: "set exactly one of agent or number"}
	case target.Number != "" && !e164.MatchString(target.Number):
		return &InvalidError{Field: "target.number", Reason: fmt.Sprintf("%q is not an E.164 number like +4930123456", target.Number)}
	case target.Agent == i.Owner:
		return &InvalidError{Field: "target.agent", Reason: "cannot consult yourself"}
	case target.Agent != "":
		a, err := c.tx.Agent(target.Agent)
		if errors.Is(err, ErrNotFound) {
			return &InvalidError{Field: "target.agent", Reason: fmt.Sprintf("unknown agent %q", target.Agent)}
		} else if err != nil {
			return err
		}
		if !a.Presence.Consultable() {
			return &TargetUnavailableError{Target: target, Presence: a.Presence}
		}
	}
	expires := c.now.Add(c.s.Consult)
	k := &contactpad.Consult{ID: newID("con"), InteractionID: i.ID, Initiator: i.Owner, Target: target,
		Status: contactpad.ConsultRinging, ExpiresAt: &expires, CreatedAt: c.now, UpdatedAt: c.now}
	if err := c.tx.PutConsult(k); err != nil {
		return err
	}
	if err := c.tx.SetTimer(Timer{Kind: TimerConsult, Ref: k.ID, DueAt: expires}); err != nil {
		return err
	}
	if err := c.audit(i, record{actor: actorOf(cmd.Agent), action: contactpad.AuditConsultStarted, category: contactpad.CategoryConsult,
		message: "Consult with " + target.String(), data: map[string]string{"consult": k.ID}}); err != nil {
		return err
	}
	return c.emitConsult(EventConsultStarted, k)
}

func (c *change) emitConsult(typ EventType, k *contactpad.Consult) error {
	snapshot := *k
	c.res.Consult = &snapshot
	return c.emit(Event{Type: typ, Consult: &snapshot, Audience: audience(k.Initiator, k.Target.Agent)})
}

// consult loads a consult and checks that agent (if any) may take step on
// it now (CanConsult).
func (c *change) consult(id, agent string, step ConsultStep) (*contactpad.Consult, error) {
	k, err := c.tx.Consult(id) // its error names the consult
	if err != nil {
		return nil, err
	}
	if err := CanConsult(k, step, agent); err != nil {
		return nil, err
	}
	return k, nil
}

func (cmd AnswerConsult) apply(c *change) error {
	k, err := c.consult(cmd.ConsultID, cmd.Agent, ConsultAnswerStep)
	if err != nil {
		return err
	}
	k.Status, k.ExpiresAt, k.UpdatedAt = consults[ConsultAnswerStep].to, nil, c.now
	if err := c.tx.PutConsult(k); err != nil {
		return err
	}
	if err := c.tx.ClearTimer(TimerConsult, k.ID); err != nil {
		return err
	}
	return c.emitConsult(EventConsultConnected, k)
}

func (cmd EndConsult) apply(c *change) error {
	k, err := c.consult(cmd.ConsultID, cmd.Agent, ConsultReleaseStep)
	if err != nil {
		return err
	}
	return c.endConsult(k, contactpad.ConsultEndedReleased, actorOf(cmd.Agent))
}

// endRingingConsults ends the consults ringing for agent, who logged out:
// a consult's target must be available or interruptible.
func (c *change) endRingingConsults(agent string) error {
	open, err := c.tx.OpenConsults("")
	if err != nil {
		return err
	}
	for _, k := range open {
		if k.Target.Agent == agent && k.Status == contactpad.ConsultRinging {
			if err := c.endConsult(k, contactpad.ConsultEndedLoggedOut, contactpad.ActorSystem); err != nil {
				return err
			}
		}
	}
	return nil
}

// endConsult ends the consult leg only; the interaction it belongs to goes on.
func (c *change) endConsult(k *contactpad.Consult, reason, actor string) error {
	k.Status, k.EndedReason, k.ExpiresAt, k.UpdatedAt = contactpad.ConsultEnded, reason, nil, c.now
	if err := c.tx.PutConsult(k); err != nil {
		return err
	}
	if err := c.tx.ClearTimer(TimerConsult, k.ID); err != nil {
		return err
	}
	i, err := c.interaction(k.InteractionID)
	if err != nil {
		return err
	}
	if err := c.audit(i, record{actor: actor, action: contactpad.AuditConsultEnded, category: contactpad.CategoryConsult,
		message: "Consult with " + k.Target.String() + " ended: " + reason, data: map[string]string{"consult": k.ID}}); err != nil {
		return err
	}
	return c.emitConsult(EventConsultEnded, k)
}
