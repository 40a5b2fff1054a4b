package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// TestComposeConfig runs compose.yaml's two-replica try-out in process: its
// config file as shipped, the secrets compose mounts under /run/secrets,
// the org ctibridge sim serves (the default seed) and the test's
// PostgreSQL. Both replicas start, and both show the org's cases to the
// try-out's admin token.
func TestComposeConfig(t *testing.T) {
	dsn := pgtest.DSN(t)
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(sim.DefaultSeed()))
	orgSrv := httptest.NewServer(org)
	defer orgSrv.Close()

	data, err := os.ReadFile("../../deploy/compose/ctibridge.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pg_dsn"), []byte(dsn), 0o600))
	secret, err := os.ReadFile("../../deploy/compose/secrets/sf_client_secret")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sf_client_secret"), secret, 0o600))
	text := string(data)
	for from, to := range map[string]string{"/run/secrets/": dir + "/", "http://org:8090": orgSrv.URL} {
		require.Contains(t, text, from)
		text = strings.ReplaceAll(text, from, to)
	}
	path := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)

	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var replicas []*daemon
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		d, err := startDaemon(ctx, cfg, daemonOptions{Log: log, Listener: ln})
		require.NoError(t, err)
		replicas = append(replicas, d)
	}
	for _, d := range replicas {
		eventually(t, "replica "+d.url()+" lists the org's cases", func() bool {
			req, err := http.NewRequest("GET", d.url()+"/api/v1/interactions", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer demo-admin") // the try-out's admin, as compose.yaml's comments say
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, http.StatusOK, res.StatusCode)
			var out struct{ Interactions []any }
			require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
			return len(out.Interactions) > 0
		})
	}
	stop()
	for _, d := range replicas {
		require.NoError(t, d.wait())
	}
}
