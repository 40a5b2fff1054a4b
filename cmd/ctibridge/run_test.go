package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

func TestRunSources(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		configFlag, listenFlag string
		env                    map[string]string
		want                   runSource
		wantErr                string
	}{
		{name: "flags", configFlag: "a.yaml", listenFlag: ":9000", want: runSource{"a.yaml", ":9000"}},
		{name: "the config's listen when neither flag nor env names one", configFlag: "a.yaml", want: runSource{"a.yaml", ""}},
		{name: "env when no flag", env: map[string]string{envConfig: "/etc/ctibridge/ctibridge.yaml", envListen: "0.0.0.0:8080"},
			want: runSource{"/etc/ctibridge/ctibridge.yaml", "0.0.0.0:8080"}},
		{name: "a flag wins over env", configFlag: "a.yaml", listenFlag: "127.0.0.1:9000",
			env:  map[string]string{envConfig: "b.yaml", envListen: "0.0.0.0:8080"},
			want: runSource{"a.yaml", "127.0.0.1:9000"}},
		{name: "an empty env var is absent", configFlag: "a.yaml", env: map[string]string{envListen: ""}, want: runSource{"a.yaml", ""}},
		{name: "no config", listenFlag: ":9000", wantErr: "--config FILE (or CTIBRIDGE_CONFIG) is required"},
		{name: "bad --listen", configFlag: "a.yaml", listenFlag: "8080",
			wantErr: `--listen "8080": want host:port, e.g. 0.0.0.0:8080`},
		{name: "bad env listen", configFlag: "a.yaml", env: map[string]string{envListen: "0.0.0.0:http"},
			wantErr: `CTIBRIDGE_LISTEN "0.0.0.0:http": invalid port "http" (want 0 to 65535)`},
		{name: "a good flag hides a bad env", configFlag: "a.yaml", listenFlag: ":9000", env: map[string]string{envListen: "nonsense"},
			want: runSource{"a.yaml", ":9000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runSources(tc.configFlag, tc.listenFlag, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// logLines parses JSON log lines; any other line fails the test.
func logLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "not a JSON log line: %s", line)
		out = append(out, m)
	}
	return out
}

// findLine returns the first line whose fields include want.
func findLine(lines []map[string]any, want map[string]any) map[string]any {
next:
	for _, l := range lines {
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		return l
	}
	return nil
}

// simConfig writes a config of the built-in org with a store in a temp
// dir, listening on listen, and an admin token "tok-ops-secret".
func simConfig(t *testing.T, listen string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `listen: %s
store: {driver: sqlite, dsn: %q}
crm: {kind: sim}
tokens:
  - {name: ops, role: admin, token_sha256: %s}
`, listen, filepath.Join(dir, "ctibridge.db"), sha("tok-ops-secret")), 0o600))
	return path
}

