package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad/api/webhook"
)

// This file replays the probes of issue 16 ("Hardening") against the real
// daemon over HTTP on 127.0.0.1, one subtest per item, each asserting the
// safe behaviour. Other tests prove each defence in depth (TestBodyLimit,
// TestTextLimits, TestTextTheCRMCannotTake, TestEventsStreamLimit,
// TestDueByRange, the webhook sign tests, TestDaemonHardening,
// TestValidate, TestSimJWTCert); this is the one place that walks them
// all, quickly, through the binary's own wiring.

// probeSecret is the probes' webhook secret: 24 bytes and more.
const probeSecret = "probe-hook-secret-of-32-bytes..."

// nulSubject is the Subject of a Case in the org that holds a NUL.
const nulSubject = "Modem\x00 on fire"

// probed is a daemon under probe, with the org it syncs with, the
// deliveries its webhook received, and its log.
type probed struct {
	d     *daemon
	c     *client
	dir   string
	hooks *recordedHooks
	logs  *syncBuffer
}

// startProbed starts the daemon with the demo's mappings, api.max_streams
// 2, a burst of 3 unknown tokens per address, /metrics on a listener of
// its own and a webhook whose secret file others may read, on store
// (nil: SQLite in a temporary directory), and waits until alice has an
// interaction connected.
func startProbed(t *testing.T, store *config.Store) *probed {
	t.Helper()
	org := sim.New(sim.Options{})
	records := append(demoRecords(), sim.Record{"attributes": map[string]any{"type": "Case"},
		"Subject": nulSubject, "Origin": "Web", "Type": "Problem", "Priority": "Low", "Status": "New"})
	require.NoError(t, org.Seed(records))
	orgSrv := httptest.NewServer(org)
	t.Cleanup(orgSrv.Close)
	p := &probed{dir: t.TempDir(), hooks: &recordedHooks{}}
	hookSrv := httptest.NewServer(p.hooks)
	t.Cleanup(hookSrv.Close)

	secret := filepath.Join(p.dir, "hook-secret")
	require.NoError(t, os.WriteFile(secret, []byte(probeSecret), 0o600))
	require.NoError(t, os.Chmod(secret, 0o644))
	mappings := string(demoConfig[bytes.Index(demoConfig, []byte("mappings:")):])
	path := filepath.Join(p.dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`listen: 127.0.0.1:0
store: {driver: sqlite, dsn: %q}
metrics: {listen: 127.0.0.1:0}
api: {max_streams: 2, auth_failure_burst: 3, max_replay: 1}
crm:
  kind: salesforce
  salesforce: {login_url: %q, auth: client_credentials, client_id: ctibridge-local, client_secret: local-secret}
  poll_interval: 100ms
  batch_max_age: 100ms
services:
  - {id: support, name: Support}
  - {id: billing, name: Billing}
agents:
  - {id: alice, name: Alice, crm_user_id: 005Sd0000000001IAA, services: [support, billing], token_sha256: %s}
  - {id: bob, name: Bob, crm_user_id: 005Sd0000000002IAA, services: [support], token_sha256: %s}
tokens:
  - {name: ops, role: admin, token_sha256: %s}
webhooks:
  - {url: %q, secret_file: hook-secret, events: [interaction.updated]}
%s`, filepath.Join(p.dir, "ctibridge.db"), orgSrv.URL, sha("tok-alice"), sha("tok-bob"), sha("tok-ops"), hookSrv.URL, mappings)), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	if store != nil {
		cfg.Store = *store
	}

	log, logs := jsonLog()
	p.logs = logs
	// Item 7: the database file and its -wal and -shm are the owner's
	// only even under umask 0. The umask is the process's: no test of this
	// package runs in parallel.
	defer syscall.Umask(syscall.Umask(0))
	ctx, stop := context.WithCancel(context.Background())
	p.d, err = startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	t.Cleanup(func() { stop(); require.NoError(t, p.d.wait()) })
	p.c = &client{t: t, base: p.d.url()}
	p.c.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	eventually(t, "an interaction connects to alice", func() bool { return p.connected() != "" })
	return p
}

// connected returns the id of an interaction connected to alice, or "".
func (p *probed) connected() string {
	_, out := p.c.do("alice", "GET", "/api/v1/interactions?status=connected", nil)
	list, _ := out["interactions"].([]any)
	if len(list) == 0 {
		return ""
	}
	return list[0].(map[string]any)["id"].(string)
}

