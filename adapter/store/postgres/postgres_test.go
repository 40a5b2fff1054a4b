package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/adapter/storetest"
	"github.com/ctibridge/ctibridge/contactpad"
)

// openTest opens a store in a fresh schema and closes it when t ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openDSN(t, pgtest.DSN(t))
}

// openDSN opens a store on dsn and closes it when t ends.
func openDSN(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	require.NoError(t, err)
	// Some tests close the store themselves; a second Close fails harmlessly.
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	pgtest.ServerDSN(t) // one skip, not one per case
	storetest.Run(t, func(t *testing.T) adapter.Store { return openTest(t) })
}

func TestReopen(t *testing.T) {
	dsn := pgtest.DSN(t)
	due := time.Date(2025, time.March, 1, 9, 30, 0, 123456789, time.UTC)
	in := &contactpad.Interaction{ID: "i1", CRMObject: "Case", CRMID: "500A", Media: contactpad.NonLive,
		Status: contactpad.Deferred, DueBy: &due, Tags: []string{"vip"}, CreatedAt: due, Version: 3}
	event := &adapter.Event{Type: adapter.EventInteractionUpdated, At: due, Interaction: in, Audience: []string{"alice"}}

	s := openDSN(t, dsn)
	require.NoError(t, adapter.UpdateOne(t.Context(), s, func(tx adapter.Tx) error {
		if err := tx.PutInteraction(in); err != nil {
			return err
		}
		return tx.AppendEvent(event)
	}))
	require.NoError(t, s.Close())

	s = openDSN(t, dsn)
	require.Equal(t, SchemaVersion(), appliedVersions(t, s)[len(appliedVersions(t, s))-1])
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
		got, err := tx.Interaction("i1")
		require.NoError(t, err)
		require.Equal(t, in, got)
		return nil
	}))
	next := &adapter.Event{Type: adapter.EventInteractionUpdated, At: due}
	require.NoError(t, adapter.UpdateOne(t.Context(), s, func(tx adapter.Tx) error { return tx.AppendEvent(next) }))
	require.Greater(t, next.Seq, event.Seq)
}

// TestOpenTogether: replicas starting at once on a new schema apply each
// migration once.
func TestOpenTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 3)
	errs := make([]error, 3)
	for k := range stores {
		wg.Go(func() { stores[k], errs[k] = Open(t.Context(), dsn) })
	}
	wg.Wait()
	for k := range stores {
		require.NoError(t, errs[k])
		t.Cleanup(func() { _ = stores[k].Close() })
	}
	ms, err := migrations()
	require.NoError(t, err)
	want := make([]int, len(ms))
	for k, m := range ms {
		want[k] = m.Version
	}
	require.Equal(t, want, appliedVersions(t, stores[0]))
	version, err := AppliedVersion(t.Context(), dsn)
	require.NoError(t, err)
	require.Equal(t, SchemaVersion(), version)
}

func appliedVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return versions
}

func TestAppliedVersionOfEmptySchema(t *testing.T) {
	version, err := AppliedVersion(t.Context(), pgtest.DSN(t))
	require.NoError(t, err)
	require.Zero(t, version)
}

// TestDSNNeverInErrors: a connection string may hold a password; no error
// quotes it.
func TestDSNNeverInErrors(t *testing.T) {
	for _, dsn := range []string{
		"postgres://ctibridge:s3cret-pw@db.example:notaport/ctibridge",
		"host=db.example password=s3cret-pw port=notaport",
		"postgres://ctibridge:s3cret-pw@127.0.0.1:1/ctibridge?connect_timeout=1",
	} {
		_, err := Open(t.Context(), dsn)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "s3cret-pw")
		require.NotContains(t, err.Error(), dsn)
		_, err = AppliedVersion(t.Context(), dsn)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "s3cret-pw")
	}
}

// TestListen: a replica hears the events another commits, and Listen ends
// when the store is closed.
func TestListen(t *testing.T) {
	dsn := pgtest.DSN(t)
	listener, writer := openDSN(t, dsn), openDSN(t, dsn)
	heard := make(chan int64, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		listener.Listen(t.Context(), func(seq int64) { heard <- seq }, nil)
	}()
	require.Equal(t, int64(0), <-heard, "the last seq at connect")
	ev := &adapter.Event{Type: adapter.EventInteractionCreated}
	require.NoError(t, adapter.UpdateOne(t.Context(), writer, func(tx adapter.Tx) error { return tx.AppendEvent(ev) }))
	select {
	case seq := <-heard:
		require.Equal(t, ev.Seq, seq)
	case <-time.After(30 * time.Second):
		t.Fatal("no notification")
	}
	// An Update without events notifies nobody; one whose only event was
	// rolled back neither.
	require.NoError(t, adapter.UpdateOne(t.Context(), writer, func(tx adapter.Tx) error { return tx.SetWatermark("x", "1") }))
	errs, err := writer.Update(t.Context(), []func(adapter.Tx) error{func(tx adapter.Tx) error {
		_ = tx.AppendEvent(&adapter.Event{Type: adapter.EventInteractionCreated})
		return errors.New("refused")
	}})
	require.NoError(t, err)
	require.Error(t, errs[0])
	last := &adapter.Event{Type: adapter.EventInteractionUpdated}
	require.NoError(t, adapter.UpdateOne(t.Context(), writer, func(tx adapter.Tx) error { return tx.AppendEvent(last) }))
	require.Equal(t, last.Seq, <-heard, "the next notification is the next commit with events")
	require.NoError(t, listener.Close())
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Listen did not return at Close")
	}
}

