package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// An Update's writes are pipelined. A fn's writes (an interaction, its
// audit entry, event, outbox row and timer) need no answer from the
// server, so the pipeline sends them (with the savepoints between fns,
// if the Update has them) without waiting for one (sqlstore.Queuer):
// they stream to the server, which runs them while the next fns run
// here, and their answers are read with the next statement that needs one
// (a read, a write whose count the Tx reads, a reservation of keys, the
// commit), after one Sync. An Update of fns that only write costs a few
// round trips, not one per statement, and the server's work overlaps the
// fns'.
//
// Keys. The events' seq and the outbox rows' id are handed out from
// ranges the pipeline reserves from their sequences (one statement for
// many keys), so that AppendEvent and AppendOutbox return the key without
// waiting for their INSERT. A range is reserved under the store's lock and
// only used in its transaction, so keys still increase in commit order;
// what a transaction leaves unused is a gap, as a rollback leaves one.
//
// Errors. The server skips what follows a failed statement up to the
// Sync, and the transaction is aborted. An Update runs its fns first
// without savepoints (Store.Update): there a refused statement ends the
// run with errReplay, and Update runs the fns again, each in its own
// savepoint. With savepoints, when the failed statement is a write of fn
// i, the pipeline rolls the transaction back to fn i's savepoint and
// sends again what later fns sent after it (fn i's own writes are
// dropped): those fns read nothing since (a read would have read fn i's
// answer before them), so their statements do not depend on what fn i
// did. Fn i's error is the failed write's (sqlstore's
// Dialect.WriteError), given to fn i at its next statement if it is still
// running, else returned at its index by Update. A failed statement of
// the store's own (a savepoint, a reservation, the commit), or any error
// that is not the server's answer to one statement (connection lost, ctx
// done), fails the transaction.

// The statements of the store's own, numbered after sqlstore's.
const (
	stmtRelease = sqlstore.NumStmts + iota
	stmtSavepoint
	stmtRollbackTo
	stmtNotify
	stmtCommit
	stmtReserveEvents
	stmtReserveOutbox
	stmtAppendEventKeyed
	stmtAppendOutboxKeyed
	numStmts
)

// keyed are the INSERTs whose key the pipeline assigns: their SQL with the
// key as a parameter, the reservation of their keys, and the column of
// the key.
var keyed = map[sqlstore.Stmt]struct {
	insert, reserve sqlstore.Stmt
	column          string
}{
	sqlstore.StmtAppendEvent:  {stmtAppendEventKeyed, stmtReserveEvents, "seq"},
	sqlstore.StmtAppendOutbox: {stmtAppendOutboxKeyed, stmtReserveOutbox, "id"},
}

// sqlOf returns the SQL of every statement an Update may run in schema
// whose event and outbox sequences are named.
func sqlOf(eventsSeq, outboxSeq string) []string {
	s := make([]string, numStmts)
	copy(s, statements[:])
	s[stmtRelease] = `RELEASE SAVEPOINT fn`
	s[stmtSavepoint] = `SAVEPOINT fn`
	s[stmtRollbackTo] = `ROLLBACK TO SAVEPOINT fn`
	s[stmtNotify] = `SELECT pg_notify($1, $2)`
	s[stmtCommit] = `COMMIT`
	// Under the store's lock nothing else takes keys of the sequence
	// between the nextval and the setval.
	reserve := func(seq string) string {
		lit := "'" + strings.ReplaceAll(seq, "'", "''") + "'"
		return `SELECT setval(` + lit + `, nextval(` + lit + `) + $1 - 1)`
	}
	s[stmtReserveEvents] = reserve(eventsSeq)
	s[stmtReserveOutbox] = reserve(outboxSeq)
	for stmt, k := range keyed {
		s[k.insert] = withKey(statements[stmt], k.column)
	}
	return s
}

