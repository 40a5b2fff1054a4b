package sim

import (
	"fmt"
	"time"
)

// Omni-Channel external routing, as the local org models it.
//
// A queue (Group of Type Queue) whose QueueRoutingConfig has RoutingModel
// ExternalRouting gets a PendingServiceRouting (PSR) for each work item
// placed in it: a Case or chat transcript created with, or changed to, the
// queue as its OwnerId. The PSR names the work item, the queue (GroupId),
// the ServiceChannel whose RelatedEntity is the item's object, and the
// CapacityWeight of the routing configuration; it waits with IsPushed
// false. The external router then creates an AgentWork (ServiceChannelId,
// WorkItemId, UserId, PendingServiceRoutingId, CapacityWeight): the org
// sets its Status to Assigned and the PSR's IsPushed (and IsPushAttempted)
// to true, and refuses a second AgentWork for a PSR that is pushed already.
//
// What the agent does in the Omni-Channel widget is a control of the org
// (OmniAccept, OmniDecline, OmniPushTimeout), not an API call:
//   - accept: the AgentWork is Opened (AcceptDateTime), the PSR deleted and
//     the work item's owner becomes the agent's user; an earlier Opened
//     AgentWork of the same item (a transfer) becomes Transferred;
//   - decline: the AgentWork is Declined (DeclineDateTime, DeclineReason),
//     the PSR's IsPushed false again and LastDeclinedAgentSession set;
//   - push timeout: the same with Status DeclinedOnPushTimeout.
//
// An AgentWork's Status is not writable over the API. Work closes the way
// the status-based capacity model closes it: when its work item closes (a
// Case's Status Closed, a chat Completed, Missed or Dropped), its Opened
// AgentWork becomes Closed (CloseDateTime), an Assigned one Canceled, and
// its PSR is deleted. So does a PSR whose work item leaves the queue for a
// user outside Omni-Channel. An AgentWork created without a PSR routes the
// item directly to the user (a transfer after the PSR is gone).
//
// The push time-out is the routing configuration's PushTimeout (seconds;
// none when 0 or unset), counted from the AgentWork's AssignedDateTime on
// the org's clock (Options.Now): an AgentWork of the queue still Assigned
// then is DeclinedOnPushTimeout, with DeclineDateTime the moment it timed
// out, and its PSR waits for another push, as OmniPushTimeout does it.
// Salesforce's Help (Routing Configuration Settings, "Push Time-Out
// (seconds)": a time limit for a rep to respond to an item before it is
// pushed to another rep) and the Omni-Channel Developer Guide (Expected
// Behavior for External Routing: on a push time-out the PSR is updated
// with IsPushed false and LastDeclinedAgentSession, and the partner
// creates a new AgentWork) say so. The org times pushes out lazily, when
// it is read or written (an API call, Records, an Omni-Channel control),
// so that tests drive it with the clock alone. An AgentWork without a
// queue (routed to a user directly) has no push time-out here.
//
// Simplified: the agents' Omni-Channel presence and capacity are not
// checked when an AgentWork is created. Salesforce's documentation lists
// Unavailable among AgentWork's statuses but says nothing of what an
// AgentWork created for a user offline in Omni-Channel, or at capacity,
// gets (an error, or that status), so the local org does not invent it.

// The AgentWork statuses.
const (
	WorkAssigned    = "Assigned"
	WorkOpened      = "Opened"
	WorkDeclined    = "Declined"
	WorkPushTimeout = "DeclinedOnPushTimeout"
	WorkUnavailable = "Unavailable"
	WorkClosed      = "Closed"
	WorkCanceled    = "Canceled"
	WorkTransferred = "Transferred"
)

// externalRouting is the routing model of a queue routed by an external router.
const externalRouting = "ExternalRouting"