// raw sends body as it is and returns the status, the headers and the
// body read.
func (p *probed) raw(who, method, path, body string) (int, http.Header, []byte) {
	p.c.t.Helper()
	req, err := http.NewRequest(method, p.c.base+path, strings.NewReader(body))
	require.NoError(p.c.t, err)
	if who != "" {
		req.Header.Set("Authorization", "Bearer tok-"+who)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(p.c.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(p.c.t, err)
	return res.StatusCode, res.Header, data
}

// refused sends body and checks the problem it gets: status, code and a
// detail containing detail.
func (p *probed) refused(who, method, path, body string, status int, code, detail string) {
	p.c.t.Helper()
	got, h, data := p.raw(who, method, path, body)
	require.Equal(p.c.t, status, got, "%.300s", data)
	require.Equal(p.c.t, "application/problem+json", h.Get("Content-Type"))
	var problem map[string]any
	require.NoError(p.c.t, json.Unmarshal(data, &problem))
	require.Equal(p.c.t, code, problem["code"])
	require.Contains(p.c.t, problem["detail"], detail)
}

// storeHolds reports whether any value of any table of the SQLite store
// contains s.
func (p *probed) storeHolds(t *testing.T, s string) bool {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(p.dir, "ctibridge.db")+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	require.NoError(t, err)
	defer db.Close()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for k := range vals {
				ptrs[k] = &vals[k]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				if str, ok := v.(string); ok && strings.Contains(str, s) {
					rows.Close()
					return true
				}
			}
		}
		require.NoError(t, rows.Err())
	}
	return false
}

// recordedHooks is a webhook endpoint that keeps every delivery as sent.
type recordedHooks struct {
	mu         sync.Mutex
	deliveries []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func (h *recordedHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries = append(h.deliveries, delivery{r.Header.Clone(), body})
}

func (h *recordedHooks) first() *delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.deliveries) == 0 {
		return nil
	}
	return &h.deliveries[0]
}

// sseStream is an event stream read line by line.
type sseStream struct {
	mu    sync.Mutex
	lines []string
	ended chan struct{}
}