// withKey rewrites `INSERT INTO t (cols) VALUES (params) RETURNING key`
// into `INSERT INTO t (key, cols) VALUES ($n, params)`, $n one past the
// statement's last parameter.
func withKey(insert, key string) string {
	sql, ok := strings.CutSuffix(insert, " RETURNING "+key)
	if !ok {
		panic("postgres: keyed statement does not return " + key + ": " + insert)
	}
	n := 0
	for _, p := range strings.Split(sql, "$")[1:] {
		end := strings.IndexFunc(p, func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(p)
		}
		if v, err := strconv.Atoi(p[:end]); err == nil && v > n {
			n = v
		}
	}
	cols := strings.Index(sql, "(")
	values := strings.Index(sql, "VALUES (")
	if cols < 0 || values < cols {
		panic("postgres: keyed statement is not an INSERT ... VALUES: " + insert)
	}
	values += len("VALUES (")
	return sql[:cols+1] + key + ", " + sql[cols+1:values] + "$" + strconv.Itoa(n+1) + ", " + sql[values:]
}

// prepared returns the statements of the store prepared on conn,
// preparing them (in one round trip) on a connection's first Update.
func (s *Store) prepared(ctx context.Context, conn *pgx.Conn) ([]*pgconn.StatementDescription, error) {
	if sds, ok := s.preparedOn.Load(conn); ok {
		return sds.([]*pgconn.StatementDescription), nil
	}
	pl := conn.PgConn().StartPipeline(ctx)
	for id, sql := range s.sql {
		if sql != "" {
			pl.SendPrepare("ctibridge_"+strconv.Itoa(id), sql, nil)
		}
	}
	if err := pl.Sync(); err != nil {
		_ = pl.Close()
		return nil, err
	}
	sds := make([]*pgconn.StatementDescription, len(s.sql))
	for id, sql := range s.sql {
		if sql == "" {
			continue
		}
		res, err := pl.GetResults()
		if err != nil {
			_ = pl.Close()
			return nil, fmt.Errorf("prepare %d: %w", id, err)
		}
		sd, ok := res.(*pgconn.StatementDescription)
		if !ok {
			_ = pl.Close()
			return nil, fmt.Errorf("prepare %d: unexpected %T", id, res)
		}
		// The pipeline's description leaves out what it was asked for.
		sd.Name, sd.SQL = "ctibridge_"+strconv.Itoa(id), sql
		sds[id] = sd
	}
	if err := pl.Close(); err != nil {
		return nil, err
	}
	s.preparedOn.Store(conn, sds)
	return sds, nil
}

// flushEvery is how many statements the pipeline sends at once while it
// need not wait: the server starts on them while the fns go on.
const flushEvery = 64

// queued is a statement the pipeline sent and has not read the answer of.
type queued struct {
	id   sqlstore.Stmt // its SQL
	args []any
	// stmt is the sqlstore statement, for the error of a write.
	stmt sqlstore.Stmt
	// fn is the fn that sent it; a statement of the store's own (own)
	// belongs to the fn it starts or ends.
	fn  int
	own bool
	// what names an own statement in the error that fails the
	// transaction.
	what string
}

// pipeline is the sqlstore.Conn (and Queuer) of one Update.
type pipeline struct {
	ctx   context.Context
	conn  *pgx.Conn
	sds   []*pgconn.StatementDescription
	store *Store
	fns   int
	fn    int // the fn running
	// savepoints: each fn runs in its own savepoint. Without, a fn that
	// must be undone alone fails the transaction with errReplay.
	savepoints bool
	// wrote: the running fn sent a write.
	wrote bool
	// undone: without savepoints, the only fn failed after writing:
	// rolling the transaction back undoes it, as its savepoint would.
	undone bool

	pl      *pgconn.Pipeline // open while statements are unanswered
	sent    []queued         // sent in pl, before the statement awaited
	flushed int              // how many of sent are flushed
	eqb     pgx.ExtendedQueryBuilder

	// failed[i] is the error of fn i's write (or read) that failed.
	failed []error
	// broken is the error that failed the transaction: every call
	// returns it.
	broken error
	// stale: the server no longer has the statements prepared as they
	// were (DISCARD, a migration): the connection must not be reused.
	stale bool
	// next and last bound the keys left of each reservation (none when
	// next > last); used counts the keys handed out.
	next, last, used map[sqlstore.Stmt]int64
}

