package mapping

import (
	"fmt"
	"strings"
	"time"
)

// QueryAfter returns the SOQL query that reads one page of the mapping's
// records changed after the position (at, afterID): records with a later
// SystemModstamp, or the same SystemModstamp and a greater Id, ordered by
// SystemModstamp then Id, at most limit. Paging by this keyset never skips
// records that share a SystemModstamp across a page boundary (a bulk update
// gives many records the same one) and never needs a server-side cursor.
// A zero at reads from the beginning.
func (m *Mapping) QueryAfter(at time.Time, afterID string, limit int) string {
	return m.query(m.filterClause(false), at, afterID, limit)
}

// QueryUnmatchedAfter is QueryAfter for the records that do NOT match the
// mapping's filter: a record the bridge works that was closed or filtered
// out in the CRM shows up here. It is "" when the mapping has no filter
// (every record matches).
func (m *Mapping) QueryUnmatchedAfter(at time.Time, afterID string, limit int) string {
	if m.Filter == "" {
		return ""
	}
	return m.query(m.filterClause(true), at, afterID, limit)
}

// QueryIDs returns the SOQL query that reads the records of ids that
// match the mapping's filter, whatever their SystemModstamp: records the
// bridge reads again because they failed to go in, or reads before it
// writes them.
func (m *Mapping) QueryIDs(ids []string) string { return m.queryIDs(ids, m.filterClause(false)) }

// QueryUnmatchedIDs is QueryIDs for the records of ids that do NOT match
// the mapping's filter; "" when the mapping has no filter.
func (m *Mapping) QueryUnmatchedIDs(ids []string) string {
	if m.Filter == "" {
		return ""
	}
	return m.queryIDs(ids, m.filterClause(true))
}

// queryIDs is QueryIDs with the condition where (none: "").
func (m *Mapping) queryIDs(ids []string, where string) string {
	quoted := make([]string, len(ids))
	for k, id := range ids {
		quoted[k] = soqlString(id)
	}
	conds := []string{"Id IN (" + strings.Join(quoted, ", ") + ")"}
	if where != "" {
		conds = append([]string{where}, conds...)
	}
	return "SELECT " + strings.Join(m.selected, ", ") + " FROM " + m.Object +
		" WHERE " + strings.Join(conds, " AND ") + " ORDER BY SystemModstamp, Id"
}

// filterClause is the filter as a condition, or its negation.
func (m *Mapping) filterClause(negate bool) string {
	switch {
	case m.Filter == "":
		return ""
	case negate:
		// SOQL wants NOT in parentheses next to AND.
		return "(NOT (" + m.Filter + "))"
	}
	return "(" + m.Filter + ")"
}

// query is QueryAfter with the condition where (none: "").
func (m *Mapping) query(where string, at time.Time, afterID string, limit int) string {
	var conds []string
	if where != "" {
		conds = append(conds, where)
	}
	if !at.IsZero() {
		stamp := soqlDateTime(at)
		keyset := "SystemModstamp > " + stamp
		if afterID != "" {
			keyset = fmt.Sprintf("(SystemModstamp > %s OR (SystemModstamp = %s AND Id > %s))",
				stamp, stamp, soqlString(afterID))
		}
		conds = append(conds, keyset)
	}
	q := "SELECT " + strings.Join(m.selected, ", ") + " FROM " + m.Object
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY SystemModstamp, Id"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return q
}

// soqlString quotes s as a SOQL string literal.
func soqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Objects lists the CRM objects the mapping reads or writes: its source
// object and its audit object, if any.
func (m *Mapping) Objects() []string {
	out := []string{m.Object}
	if m.audit != nil && m.audit.object != m.Object {
		out = append(out, m.audit.object)
	}
	return out
}
