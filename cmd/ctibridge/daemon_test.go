package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad/api/webhook"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// scenarioConfig is the daemon's config for the scenario: the demo's
// mappings with timeouts of a second, so the stories play in seconds.
func scenarioConfig(t *testing.T, orgURL, hookURL string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hook-secret"), []byte(hookSecret), 0o600))
	mappings := string(demoConfig[bytes.Index(demoConfig, []byte("mappings:")):])
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
store: {driver: sqlite, dsn: %q}
crm:
  kind: salesforce
  salesforce: {login_url: %q, auth: client_credentials, client_id: ctibridge-local, client_secret: local-secret}
  poll_interval: 100ms
  batch_max_age: 100ms # the scenario checks states that last a second in the org
timeouts:
  wrap_up: {live: 1s, semi-live: 1s, non-live: 1s}
  transfer_accept: 1s
services:
  - {id: support, name: Support}
  - {id: billing, name: Billing}
agents:
  - {id: alice, name: Alice, crm_user_id: 005Sd0000000001IAA, services: [support, billing], token_sha256: %s}
  - {id: bob, name: Bob, crm_user_id: 005Sd0000000002IAA, services: [support], token_sha256: %s}
tokens:
  - {name: ops, role: admin, token_sha256: %s}
webhooks:
  - {url: %q, secret_file: hook-secret, events: [interaction.updated, transfer.failed]}
%s`, filepath.Join(dir, "ctibridge.db"), orgURL, sha("tok-alice"), sha("tok-bob"), sha("tok-ops"), hookURL, mappings)
	path := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	return cfg
}

// client calls the daemon's API over HTTP.
type client struct {
	t    *testing.T
	base string
}

func (c *client) do(who, method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer tok-"+who)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(res.Body)
	if len(data) > 0 {
		require.NoError(c.t, json.Unmarshal(data, &out), "%s", data)
	}
	return res.StatusCode, out
}

func (c *client) ok(who, method, path string, body any) map[string]any {
	c.t.Helper()
	status, out := c.do(who, method, path, body)
	require.True(c.t, status < 300, "%s %s: %d %v", method, path, status, out)
	return out
}

// eventually polls cond every 20ms until it holds, failing after 15s: the
// daemon runs on the wall clock, with timeouts of a second.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// events follows an SSE stream and keeps what it received.
type events struct {
	mu   sync.Mutex
	list []adapter.Event
}

func (c *client) follow(ctx context.Context, who string) *events {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer tok-"+who)
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	require.Equal(c.t, 200, res.StatusCode)
	ev := &events{}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e adapter.Event
				if json.Unmarshal([]byte(data), &e) == nil {
					ev.mu.Lock()
					ev.list = append(ev.list, e)
					ev.mu.Unlock()
				}
			}
		}
	}()
	return ev
}

func (ev *events) find(match func(adapter.Event) bool) *adapter.Event {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for k := range ev.list {
		if match(ev.list[k]) {
			return &ev.list[k]
		}
	}
	return nil
}

// hookSecret is the scenario's webhook secret (a plain one: the key is its
// bytes).
const hookSecret = "hook-secret-value-of-24-bytes"

// hookReceiver is a webhook endpoint that checks signatures: the Standard
// Webhooks headers, as docs/api.md tells receivers to, and the deprecated
// X-Ctibridge-Signature.
type hookReceiver struct {
	mu     sync.Mutex
	events []adapter.Event
	bad    int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if webhook.Verify([][]byte{[]byte(hookSecret)}, r.Header, body, time.Now()) != nil ||
		!webhook.LegacyVerify(hookSecret, body, r.Header.Get(webhook.LegacySignatureHeader)) {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var e adapter.Event
	_ = json.Unmarshal(body, &e)
	if r.Header.Get(webhook.IDHeader) != strconv.FormatInt(e.Seq, 10) {
		h.bad++ // the delivery's id is the event's
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.events = append(h.events, e)
}

// TestDaemonScenario starts the real daemon against the local org over
// real HTTP and drives the seeds' stories through the API only.
func TestDaemonScenario(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	orgSrv := httptest.NewServer(org)
	defer orgSrv.Close()
	hooks := &hookReceiver{}
	hookSrv := httptest.NewServer(hooks)
	defer hookSrv.Close()

	log, lw := jsonLog()
	log.SetLevel(logrus.DebugLevel)

	cfg := scenarioConfig(t, orgSrv.URL, hookSrv.URL)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	c := &client{t: t, base: d.url()}
	alice := c.follow(ctx, "alice")

	bySubject := func(who, subject string) map[string]any {
		_, out := c.do(who, "GET", "/api/v1/interactions", nil)
		for _, i := range out["interactions"].([]any) {
			if i := i.(map[string]any); i["subject"] == subject {
				return i
			}
		}
		return nil
	}
	caseRecord := func(subject string) sim.Record {
		for _, r := range org.Records("Case") {
			if r["Subject"] == subject {
				return r
			}
		}
		return nil
	}

	c.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	eventually(t, "the refund case connects to alice", func() bool {
		i := bySubject("alice", "Refund for order 1138")
		return i != nil && i["status"] == "connected"
	})
	refund := bySubject("alice", "Refund for order 1138")["id"].(string)

	t.Run("defer with a past due date is refused", func(t *testing.T) {
		status, p := c.do("alice", "POST", "/api/v1/interactions/"+refund+"/defer",
			map[string]any{"due_by": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)})
		require.Equal(t, 422, status)
		require.Equal(t, "due_by_in_past", p["code"])
	})

	t.Run("defer to the future: the Case shows pending, and at the due time it reopens", func(t *testing.T) {
		due := time.Now().Add(1500 * time.Millisecond).UTC()
		got := c.ok("alice", "PATCH", "/api/v1/interactions/"+refund, map[string]any{"status": "pending", "due_by": due.Format(time.RFC3339Nano)})
		require.Equal(t, "deferred", got["status"])
		eventually(t, "the Case shows On Hold", func() bool {
			r := caseRecord("Refund for order 1138")
			return r["Status"] == "On Hold" && r["Ctibridge_Due_By_Set_Manually__c"] == true
		})
		eventually(t, "interaction.updated with auto_opened_due_to_due_date", func() bool {
			return alice.find(func(e adapter.Event) bool {
				return e.Type == adapter.EventInteractionUpdated && e.Interaction.ID == refund && e.Interaction.AutoOpenedDueToDueDate
			}) != nil
		})
		require.Equal(t, "connected", bySubject("alice", "Refund for order 1138")["status"], "back in alice's Ongoing folder")
		eventually(t, "the Case shows the reopen", func() bool {
			return caseRecord("Refund for order 1138")["Ctibridge_Auto_Opened__c"] == true
		})
	})

	t.Run("a warm transfer nobody accepts fails with timeout; the note stays", func(t *testing.T) {
		c.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
		tr := c.ok("alice", "POST", "/api/v1/interactions/"+refund+"/transfers",
			map[string]any{"target": map[string]string{"agent": "bob"}, "mode": "warm", "note": "Refund approved by finance"})
		c.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
		eventually(t, "transfer.failed", func() bool {
			return alice.find(func(e adapter.Event) bool {
				return e.Type == adapter.EventTransferFailed && e.Transfer.ID == tr["id"]
			}) != nil
		})
		got := c.ok("alice", "GET", "/api/v1/transfers/"+tr["id"].(string), nil)
		require.Equal(t, "failed", got["status"])
		require.Equal(t, "timeout", got["failed_reason"])
		i := c.ok("alice", "GET", "/api/v1/interactions/"+refund, nil)
		require.Equal(t, "Refund approved by finance", i["transfer_note"])
		require.Equal(t, "alice", i["owner"], "the initiator keeps the interaction")
	})

	t.Run("a semi-live transfer is refused", func(t *testing.T) {
		var chat string
		eventually(t, "the chat connects to alice", func() bool {
			i := bySubject("alice", "Chat: Where is my parcel?")
			if i != nil && i["status"] == "connected" {
				chat = i["id"].(string)
			}
			return chat != ""
		})
		status, p := c.do("alice", "POST", "/api/v1/interactions/"+chat+"/transfers",
			map[string]any{"target": map[string]string{"agent": "bob"}, "mode": "cold"})
		require.Equal(t, 409, status)
		require.Equal(t, "action_not_allowed", p["code"])
		require.Contains(t, p["detail"], "semi-live")
	})

	t.Run("release leads to wrap-up, then completed; resume from History writes the audit entry", func(t *testing.T) {
		require.Equal(t, "wrap_up", c.ok("alice", "POST", "/api/v1/interactions/"+refund+"/release", nil)["status"])
		eventually(t, "completed after the wrap-up", func() bool {
			return c.ok("alice", "GET", "/api/v1/interactions/"+refund, nil)["status"] == "completed"
		})
		got := c.ok("alice", "POST", "/api/v1/interactions/"+refund+"/resume", nil)
		require.Equal(t, "connected", got["status"])
		require.Equal(t, "completed", got["resumed_from"])
		audit := c.ok("alice", "GET", "/api/v1/interactions/"+refund, nil)["audit"].([]any)
		last := audit[len(audit)-1].(map[string]any)
		require.Equal(t, "Interaction resumed by an agent", last["message"])
		eventually(t, "the Case and its audit Task in the org", func() bool {
			r := caseRecord("Refund for order 1138")
			if r["Ctibridge_Resumed_From__c"] != "completed" {
				return false
			}
			for _, task := range org.Records("Task") {
				if task["WhatId"] == r["Id"] && task["Description"] == "Interaction resumed by an agent" {
					return true
				}
			}
			return false
		})
	})

	t.Run("webhooks received the signed events in order", func(t *testing.T) {
		eventually(t, "the transfer.failed webhook", func() bool {
			hooks.mu.Lock()
			defer hooks.mu.Unlock()
			for _, e := range hooks.events {
				if e.Type == adapter.EventTransferFailed {
					return true
				}
			}
			return false
		})
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		require.Zero(t, hooks.bad)
		for k := 1; k < len(hooks.events); k++ {
			require.Greater(t, hooks.events[k].Seq, hooks.events[k-1].Seq)
		}
		for _, e := range hooks.events {
			require.Contains(t, []adapter.EventType{adapter.EventInteractionUpdated, adapter.EventTransferFailed}, e.Type)
		}
	})

	t.Run("an admin previews a mapping", func(t *testing.T) {
		got := c.ok("ops", "POST", "/api/v1/admin/mapping/preview", map[string]any{"attributes": map[string]any{"type": "Case"},
			"Id": "500Lz00000000AAAAA", "Subject": "Broken router", "Origin": "Phone", "Type": "Problem", "Priority": "High", "IsClosed": false})
		data, _ := json.Marshal(got)
		require.Contains(t, string(data), `"Broken router"`)
		require.Contains(t, string(data), `"live"`)
		status, p := c.do("ops", "POST", "/api/v1/admin/mapping/preview", map[string]any{"attributes": map[string]any{"type": "Lead"}})
		require.Equal(t, 400, status)
		require.Contains(t, p["detail"], `no mapping for object "Lead"`)
		status, _ = c.do("alice", "POST", "/api/v1/admin/mapping/preview", map[string]any{})
		require.Equal(t, 403, status)
	})

	t.Run("readyz and metrics", func(t *testing.T) {
		res, err := http.Get(d.url() + "/readyz")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
		res, err = http.Get(d.url() + "/metrics")
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, m := range []string{"ctibridge_interactions{", "ctibridge_outbox_rows{", "ctibridge_routing_latency_seconds",
			"ctibridge_crm_calls_total", "ctibridge_http_request_duration_seconds"} {
			require.Contains(t, string(body), m)
		}
	})

	stop()
	require.NoError(t, d.wait())
	for _, secret := range []string{"tok-alice", "tok-bob", "tok-ops", "local-secret", hookSecret} {
		require.NotContains(t, lw.String(), secret, "a secret reached the log")
	}
	require.Contains(t, lw.String(), `"msg":"ctibridge stopped"`)
}

// TestDaemonChecksAgentUsers: run refuses to start when an agent's
// crm_user_id is no User of the org, or an inactive one (the org would
// refuse every writeback naming it as owner), naming the config line; it
// takes a 15-character id as the org spells it.
func TestDaemonChecksAgentUsers(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(sim.DefaultSeed()))
	orgSrv := httptest.NewServer(org)
	defer orgSrv.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)

	cfg := scenarioConfig(t, orgSrv.URL, "http://127.0.0.1:9/hooks")
	cfg.Agents[0].CRMUserID = "005000000000001AAA" // the sample config's old ids: no User of the local org
	cfg.Agents[1].CRMUserID = "005Sd0000000005IAA" // Dana Departed, inactive
	_, err := startDaemon(context.Background(), cfg, daemonOptions{Log: log})
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 2, err.Error())
	require.Regexp(t, `^check the agents' CRM users: .*ctibridge\.yaml:15: agents\[0\]\.crm_user_id: agent alice: `+
		`005000000000001AAA is not a User of the org$`, lines[0])
	require.Regexp(t, `ctibridge\.yaml:16: agents\[1\]\.crm_user_id: agent bob: 005Sd0000000005IAA is an inactive User \(Dana Departed\)$`,
		lines[1])

	cfg = scenarioConfig(t, orgSrv.URL, "http://127.0.0.1:9/hooks")
	cfg.Agents[0].CRMUserID = "005Sd0000000001" // 15 characters
	ctx, stop := context.WithCancel(context.Background())
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	require.Equal(t, "005Sd0000000001IAA", d.engine.Settings().Agents[0].CRMUserID, "as the org spells it")
	stop()
	require.NoError(t, d.wait())
}
