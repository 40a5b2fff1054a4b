package adapter

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ctibridge/ctibridge/contactpad"
)

// The CRM is a peer, not a sink: people and other integrations change the
// records the bridge works from. Ingest is where their changes arrive.
// The first sight of a record adopts the state the CRM shows (or, with the
// mapping's reset policy, queues it as new work); later sights compare the
// record with what the bridge last knew of it (contactpad.RecordSync) and
// turn what the CRM changed into the same transitions an agent's command
// would take, with an audit entry that names the CRM as the actor. The
// bridge's own writes coming back change nothing.

func (cmd Ingest) apply(c *change) error {
	item := cleanItem(cmd.Item)
	if item.CRMID == "" {
		return &InvalidError{Field: "crm_id", Reason: "required"}
	}
	if item.Omni != nil && item.Omni.Answer != nil {
		return c.omniAnswer(item)
	}
	existing, err := c.tx.InteractionByCRM(item.CRMObject, item.CRMID)
	switch {
	case err == nil:
		c.res.Interaction = existing
		if item.CRM != nil && existing.Sync.Outdated(item.CRM.Modified, cmd.ReadAt) {
			// Older than the read taken in last, and come in late: the
			// record's fields say nothing new. A poll's read may still
			// bring Omni-Channel routing.
			return c.routingOnly(existing, item)
		}
		if existing.Sync.Stale(cmd.ReadAt) {
			// Its values and whether it matches the filter may be the
			// ones the bridge's write replaced: the poller reads it again.
			c.res.Stale = true
			if item.Unmatched {
				return nil
			}
			return c.refresh(existing, item)
		}
		waiting := waitsForOmni(existing.Omni)
		adoptRouting(existing, item.Omni)
		if err := c.inbound(existing, item, cmd.ReadAt); err != nil || !waiting || item.Omni == nil {
			return err
		}
		return c.routingFree(existing.ID)
	case !errors.Is(err, ErrNotFound):
		return err
	case item.Unmatched:
		return nil // not work, and never was
	}
	if _, err := contactpad.ParseMedia(string(item.Media)); err != nil {
		return &InvalidError{Field: "media", Reason: err.Error()}
	}
	if err := c.knownService(item.Service, item.CRMObject, item.CRMID); err != nil {
		return err
	}
	return c.firstSight(item, cmd.ReadAt)
}

