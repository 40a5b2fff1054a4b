// Package sqlite is the embedded adapter.Store: one SQLite file in WAL mode,
// through the pure-Go driver modernc.org/sqlite, for a single node.
//
// Writes go through one connection, held from Open to Close: each Update
// is one BEGIN IMMEDIATE transaction, so Updates serialise with each other
// in this process and, through SQLite's write lock, in others. Each fn of an Update runs inside
// its own savepoint. Reads (View) use a separate set of query-only
// connections, also held from Open to Close; WAL gives each of them a
// consistent snapshot that a running Update neither blocks nor changes.
//
// Every statement is prepared once per connection and run through the
// driver directly (conn.go). The schema lives in
// migrations/ and is applied by Open. The tables, the encoding of values in
// columns and the adapter.Tx are the PostgreSQL store's too (package
// sqlstore); statements.go holds what SQLite spells its own way.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"

	// The "sqlite" database/sql driver.
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyTimeoutMillis is how long a connection waits for another process's
// lock before failing with SQLITE_BUSY.
const busyTimeoutMillis = 10000

// errClosed is returned by every call after Close.
var errClosed = errors.New("sqlite store is closed")

// unavailable reports whether err is SQLite saying the file cannot serve
// now (adapter.ErrStoreUnavailable), which a retry a little later may
// not meet: the disk is full, I/O failed, the file cannot be opened or
// written, another process holds its lock past the busy timeout. A
// constraint or a statement error is not: that is the command's or the
// code's. Nor is a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB): it will
// not mend, so its requests fail as internal errors, each logged.
func unavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_BUSY, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}

// Store is an adapter.Store in one SQLite file. It is safe for concurrent use.
type Store struct {
	path   string
	writer *sql.DB
	// write is the writer pool's one connection. An Update runs its
	// transaction on it with BEGIN and COMMIT statements rather than a
	// database/sql Tx, which would bind every statement to the transaction
	// and start a goroutine per query to watch its context.
	write *sql.Conn
	// writing admits one Update (or Close) at a time to write, and to
	// writeConn.
	writing chan struct{}
	// writeConn holds the statements prepared on write's driver
	// connection, which Updates run through the driver directly.
	writeConn conn
	reader    *sql.DB
	// readConns are the reader pool's connections, each held from Open to
	// Close; idle holds the ones no View is using. A View takes one, and
	// gives it back when done.
	readConns []*readConn
	idle      chan *readConn
	// shut is closed by Close, so that Views waiting for a reader stop.
	shut   chan struct{}
	closed atomic.Bool
	// file is the database file as Open found it; checkFile compares
	// what is at path now with it, at most once every fileCheckEvery,
	// the last time at fileChecked (UnixNano), with fileErr its finding.
	file           os.FileInfo
	fileCheckEvery time.Duration
	fileChecked    atomic.Int64
	fileErr        atomic.Pointer[error]
}

// readConn is a reader connection and the statements prepared on it.
type readConn struct {
	sql *sql.Conn
	c   conn
}

var _ adapter.Store = (*Store)(nil)

