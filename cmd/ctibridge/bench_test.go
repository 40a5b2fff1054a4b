package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/internal/bench"
)

// TestBenchInProcess runs a tiny bench end to end, the bridge in this
// process: every Case closed, every change in the org exactly once, CRM
// calls near the floor, no errors.
func TestBenchInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a bridge for seconds")
	}
	res, err := bench.Run(context.Background(), bench.Options{
		Records: 50, Agents: 5, Seed: 7, Timeout: 2 * time.Minute,
		Start: inProcessBridge(logrus.ErrorLevel, os.Stderr),
	})
	require.NoError(t, err)
	checkBench(t, res, 50)
	require.EqualValues(t, 5, res.SignIns, "each agent signed in once, timed apart")
	// The bench times the actions the bridge answered while the clock ran,
	// not the sign-ins before it. The bridge counts an action before its
	// answer's last byte leaves, so it has counted every action the bench
	// timed when the clock stops.
	require.Positive(t, res.BridgeActions)
	require.LessOrEqual(t, res.Actions, res.BridgeActions)
	t.Logf("actions: %d timed by the bench, %d answered by the bridge", res.Actions, res.BridgeActions)
	require.Zero(t, res.Reconnects)
	require.Zero(t, res.Redelivered, "no write reached the org twice")
	require.Contains(t, res.RSSOf, "bench process")
}

// TestWriteAllocs: --memprofile writes a pprof profile (gzipped protocol
// buffers) of what the process allocated, and a file it cannot create is
// an error that names it.
func TestWriteAllocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "allocs.prof")
	require.NoError(t, writeAllocs(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(b), 100)
	require.Equal(t, []byte{0x1f, 0x8b}, b[:2], "gzip, as pprof writes profiles")

	missing := filepath.Join(t.TempDir(), "missing", "allocs.prof")
	require.ErrorContains(t, writeAllocs(missing), missing)
}

// TestBenchKillRestart SIGKILLs a bridge in a child process (this test
// binary re-executed as ctibridge) halfway through a tiny bench, restarts
// it on the same store, and still finds every change in the org once.
func TestBenchKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a bridge for seconds")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	benchLog, err := os.Create(filepath.Join(dir, "bench.log"))
	require.NoError(t, err)
	t.Cleanup(func() {
		benchLog.Close()
		if t.Failed() {
			for _, name := range []string{"bridge.log", "bench.log"} {
				log, _ := os.ReadFile(filepath.Join(dir, name))
				t.Logf("%s:\n%s", name, log)
			}
		}
	})
	res, err := bench.Run(context.Background(), bench.Options{
		Records: 60, Agents: 5, Seed: 7, Timeout: 2 * time.Minute, KillRestart: true, Dir: dir, Log: benchLog,
		Start: bench.ChildStarter(exe, nil, []string{benchChildEnv + "=1"}, filepath.Join(dir, "bridge.log")),
	})
	require.NoError(t, err)
	checkBench(t, res, 60)
	require.Equal(t, 1, res.Kills)
	require.Equal(t, 1, res.Restarts)
	require.Equal(t, "bridge process (VmHWM)", res.RSSOf)
}

func checkBench(t *testing.T, res *bench.Result, records int) {
	t.Helper()
	require.True(t, res.Verified, "the org was checked")
	require.Zero(t, res.Errors, "%v %v", res.ErrorKinds, res.ErrorSample)
	require.Equal(t, records, res.Records)
	require.Positive(t, res.Actions)
	require.Greater(t, res.ActionsPerS, 0.0)
	require.Positive(t, res.ActionP50)
	require.GreaterOrEqual(t, res.ActionP99, res.ActionP50)
	require.Positive(t, res.RecordToOfferP50)
	require.GreaterOrEqual(t, res.RecordToOfferP99, res.RecordToOfferP50)
	require.Positive(t, res.Deferrals)
	require.Equal(t, res.AuditEntries, res.AuditTasks, "one Task per audit entry")
	require.Greater(t, res.Writebacks, res.AuditTasks, "the Cases' own updates too")
	// The writer batches (crm.batch_max_age, 2s): a call when 1,000
	// records are due or the oldest is 2s old, plus retries. How full the
	// batches are depends on the machine's speed, so calls per 1,000
	// writebacks are for the benchmarks.
	require.LessOrEqual(t, float64(res.CRMWriteCalls), res.DurationS+res.DrainS+5)
	require.Positive(t, res.PeakRSSMB)
}

// benchChildEnv makes the test binary run as ctibridge (see TestMain).
const benchChildEnv = "CTIBRIDGE_TEST_RUN_AS_MAIN"

// TestMain lets TestBenchKillRestart re-execute this test binary as the
// ctibridge command.
func TestMain(m *testing.M) {
	if os.Getenv(benchChildEnv) != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
