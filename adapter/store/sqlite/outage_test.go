package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/enginetest"
	"github.com/ctibridge/ctibridge/contactpad"
)

// TestDiskFull fills the store's file up, as a full disk would (SQLite's
// max_page_count gives the same SQLITE_FULL): commands fail as
// ErrStoreUnavailable with nothing of them applied, the engine reports the
// outage of its writes and logs it once, and reads go on. Given room again,
// the next command commits and the engine logs the end of the outage.
func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	h := enginetest.Start(t, func(testing.TB) func() adapter.Store {
		return func() adapter.Store {
			s, err := Open(path)
			require.NoError(t, err)
			return s
		}
	}, nil)
	defer h.Stop()
	s := h.Store.(*Store)
	maxPages := func(n int) {
		_, err := s.write.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", n))
		require.NoError(t, err)
	}
	var pages int
	require.NoError(t, s.write.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages))
	maxPages(pages)

	ingest := func(n int) (adapter.Result, error) {
		return h.Engine.Apply(ctx, adapter.Ingest{Item: contactpad.WorkItem{CRMID: fmt.Sprintf("500%015d", n), CRMObject: "Case",
			Media: contactpad.NonLive, Service: "support", Subject: strings.Repeat("a long subject ", 300)}})
	}
	var failed error
	ingested := 0
	for ; ingested < 100; ingested++ {
		if _, failed = ingest(ingested); failed != nil {
			break
		}
	}
	require.ErrorIs(t, failed, adapter.ErrStoreUnavailable, "the file is full")
	require.Contains(t, failed.Error(), "full")
	require.Len(t, h.Interactions(adapter.InteractionFilter{}), ingested, "the failed command left nothing; reads go on")

	var fault *adapter.StoreFaultError
	require.ErrorAs(t, h.Engine.StoreFault(), &fault)
	require.Equal(t, "writes", fault.What)
	_, err := ingest(1000)
	require.ErrorIs(t, err, adapter.ErrStoreUnavailable)
	require.ErrorAs(t, h.Engine.StoreFault(), &fault)
	require.Equal(t, 2, fault.Failed, "one outage, two commands failed")
	_, err = h.Engine.Apply(ctx, adapter.Release{ID: "int_none", Agent: "alice"})
	require.ErrorIs(t, err, adapter.ErrNotFound)
	require.Error(t, h.Engine.StoreFault(), "a command refused before it wrote says nothing of the disk")
	require.Equal(t, []string{"store unavailable: writes fail; requests that need them are answered 503 until they succeed again"},
		logLines(h, logrus.ErrorLevel), "logged once")

	maxPages(1 << 30)
	res, err := ingest(2000)
	require.NoError(t, err)
	require.NotEmpty(t, res.Interaction.ID)
	require.NoError(t, h.Engine.StoreFault(), "the outage ended")
	require.Equal(t, []string{"store available again: writes succeed"}, logLines(h, logrus.InfoLevel))
}

// logLines returns the messages the engine logged at level.
func logLines(h *enginetest.Harness, level logrus.Level) []string {
	var lines []string
	for _, e := range h.Log.AllEntries() {
		if e.Level == level {
			lines = append(lines, e.Message)
		}
	}
	return lines
}

// TestFileRemoved: once the database file is removed or replaced while
// the store has it open, Updates are refused as ErrStoreUnavailable
// (SQLite would go on writing to a file nobody can open again, lost at the
// next start), and work again once the file is back.
func TestFileRemoved(t *testing.T) {
	s := openTemp(t)
	s.fileCheckEvery = 0 // look at every Update
	put := func() error {
		_, err := s.Update(t.Context(), []func(adapter.Tx) error{func(tx adapter.Tx) error { return tx.SetWatermark("k", "v") }})
		return err
	}
	require.NoError(t, put())

	require.NoError(t, os.Rename(s.path, s.path+".moved"))
	err := put()
	require.ErrorIs(t, err, adapter.ErrStoreUnavailable)
	require.Contains(t, err.Error(), "the database file "+s.path+" was removed or replaced while ctibridge ran")
	require.NoError(t, os.Rename(s.path+".moved", s.path))
	require.NoError(t, put(), "back")

	// A copy in its place is another file.
	data, err := os.ReadFile(s.path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(s.path))
	require.NoError(t, os.WriteFile(s.path, data, 0o600))
	require.ErrorIs(t, put(), adapter.ErrStoreUnavailable)
}