func omniObjects() []*objectDef {
	createOnly := func(f *fieldDef) *fieldDef {
		f.Updateable = false
		return f
	}
	workItem := func() *fieldDef {
		return fLookup("WorkItemId", "Work Item ID", "WorkItem", "Case", "LiveChatTranscript")
	}
	return []*objectDef{
		{
			Name: "Group", Label: "Group", LabelPlural: "Groups", KeyPrefix: prefixGroup,
			Createable: true, Updateable: true,
			Fields: concat([]*fieldDef{
				fID(),
				fText("Name", "Name", 40).required(),
				unique(fText("DeveloperName", "Developer Name", 80).required()),
				fPicklist("Type", "Type", "Queue", "Regular").defaulted("Queue"),
				fLookup("QueueRoutingConfigId", "Routing Configuration ID", "QueueRoutingConfig", "QueueRoutingConfig"),
			}, systemFields(false)),
		},
		{
			Name: "QueueRoutingConfig", Label: "Routing Configuration", LabelPlural: "Routing Configurations",
			KeyPrefix: prefixRoutingCfg, Createable: true, Updateable: true,
			Fields: concat([]*fieldDef{
				fID(),
				unique(fText("DeveloperName", "Developer Name", 80).required()),
				fText("MasterLabel", "Label", 80).required(),
				fPicklist("RoutingModel", "Routing Model", "MostAvailable", "LeastActive", externalRouting).required(),
				fDouble("CapacityWeight", "Units of Capacity"),
				fDouble("PushTimeout", "Push Time-Out (seconds)"),
				fDouble("RoutingPriority", "Routing Priority"),
			}, systemFields(false)),
		},
		{
			Name: "ServiceChannel", Label: "Service Channel", LabelPlural: "Service Channels", KeyPrefix: prefixChannel,
			Createable: true, Updateable: true,
			Fields: concat([]*fieldDef{
				fID(),
				unique(fText("DeveloperName", "Developer Name", 80).required()),
				fText("MasterLabel", "Label", 80).required(),
				fPicklist("RelatedEntity", "Salesforce Object", "Case", "LiveChatTranscript").required(),
			}, systemFields(false)),
		},
		{
			Name: "PendingServiceRouting", Label: "Pending Service Routing", LabelPlural: "Pending Service Routing",
			KeyPrefix: prefixPSR, Createable: true, Updateable: true, Deletable: true,
			Fields: concat([]*fieldDef{
				fID(),
				workItem().required(),
				fLookup("ServiceChannelId", "Service Channel ID", "ServiceChannel", "ServiceChannel").required(),
				fLookup("GroupId", "Group ID", "Group", "Group"),
				fPicklist("RoutingModel", "Routing Model", "MostAvailable", "LeastActive", externalRouting),
				fPicklist("RoutingType", "Routing Type", "QueueBased", "SkillsBased"),
				fDouble("CapacityWeight", "Capacity Weight"),
				fDouble("RoutingPriority", "Routing Priority"),
				fBool("IsPushed", "Pushed").readOnly(),
				fBool("IsPushAttempted", "Push Attempted").readOnly(),
				fBool("IsTransfer", "Transfer"),
				fBool("IsReadyForRouting", "Ready for Routing").defaulted(true),
				fText("LastDeclinedAgentSession", "Last Declined Agent Session", 255).readOnly(),
				fDateTime("CustomRequestedDateTime", "Custom Requested Date Time"),
			}, systemFields(true)),
		},
		{
			Name: "AgentWork", Label: "Agent Work", LabelPlural: "Agent Work", KeyPrefix: prefixAgentWork,
			Createable: true, Updateable: true, Deletable: true,
			Fields: concat([]*fieldDef{
				fID(),
				createOnly(fLookup("ServiceChannelId", "Service Channel ID", "ServiceChannel", "ServiceChannel").required()),
				createOnly(workItem().required()),
				createOnly(fLookup("UserId", "User ID", "User", "User").required()),
				createOnly(fLookup("PendingServiceRoutingId", "Pending Service Routing ID", "PendingServiceRouting",
					"PendingServiceRouting")),
				createOnly(fDouble("CapacityWeight", "Units of Capacity")),
				createOnly(fDouble("CapacityPercentage", "Percentage of Capacity")),
				fPicklist("Status", "Status", WorkAssigned, WorkUnavailable, WorkDeclined, WorkOpened, WorkClosed,
					WorkPushTimeout, WorkCanceled, WorkTransferred).readOnly(),
				fLookup("OriginalQueueId", "Original Queue ID", "OriginalQueue", "Group").readOnly(),
				fDateTime("AssignedDateTime", "Assign Date").readOnly(),
				fDateTime("AcceptDateTime", "Accept Date").readOnly(),
				fDateTime("DeclineDateTime", "Decline Date").readOnly(),
				fText("DeclineReason", "Decline Reason", 255).readOnly(),
				fDateTime("CloseDateTime", "Close Date").readOnly(),
				fDateTime("CancelDateTime", "Cancel Date").readOnly(),
			}, systemFields(true)),
		},
	}
}