var _ sqlstore.Queuer = (*pipeline)(nil)

func newPipeline(ctx context.Context, conn *pgx.Conn, sds []*pgconn.StatementDescription, s *Store, fns int, savepoints bool) *pipeline {
	p := &pipeline{ctx: ctx, conn: conn, sds: sds, store: s, fns: fns, savepoints: savepoints, failed: make([]error, fns),
		next: map[sqlstore.Stmt]int64{}, last: map[sqlstore.Stmt]int64{}, used: map[sqlstore.Stmt]int64{}}
	for _, k := range keyed {
		p.next[k.reserve], p.last[k.reserve] = 1, 0
	}
	return p
}

// errReplay fails a transaction run without savepoints when a fn must be
// undone alone: Update runs the fns again, with them.
var errReplay = errors.New("a fn failed after writing: run again with a savepoint per fn")

// fail fails the transaction with err, unless it failed already.
func (p *pipeline) fail(err error) error {
	if p.broken == nil {
		p.broken = err
	}
	return p.broken
}

// push sends q without waiting for its answer.
func (p *pipeline) push(q queued) error {
	if p.broken != nil {
		return p.broken
	}
	if p.pl == nil {
		p.pl = p.conn.PgConn().StartPipeline(p.ctx)
		p.sent, p.flushed = p.sent[:0], 0
	}
	sd := p.sds[q.id]
	if err := p.eqb.Build(p.conn.TypeMap(), sd, q.args); err != nil {
		if q.own {
			return p.fail(fmt.Errorf("%s: %w", q.what, err))
		}
		// Nothing of q was sent: the transaction is as it was.
		return encodeError{err}
	}
	// The pipeline keeps the result formats until it reads the answer;
	// the builder reuses its slices.
	p.pl.SendQueryStatement(sd, p.eqb.ParamValues, p.eqb.ParamFormats, slices.Clone(p.eqb.ResultFormats))
	p.sent = append(p.sent, q)
	p.wrote = p.wrote || !q.own && sqlstore.IsWrite(q.stmt)
	if len(p.sent)-p.flushed >= flushEvery {
		if err := p.pl.Flush(); err != nil {
			return p.fail(fmt.Errorf("send: %w", err))
		}
		p.flushed = len(p.sent)
	}
	return nil
}

// own sends a statement of the store's own for the running fn.
func (p *pipeline) own(what string, id sqlstore.Stmt, args ...any) error {
	return p.push(queued{id: id, args: args, fn: p.fn, own: true, what: what})
}

// startFn starts fn i (i > 0), in a savepoint (releasing the previous
// one) if the transaction has them.
func (p *pipeline) startFn(i int) {
	p.fn, p.wrote = i, false
	if !p.savepoints {
		return
	}
	what := "savepoint for fn " + strconv.Itoa(i)
	_ = p.own(what, stmtRelease)
	_ = p.own(what, stmtSavepoint)
}

// abandon rolls back what fn i, the running fn, sent: it failed.
// Without savepoints, what it wrote is undone by rolling the transaction
// back, and the other fns run again.
func (p *pipeline) abandon(i int) {
	if !p.savepoints {
		switch {
		case !p.wrote:
		case p.fns == 1:
			p.undone = true
		default:
			p.fail(errReplay)
		}
		return
	}
	_ = p.own("roll back fn "+strconv.Itoa(i), stmtRollbackTo)
}

