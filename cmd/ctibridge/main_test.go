package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// TestDemo runs the whole demo in a synctest bubble: its waits take no real
// time, and the story it tells is checked line by line.
func TestDemo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, demo(context.Background(), t.TempDir(), &out, true))
		for _, want := range []string{
			"refused (due_by_in_past)",
			"refused (action_not_allowed): action transfer is not allowed for semi-live interactions",
			`"Refund for order 1138" (non-live, billing) deferred owner=alice`,
			`"Refund for order 1138" (non-live, billing) connected owner=alice [auto_opened_due_to_due_date]`,
			"transfer.failed        warm transfer alice -> agent bob failed (timeout)",
			`"Password reset loop" (non-live, support) connected owner=bob`,
			`"Router keeps rebooting" (live, support) completed owner=alice`,
			"resumed            completed  -> connected  Interaction resumed by an agent",
			`Case "Router keeps rebooting" Status Closed   owner alice  Ctibridge_Status__c completed`,
			`Case "Password reset loop"    Status Working  owner bob`,
			`Case "Refund for order 1138"  Status Working  owner alice  Ctibridge_Status__c connected  resumed_from completed`,
		} {
			require.Contains(t, out.String(), want)
		}
	})
}

func TestValidate(t *testing.T) {
	unmapped := filepath.Join(t.TempDir(), "opportunity.json")
	require.NoError(t, os.WriteFile(unmapped, []byte(`{"attributes":{"type":"Opportunity"},"Id":"006x"}`), 0o600))
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("routng: {}\nagents:\n  - id: bob\n    services: [sales]\n"), 0o600))
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"valid", []string{"validate", "--config", "../../testdata/config/ctibridge.yaml"}, 0,
			"ctibridge.yaml: ok (3 agents, 2 services, 2 mappings, store sqlite, crm salesforce)", nil},
		{"mapping preview", []string{"mapping", "preview", "--config", "../../testdata/config/ctibridge.yaml",
			"--record", "../../testdata/salesforce/case-phone.json"}, 0, `"subject": "Router keeps rebooting (Maya Lindqvist)"`, nil},
		{"mapping preview of an unmapped object", []string{"mapping", "preview", "--config", "../../testdata/config/ctibridge.yaml",
			"--record", unmapped}, 1, "", []string{`no mapping for object "Opportunity"`}},
		{"every error with file:line", []string{"validate", "--config", bad}, 1, "", []string{
			bad + ":1: routng: unknown key",
			bad + `:4: agents[0].services[0]: agent bob names unknown service "sales"`}},
		{"no config", []string{"validate"}, 2, "", []string{"--config FILE is required"}},
		{"unknown command", []string{"serve"}, 2, "", []string{`unknown command "serve"`}},
		{"version", []string{"version"}, 0, "ctibridge dev", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			require.Equal(t, tc.code, run(tc.args, &out, &errs), errs.String())
			require.Contains(t, out.String(), tc.stdout)
			for _, want := range tc.stderr {
				require.Contains(t, errs.String(), want)
			}
			if tc.code == 0 {
				require.Empty(t, strings.TrimSpace(errs.String()))
			}
		})
	}
}