// system is a writer for what the org does by itself (Omni-Channel's own
// saves): no field-level security, no API write, in w's transaction.
func (o *Org) system(w *writer, user string) *writer {
	if user == "" {
		user = o.adminID
	}
	return &writer{tx: w.tx, user: user, seeding: true}
}

// liveRows returns the live records of object whose field equals value, in
// creation order.
func (o *Org) liveRows(object, field string, value any) []*row {
	var out []*row
	for _, r := range o.tableFor(o.schema.object(object)).rowsInOrder() {
		if !r.deleted && r.vals[field] == value {
			out = append(out, r)
		}
	}
	return out
}

func dml(code, format string, args ...any) *dmlError {
	return &dmlError{code: code, msg: fmt.Sprintf(format, args...)}
}

// omniBeforeCreate checks an AgentWork an API client creates against its
// PSR and sets what the org sets on it. Other objects pass.
func (o *Org) omniBeforeCreate(w *writer, obj *objectDef, vals map[string]any, now time.Time) *dmlError {
	if obj.Name != "AgentWork" || w.seeding {
		return nil
	}
	item, _ := vals["WorkItemId"].(string)
	if u := o.liveRecord(vals["UserId"].(string)); u == nil || u.vals["IsActive"] != true {
		return &dmlError{code: "INACTIVE_OWNER_OR_USER", fields: []string{"UserId"}, msg: "the user is not active"}
	}
	vals["Status"], vals["AssignedDateTime"] = WorkAssigned, now
	psrID, _ := vals["PendingServiceRoutingId"].(string)
	if psrID == "" {
		return nil
	}
	psr := o.liveRecord(psrID)
	switch {
	case psr.vals["WorkItemId"] != item:
		return &dmlError{code: "FIELD_INTEGRITY_EXCEPTION", fields: []string{"WorkItemId"},
			msg: "WorkItemId must be the work item of PendingServiceRouting " + psrID}
	case psr.vals["ServiceChannelId"] != vals["ServiceChannelId"]:
		return &dmlError{code: "FIELD_INTEGRITY_EXCEPTION", fields: []string{"ServiceChannelId"},
			msg: "ServiceChannelId must be the service channel of PendingServiceRouting " + psrID}
	case psr.vals["IsPushed"] == true:
		return &dmlError{code: "FIELD_INTEGRITY_EXCEPTION", fields: []string{"PendingServiceRoutingId"},
			msg: "PendingServiceRouting " + psrID + " is already pushed to an agent"}
	}
	vals["OriginalQueueId"] = psr.vals["GroupId"]
	return nil
}

// omniAfterCreate is what the org does once a record is created: a work
// item placed in an external routing queue gets its PSR; an AgentWork
// pushes its PSR.
func (o *Org) omniAfterCreate(w *writer, r *row) *dmlError {
	switch r.obj.Name {
	case "Case", "LiveChatTranscript":
		return o.enqueue(w, r)
	case "AgentWork":
		psrID, _ := r.vals["PendingServiceRoutingId"].(string)
		if psrID == "" || w.seeding {
			return nil
		}
		return o.update(o.system(w, ""), o.schema.object("PendingServiceRouting"), psrID,
			map[string]any{"IsPushed": true, "IsPushAttempted": true})
	}
	return nil
}

// omniAfterUpdate follows a work item's change: closed, its work closes;
// moved into an external routing queue, it gets a PSR; moved out of one
// to a user, its routing is withdrawn.
func (o *Org) omniAfterUpdate(w *writer, r *row, before map[string]any) *dmlError {
	if r.obj.Name != "Case" && r.obj.Name != "LiveChatTranscript" {
		return nil
	}
	if workItemClosed(r.vals) && !workItemClosed(before) {
		return o.closeWork(w, r.id)
	}
	if r.vals["OwnerId"] == before["OwnerId"] {
		return nil
	}
	if o.externalQueue(r.vals["OwnerId"]) != nil {
		return o.enqueue(w, r)
	}
	if o.externalQueue(before["OwnerId"]) != nil {
		return o.withdraw(w, r.id)
	}
	return nil
}

// workItemClosed reports whether a Case or chat transcript has ended.
func workItemClosed(vals map[string]any) bool {
	switch vals["Status"] {
	case "Closed", "Completed", "Missed", "Dropped":
		return true
	}
	return false
}

