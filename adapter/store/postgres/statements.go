package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// dialect is where PostgreSQL's SQL differs from SQLite's: lists are
// text[] parameters, LIMIT NULL is no limit, generated keys come back with
// RETURNING, and claims skip the outbox rows another transaction holds
// (FOR UPDATE SKIP LOCKED): under the store's write lock none does, but a
// claim never waits on a row either way.
var dialect = sqlstore.Dialect{
	Placeholder: '$',
	InList:      func(expr, param string) string { return expr + " = ANY(" + param + ")" },
	ListTable: func(param string) string {
		return "unnest(" + param + "::text[]) AS list(value)"
	},
	// The cast of key picks jsonb ->> text over jsonb ->> int.
	JSONInt: func(json, key string) string {
		return "(" + json + "::jsonb ->> " + key + "::text)::int"
	},
	NoLimit:           nil,
	Returning:         true,
	ClaimLock:         "FOR UPDATE SKIP LOCKED",
	IsUniqueViolation: isUniqueViolation,
}

// statements is the SQL of every statement. pgx prepares each on first use
// on a connection and keeps it in the connection's statement cache, so the
// hot path never parses SQL twice.
var statements = sqlstore.Statements(&dialect)

// isUniqueViolation reports whether err is PostgreSQL refusing a duplicate key.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
