// Package sqlstore is what the SQL stores (adapter/store/sqlite and
// adapter/store/postgres) share: the row encoding, the SQL of every
// statement, one implementation of adapter.Tx and the migration runner.
//
// The tables, their columns and the encodings are the same in both
// databases (see codec.go), and so is most SQL. What a store keeps is what
// is really its own: how it connects, transactions and locking,
// savepoints, and a Dialect, the few places where the SQL or the
// parameters differ. A store runs a Tx against a Conn, its transaction,
// which runs statements by Stmt: SQLite prepares each statement once per
// connection, pgx caches them by their SQL.
//
// In the list methods of adapter.Tx, a limit <= 0 means no limit, and an
// empty list is returned as an empty, non-nil slice.
package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/ctibridge/ctibridge/adapter"
)

// Dialect is where a store's SQL and parameters differ from the shared
// ones. Statements builds the SQL of a dialect; a Tx reads the rest.
type Dialect struct {
	// Placeholder starts a numbered parameter: '$' ($1, PostgreSQL) or
	// '?' (?1, SQLite). The shared SQL is written with '$'.
	Placeholder byte
	// InList is SQL that holds when expr is in the list parameter param.
	InList func(expr, param string) string
	// ListTable is the list parameter param as a table of one column, value.
	ListTable func(param string) string
	// JSONInt is SQL for the integer at key (a text parameter) of the JSON
	// object json, NULL when the object has no such key.
	JSONInt func(json, key string) string
	// JSONLists passes list parameters as a JSON array (TEXT) rather than
	// a []string.
	JSONLists bool
	// NoLimit is the LIMIT operand that means no limit.
	NoLimit any
	// Returning makes the INSERTs that generate a key return it with
	// RETURNING, for a Conn whose Insert reads the key from a row.
	Returning bool
	// ClaimLock ends the query that selects outbox rows to claim (FOR
	// UPDATE SKIP LOCKED); empty for a single writer. With a lock, the
	// claim selects the rows by id = ANY(ARRAY(candidates)) (see
	// claimableOutbox): PostgreSQL's SQL.
	ClaimLock string
	// ClaimInOrder reads the outbox rows due for a retry by o.id IN (their
	// IDs), for a database that walks such a list in ID order and stops at
	// the claim's limit (SQLite). Without it, the claim joins the IDs,
	// sorted in a subquery, to the table (see claimableOutbox).
	ClaimInOrder bool
	// IndexedBy makes a table read through the named index (SQLite's
	// INDEXED BY, for a read its planner, without the table's statistics,
	// would do through another); nil where the planner has statistics.
	IndexedBy func(index string) string
	// QueuedPerService reads the unreserved queue one service at a time
	// and merges the services' lists in Go, for a database that cannot
	// read one index in order across several services.
	QueuedPerService bool
	// IsUniqueViolation reports whether err is the database refusing a
	// duplicate key.
	IsUniqueViolation func(error) bool
}

// Conn runs the statements of one transaction. A Tx uses it from one
// goroutine at a time; the Conn's owner decides the context its statements
// run with.
type Conn interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(s Stmt, args ...any) (rowsAffected int64, err error)
	// Insert runs an INSERT of a row whose key the database generates,
	// and returns the key.
	Insert(s Stmt, args ...any) (key int64, err error)
	// Query runs a statement that returns rows.
	Query(s Stmt, args ...any) (Rows, error)
}

// Rows is the result of Conn.Query, as *sql.Rows has it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// ErrReadOnly is returned by a write inside View.
var ErrReadOnly = errors.New("write in a read-only view")

// Tx is the adapter.Tx of one Update or View, over the store's Conn.
type Tx struct {
	conn     Conn
	dialect  *Dialect
	writable bool
	// eventSeq is the last seq AppendEvent set since TakeEventSeq.
	eventSeq int64
	// args passes the arguments of every statement on to the Conn, so
	// that a method's own args stay on its stack: handed to an interface
	// method, they would be allocated on every call (28 for an
	// interaction). A Conn is done with them when Exec or Insert returns,
	// and a Query's when its Rows are closed; no statement of a Tx runs
	// while it has Rows open.
	args []any
	// eventBuf holds the JSON of the event AppendEvent is appending.
	eventBuf []byte
}

var _ adapter.Tx = (*Tx)(nil)

// NewTx returns the Tx of an Update (writable) or a View over conn.
func NewTx(conn Conn, d *Dialect, writable bool) *Tx {
	return &Tx{conn: conn, dialect: d, writable: writable}
}

// TakeEventSeq returns the seq of the last event appended since the
// previous call (0 if none) and forgets it.
func (t *Tx) TakeEventSeq() int64 {
	seq := t.eventSeq
	t.eventSeq = 0
	return seq
}

// exec runs a write.
func (t *Tx) exec(s Stmt, args ...any) (int64, error) {
	if !t.writable && writes[s] {
		return 0, ErrReadOnly
	}
	t.args = append(t.args[:0], args...)
	return t.conn.Exec(s, t.args...)
}

func (t *Tx) query(s Stmt, args ...any) (Rows, error) {
	if !t.writable && writes[s] {
		return nil, ErrReadOnly
	}
	t.args = append(t.args[:0], args...)
	return t.conn.Query(s, t.args...)
}

// queryRow runs a query for at most one row. Its Scan fails with
// sql.ErrNoRows when there is none.
func (t *Tx) queryRow(s Stmt, args ...any) scanner {
	rows, err := t.query(s, args...)
	return &row{rows: rows, err: err}
}

// scanner is a row or Rows.
type scanner interface {
	Scan(dest ...any) error
}

// row is the one row of a query, as *sql.Row.
type row struct {
	rows Rows
	err  error
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	// The query may still fail after its first row.
	return r.rows.Close()
}

// limit turns a limit into a LIMIT operand: a limit <= 0 means no limit.
func (t *Tx) limit(n int) any {
	if n <= 0 {
		return t.dialect.NoLimit
	}
	return int64(n)
}

// notFound wraps adapter.ErrNotFound, naming what was looked up.
func notFound(what, id string) error {
	return fmt.Errorf("%s %s: %w", what, id, adapter.ErrNotFound)
}

// scanAll reads every row with scan and closes rows. The list is never nil,
// so it encodes to JSON as [] when empty.
func scanAll[T any](rows Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := make([]T, 0)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
