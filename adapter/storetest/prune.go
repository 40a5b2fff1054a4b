package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// eventSeqs lists the Seq of every stored event.
func eventSeqs(t *testing.T, s adapter.Store) []int64 {
	t.Helper()
	var seqs []int64
	view(t, s, func(tx adapter.Tx) error {
		events, err := tx.EventsAfter(0, 0)
		require.NoError(t, err)
		for _, e := range events {
			seqs = append(seqs, e.Seq)
		}
		return nil
	})
	return seqs
}

// pruneEvents runs one PruneEvents in its own Update.
func pruneEvents(t *testing.T, s adapter.Store, before time.Time, limit int) (int, int64) {
	t.Helper()
	var (
		n       int
		through int64
	)
	update(t, s, func(tx adapter.Tx) (err error) {
		n, through, err = tx.PruneEvents(before, limit)
		return err
	})
	return n, through
}

func testPruneEvents(t *testing.T, s adapter.Store) {
	n, through := pruneEvents(t, s, at(time.Hour), 10)
	require.Zero(t, n, "nothing to prune in an empty store")
	require.Zero(t, through)

	// Events a minute apart, except the fourth, whose clock was behind
	// (another replica's): it is old enough, but comes after one that is
	// not.
	offsets := []time.Duration{0, time.Minute, 2 * time.Minute, 10 * time.Minute, time.Minute, 11 * time.Minute, 12 * time.Minute}
	var fns []func(adapter.Tx) error
	for _, d := range offsets {
		e := &adapter.Event{Type: adapter.EventAgentPresence, At: at(d), Agent: &adapter.AgentPresence{ID: "alice", Presence: contactpad.Busy}}
		fns = append(fns, func(tx adapter.Tx) error { return tx.AppendEvent(e) })
	}
	update(t, s, fns...)
	seqs := eventSeqs(t, s)
	require.Len(t, seqs, len(offsets))

	// Batches of two: the first two, then the third; the event of
	// 10 minutes stops the prefix, so the later one of 1 minute stays.
	n, through = pruneEvents(t, s, at(5*time.Minute), 2)
	require.Equal(t, 2, n)
	require.Equal(t, seqs[1], through)
	require.Equal(t, seqs[2:], eventSeqs(t, s))
	n, through = pruneEvents(t, s, at(5*time.Minute), 2)
	require.Equal(t, 1, n)
	require.Equal(t, seqs[2], through)
	n, through = pruneEvents(t, s, at(5*time.Minute), 2)
	require.Zero(t, n, "the next event is not old enough")
	require.Zero(t, through)
	require.Equal(t, seqs[3:], eventSeqs(t, s))

	// Everything is old enough: all but the last event go, so that
	// LastEventSeq stays (and a new event's Seq keeps increasing).
	n, through = pruneEvents(t, s, at(time.Hour), 0)
	require.Equal(t, 3, n)
	require.Equal(t, seqs[5], through)
	require.Equal(t, seqs[6:], eventSeqs(t, s))
	view(t, s, func(tx adapter.Tx) error {
		last, err := tx.LastEventSeq()
		require.NoError(t, err)
		require.Equal(t, seqs[6], last)
		after, err := tx.EventsAfter(0, 0)
		require.NoError(t, err)
		require.Len(t, after, 1, "EventsAfter from before the pruned point reads what is kept")
		return nil
	})
	n, _ = pruneEvents(t, s, at(time.Hour), 0)
	require.Zero(t, n, "the last event is never pruned")
	e := &adapter.Event{Type: adapter.EventAgentPresence, At: at(time.Hour), Agent: &adapter.AgentPresence{ID: "bob"}}
	update(t, s, func(tx adapter.Tx) error { return tx.AppendEvent(e) })
	require.Greater(t, e.Seq, seqs[6])

	view(t, s, func(tx adapter.Tx) error {
		_, _, err := tx.PruneEvents(at(time.Hour), 10)
		require.Error(t, err, "a View cannot prune")
		return nil
	})
}

func testPruneAudit(t *testing.T, s adapter.Store) {
	over := func(id string, status contactpad.Status) *contactpad.Interaction {
		i := fullInteraction(id)
		i.CRMID, i.Status = "", status
		return i
	}
	// i1 completed, i2 abandoned, i3 deferred (not over), i4 connected
	// (not over); "gone" has no interaction.
	putInteractions(t, s, over("i1", contactpad.Completed), over("i2", contactpad.Abandoned),
		over("i3", contactpad.Deferred), over("i4", contactpad.Connected))
	var fns []func(adapter.Tx) error
	for k, interaction := range []string{"i1", "i2", "i3", "i4", "gone"} {
		for m := range 3 {
			e := &contactpad.AuditEntry{ID: fmt.Sprintf("%s-%d", interaction, m), InteractionID: interaction,
				At: at(time.Duration(10*m+k) * time.Minute), Action: "accepted"}
			fns = append(fns, func(tx adapter.Tx) error { return tx.AppendAudit(e) })
		}
	}
	update(t, s, fns...)
	audit := func(interaction string) []string {
		var ids []string
		view(t, s, func(tx adapter.Tx) error {
			entries, err := tx.Audit(interaction)
			require.NoError(t, err)
			for _, e := range entries {
				ids = append(ids, e.ID)
			}
			return nil
		})
		return ids
	}
	prune := func(before time.Time, limit int) int {
		var n int
		update(t, s, func(tx adapter.Tx) (err error) {
			n, err = tx.PruneAudit(before, limit)
			return err
		})
		return n
	}

	// Before 15m: entries 0 (at 0-4m) and 1 (at 10-14m) of i1, i2 and
	// gone may go, oldest first, two at a time.
	require.Equal(t, 2, prune(at(15*time.Minute), 2))
	require.Equal(t, []string{"i1-1", "i1-2"}, audit("i1"))
	require.Equal(t, []string{"i2-1", "i2-2"}, audit("i2"))
	require.Equal(t, 2, prune(at(15*time.Minute), 2))
	require.Equal(t, []string{"gone-1", "gone-2"}, audit("gone"))
	require.Equal(t, []string{"i1-2"}, audit("i1"))
	require.Equal(t, 2, prune(at(15*time.Minute), 0))
	require.Zero(t, prune(at(15*time.Minute), 0))
	require.Equal(t, []string{"i1-2"}, audit("i1"))
	require.Equal(t, []string{"i2-2"}, audit("i2"))
	require.Equal(t, []string{"gone-2"}, audit("gone"))
	// An interaction that is not over keeps its whole trail.
	require.Equal(t, []string{"i3-0", "i3-1", "i3-2"}, audit("i3"))
	require.Equal(t, []string{"i4-0", "i4-1", "i4-2"}, audit("i4"))

	// The boundary is exclusive: an entry at before stays.
	require.Zero(t, prune(at(20*time.Minute), 0), "i1-2 is at 20m")
	require.Equal(t, 1, prune(at(20*time.Minute+time.Nanosecond), 0))
	require.Equal(t, []string{"i2-2"}, audit("i2"))
}
