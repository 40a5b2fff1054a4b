// Package postgres is the adapter.Store that several ctibridge replicas
// share: one PostgreSQL database (or one schema of it), through pgx.
//
// Every Update is one transaction that first takes a transaction-level
// advisory lock of the store (pg_advisory_xact_lock), so Updates serialise
// with each other in this process and in every other replica, exactly as
// the Store contract says: the engine reads state inside the transaction
// and decides on it (routing reads the candidates' load, then offers), and
// no two replicas can decide on the same state at once, so an interaction
// is never assigned twice and an agent never over capacity. Group commit
// (many commands per Update) amortises the lock and the commit's fsync.
// The lock also makes event seqs (a sequence taken under it) increase in
// commit order, so a reader paging with EventsAfter never skips an event
// that commits later with a lower seq. Each fn of an Update runs in its own
// savepoint.
//
// The statements of an Update are pipelined (pipeline.go): a write whose
// result the fn does not read is sent without waiting for its answer,
// which is read with the next statement that needs one, so an Update
// costs a few round trips rather than one per statement, and the server
// works while the fns run. Event seqs and outbox ids come from ranges
// reserved under the lock. A write that fails fails its fn all the same:
// the fn is rolled back to its savepoint and its error is the write's.
// The statements are prepared once per connection (a pooler in front must
// keep sessions, as LISTEN needs anyway).
//
// A View is a READ ONLY REPEATABLE READ transaction: one snapshot, which a
// running Update neither blocks nor changes (MVCC).
//
// Outbox rows are claimed with FOR UPDATE SKIP LOCKED under a lease (see
// adapter.Tx.ClaimOutbox): a replica that dies holding claims leaves them
// to the others once the lease expires. A timer fires in the same
// transaction that deletes its row (Tx.TakeTimer), so a replica that dies
// mid-fire leaves the timer armed for another, and a timer fires once.
//
// After a commit that appended events, the store NOTIFYs a channel of its
// own with the last seq; Listen lets a replica hear what the others
// committed (to wake its event streams and webhooks).
//
// The schema lives in migrations/ (the tables of the SQLite store) and is
// applied by Open. The store uses the first schema of the connection's
// search_path, so one database can hold several stores (tests do); the
// lock and the channel are per schema. The encoding of values in columns
// and the adapter.Tx are the SQLite store's too (package sqlstore);
// statements.go holds what PostgreSQL spells its own way.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// Connection settings the store sets unless the DSN does.
var defaultRuntimeParams = map[string]string{
	"application_name": "ctibridge",
	// A replica that stops answering (paused, partitioned) while it holds
	// the write lock would stall every replica until TCP gives up; the
	// server ends such a session after this long instead (ms).
	"idle_in_transaction_session_timeout": "30000",
}

// errClosed is returned by every call after Close.
var errClosed = errors.New("postgres store is closed")

// Store is an adapter.Store in a PostgreSQL schema. It is safe for
// concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	// lockKey is the advisory lock that serialises Updates; channel is
	// the NOTIFY channel of committed events. Both derive from the schema.
	lockKey int64
	channel string
	// begin starts an Update: the transaction and its lock, in one
	// round trip; beginSavepoint also opens the first fn's savepoint.
	begin, beginSavepoint string
	// sql is the SQL of every statement of an Update (see pipeline.go),
	// prepared on each connection at its first Update: preparedOn maps
	// the *pgx.Conn to its []*pgconn.StatementDescription.
	sql        []string
	preparedOn sync.Map
	closed     atomic.Bool
	// waited is the time Updates spent in BEGIN, waiting for the lock
	// (BenchmarkReplicas reports it).
	waited atomic.Int64
	// replays counts the Updates run again with a savepoint per fn.
	replays atomic.Int64
	done    chan struct{} // closed by Close: stops Listen
}

var _ adapter.Store = (*Store)(nil)

