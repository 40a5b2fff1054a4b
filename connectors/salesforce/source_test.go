package salesforce

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/stretchr/testify/require"
)

// TestSourceRead: the writer's read of the records it is about to update
// finds each as the org holds it: open Cases as work, closed ones as
// Unmatched with what they show, deleted ones not at all. Up to 400
// records take one API call; more take one per 1,000, and one more when
// some left the filter.
func TestSourceRead(t *testing.T) {
	org := sim.New(sim.Options{})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	var cases []sim.Record
	for k := range 1200 {
		status := "New"
		if k%10 == 0 {
			status = "Closed"
		}
		cases = append(cases, sim.Record{"attributes": map[string]any{"type": "Case"},
			"Subject": fmt.Sprintf("Case %d", k), "Status": status, "Origin": "Email"})
	}
	require.NoError(t, org.Seed(cases))
	closed := map[string]bool{}
	var open []string
	var all []string
	for _, r := range org.Records("Case") {
		id := r["Id"].(string)
		all = append(all, id)
		if r["Status"] == "Closed" {
			closed[id] = true
		} else {
			open = append(open, id)
		}
	}
	src := NewSource(connect(t, srv.URL, nil), caseMapping(t))
	gone := ID18("500Lz0000009999") // deleted, or never there

	for _, tc := range []struct {
		name  string
		ids   []string
		calls int
	}{
		{"a few", append(all[:300:300], gone), 1},
		{"all open", open[:1000], 1},
		{"many, some closed", append(all[:1100:1100], gone), 3}, // 1,000 a call, then the 110 closed
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := org.Total()
			items, err := src.Read(context.Background(), tc.ids)
			require.NoError(t, err)
			require.Equal(t, tc.calls, org.Total()-before, "API calls")
			byID := map[string]bool{}
			for _, item := range items {
				require.Empty(t, item.Problem)
				require.False(t, byID[item.CRMID], "%s read once", item.CRMID)
				byID[item.CRMID] = true
				require.Equal(t, closed[item.CRMID], item.Unmatched, item.CRMID)
				require.NotNil(t, item.CRM, item.CRMID)
				want := "New"
				if closed[item.CRMID] {
					want = "Closed"
				}
				require.Equal(t, want, item.CRM.Fields["Status"], item.CRMID)
			}
			require.False(t, byID[gone], "a record the org does not have is left out")
			for _, id := range tc.ids {
				require.True(t, byID[id] || id == gone, "%s read", id)
			}
		})
	}
}
