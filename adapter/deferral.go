package adapter

import (
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// timeFormat is how times appear in audit data and messages.
const timeFormat = time.RFC3339

func (cmd Defer) apply(c *change) error {
	i, err := c.may(cmd.ID, cmd.Agent, StepDefer)
	if err != nil {
		return err
	}
	due, manual, rule := cmd.DueBy, true, ""
	if due == nil {
		for _, r := range c.s.DeferralRules {
			if r.Match(i) {
				at := c.now.Add(r.After)
				due, manual, rule = &at, false, r.Name
				break
			}
		}
		if due == nil {
			return ErrDueByRequired
		}
	}
	if !due.After(c.now) {
		return &DueByInPastError{DueBy: *due, Now: c.now}
	}
	if due.After(MaxTime.Truncate(time.Second)) {
		return &DueByOutOfRangeError{DueBy: *due}
	}
	before := *i
	if err := take(i, StepDefer); err != nil {
		return err
	}
	if err := c.cancelOpenTransfers(i, "deferred"); err != nil {
		return err
	}
	at := due.UTC()
	i.DueBy, i.DueBySetManually, i.AutoOpenedDueToDueDate, i.ReopenReason = &at, manual, false, ""
	i.Held, i.QueuedAt, i.OfferExpiresAt, i.TargetAgent, i.ResumedFrom = false, nil, nil, "", ""
	data := map[string]string{"due_by": at.Format(timeFormat), "due_by_was_set_manually": fmt.Sprint(manual)}
	if rule != "" {
		data["rule"] = rule
	}
	if err := c.save(i, before, record{actor: actorOf(cmd.Agent), action: contactpad.AuditDeferred, category: contactpad.CategoryStatusAction,
		message: "Deferred until " + at.Format(timeFormat), data: data, activity: true}); err != nil {
		return err
	}
	if before.Owner == "" || before.Status != contactpad.Connected {
		return nil
	}
	return c.routeAgent(before.Owner, false)
}

func (cmd Resume) apply(c *change) error { return c.resume(cmd.ID, cmd.Agent, StepResume) }

func (cmd Reopen) apply(c *change) error { return c.resume(cmd.ID, cmd.Agent, StepReopen) }

// resume takes an interaction back from the Deferred (or, with
// StepResume, the History) folder: into the agent's Ongoing folder, or
// with no agent (an admin) back to routing.
func (c *change) resume(id, agent string, step Step) error {
	i, err := c.may(id, agent, step)
	if err != nil {
		return err
	}
	from := string(i.Status)
	before := *i
	// The seeds' words for an agent's resume; the entry's actor names them.
	by := "an agent"
	if agent != "" {
		if NeedsRoom(i, step, agent) {
			if err := c.roomFor(agent, i.Media); err != nil {
				return err
			}
		}
		if err := take(i, step); err != nil {
			return err
		}
		i.Owner = agent
	} else {
		if err := take(i, stepResumeQueue); err != nil {
			return err
		}
		now := c.now
		i.Owner, i.QueuedAt, by = "", &now, "an admin"
	}
	i.ResumedFrom, i.AutoOpenedDueToDueDate, i.DueBy = from, false, nil
	i.WrapUpEndsAt, i.WrapUpExtended = nil, 0
	if err := c.save(i, before, record{actor: actorOf(agent), action: contactpad.AuditResumed, category: contactpad.CategoryStatusAction,
		message: "Interaction resumed by " + by, data: map[string]string{"resumed_from": from},
		activity: true}); err != nil {
		return err
	}
	return c.routeInteraction(i)
}

// reopen reopens a deferred interaction before anyone resumes it: at its
// due date, because the customer replied, or because it was reopened in
// the CRM. It goes back to its owner when the policy allows and the owner
// is logged in, else back to routing. Deferred work keeps its slot: it
// goes back to its owner even when that takes the owner over capacity
// (routing offers them nothing new until they are under it again). At the
// due date auto_opened_due_to_due_date is set. r gives the actor (and a
// message that says more than the reason does).
func (c *change) reopen(i *contactpad.Interaction, reason string, r record) error {
	before := *i
	toOwner := false
	if c.s.Reopen != ReopenQueue && i.Owner != "" {
		a, err := c.agent(i.Owner)
		if err != nil {
			return err
		}
		toOwner = a.Presence.LoggedIn()
	}
	msg := r.message
	switch {
	case msg != "":
	case reason == contactpad.ReopenCustomerReply:
		msg = "Reopened because the customer replied"
	default:
		msg = "Reopened at its due date"
	}
	if toOwner {
		if err := take(i, stepReopenOwner); err != nil {
			return err
		}
		msg += " into " + i.Owner + "'s Ongoing folder"
	} else {
		if err := take(i, stepReopenQueue); err != nil {
			return err
		}
		now := c.now
		i.Owner, i.QueuedAt = "", &now
		msg += " and returned to routing"
	}
	i.ReopenReason, i.DueBy = reason, nil
	flags := map[string]bool{}
	if reason == contactpad.ReopenDueDate {
		i.AutoOpenedDueToDueDate = true
		flags["auto_opened_due_to_due_date"] = true
	}
	r.action, r.message, r.flags = contactpad.AuditReopened, msg, flags
	r.category = contactpad.CategorySystem
	if r.actor == contactpad.ActorCRM {
		r.category = contactpad.CategoryCRM
	}
	r.data = map[string]string{"reopen_reason": reason}
	if err := c.save(i, before, r); err != nil {
		return err
	}
	return c.routeInteraction(i)
}

// inactive raises interaction.inactive for a connected interaction nobody
// has worked on for the configured period. The panel then offers transfer,
// defer or complete. If there was activity since the timer was armed, it
// re-arms for the end of the new idle period instead.
func (c *change) inactive(i *contactpad.Interaction) error {
	if due := i.LastActivityAt.Add(c.s.Inactivity[i.Media]); due.After(c.now) {
		return c.tx.SetTimer(Timer{Kind: TimerInactivity, Ref: i.ID, DueAt: due})
	}
	snapshot := *i
	c.res.Interaction = &snapshot
	return c.emit(Event{Type: EventInteractionInactive, Interaction: &snapshot, Audience: audience(i.Owner),
		Flags: map[string]bool{"inactive": true}})
}