// Open connects to the database of dsn (a PostgreSQL connection string, a
// URL or key=value pairs, with pgxpool's pool_* settings), and applies the
// schema migrations it does not have yet to the first schema of the
// search_path, which must exist. Errors never quote the DSN.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	s := &Store{done: make(chan struct{})}
	cfg.BeforeClose = func(c *pgx.Conn) { s.preparedOn.Delete(c) }
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s.pool = pool
	if err := s.open(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return s, nil
}

// ParseDSN checks a connection string and returns the pool configuration
// the store uses. Its error says what is wrong without quoting the string,
// which may hold a password.
func ParseDSN(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's message quotes the string (its password redacted, as
		// far as it can tell) and a URL parser's quotes it whole.
		return nil, errors.New("store.dsn is not a valid PostgreSQL connection string (URL or key=value pairs)")
	}
	for k, v := range defaultRuntimeParams {
		if _, ok := cfg.ConnConfig.RuntimeParams[k]; !ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	return cfg, nil
}

func (s *Store) open(ctx context.Context) error {
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return errors.New("no schema of the search_path exists")
	}
	s.schema = *schema
	h := fnv.New64a()
	h.Write([]byte("ctibridge store " + s.schema))
	s.lockKey = int64(h.Sum64())
	s.channel = "ctibridge_events_" + strconv.FormatUint(h.Sum64(), 16)
	s.begin = fmt.Sprintf(`BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(%d)`, s.lockKey)
	s.beginSavepoint = s.begin + `; SAVEPOINT fn`
	if err := migrate(ctx, s.pool, s.lockKey); err != nil {
		return err
	}
	var eventsSeq, outboxSeq string
	if err := s.pool.QueryRow(ctx, `SELECT pg_get_serial_sequence('events', 'seq'), pg_get_serial_sequence('outbox', 'id')`).
		Scan(&eventsSeq, &outboxSeq); err != nil {
		return fmt.Errorf("key sequences: %w", err)
	}
	s.sql = sqlOf(eventsSeq, outboxSeq)
	return nil
}

// Schema is the schema the store lives in.
func (s *Store) Schema() string { return s.schema }

// Update runs every fn in one transaction, as if each ran in its own
// savepoint: a fn that returns an error leaves nothing, and its error is
// errs[i]; the others commit together. The transaction holds the store's
// advisory lock from its first statement, so it sees every Update
// committed before it, by any replica, and none commits meanwhile. If
// the transaction fails (connection lost, ctx done, commit refused), err
// is non-nil, errs is nil and nothing is applied. A panic in a fn rolls
// the whole transaction back and is then re-raised.
//
// A write whose result the fn does not read (a Put, an append, a timer)
// is answered later, with the fn's next read or at the commit (see
// pipeline.go): if it fails, the fn's next statement returns its error,
// or, once the fn has returned, errs[i] is its error; either way the fn
// leaves nothing, and the other fns are unaffected.
//
// The fns run first without a savepoint each: a SAVEPOINT and its
// RELEASE are two statements a fn for the server (a subtransaction
// each), and almost every fn either succeeds or fails before it writes.
// When one fails after writing, or the server refuses one of its
// statements (which aborts the whole transaction), the transaction is
// rolled back and the fns run again, each in its own savepoint: a store's
// fns may run more than once (adapter.Store). A fn alone in its Update
// that fails after writing is not run again: the rollback is what its
// savepoint would have done.
//
// Statements of fns run with ctx: canceling it fails the running
// statement, the fn sees the error, and the transaction rolls back.
func (s *Store) Update(ctx context.Context, fns []func(adapter.Tx) error) (errs []error, err error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	errs = make([]error, len(fns))
	if len(fns) == 0 {
		return errs, nil
	}
	replay, err := s.update(ctx, fns, errs, false)
	if err != nil {
		s.resetIfReadOnly(err)
		return nil, adapter.StoreUnavailable(err, unavailable)
	}
	if replay {
		s.replays.Add(1)
		clear(errs)
		if _, err := s.update(ctx, fns, errs, true); err != nil {
			return nil, adapter.StoreUnavailable(err, unavailable)
		}
	}
	for i, err := range errs {
		if err != nil {
			s.resetIfReadOnly(err)
			errs[i] = adapter.StoreUnavailable(err, unavailable)
		}
	}
	return errs, nil
}

