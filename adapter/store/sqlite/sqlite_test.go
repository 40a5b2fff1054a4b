package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
	"github.com/ctibridge/ctibridge/adapter/storetest"
	"github.com/ctibridge/ctibridge/contactpad"
)

// openTemp opens a store in a new file under t's temporary directory and
// closes it when t ends.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "ctibridge.db"))
	require.NoError(t, err)
	// Some tests close the store themselves; a second Close fails harmlessly.
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) adapter.Store { return openTemp(t) })
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	due := time.Date(2025, time.March, 1, 9, 30, 0, 123456789, time.UTC)
	in := &contactpad.Interaction{
		ID: "i1", CRMObject: "Case", CRMID: "500A", Media: contactpad.NonLive, Service: "sales",
		Status: contactpad.Deferred, Owner: "alice", DueBy: &due, Tags: []string{"vip"}, CreatedAt: due, Version: 3,
	}
	timer := adapter.Timer{Kind: adapter.TimerDueDate, Ref: "i1", DueAt: due}
	event := &adapter.Event{Type: adapter.EventInteractionUpdated, At: due, Interaction: in, Audience: []string{"alice"}}

	s, err := Open(path)
	require.NoError(t, err)
	errs, err := s.Update(t.Context(), []func(adapter.Tx) error{func(tx adapter.Tx) error {
		if err := tx.PutInteraction(in); err != nil {
			return err
		}
		if err := tx.AppendEvent(event); err != nil {
			return err
		}
		return tx.SetTimer(timer)
	}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	migrationsBefore := appliedMigrations(t, s)
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err, "reopening must not re-apply migrations")
	t.Cleanup(func() { _ = s.Close() })

	require.Equal(t, migrationsBefore, appliedMigrations(t, s), "migrations are recorded once")
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
		got, err := tx.Interaction("i1")
		require.NoError(t, err)
		require.Equal(t, in, got)
		events, err := tx.EventsAfter(0, 10)
		require.NoError(t, err)
		require.Equal(t, []adapter.Event{*event}, events)
		next, ok, err := tx.NextTimer()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, due, next)
		return nil
	}))

	// Seq keeps increasing across a restart.
	next := &adapter.Event{Type: adapter.EventInteractionUpdated, At: due}
	_, err = s.Update(t.Context(), []func(adapter.Tx) error{func(tx adapter.Tx) error { return tx.AppendEvent(next) }})
	require.NoError(t, err)
	require.Greater(t, next.Seq, event.Seq)
}

// TestTwoStoresShareAFile stands for two processes on one file: their
// Updates serialise through SQLite's write lock and all land.
func TestTwoStoresShareAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	var stores []*Store
	for range 2 {
		s, err := Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}

	const updates = 25
	var wg sync.WaitGroup
	failed := make(chan error, 2*updates)
	for n, s := range stores {
		wg.Go(func() {
			for u := range updates {
				id := fmt.Sprintf("s%d-u%02d", n, u)
				errs, err := s.Update(t.Context(), []func(adapter.Tx) error{func(tx adapter.Tx) error {
					if err := tx.PutInteraction(&contactpad.Interaction{ID: id}); err != nil {
						return err
					}
					return tx.AppendEvent(&adapter.Event{Type: adapter.EventInteractionCreated, Interaction: &contactpad.Interaction{ID: id}})
				}})
				if err == nil {
					err = errs[0]
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

	for _, s := range stores {
		require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
			is, err := tx.Interactions(adapter.InteractionFilter{})
			require.NoError(t, err)
			require.Len(t, is, 2*updates)
			events, err := tx.EventsAfter(0, 0)
			require.NoError(t, err)
			require.Len(t, events, 2*updates)
			for n := 1; n < len(events); n++ {
				require.Greater(t, events[n].Seq, events[n-1].Seq)
			}
			return nil
		}))
	}
}

// appliedMigration is a row of schema_migrations.
type appliedMigration struct {
	Version   int
	Name      string
	AppliedAt int64
}

func appliedMigrations(t *testing.T, s *Store) []appliedMigration {
	t.Helper()
	rows, err := s.write.QueryContext(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	var out []appliedMigration
	for rows.Next() {
		var m appliedMigration
		require.NoError(t, rows.Scan(&m.Version, &m.Name, &m.AppliedAt))
		out = append(out, m)
	}
	require.NoError(t, rows.Err())
	ms, err := migrations()
	require.NoError(t, err)
	require.Len(t, out, len(ms), "every embedded migration is applied")
	return out
}

func TestOpenSettings(t *testing.T) {
	s := openTemp(t)
	tests := []struct {
		name string
		db   interface {
			QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		}
		pragma string
		want   string
	}{
		{name: "writer journal mode", db: s.write, pragma: "journal_mode", want: "wal"},
		{name: "writer synchronous FULL", db: s.write, pragma: "synchronous", want: "2"},
		{name: "writer busy timeout", db: s.write, pragma: "busy_timeout", want: "10000"},
		{name: "writer can write", db: s.write, pragma: "query_only", want: "0"},
		{name: "reader query only", db: s.readConns[0].sql, pragma: "query_only", want: "1"},
		{name: "reader journal mode", db: s.readConns[0].sql, pragma: "journal_mode", want: "wal"},
		{name: "reader busy timeout", db: s.readConns[0].sql, pragma: "busy_timeout", want: "10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			require.NoError(t, tt.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got))
			require.Equal(t, tt.want, got)
		})
	}
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		name string
		path string
	}{
		{name: "empty path", path: ""},
		{name: "query string in path", path: filepath.Join(t.TempDir(), "x.db?mode=ro")},
		{name: "missing directory", path: filepath.Join(t.TempDir(), "missing", "x.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path)
			require.Error(t, err)
			require.Nil(t, s)
		})
	}
}

