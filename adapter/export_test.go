package adapter

import "context"

// Queue puts cmds on the engine's queue of actions, or with background
// on that of its own work, as its loops do, and returns at once with the
// function that waits for their outcomes: a test of the commit order
// queues before the commit goroutine looks.
func (e *Engine) Queue(ctx context.Context, background bool, cmds []Command) (wait func() []Outcome) {
	q := e.reqs
	if background {
		q = e.background
	}
	reqs := e.submit(ctx, q, cmds)
	return func() []Outcome { return e.await(ctx, reqs) }
}

// AppendThen is a command that appends Row to the outbox and then fails
// with Err (nil: it commits).
type AppendThen struct {
	Row OutboxRow
	Err error
}

func (a AppendThen) apply(c *change) error {
	row := a.Row
	if err := c.tx.AppendOutbox(&row); err != nil {
		return err
	}
	return a.Err
}

// Appended is how many outbox rows the engine's committed commands
// appended (what RunWriteback reads to decide whether to count again).
func (e *Engine) Appended() int64 { return e.appended.Load() }
