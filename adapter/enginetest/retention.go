package enginetest

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// testRetention: the background pruning deletes the events once their
// retention has passed, all but the last, and records how far; then the
// audit trail of the interactions that are over, keeping that of the
// ones still open; a second replica stands by while the first prunes.
func testRetention(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		over := h.Connected("alice", contactpad.SemiLive)
		h.Do(adapter.Abandon{ID: over.ID, Agent: "alice", Confirm: true})
		ongoing := h.Connected("bob", contactpad.NonLive) // inactive after 24h: no event meanwhile
		events := h.Events()
		require.Greater(t, len(events), 3)
		require.NotEmpty(t, h.Audit(over.ID))
		auditOngoing := h.Audit(ongoing.ID)
		require.NotEmpty(t, auditOngoing)

		reg := prometheus.NewRegistry()
		metrics := adapter.NewMetrics(reg, nil)
		pruner := adapter.New(h.Store, Settings(), adapter.WithLogger(quietLog()), adapter.WithMetrics(metrics))
		standby := adapter.New(h.Store, Settings(), adapter.WithLogger(quietLog()))
		opts := adapter.RetentionOptions{Events: time.Hour, Audit: 2 * time.Hour, Interval: time.Minute, Batch: 2}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}, 2)
		go func() { pruner.RunRetention(ctx, opts); done <- struct{}{} }()
		synctest.Wait()
		go func() {
			standby.RunRetention(ctx, adapter.RetentionOptions{Events: time.Nanosecond, Audit: time.Nanosecond})
			done <- struct{}{}
		}()
		defer func() { cancel(); <-done; <-done }()
		synctest.Wait()
		require.Len(t, h.Events(), len(events), "the standby replica prunes nothing while the first holds the lease")
		prunedThrough := func() int64 {
			var seq int64
			require.NoError(t, h.Store.View(context.Background(), func(tx adapter.Tx) (err error) {
				seq, err = adapter.EventsPrunedThrough(tx)
				return err
			}))
			return seq
		}
		require.Zero(t, prunedThrough())
		st, err := standby.RetentionStatus(context.Background())
		require.NoError(t, err)
		require.NotEmpty(t, st.Holder, "every replica sees who prunes")
		require.True(t, time.Now().Add(3*time.Minute).Equal(*st.LeaseUntil), "for three intervals: %v", st.LeaseUntil)
		require.True(t, time.Now().Equal(*st.LastRunAt), "and its round: %v", st.LastRunAt)
		require.Empty(t, st.LastError)
		require.Zero(t, st.EventsPrunedThrough)

		time.Sleep(59 * time.Minute)
		synctest.Wait()
		require.Len(t, h.Events(), len(events), "kept for an hour")

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		last := events[len(events)-1]
		require.Equal(t, []adapter.Event{last}, h.Events(), "all but the last event pruned, two at a time")
		require.Equal(t, events[len(events)-2].Seq, prunedThrough())
		st, err = standby.RetentionStatus(context.Background())
		require.NoError(t, err)
		require.Equal(t, events[len(events)-2].Seq, st.EventsPrunedThrough)
		require.True(t, time.Now().Equal(*st.LastRunAt), "the last round: %v", st.LastRunAt)
		require.Equal(t, float64(len(events)-1), prunedRows(t, reg, "events"))
		require.NotEmpty(t, h.Audit(over.ID), "the audit trail is kept longer")

		time.Sleep(time.Hour)
		synctest.Wait()
		require.Empty(t, h.Audit(over.ID), "the trail of an interaction that is over goes after two hours")
		require.Equal(t, auditOngoing, h.Audit(ongoing.ID), "an ongoing interaction keeps its trail")
		require.Equal(t, []adapter.Event{last}, h.Events())
	})
}

// prunedRows reads ctibridge_pruned_rows_total{table} from reg.
func prunedRows(t *testing.T, reg *prometheus.Registry, table string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "ctibridge_pruned_rows_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" && l.GetValue() == table {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no ctibridge_pruned_rows_total{table=%q}", table)
	return 0
}

// testRetentionSessions: a pruning round deletes the panel sessions that
// have expired, whatever the retention of events and audit, and keeps the
// live ones.
func testRetentionSessions(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		now := time.Now()
		require.NoError(t, adapter.UpdateOne(context.Background(), h.Store, func(tx adapter.Tx) error {
			for hash, expires := range map[string]time.Time{"expired": now.Add(-time.Second), "live": now.Add(time.Hour)} {
				if err := tx.PutSession(&adapter.Session{IDHash: hash, Agent: "alice", CreatedAt: now.Add(-time.Hour), ExpiresAt: expires}); err != nil {
					return err
				}
			}
			return nil
		}))
		pruned, err := h.Engine.PruneOnce(context.Background(), adapter.RetentionOptions{})
		require.NoError(t, err)
		require.Equal(t, adapter.Pruned{Sessions: 1}, pruned)
		require.NoError(t, h.Store.View(context.Background(), func(tx adapter.Tx) error {
			_, err := tx.Session("expired")
			require.ErrorIs(t, err, adapter.ErrNotFound)
			_, err = tx.Session("live")
			return err
		}))
	})
}
