package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
)

// TestDaemonHardening runs the daemon with /metrics on a listener of its
// own, the Open CTI library's origin in the CSP and a store DSN in a file
// others may read, and checks what a client and the log see.
func TestDaemonHardening(t *testing.T) {
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "dsn")
	require.NoError(t, os.WriteFile(dsnFile, []byte(filepath.Join(dir, "ctibridge.db")), 0o600))
	require.NoError(t, os.Chmod(dsnFile, 0o644))
	path := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
store: {driver: sqlite, dsn_file: %s}
metrics: {listen: 127.0.0.1:0}
panel: {opencti_url: https://acme--c.vf.force.com/support/api/62.0/lightning/opencti_min.js}
api: {auth_failure_burst: 3}
tokens:
  - {name: ops, role: admin, token_sha256: %s}
`, dsnFile, sha("tok-ops"))), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)

	log, logs := jsonLog()
	ctx, stop := context.WithCancel(context.Background())
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	defer func() { stop(); require.NoError(t, d.wait()) }()

	require.Contains(t, logs.String(), `"key":"store.dsn_file"`)
	require.Contains(t, logs.String(), dsnFile+` is readable by others (mode 0644); chmod 600 it`)
	require.Contains(t, logs.String(), `"level":"warning","line":2,"msg":"config warning"`)
	require.NotContains(t, logs.String(), filepath.Join(dir, "ctibridge.db"), "the secret itself is never logged")

	get := func(url, token string) *http.Response {
		req, err := http.NewRequest("GET", url, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}

	// /metrics is on its own listener, not the panel's.
	require.Equal(t, 404, get(d.url()+"/metrics", "").StatusCode)
	require.Equal(t, 200, get("http://"+d.metricsLn.Addr().String()+"/metrics", "").StatusCode)
	require.Contains(t, logs.String(), `"metrics_listen":"`+d.metricsLn.Addr().String()+`"`)

	res := get(d.url()+"/", "")
	require.Equal(t, 200, res.StatusCode)
	csp := res.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self' https://acme--c.vf.force.com;")

	res = get(d.url()+"/api/v1/me", "tok-ops")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))

	req, err := http.NewRequest("DELETE", d.url()+"/api/v1/me", nil)
	require.NoError(t, err)
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 405, res.StatusCode)
	require.Equal(t, "GET, HEAD", res.Header.Get("Allow"))

	for range 3 {
		require.Equal(t, 401, get(d.url()+"/api/v1/me", "guess").StatusCode)
	}
	res = get(d.url()+"/api/v1/me", "guess")
	require.Equal(t, 429, res.StatusCode)
	require.Equal(t, "10", res.Header.Get("Retry-After"))
	require.Equal(t, 200, get(d.url()+"/api/v1/me", "tok-ops").StatusCode, "ops signed in from here before")
}

// TestDaemonWarnsReadableStore: a SQLite file made before ctibridge made
// its files 0600 keeps its mode, and the daemon says at start that others
// may read it, without the path.
func TestDaemonWarnsReadableStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ctibridge.db")
	path := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf("listen: 127.0.0.1:0\nstore: {driver: sqlite, dsn: %s}\n", db)), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	for _, mode := range []os.FileMode{0o600, 0o644} {
		log, logs := jsonLog()
		ctx, stop := context.WithCancel(context.Background())
		d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
		require.NoError(t, err)
		stop()
		require.NoError(t, d.wait())
		warned := strings.Contains(logs.String(), "the SQLite store file is readable by others")
		require.Equal(t, mode != 0o600, warned, "mode %04o", mode)
		require.NotContains(t, logs.String(), db)
		require.NoError(t, os.Chmod(db, 0o644)) // for the next start
	}
}
