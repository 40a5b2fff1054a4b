package mapping

import (
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Preview is what a mapping makes of one record, for an admin to check
// before deploying it (ctibridge mapping preview): the work item, and the
// writeback and audit records of a few sample changes of its interaction.
type Preview struct {
	// Query is the SOQL query that reads the mapping's records.
	Query string `json:"query"`
	// Item is the work item the record becomes.
	Item contactpad.WorkItem `json:"item"`
	// Changes are the sample changes, in the order an interaction could go
	// through them.
	Changes []PreviewChange `json:"changes"`
}

// PreviewChange is one sample change and what the mapping writes for it.
type PreviewChange struct {
	// Name says what happened, e.g. "deferred by an agent".
	Name string `json:"name"`
	// Change is the sample change.
	Change contactpad.RecordChange `json:"change"`
	// Update is the fields PATCHed on the record (nil: none).
	Update map[string]any `json:"update"`
	// Audit is the audit record (nil: none).
	Audit *AuditRecord `json:"audit"`
}

// The sample owner of a preview's changes.
const (
	previewAgent     = "agent"
	previewCRMUserID = "005000000000001AAA"
)

// Preview maps r and runs sample changes through the writeback and audit
// sections, at now: accepted by an agent, deferred by the agent for a day,
// reopened at the due date, completed, and resumed from History. The error
// is Item's, or a template's that failed at run time.
func (m *Mapping) Preview(r Record, now time.Time) (*Preview, error) {
	item, err := m.Item(r)
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	due := now.Add(24 * time.Hour)
	owned := func(status contactpad.Status) *contactpad.Writeback {
		return &contactpad.Writeback{Status: status, Owner: previewAgent, OwnerCRMUserID: previewCRMUserID,
			Service: item.Service}
	}
	entry := func(n int, at time.Time, actor, action, category string, from, to contactpad.Status, msg string, data map[string]string) *contactpad.AuditEntry {
		return &contactpad.AuditEntry{ID: fmt.Sprintf("preview-%d", n), InteractionID: "preview", At: at, Actor: actor,
			Action: action, Category: category, FromStatus: from, ToStatus: to, Message: msg, Data: data}
	}
	accepted := owned(contactpad.Connected)
	deferred := owned(contactpad.Deferred)
	deferred.DueBy, deferred.DueBySetManually = &due, true
	reopened := owned(contactpad.Connected)
	reopened.DueBy, reopened.DueBySetManually, reopened.AutoOpenedDueToDueDate = &due, true, true
	completed := owned(contactpad.Completed)
	resumed := owned(contactpad.Connected)
	resumed.ResumedFrom = contactpad.ResumedFromCompleted
	later := due.Add(time.Hour)
	changes := []struct {
		name string
		c    contactpad.RecordChange
	}{
		{"accepted by an agent", contactpad.RecordChange{Writeback: accepted,
			Audit: entry(1, now, previewAgent, "accepted", "accept", contactpad.Offered, contactpad.Connected,
				"Accepted by "+previewAgent, nil)}},
		{"deferred by the agent for a day", contactpad.RecordChange{Writeback: deferred,
			Audit: entry(2, now, previewAgent, "deferred", "status_action", contactpad.Connected, contactpad.Deferred,
				"Deferred until "+due.Format(time.RFC3339),
				map[string]string{"due_by": due.Format(time.RFC3339), "due_by_was_set_manually": "true"})}},
		{"reopened at the due date", contactpad.RecordChange{Writeback: reopened,
			Audit: entry(3, due, "system", "reopened", "system", contactpad.Deferred, contactpad.Connected,
				"Reopened at its due date into "+previewAgent+"'s Ongoing folder",
				map[string]string{"reopen_reason": contactpad.ReopenDueDate})}},
		{"completed after wrap-up", contactpad.RecordChange{Writeback: completed,
			Audit: entry(4, later, previewAgent, "completed", "wrap_up", contactpad.WrapUp, contactpad.Completed,
				"Completed", nil)}},
		{"resumed from History", contactpad.RecordChange{Writeback: resumed,
			Audit: entry(5, later.Add(time.Hour), previewAgent, "resumed", "status_action", contactpad.Completed,
				contactpad.Connected, "Interaction resumed by an agent",
				map[string]string{"resumed_from": contactpad.ResumedFromCompleted})}},
	}
	p := &Preview{Query: m.Query(time.Time{}), Item: item}
	for _, c := range changes {
		update, err := m.Update(c.c, item.CRMID)
		if err != nil {
			return nil, err
		}
		rec, err := m.Audit(c.c, item.CRMID)
		if err != nil {
			return nil, err
		}
		p.Changes = append(p.Changes, PreviewChange{Name: c.name, Change: c.c, Update: update, Audit: rec})
	}
	return p, nil
}