// firstSight makes the interaction of a record the bridge has not seen.
// By default it adopts what the record shows, and writes nothing back
// until the bridge changes something itself: an owner who is an agent
// keeps the work (connected, or reserved in the queue while the record
// says it waits), a record on hold stays deferred until the due date it
// shows, an ended one goes to History. With the reset policy the record is
// queued as new work and its mirrored fields are written over.
func (c *change) firstSight(item contactpad.WorkItem, readAt time.Time) error {
	now := c.now
	i := &contactpad.Interaction{
		ID: newID("int"), CRMID: item.CRMID, CRMObject: item.CRMObject, Media: item.Media,
		Service: item.Service, Subject: item.Subject, Priority: item.Priority,
		Tags: nonNil(item.Tags), Category: item.Category, Customer: item.Customer, Status: contactpad.Queued,
		QueuedAt: &now, CreatedAt: now, LastActivityAt: now,
	}
	m := c.mirror(item.CRMObject)
	var shown map[string]any
	if item.CRM != nil {
		shown = item.CRM.Fields
	}
	i.Sync = contactpad.RecordSync{Known: shown, Service: item.Service}.Clone()
	if item.CRM != nil {
		i.Sync.Read(item.CRM.Modified, readAt)
	}
	if o := item.Omni; o != nil && o.PSRID != "" {
		i.Omni = &contactpad.OmniRouting{PSRID: o.PSRID, ServiceChannelID: o.ServiceChannelID, CapacityWeight: o.CapacityWeight}
	}
	source := item.CRMObject + " " + item.CRMID
	if m.Policy().FirstSight == contactpad.Reset {
		// Known but not wanted: save marks every mirrored field dirty.
		if err := c.save(i, contactpad.Interaction{}, record{actor: contactpad.ActorSystem, action: contactpad.AuditCreated,
			category: contactpad.CategoryRouting, message: "Created from " + source, event: EventInteractionCreated}); err != nil {
			return err
		}
		return c.routeInteraction(i)
	}
	view := m.Read(shown)
	onHold := view.Status == contactpad.Deferred && !c.s.Matrix.Allows(item.Media, contactpad.ActionDefer)
	if onHold {
		// Work of a media type that is never deferred (a live call) is
		// adopted as the open work it is: deferred, nobody could resume it.
		view.Status = ""
	}
	i.Status, i.Owner, i.TargetAgent = view.Adopted(c.agentOfCRMUser)
	if i.Status != contactpad.Queued {
		i.QueuedAt = nil
	}
	if i.Status == contactpad.Deferred {
		// Who set the date, as the record says: an agent unless it says not.
		i.DueBy, i.DueBySetManually = view.DueBy, view.DueBy != nil
		if view.DueBySetManually != nil {
			i.DueBySetManually = view.DueBy != nil && *view.DueBySetManually
		}
	}
	want, err := m.Fields(i.CRMID, c.writeback(i))
	if err != nil {
		return fmt.Errorf("mirrored fields of %s: %w", source, err)
	}
	i.Sync.Want = want // in step: nothing to write
	msg := fmt.Sprintf("Adopted from %s as %s shows it: %s", source, c.crmName(), i.Status)
	switch {
	case i.Owner != "":
		msg += ", owned by " + i.Owner
	case i.TargetAgent != "":
		msg += ", waiting for " + i.TargetAgent
	}
	if i.DueBy != nil {
		msg += ", due " + i.DueBy.UTC().Format(timeFormat)
	}
	if onHold {
		msg += fmt.Sprintf("; on hold there, but %s interactions are not deferred", item.Media)
	}
	var data map[string]string
	if i.Owner != "" {
		data = map[string]string{"agent": i.Owner}
	}
	if err := c.save(i, contactpad.Interaction{}, record{actor: contactpad.ActorSystem, action: contactpad.AuditAdopted, category: contactpad.CategoryRouting,
		message: msg, event: EventInteractionCreated, local: true, data: data}); err != nil {
		return err
	}
	return c.routeInteraction(i)
}

// routingOnly takes in the Omni-Channel routing a poll's read of i's record
// brings (its PSR waiting for a push) and nothing else: the read is older
// than the one taken in last.
func (c *change) routingOnly(i *contactpad.Interaction, item contactpad.WorkItem) error {
	if item.Omni == nil || i.Status.Ended() {
		return nil
	}
	waiting, before := waitsForOmni(i.Omni), i.Omni
	adoptRouting(i, item.Omni)
	if i.Omni == before {
		return nil
	}
	if err := c.tx.PutInteraction(i); err != nil {
		return fmt.Errorf("save interaction %s: %w", i.ID, err)
	}
	if !waiting {
		return nil
	}
	return c.routingFree(i.ID)
}

