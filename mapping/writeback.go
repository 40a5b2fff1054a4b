package mapping

import (
	"fmt"
	"text/template"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// writeback names the record fields that mirror the interaction. An empty
// name leaves the value unwritten.
type writeback struct {
	status *statusField
	// owner receives Writeback.OwnerCRMUserID.
	owner                  string
	dueBy                  string
	dueBySetManually       string
	autoOpenedDueToDueDate string
	resumedFrom            string
	service                string
	// pauseSLA is a checkbox set while the interaction is deferred, which
	// stops the record's entitlement clock (Case.IsStopped).
	pauseSLA string
	// fields are further fields, set from templates or constants.
	fields []customField
}

// statusField writes the interaction status, translated by values when
// there are values: a status missing from them is not written.
type statusField struct {
	field  string
	values map[contactpad.Status]string
}

// customField is one field of a writeback or audit record: a template over
// TemplateData, or a constant (boolean, number or null) from the YAML.
type customField struct {
	name     string
	tmpl     *template.Template
	constant any
	path     string
	line     int
}

// value returns the field's value for data: the constant, or the
// template's output with "" as nil.
func (f customField) value(data TemplateData) (any, error) {
	if f.tmpl == nil {
		return f.constant, nil
	}
	out, err := execute(f.tmpl, data)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", f.name, f.path, err)
	}
	if out == "" {
		return nil, nil
	}
	return out, nil
}

// audit says what record each audit entry becomes.
type audit struct {
	object     string
	objectLine int
	externalID string
	when       *condition
	fields     []customField
	// writes are the fields of object that the audit record sets.
	writes []fieldRef
}

// AuditRecord is the CRM record of one audit entry. The writer upserts it
// by ExternalIDField = ExternalID, so that a retried call updates the
// record it already created instead of adding another.
type AuditRecord struct {
	// Object is the record's object, e.g. Task.
	Object string `json:"object"`
	// ExternalIDField is the external id field, e.g. Ctibridge_Audit_Id__c.
	ExternalIDField string `json:"external_id_field"`
	// ExternalID is the audit entry's ID.
	ExternalID string `json:"external_id"`
	// Fields are the record's fields, the external id field included.
	Fields map[string]any `json:"fields"`
}

// Fields returns the values the record crmID's mirrored fields should have
// for the interaction state wb (adapter.Mirror): the status through the
// status value map (absent for a status the map leaves out), the owner's
// CRM user id (absent while the work has no owner: Salesforce allows no
// empty owner), the due date as a Salesforce datetime in UTC or nil, the
// two flags, resumed_from (nil when empty), the service, pause_sla (true
// while deferred), and the templated fields (nil when a template prints
// nothing). Values are canonical (see CanonicalValue). It returns nil when
// the mapping has no writeback section. An error means a template failed
// at run time. Writeback templates see the change's Writeback, CRMID and
// Object; the audit entry's names are empty in them.
func (m *Mapping) Fields(crmID string, w contactpad.Writeback) (map[string]any, error) {
	wb := m.writeback
	if wb == nil {
		return nil, nil
	}
	out := map[string]any{}
	if s := wb.status; s != nil {
		switch v, ok := s.values[w.Status]; {
		case s.values == nil:
			out[s.field] = string(w.Status)
		case ok:
			out[s.field] = v
		}
	}
	if wb.owner != "" && w.OwnerCRMUserID != "" {
		out[wb.owner] = w.OwnerCRMUserID
	}
	if wb.dueBy != "" {
		if w.DueBy == nil {
			out[wb.dueBy] = nil
		} else {
			out[wb.dueBy] = soqlDateTime(*w.DueBy)
		}
	}
	if wb.dueBySetManually != "" {
		out[wb.dueBySetManually] = w.DueBySetManually
	}
	if wb.autoOpenedDueToDueDate != "" {
		out[wb.autoOpenedDueToDueDate] = w.AutoOpenedDueToDueDate
	}
	if wb.resumedFrom != "" {
		out[wb.resumedFrom] = orNil(w.ResumedFrom)
	}
	if wb.service != "" {
		out[wb.service] = orNil(w.Service)
	}
	if wb.pauseSLA != "" {
		out[wb.pauseSLA] = w.Status == contactpad.Deferred
	}
	data := m.templateData(contactpad.RecordChange{Writeback: &w}, crmID)
	for _, f := range wb.fields {
		v, err := f.value(data)
		if err != nil {
			return nil, fmt.Errorf("writeback %s %s: %w", m.Object, crmID, err)
		}
		out[f.name] = CanonicalValue(v)
	}
	return out, nil
}