// Open opens the store in the SQLite file at path, creating it if needed,
// and applies the schema migrations it does not have yet.
func Open(path string) (*Store, error) {
	// The driver reads what follows a '?' as its own settings.
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("open sqlite store %q: path must be a file name without '?'", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s := &Store{path: path, writing: make(chan struct{}, 1), shut: make(chan struct{}), fileCheckEvery: time.Second}
	if err := s.open(); err != nil {
		_ = s.closeAll()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// createPrivate creates the database file, empty, readable and writable
// by its owner only (0600 whatever the umask), unless it exists: it holds
// subjects, notes and webhook URLs. SQLite gives the -wal and -shm files
// it makes next to it the same mode. An existing file keeps its mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *Store) open() error {
	ctx := context.Background()
	var err error
	if s.file, err = os.Stat(s.path); err != nil {
		return err
	}
	// One connection for every write, so Updates queue in database/sql
	// rather than fight for SQLite's lock. _txlock=immediate takes the write
	// lock at BEGIN: a deferred BEGIN that later upgrades can fail with
	// SQLITE_BUSY instead of waiting. synchronous=FULL makes every commit
	// durable; the cost is one fsync per Update, shared by all its fns.
	// temp_store=MEMORY keeps the savepoints' sub-journal off disk: on file
	// it costs a write syscall per page a fn touches.
	writer, err := sql.Open("sqlite", writerDSN(s.path))
	if err != nil {
		return err
	}
	s.writer = writer
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	var mode string
	if err := writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %s, want wal", mode)
	}
	if err := migrate(ctx, writer); err != nil {
		return err
	}
	if s.write, err = writer.Conn(ctx); err != nil {
		return err
	}

	// Readers only ever read: query_only turns a stray write into an error
	// even if it slipped past tx's own check. The file is already in WAL
	// mode, which readers pick up from it.
	reader, err := sql.Open("sqlite", s.path+
		fmt.Sprintf("?_pragma=busy_timeout(%d)", busyTimeoutMillis)+
		"&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	s.reader = reader
	readers := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)
	s.idle = make(chan *readConn, readers)
	for range readers {
		sc, err := reader.Conn(ctx)
		if err != nil {
			return err
		}
		r := &readConn{sql: sc}
		s.readConns = append(s.readConns, r)
		if err := sc.Raw(func(dc any) (err error) {
			r.c.prep, err = preparer(dc)
			return err
		}); err != nil {
			return err
		}
		s.idle <- r
	}
	return s.write.Raw(s.writeConn.prepare)
}

// checkFile returns an ErrStoreUnavailable when the database file was
// removed or replaced since Open: SQLite goes on writing to the file it
// has open, which nobody can open again, so every write acknowledged
// from then on would be lost at the next start. It looks at most once
// every fileCheckEvery, and Updates are refused until the file is back.
func (s *Store) checkFile() error {
	now := time.Now().UnixNano()
	if last := s.fileChecked.Load(); now-last < int64(s.fileCheckEvery) {
		if p := s.fileErr.Load(); p != nil {
			return *p
		}
		return nil
	}
	s.fileChecked.Store(now)
	var err error
	if fi, statErr := os.Stat(s.path); statErr != nil || !os.SameFile(fi, s.file) {
		err = fmt.Errorf("%w: the database file %s was removed or replaced while ctibridge ran: "+
			"writes are refused, as they would be lost at the next start (docs/operations.md, \"When things go away\")",
			adapter.ErrStoreUnavailable, s.path)
		s.fileErr.Store(&err)
	} else {
		s.fileErr.Store(nil)
	}
	return err
}

// writerDSN is the data source name of the writer connection to the file
// at path: its transactions take the write lock at BEGIN, and commit in
// WAL mode with synchronous=FULL (see open).
func writerDSN(path string) string {
	return path + "?_txlock=immediate" + fmt.Sprintf("&_pragma=busy_timeout(%d)", busyTimeoutMillis) +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)"
}

// Update runs every fn in one transaction, each as in its own savepoint: a
// fn that returns an error leaves nothing, and its error is errs[i]; the
// others commit together (see update for when a fn runs twice). If the
// transaction fails (begin, a savepoint, commit), err is non-nil, errs is
// nil and nothing is applied. A panic in a fn rolls the whole transaction
// back and is then re-raised. Canceling ctx before the commit rolls the
// transaction back.
func (s *Store) Update(ctx context.Context, fns []func(adapter.Tx) error) (errs []error, err error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	errs = make([]error, len(fns))
	if len(fns) == 0 {
		return errs, nil
	}
	select {
	case s.writing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("begin update: %w", ctx.Err())
	}
	defer func() { <-s.writing }()
	if s.closed.Load() {
		return nil, errClosed
	}
	if err := s.checkFile(); err != nil {
		return nil, err
	}
	if err := raw(s.write, func() (err error) {
		errs, err = s.update(ctx, fns, errs)
		return err
	}); err != nil {
		return nil, adapter.StoreUnavailable(err, unavailable)
	}
	for i, err := range errs {
		if err != nil {
			errs[i] = adapter.StoreUnavailable(err, unavailable)
		}
	}
	return errs, nil
}

// raw runs f on the driver connection under c (sql.Conn.Raw), and returns
// f's error or Raw's. A panic in f is caught inside Raw and raised again
// outside it: through Raw it would make database/sql discard the
// connection, which the store holds from Open to Close.
func raw(c *sql.Conn, f func() error) error {
	var (
		panicked bool
		panicVal any
		fErr     error
	)
	err := c.Raw(func(any) error {
		defer func() {
			if p := recover(); p != nil {
				panicked, panicVal = true, p
			}
		}()
		fErr = f()
		return nil
	})
	if panicked {
		panic(panicVal)
	}
	if err != nil {
		return err
	}
	return fErr
}