// resetIfReadOnly closes the pool's connections when err says the server
// takes no writes: after a failover, new ones follow the DSN to the new
// primary (with target_session_attrs=read-write or a name that moves),
// while the old ones would stay on the demoted server.
func (s *Store) resetIfReadOnly(err error) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == readOnly {
		s.pool.Reset()
	}
}

// unavailable reports whether err says the database cannot serve now
// (adapter.ErrStoreUnavailable): the server cannot be reached or dropped
// the connection, is shutting down or starting, is read-only (a standby,
// or a primary demoted in a failover: readOnly), or is out of resources
// (disk, memory, connections) or failing I/O. A refused statement, a
// serialization failure or a canceled request is not.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		class := pgErr.Code[:min(2, len(pgErr.Code))]
		// 08 connection exception, 53 insufficient resources, 58 system
		// error; 57P0x shutdown, crash, starting, database dropped.
		return class == "08" || class == "53" || class == "58" || strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == readOnly
	}
	var (
		connect *pgconn.ConnectError
		netErr  net.Error
	)
	return errors.As(err, &connect) || errors.As(err, &netErr) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// update runs fns in one transaction and commits it, with a savepoint per
// fn when savepoints is set. Without, it rolls the transaction back and
// reports replay at the first fn that fails after writing, or at a
// statement the server refuses: only savepoints could undo that fn alone.
// A single fn that fails after writing needs none: the rollback is what
// its savepoint would have done. With savepoints it never reports replay.
func (s *Store) update(ctx context.Context, fns []func(adapter.Tx) error, errs []error, savepoints bool) (replay bool, err error) {
	var (
		conn *pgxpool.Conn
		sds  []*pgconn.StatementDescription
	)
	if err := s.retryDropped(func() (err error) {
		conn, sds, err = s.beginUpdate(ctx, savepoints)
		return err
	}); err != nil {
		return false, err
	}
	// The pool closes a connection released inside a transaction, which
	// ends the transaction on the server if the rollback below could not.
	defer conn.Release()
	committed := false
	defer func() {
		if !committed {
			rollback(ctx, conn.Conn())
		}
	}()
	c := conn.Conn()
	p := newPipeline(ctx, c, sds, s, len(fns), savepoints)
	defer func() {
		p.close()
		if p.stale {
			// Closed, the pool drops it (and its statements).
			_ = c.Close(context.WithoutCancel(ctx))
		}
	}()
	t := sqlstore.NewTx(p, &dialect, true)
	seqs := make([]int64, len(fns)) // each fn's last event, if any
	for i, fn := range fns {
		if i > 0 {
			p.startFn(i)
		}
		errs[i] = fn(t)
		seqs[i] = t.TakeEventSeq()
		if errs[i] != nil && p.failed[i] == nil {
			p.abandon(i)
		}
		if p.broken != nil {
			if errors.Is(p.broken, errReplay) {
				return true, nil
			}
			return false, fmt.Errorf("update: %w", p.broken)
		}
	}
	if p.undone {
		if errs[0] == nil {
			errs[0] = p.failed[0]
		}
		return false, nil // rolled back: nothing of it stays
	}
	// A write sent after its fn returned may fail the fn, up to the
	// commit: the fn's error is then the write's, and its events are not
	// committed.
	err = p.commit(func() int64 {
		var last int64
		for i, seq := range seqs {
			if errs[i] == nil && p.failed[i] == nil && seq > 0 {
				last = seq
			}
		}
		return last
	})
	if errors.Is(err, errReplay) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("commit update: %w", err)
	}
	for i, err := range p.failed {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	committed = true
	return false, nil
}