// refuse is the error a statement of the running fn gets without being
// run: the transaction's, or the fn's own failure.
func (p *pipeline) refuse() error {
	if p.broken != nil {
		return p.broken
	}
	if p.fn < len(p.failed) {
		return p.failed[p.fn]
	}
	return nil
}

// encodeError is an argument of a statement that cannot be sent.
type encodeError struct{ err error }

func (e encodeError) Error() string { return e.err.Error() }
func (e encodeError) Unwrap() error { return e.err }

func (p *pipeline) Queue(s sqlstore.Stmt, args ...any) error {
	if err := p.refuse(); err != nil {
		return err
	}
	q := queued{id: s, args: copyArgs(args, 0), stmt: s, fn: p.fn}
	return p.pushed(q, p.push(q))
}

// pushed handles the error of pushing q, a write of the running fn: an
// argument it cannot send fails the fn, as the write would have.
func (p *pipeline) pushed(q queued, err error) error {
	var enc encodeError
	if !errors.As(err, &enc) {
		return err
	}
	p.failed[p.fn] = dialect.WriteError(q.stmt, q.args, enc.err)
	p.abandon(p.fn)
	return p.refuse()
}

func (p *pipeline) QueueInsert(s sqlstore.Stmt, args ...any) (int64, error) {
	if err := p.refuse(); err != nil {
		return 0, err
	}
	k, ok := keyed[s]
	if !ok {
		return 0, fmt.Errorf("postgres: statement %d has no key the store assigns", s)
	}
	if p.next[k.reserve] > p.last[k.reserve] {
		if err := p.reserve(k.reserve); err != nil {
			return 0, err
		}
	}
	key := p.next[k.reserve]
	p.next[k.reserve]++
	p.used[k.reserve]++
	q := queued{id: k.insert, args: append(copyArgs(args, 1), key), stmt: s, fn: p.fn}
	if err := p.pushed(q, p.push(q)); err != nil {
		return 0, err
	}
	return key, nil
}

// copyArgs copies args, with room for extra more: the Tx reuses its
// slice, and the caller may change a list it passed once the write is
// queued.
func copyArgs(args []any, extra int) []any {
	out := make([]any, len(args), len(args)+extra)
	for i, a := range args {
		if ss, ok := a.([]string); ok {
			a = slices.Clone(ss)
		}
		out[i] = a
	}
	return out
}

// reserve reserves the next range of keys: as many as the fns left would
// use at the rate of the fns so far (one each at first).
func (p *pipeline) reserve(id sqlstore.Stmt) error {
	left := int64(p.fns - p.fn)
	perFn := max(1, (p.used[id]+int64(p.fn))/int64(p.fn+1))
	n := min(max(4, left*perFn), 1<<16)
	rr, err := p.await(one(queued{id: id, args: []any{n}, fn: p.fn, own: true, what: "reserve keys"}))
	if err != nil {
		return err
	}
	rows := pgx.RowsFromResultReader(p.conn.TypeMap(), rr)
	var last int64
	if rows.Next() {
		err = rows.Scan(&last)
	}
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	if err == nil {
		err = p.synced()
	}
	if err != nil {
		return p.fail(fmt.Errorf("reserve keys: %w", err))
	}
	p.next[id], p.last[id] = last-n+1, last
	return nil
}

