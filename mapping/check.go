package mapping

import (
	"fmt"
	"strings"
)

// CheckFields checks every field the mapping reads or writes against
// described, the field names of each object as the CRM's describe call
// reports them (object name to field names), matching names
// case-insensitively as Salesforce does. A relationship path such as
// Contact.Name needs the lookup field behind it (ContactId, or Foo__c for
// Foo__r) and, when described has an object of the relationship's name,
// the field on that object. The error is an Errors with one entry per
// unknown object or field, at the line that names it. The filter is not
// checked: it is SOQL, which only the CRM can check (FilterCheck).
func (m *Mapping) CheckFields(described map[string][]string) error {
	objects := map[string]map[string]bool{}
	for object, fields := range described {
		set := map[string]bool{}
		for _, f := range fields {
			set[strings.ToLower(f)] = true
		}
		objects[strings.ToLower(object)] = set
	}
	var errs Errors
	add := func(line int, path, format string, args ...any) {
		errs = append(errs, &Error{File: m.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	fields, ok := objects[strings.ToLower(m.Object)]
	if !ok {
		add(m.objLine, m.path+".object", "object %s is not in describe (no such object, or the integration user cannot see it)", m.Object)
	} else {
		for _, r := range m.reads {
			m.checkRead(r, fields, objects, add)
		}
		for _, w := range m.writes {
			if !fields[strings.ToLower(w.name)] {
				add(w.line, w.path, "unknown field %s on %s", w.name, m.Object)
			}
		}
	}
	if a := m.audit; a != nil {
		fields, ok := objects[strings.ToLower(a.object)]
		if !ok {
			add(a.objectLine, m.path+".audit.object", "object %s is not in describe (no such object, or the integration user cannot see it)", a.object)
			return errs.Err()
		}
		for _, w := range a.writes {
			if !fields[strings.ToLower(w.name)] {
				add(w.line, w.path, "unknown field %s on %s", w.name, a.object)
			}
		}
	}
	return errs.Err()
}

// checkRead checks one field or relationship path the mapping reads.
func (m *Mapping) checkRead(r fieldRef, fields map[string]bool, objects map[string]map[string]bool, add func(int, string, string, ...any)) {
	segs := strings.Split(r.name, ".")
	if len(segs) == 1 {
		if !fields[strings.ToLower(r.name)] {
			add(r.line, r.path, "unknown field %s on %s", r.name, m.Object)
		}
		return
	}
	relationship := segs[0]
	lookup := relationship + "Id"
	if strings.HasSuffix(strings.ToLower(relationship), "__r") {
		lookup = relationship[:len(relationship)-3] + "__c"
	}
	if !fields[strings.ToLower(lookup)] {
		add(r.line, r.path, "unknown relationship %s on %s (it has no field %s)", relationship, m.Object, lookup)
		return
	}
	target, ok := objects[strings.ToLower(relationship)]
	if !ok || len(segs) != 2 {
		return
	}
	if !target[strings.ToLower(segs[1])] {
		add(r.line, r.path, "unknown field %s on %s (in %s)", segs[1], relationship, r.name)
	}
}

// FilterCheck returns a query with the mapping's filter, for the CRM to
// check its SOQL (CheckFields does not), and where the filter is, for the
// error: "" when it has none. The query also asks for an Id no record has,
// so that the org checks the filter without scanning for it: in a large
// org a filter that is not selective on its own times out (the polls'
// queries are selective by SystemModstamp).
func (m *Mapping) FilterCheck() (query string, at *Error) {
	if m.Filter == "" {
		return "", nil
	}
	return "SELECT Id FROM " + m.Object + " WHERE " + m.filterClause(false) + " AND Id = '000000000000000AAA' LIMIT 1",
		&Error{File: m.file, Line: m.filterLine, Path: m.path + ".filter"}
}
