package sqlite

import (
	"context"
	"fmt"
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
