package storetest

import (
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// counts reads Counts in a View.
func counts(t *testing.T, s adapter.Store) adapter.Counts {
	t.Helper()
	var c adapter.Counts
	view(t, s, func(tx adapter.Tx) (err error) {
		c, err = tx.Counts()
		return err
	})
	return c
}

// requireCounts checks c against the non-zero counts wanted: the contract
// lets a store leave out a status or state with no rows, or give it as 0.
func requireCounts(t *testing.T, interactions map[contactpad.Status]int, outbox map[adapter.OutboxState]int,
	c adapter.Counts, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, c.Interactions, "the interactions map is never nil")
	require.NotNil(t, c.Outbox, "the outbox map is never nil")
	require.Equal(t, interactions, nonZero(c.Interactions), msgAndArgs...)
	require.Equal(t, outbox, nonZero(c.Outbox), msgAndArgs...)
}

func nonZero[K comparable](m map[K]int) map[K]int {
	out := maps.Clone(m)
	maps.DeleteFunc(out, func(_ K, n int) bool { return n == 0 })
	return out
}

// testCounts: interactions are counted by status and outbox rows by state;
// a change of status or state moves the count; done rows are not counted
// (they are deleted); an Update counts its own earlier writes.
func testCounts(t *testing.T, s adapter.Store) {
	requireCounts(t, map[contactpad.Status]int{}, map[adapter.OutboxState]int{}, counts(t, s), "an empty store")

	putInteractions(t, s,
		queued("q1", "sales", 0, at(0)), queued("q2", "sales", 0, at(time.Second)),
		queued("q3", "support", 5, at(2*time.Second)),
		owned("c1", "alice", contactpad.NonLive, contactpad.Connected),
		owned("c2", "bob", contactpad.Live, contactpad.Connected),
		owned("d1", "alice", contactpad.SemiLive, contactpad.Deferred),
		owned("x1", "bob", contactpad.NonLive, contactpad.Completed))
	ids := appendRows(t, s, "A", "B", "C", "D", "E")
	rows := claim(t, s, at(0), 3)
	require.Equal(t, ids[:3], rowIDs(rows))
	rows[0].State = adapter.OutboxDone
	rows[1].State, rows[1].ErrorCode = adapter.OutboxParked, "ENTITY_IS_DELETED"
	finish(t, s, rows[0], rows[1])
	requireCounts(t,
		map[contactpad.Status]int{contactpad.Queued: 3, contactpad.Connected: 2, contactpad.Deferred: 1, contactpad.Completed: 1},
		map[adapter.OutboxState]int{adapter.OutboxPending: 2, adapter.OutboxInFlight: 1, adapter.OutboxParked: 1},
		counts(t, s))

	offered := getInteraction(t, s, "q1")
	offered.Status, offered.Owner, offered.QueuedAt = contactpad.Offered, "carol", nil
	putInteractions(t, s, offered)
	update(t, s, func(tx adapter.Tx) error { return tx.RetryParked(ids[1]) })
	requireCounts(t,
		map[contactpad.Status]int{contactpad.Queued: 2, contactpad.Offered: 1, contactpad.Connected: 2,
			contactpad.Deferred: 1, contactpad.Completed: 1},
		map[adapter.OutboxState]int{adapter.OutboxPending: 3, adapter.OutboxInFlight: 1},
		counts(t, s), "q1 offered, the parked row re-driven")

	update(t, s, func(tx adapter.Tx) error {
		i := owned("w1", "carol", contactpad.NonLive, contactpad.WrapUp)
		if err := tx.PutInteraction(i); err != nil {
			return err
		}
		c, err := tx.Counts()
		require.NoError(t, err)
		require.Equal(t, 1, c.Interactions[contactpad.WrapUp], "an Update counts its own writes")
		return nil
	})
}
