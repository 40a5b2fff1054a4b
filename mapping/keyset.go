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
	q := m.Query(time.Time{})
	head, order, _ := strings.Cut(q, " ORDER BY ")
	if !at.IsZero() {
		stamp := soqlDateTime(at)
		keyset := "SystemModstamp > " + stamp
		if afterID != "" {
			keyset = fmt.Sprintf("(SystemModstamp > %s OR (SystemModstamp = %s AND Id > '%s'))",
				stamp, stamp, strings.ReplaceAll(afterID, "'", `\'`))
		}
		if strings.Contains(head, " WHERE ") {
			head += " AND " + keyset
		} else {
			head += " WHERE " + keyset
		}
	}
	q = head + " ORDER BY " + order
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	return q
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
