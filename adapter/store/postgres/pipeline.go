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
// server, so the pipeline holds them back (sqlstore.Queuer) and sends
// them, with the savepoints between fns, in one batch (one round trip, one
// Sync) together with the next statement that needs an answer: a read, a
// write whose count the Tx reads, a reservation of keys, the commit. An
// Update of fns that only write costs a few round trips, not one per
// statement.
//
// Keys. The events' seq and the outbox rows' id are handed out from
// ranges the pipeline reserves from their sequences (one statement for
// many keys), so that AppendEvent and AppendOutbox return the key without
// waiting for their INSERT. A range is reserved under the store's lock and
// only used in its transaction, so keys still increase in commit order;
// what a transaction leaves unused is a gap, as a rollback leaves one.
//
// Errors. A batch stops at its first failing statement. When that is a
// queued write of fn i, the pipeline rolls the transaction back to fn i's
// savepoint (ROLLBACK TO SAVEPOINT, at the head of the next batch), drops
// fn i's other writes, and sends what later fns queued again: those fns
// read nothing since (a read would have sent the batch before them), so
// their statements do not depend on what fn i did. Fn i's error is the
// failed write's (sqlstore's Dialect.WriteError), given to fn i at its
// next statement if it is still running, else returned at its index by
// Update. A failed statement of the store's own (the lock, a savepoint,
// a reservation, the commit), or any error that is not the server's
// answer to one statement (connection lost, ctx done), fails the
// transaction.

// keyed are the INSERTs whose key the pipeline assigns: the index of
// their key range, and the column of the key.
var keyed = map[sqlstore.Stmt]struct {
	kind   int
	column string
}{
	sqlstore.StmtAppendEvent:  {kindEvents, "seq"},
	sqlstore.StmtAppendOutbox: {kindOutbox, "id"},
}

// The key ranges of a pipeline.
const (
	kindEvents = iota
	kindOutbox
	numKinds
)

// keyedStatements is the SQL of the keyed INSERTs: the statement with its
// key as one more parameter instead of RETURNING it.
var keyedStatements = func() map[sqlstore.Stmt]string {
	out := make(map[sqlstore.Stmt]string, len(keyed))
	for s, k := range keyed {
		out[s] = withKey(statements[s], k.column)
	}
	return out
}()

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

// maxQueued bounds the statements a pipeline holds back: a longer queue
// is sent without waiting for a read.
const maxQueued = 4096

// queued is a statement the pipeline holds back.
type queued struct {
	sql  string
	args []any
	stmt sqlstore.Stmt
	// fn is the fn that queued it; a statement of the store's own
	// (own) belongs to the fn it starts or ends.
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
	store *Store
	fns   int
	fn    int // the fn running
	queue []queued
	// failed[i] is the error of fn i's write (or read) that failed.
	failed []error
	// broken is the error that failed the transaction: every call
	// returns it.
	broken error
	// next and last bound the keys left of each kind (none when next >
	// last); used counts the keys handed out.
	next, last, used [numKinds]int64
}

var _ sqlstore.Queuer = (*pipeline)(nil)

func newPipeline(ctx context.Context, conn *pgx.Conn, s *Store, fns int) *pipeline {
	p := &pipeline{ctx: ctx, conn: conn, store: s, fns: fns, failed: make([]error, fns)}
	for k := range p.next {
		p.next[k], p.last[k] = 1, 0
	}
	return p
}

// own queues a statement of the store's own for the running fn.
func (p *pipeline) own(what, sql string, args ...any) {
	p.queue = append(p.queue, queued{sql: sql, args: args, fn: p.fn, own: true, what: what})
}

// startFn queues the savepoint of fn i (i > 0), releasing the previous one.
func (p *pipeline) startFn(i int) {
	p.fn = i
	what := "savepoint for fn " + strconv.Itoa(i)
	p.own(what, `RELEASE SAVEPOINT fn`)
	p.own(what, `SAVEPOINT fn`)
}

