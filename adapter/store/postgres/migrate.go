package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// migrationFiles holds the schema, one numbered file per change:
// NNNN_name.sql, numbered like the SQLite store's so that a version means
// the same tables in both. A file is never edited once released; a change
// is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrationFiles)
}

// CheckSchema refuses a database at schema version applied (as
// AppliedVersion reads it) when it is newer than this build's, as a
// replica starting on it does.
func CheckSchema(applied int) error {
	return sqlstore.CheckSchema(applied, SchemaVersion())
}

// SchemaVersion is the newest migration this build applies.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// migrate applies the migrations not yet applied, each in its own
// transaction under the store's advisory lock: replicas starting together
// apply each migration once, and no Update runs against a half-migrated
// schema.
func migrate(ctx context.Context, pool *pgxpool.Pool, lockKey int64) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	// Up to date: nothing to lock. A replica starting while another holds
	// the lock (in a long Update, or frozen) must not wait for it. Newer
	// than this build (an upgrade rolled back): refused, as Migrate does.
	var applied int
	if err := pool.QueryRow(ctx, `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0
		ELSE (SELECT COALESCE(MAX(version), 0) FROM schema_migrations) END`).Scan(&applied); err == nil && len(ms) > 0 {
		build := ms[len(ms)-1].Version
		if err := sqlstore.CheckSchema(applied, build); err != nil || applied == build {
			return err
		}
	}
	return sqlstore.Migrate(ctx, &dialect, ms, func(ctx context.Context, fn func(sqlstore.MigrationTx) error) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
				return err
			}
			return fn(migrationTx{ctx, tx})
		})
	})
}

// migrationTx is a sqlstore.MigrationTx on a pgx transaction.
type migrationTx struct {
	ctx context.Context
	tx  pgx.Tx
}

// Exec without arguments uses the simple protocol, which runs every
// statement of a migration file.
func (m migrationTx) Exec(sql string, args ...any) error {
	_, err := m.tx.Exec(m.ctx, sql, args...)
	return err
}

func (m migrationTx) QueryInt(sql string, args ...any) (int, error) {
	var n int
	err := m.tx.QueryRow(m.ctx, sql, args...).Scan(&n)
	return n, err
}

// AppliedVersion returns the newest schema version recorded in the
// database of dsn without changing anything: 0 when the schema has none.
// ctibridge validate uses it to check a reachable database.
func AppliedVersion(ctx context.Context, dsn string) (int, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return 0, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return 0, err
	}
	if schema == nil {
		return 0, fmt.Errorf("no schema of the search_path exists")
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass(quote_ident($1) || '.schema_migrations') IS NOT NULL`, *schema).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var version int
	err = conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+pgx.Identifier{*schema, "schema_migrations"}.Sanitize()).Scan(&version)
	return version, err
}
