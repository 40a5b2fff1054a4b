package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// postgresScenario is scenarioConfig on PostgreSQL at dsn, with its
// local org, seeded, and a webhook receiver served until t ends.
func postgresScenario(t *testing.T, dsn string) *config.Config {
	t.Helper()
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	orgSrv := httptest.NewServer(org)
	t.Cleanup(orgSrv.Close)
	hookSrv := httptest.NewServer(&hookReceiver{})
	t.Cleanup(hookSrv.Close)
	cfg := scenarioConfig(t, orgSrv.URL, hookSrv.URL)
	cfg.Store = config.Store{Driver: config.DriverPostgres, DSN: config.NewSecret(dsn)}
	return cfg
}

// TestDaemonReplicasOnPostgres runs two daemons on one PostgreSQL schema:
// alice follows her events on replica a and acts through replica b; her
// stream on a shows what b committed.
func TestDaemonReplicasOnPostgres(t *testing.T) {
	cfg := postgresScenario(t, pgtest.DSN(t))
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var replicas []*daemon
	for range 2 {
		d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
		require.NoError(t, err)
		replicas = append(replicas, d)
	}
	a, b := &client{t: t, base: replicas[0].url()}, &client{t: t, base: replicas[1].url()}
	alice := a.follow(ctx, "alice")

	b.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	eventually(t, "replica a streams the interaction b connected to alice", func() bool {
		return alice.find(func(e adapter.Event) bool {
			return e.Interaction != nil && e.Interaction.Owner == "alice" && e.Interaction.Status == "connected"
		}) != nil
	})

	// Both replicas are ready, the one that stands by as much as the one
	// that polls, and both say which one polls.
	var holders, pruners []any
	for _, d := range replicas {
		res, err := http.Get(d.url() + "/readyz")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
		c := &client{t: t, base: d.url()}
		eventually(t, "a poll succeeded", func() bool {
			return c.ok("ops", "GET", "/api/v1/admin/status", nil)["polls"].([]any)[0].(map[string]any)["last_success"] != nil
		})
		status := c.ok("ops", "GET", "/api/v1/admin/status", nil)
		require.Equal(t, "connected", status["crm"].(map[string]any)["state"])
		holders = append(holders, status["polls"].([]any)[0].(map[string]any)["holder"])
		// One of them prunes the store, and both say which.
		eventually(t, "a pruning round ran", func() bool {
			return c.ok("ops", "GET", "/api/v1/admin/status", nil)["retention"].(map[string]any)["last_run_at"] != nil
		})
		pruners = append(pruners, c.ok("ops", "GET", "/api/v1/admin/status", nil)["retention"].(map[string]any)["holder"])
	}
	names := []string{replicaName(replicas[0].ln.Addr()), replicaName(replicas[1].ln.Addr())}
	require.Equal(t, holders[0], holders[1])
	require.Contains(t, names, holders[0])
	require.Equal(t, pruners[0], pruners[1])
	require.Contains(t, names, pruners[0])
	stop()
	for _, d := range replicas {
		require.NoError(t, d.wait())
	}
}

func TestValidatePostgresStore(t *testing.T) {
	write := func(t *testing.T, dsn string) string {
		path := filepath.Join(t.TempDir(), "ctibridge.yaml")
		require.NoError(t, os.WriteFile(path, []byte("store: {driver: postgres, dsn: \"${CTIBRIDGE_VALIDATE_DSN}\"}\n"), 0o600))
		t.Setenv("CTIBRIDGE_VALIDATE_DSN", dsn)
		return path
	}
	const secret = "s3cret-pw"
	for _, tc := range []struct {
		name   string
		dsn    func(t *testing.T) string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "a dsn that does not parse", dsn: func(*testing.T) string { return "postgres://u:" + secret + "@h:port/db" },
			code: 1, stderr: "store.dsn is not a valid PostgreSQL connection string"},
		{name: "offline only parses", dsn: func(*testing.T) string { return "postgres://u:" + secret + "@127.0.0.1:1/db" },
			args: []string{"--offline"}, code: 0, stdout: "store postgres (not connected)"},
		{name: "an unreachable server", dsn: func(*testing.T) string {
			return "postgres://u:" + secret + "@127.0.0.1:1/db?connect_timeout=2"
		}, code: 1, stderr: "store: postgres: connect"},
		{name: "a reachable, new schema", dsn: func(t *testing.T) string { return pgtest.DSN(t) },
			code: 0, stdout: "store postgres (schema 0 of 13)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, tc.dsn(t))
			var out, errs bytes.Buffer
			code := run(append([]string{"validate", "--config", path}, tc.args...), &out, &errs)
			require.Equal(t, tc.code, code, errs.String())
			require.Contains(t, out.String(), tc.stdout)
			require.Contains(t, errs.String(), tc.stderr)
			require.NotContains(t, out.String()+errs.String(), secret)
			if tc.code == 0 {
				require.Empty(t, strings.TrimSpace(errs.String()))
			}
		})
	}
}
