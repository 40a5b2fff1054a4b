package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// writeAll writes one of everything about interaction i, as a command does.
func writeAll(tx adapter.Tx, i *contactpad.Interaction) error {
	if err := tx.PutInteraction(i); err != nil {
		return err
	}
	if err := tx.AppendAudit(&contactpad.AuditEntry{ID: "audit-" + i.ID, InteractionID: i.ID, At: t0, Action: "created"}); err != nil {
		return err
	}
	if err := tx.AppendEvent(&adapter.Event{Type: adapter.EventInteractionCreated, At: t0, Interaction: i}); err != nil {
		return err
	}
	if err := tx.AppendOutbox(&adapter.OutboxRow{InteractionID: i.ID, Kind: adapter.OutboxChange, Payload: json.RawMessage(`{}`)}); err != nil {
		return err
	}
	return tx.SetTimer(adapter.Timer{Kind: adapter.TimerInactivity, Ref: i.ID, DueAt: at(time.Hour)})
}

// contents is what a store holds, as far as the tests of Update look.
type contents struct {
	interactions []string
	audit        map[string]int
	events       int
	outbox       int
	timers       int
	agents       int
}

func readContents(t *testing.T, s adapter.Store) contents {
	t.Helper()
	c := contents{audit: map[string]int{}}
	view(t, s, func(tx adapter.Tx) error {
		is, err := tx.Interactions(adapter.InteractionFilter{})
		require.NoError(t, err)
		c.interactions = ids(is)
		for _, id := range c.interactions {
			entries, err := tx.Audit(id)
			require.NoError(t, err)
			c.audit[id] = len(entries)
		}
		events, err := tx.EventsAfter(0, 100000)
		require.NoError(t, err)
		c.events = len(events)
		rows, err := tx.Outbox(adapter.OutboxPending, 100000)
		require.NoError(t, err)
		c.outbox = len(rows)
		timers, err := tx.DueTimers(at(1000*time.Hour), 100000)
		require.NoError(t, err)
		c.timers = len(timers)
		agents, err := tx.Agents()
		require.NoError(t, err)
		c.agents = len(agents)
		return nil
	})
	return c
}

func testUpdateIsolatesFailingFn(t *testing.T, s adapter.Store) {
	i1 := owned("i1", "alice", contactpad.NonLive, contactpad.Connected)
	i1.CreatedAt = at(time.Second)
	i3 := owned("i3", "alice", contactpad.NonLive, contactpad.Connected)
	i3.CreatedAt = at(3 * time.Second)
	errOther := fmt.Errorf("refused: %w", adapter.ErrForbidden)

	errs, err := s.Update(t.Context(), []func(adapter.Tx) error{
		func(tx adapter.Tx) error { return writeAll(tx, i1) },
		// Writes everything, including a change to i1, then fails: none of
		// it may remain.
		func(tx adapter.Tx) error {
			changed := *i1
			changed.Status = contactpad.Completed
			if err := tx.PutInteraction(&changed); err != nil {
				return err
			}
			if err := writeAll(tx, owned("i2", "alice", contactpad.NonLive, contactpad.Connected)); err != nil {
				return err
			}
			if err := tx.PutAgent(agent("alice", contactpad.Available, t0, "sales")); err != nil {
				return err
			}
			if err := tx.PutTransfer(&contactpad.Transfer{ID: "t1", InteractionID: "i1"}); err != nil {
				return err
			}
			if err := tx.PutConsult(&contactpad.Consult{ID: "c1", InteractionID: "i1"}); err != nil {
				return err
			}
			if err := tx.ClearTimer(adapter.TimerInactivity, "i1"); err != nil {
				return err
			}
			return errBoom
		},
		func(tx adapter.Tx) error { return writeAll(tx, i3) },
		func(adapter.Tx) error { return errOther },
	})
	require.NoError(t, err)
	require.Len(t, errs, 4)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], errBoom)
	require.NoError(t, errs[2])
	require.ErrorIs(t, errs[3], adapter.ErrForbidden, "errors come back as the fn returned them")

	require.Equal(t, contents{
		interactions: []string{"i1", "i3"},
		audit:        map[string]int{"i1": 1, "i3": 1},
		events:       2,
		outbox:       2,
		timers:       2,
		agents:       0,
	}, readContents(t, s))
	require.Equal(t, i1, getInteraction(t, s, "i1"), "the failed fn's change to i1 is rolled back")
	view(t, s, func(tx adapter.Tx) error {
		entries, err := tx.Audit("i2")
		require.NoError(t, err)
		require.Empty(t, entries)
		_, err = tx.Transfer("t1")
		require.ErrorIs(t, err, adapter.ErrNotFound)
		_, err = tx.Consult("c1")
		require.ErrorIs(t, err, adapter.ErrNotFound)
		return nil
	})
}

