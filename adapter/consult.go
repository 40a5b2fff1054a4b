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
	i, err := c.owned(cmd.ID, cmd.Agent, contactpad.ActionConsult)
	if err != nil {
		return err
	}
	if i.Status != contactpad.Connected {
		return &TransitionError{Object: "interaction", ID: i.ID, Action: "consult", State: string(i.Status)}
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
	open, err := c.tx.OpenConsults(i.ID)
	if err != nil {
		return err
	}
	if len(open) > 0 {
		return &ConflictError{Reason: fmt.Sprintf("interaction %s already has consult %s in progress", i.ID, open[0].ID)}
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
	if err := c.audit(i, record{actor: actorOf(cmd.Agent), action: "consult_started", category: "consult",
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

// consult loads a consult that agent (if any) must be a party to.
func (c *change) consult(id, agent string, parties func(*contactpad.Consult) []string) (*contactpad.Consult, error) {
	k, err := c.tx.Consult(id)
	if err != nil {
		return nil, fmt.Errorf("consult %s: %w", id, err)
	}
	if agent == "" {
		return k, nil
	}
	for _, p := range parties(k) {
		if p == agent {
			return k, nil
		}
	}
	return nil, fmt.Errorf("consult %s is not %s's: %w", id, agent, ErrForbidden)
}

func (cmd AnswerConsult) apply(c *change) error {
	k, err := c.consult(cmd.ConsultID, cmd.Agent, func(k *contactpad.Consult) []string { return []string{k.Target.Agent} })
	if err != nil {
		return err
	}
	if k.Status != contactpad.ConsultRinging {
		return &TransitionError{Object: "consult", ID: k.ID, Action: "answer", State: string(k.Status)}
	}
	k.Status, k.ExpiresAt, k.UpdatedAt = contactpad.ConsultConnected, nil, c.now
	if err := c.tx.PutConsult(k); err != nil {
		return err
	}
	if err := c.tx.ClearTimer(TimerConsult, k.ID); err != nil {
		return err
	}
	return c.emitConsult(EventConsultConnected, k)
}

func (cmd EndConsult) apply(c *change) error {
	k, err := c.consult(cmd.ConsultID, cmd.Agent, func(k *contactpad.Consult) []string {
		return []string{k.Initiator, k.Target.Agent}
	})
	if err != nil {
		return err
	}
	if k.Status == contactpad.ConsultEnded {
		return &TransitionError{Object: "consult", ID: k.ID, Action: "release", State: string(k.Status)}
	}
	return c.endConsult(k, "released", actorOf(cmd.Agent))
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
	if err := c.audit(i, record{actor: actor, action: "consult_ended", category: "consult",
		message: "Consult with " + k.Target.String() + " ended: " + reason, data: map[string]string{"consult": k.ID}}); err != nil {
		return err
	}
	return c.emitConsult(EventConsultEnded, k)
}