// inbound takes in what the CRM shows of a record the bridge already
// works: its descriptive fields, and what the CRM changed of the mirrored
// fields since the bridge last knew them.
func (c *change) inbound(i *contactpad.Interaction, item contactpad.WorkItem, readAt time.Time) error {
	m := c.mirror(i.CRMObject)
	policy := m.Policy()
	if !item.Unmatched {
		if err := c.refresh(i, item); err != nil {
			return err
		}
	}
	var read map[string]any
	var by string
	if item.CRM != nil {
		read, by = item.CRM.Fields, item.CRM.ChangedBy
	}
	if by == "" {
		by = "someone"
	}
	known := i.Sync.Clone()
	changed, conflicts := i.Sync.Observe(read, policy.BridgeWins)
	news := true // a change made since the read taken in last
	if item.CRM != nil {
		news = known.Newer(item.CRM.Modified) || len(changed) > 0
		i.Sync.Read(item.CRM.Modified, readAt)
	}
	wasUnmatched := i.Sync.Unmatched
	i.Sync.Unmatched = item.Unmatched
	if !item.Unmatched && item.Service != "" {
		i.Sync.Service = item.Service
	}
	// What the record showed, and shows now for the interaction: what
	// the CRM changed, but for the fields the bridge won.
	shown := maps.Clone(known.Known)
	for _, f := range changed {
		if !(slices.Contains(conflicts, f) && policy.BridgeWins(f)) {
			shown = setValue(shown, f, read[f])
		}
	}
	was, now := m.Read(known.Known), m.Read(shown)
	if !sameSync(known, i.Sync) {
		// Bookkeeping only: no transition, no event.
		if err := c.tx.PutInteraction(i); err != nil {
			return fmt.Errorf("save interaction %s: %w", i.ID, err)
		}
	}
	for _, f := range conflicts {
		if err := c.conflict(i, f, known.Want[f], read[f], policy.BridgeWins(f), by); err != nil {
			return err
		}
	}
	ended := i.Status == contactpad.Completed || i.Status == contactpad.Abandoned
	// A record that leaves the mapping's filter is no longer work, and one
	// that comes back is work again, whoever changed it: the filter must
	// select every state the bridge writes to the records it works (a
	// filter that leaves out On Hold would end every deferral).
	// The bridge's own write of an ended status may take the record out
	// of the filter: that is no news, even if the work was resumed since.
	leftFilter := item.Unmatched && !wasUnmatched && !was.Status.Ended()
	backInFilter := !item.Unmatched && wasUnmatched
	closedThere := now.Status.Ended() && !was.Status.Ended()
	switch {
	case !ended && (leftFilter || closedThere):
		return c.closedInCRM(i, policy, !closedThere, by)
	case item.Unmatched:
		return nil
	}
	// The mapping's service rule gives another service than at the last
	// read: someone changed what it reads. A service the bridge gave the
	// work itself (a transfer to a service) the CRM knows nothing of, and
	// stays until the CRM's answer changes.
	if known.Service != "" && known.Service != i.Sync.Service && i.Service != i.Sync.Service {
		if err := c.serviceChangedInCRM(i, i.Sync.Service, by); err != nil {
			return err
		}
	}
	if ended && !now.Status.Ended() && (backInFilter || was.Status.Ended()) {
		if err := c.reopenedInCRM(i, now, by); err != nil {
			return err
		}
	}
	if now.OwnerCRMUserID != was.OwnerCRMUserID && now.OwnerCRMUserID != "" {
		if err := c.ownerChangedInCRM(i, policy, now.OwnerCRMUserID, by); err != nil {
			return err
		}
	}
	switch {
	case item.CustomerReply && i.Status == contactpad.Deferred && news:
		// The mapping's rule says why the record changed: the customer
		// wrote (a flow set the status back, say).
		return c.reopen(i, contactpad.ReopenCustomerReply, record{actor: contactpad.ActorSystem})
	case now.Status == contactpad.Deferred && was.Status != contactpad.Deferred && i.Status.Open():
		return c.deferredInCRM(i, now.DueBy, by)
	case was.Status == contactpad.Deferred && now.Status.Open() && i.Status == contactpad.Deferred:
		return c.reopen(i, contactpad.ReopenCRM, record{actor: contactpad.ActorCRM, local: true,
			message: fmt.Sprintf("Reopened in %s by %s", c.crmName(), by)})
	case !equalTime(now.DueBy, was.DueBy) && i.Status == contactpad.Deferred:
		return c.retimedInCRM(i, now.DueBy, by)
	}
	return nil
}