func testUpdateSeesEarlierFns(t *testing.T, s adapter.Store) {
	var seen *contactpad.Interaction
	var load contactpad.Capacity
	update(t, s,
		func(tx adapter.Tx) error { return tx.PutInteraction(fullInteraction("i1")) },
		func(tx adapter.Tx) (err error) {
			seen, err = tx.Interaction("i1")
			if err != nil {
				return err
			}
			load, err = tx.Load("alice")
			return err
		},
	)
	require.Equal(t, fullInteraction("i1"), seen)
	require.Equal(t, contactpad.Capacity{contactpad.SemiLive: 1}, load)
}

func testUpdateEmpty(t *testing.T, s adapter.Store) {
	errs, err := s.Update(t.Context(), nil)
	require.NoError(t, err)
	require.Empty(t, errs)
}

func testUpdatePanic(t *testing.T, s adapter.Store) {
	require.PanicsWithValue(t, "fn panicked", func() {
		_, _ = s.Update(t.Context(), []func(adapter.Tx) error{
			func(tx adapter.Tx) error {
				return writeAll(tx, owned("i1", "alice", contactpad.Live, contactpad.Offered))
			},
			func(adapter.Tx) error { panic("fn panicked") },
		})
	})

	// The store is usable and the panicking Update left nothing.
	update(t, s, func(tx adapter.Tx) error {
		return writeAll(tx, owned("i2", "alice", contactpad.Live, contactpad.Offered))
	})
	require.Equal(t, contents{
		interactions: []string{"i2"},
		audit:        map[string]int{"i2": 1},
		events:       1,
		outbox:       1,
		timers:       1,
	}, readContents(t, s))
}

func testUpdateCanceledContext(t *testing.T, s adapter.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	_, err := s.Update(ctx, []func(adapter.Tx) error{
		func(tx adapter.Tx) error {
			ran = true
			return tx.PutInteraction(fullInteraction("i1"))
		},
	})
	require.Error(t, err)
	require.Empty(t, readContents(t, s).interactions, "fn ran: %v", ran)
}

func testUpdateConcurrent(t *testing.T, s adapter.Store) {
	const (
		goroutines = 8
		updates    = 20
		batch      = 4
	)
	var (
		wg      sync.WaitGroup
		running atomic.Int32
		overlap atomic.Bool
		failed  = make(chan error, goroutines*updates)
	)
	for g := range goroutines {
		wg.Go(func() {
			for u := range updates {
				fns := make([]func(adapter.Tx) error, batch)
				for b := range batch {
					fns[b] = func(tx adapter.Tx) error {
						if running.Add(1) != 1 {
							overlap.Store(true)
						}
						defer running.Add(-1)
						i := owned(fmt.Sprintf("g%d-u%02d-b%d", g, u, b), "alice", contactpad.NonLive, contactpad.Queued)
						if err := tx.PutInteraction(i); err != nil {
							return err
						}
						return tx.AppendEvent(&adapter.Event{Type: adapter.EventInteractionCreated, At: t0, Interaction: i})
					}
				}
				errs, err := s.Update(t.Context(), fns)
				if err == nil {
					for _, e := range errs {
						err = e
						if err != nil {
							break
						}
					}
				}
				if err != nil {
					failed <- err
				}
			}
		})
	}
	wg.Wait()
	close(failed)
	for err := range failed {
		require.NoError(t, err)
	}
	require.False(t, overlap.Load(), "fns of different Updates ran at the same time")

	const total = goroutines * updates * batch
	view(t, s, func(tx adapter.Tx) error {
		is, err := tx.Interactions(adapter.InteractionFilter{})
		require.NoError(t, err)
		require.Len(t, is, total)
		events, err := tx.EventsAfter(0, 2*total)
		require.NoError(t, err)
		require.Len(t, events, total)
		seen := map[string]bool{}
		for n, e := range events {
			if n > 0 {
				require.Greater(t, e.Seq, events[n-1].Seq)
			}
			seen[e.Interaction.ID] = true
		}
		require.Len(t, seen, total)
		return nil
	})
}

