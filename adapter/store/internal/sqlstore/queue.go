package sqlstore

import (
	"fmt"

	"github.com/ctibridge/ctibridge/adapter"
)

// Queuer is a Conn that need not wait for a write's answer: it sends the
// write (or holds it back) and reads the answer with the statement that
// next needs one (PostgreSQL pipelines them), so that a command's writes
// cost no round trip of their own. It runs queued writes in the order
// they were queued, before any later statement of the transaction.
//
// A queued write that fails when it is sent fails the fn of the Update
// that queued it, as if the fn had returned WriteError of it: the store
// rolls the fn back to its savepoint and returns that error at the fn's
// index. So a write's error may reach the fn at its next read, or only
// its Update's caller; the writes a Tx queues are those whose result it
// does not read (not a rows-affected count, not a generated key the
// database picks).
type Queuer interface {
	// Queue queues the write s. It returns an error when the fn that
	// queues it has already failed (an earlier write of it did), or the
	// transaction has, or an argument cannot be sent: then s is dropped.
	// The Conn keeps a copy of args.
	Queue(s Stmt, args ...any) error
	// QueueInsert queues the INSERT s of a row whose key the Conn
	// assigns, and returns the key (see Dialect.Returning: the store's
	// SQL of s takes the key as one more parameter). Errors as Queue's.
	QueueInsert(s Stmt, args ...any) (key int64, err error)
}

// write runs a write whose rows-affected count the caller does not read:
// a Queuer queues it. Its error is WriteError's.
func (t *Tx) write(s Stmt, args ...any) error {
	t.args = append(t.args[:0], args...)
	if !t.writable {
		return t.dialect.WriteError(s, t.args, ErrReadOnly)
	}
	if q, ok := t.conn.(Queuer); ok {
		return q.Queue(s, t.args...)
	}
	if _, err := t.conn.Exec(s, t.args...); err != nil {
		return t.dialect.WriteError(s, t.args, err)
	}
	return nil
}

// insertKey runs an INSERT whose generated key the caller reads: a Queuer
// assigns the key and queues the INSERT. Its error is WriteError's.
func (t *Tx) insertKey(s Stmt, args ...any) (int64, error) {
	t.args = append(t.args[:0], args...)
	if !t.writable {
		return 0, t.dialect.WriteError(s, t.args, ErrReadOnly)
	}
	if q, ok := t.conn.(Queuer); ok {
		return q.QueueInsert(s, t.args...)
	}
	key, err := t.conn.Insert(s, t.args...)
	if err != nil {
		return 0, t.dialect.WriteError(s, t.args, err)
	}
	return key, nil
}

// WriteError is the error a Tx method returns when its write s, run with
// args, failed with err: it names the operation and the row, and a
// duplicate CRM record of an interaction is an *adapter.ConflictError. A
// Queuer gives the error of a queued write that failed with it.
func (d *Dialect) WriteError(s Stmt, args []any, err error) error {
	arg := func(n int) any {
		if n < len(args) {
			return args[n]
		}
		return nil
	}
	switch s {
	case StmtPutInteraction:
		if d.IsUniqueViolation(err) {
			err = &adapter.ConflictError{
				Reason: fmt.Sprintf("%s %s already has another interaction", arg(2), arg(1))}
		}
		return fmt.Errorf("put interaction %s: %w", arg(0), err)
	case StmtAppendAudit:
		return fmt.Errorf("append audit of %s: %w", arg(1), err)
	case StmtAppendEvent:
		return fmt.Errorf("append event %s: %w", arg(0), err)
	case StmtAppendOutbox:
		return fmt.Errorf("append outbox row of %s: %w", arg(0), err)
	case StmtSetTimer:
		return fmt.Errorf("set timer %s %s: %w", arg(0), arg(1), err)
	case StmtClearTimer:
		return fmt.Errorf("clear timer %s %s: %w", arg(0), arg(1), err)
	case StmtPutTransfer:
		return fmt.Errorf("put transfer %s: %w", arg(0), err)
	case StmtPutConsult:
		return fmt.Errorf("put consult %s: %w", arg(0), err)
	}
	return fmt.Errorf("write %d: %w", s, err)
}