// refresh updates the descriptive fields of an interaction whose record
// changed.
func (c *change) refresh(i *contactpad.Interaction, item contactpad.WorkItem) error {
	before := *i
	i.Subject, i.Priority, i.Category, i.Customer = item.Subject, item.Priority, item.Category, item.Customer
	i.Tags = nonNil(item.Tags)
	if i.Subject == before.Subject && i.Priority == before.Priority && i.Category == before.Category &&
		i.Customer == before.Customer && slices.Equal(i.Tags, before.Tags) {
		return nil
	}
	return c.save(i, before, record{actor: contactpad.ActorSystem})
}

// conflict audits a field both sides changed since they were last in
// step, and who won it.
func (c *change) conflict(i *contactpad.Interaction, field string, ours, theirs any, bridgeWins bool, by string) error {
	winner := c.crmName() + "'s value stays"
	if bridgeWins {
		winner = "the bridge writes its value over it"
	}
	c.conflicts = append(c.conflicts, fieldConflict{object: i.CRMObject, field: field, bridgeWins: bridgeWins})
	return c.audit(i, record{actor: contactpad.ActorCRM, action: contactpad.AuditConflict, category: contactpad.CategoryCRM, local: true,
		message: fmt.Sprintf("%s changed in %s by %s to %s while the bridge changed it to %s: %s",
			field, c.crmName(), by, showValue(theirs), showValue(ours), winner),
		data: map[string]string{"field": field, "crm_value": showValue(theirs), "bridge_value": showValue(ours),
			"winner": map[bool]string{true: "bridge", false: "crm"}[bridgeWins]}})
}

// closedInCRM ends an interaction whose record was closed in the CRM, or
// no longer matches its mapping's filter: completed (or abandoned, as the
// mapping says), its capacity freed, its transfers stopped.
func (c *change) closedInCRM(i *contactpad.Interaction, policy contactpad.PeerPolicy, leftFilter bool, by string) error {
	s, action := stepCloseInCRM, contactpad.AuditClosed
	if policy.Closed == contactpad.CloseAbandons {
		s, action = stepAbandonInCRM, contactpad.AuditAbandoned
	}
	msg := fmt.Sprintf("Closed in %s by %s", c.crmName(), by)
	if leftFilter {
		msg = fmt.Sprintf("No longer matches the mapping's filter in %s (last changed by %s)", c.crmName(), by)
	}
	return c.endedInCRM(i, s, record{actor: contactpad.ActorCRM, action: action, category: contactpad.CategoryCRM, message: msg, local: true},
		"closed in "+c.crmName())
}

// DeletedInCRM ends the interaction of a record the CRM says no longer
// exists: a write of it was refused as deleted (ParkError.Gone). A poll
// never reads a deleted record, so without it the work would hold its
// agent's capacity, or wait in the queue, for a record nobody can work.
// It is abandoned, its capacity freed and its transfers stopped, and
// nothing more is written to the record. The writer sends it
// (Engine.RunWriteback); work already ended is left as it is.
type DeletedInCRM struct{ InteractionID string }