func testViewCannotWrite(t *testing.T, s adapter.Store) {
	armedTimer := adapter.Timer{Kind: adapter.TimerOfferTimeout, Ref: "i0", DueAt: t0}
	setTimers(t, s, armedTimer)
	before := readContents(t, s)

	tests := []struct {
		name  string
		write func(tx adapter.Tx) error
	}{
		{name: "PutInteraction", write: func(tx adapter.Tx) error { return tx.PutInteraction(fullInteraction("i1")) }},
		{name: "PutAgent", write: func(tx adapter.Tx) error { return tx.PutAgent(agent("alice", contactpad.Available, t0, "sales")) }},
		{name: "PutTransfer", write: func(tx adapter.Tx) error { return tx.PutTransfer(&contactpad.Transfer{ID: "t1"}) }},
		{name: "PutConsult", write: func(tx adapter.Tx) error { return tx.PutConsult(&contactpad.Consult{ID: "c1"}) }},
		{name: "AppendAudit", write: func(tx adapter.Tx) error {
			return tx.AppendAudit(&contactpad.AuditEntry{InteractionID: "i0", At: t0})
		}},
		{name: "AppendEvent", write: func(tx adapter.Tx) error {
			return tx.AppendEvent(&adapter.Event{Type: adapter.EventAgentPresence, At: t0})
		}},
		{name: "AppendOutbox", write: func(tx adapter.Tx) error {
			return tx.AppendOutbox(&adapter.OutboxRow{InteractionID: "i0", Kind: adapter.OutboxChange})
		}},
		{name: "SetTimer", write: func(tx adapter.Tx) error {
			return tx.SetTimer(adapter.Timer{Kind: adapter.TimerDueDate, Ref: "i1", DueAt: t0})
		}},
		{name: "ClearTimer", write: func(tx adapter.Tx) error { return tx.ClearTimer(armedTimer.Kind, armedTimer.Ref) }},
		{name: "TakeTimer", write: func(tx adapter.Tx) error { _, err := tx.TakeTimer(armedTimer); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var writeErr error
			err := s.View(t.Context(), func(tx adapter.Tx) error {
				writeErr = tt.write(tx)
				return nil
			})
			require.NoError(t, err)
			require.Error(t, writeErr)
			require.Equal(t, before, readContents(t, s))
		})
	}
	view(t, s, func(tx adapter.Tx) error {
		for _, check := range []func() error{
			func() error { _, err := tx.Transfer("t1"); return err },
			func() error { _, err := tx.Consult("c1"); return err },
		} {
			require.ErrorIs(t, check(), adapter.ErrNotFound)
		}
		return nil
	})
}

// testViewPanic: a panic in a View's fn reaches the caller, and takes
// nothing with it: more Views panic than a store has connections, and the
// store still reads.
func testViewPanic(t *testing.T, s adapter.Store) {
	putInteractions(t, s, fullInteraction("i1"))
	for range 20 {
		require.PanicsWithValue(t, "fn panicked", func() {
			_ = s.View(t.Context(), func(tx adapter.Tx) error {
				if _, err := tx.Interaction("i1"); err != nil {
					return err
				}
				panic("fn panicked")
			})
		})
	}
	var got *contactpad.Interaction
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) (err error) {
		got, err = tx.Interaction("i1")
		return err
	}))
	require.Equal(t, fullInteraction("i1"), got)
}