// update is Update's transaction, on the writer connection inside Raw.
// It runs the fns first without a savepoint each: a SAVEPOINT and its
// RELEASE cost two statements a fn (6-10% of the engine's CPU time at 200
// agents, docs/benchmarks.md), and almost every fn either succeeds or
// fails before it writes. A fn that fails after writing needs its
// savepoint: the transaction is rolled back and the fns run again, each
// in its own. Alone in its Update, such a fn needs none: the rollback is
// what its savepoint would have done.
func (s *Store) update(ctx context.Context, fns []func(adapter.Tx) error, errs []error) ([]error, error) {
	done, err := s.attempt(ctx, fns, errs, false)
	if err != nil || done {
		return errs, err
	}
	clear(errs)
	if _, err := s.attempt(ctx, fns, errs, true); err != nil {
		return nil, err
	}
	return errs, nil
}

// attempt runs fns in one transaction and commits it, with a savepoint
// per fn when savepoints is set. Without, it rolls the transaction back
// and reports done false at the first fn that fails after writing, which
// only a savepoint could undo alone. With savepoints, or with a single fn,
// it is always done: a fn that fails leaves nothing, and its error is in
// errs.
func (s *Store) attempt(ctx context.Context, fns []func(adapter.Tx) error, errs []error, savepoints bool) (done bool, err error) {
	c := &s.writeConn
	if err := c.savepoint(stmtBegin); err != nil {
		return false, fmt.Errorf("begin update: %w", err)
	}
	committed := false
	// On error, on giving up and on panic, which it lets go on once the
	// writer connection is out of the transaction.
	defer func() {
		if !committed {
			_ = c.savepoint(stmtRollback)
		}
	}()

	t := sqlstore.NewTx(c, &dialect, true)
	for i, fn := range fns {
		if !savepoints {
			c.wrote = false
			if errs[i] = fn(t); errs[i] != nil && c.wrote {
				if len(fns) == 1 {
					return true, nil // rolled back: nothing of it stays
				}
				return false, nil
			}
			continue
		}
		if err := c.savepoint(stmtSavepoint); err != nil {
			return false, fmt.Errorf("update: savepoint for fn %d: %w", i, err)
		}
		if errs[i] = fn(t); errs[i] != nil {
			if err := c.savepoint(stmtRollbackToSavepoint); err != nil {
				return false, fmt.Errorf("update: roll back fn %d (%v): %w", i, errs[i], err)
			}
		}
		if err := c.savepoint(stmtReleaseSavepoint); err != nil {
			return false, fmt.Errorf("update: release fn %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("commit update: %w", err)
	}
	if err := c.savepoint(stmtCommit); err != nil {
		return false, fmt.Errorf("commit update: %w", err)
	}
	committed = true
	return true, nil
}

// View runs fn in a read-only transaction on a reader connection and
// returns fn's error. Its snapshot is taken at the first read.
func (s *Store) View(ctx context.Context, fn func(adapter.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	var r *readConn
	select {
	case r = <-s.idle:
	case <-s.shut:
		return errClosed
	case <-ctx.Done():
		return fmt.Errorf("begin view: %w", ctx.Err())
	}
	defer func() { s.idle <- r }()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("begin view: %w", err)
	}
	return adapter.StoreUnavailable(raw(r.sql, func() error {
		if err := r.c.savepoint(stmtBeginRead); err != nil {
			return fmt.Errorf("begin view: %w", err)
		}
		// A read-only transaction has nothing to commit.
		defer func() { _ = r.c.savepoint(stmtRollback) }()
		return fn(sqlstore.NewTx(&r.c, &dialect, false))
	}), unavailable)
}

// Close stops new Updates and Views and closes the connections as the ones
// still running release them. Calls after Close, Close included, fail.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return errClosed
	}
	// The Update under way ends first; the ones waiting find the store
	// closed once Close lets them in. Views under way end too, each giving
	// its reader back; the ones waiting for a reader stop at shut.
	s.writing <- struct{}{}
	defer func() { <-s.writing }()
	close(s.shut)
	for range s.readConns {
		<-s.idle
	}
	return s.closeAll()
}

// closeAll closes every connection and its statements. Nothing may use
// them any more: Close waited for them, and a failed Open never gave
// them out.
func (s *Store) closeAll() error {
	var errs []error
	for _, r := range s.readConns {
		errs = append(errs, r.sql.Raw(func(any) error { return r.c.close() }))
		errs = append(errs, r.sql.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Raw(func(any) error { return s.writeConn.close() }))
		errs = append(errs, s.write.Close())
	}
	for _, db := range []*sql.DB{s.reader, s.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store %s: %w", s.path, err)
	}
	return nil
}
