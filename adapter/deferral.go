package adapter

import (
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// timeFormat is how times appear in audit data and messages.
const timeFormat = time.RFC3339

func (cmd Defer) apply(c *change) error {
	i, err := c.owned(cmd.ID, cmd.Agent, contactpad.ActionDefer)
	if err != nil {
		return err
	}
	if !canTake(stepDefer, i.Status) {
		return &TransitionError{Object: "interaction", ID: i.ID, Action: "defer", State: string(i.Status)}
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
	before := *i
	if err := take(i, stepDefer, "defer"); err != nil {
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
	if err := c.save(i, before, record{actor: actorOf(cmd.Agent), action: "deferred", category: "status_action",
		message: "Deferred until " + at.Format(timeFormat), data: data, activity: true}); err != nil {
		return err
	}
	if before.Owner == "" || before.Status != contactpad.Connected {
		return nil
	}
	return c.routeAgent(before.Owner, false)
}

func (cmd Resume) apply(c *change) error {
	i, err := c.owned(cmd.ID, cmd.Agent, contactpad.ActionResume)
	if err != nil {
		return err
	}
	if !canTake(stepResume, i.Status) {
		return &TransitionError{Object: "interaction", ID: i.ID, Action: "resume", State: string(i.Status),
			Reason: "only deferred (Deferred folder) and completed (History folder) interactions can be resumed"}
	}
	from := string(i.Status)
	before := *i
	if cmd.Agent != "" {
		if err := c.roomFor(cmd.Agent, i.Media); err != nil {
			return err
		}
		if err := take(i, stepResume, "resume"); err != nil {
			return err
		}
		i.Owner = cmd.Agent
	} else {
		if err := take(i, stepResumeQueue, "resume"); err != nil {
			return err
		}
		now := c.now
		i.Owner, i.QueuedAt = "", &now
	}
	i.ResumedFrom, i.AutoOpenedDueToDueDate, i.DueBy = from, false, nil
	i.WrapUpEndsAt, i.WrapUpExtended = nil, 0
	if err := c.save(i, before, record{actor: actorOf(cmd.Agent), action: "resumed", category: "status_action",
		message: "Interaction resumed by an agent", data: map[string]string{"resumed_from": from},
		activity: true}); err != nil {
		return err
	}
	return c.routeInteraction(i)
}

// reopen reopens a deferred interaction before anyone resumes it: at its
// due date, because the customer replied, or because it was reopened in
// the CRM. It goes back to its owner when the policy allows and the owner
// is logged in with room for it, else back to routing. At the due date
// auto_opened_due_to_due_date is set. r gives the actor (and a message
// that says more than the reason does).
func (c *change) reopen(i *contactpad.Interaction, reason string, r record) error {
	before := *i
	toOwner := false
	if c.s.Reopen != ReopenQueue && i.Owner != "" {
		a, err := c.agent(i.Owner)
		if err != nil {
			return err
		}
		load, err := c.tx.Load(a.ID)
		if err != nil {
			return err
		}
		toOwner = a.Presence.LoggedIn() && c.hasRoom(a, load, i.Media)
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
		if err := take(i, stepReopenOwner, "reopen"); err != nil {
			return err
		}
		msg += " into " + i.Owner + "'s Ongoing folder"
	} else {
		if err := take(i, stepReopenQueue, "reopen"); err != nil {
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
	r.action, r.message, r.flags = "reopened", msg, flags
	r.category = "system"
	if r.actor == actorCRM {
		r.category = "crm"
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