// testViewCanceledContext: a View whose context is done fails without
// running its fn, and its error is the fn's otherwise.
func testViewCanceledContext(t *testing.T, s adapter.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	err := s.View(ctx, func(adapter.Tx) error {
		ran = true
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, ran)

	errFn := errors.New("fn failed")
	require.ErrorIs(t, s.View(t.Context(), func(adapter.Tx) error { return errFn }), errFn)
}

// testViewsConcurrent: many more Views at once than a store has
// connections all read, each its own snapshot, while Updates commit.
func testViewsConcurrent(t *testing.T, s adapter.Store) {
	putInteractions(t, s, fullInteraction("i1"))
	const goroutines, views = 24, 20
	var wg sync.WaitGroup
	failed := make(chan error, goroutines*views+1)
	for range goroutines {
		wg.Go(func() {
			for range views {
				err := s.View(t.Context(), func(tx adapter.Tx) error {
					a, err := tx.Interaction("i1")
					if err != nil {
						return err
					}
					b, err := tx.Interaction("i1")
					if err != nil {
						return err
					}
					if a.Version != b.Version {
						return fmt.Errorf("one View read versions %d and %d", a.Version, b.Version)
					}
					return nil
				})
				if err != nil {
					failed <- err
				}
			}
		})
	}
	wg.Go(func() {
		for v := range int64(20) {
			i := fullInteraction("i1")
			i.Version = v + 2
			if _, err := s.Update(t.Context(), []func(adapter.Tx) error{
				func(tx adapter.Tx) error { return tx.PutInteraction(i) },
			}); err != nil {
				failed <- err
			}
		}
	})
	wg.Wait()
	close(failed)
	for err := range failed {
		t.Error(err)
	}
}

// waitTimeout bounds the waits of the concurrency tests, so that a store
// that blocks fails the test instead of hanging it. No test sleeps.
const waitTimeout = time.Minute

func testViewNotBlockedByUpdate(t *testing.T, s adapter.Store) {
	putInteractions(t, s, fullInteraction("i1"))

	inside := make(chan struct{})
	release := make(chan struct{})
	updated := make(chan error, 1)
	go func() {
		_, err := s.Update(context.Background(), []func(adapter.Tx) error{
			func(tx adapter.Tx) error {
				changed := fullInteraction("i1")
				changed.Status = contactpad.Completed
				if err := tx.PutInteraction(changed); err != nil {
					return err
				}
				if err := tx.PutInteraction(fullInteraction("i2")); err != nil {
					return err
				}
				close(inside)
				<-release
				return nil
			},
		})
		updated <- err
	}()
	select {
	case <-inside:
	case <-time.After(waitTimeout):
		t.Fatal("the Update never ran")
	}

	viewed := make(chan error, 1)
	go func() {
		viewed <- s.View(context.Background(), func(tx adapter.Tx) error {
			i, err := tx.Interaction("i1")
			if err != nil {
				return err
			}
			if i.Status != contactpad.Connected {
				return fmt.Errorf("view sees the uncommitted status %s", i.Status)
			}
			if _, err := tx.Interaction("i2"); err == nil {
				return fmt.Errorf("view sees the uncommitted interaction i2")
			}
			return nil
		})
	}()
	select {
	case err := <-viewed:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		close(release)
		t.Fatal("View blocked behind a running Update")
	}

	close(release)
	require.NoError(t, <-updated)
	require.Equal(t, contactpad.Completed, getInteraction(t, s, "i1").Status)
}

func testViewSnapshot(t *testing.T, s adapter.Store) {
	putInteractions(t, s, fullInteraction("i1"))

	firstRead := make(chan struct{})
	committed := make(chan struct{})
	viewed := make(chan error, 1)
	go func() {
		viewed <- s.View(context.Background(), func(tx adapter.Tx) error {
			before, err := tx.Interaction("i1")
			if err != nil {
				return err
			}
			close(firstRead)
			<-committed
			after, err := tx.Interaction("i1")
			if err != nil {
				return err
			}
			if after.Status != before.Status {
				return fmt.Errorf("status changed inside one View: %s, then %s", before.Status, after.Status)
			}
			all, err := tx.Interactions(adapter.InteractionFilter{})
			if err != nil {
				return err
			}
			if len(all) != 1 {
				return fmt.Errorf("view sees %d interactions, want the 1 of its snapshot", len(all))
			}
			return nil
		})
	}()
	select {
	case <-firstRead:
	case <-time.After(waitTimeout):
		t.Fatal("the View never ran")
	}

	changed := fullInteraction("i1")
	changed.Status = contactpad.Completed
	putInteractions(t, s, changed, fullInteraction("i2"))
	close(committed)

	select {
	case err := <-viewed:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("the View never returned")
	}
}

func testClose(t *testing.T, s adapter.Store) {
	putInteractions(t, s, fullInteraction("i1"))
	require.NoError(t, s.Close())

	_, err := s.Update(t.Context(), []func(adapter.Tx) error{
		func(tx adapter.Tx) error { return tx.PutInteraction(fullInteraction("i2")) },
	})
	require.Error(t, err, "Update after Close")
	err = s.View(t.Context(), func(tx adapter.Tx) error {
		_, err := tx.Interaction("i1")
		return err
	})
	require.Error(t, err, "View after Close")
}
