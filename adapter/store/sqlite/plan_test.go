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
// what is due read each state's rows through outbox_state in ID order
// and stop at the limit. A plan that reads both states at once (MULTI-
// INDEX OR) reads and sorts every due row of a backlog before it keeps
// the limit.
func TestClaimPlanStopsAtItsLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()

	for _, tt := range []struct {
		name string
		stmt sqlstore.Stmt
		args []any
	}{
		{name: "claim", stmt: sqlstore.StmtClaimOutbox, args: []any{100, 160, 1000, "writer", 140}},
		{name: "due", stmt: sqlstore.StmtOutboxDue, args: []any{100, 1000, "writer", 140}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.Query("EXPLAIN QUERY PLAN "+statements[tt.stmt], tt.args...)
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
			all := strings.Join(plan, "\n")
			require.NotContains(t, all, "MULTI-INDEX OR", all)
			require.Equal(t, 2, strings.Count(all, "SEARCH o USING INDEX outbox_state (state=?)"),
				"one walk of the state index per state:\n%s", all)
			require.Equal(t, 2, strings.Count(all, "SEARCH p USING INDEX outbox_record (crm_object=? AND crm_id=? AND id<?)"),
				"each state's rows checked against their record's earlier rows:\n%s", all)
		})
	}
}
