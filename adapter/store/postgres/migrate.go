package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles holds the schema, one numbered file per change:
// NNNN_name.sql, numbered like the SQLite store's so that a version means
// the same tables in both. A file is never edited once released; a change
// is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	paths, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, p := range paths {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "migrations/"), ".sql")
		prefix, _, _ := strings.Cut(name, "_")
		version, err := strconv.Atoi(prefix)
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number", p)
		}
		if other, ok := seen[version]; ok {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, name, version)
		}
		seen[version] = name
		body, err := migrationFiles.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// SchemaVersion is the newest migration this build applies.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies, in order, the migrations not yet recorded in
// schema_migrations, each in its own transaction under the store's
// advisory lock, re-checking inside it whether it was applied: replicas
// starting together apply each migration once, and no Update runs against
// a half-migrated schema.
func migrate(ctx context.Context, pool *pgxpool.Pool, lockKey int64) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	// Up to date: nothing to lock. A replica starting while another holds
	// the lock (in a long Update, or frozen) must not wait for it.
	var applied int
	if err := pool.QueryRow(ctx, `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0
		ELSE (SELECT COALESCE(MAX(version), 0) FROM schema_migrations) END`).Scan(&applied); err == nil &&
		len(ms) > 0 && applied >= ms[len(ms)-1].version {
		return nil
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`)
		return err
	}); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return applyMigration(ctx, tx, lockKey, m) }); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, tx pgx.Tx, lockKey int64, m migration) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
		return err
	}
	var applied int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&applied); err != nil {
		return err
	}
	if applied > 0 {
		return nil
	}
	// No arguments: the simple protocol runs every statement of the file.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	// The wall clock only labels the row for operators; nothing reads it back.
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UTC().UnixNano())
	return err
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