// stream opens /api/v1/events for who with a Last-Event-ID (if not "")
// and reads it until the server ends it or ctx is done.
func (p *probed) stream(ctx context.Context, who, lastEventID string) *sseStream {
	p.c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", p.c.base+"/api/v1/events", nil)
	require.NoError(p.c.t, err)
	req.Header.Set("Authorization", "Bearer tok-"+who)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(p.c.t, err)
	require.Equal(p.c.t, 200, res.StatusCode)
	s := &sseStream{ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *sseStream) has(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func (s *sseStream) isEnded() bool {
	select {
	case <-s.ended:
		return true
	default:
		return false
	}
}

// validateYAML runs "ctibridge validate --offline" on a config of yaml in dir and
// returns its exit code and stderr.
func validateYAML(t *testing.T, dir, yaml string) (int, string) {
	t.Helper()
	path := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	var out, errs bytes.Buffer
	code := run([]string{"validate", "--offline", "--config", path}, &out, &errs)
	return code, errs.String()
}

// TestSecurityProbes replays issue 16's probes against the daemon on
// SQLite.
func TestSecurityProbes(t *testing.T) {
	p := startProbed(t, nil)
	id := p.connected()
	interaction := "/api/v1/interactions/" + id

	t.Run("1: a note or reason of 1 MB is refused and not stored", func(t *testing.T) {
		audit := len(p.c.ok("alice", "GET", interaction, nil)["audit"].([]any))
		mb := "probe-1-" + strings.Repeat("x", 1<<20)
		p.refused("alice", "POST", interaction+"/transfers", `{"target":{"agent":"bob"},"note":"`+mb+`"}`,
			413, "too_large", "larger than 1048576 bytes (api.max_body_bytes)")
		p.refused("alice", "POST", interaction+"/abandon", `{"confirm":true,"reason":"`+mb+`"}`,
			413, "too_large", "larger than 1048576 bytes (api.max_body_bytes)")
		// Under the body's limit, over the note's.
		kb := "probe-1-" + strings.Repeat("x", 100_000-8)
		p.refused("alice", "POST", interaction+"/transfers", `{"target":{"agent":"bob"},"note":"`+kb+`"}`,
			422, "too_long", `field "note": 100000 bytes, at most 8192 (api.max_note_bytes)`)
		p.refused("alice", "POST", interaction+"/abandon", `{"confirm":true,"reason":"`+kb+`"}`,
			422, "too_long", `field "reason": 100000 bytes, at most 8192 (api.max_note_bytes)`)
		got := p.c.ok("alice", "GET", interaction, nil)
		require.Equal(t, "connected", got["status"])
		require.Empty(t, got["transfer_note"])
		require.Len(t, got["audit"].([]any), audit, "no audit entry")
		require.True(t, p.storeHolds(t, got["subject"].(string)), "the scan sees what the store holds")
		require.False(t, p.storeHolds(t, "probe-1-"), "the store took none of the text")
	})

	t.Run("2: one token's streams are bounded; a Last-Event-ID beyond the log starts at the present, one too far back is a reset", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		oldest := p.stream(ctx, "alice", "")
		second := p.stream(ctx, "alice", "")
		require.False(t, oldest.isEnded())
		third := p.stream(ctx, "alice", "") // api.max_streams is 2
		eventually(t, "the oldest stream ends with stream.closed", func() bool {
			return oldest.isEnded() && oldest.has("event: stream.closed")
		})
		require.True(t, oldest.has(`data: {"reason":"alice opened more than 2 event streams; this one, the oldest, is closed","limit":2}`))
		require.False(t, second.isEnded())
		require.False(t, third.isEnded())

		far := p.stream(ctx, "ops", "999999999999999")
		eventually(t, "the stream's opening comment", func() bool { return far.has(": ctibridge events after ") })
		far.mu.Lock()
		var after int64
		for _, l := range far.lines {
			if v, ok := strings.CutPrefix(l, ": ctibridge events after "); ok {
				after, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		far.mu.Unlock()
		require.Less(t, after, int64(999999999999999), "clamped to the last event")
		p.c.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
		eventually(t, "the clamped stream gets the next event", func() bool { return far.has("event: agent.presence") })

		// A replay from the start of the log (Last-Event-ID: 0) is not read
		// when it is more than api.max_replay behind: one stream.reset tells
		// the client to reload.
		replay := p.stream(ctx, "ops", "0")
		eventually(t, "a replay too far back is a stream.reset", func() bool { return replay.has("event: stream.reset") })
		require.True(t, replay.has(`data: {"type":"stream.reset","reason":"max_replay"`))
		require.False(t, replay.has("event: interaction.created"), "nothing replayed")
	})

	t.Run("3: a NUL is refused at the API and cleaned at ingest", func(t *testing.T) { probeNUL(t, p, interaction) })

	t.Run("4: a due_by beyond what the store holds is refused with the range", func(t *testing.T) {
		p.refused("alice", "POST", interaction+"/defer", `{"due_by":"2300-01-01T00:00:00Z"}`,
			422, "due_by_out_of_range", "at most 2262-04-11T23:47:16Z")
		p.refused("alice", "PATCH", interaction, `{"status":"pending","due_by":"2300-01-01T00:00:00Z"}`,
			422, "due_by_out_of_range", "at most 2262-04-11T23:47:16Z")
		require.Equal(t, "connected", p.c.ok("alice", "GET", interaction, nil)["status"])
	})

	t.Run("5: deliveries are signed, a replay is refused, a short secret is refused", func(t *testing.T) {
		eventually(t, "a webhook delivery", func() bool { return p.hooks.first() != nil })
		dl := p.hooks.first()
		for _, h := range []string{webhook.IDHeader, webhook.TimestampHeader, webhook.SignatureHeader} {
			require.NotEmpty(t, dl.header.Get(h), h)
		}
		keys := [][]byte{[]byte(probeSecret)}
		sent, err := strconv.ParseInt(dl.header.Get(webhook.TimestampHeader), 10, 64)
		require.NoError(t, err)
		at := time.Unix(sent, 0)
		require.NoError(t, webhook.Verify(keys, dl.header, dl.body, at))
		require.ErrorIs(t, webhook.Verify(keys, dl.header, dl.body, at.Add(webhook.Tolerance+time.Minute)), webhook.ErrTimestamp,
			"replayed later")
		tampered := bytes.Replace(dl.body, []byte(`"`), []byte(`'`), 1)
		require.ErrorIs(t, webhook.Verify(keys, dl.header, tampered, at), webhook.ErrNoSignature)

		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "short"), []byte("23-bytes-is-too-short!!"), 0o600))
		code, stderr := validateYAML(t, dir, "webhooks:\n  - {url: https://h.example/a, secret_file: short}\n")
		require.Equal(t, 1, code, stderr)
		require.Contains(t, stderr, "too short: want at least 24 bytes of key")
		require.NotContains(t, stderr, "23-bytes-is-too-short", "no secret in an error")
	})

	t.Run("6: the panel's script-src has no scheme wildcard", func(t *testing.T) {
		status, h, _ := p.raw("", "GET", "/", "")
		require.Equal(t, 200, status)
		csp := h.Get("Content-Security-Policy")
		m := regexp.MustCompile(`(?:^|;)\s*script-src([^;]*)`).FindStringSubmatch(csp)
		require.NotNil(t, m, csp)
		sources := strings.Fields(m[1])
		require.Contains(t, sources, "'self'")
		for _, s := range sources {
			require.NotContains(t, []string{"https:", "http:", "*", "'unsafe-inline'", "'unsafe-eval'"}, s, csp)
		}
	})

	t.Run("7: private database files, a readable secret file warned, an http login_url refused", func(t *testing.T) {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			fi, err := os.Stat(filepath.Join(p.dir, "ctibridge.db"+suffix))
			require.NoError(t, err)
			require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "ctibridge.db%s under umask 0", suffix)
		}
		require.Contains(t, p.logs.String(), filepath.Join(p.dir, "hook-secret")+" is readable by others (mode 0644); chmod 600 it")
		require.NotContains(t, p.logs.String(), probeSecret)

		code, stderr := validateYAML(t, t.TempDir(), "crm:\n  kind: salesforce\n  salesforce:\n"+
			"    {login_url: http://acme.my.salesforce.com, auth: client_credentials, client_id: c, client_secret: s3cr3t}\n")
		require.Equal(t, 1, code, stderr)
		require.Contains(t, stderr, "crm.salesforce.login_url: http would send the client secret in clear")
	})

	t.Run("8: metrics apart, no-store, 405 with Allow, unknown tokens limited, sim verifies JWTs", func(t *testing.T) {
		status, _, _ := p.raw("", "GET", "/metrics", "")
		require.Equal(t, 404, status, "not on the panel's listener")
		res, err := http.Get("http://" + p.d.metricsLn.Addr().String() + "/metrics")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)

		status, h, _ := p.raw("alice", "GET", interaction, "")
		require.Equal(t, 200, status)
		require.Equal(t, "no-store", h.Get("Cache-Control"))

		status, h, _ = p.raw("alice", "DELETE", "/api/v1/me/presence", "")
		require.Equal(t, 405, status)
		require.Equal(t, "PUT", h.Get("Allow"))

		for range 3 { // api.auth_failure_burst
			status, _, _ = p.raw("guess", "GET", "/api/v1/me", "")
			require.Equal(t, 401, status)
		}
		status, h, _ = p.raw("guess", "GET", "/api/v1/me", "")
		require.Equal(t, 429, status)
		require.NotEmpty(t, h.Get("Retry-After"))
		status, _, _ = p.raw("alice", "GET", "/api/v1/me", "")
		require.Equal(t, 200, status, "a known token still signs in")

		probeSimJWT(t)
	})
}

