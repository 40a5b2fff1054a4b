package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter/store/internal/sqlstore"
)

// TestClaimPlanStopsAtItsLimit: the writeback's claim and its count of
// what is due read each part of the claimable rows in ID order and stop
// at the limit: the pending rows never tried through outbox_due, the due
// retries as a list of IDs from outbox_due's range up to now (the rows
// waiting for their retry lie beyond it), the rows in flight through
// outbox_state. A plan that reads both states at once (MULTI-INDEX OR)
// reads and sorts every due row of a backlog before it keeps the limit;
// one that walks the pending rows through outbox_state reads every row
// waiting for its retry.
func TestClaimPlanStopsAtItsLimit(t *testing.T) {
	db := planDB(t)
	for _, tt := range []struct {
		name string
		stmt sqlstore.Stmt
		args []any
	}{
		{name: "claim", stmt: sqlstore.StmtClaimOutbox, args: []any{100, 160, 1000, "writer", 140}},
		{name: "due", stmt: sqlstore.StmtOutboxDue, args: []any{100, 1000, "writer", 140}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			all := queryPlan(t, db, tt.stmt, tt.args...)
			require.NotContains(t, all, "MULTI-INDEX OR", all)
			for _, walk := range []string{
				"SEARCH o USING INDEX outbox_due (next_attempt_at=?)",                                     // never tried
				"SEARCH outbox USING COVERING INDEX outbox_due (next_attempt_at>? AND next_attempt_at<?)", // due retries' IDs
				"SEARCH o USING INDEX outbox_state (state=?)",                                             // in flight
			} {
				require.Equal(t, 1, strings.Count(all, walk), "one %q:\n%s", walk, all)
			}
			require.Equal(t, 3, strings.Count(all, "SEARCH p USING INDEX outbox_record (crm_object=? AND crm_id=? AND id<?)"),
				"each part's rows checked against their record's earlier rows:\n%s", all)
			// The due retries are walked as the list of their IDs, in ID
			// order, with no sort of their own before the limit: the only
			// sorts are those of each part's at most limit rows for the
			// merge.
			require.Equal(t, 3, strings.Count(all, "USE TEMP B-TREE FOR ORDER BY"), all)
		})
	}
}

// TestOutboxNextPlan: when the next waiting row comes free is the first
// entry of outbox_due past now, not a read of every pending row.
func TestOutboxNextPlan(t *testing.T) {
	all := queryPlan(t, planDB(t), sqlstore.StmtOutboxNext, 100)
	require.Contains(t, all, "SEARCH outbox USING COVERING INDEX outbox_due (next_attempt_at>?)", all)
}

// planDB opens a migrated database for EXPLAIN QUERY PLAN.
func planDB(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// queryPlan is the EXPLAIN QUERY PLAN of stmt, one detail a line.
func queryPlan(t *testing.T, db *sql.DB, stmt sqlstore.Stmt, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+statements[stmt], args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(plan, "\n")
}

// TestInProgressPlan: what an interaction has under way is two index
// searches, each of one interaction's rows.
func TestInProgressPlan(t *testing.T) {
	all := queryPlan(t, planDB(t), sqlstore.StmtInProgress, "i1")
	require.Contains(t, all, "SEARCH transfers USING INDEX transfers_interaction (interaction_id=?)", all)
	require.Contains(t, all, "SEARCH consults USING COVERING INDEX consults_interaction (interaction_id=?)", all)
	require.NotContains(t, all, "SCAN transfers", all)
	require.NotContains(t, all, "SCAN consults", all)
}

// TestEveryOpenConsultPlan: the consults that have not ended are read from
// the index that holds only them, in its order: not a scan of every
// consult ever made.
func TestEveryOpenConsultPlan(t *testing.T) {
	all := queryPlan(t, planDB(t), sqlstore.StmtEveryOpenConsult)
	require.Contains(t, all, "SCAN consults USING INDEX consults_open", all)
	require.NotContains(t, all, "TEMP B-TREE", all)
}

// TestLoadPlan: an agent's load, on every command that routes and on every
// view that offers Resume, and the count of it that picks a candidate,
// read the interactions they hold from interactions_owner alone, without
// the table's rows.
func TestLoadPlan(t *testing.T) {
	db := planDB(t)
	load := queryPlan(t, db, sqlstore.StmtLoad, "a", "a")
	require.Contains(t, load, "SEARCH interactions USING COVERING INDEX interactions_owner (owner=? AND status=?)", load)
	require.NotContains(t, load, "TEMP B-TREE", load)
	candidate := queryPlan(t, db, sqlstore.StmtCandidate, "svc", "non-live", "", 0, "")
	require.Contains(t, candidate, "SEARCH i USING COVERING INDEX interactions_owner (owner=? AND status=? AND media=?)", candidate)
}