func TestPutErrors(t *testing.T) {
	s := openTemp(t)
	tooLate := time.Date(2300, time.January, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, putOne(t, s, func(tx adapter.Tx) error {
		return tx.PutInteraction(&contactpad.Interaction{ID: "i1", CRMObject: "Case", CRMID: "500A"})
	}))

	tests := []struct {
		name    string
		put     func(tx adapter.Tx) error
		wantErr string
		code    string
	}{
		{
			name: "a second interaction for a CRM record is a conflict",
			put: func(tx adapter.Tx) error {
				return tx.PutInteraction(&contactpad.Interaction{ID: "i2", CRMObject: "Case", CRMID: "500A"})
			},
			wantErr: "put interaction i2: Case 500A already has another interaction",
			code:    adapter.CodeConflict,
		},
		{
			name: "a time beyond 2262 does not fit",
			put: func(tx adapter.Tx) error {
				return tx.PutInteraction(&contactpad.Interaction{ID: "i3", DueBy: &tooLate})
			},
			wantErr: "put interaction i3: due_by 2300-01-01T00:00:00Z is outside the storable range (1677 to 2262)",
			code:    adapter.CodeInternal,
		},
		{
			name:    "a timer needs a due time",
			put:     func(tx adapter.Tx) error { return tx.SetTimer(adapter.Timer{Kind: adapter.TimerDueDate, Ref: "i1"}) },
			wantErr: "set timer due_date i1: due_at is not set",
			code:    adapter.CodeInternal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := putOne(t, s, tt.put)
			require.EqualError(t, err, tt.wantErr)
			require.Equal(t, tt.code, adapter.Code(err))
		})
	}
}

// putOne runs fn alone in an Update and returns its error.
func putOne(t *testing.T, s *Store, fn func(adapter.Tx) error) error {
	t.Helper()
	errs, err := s.Update(t.Context(), []func(adapter.Tx) error{fn})
	require.NoError(t, err)
	return errs[0]
}

// TestCloseLetsWaitingUpdatesFail: Close waits for the Update under way,
// and the Updates waiting behind it fail with the store closed rather
// than wait for ever.
func TestCloseLetsWaitingUpdatesFail(t *testing.T) {
	s := openTemp(t)
	s.writing <- struct{}{} // an Update under way
	updated := make(chan error, 1)
	go func() {
		_, err := s.Update(context.Background(), []func(adapter.Tx) error{func(adapter.Tx) error { return nil }})
		updated <- err
	}()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	for !s.closed.Load() {
		runtime.Gosched()
	}
	<-s.writing // the Update under way ends
	require.NoError(t, <-closed)
	require.ErrorIs(t, <-updated, errClosed)
}

// TestCloseLetsWaitingViewsFail: Close waits for the Views under way to
// give their readers back, and the Views waiting for a reader fail with
// the store closed rather than wait for ever.
func TestCloseLetsWaitingViewsFail(t *testing.T) {
	s := openTemp(t)
	var busy []*readConn // every reader in a View under way
	for range s.readConns {
		busy = append(busy, <-s.idle)
	}
	viewed := make(chan error, 1)
	go func() {
		viewed <- s.View(context.Background(), func(adapter.Tx) error { return nil })
	}()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	require.ErrorIs(t, <-viewed, errClosed)
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while Views held every reader", err)
	default:
	}
	for _, r := range busy { // the Views under way end
		s.idle <- r
	}
	require.NoError(t, <-closed)
	require.ErrorIs(t, s.View(context.Background(), func(adapter.Tx) error { return nil }), errClosed)
}