func (cmd DeletedInCRM) apply(c *change) error {
	i, err := c.interaction(cmd.InteractionID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || i.Status.Ended() {
		return err
	}
	return c.endedInCRM(i, stepAbandonInCRM, record{actor: contactpad.ActorCRM, action: contactpad.AuditAbandoned,
		category: contactpad.CategoryCRM, local: true, gone: true,
		message: fmt.Sprintf("Deleted in %s: %s %s no longer exists", c.crmName(), i.CRMObject, i.CRMID)},
		"deleted in "+c.crmName())
}

// endedInCRM ends i along s (closed, abandoned) for a reason the CRM gave:
// its transfers stopped with why, its capacity freed for the next work.
func (c *change) endedInCRM(i *contactpad.Interaction, s Step, r record, why string) error {
	before := *i
	if err := take(i, s); err != nil {
		return err
	}
	if err := c.cancelOpenTransfers(i, why); err != nil {
		return err
	}
	if !before.Status.Worked() {
		i.Owner = ""
	}
	i.Held, i.WrapUpEndsAt, i.OfferExpiresAt, i.QueuedAt, i.TargetAgent, i.DueBy = false, nil, nil, nil, "", nil
	i.ResumedFrom = ""
	if err := c.save(i, before, r); err != nil {
		return err
	}
	if before.Owner == "" || !before.Status.HoldsCapacity() {
		return nil
	}
	return c.routeAgent(before.Owner, false)
}

// knownService refuses a service the mapping gave a record (object id)
// that is not one of the configured services.
func (c *change) knownService(service, object, id string) error {
	if slices.ContainsFunc(c.s.Services, func(s contactpad.Service) bool { return s.ID == service }) {
		return nil
	}
	return &InvalidError{Field: "service", Reason: fmt.Sprintf("unknown service %q for %s %s", service, object, id)}
}

// serviceChangedInCRM moves work to the service the mapping's rule now
// gives its record, because someone changed what the rule reads (a Case's
// Type, say). Queued work waits in the new service's queue, where its
// place is kept, and is offered to its agents at once if one has room. An
// offer already out stands: declined or missed, the work goes back to the
// new service's queue. Work an agent holds stays theirs, and deferred or
// ended work goes to the new service when it comes back.
func (c *change) serviceChangedInCRM(i *contactpad.Interaction, service, by string) error {
	if err := c.knownService(service, i.CRMObject, i.CRMID); err != nil {
		return err
	}
	before := *i
	i.Service = service
	if err := c.save(i, before, record{actor: contactpad.ActorCRM, action: contactpad.AuditServiceChanged, category: contactpad.CategoryCRM, local: true,
		message: fmt.Sprintf("Moved to service %s: changed in %s by %s", service, c.crmName(), by),
		data:    map[string]string{"from": before.Service, "to": service}}); err != nil {
		return err
	}
	return c.routeInteraction(i)
}

// reopenedInCRM sends an ended interaction whose record was reopened in
// the CRM back to routing, reserved for the record's owner when that is
// an agent.
func (c *change) reopenedInCRM(i *contactpad.Interaction, view contactpad.RecordView, by string) error {
	before := *i
	if err := take(i, stepReopenInCRM); err != nil {
		return err
	}
	now := c.now
	i.Owner, i.QueuedAt, i.SkipAgent = "", &now, ""
	i.TargetAgent = c.agentOfCRMUser(view.OwnerCRMUserID)
	i.WrapUpEndsAt, i.WrapUpExtended, i.AutoOpenedDueToDueDate = nil, 0, false
	i.ReopenReason = contactpad.ReopenCRM // as its audit entry says
	if err := c.save(i, before, record{actor: contactpad.ActorCRM, action: contactpad.AuditReopened, category: contactpad.CategoryCRM, local: true,
		message: fmt.Sprintf("Reopened in %s by %s", c.crmName(), by),
		data:    map[string]string{"reopen_reason": contactpad.ReopenCRM}}); err != nil {
		return err
	}
	return c.routeInteraction(i)
}

// routingFree lets routing offer again the work (of ID) that waited for
// Omni-Channel (waitsForOmni) once the poll shows its PSR waiting.
func (c *change) routingFree(id string) error {
	i, err := c.interaction(id)
	if err != nil || !waitsForOmni(i.Omni) {
		return err
	}
	before := *i
	freeInOmni(i)
	if err := c.save(i, before, record{}); err != nil {
		return err
	}
	return c.routeInteraction(i)
}

// ownerChangedInCRM follows an owner changed in the CRM to an agent's
// user: the agent takes the work over as it stands (connected work at
// once, whatever its load; queued or offered work is reserved for it).
// An owner who is no agent, or the ignore policy, leaves it where it is.
func (c *change) ownerChangedInCRM(i *contactpad.Interaction, policy contactpad.PeerPolicy, crmUser, by string) error {
	agent := c.agentOfCRMUser(crmUser)
	if agent != "" {
		// Omni-Channel makes the agent who accepts an AgentWork the
		// record's owner. The accept comes in as the AgentWork's answer,
		// which a poll takes in before the records; the writer's read of
		// the record may come first.
		if pushed, err := c.pushedTo(i, agent); err != nil || pushed {
			return err
		}
	}
	where := fmt.Sprintf("in %s by %s", c.crmName(), by)
	switch {
	case agent == i.Owner && i.Status.Worked() || agent == i.TargetAgent && i.Status == contactpad.Queued:
		return nil
	case policy.OwnerChanged == contactpad.OwnerIgnored || agent == "":
		why := "the mapping ignores owner changes"
		if agent == "" {
			why = "no agent has that CRM user"
		}
		return c.audit(i, record{actor: contactpad.ActorCRM, action: contactpad.AuditOwnerChangeIgnored, category: contactpad.CategoryCRM, local: true,
			message: fmt.Sprintf("Owner changed %s to %s: %s", where, crmUser, why),
			data:    map[string]string{"crm_user_id": crmUser}})
	}
	before := *i
	if i.Omni != nil {
		// Owned by a user, the record left its Omni-Channel queue, whose
		// PSR Salesforce removed (and the AgentWork out for it): an offer
		// goes to the agent directly.
		o := *i.Omni
		o.PSRID, o.Pushed, o.Refused = "", false, 0
		i.Omni = &o
	}
	r := record{actor: contactpad.ActorCRM, action: contactpad.AuditReassigned, category: contactpad.CategoryCRM, local: true,
		message: fmt.Sprintf("Reassigned %s to %s", where, agent),
		data:    map[string]string{"from": before.Owner, "to": agent}}
	switch i.Status {
	case contactpad.Offered:
		if err := take(i, stepRequeueOffer); err != nil {
			return err
		}
		i.Owner, i.OfferExpiresAt, i.TargetAgent = "", nil, agent
		if i.QueuedAt == nil { // it keeps its place in the queue
			now := c.now
			i.QueuedAt = &now
		}
		if err := c.save(i, before, r); err != nil {
			return err
		}
		return c.routeInteraction(i)
	case contactpad.Queued:
		i.TargetAgent = agent
		if err := c.save(i, before, r); err != nil {
			return err
		}
		return c.routeInteraction(i)
	}
	if err := take(i, stepReassign); err != nil {
		return err
	}
	switch i.Status {
	case contactpad.Connected, contactpad.WrapUp:
		if err := c.cancelOpenTransfers(i, "reassigned in "+c.crmName()); err != nil {
			return err
		}
		i.Owner, i.Held = agent, false
		if err := c.save(i, before, r); err != nil {
			return err
		}
		return c.routeAgent(before.Owner, false)
	}
	i.Owner = agent // deferred or ended: who has it in their folders
	return c.save(i, before, r)
}

// deferredInCRM defers work that was put on hold in the CRM until the due
// date the record shows (none: until someone reopens it), where the
// capability matrix lets its media type be deferred.
//
// Work on offer is taken back from the agent, and work in wrap-up ends its
// wrap-up: a person decided it waits. An offer made through Omni-Channel
// cannot be taken back (changePresence), so it is not deferred.
func (c *change) deferredInCRM(i *contactpad.Interaction, due *time.Time, by string) error {
	ignored := func(why string) error {
		return c.audit(i, record{actor: contactpad.ActorCRM, action: contactpad.AuditDeferIgnored, category: contactpad.CategoryCRM, local: true,
			message: fmt.Sprintf("Put on hold in %s by %s: %s", c.crmName(), by, why)})
	}
	switch {
	case !c.s.Matrix.Allows(i.Media, contactpad.ActionDefer):
		return ignored(fmt.Sprintf("%s interactions are not deferred", i.Media))
	case PushedToOmni(i):
		return ignored("it is offered through Omni-Channel, which cannot take an offer back")
	}
	before := *i
	if err := take(i, stepDeferInCRM); err != nil {
		return err
	}
	if err := c.cancelOpenTransfers(i, "deferred in "+c.crmName()); err != nil {
		return err
	}
	i.DueBy, i.DueBySetManually, i.AutoOpenedDueToDueDate, i.ReopenReason = due, due != nil, false, ""
	i.Held, i.QueuedAt, i.OfferExpiresAt, i.TargetAgent, i.ResumedFrom = false, nil, nil, "", ""
	i.WrapUpEndsAt = nil
	if !before.Status.Worked() {
		i.Owner = "" // offered, not taken: nobody's yet
	}
	msg := fmt.Sprintf("Put on hold in %s by %s with no due date", c.crmName(), by)
	data := map[string]string{}
	if due != nil {
		msg = fmt.Sprintf("Deferred in %s by %s until %s", c.crmName(), by, due.UTC().Format(timeFormat))
		data["due_by"] = due.UTC().Format(timeFormat)
	}
	if err := c.save(i, before, record{actor: contactpad.ActorCRM, action: contactpad.AuditDeferred, category: contactpad.CategoryCRM, local: true,
		message: msg, data: data}); err != nil {
		return err
	}
	if before.Owner == "" || !before.Status.HoldsCapacity() {
		return nil
	}
	return c.routeAgent(before.Owner, false)
}

// retimedInCRM moves the due date of deferred work to the one set in the
// CRM; none leaves it deferred until someone reopens it.
func (c *change) retimedInCRM(i *contactpad.Interaction, due *time.Time, by string) error {
	before := *i
	i.DueBy, i.DueBySetManually = due, due != nil
	msg := fmt.Sprintf("Due date removed in %s by %s", c.crmName(), by)
	data := map[string]string{}
	if due != nil {
		msg = fmt.Sprintf("Due date moved in %s by %s to %s", c.crmName(), by, due.UTC().Format(timeFormat))
		data["due_by"] = due.UTC().Format(timeFormat)
	}
	return c.save(i, before, record{actor: contactpad.ActorCRM, action: contactpad.AuditDueDateChanged, category: contactpad.CategoryCRM, local: true,
		message: msg, data: data})
}

// agentOfCRMUser returns the agent whose CRM user is crmUser, or "".
func (c *change) agentOfCRMUser(crmUser string) string {
	if crmUser == "" {
		return ""
	}
	return c.crmUsers[crmUser]
}

// pushedTo reports whether i's offer, or a warm transfer's request, is an
// AgentWork pushed to agent in Omni-Channel and not answered yet.
func (c *change) pushedTo(i *contactpad.Interaction, agent string) (bool, error) {
	if i.Status == contactpad.Offered && PushedToOmni(i) && i.Owner == agent {
		return true, nil
	}
	open, err := c.tx.OpenTransfers(TransferFilter{InteractionID: i.ID})
	if err != nil {
		return false, fmt.Errorf("transfers of %s: %w", i.ID, err)
	}
	for _, t := range open {
		if t.AnswerIn == contactpad.AnswerInOmni && t.Status == contactpad.TransferInitiated && t.Assignee == agent {
			return true, nil
		}
	}
	return false, nil
}

// crmName names the CRM in audit messages.
func (c *change) crmName() string {
	if c.s.CRMName != "" {
		return c.s.CRMName
	}
	return "the CRM"
}

// The most of a CRM record's text an interaction shows, and so every
// event and webhook delivery carries: a mapping may take the subject from
// a long field (a Case's Description holds 32,000 characters), and each
// event fans out to every stream and webhook. Longer text is cut at ingest.
const (
	MaxSubjectBytes = 1024 // the subject
	MaxLabelBytes   = 255  // the category, the customer, and each tag
	MaxTags         = 50   // tags beyond these are dropped
)

// cleanItem removes what no store or CRM field can hold from the text of
// an item: NUL characters, and bytes that are not UTF-8 (replaced by
// U+FFFD); and cuts what the interaction shows to its limits.
func cleanItem(item contactpad.WorkItem) contactpad.WorkItem {
	item.Subject = cut(cleanText(item.Subject), MaxSubjectBytes)
	item.Category = cut(cleanText(item.Category), MaxLabelBytes)
	item.Customer = cut(cleanText(item.Customer), MaxLabelBytes)
	if item.Tags != nil {
		tags := make([]string, min(len(item.Tags), MaxTags))
		for k := range tags {
			tags[k] = cut(cleanText(item.Tags[k]), MaxLabelBytes)
		}
		item.Tags = tags
	}
	if item.CRM != nil {
		crm := *item.CRM
		crm.ChangedBy = cleanText(crm.ChangedBy)
		if crm.Fields != nil {
			crm.Fields = make(map[string]any, len(item.CRM.Fields))
			for f, v := range item.CRM.Fields {
				if s, ok := v.(string); ok {
					v = cleanText(s)
				}
				crm.Fields[f] = v
			}
		}
		item.CRM = &crm
	}
	return item
}

// uncleanFields names the fields of an item whose text cleanItem changes
// (subject, tags[1], crm.fields.note, crm.changed_by), for a log line
// that names them and not their values; nil when there are none.
func uncleanFields(item contactpad.WorkItem) []string {
	var out []string
	check := func(field, s string, limit int) {
		if cut(cleanText(s), limit) != s {
			out = append(out, field)
		}
	}
	check("subject", item.Subject, MaxSubjectBytes)
	check("category", item.Category, MaxLabelBytes)
	check("customer", item.Customer, MaxLabelBytes)
	for k, t := range item.Tags {
		check(fmt.Sprintf("tags[%d]", k), t, MaxLabelBytes)
	}
	if len(item.Tags) > MaxTags {
		out = append(out, "tags")
	}
	if item.CRM != nil {
		check("crm.changed_by", item.CRM.ChangedBy, len(item.CRM.ChangedBy))
		for _, f := range slices.Sorted(maps.Keys(item.CRM.Fields)) {
			if s, ok := item.CRM.Fields[f].(string); ok {
				check("crm.fields."+f, s, len(s))
			}
		}
	}
	return out
}

// cut returns s cut to at most limit bytes, at a character boundary.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit]
}

// cleanText drops NUL characters and replaces invalid UTF-8.
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func setValue(m map[string]any, k string, v any) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	m[k] = v
	return m
}

// sameSync reports whether two sync states hold the same values.
func sameSync(a, b contactpad.RecordSync) bool {
	return a.Unmatched == b.Unmatched && a.Service == b.Service && slices.Equal(a.Dirty, b.Dirty) && sameValues(a.Known, b.Known) &&
		sameValues(a.Want, b.Want) && sameSent(a.Sent, b.Sent) && equalTime(a.AcceptedAt, b.AcceptedAt) &&
		equalTime(a.Modified, b.Modified) && equalTime(a.ReadSent, b.ReadSent)
}

func sameSent(a, b map[string][]any) bool {
	if len(a) != len(b) {
		return false
	}
	for f, vs := range a {
		if !slices.EqualFunc(vs, b[f], contactpad.SameValue) {
			return false
		}
	}
	return true
}

func sameValues(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !contactpad.SameValue(v, w) {
			return false
		}
	}
	return true
}

// showValue prints a field value for audit messages.
func showValue(v any) string {
	if v == nil {
		return "(empty)"
	}
	return fmt.Sprint(contactpad.CanonicalNumber(v))
}
