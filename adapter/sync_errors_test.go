package adapter_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/enginetest"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

var errDisk = errors.New("disk full")

// failingStore fails the Tx calls named in fail, as a store whose disk is
// full would, inside an otherwise working transaction.
type failingStore struct {
	adapter.Store
	fail map[string]bool
}

func (s failingStore) Update(ctx context.Context, fns []func(adapter.Tx) error) ([]error, error) {
	wrapped := make([]func(adapter.Tx) error, len(fns))
	for k, fn := range fns {
		wrapped[k] = func(tx adapter.Tx) error { return fn(failingTx{tx, s.fail}) }
	}
	return s.Store.Update(ctx, wrapped)
}

type failingTx struct {
	adapter.Tx
	fail map[string]bool
}

func (tx failingTx) SetWatermark(source, value string) error {
	if tx.fail["SetWatermark"] {
		return errDisk
	}
	return tx.Tx.SetWatermark(source, value)
}

func (tx failingTx) ClaimOutbox(q adapter.ClaimQuery) ([]adapter.OutboxRow, error) {
	if tx.fail["ClaimOutbox"] {
		return nil, errDisk
	}
	return tx.Tx.ClaimOutbox(q)
}

type oneRecord struct{}

func (oneRecord) Name() string { return "cases" }
func (oneRecord) Changes(context.Context, string, []string) ([]contactpad.WorkItem, string, bool, error) {
	return nil, "2026-11-22T10:00:00.000+0000", false, nil
}

func openSQLite(t *testing.T) adapter.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "ctibridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// A watermark or outbox claim the store refuses is an error of the poll
// or the writeback, not a silent "nothing to do".
func TestSyncReportsStoreErrors(t *testing.T) {
	t.Run("watermark", func(t *testing.T) {
		store := failingStore{openSQLite(t), map[string]bool{"SetWatermark": true}}
		e := adapter.New(store, enginetest.Settings())
		err := e.PollOnce(t.Context(), oneRecord{})
		require.ErrorIs(t, err, errDisk)
		require.ErrorContains(t, err, "store watermark of cases")
	})
	t.Run("claim", func(t *testing.T) {
		store := failingStore{openSQLite(t), map[string]bool{"ClaimOutbox": true}}
		e := adapter.New(store, enginetest.Settings())
		n, err := e.WritebackOnce(t.Context(), nil, adapter.SyncOptions{})
		require.ErrorIs(t, err, errDisk)
		require.Zero(t, n)
	})
}