// await sends the statements last returns (built again if await must
// send them again) and a Sync, and reads the answers of what was sent
// before them: it returns the unread answer of the first, for the caller
// to read (then those of the others, with result) and then call synced.
// A write sent before that failed fails its fn (see the comment at the
// top); if that is the running fn, await returns the fn's error and last
// is not run.
func (p *pipeline) await(last func() []queued) (*pgconn.ResultReader, error) {
	for {
		ts := last()
		for _, t := range ts {
			if err := p.push(t); err != nil {
				return nil, err
			}
		}
		awaited := len(p.sent) - len(ts)
		if err := p.pl.Sync(); err != nil {
			return nil, p.fail(fmt.Errorf("send: %w", err))
		}
		failedAt, err := -1, error(nil)
		for k := range awaited {
			var res any
			if res, err = p.pl.GetResults(); err == nil {
				if rr, ok := res.(*pgconn.ResultReader); ok {
					_, err = rr.Close()
				} else {
					err = fmt.Errorf("unexpected %T", res)
				}
			}
			if err != nil {
				failedAt = k
				break
			}
		}
		if failedAt < 0 {
			rr, err := p.result()
			if err != nil && ts[0].own {
				return nil, p.fail(fmt.Errorf("%s: %w", ts[0].what, err))
			}
			return rr, p.answered(err)
		}
		failed := p.sent[failedAt]
		rest := slices.Clone(p.sent[failedAt+1 : awaited])
		_ = p.pl.Close()
		p.pl = nil
		var pe *pgconn.PgError
		p.check(err)
		if !errors.As(err, &pe) || failed.own || p.conn.IsClosed() || p.conn.PgConn().TxStatus() != 'E' {
			what := failed.what
			if !failed.own {
				what = fmt.Sprintf("fn %d", failed.fn)
			}
			return nil, p.fail(fmt.Errorf("%s: %w", what, err))
		}
		if !p.savepoints {
			return nil, p.fail(errReplay)
		}
		p.failed[failed.fn] = dialect.WriteError(failed.stmt, failed.args, err)
		if err := p.rollBack(failed.fn); err != nil {
			return nil, err
		}
		for _, r := range rest {
			if r.fn != failed.fn || r.own {
				if err := p.push(r); err != nil {
					return nil, err
				}
			}
		}
		if err := p.refuse(); err != nil {
			return nil, err
		}
	}
}

// result reads the next answer of the pipeline.
func (p *pipeline) result() (*pgconn.ResultReader, error) {
	res, err := p.pl.GetResults()
	if err != nil {
		return nil, err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return nil, fmt.Errorf("unexpected %T", res)
	}
	return rr, nil
}

// one is await's last for one statement.
func one(q queued) func() []queued { return func() []queued { return []queued{q} } }

// synced reads the Sync after the awaited answers and ends the pipeline.
func (p *pipeline) synced() error {
	res, err := p.pl.GetResults()
	if err == nil {
		if _, ok := res.(*pgconn.PipelineSync); !ok {
			err = fmt.Errorf("unexpected %T", res)
		}
	}
	if cerr := p.pl.Close(); err == nil {
		err = cerr
	}
	p.pl = nil
	return err
}

// close ends an open pipeline, whatever it holds: the transaction is
// ending without its commit. On a connection that failed (the database
// dropped it) nothing is sent: pgconn is closing it on a goroutine of its
// own, which writes to it, and a Sync would race with that write.
func (p *pipeline) close() {
	if p.pl != nil {
		if !p.conn.PgConn().IsClosed() {
			_ = p.pl.Sync()
		}
		_ = p.pl.Close()
		p.pl = nil
	}
}

// check notes an error that says the prepared statements are stale:
// invalid_sql_statement_name (gone), feature_not_supported (a cached plan
// whose result changed).
func (p *pipeline) check(err error) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "26000" || pe.Code == "0A000") {
		p.stale = true
	}
}

// rollBack rolls the aborted transaction back to the savepoint of fn i.
func (p *pipeline) rollBack(i int) error {
	if _, err := p.conn.Exec(p.ctx, `ROLLBACK TO SAVEPOINT fn`); err != nil {
		return p.fail(fmt.Errorf("roll back fn %d: %w", i, err))
	}
	return nil
}

