package adapter

import (
	"slices"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Mirror is how the records of one CRM object mirror interactions: the
// record fields the bridge writes for an interaction's state, what the
// values of those fields say when the CRM changes them, and how the
// bridge treats the CRM's own changes. The object's mapping implements it
// (mapping.Mapping). The engine calls it inside store transactions, so it
// must be quick, free of I/O and safe for concurrent use.
type Mirror interface {
	// Fields returns the values the record crmID's mirrored fields should
	// have for wb, canonical (see contactpad.RecordSync). A field the
	// interaction has no value for (the owner while queued) is absent; a
	// field it has no value in (the due date of open work) is nil. An
	// error is a template that failed.
	Fields(crmID string, wb contactpad.Writeback) (map[string]any, error)
	// Read says what values of the mirrored fields (as Fields returns
	// them; some may be absent) mean for the interaction.
	Read(fields map[string]any) contactpad.RecordView
	// Policy is how the bridge treats changes made in the CRM.
	Policy() contactpad.PeerPolicy
}

// WritebackMirror mirrors an interaction's Writeback field by field, each
// under its JSON name ("status", "owner_crm_user_id", "due_by", ...), with
// the default PeerPolicy. The engine uses it for CRM objects that
// Settings.Mirrors does not name; tests use it to play a CRM.
type WritebackMirror struct{}

// Fields implements Mirror.
func (WritebackMirror) Fields(_ string, wb contactpad.Writeback) (map[string]any, error) {
	out := map[string]any{
		"status":                      string(wb.Status),
		"due_by":                      nil,
		"due_by_was_set_manually":     wb.DueBySetManually,
		"auto_opened_due_to_due_date": wb.AutoOpenedDueToDueDate,
		"resumed_from":                orNil(wb.ResumedFrom),
		"service":                     orNil(wb.Service),
	}
	if wb.OwnerCRMUserID != "" {
		out["owner_crm_user_id"] = wb.OwnerCRMUserID
	}
	if wb.DueBy != nil {
		out["due_by"] = wb.DueBy.UTC().Format(time.RFC3339Nano)
	}
	return out, nil
}

// Read implements Mirror.
func (WritebackMirror) Read(fields map[string]any) contactpad.RecordView {
	var v contactpad.RecordView
	if s, _ := fields["status"].(string); slices.Contains(contactpad.Statuses, contactpad.Status(s)) {
		v.Status = contactpad.Status(s)
	}
	v.OwnerCRMUserID, _ = fields["owner_crm_user_id"].(string)
	if s, _ := fields["due_by"].(string); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			// A CRM date field holds later times than the stores do.
			if t.After(MaxTime) {
				t = MaxTime
			}
			v.DueBy = &t
		}
	}
	if b, ok := fields["due_by_was_set_manually"].(bool); ok {
		v.DueBySetManually = &b
	}
	return v
}

// Policy implements Mirror.
func (WritebackMirror) Policy() contactpad.PeerPolicy { return contactpad.PeerPolicy{} }

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// mirror returns the Mirror of a CRM object.
func (c *change) mirror(object string) Mirror { return mirrorOf(c.s.Mirrors, object) }

// mirrorOf returns the Mirror of a CRM object among mirrors (Settings.Mirrors).
func mirrorOf(mirrors map[string]Mirror, object string) Mirror {
	if m, ok := mirrors[object]; ok {
		return m
	}
	return WritebackMirror{}
}
