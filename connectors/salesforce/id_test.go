package salesforce_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/connectors/salesforce"
)

// TestID18: a 15-character id gets the suffix that encodes the case of its
// letters, as the org returns ids; others are left as they are.
func TestID18(t *testing.T) {
	for in, want := range map[string]string{
		"005Sd0000000001":    "005Sd0000000001IAA", // the local org's alice
		"001A0000006Vm9r":    "001A0000006Vm9rIAC",
		"500000000000000":    "500000000000000AAA",
		"005Sd0000000001IAA": "005Sd0000000001IAA",
		"":                   "",
		"005Sd":              "005Sd",
	} {
		require.Equal(t, want, salesforce.ID18(in), in)
	}
}