// readOnly is SQLSTATE read_only_sql_transaction: the server takes no
// writes, as a standby or a demoted primary does.
const readOnly = "25006"

// beginUpdate takes a connection and begins an Update's transaction on
// it: its statements prepared, BEGIN, the lock.
func (s *Store) beginUpdate(ctx context.Context, savepoints bool) (*pgxpool.Conn, []*pgconn.StatementDescription, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("begin update: %w", err)
	}
	c := conn.Conn()
	sds, err := s.prepared(ctx, c)
	if err != nil {
		// Some statements may be prepared: the pool must not hand the
		// connection out again.
		_ = c.Close(context.WithoutCancel(ctx))
		conn.Release()
		return nil, nil, fmt.Errorf("begin update: prepare: %w", err)
	}
	begin := s.begin
	if savepoints {
		begin = s.beginSavepoint
	}
	began := time.Now()
	if _, err := c.Exec(ctx, begin); err != nil {
		rollback(ctx, c)
		conn.Release()
		return nil, nil, fmt.Errorf("begin update: %w", err)
	}
	s.waited.Add(int64(time.Since(began)))
	return conn, sds, nil
}

// retryDropped runs begin, which takes a connection from the pool and
// begins a transaction on it, and runs it once more if the connection
// turns out dropped (the server restarted, the network was cut): then
// the pool's other connections are most likely dropped too, and are
// closed first. Without, the first request after an outage would fail
// for each connection the pool kept through it. Nothing of the
// transaction has run when begin fails, so running it again is safe.
func (s *Store) retryDropped(begin func() error) error {
	err := begin()
	if err != nil && unavailable(err) && !s.closed.Load() {
		s.pool.Reset()
		err = begin()
	}
	return err
}

// rollback ends the connection's transaction, if any. It runs even when
// ctx is done; if it fails, releasing the connection closes it.
func rollback(ctx context.Context, c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = c.Exec(ctx, `ROLLBACK`)
}

// View runs fn in a read-only REPEATABLE READ transaction and returns fn's
// error. Its snapshot is taken at the first read.
func (s *Store) View(ctx context.Context, fn func(adapter.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	var ptx pgx.Tx
	if err := s.retryDropped(func() (err error) {
		ptx, err = s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		return err
	}); err != nil {
		return adapter.StoreUnavailable(fmt.Errorf("begin view: %w", err), unavailable)
	}
	// A read-only transaction has nothing to commit.
	defer func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }()
	return adapter.StoreUnavailable(fn(sqlstore.NewTx(&txConn{ctx: ctx, q: ptx}, &dialect, false)), unavailable)
}

// Close stops new Updates and Views, ends Listen, and closes the
// connections once the ones in use are released. Calls after Close, Close
// included, fail.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return errClosed
	}
	close(s.done)
	s.pool.Close()
	return nil
}

// txConn is the sqlstore.Conn of one View (an Update's is its pipeline).
// Its statements run with the View's ctx.
type txConn struct {
	ctx context.Context
	q   pgx.Tx
}

func (c *txConn) Exec(id sqlstore.Stmt, args ...any) (int64, error) {
	tag, err := c.q.Exec(c.ctx, statements[id], args...)
	return tag.RowsAffected(), err
}

// Insert reads the key from the row of the statement's RETURNING.
func (c *txConn) Insert(id sqlstore.Stmt, args ...any) (int64, error) {
	var key int64
	err := c.q.QueryRow(c.ctx, statements[id], args...).Scan(&key)
	return key, err
}

func (c *txConn) Query(id sqlstore.Stmt, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(c.ctx, statements[id], args...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

// pgRows are pgx.Rows as sqlstore.Rows: Close reports the error.
type pgRows struct{ pgx.Rows }

func (r pgRows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}
