package sqlite

import (
	"context"
	"database/sql"
	"embed"

	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// migrationFiles holds the schema, one numbered file per change:
// NNNN_name.sql. A file is never edited once released; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrationFiles)
}

// migrate applies the migrations not yet applied, each in its own write
// transaction (BEGIN IMMEDIATE on the writer, which takes SQLite's write
// lock), so two processes opening a new file at once apply each once.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return apply(ctx, db, ms)
}

// apply applies those of ms not yet applied, as migrate does.
func apply(ctx context.Context, db *sql.DB, ms []sqlstore.Migration) error {
	return sqlstore.Migrate(ctx, &dialect, ms, func(ctx context.Context, fn func(sqlstore.MigrationTx) error) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if err := fn(migrationTx{ctx, tx}); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// migrationTx is a sqlstore.MigrationTx on a database/sql transaction.
type migrationTx struct {
	ctx context.Context
	tx  *sql.Tx
}

func (m migrationTx) Exec(query string, args ...any) error {
	_, err := m.tx.ExecContext(m.ctx, query, args...)
	return err
}

func (m migrationTx) QueryInt(query string, args ...any) (int, error) {
	var n int
	err := m.tx.QueryRowContext(m.ctx, query, args...).Scan(&n)
	return n, err
}
