package salesforce_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// TestCRMTextCleaned: a Case whose text holds a NUL, or bytes that are
// not UTF-8, goes from the org through the source and the mapping into
// the store cleaned (NUL removed, U+FFFD for the bytes), alike on each
// store, and its neighbours go in with it. (JSON carries no invalid
// bytes: the org's answer already has U+FFFD for them; a NUL arrives as
// \u0000, which PostgreSQL cannot hold.)
func TestCRMTextCleaned(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			if st.name == "postgres" {
				pgtest.ServerDSN(t)
			}
			b := startBridgeWith(t, sim.DefaultSeed(), bridgeOptions{store: st.open, agents: threeAgents()})
			const id = "500Sd0000000001IAA" // New, no owner
			require.NoError(t, b.org.Edit(samUser, "Case", id, map[string]any{
				"Subject": "Re\x00fund \xff!", "Ctibridge_Tags__c": "vip;go\x00ld"}))
			b.poll()
			byCRM := b.byCRM()
			i := byCRM[id]
			require.NotNil(t, i, "the Case went in")
			require.Regexp(t, "^Refund \uFFFD!", i.Subject)
			require.Equal(t, []string{"vip", "gold"}, i.Tags)
			require.Contains(t, byCRM, "500Sd0000000007IAA", "and the Cases around it")
			require.NoError(t, b.store.View(context.Background(), func(tx adapter.Tx) error {
				failures, err := tx.IngestFailures("", 100)
				require.Empty(t, failures, "no record failed")
				return err
			}))
		})
	}
}