// abandon drops what fn i queued and has not sent, and rolls back what
// it sent: fn i returned an error.
func (p *pipeline) abandon(i int) {
	p.queue = slices.DeleteFunc(p.queue, func(q queued) bool { return q.fn == i && !q.own })
	p.own("roll back fn "+strconv.Itoa(i), `ROLLBACK TO SAVEPOINT fn`)
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

func (p *pipeline) Queue(s sqlstore.Stmt, args ...any) error {
	if err := p.refuse(); err != nil {
		return err
	}
	p.queue = append(p.queue, queued{sql: statements[s], args: copyArgs(args, 0), stmt: s, fn: p.fn})
	return p.sendIfLong()
}

func (p *pipeline) QueueInsert(s sqlstore.Stmt, args ...any) (int64, error) {
	if err := p.refuse(); err != nil {
		return 0, err
	}
	k, ok := keyed[s]
	if !ok {
		return 0, fmt.Errorf("postgres: statement %d has no key the store assigns", s)
	}
	if p.next[k.kind] > p.last[k.kind] {
		if err := p.reserve(k.kind); err != nil {
			return 0, err
		}
	}
	key := p.next[k.kind]
	p.next[k.kind]++
	p.used[k.kind]++
	a := copyArgs(args, 1)
	a = append(a, key)
	p.queue = append(p.queue, queued{sql: keyedStatements[s], args: a, stmt: s, fn: p.fn})
	return key, p.sendIfLong()
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

// reserve reserves the next range of keys of kind: as many as the fns
// left would use at the rate of the fns so far (one each at first).
func (p *pipeline) reserve(kind int) error {
	left := int64(p.fns - p.fn)
	perFn := max(1, (p.used[kind]+int64(p.fn))/int64(p.fn+1))
	n := min(max(4, left*perFn), 1<<16)
	br, err := p.send(&queued{sql: p.store.reserve[kind], args: []any{n}, fn: p.fn, own: true, what: "reserve keys"})
	if err != nil {
		return err
	}
	var last int64
	err = br.QueryRow().Scan(&last)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		p.broken = fmt.Errorf("reserve keys: %w", err)
		return p.broken
	}
	p.next[kind], p.last[kind] = last-n+1, last
	return nil
}

// sendIfLong sends the queue once it is long.
func (p *pipeline) sendIfLong() error {
	if len(p.queue) < maxQueued {
		return nil
	}
	_, err := p.send(nil)
	return err
}

// send sends the queue, then trigger (if any), in one batch, and returns
// the results positioned at trigger's, for the caller to read and close
// (nil without a trigger). A queued write that fails fails its fn (see
// the comment at the top); if that is trigger's fn, send returns the fn's
// error and trigger is not run.
func (p *pipeline) send(trigger *queued) (pgx.BatchResults, error) {
	for {
		br, retry, err := p.sendOnce(trigger)
		if !retry {
			return br, err
		}
		if err := p.refuse(); err != nil {
			return nil, err
		}
	}
}

// sendOnce sends the queue and trigger once. retry: a write of the queue
// failed, the queue now rolls its fn back and holds what to send again.
func (p *pipeline) sendOnce(trigger *queued) (br pgx.BatchResults, retry bool, err error) {
	if p.broken != nil {
		return nil, false, p.broken
	}
	if trigger == nil && len(p.queue) == 0 {
		return nil, false, nil
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(p.queue)+1)}
	for _, q := range p.queue {
		b.Queue(q.sql, q.args...)
	}
	if trigger != nil {
		b.Queue(trigger.sql, trigger.args...)
	}
	br = p.conn.SendBatch(p.ctx, b)
	failedAt := -1
	for k := range p.queue {
		if _, err = br.Exec(); err != nil {
			failedAt = k
			break
		}
	}
	if failedAt < 0 {
		p.queue = p.queue[:0]
		if trigger == nil {
			if err := br.Close(); err != nil {
				p.broken = fmt.Errorf("send writes: %w", err)
				return nil, false, p.broken
			}
			return nil, false, nil
		}
		return br, false, nil
	}
	_ = br.Close()
	q := p.queue[failedAt]
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || q.own || p.conn.PgConn().TxStatus() != 'E' {
		what := q.what
		if !q.own {
			what = fmt.Sprintf("fn %d", q.fn)
		}
		p.broken = fmt.Errorf("%s: %w", what, err)
		return nil, false, p.broken
	}
	p.failed[q.fn] = dialect.WriteError(q.stmt, q.args, err)
	if err := p.rollBack(q.fn); err != nil {
		return nil, false, err
	}
	var rest []queued
	for _, r := range p.queue[failedAt+1:] {
		if r.fn != q.fn || r.own {
			rest = append(rest, r)
		}
	}
	p.queue = rest
	return nil, true, nil
}