// externalQueue returns the routing configuration of the queue owner when
// it routes externally, else nil.
func (o *Org) externalQueue(owner any) *row {
	id, _ := owner.(string)
	g := o.liveRecord(id)
	if g == nil || g.obj.Name != "Group" {
		return nil
	}
	cfgID, _ := g.vals["QueueRoutingConfigId"].(string)
	cfg := o.liveRecord(cfgID)
	if cfg == nil || cfg.vals["RoutingModel"] != externalRouting {
		return nil
	}
	return cfg
}

// enqueue makes the PSR of a work item its external routing queue owns,
// unless it has one.
func (o *Org) enqueue(w *writer, item *row) *dmlError {
	cfg := o.externalQueue(item.vals["OwnerId"])
	if cfg == nil || workItemClosed(item.vals) || len(o.liveRows("PendingServiceRouting", "WorkItemId", item.id)) > 0 {
		return nil
	}
	channels := o.liveRows("ServiceChannel", "RelatedEntity", item.obj.Name)
	if len(channels) == 0 {
		return dml("FIELD_INTEGRITY_EXCEPTION", "no service channel routes %s records", item.obj.Name)
	}
	_, err := o.create(o.system(w, ""), o.schema.object("PendingServiceRouting"), map[string]any{
		"WorkItemId": item.id, "ServiceChannelId": channels[0].id, "GroupId": item.vals["OwnerId"],
		"RoutingModel": externalRouting, "RoutingType": "QueueBased", "CapacityWeight": cfg.vals["CapacityWeight"],
		"RoutingPriority": cfg.vals["RoutingPriority"], "IsReadyForRouting": true,
	}, "")
	return err
}

// closeWork ends the routing of a closed work item.
func (o *Org) closeWork(w *writer, itemID string) *dmlError {
	now := o.now().UTC()
	work := o.schema.object("AgentWork")
	for _, aw := range o.liveRows("AgentWork", "WorkItemId", itemID) {
		var set map[string]any
		switch aw.vals["Status"] {
		case WorkOpened:
			set = map[string]any{"Status": WorkClosed, "CloseDateTime": now}
		case WorkAssigned:
			set = map[string]any{"Status": WorkCanceled, "CancelDateTime": now}
		default:
			continue
		}
		if err := o.update(o.system(w, ""), work, aw.id, set); err != nil {
			return err
		}
	}
	return o.withdraw(w, itemID)
}

// withdraw deletes the PSRs of a work item and cancels its assigned work.
func (o *Org) withdraw(w *writer, itemID string) *dmlError {
	now := o.now().UTC()
	for _, aw := range o.liveRows("AgentWork", "WorkItemId", itemID) {
		if aw.vals["Status"] == WorkAssigned {
			if err := o.update(o.system(w, ""), aw.obj, aw.id,
				map[string]any{"Status": WorkCanceled, "CancelDateTime": now}); err != nil {
				return err
			}
		}
	}
	for _, psr := range o.liveRows("PendingServiceRouting", "WorkItemId", itemID) {
		if err := o.remove(o.system(w, ""), psr.obj, psr.id); err != nil {
			return err
		}
	}
	return nil
}

// QueueID returns the id of the queue (Group) with the developer name, or "".
func (o *Org) QueueID(developerName string) string {
	return o.idByDeveloperName("Group", developerName)
}

// ServiceChannelID returns the id of the service channel with the developer name, or "".
func (o *Org) ServiceChannelID(developerName string) string {
	return o.idByDeveloperName("ServiceChannel", developerName)
}

func (o *Org) idByDeveloperName(object, name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if rows := o.liveRows(object, "DeveloperName", name); len(rows) > 0 {
		return rows[0].id
	}
	return ""
}

// OmniAccept is the agent accepting an assigned AgentWork in the
// Omni-Channel widget: the AgentWork is Opened, its PSR deleted and the
// work item owned by the agent. It is no API call.
func (o *Org) OmniAccept(workID string) error {
	return o.omniAnswer(workID, func(w *writer, aw *row, now time.Time) *dmlError {
		itemID := aw.vals["WorkItemId"].(string)
		for _, other := range o.liveRows("AgentWork", "WorkItemId", itemID) {
			if other.vals["Status"] == WorkOpened {
				if err := o.update(w, other.obj, other.id,
					map[string]any{"Status": WorkTransferred, "CloseDateTime": now}); err != nil {
					return err
				}
			}
		}
		if err := o.update(w, aw.obj, aw.id, map[string]any{"Status": WorkOpened, "AcceptDateTime": now}); err != nil {
			return err
		}
		if psrID, _ := aw.vals["PendingServiceRoutingId"].(string); psrID != "" {
			if psr := o.liveRecord(psrID); psr != nil {
				if err := o.remove(w, psr.obj, psr.id); err != nil {
					return err
				}
			}
		}
		item := o.liveRecord(itemID)
		if item == nil {
			return nil
		}
		return o.update(w, item.obj, item.id, map[string]any{"OwnerId": aw.vals["UserId"]})
	})
}

