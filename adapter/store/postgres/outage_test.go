package postgres

import (
	"sync"
	"testing"

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