// rollBack rolls the aborted transaction back to the savepoint of fn i,
// at once: in an aborted transaction the server would not prepare the
// statements of a batch.
func (p *pipeline) rollBack(i int) error {
	if _, err := p.conn.Exec(p.ctx, `ROLLBACK TO SAVEPOINT fn`); err != nil {
		p.broken = fmt.Errorf("roll back fn %d: %w", i, err)
		return p.broken
	}
	return nil
}

// answered handles the error of the statement a fn waited for: the
// server refused it (the fn's savepoint is aborted: the fn fails and is
// rolled back), or the transaction is lost.
func (p *pipeline) answered(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && !p.conn.IsClosed() && p.conn.PgConn().TxStatus() == 'E' {
		if p.failed[p.fn] == nil {
			p.failed[p.fn] = err
			_ = p.rollBack(p.fn)
		}
		return err
	}
	if p.broken == nil {
		p.broken = fmt.Errorf("fn %d: %w", p.fn, err)
	}
	return err
}

// Exec runs a statement whose count the Tx reads, after the queue.
func (p *pipeline) Exec(s sqlstore.Stmt, args ...any) (int64, error) {
	if err := p.refuse(); err != nil {
		return 0, err
	}
	br, err := p.send(&queued{sql: statements[s], args: args, stmt: s, fn: p.fn})
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), p.answered(err)
}

// Insert runs an INSERT that returns its key, after the queue.
func (p *pipeline) Insert(s sqlstore.Stmt, args ...any) (int64, error) {
	if err := p.refuse(); err != nil {
		return 0, err
	}
	br, err := p.send(&queued{sql: statements[s], args: args, stmt: s, fn: p.fn})
	if err != nil {
		return 0, err
	}
	var key int64
	err = br.QueryRow().Scan(&key)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return key, p.answered(err)
}

// Query runs a query after the queue.
func (p *pipeline) Query(s sqlstore.Stmt, args ...any) (sqlstore.Rows, error) {
	if err := p.refuse(); err != nil {
		return nil, err
	}
	br, err := p.send(&queued{sql: statements[s], args: args, stmt: s, fn: p.fn})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, p.answered(err)
	}
	return &batchRows{Rows: rows, br: br, p: p}, nil
}

// batchRows are the rows of the last query of a batch: closing them
// closes the batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
	p  *pipeline
}

func (r *batchRows) Close() error {
	r.Rows.Close()
	err := r.Rows.Err()
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return r.p.answered(err)
}

// commit sends the queue with the last RELEASE, the NOTIFY of lastSeq
// (recomputed if a queued write fails: its fn's events are not
// committed) and COMMIT.
func (p *pipeline) commit(lastSeq func() int64) error {
	p.fn = p.fns
	p.own("commit", `RELEASE SAVEPOINT fn`)
	for {
		seq := lastSeq()
		trigger := &queued{sql: `COMMIT`, fn: p.fns, own: true, what: "commit"}
		if seq > 0 {
			// A notification is delivered at commit, and only then.
			p.own("commit", `SELECT pg_notify($1, $2)`, p.store.channel, strconv.FormatInt(seq, 10))
		}
		br, retry, err := p.sendOnce(trigger)
		if retry {
			if seq > 0 {
				// The NOTIFY was queued last: it is sent again with
				// the seq of the fns that remain.
				p.queue = p.queue[:len(p.queue)-1]
			}
			continue
		}
		if err != nil {
			return err
		}
		tag, err := br.Exec()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if tag.String() != "COMMIT" || p.conn.PgConn().TxStatus() != 'I' {
			// COMMIT of a failed transaction answers ROLLBACK, without an error.
			return fmt.Errorf("rolled back (%s)", tag)
		}
		return nil
	}
}
