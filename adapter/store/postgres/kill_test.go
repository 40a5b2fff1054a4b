package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/contactpad"
)

// blockingSink takes the rows it is given and answers only when released:
// a replica that dies while it writes back.
type blockingSink struct {
	got     chan []adapter.OutboxRow
	release chan struct{}
}

func (s *blockingSink) Write(_ context.Context, rows []adapter.OutboxRow) []error {
	s.got <- rows
	<-s.release
	errs := make([]error, len(rows))
	for k := range errs {
		errs[k] = errors.New("the replica is dead")
	}
	return errs
}

// TestKillReplica kills replica a while it holds claimed outbox rows (its
// sink is writing them) and is in the middle of firing a timer (the fn
// that took it has not returned): the server drops a's connections, as it
// does when a machine dies. Replica b, started meanwhile, was waiting for
// the write lock a held; it fires the timer once, writes the rows nobody
// had claimed at once, and a's claimed rows only after their lease
// expires by its clock. Nothing is lost, nothing done twice.
func TestKillReplica(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := replicaSettings(2)
	s.AutoAccept = map[contactpad.Media]bool{contactpad.NonLive: true}
	s.WrapUp = map[contactpad.Media]time.Duration{contactpad.NonLive: 50 * time.Millisecond}
	var taken takenLog
	var sink recordingSink

	// Replica a: its sink hangs, and so does its first timer fire.
	hung := &blockingSink{got: make(chan []adapter.OutboxRow, 1), release: make(chan struct{})}
	frozen, thaw := make(chan adapter.Timer, 1), make(chan struct{})
	var froze atomic.Bool
	a := startReplica(t, dsn, "a", s, replicaOptions{taken: &taken, sink: hung, blockTake: func(tm adapter.Timer) {
		if froze.CompareAndSwap(false, true) {
			frozen <- tm
			<-thaw
		}
	}})
	<-a.engine.Ready()
	mustApply(t, a, adapter.SetPresence{Agent: "a00", Presence: contactpad.Available})
	var ids []string
	for _, crmID := range []string{"500A", "500B"} {
		res := mustApply(t, a, adapter.Ingest{Item: contactpad.WorkItem{CRMID: crmID, CRMObject: "Case",
			Media: contactpad.NonLive, Service: "support"}})
		ids = append(ids, res.Interaction.ID)
	}
	claimed := <-hung.got // a holds these under its lease
	require.NotEmpty(t, claimed)
	// Work a has not claimed: its writeback hangs.
	mustApply(t, a, adapter.Ingest{Item: contactpad.WorkItem{CRMID: "500C", CRMObject: "Case",
		Media: contactpad.NonLive, Service: "support"}})
	mustApply(t, a, adapter.Release{ID: ids[0], Agent: "a00"})
	fired := <-frozen // a is firing the wrap-up timer: it holds the write lock
	require.Equal(t, adapter.TimerWrapUpEnd, fired.Kind)

	// Replica b starts; its first Update waits for a's lock.
	var skew atomic.Int64
	b := startReplica(t, dsn, "b", s, replicaOptions{taken: &taken, sink: sink.as("b"),
		clock: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})

	// a dies: the server drops its connections, then a resumes into them
	// and fails; it never reaches the database again.
	terminate(t, "ctibridge-a")
	close(thaw)
	require.NoError(t, a.store.Close())
	close(hung.release)
	a.stop()

	waitFor(t, 30*time.Second, "replica b ready", func() bool {
		select {
		case <-b.engine.Ready():
			return true
		default:
			return false
		}
	})
	waitFor(t, 30*time.Second, "the wrap-up timer fired by b", func() bool {
		return interaction(t, b, ids[0]).Status == contactpad.Completed
	})
	require.Equal(t, map[adapter.Timer][]string{}, taken.twice())
	require.Equal(t, []string{"b"}, takenBy(&taken, fired), "the timer a took and died with fires once, on b")

	// b writes what nobody held at once (500C), and leaves a's claims
	// (and the later rows of their records, which wait behind them) alone
	// until their lease expires.
	waitFor(t, 30*time.Second, "b wrote the unclaimed rows", func() bool {
		return sink.writtenFor("500C") > 0 && outboxOf(t, b, "500C") == 0
	})
	for _, r := range claimed {
		require.NotContains(t, sink.snapshot(), r.ID, "row %d written under a's lease", r.ID)
	}
	require.Equal(t, len(claimed), counts(t, b.store).Outbox[adapter.OutboxInFlight], "a's claims are still leased")
	skew.Store(int64(writebackLease + time.Second))
	waitFor(t, 30*time.Second, "the outbox drained", func() bool {
		c := counts(t, b.store)
		return c.Outbox[adapter.OutboxPending]+c.Outbox[adapter.OutboxInFlight]+c.Outbox[adapter.OutboxParked] == 0
	})
	written := sink.snapshot()
	for _, r := range claimed {
		require.Equal(t, []string{"b"}, written[r.ID], "row %d a had claimed", r.ID)
	}
	for id, by := range written {
		require.Len(t, by, 1, "outbox row %d written by %v", id, by)
	}
}

// mustApply applies cmd on r and fails t on error.
func mustApply(t *testing.T, r *replica, cmd adapter.Command) adapter.Result {
	t.Helper()
	res, err := r.engine.Apply(t.Context(), cmd)
	require.NoError(t, err)
	return res
}

// interaction reads interaction id through r.
func interaction(t *testing.T, r *replica, id string) *contactpad.Interaction {
	t.Helper()
	var i *contactpad.Interaction
	require.NoError(t, r.store.View(t.Context(), func(tx adapter.Tx) (err error) {
		i, err = tx.Interaction(id)
		return err
	}))
	return i
}

// outboxOf counts the rows of CRM record crmID still in the outbox.
func outboxOf(t *testing.T, r *replica, crmID string) int {
	t.Helper()
	n := 0
	require.NoError(t, r.store.View(t.Context(), func(tx adapter.Tx) error {
		for _, state := range []adapter.OutboxState{adapter.OutboxPending, adapter.OutboxInFlight, adapter.OutboxParked} {
			rows, err := tx.Outbox(state, 0)
			if err != nil {
				return err
			}
			for _, row := range rows {
				if row.CRMID == crmID {
					n++
				}
			}
		}
		return nil
	}))
	return n
}

// takenBy lists the replicas that took tm.
func takenBy(l *takenLog, tm adapter.Timer) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	tm.DueAt = tm.DueAt.UTC()
	return l.taken[tm]
}

// terminate ends, on the server, every connection of application name:
// what the server does when the machine at the other end dies.
func terminate(t *testing.T, application string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pgtest.ServerDSN(t))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(),
		`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, application).Scan(&n))
	require.NotZero(t, n, "connections of %s", application)
}