// TestRunLogs runs "ctibridge run" in process, configured from the
// environment: one JSON log for everything, the std log package included,
// and an access log without tokens.
func TestRunLogs(t *testing.T) {
	// The config's listen cannot be bound here: the daemon starts only if
	// CTIBRIDGE_LISTEN overrides it.
	t.Setenv(envConfig, simConfig(t, "192.0.2.1:8080"))
	t.Setenv(envListen, "127.0.0.1:0")
	// In a container with 1 GiB, the Go runtime keeps to 90% of it.
	t.Setenv("GOMEMLIMIT", "")
	restoreMemoryLimit(t)
	defer func(f func() (uint64, error)) { containerMemory = f }(containerMemory)
	containerMemory = func() (uint64, error) { return 1 << 30, nil }

	stdOut := log.Writer()
	var stderr syncBuffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	exit := make(chan int, 1)
	go func() { exit <- runRun(ctx, []string{"--log-level", "debug"}, io.Discard, &stderr) }()

	var base string
	eventually(t, "ctibridge started", func() bool {
		select {
		case code := <-exit:
			t.Fatalf("run exited with %d: %s", code, stderr.String())
		default:
		}
		if l := findLine(logLines(t, stderr.String()), map[string]any{"msg": "ctibridge started"}); l != nil {
			base = "http://" + l["listen"].(string)
			return true
		}
		return false
	})

	req, err := http.NewRequest("GET", base+"/api/v1/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer tok-ops-secret")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	log.Print("simpleforce: a failed call, with its response body")

	// SIGHUP reloads the file, with the same --listen; a broken file is
	// refused, with its line.
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGHUP))
	eventually(t, "the config reloaded", func() bool {
		return findLine(logLines(t, stderr.String()), map[string]any{"msg": "config reloaded"}) != nil
	})
	path := os.Getenv(envConfig)
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(good, []byte("\nroutng: {}\n")...), 0o600))
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGHUP))
	eventually(t, "the broken config refused", func() bool {
		return findLine(logLines(t, stderr.String()), map[string]any{"msg": "config reload refused"}) != nil
	})
	refused := findLine(logLines(t, stderr.String()), map[string]any{"msg": "config reload refused"})
	require.Contains(t, refused["error"], "routng")
	require.Equal(t, path, refused["file"])

	stop()
	select {
	case code := <-exit:
		require.Equal(t, 0, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	require.Equal(t, stdOut, log.Writer(), "run puts the std log output back")

	lines := logLines(t, stderr.String())
	for _, want := range []map[string]any{
		{"msg": "request", "level": "info", "route": "GET /api/v1/me", "status": 200.0, "identity": "ops"},
		{"msg": "simpleforce: a failed call, with its response body", "level": "debug", "logger": "stdlog"},
		{"msg": "ctibridge stopped", "level": "info"},
		{"msg": "Go runtime memory limit", "level": "info", "memory_limit_mib": 921.0, "container_memory_limit_mib": 1024.0},
	} {
		require.NotNil(t, findLine(lines, want), "no line with %v in\n%s", want, stderr.String())
	}
	require.NotContains(t, stderr.String(), "tok-ops-secret")
}

func TestRunConfigErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("routng: {}\nagents:\n  - id: bob\n    services: [sales]\n"), 0o600))
	t.Setenv(envConfig, "")
	t.Setenv(envListen, "")

	t.Run("json: a line per problem, each naming its file:line", func(t *testing.T) {
		var stderr syncBuffer
		require.Equal(t, 1, runRun(t.Context(), []string{"--config", bad}, io.Discard, &stderr))
		lines := logLines(t, stderr.String())
		require.Len(t, lines, 2, stderr.String())
		for k, want := range []map[string]any{
			{"level": "error", "msg": "config refused", "error": bad + ":1: routng: unknown key",
				"file": bad, "line": 1.0, "key": "routng"},
			{"level": "error", "msg": "config refused", "error": bad + `:4: agents[0].services[0]: agent bob names unknown service "sales"`,
				"file": bad, "line": 4.0, "key": "agents[0].services[0]"},
		} {
			delete(lines[k], "time")
			require.Equal(t, want, lines[k])
		}
	})

	t.Run("text", func(t *testing.T) {
		var stderr syncBuffer
		require.Equal(t, 1, runRun(t.Context(), []string{"--config", bad, "--log-format", "text"}, io.Discard, &stderr))
		require.Contains(t, stderr.String(), `level=error msg="config refused" error="`+bad+`:1: routng: unknown key"`)
	})

	t.Run("a webhook secret too short to sign with", func(t *testing.T) {
		weak := filepath.Join(t.TempDir(), "weak.yaml")
		require.NoError(t, os.WriteFile(weak, []byte("webhooks:\n  - {url: https://h.example/a, secrets: [s3cr3t]}\n"), 0o600))
		var stderr syncBuffer
		require.Equal(t, 1, runRun(t.Context(), []string{"--config", weak}, io.Discard, &stderr))
		lines := logLines(t, stderr.String())
		require.Len(t, lines, 1, stderr.String())
		require.Equal(t, weak+":2: webhooks[0].secrets[0]: too short: want at least 24 bytes of key (of a whsec_ secret, 24 once base64-decoded)", lines[0]["error"])
		require.NotContains(t, stderr.String(), "s3cr3t")
	})

	t.Run("an org that does not match: a line per problem, each naming its file:line", func(t *testing.T) {
		org := sim.New(sim.Options{})
		require.NoError(t, org.Seed(demoRecords()))
		orgSrv := httptest.NewServer(org)
		defer orgSrv.Close()
		cfg := scenarioConfig(t, orgSrv.URL, "http://127.0.0.1:9/hooks")
		// The Case mapping writes a field the org lacks; bob is no User of it.
		yaml, err := os.ReadFile(cfg.File)
		require.NoError(t, err)
		yaml = bytes.ReplaceAll(yaml, []byte("Ctibridge_Resumed_From__c"), []byte("Ctibridge_Nonexistent__c"))
		yaml = bytes.ReplaceAll(yaml, []byte("005Sd0000000002IAA"), []byte("005Sd0000000009IAA"))
		require.NoError(t, os.WriteFile(cfg.File, yaml, 0o600))
		var stderr syncBuffer
		require.Equal(t, 1, runRun(t.Context(), []string{"--config", cfg.File}, io.Discard, &stderr))
		var refused []map[string]any
		for _, line := range logLines(t, stderr.String()) {
			if line["msg"] == "ctibridge did not start" {
				refused = append(refused, line)
			}
		}
		require.Len(t, refused, 2, stderr.String())
		require.Equal(t, cfg.File, refused[0]["file"])
		require.Equal(t, "mappings[0].writeback.resumed_from", refused[0]["key"])
		require.Greater(t, refused[0]["line"], 0.0)
		require.Equal(t, fmt.Sprintf("%s:%v: mappings[0].writeback.resumed_from: unknown field Ctibridge_Nonexistent__c on Case",
			cfg.File, refused[0]["line"]), refused[0]["error"])
		require.Equal(t, cfg.File, refused[1]["file"])
		require.Equal(t, "agents[1].crm_user_id", refused[1]["key"])
		require.Equal(t, float64(cfg.Line("agents[1].crm_user_id")), refused[1]["line"])
		require.Contains(t, refused[1]["error"], "agent bob: 005Sd0000000009IAA is not a User of the org")
	})

	t.Run("a database it cannot reach: the whole error at its key", func(t *testing.T) {
		dir := t.TempDir() // no server listens there
		cfg := filepath.Join(dir, "ctibridge.yaml")
		require.NoError(t, os.WriteFile(cfg, []byte("listen: 127.0.0.1:0\ncrm: {kind: sim}\nstore:\n  driver: postgres\n  dsn: host="+dir+" user=ctibridge dbname=ctibridge sslmode=disable\n"), 0o600))
		var stderr syncBuffer
		require.Equal(t, 1, runRun(t.Context(), []string{"--config", cfg}, io.Discard, &stderr))
		var refused []map[string]any
		for _, line := range logLines(t, stderr.String()) {
			if line["msg"] == "ctibridge did not start" {
				refused = append(refused, line)
			}
		}
		require.Len(t, refused, 1, stderr.String())
		require.Equal(t, "store.dsn", refused[0]["key"])
		require.Equal(t, 5.0, refused[0]["line"])
		require.Contains(t, refused[0]["error"], cfg+":5: store.dsn: open store: open postgres store: failed to connect to `user=ctibridge database=ctibridge`: ")
	})

	t.Run("a file that cannot be read", func(t *testing.T) {
		var stderr syncBuffer
		missing := filepath.Join(t.TempDir(), "missing.yaml")
		t.Setenv(envConfig, missing)
		require.Equal(t, 1, runRun(t.Context(), nil, io.Discard, &stderr))
		line := logLines(t, stderr.String())
		require.Len(t, line, 1)
		require.Contains(t, line[0]["error"], "load config: open "+missing)
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no config", nil, "run: --config FILE (or CTIBRIDGE_CONFIG) is required\n"},
		{"bad log format", []string{"--config", bad, "--log-format", "xml"}, "run: --log-format \"xml\": want json or text\n"},
		{"a log level it does not name", []string{"--config", bad, "--log-level", "trace"}, "run: --log-level \"trace\": want debug, info, warn or error\n"},
		{"bad listen", []string{"--config", bad, "--listen", "localhost"}, "run: --listen \"localhost\": want host:port, e.g. 0.0.0.0:8080\n"},
		{"stray argument", []string{"--config", bad, "extra"}, "run: unexpected argument \"extra\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr syncBuffer
			require.Equal(t, 2, runRun(t.Context(), tc.args, io.Discard, &stderr))
			require.Equal(t, tc.want, stderr.String())
		})
	}
}

// TestDaemonErrorLog: what net/http reports on its own reaches the
// daemon's log.
func TestDaemonErrorLog(t *testing.T) {
	cfg, err := config.Load(simConfig(t, "127.0.0.1:0"))
	require.NoError(t, err)
	var out syncBuffer
	l, err := newLogger(&out, logJSON, "info")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: l, Panel: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.WriteHeader(http.StatusTeapot) // a bug net/http reports
	})})
	require.NoError(t, err)
	res, err := http.Get(d.url() + "/")
	require.NoError(t, err)
	res.Body.Close()
	stop()
	require.NoError(t, d.wait())
	line := findLine(logLines(t, out.String()), map[string]any{"logger": "net/http"})
	require.NotNil(t, line, out.String())
	require.Equal(t, "warning", line["level"])
	require.Contains(t, line["msg"], "http: superfluous response.WriteHeader call")
}
