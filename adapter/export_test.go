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