// TestAssign: a column's value goes into the destinations the stores
// scan into as database/sql's Scan would put it, types of their own whose
// kind is a string or an integer included, and anything else is an error
// that names both types.
func TestAssign(t *testing.T) {
	type (
		media  string
		weight int
	)
	var (
		s   string
		b   []byte
		i   int64
		n   int
		ok  bool
		f   float64
		a   any
		m   media
		w   weight
		w8  int8
		bad struct{}
	)
	tests := []struct {
		name string
		dest any
		v    driver.Value
		want any
	}{
		{"string", &s, "x", "x"},
		{"string from bytes", &s, []byte("x"), "x"},
		{"bytes", &b, []byte("x"), []byte("x")},
		{"bytes from NULL", &b, nil, []byte(nil)},
		{"int64", &i, int64(7), int64(7)},
		{"int", &n, int64(7), 7},
		{"bool", &ok, int64(1), true},
		{"float from int", &f, int64(2), 2.0},
		{"any copies bytes", &a, []byte("x"), []byte("x")},
		{"a string kind", &m, "chat", media("chat")},
		{"a string kind from bytes", &m, []byte("chat"), media("chat")},
		{"an int kind", &w, int64(3), weight(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, assign(tt.dest, tt.v))
			require.Equal(t, tt.want, reflect.ValueOf(tt.dest).Elem().Interface())
		})
	}
	for _, tt := range []struct {
		name string
		dest any
		v    driver.Value
	}{
		{"NULL in a string", &s, nil},
		{"NULL in a string kind", &m, nil},
		{"text in an int kind", &w, "3"},
		{"too big for int8", &w8, int64(300)},
		{"a struct", &bad, "x"},
		{"not a pointer", s, "x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := assign(tt.dest, tt.v)
			require.ErrorContains(t, err, fmt.Sprintf("cannot store %T in %T", tt.v, tt.dest))
		})
	}
}

// TestUpdateSavepointsOnlyWhenNeeded: an Update runs its fns without a
// savepoint each, and runs them again, each in its own, only when one
// fails after writing; a fn that fails before writing, or alone in its
// Update, is not run twice. Either way the outcome is the same: what a
// failed fn wrote is gone, the others' commits.
func TestUpdateSavepointsOnlyWhenNeeded(t *testing.T) {
	var s *Store
	errBoom := fmt.Errorf("boom")
	put := func(id string) func(adapter.Tx) error {
		return func(tx adapter.Tx) error {
			return tx.SetWatermark(id, "v")
		}
	}
	watermarks := func() map[string]string {
		out := map[string]string{}
		require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
			for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
				v, err := tx.Watermark(id)
				if err != nil {
					return err
				}
				if v != "" {
					out[id] = v
				}
			}
			return nil
		}))
		return out
	}
	for _, tc := range []struct {
		name     string
		failing  func(adapter.Tx) error
		others   int // fns before the failing one
		wantRuns int // of each of them
	}{
		{name: "fails before writing", failing: func(tx adapter.Tx) error {
			if _, err := tx.Watermark("a"); err != nil {
				return err
			}
			return errBoom
		}, others: 2, wantRuns: 1},
		{name: "fails after writing", failing: func(tx adapter.Tx) error {
			if err := tx.SetWatermark("c", "from the failed fn"); err != nil {
				return err
			}
			return errBoom
		}, others: 2, wantRuns: 2},
		{name: "alone, fails after writing", failing: func(tx adapter.Tx) error {
			if err := tx.SetWatermark("c", "from the failed fn"); err != nil {
				return err
			}
			return errBoom
		}, others: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s = openTemp(t)
			runs := map[string]int{}
			var fns []func(adapter.Tx) error
			want := map[string]string{}
			failingRuns := 0
			for k := range tc.others {
				id := string(rune('d' + k))
				fns = append(fns, func(tx adapter.Tx) error { runs[id]++; return put(id)(tx) })
				want[id] = "v"
			}
			fns = append(fns, func(tx adapter.Tx) error { failingRuns++; return tc.failing(tx) })
			errs, err := s.Update(t.Context(), fns)
			require.NoError(t, err)
			require.ErrorIs(t, errs[len(fns)-1], errBoom)
			for _, e := range errs[:len(fns)-1] {
				require.NoError(t, e)
			}
			require.Equal(t, want, watermarks(), "the failed fn left nothing, the others committed")
			for id, n := range runs {
				require.Equal(t, tc.wantRuns, n, "runs of fn %s", id)
			}
			if tc.others == 0 {
				require.Equal(t, 1, failingRuns, "alone, the failed fn runs once")
			}
		})
	}
}

// TestOpenRefusesANewerSchema: a database that a newer build migrated (an
// upgrade rolled back) is refused at open, before anything runs on it.
func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	s, err := Open(path)
	require.NoError(t, err)
	_, err = s.write.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', 0)`)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(path)
	var newer *sqlstore.NewerSchemaError
	require.ErrorAs(t, err, &newer)
	require.Equal(t, 9999, newer.Have)
	require.ErrorContains(t, err, fmt.Sprintf("schema version 9999 is newer than this build's %d: run the newer ctibridge", newer.Build))
}