// TestSecurityProbesOnPostgres replays item 3 of issue 16 (NUL) on
// PostgreSQL, whose text columns cannot hold one; it is skipped without
// CTIBRIDGE_TEST_PG_DSN.
func TestSecurityProbesOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	p := startProbed(t, &config.Store{Driver: config.DriverPostgres, DSN: config.NewSecret(dsn)})
	probeNUL(t, p, "/api/v1/interactions/"+p.connected())
}

// probeNUL is item 3: a note with a NUL is 422 invalid_text, changing
// nothing; the org's Case whose Subject holds one is ingested without it.
func probeNUL(t *testing.T, p *probed, interaction string) {
	p.refused("alice", "POST", interaction+"/transfers", `{"target":{"agent":"bob"},"note":"a\u0000b"}`,
		422, "invalid_text", `field "note": NUL characters (\u0000) are not allowed`)
	p.refused("alice", "POST", interaction+"/abandon", `{"confirm":true,"reason":"a\u0000b"}`,
		422, "invalid_text", `field "reason": NUL characters (\u0000) are not allowed`)
	require.Equal(t, "connected", p.c.ok("alice", "GET", interaction, nil)["status"])

	clean := strings.ReplaceAll(nulSubject, "\x00", "")
	eventually(t, "the Case with a NUL is ingested, cleaned", func() bool {
		for _, i := range p.c.ok("ops", "GET", "/api/v1/interactions", nil)["interactions"].([]any) {
			if s, _ := i.(map[string]any)["subject"].(string); strings.Contains(s, clean) {
				return true
			}
		}
		return false
	})
}

// probeSimJWT is the last of item 8: "ctibridge sim" with a certificate
// refuses a JWT bearer assertion that is unsigned, whether it says so
// (alg none) or not (RS256 without a signature).
func probeSimJWT(t *testing.T) {
	_, cert := selfSigned(t)

	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan int)
	go func() {
		done <- runSim(ctx, []string{"--listen", "127.0.0.1:0", "--jwt-cert", cert}, w, io.Discard)
		w.Close()
	}()
	defer func() { cancel(); <-done }()
	first, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, out) }()
	base := strings.TrimSpace(strings.TrimPrefix(first, "local Salesforce org at "))

	segment := func(v any) string {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(data)
	}
	claims := segment(map[string]any{"iss": "ctibridge-local", "sub": "admin@local.test", "aud": base,
		"exp": time.Now().Add(time.Minute).Unix()})
	for _, alg := range []string{"none", "RS256"} {
		res, err := http.PostForm(base+"/services/oauth2/token", url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
			"assertion":  {segment(map[string]string{"alg": alg, "typ": "JWT"}) + "." + claims + "."}})
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, 400, res.StatusCode, "alg %s: %s", alg, body)
		require.Contains(t, string(body), `"error":"invalid_grant"`)
	}
}