// OmniDecline is the agent declining an assigned AgentWork in the
// Omni-Channel widget: it is Declined and its PSR waits for another push.
func (o *Org) OmniDecline(workID, reason string) error {
	return o.omniAnswer(workID, func(w *writer, aw *row, now time.Time) *dmlError {
		set := map[string]any{"Status": WorkDeclined, "DeclineDateTime": now}
		if reason != "" {
			set["DeclineReason"] = reason
		}
		return o.unpush(w, aw, set)
	})
}

// OmniPushTimeout is an assigned AgentWork left unanswered past the push
// time-out: it is DeclinedOnPushTimeout and its PSR waits for another push.
func (o *Org) OmniPushTimeout(workID string) error {
	return o.omniAnswer(workID, func(w *writer, aw *row, now time.Time) *dmlError {
		return o.unpush(w, aw, map[string]any{"Status": WorkPushTimeout, "DeclineDateTime": now})
	})
}

// unpush ends an AgentWork that was not accepted and sets its PSR back to
// waiting for a push.
func (o *Org) unpush(w *writer, aw *row, set map[string]any) *dmlError {
	if err := o.update(w, aw.obj, aw.id, set); err != nil {
		return err
	}
	psrID, _ := aw.vals["PendingServiceRoutingId"].(string)
	psr := o.liveRecord(psrID)
	if psr == nil {
		return nil
	}
	return o.update(w, psr.obj, psr.id, map[string]any{"IsPushed": false, "LastDeclinedAgentSession": aw.vals["UserId"]})
}

// expirePushes times out, at the org's now, each assigned AgentWork whose
// push time-out is up (see the top of this file). Callers hold o.mu.
func (o *Org) expirePushes() {
	now := o.now().UTC()
	for _, aw := range o.liveRows("AgentWork", "Status", WorkAssigned) {
		due, ok := o.pushDue(aw)
		if !ok || now.Before(due) {
			continue
		}
		w := &writer{tx: &tx{}, user: aw.vals["UserId"].(string), seeding: true}
		if err := o.unpush(w, aw, map[string]any{"Status": WorkPushTimeout, "DeclineDateTime": due}); err != nil {
			w.tx.rollback(0)
		}
	}
}

// pushDue returns when an assigned AgentWork's push times out: its
// AssignedDateTime plus the PushTimeout of its queue's routing
// configuration; false when it has none.
func (o *Org) pushDue(aw *row) (time.Time, bool) {
	assigned, ok := aw.vals["AssignedDateTime"].(time.Time)
	cfg := o.externalQueue(aw.vals["OriginalQueueId"])
	if !ok || cfg == nil {
		return time.Time{}, false
	}
	seconds, _ := cfg.vals["PushTimeout"].(float64)
	if seconds <= 0 {
		return time.Time{}, false
	}
	return assigned.Add(time.Duration(seconds * float64(time.Second))), true
}

// omniAnswer runs what an agent does to an assigned AgentWork, as that
// agent, in one transaction.
func (o *Org) omniAnswer(workID string, answer func(w *writer, aw *row, now time.Time) *dmlError) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expirePushes()
	id, ok := normalizeID(workID)
	aw := o.liveRecord(id)
	if !ok || aw == nil || aw.obj.Name != "AgentWork" {
		return fmt.Errorf("omni: no AgentWork %q", workID)
	}
	if aw.vals["Status"] != WorkAssigned {
		return fmt.Errorf("omni: AgentWork %s is %v, not %s", aw.id, aw.vals["Status"], WorkAssigned)
	}
	w := &writer{tx: &tx{}, user: aw.vals["UserId"].(string), seeding: true}
	if err := answer(w, aw, o.now().UTC()); err != nil {
		w.tx.rollback(0)
		return fmt.Errorf("omni: AgentWork %s: %s: %s", aw.id, err.code, err.msg)
	}
	return nil
}