// TestUpdateConnectionLost: the server drops the connection while a fn
// runs; the Update fails and none of it is applied.
func TestUpdateConnectionLost(t *testing.T) {
	dsn := pgtest.WithParam(pgtest.DSN(t), "application_name", "ctibridge-lost")
	s := openDSN(t, dsn)
	inFn, resume := make(chan struct{}), make(chan struct{})
	go func() {
		<-inFn
		conn, err := pgx.Connect(t.Context(), pgtest.ServerDSN(t))
		if err == nil {
			_, _ = conn.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE application_name = 'ctibridge-lost' AND state = 'idle in transaction'`)
			conn.Close(t.Context())
		}
		close(resume)
	}()
	errs, err := s.Update(t.Context(), []func(adapter.Tx) error{
		func(tx adapter.Tx) error { return tx.PutInteraction(&contactpad.Interaction{ID: "i1"}) },
		func(tx adapter.Tx) error {
			if err := tx.PutInteraction(&contactpad.Interaction{ID: "i2"}); err != nil {
				return err
			}
			close(inFn)
			<-resume
			return nil
		},
	})
	require.Error(t, err)
	require.Nil(t, errs)
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
		is, err := tx.Interactions(adapter.InteractionFilter{})
		require.NoError(t, err)
		require.Empty(t, is, "nothing of the failed Update is applied")
		return nil
	}))
	// The pool replaced the connection: the store goes on.
	require.NoError(t, adapter.UpdateOne(t.Context(), s, func(tx adapter.Tx) error {
		return tx.PutInteraction(&contactpad.Interaction{ID: "i3"})
	}))
}

// TestEventsInCommitOrder: two replicas append events while a reader
// pages through them with EventsAfter; the reader never skips an event,
// which it would if an event with a lower seq could commit after one with
// a higher seq was read.
func TestEventsInCommitOrder(t *testing.T) {
	dsn := pgtest.DSN(t)
	writers := []*Store{openDSN(t, dsn), openDSN(t, dsn)}
	reader := openDSN(t, dsn)
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Go(func() {
			for range 150 {
				fns := make([]func(adapter.Tx) error, 3)
				for k := range fns {
					fns[k] = func(tx adapter.Tx) error {
						return tx.AppendEvent(&adapter.Event{Type: adapter.EventInteractionUpdated})
					}
				}
				_, err := w.Update(t.Context(), fns)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()
	var seen []int64
	cursor := int64(0)
	readPage := func() int {
		var events []adapter.Event
		require.NoError(t, reader.View(t.Context(), func(tx adapter.Tx) (err error) {
			events, err = tx.EventsAfter(cursor, 7)
			return err
		}))
		for _, e := range events {
			seen = append(seen, e.Seq)
			cursor = e.Seq
		}
		return len(events)
	}
	for {
		select {
		case <-writing:
			for readPage() > 0 {
			}
			var all []adapter.Event
			require.NoError(t, reader.View(t.Context(), func(tx adapter.Tx) (err error) {
				all, err = tx.EventsAfter(0, 0)
				return err
			}))
			require.Len(t, all, 2*150*3)
			want := make([]int64, len(all))
			for k, e := range all {
				want[k] = e.Seq
			}
			require.Equal(t, want, seen, "the paging reader saw every event")
			return
		default:
			readPage()
		}
	}
}

// TestOpenRefusesANewerSchema: a database that a newer build migrated (an
// upgrade rolled back) is refused when a replica starts, as validate
// refuses it.
func TestOpenRefusesANewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := Open(t.Context(), dsn)
	require.NoError(t, err)
	_, err = s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', 0)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(t.Context(), dsn)
	var newer *sqlstore.NewerSchemaError
	require.ErrorAs(t, err, &newer)
	require.Equal(t, SchemaVersion(), newer.Build)
	require.ErrorContains(t, err, fmt.Sprintf("schema version 9999 is newer than this build's %d: run the newer ctibridge", SchemaVersion()))
}
