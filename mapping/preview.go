package mapping

import (
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Preview is what a mapping makes of one record, for an admin to check
// before deploying it (ctibridge mapping preview): the work item, what the
// bridge does at its first sight, and what it writes to the record and
// creates for the audit trail along a sample story of its interaction.
type Preview struct {
	// Query is the SOQL query that reads the mapping's records.
	Query string `json:"query"`
	// Item is the work item the record becomes.
	Item contactpad.WorkItem `json:"item"`
	// FirstSight says what the interaction is when the bridge first sees
	// the record: adopted as the record shows it, or reset to new work.
	FirstSight string `json:"first_sight"`
	// Changes are the sample story's steps, in order.
	Changes []PreviewChange `json:"changes"`
	// Skipped are the steps of the sample story that cannot happen to
	// this record, each with why (its media type may not be deferred, it
	// is adopted already worked or ended).
	Skipped []string `json:"skipped,omitempty"`
}

// PreviewChange is one step of the sample story and what the bridge
// writes for it.
type PreviewChange struct {
	// Name says what happened, e.g. "deferred by the agent for a day".
	Name string `json:"name"`
	// Change is the interaction's mirrored state and audit entry.
	Change contactpad.RecordChange `json:"change"`
	// Update is the fields written to the record (nil: none): only those
	// the step changed that the record does not hold already.
	Update map[string]any `json:"update"`
	// Audit is the audit record (nil: none).
	Audit *AuditRecord `json:"audit"`
}

// The sample agent of a preview's story when no agents are given.
const (
	PreviewAgent     = "agent"
	PreviewCRMUserID = "005000000000001AAA"
)

// Preview maps r and runs a sample story of its interaction at now through
// the rules the bridge runs by (contactpad.RecordSync), so that it shows
// the writes ctibridge run would make: first sight (per the sync policy),
// offered to an agent, accepted, deferred for a day, reopened at the due
// date, released into wrap-up, completed, and resumed from History. The
// story starts where first sight leaves the interaction (work adopted as
// an agent's is not offered; deferred work reopens; ended work can only be
// resumed), and leaves out what matrix forbids for the media type (nil: it
// forbids nothing): Skipped says which steps and why. The record's own
// field values are what the CRM holds at the start; each step writes only
// what it changed and the record does not hold, and the CRM is taken to
// accept every write. agents are the configured agents: a record one of
// them owns is adopted as theirs and they work the story, else the first
// one does (none: a sample agent). The error is Item's, or a template's
// that failed at run time.
func (m *Mapping) Preview(r Record, now time.Time, agents []contactpad.Agent, matrix contactpad.Matrix) (*Preview, error) {
	item, err := m.Item(r)
	if err != nil {
		return nil, err
	}
	agentOf := func(crmUserID string) string {
		for _, a := range agents {
			if a.CRMUserID == crmUserID {
				return a.ID
			}
		}
		return ""
	}
	worker := contactpad.Agent{ID: PreviewAgent, CRMUserID: PreviewCRMUserID}
	if len(agents) > 0 {
		worker = agents[0]
	}
	now = now.UTC()
	p := &Preview{Query: m.Query(time.Time{}), Item: item}
	var sync contactpad.RecordSync
	if item.CRM != nil {
		sync.Known = contactpad.RecordSync{Known: item.CRM.Fields}.Clone().Known
	}
	start := contactpad.Writeback{Status: contactpad.Queued, Service: item.Service}
	firstAudit := contactpad.AuditCreated
	if m.sync.FirstSight == contactpad.Reset {
		p.FirstSight = "reset: queued as new work, the mirrored fields written over"
	} else {
		firstAudit = ""
		view := m.Read(sync.Known)
		if view.Status == contactpad.Deferred && matrix != nil && !matrix.Allows(item.Media, contactpad.ActionDefer) {
			view.Status = "" // adopted open, as the bridge adopts it
		}
		status, owner, waiting := view.Adopted(agentOf)
		start.Status = status
		if owner != "" && status.Worked() {
			start.Owner = owner
			for _, a := range agents {
				if a.ID == owner {
					start.OwnerCRMUserID = a.CRMUserID
					worker = a
				}
			}
		}
		p.FirstSight = "adopted as " + string(status)
		switch {
		case owner != "":
			p.FirstSight += ", owned by " + owner
		case waiting != "":
			p.FirstSight += ", waiting for " + waiting
		}
		p.FirstSight += ": nothing is written"
		if sync.Want, err = m.Fields(item.CRMID, start); err != nil {
			return nil, err
		}
	}
	due := now.Add(24 * time.Hour)
	later := due.Add(time.Hour)
	owned := func(w contactpad.Writeback) contactpad.Writeback {
		w.Owner, w.OwnerCRMUserID, w.Service = worker.ID, worker.CRMUserID, item.Service
		return w
	}
	entry := func(n int, at time.Time, actor string, action contactpad.AuditAction, category contactpad.AuditCategory, from, to contactpad.Status, msg string, data map[string]string) *contactpad.AuditEntry {
		return &contactpad.AuditEntry{ID: fmt.Sprintf("preview-%d", n), InteractionID: "preview", At: at, Actor: actor,
			Action: action, Category: category, FromStatus: from, ToStatus: to, Message: msg, Data: data}
	}
	story := []struct {
		name  string
		wb    contactpad.Writeback
		audit *contactpad.AuditEntry
	}{
		{"first sight", start, nil},
		{"offered to an agent", contactpad.Writeback{Status: contactpad.Offered, Service: item.Service},
			entry(1, now, contactpad.ActorSystem, contactpad.AuditOffered, contactpad.CategoryRouting, contactpad.Queued, contactpad.Offered, "Offered to "+worker.ID, nil)},
		{"accepted by the agent", owned(contactpad.Writeback{Status: contactpad.Connected}),
			entry(2, now, worker.ID, contactpad.AuditAccepted, contactpad.CategoryAccept, contactpad.Offered, contactpad.Connected, "Accepted by "+worker.ID, nil)},
		{"deferred by the agent for a day", owned(contactpad.Writeback{Status: contactpad.Deferred, DueBy: &due, DueBySetManually: true}),
			entry(3, now, worker.ID, contactpad.AuditDeferred, contactpad.CategoryStatusAction, contactpad.Connected, contactpad.Deferred,
				"Deferred until "+due.Format(time.RFC3339),
				map[string]string{"due_by": due.Format(time.RFC3339), "due_by_was_set_manually": "true"})},
		{"reopened at the due date", owned(contactpad.Writeback{Status: contactpad.Connected, DueBySetManually: true, AutoOpenedDueToDueDate: true}),
			entry(4, due, contactpad.ActorSystem, contactpad.AuditReopened, contactpad.CategorySystem, contactpad.Deferred, contactpad.Connected,
				"Reopened at its due date into "+worker.ID+"'s Ongoing folder",
				map[string]string{"reopen_reason": contactpad.ReopenDueDate})},
		{"released into wrap-up", owned(contactpad.Writeback{Status: contactpad.WrapUp, DueBySetManually: true, AutoOpenedDueToDueDate: true}),
			entry(5, later, worker.ID, contactpad.AuditReleased, contactpad.CategoryRelease, contactpad.Connected, contactpad.WrapUp, "Released by "+worker.ID, nil)},
		{"completed after wrap-up", owned(contactpad.Writeback{Status: contactpad.Completed, DueBySetManually: true, AutoOpenedDueToDueDate: true}),
			entry(6, later, contactpad.ActorSystem, contactpad.AuditCompleted, contactpad.CategoryWrapUp, contactpad.WrapUp, contactpad.Completed, "Wrap-up time ended", nil)},
		{"resumed from History", owned(contactpad.Writeback{Status: contactpad.Connected, DueBySetManually: true,
			ResumedFrom: contactpad.ResumedFromCompleted}),
			entry(7, later.Add(time.Hour), worker.ID, contactpad.AuditResumed, contactpad.CategoryStatusAction, contactpad.Completed,
				contactpad.Connected, "Interaction resumed by an agent",
				map[string]string{"resumed_from": contactpad.ResumedFromCompleted})},
	}
	adopted := start.Status
	allows := func(a contactpad.Action) bool { return matrix == nil || matrix.Allows(item.Media, a) }
	deferred := false
	manual, auto := start.DueBySetManually, start.AutoOpenedDueToDueDate
	for k, step := range story {
		if why := previewSkip(k, adopted, item.Media, allows, deferred); why != "" {
			p.Skipped = append(p.Skipped, step.name+": "+why)
			continue
		}
		deferred = deferred || k == 3
		// The flags are what the story's steps so far set: deferred by
		// the agent, reopened at the due date, then resumed.
		switch k {
		case 3:
			manual = true
		case 4:
			auto = true
		case 7:
			auto = false
		}
		if k > 0 {
			step.wb.DueBySetManually, step.wb.AutoOpenedDueToDueDate = manual, auto
		}
		audit := step.audit
		if k == 0 && firstAudit != "" {
			audit = entry(0, now, contactpad.ActorSystem, firstAudit, contactpad.CategoryRouting, "", contactpad.Queued,
				"Created from "+item.CRMObject+" "+item.CRMID, nil)
		}
		want, err := m.Fields(item.CRMID, step.wb)
		if err != nil {
			return nil, err
		}
		sync.Change(want, nil)
		update := sync.Writes()
		sync.Accepted(update, now)
		wb := step.wb
		change := contactpad.RecordChange{Writeback: &wb, Audit: audit, Fields: update}
		rec, err := m.Audit(change, item.CRMID)
		if err != nil {
			return nil, err
		}
		p.Changes = append(p.Changes, PreviewChange{Name: step.name, Change: change, Update: update, Audit: rec})
	}
	return p, nil
}

// previewSkip says why step k of the preview's story cannot happen to work
// adopted as adopted, of media, with allows the capability matrix's cells
// and deferred whether the story deferred it; "" when it can.
func previewSkip(k int, adopted contactpad.Status, media contactpad.Media, allows func(contactpad.Action) bool, deferred bool) string {
	switch k {
	case 1, 2: // offered, accepted
		if adopted != contactpad.Queued {
			return "adopted as " + string(adopted) + ", it is not offered"
		}
	case 3: // deferred
		switch {
		case adopted.Ended() || adopted == contactpad.Deferred:
			return "adopted as " + string(adopted)
		case !allows(contactpad.ActionDefer):
			return string(media) + " interactions are not deferred"
		}
	case 4: // reopened at the due date
		if !deferred && adopted != contactpad.Deferred {
			return "never deferred"
		}
	case 5, 6: // released, completed
		if adopted.Ended() {
			return "adopted as " + string(adopted)
		}
	case 7: // resumed from History
		if !allows(contactpad.ActionResume) {
			return string(media) + " interactions are not resumed"
		}
	}
	return ""
}
