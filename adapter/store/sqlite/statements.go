package sqlite

import (
	"errors"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// dialect is where SQLite's SQL differs from PostgreSQL's: ?n
// placeholders, lists as JSON arrays read with json_each, JSON read with
// json_extract, LIMIT -1 for no
// limit, a queue read service by service (SQLite cannot read one index in
// order across several), INDEXED BY where its planner, without statistics,
// would pick another index, the outbox's due retries walked as an IN list
// in ID order, and no row locks: the one writer claims alone.
var dialect = sqlstore.Dialect{
	Placeholder: '?',
	InList: func(expr, param string) string {
		return expr + " IN (SELECT value FROM json_each(" + param + "))"
	},
	ListTable: func(param string) string { return "json_each(" + param + ")" },
	JSONInt: func(json, key string) string {
		return "json_extract(" + json + `, '$."' || ` + key + ` || '"')`
	},
	IndexedBy:         func(index string) string { return " INDEXED BY " + index },
	ClaimInOrder:      true,
	JSONLists:         true,
	NoLimit:           int64(-1),
	QueuedPerService:  true,
	IsUniqueViolation: isUniqueViolation,
}

// The statements of SQLite's own, numbered after the shared ones: an
// Update's transaction and its fns' savepoints, and a View's transaction.
const (
	stmtBegin = sqlstore.NumStmts + iota
	stmtBeginRead
	stmtCommit
	stmtRollback
	stmtSavepoint
	stmtRollbackToSavepoint
	stmtReleaseSavepoint

	numStmts
)

// statements is the SQL of every statement, prepared once per connection
// (at Open) and reused, so the hot path never parses SQL.
var statements = func() [numStmts]string {
	var s [numStmts]string
	shared := sqlstore.Statements(&dialect)
	copy(s[:], shared[:])
	// IMMEDIATE takes the write lock at once: a deferred BEGIN that later
	// upgrades can fail with SQLITE_BUSY instead of waiting.
	s[stmtBegin] = `BEGIN IMMEDIATE`
	// A View's snapshot starts with its first read, as in database/sql.
	s[stmtBeginRead] = `BEGIN`
	s[stmtCommit] = `COMMIT`
	s[stmtRollback] = `ROLLBACK`
	s[stmtSavepoint] = `SAVEPOINT fn`
	s[stmtRollbackToSavepoint] = `ROLLBACK TO SAVEPOINT fn`
	s[stmtReleaseSavepoint] = `RELEASE SAVEPOINT fn`
	return s
}()

// isWrite reports whether the statement changes the store (or may: the
// transactions' and savepoints' own).
func isWrite(id sqlstore.Stmt) bool {
	return id >= sqlstore.NumStmts || sqlstore.IsWrite(id)
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate key.
func isUniqueViolation(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE ||
		se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