// Read says what values of the mirrored fields mean for an interaction
// (adapter.Mirror): the status the status field's value stands for (with
// a value map, the first status in lifecycle order that maps to it; none
// for a value no status maps to), the owner's CRM user id, the due date
// and its set-manually flag. Fields are matched by the names the mapping
// writes.
func (m *Mapping) Read(fields map[string]any) contactpad.RecordView {
	var v contactpad.RecordView
	wb := m.writeback
	if wb == nil {
		return v
	}
	if s := wb.status; s != nil {
		value, _ := fields[s.field].(string)
		for _, status := range contactpad.Statuses {
			if mapped, ok := s.values[status]; ok && mapped == value || s.values == nil && string(status) == value {
				v.Status = status
				break
			}
		}
	}
	if wb.owner != "" {
		v.OwnerCRMUserID, _ = fields[wb.owner].(string)
	}
	if wb.dueBy != "" {
		if s, _ := fields[wb.dueBy].(string); s != "" {
			if t, ok := parseDateTime(s); ok {
				v.DueBy = &t
			}
		}
	}
	if b, ok := fields[wb.dueBySetManually].(bool); ok && wb.dueBySetManually != "" {
		v.DueBySetManually = &b
	}
	return v
}

// Policy is how the bridge treats changes made to the records in the CRM
// (adapter.Mirror): the sync section.
func (m *Mapping) Policy() contactpad.PeerPolicy { return m.sync }

// Observe returns the values the record shows of the fields the mapping
// writes, canonical, by the names the mapping writes them under; nil when
// the mapping writes no field of the record.
func (m *Mapping) Observe(r Record) map[string]any {
	if len(m.writes) == 0 {
		return nil
	}
	out := make(map[string]any, len(m.writes))
	for _, w := range m.writes {
		v, _ := lookup(r, w.name)
		out[w.name] = CanonicalValue(v)
	}
	return out
}

// CanonicalValue is the form in which a field value is compared with
// another: numbers as float64, Salesforce datetimes in UTC as
// 2026-11-22T10:00:00.000Z (the form the writeback writes), the rest as
// it is.
func CanonicalValue(v any) any {
	v = contactpad.CanonicalNumber(v)
	if s, ok := v.(string); ok {
		if t, ok := parseDateTime(s); ok {
			return soqlDateTime(t)
		}
	}
	return v
}

// parseDateTime reads a Salesforce datetime: 2026-11-22T10:00:00.000+0000
// as the REST API returns it, or with Z or an offset with a colon.
func parseDateTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[10] != 'T' {
		return time.Time{}, false
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.000Z07:00",
		"2006-01-02T15:04:05Z07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// orNil returns s, or nil (which clears a CRM field) when s is empty.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Audit returns the record that the change's audit entry becomes, or nil
// when the change has no audit entry, the mapping has no audit section, or
// the section's when condition does not hold for the entry. A template
// that prints nothing leaves its field out of the record, so that the
// object's default applies. An error means the entry has no ID, or a
// condition or template failed at run time.
func (m *Mapping) Audit(c contactpad.RecordChange, crmID string) (*AuditRecord, error) {
	a := m.audit
	if c.Audit == nil || a == nil {
		return nil, nil
	}
	if c.Audit.ID == "" {
		return nil, fmt.Errorf("audit %s %s: the audit entry has no ID to upsert by", m.Object, crmID)
	}
	data := m.templateData(c, crmID)
	if a.when != nil {
		ok, err := a.when.holds(data.exprEnv())
		if err != nil {
			return nil, fmt.Errorf("audit %s %s: %s: %w", m.Object, crmID, a.when.path, err)
		}
		if !ok {
			return nil, nil
		}
	}
	rec := &AuditRecord{Object: a.object, ExternalIDField: a.externalID, ExternalID: c.Audit.ID,
		Fields: map[string]any{a.externalID: c.Audit.ID}}
	for _, f := range a.fields {
		v, err := f.value(data)
		if err != nil {
			return nil, fmt.Errorf("audit %s %s: %w", m.Object, crmID, err)
		}
		if v == nil && f.tmpl != nil {
			continue
		}
		rec.Fields[f.name] = v
	}
	return rec, nil
}
