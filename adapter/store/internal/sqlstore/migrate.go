package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one schema change: a file migrations/NNNN_name.sql of a
// store. A file is never edited once released; a change is a new file.
// Both stores number their files alike, so a version means the same tables
// in both.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations returns the migrations/*.sql files of fsys in version
// order.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	paths, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
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
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: version, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// MigrationTx is one transaction of Migrate, holding the store's write
// lock.
type MigrationTx interface {
	// Exec runs sql; without args it may hold several statements.
	Exec(sql string, args ...any) error
	// QueryInt runs sql for one integer.
	QueryInt(sql string, args ...any) (int, error)
}

// Migrate applies, in order, the migrations of ms not yet recorded in the
// table schema_migrations. Each runs in its own transaction, which
// inWriteTx begins holding the store's write lock and commits if fn
// returns nil, and re-checks inside it whether it was applied: stores
// opening one database at once apply each migration once, and no Update
// runs against a half-migrated schema. A database whose schema is newer
// than the newest of ms is refused (NewerSchemaError), before anything
// is applied.
func Migrate(ctx context.Context, d *Dialect, ms []Migration,
	inWriteTx func(ctx context.Context, fn func(MigrationTx) error) error) error {
	if err := inWriteTx(ctx, func(tx MigrationTx) error {
		return tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`)
	}); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if len(ms) > 0 {
		build := ms[len(ms)-1].Version
		var have int
		if err := inWriteTx(ctx, func(tx MigrationTx) error {
			var err error
			have, err = tx.QueryInt(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`)
			return err
		}); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if err := CheckSchema(have, build); err != nil {
			return err
		}
	}
	applied := Rebind(d, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`)
	record := Rebind(d, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`)
	for _, m := range ms {
		if err := inWriteTx(ctx, func(tx MigrationTx) error {
			n, err := tx.QueryInt(applied, m.Version)
			if err != nil || n > 0 {
				return err
			}
			if err := tx.Exec(m.SQL); err != nil {
				return err
			}
			// The wall clock only labels the row for operators; nothing
			// reads it back.
			return tx.Exec(record, m.Version, m.Name, time.Now().UTC().UnixNano())
		}); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// NewerSchemaError: the database's schema is newer than this build's, as
// after an upgrade rolled back. This build does not know its tables, and
// must not run on it.
type NewerSchemaError struct {
	Have, Build int
}

// CheckSchema refuses a database at schema version have to a build whose
// newest migration is build: nil, or a NewerSchemaError.
func CheckSchema(have, build int) error {
	if have > build {
		return &NewerSchemaError{Have: have, Build: build}
	}
	return nil
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("schema version %d is newer than this build's %d: run the newer ctibridge", e.Have, e.Build)
}
