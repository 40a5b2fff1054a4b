package main

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDemoOmni: with --omni, the story ends with a Case of the Support_Omni
// queue routed by ctibridge, offered as an AgentWork, accepted in
// Omni-Channel and connected in ctibridge.
func TestDemoOmni(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		api, org := newMemListener("127.0.0.1:8080"), newMemListener("127.0.0.1:8090")
		go func() {
			done <- demo(ctx, t.TempDir(), &out, demoEnv{Listener: api, OrgListener: org, InProcess: true,
				NewRecordsEvery: time.Hour, Omni: true})
		}()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)
		require.NotContains(t, out.String(), "the story stopped")
		require.Regexp(t, `AgentWork 0Bz\w+ for user 005\w+: Assigned; PendingServiceRouting pushed: true`, out.String())
		require.Regexp(t, `AgentWork 0Bz\w+: Opened; PendingServiceRouting pushed: deleted`, out.String())
		require.Regexp(t, `"Parcel arrived damaged" \(non-live, support\) connected owner=(alice|bob)`, out.String())
		require.Contains(t, out.String(), "Ctrl-C stops it.", "the story went on to the tour")
	})
}
