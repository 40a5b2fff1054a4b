package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
	"github.com/ctibridge/ctibridge/contactpad"
)

// migrateTo applies the migrations up to version to the file at path, as
// a release that shipped with them left it.
func migrateTo(t *testing.T, path string, version int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", writerDSN(path))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	ms, err := migrations()
	require.NoError(t, err)
	var upTo []sqlstore.Migration
	for _, m := range ms {
		if m.Version <= version {
			upTo = append(upTo, m)
		}
	}
	err = apply(t.Context(), db, upTo)
	require.NoError(t, err)
	return db
}

// Agents stored before agent_services mirrored presence and last offers
// (0011) are routed as before once the file is upgraded.
func TestUpgradeAgentServicesIdle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	db := migrateTo(t, path, 10)
	for _, q := range []string{
		`INSERT INTO agents (id, services, capacity, presence, last_offer_at) VALUES
			('a1', '["sales"]', '{"non-live":5}', 'available', 1000),
			('a2', '["sales"]', '{"non-live":5}', 'busy', NULL),
			('a3', '["sales"]', '{"non-live":5}', 'available', 500),
			('a4', '["support"]', '{"non-live":5}', 'available', NULL)`,
		`INSERT INTO agent_services (agent_id, service) VALUES ('a1', 'sales'), ('a2', 'sales'), ('a3', 'sales'), ('a4', 'support')`,
	} {
		_, err := db.ExecContext(t.Context(), q)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
		// a2 waited longest but is busy; a3 was offered work before a1.
		got, err := tx.Candidate(adapter.CandidateQuery{Service: "sales", Media: contactpad.NonLive})
		require.NoError(t, err)
		require.Equal(t, "a3", got.ID)
		got, err = tx.Candidate(adapter.CandidateQuery{Service: "support", Media: contactpad.NonLive})
		require.NoError(t, err)
		require.Equal(t, "a4", got.ID)
		return nil
	}))
}
