package postgres

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
)

// TestDroppedConnections: while the database cannot be reached, Updates
// and Views fail as adapter.ErrStoreUnavailable. When it drops every
// connection and is back at once (a restart, a network cut), the next
// Update and View work, on new connections, rather than fail once for
// each connection the pool kept.
func TestDroppedConnections(t *testing.T) {
	proxy := pgtest.NewProxy(t, pgtest.DSN(t))
	s := openDSN(t, proxy.DSN)
	put := func() error {
		errs, err := s.Update(t.Context(), []func(adapter.Tx) error{func(tx adapter.Tx) error { return tx.SetWatermark("k", "v") }})
		if err != nil {
			return err
		}
		return errs[0]
	}
	read := func() error {
		return s.View(t.Context(), func(tx adapter.Tx) error { _, err := tx.Watermark("k"); return err })
	}
	// Views at once keep several connections in the pool.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { require.NoError(t, read()) })
	}
	wg.Wait()
	require.NoError(t, put())

	proxy.Cut()
	require.ErrorIs(t, put(), adapter.ErrStoreUnavailable)
	require.ErrorIs(t, read(), adapter.ErrStoreUnavailable)
	proxy.Restore()
	require.NoError(t, put(), "back")
	require.NoError(t, read(), "back")

	// Dropped and back before anything noticed: the pool still holds
	// the dropped connections.
	proxy.Cut()
	proxy.Restore()
	require.NoError(t, put(), "the first Update after the drop")
	proxy.Cut()
	proxy.Restore()
	require.NoError(t, read(), "the first View after the drop")
}

// TestListenReportsALossOnce: Listen reports the loss of its connection
// once, not each attempt to connect again while the database is out, and
// reports the next loss once it listened again.
func TestListenReportsALossOnce(t *testing.T) {
	proxy := pgtest.NewProxy(t, pgtest.DSN(t))
	s := openDSN(t, proxy.DSN)
	var mu sync.Mutex
	lost, notified := 0, 0
	count := func(n *int) func() int {
		return func() int { mu.Lock(); defer mu.Unlock(); return *n }
	}
	go s.Listen(t.Context(), func(int64) { mu.Lock(); notified++; mu.Unlock() }, func(error) { mu.Lock(); lost++; mu.Unlock() })
	waitFor(t, "listening", func() bool { return count(&notified)() == 1 })

	proxy.Cut()
	waitFor(t, "three attempts to connect again", func() bool { return proxy.Refused() >= 3 })
	require.Equal(t, 1, count(&lost)(), "one loss reported")
	proxy.Restore()
	waitFor(t, "listening again", func() bool { return count(&notified)() == 2 })
	proxy.Cut()
	waitFor(t, "the second loss", func() bool { return count(&lost)() == 2 })
}

// waitFor polls cond until it holds, for at most 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling real sockets, bounded by the deadline
	}
}

// TestReadOnlyServer: a server that takes no writes (a standby, or a
// primary demoted in a failover) is an outage of the writes, and the
// pool's connections are closed, so that new ones follow the DSN to the
// new primary; reads go on.
func TestReadOnlyServer(t *testing.T) {
	dsn := pgtest.DSN(t)
	openDSN(t, dsn) // the schema, migrated
	s := openDSN(t, pgtest.WithParam(dsn, "default_transaction_read_only", "on"))
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error { _, err := tx.Watermark("k"); return err }))
	errs, err := s.Update(t.Context(), []func(adapter.Tx) error{func(tx adapter.Tx) error { return tx.SetWatermark("k", "v") }})
	if err == nil {
		err = errs[0]
	}
	require.ErrorIs(t, err, adapter.ErrStoreUnavailable)
	require.Contains(t, err.Error(), "25006")
	require.Zero(t, s.pool.Stat().TotalConns(), "the pool's connections are closed")
}