// answered handles the error of the statement a fn waited for, once its
// pipeline is closed: the server refused it (the fn's savepoint is
// aborted: the fn fails and is rolled back), or the transaction is lost.
func (p *pipeline) answered(err error) error {
	if err == nil {
		return nil
	}
	if p.pl != nil {
		_ = p.pl.Close()
		p.pl = nil
	}
	p.check(err)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && p.fn < len(p.failed) && !p.conn.IsClosed() && p.conn.PgConn().TxStatus() == 'E' {
		if !p.savepoints {
			return p.fail(errReplay)
		}
		if p.failed[p.fn] == nil {
			p.failed[p.fn] = err
			_ = p.rollBack(p.fn)
		}
		return err
	}
	p.fail(fmt.Errorf("fn %d: %w", p.fn, err))
	return err
}

// Exec runs a statement whose count the Tx reads.
func (p *pipeline) Exec(s sqlstore.Stmt, args ...any) (int64, error) {
	if err := p.refuse(); err != nil {
		return 0, err
	}
	rr, err := p.await(one(queued{id: s, args: args, stmt: s, fn: p.fn}))
	if err != nil {
		return 0, err
	}
	tag, err := rr.Close()
	if err == nil {
		err = p.synced()
	}
	return tag.RowsAffected(), p.answered(err)
}

// Insert runs an INSERT that returns its key.
func (p *pipeline) Insert(s sqlstore.Stmt, args ...any) (int64, error) {
	rows, err := p.Query(s, args...)
	if err != nil {
		return 0, err
	}
	var key int64
	if rows.Next() {
		err = rows.Scan(&key)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return key, err
}

// Query runs a query.
func (p *pipeline) Query(s sqlstore.Stmt, args ...any) (sqlstore.Rows, error) {
	if err := p.refuse(); err != nil {
		return nil, err
	}
	rr, err := p.await(one(queued{id: s, args: args, stmt: s, fn: p.fn}))
	if err != nil {
		return nil, err
	}
	return &pipelineRows{Rows: pgx.RowsFromResultReader(p.conn.TypeMap(), rr), p: p}, nil
}

// pipelineRows are the rows of the statement a fn waited for: closing
// them ends the pipeline.
type pipelineRows struct {
	pgx.Rows
	p      *pipeline
	closed bool
	err    error
}

// Close may be called again, and returns the same error.
func (r *pipelineRows) Close() error {
	if r.closed {
		return r.err
	}
	r.closed = true
	r.Rows.Close()
	err := r.Rows.Err()
	if err == nil {
		err = r.p.synced()
	}
	r.err = r.p.answered(err)
	return r.err
}

// commit sends the last RELEASE (with savepoints), the NOTIFY of the last seq the fns that
// did not fail appended (lastSeq: a write that fails when read fails its
// fn, whose events are not committed) and COMMIT.
func (p *pipeline) commit(lastSeq func() int64) error {
	p.fn = p.fns
	if p.savepoints {
		if err := p.own("commit", stmtRelease); err != nil {
			return err
		}
	}
	commit := queued{id: stmtCommit, fn: p.fns, own: true, what: "commit"}
	notified := false
	rr, err := p.await(func() []queued {
		seq := lastSeq()
		notified = seq > 0
		if !notified {
			return []queued{commit}
		}
		// A notification is delivered at commit, and only then.
		return []queued{{id: stmtNotify, args: []any{p.store.channel, strconv.FormatInt(seq, 10)},
			fn: p.fns, own: true, what: "notify"}, commit}
	})
	if err != nil {
		return err
	}
	if notified {
		if _, err = rr.Close(); err == nil {
			rr, err = p.result()
		}
		if err != nil {
			return p.fail(fmt.Errorf("commit: %w", err))
		}
	}
	tag, err := rr.Close()
	if err == nil {
		err = p.synced()
	}
	if err != nil {
		return p.fail(fmt.Errorf("commit: %w", err))
	}
	if tag.String() != "COMMIT" || p.conn.PgConn().TxStatus() != 'I' {
		// COMMIT of a failed transaction answers ROLLBACK, without an error.
		return fmt.Errorf("rolled back (%s)", tag)
	}
	return nil
}
