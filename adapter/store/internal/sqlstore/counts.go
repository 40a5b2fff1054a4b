package sqlstore

import (
	"fmt"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func (t *Tx) Counts() (adapter.Counts, error) {
	c := adapter.Counts{Interactions: map[contactpad.Status]int{}, Outbox: map[adapter.OutboxState]int{}}
	if err := countBy(t, StmtCountInteractions, c.Interactions); err != nil {
		return adapter.Counts{}, fmt.Errorf("count interactions: %w", err)
	}
	if err := countBy(t, StmtCountOutbox, c.Outbox); err != nil {
		return adapter.Counts{}, fmt.Errorf("count outbox rows: %w", err)
	}
	var n int64
	if err := t.queryRow(StmtCountIngestFailures).Scan(&n); err != nil {
		return adapter.Counts{}, fmt.Errorf("count ingest failures: %w", err)
	}
	c.IngestFailures = int(n)
	return c, nil
}

// countBy runs a "SELECT key, COUNT(*) ... GROUP BY key" statement into into.
func countBy[K ~string](t *Tx, id Stmt, into map[K]int) error {
	rows, err := t.query(id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key string
			n   int64
		)
		if err := rows.Scan(&key, &n); err != nil {
			return err
		}
		into[K(key)] = int(n)
	}
	return rows.Err()
}
