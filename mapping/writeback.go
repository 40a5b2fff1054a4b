package mapping

import (
	"fmt"
	"text/template"

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

// Update returns the fields to PATCH on the record crmID for the change:
// the status through the status value map (not written for a status the
// map leaves out), the owner's CRM user id (not written when empty), the
// due date as a Salesforce datetime in UTC or nil to clear it, the two
// flags, resumed_from (nil when empty), the service, and the templated
// fields (nil when a template prints nothing). It returns nil when the
// change has no writeback, the mapping has no writeback section, or there
// is nothing to write. An error means a template failed at run time.
func (m *Mapping) Update(c contactpad.RecordChange, crmID string) (map[string]any, error) {
	wb := m.writeback
	if c.Writeback == nil || wb == nil {
		return nil, nil
	}
	w := c.Writeback
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
	data := m.templateData(c, crmID)
	for _, f := range wb.fields {
		v, err := f.value(data)
		if err != nil {
			return nil, fmt.Errorf("writeback %s %s: %w", m.Object, crmID, err)
		}
		out[f.name] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
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
