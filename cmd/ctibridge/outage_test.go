package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// outage serves an org, or, while down, answers every request as
// Salesforce does in an outage.
type outage struct {
	org  http.Handler
	down atomic.Bool
}

func (o *outage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o.down.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `[{"message":"Salesforce is down for maintenance","errorCode":"SERVER_UNAVAILABLE"}]`)
		return
	}
	o.org.ServeHTTP(w, r)
}

// TestDaemonServesWhileSalesforceIsDown: a bridge (re)started during a
// Salesforce outage starts, is ready, and serves its agents from the store;
// the admin status says why it does not sync. When Salesforce is back, it
// connects on its own, polls again and writes back what agents did. An
// outage while it is connected shows in the status and the metric too.
func TestDaemonServesWhileSalesforceIsDown(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	o := &outage{org: org}
	orgSrv := httptest.NewServer(o)
	defer orgSrv.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg := scenarioConfig(t, orgSrv.URL, "http://127.0.0.1:9/hooks")

	// A first run reads the org's Cases into the store.
	ctx, stop := context.WithCancel(context.Background())
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	c := &client{t: t, base: d.url()}
	eventually(t, "the Cases are read, and the poll recorded", func() bool {
		_, out := c.do("ops", "GET", "/api/v1/interactions", nil)
		if len(out["interactions"].([]any)) < 4 {
			return false
		}
		polls, _ := c.ok("ops", "GET", "/api/v1/admin/status", nil)["polls"].([]any)
		return len(polls) > 0 && polls[0].(map[string]any)["last_success"] != nil
	})
	stop()
	require.NoError(t, d.wait())

	// Salesforce goes down; the bridge restarts.
	o.down.Store(true)
	ctx, stop = context.WithCancel(context.Background())
	defer stop()
	d, err = startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err, "run starts without Salesforce")
	c = &client{t: t, base: d.url()}

	res, err := http.Get(d.url() + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode, "ready: it can serve agents")
	status := c.ok("ops", "GET", "/api/v1/admin/status", nil)
	crm := status["crm"].(map[string]any)
	require.Equal(t, "degraded", crm["state"])
	require.Contains(t, crm["reason"], "sign in to the CRM")
	require.NotContains(t, crm["reason"], "local-secret")
	require.NotNil(t, crm["next_attempt"])
	polls := status["polls"].([]any)
	require.NotEmpty(t, polls)
	require.NotNil(t, polls[0].(map[string]any)["last_success"], "the first run's polls, from the store")
	require.Contains(t, metrics(t, d), "ctibridge_crm_connected 0")

	refund := aliceWorksTheRefund(t, c)
	c.ok("alice", "POST", "/api/v1/interactions/"+refund+"/release", nil)
	c.ok("alice", "POST", "/api/v1/interactions/"+refund+"/wrapup/finish", nil)
	outbox := c.ok("ops", "GET", "/api/v1/admin/status", nil)["outbox"].(map[string]any)
	require.Greater(t, outbox["pending"], 0.0, "what alice did waits in the outbox")

	// Salesforce is back: the bridge connects on its own and catches up.
	o.down.Store(false)
	eventually(t, "the bridge connects again", func() bool {
		return c.ok("ops", "GET", "/api/v1/admin/status", nil)["crm"].(map[string]any)["state"] == "connected"
	})
	eventually(t, "the writeback drains", func() bool {
		for _, r := range org.Records("Case") {
			if r["Subject"] == "Refund for order 1138" {
				return r["Status"] == "Closed"
			}
		}
		return false
	})
	require.Contains(t, metrics(t, d), "ctibridge_crm_connected 1")
	require.Contains(t, metrics(t, d), `ctibridge_crm_poll_lag_seconds{source="salesforce:Case"}`)

	// Salesforce goes down while the bridge is connected: the status and
	// the metric say so, the bridge stays ready, and it connects again
	// when Salesforce answers.
	o.down.Store(true)
	eventually(t, "the status says the CRM is down", func() bool {
		crm := c.ok("ops", "GET", "/api/v1/admin/status", nil)["crm"].(map[string]any)
		reason, _ := crm["reason"].(string)
		return crm["state"] == "degraded" && strings.Contains(reason, "the CRM did not answer")
	})
	require.Contains(t, metrics(t, d), "ctibridge_crm_connected 0")
	res, err = http.Get(d.url() + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode, "still ready: agents are served from the store")
	o.down.Store(false)
	eventually(t, "connected again", func() bool {
		return c.ok("ops", "GET", "/api/v1/admin/status", nil)["crm"].(map[string]any)["state"] == "connected"
	})
	require.Contains(t, metrics(t, d), "ctibridge_crm_connected 1")
	stop()
	require.NoError(t, d.wait())
}

// TestDaemonOrgMismatchFoundLater: a bridge that started while Salesforce
// was down finds, once it can look, that the org lacks a field its mapping
// names: it keeps serving agents and does not sync, and says why, with
// the mapping's line.
func TestDaemonOrgMismatchFoundLater(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	o := &outage{org: org}
	o.down.Store(true)
	orgSrv := httptest.NewServer(o)
	defer orgSrv.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg := scenarioConfig(t, orgSrv.URL, "http://127.0.0.1:9/hooks")
	// The Case mapping writes the resumed_from field to one the org lacks.
	yaml, err := os.ReadFile(cfg.File)
	require.NoError(t, err)
	yaml = bytes.ReplaceAll(yaml, []byte("Ctibridge_Resumed_From__c"), []byte("Ctibridge_Nonexistent__c"))
	require.NoError(t, os.WriteFile(cfg.File, yaml, 0o600))
	cfg, err = config.Load(cfg.File)
	require.NoError(t, err)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	c := &client{t: t, base: d.url()}
	o.down.Store(false)
	eventually(t, "the org is checked", func() bool {
		crm := c.ok("ops", "GET", "/api/v1/admin/status", nil)["crm"].(map[string]any)
		reason, _ := crm["reason"].(string)
		return strings.Contains(reason, "check mappings against the CRM")
	})
	crm := c.ok("ops", "GET", "/api/v1/admin/status", nil)["crm"].(map[string]any)
	require.Equal(t, "degraded", crm["state"])
	require.Contains(t, crm["reason"], "Ctibridge_Nonexistent__c")
	require.Regexp(t, `ctibridge\.yaml:\d+`, crm["reason"], "names the mapping's line")
	polls := c.ok("ops", "GET", "/api/v1/admin/status", nil)["polls"].([]any)
	require.Nil(t, polls[0].(map[string]any)["last_success"], "nothing polled")
	res, err := http.Get(d.url() + "/readyz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	stop()
	require.NoError(t, d.wait())
}

// aliceWorksTheRefund makes alice available and returns the ID of the
// demo's refund Case once she works it.
func aliceWorksTheRefund(t *testing.T, c *client) string {
	t.Helper()
	c.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	var refund string
	eventually(t, "alice works the refund", func() bool {
		_, out := c.do("alice", "GET", "/api/v1/interactions", nil)
		for _, i := range out["interactions"].([]any) {
			if i := i.(map[string]any); i["subject"] == "Refund for order 1138" && i["status"] == "connected" {
				refund = i["id"].(string)
			}
		}
		return refund != ""
	})
	return refund
}

// metrics scrapes the daemon's /metrics.
func metrics(t *testing.T, d *daemon) string {
	t.Helper()
	res, err := http.Get(d.url() + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(body)
}

// slowOrg serves an org, holding back the answer to a composite call that
// writes alice's release by delay once it is set, and saying when such a
// call arrives and how many did.
type slowOrg struct {
	org     http.Handler
	delay   atomic.Int64 // nanoseconds
	calls   atomic.Int64
	arrived chan struct{}
}

func (o *slowOrg) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	// A composite call that writes the release's audit Task.
	release := strings.HasSuffix(r.URL.Path, "/composite") && bytes.Contains(body, []byte("Released by alice"))
	if d := time.Duration(o.delay.Load()); d > 0 && release {
		o.calls.Add(1)
		select {
		case o.arrived <- struct{}{}:
		default:
		}
		time.Sleep(d)
	}
	o.org.ServeHTTP(w, r)
}

// TestShutdownFinishesTheCallInFlight: a stop (SIGTERM) while the writer
// waits for Salesforce's answer to a call lets the call finish within the
// shutdown timeout: what it wrote is settled as written, not cut short and
// sent again, nor left in the outbox.
func TestShutdownFinishesTheCallInFlight(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	slow := &slowOrg{org: org, arrived: make(chan struct{}, 1)}
	orgSrv := httptest.NewServer(slow)
	defer orgSrv.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg := scenarioConfig(t, orgSrv.URL, "http://127.0.0.1:9/hooks")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	c := &client{t: t, base: d.url()}
	refund := aliceWorksTheRefund(t, c)
	eventually(t, "the outbox drains", func() bool {
		return c.ok("ops", "GET", "/api/v1/admin/status", nil)["outbox"].(map[string]any)["pending"] == 0.0
	})

	slow.delay.Store(int64(time.Second))
	c.ok("alice", "POST", "/api/v1/interactions/"+refund+"/release", nil)
	<-slow.arrived // the release's call is on its way
	stop()
	require.NoError(t, d.wait())
	require.Equal(t, int64(1), slow.calls.Load(), "the release is written in one call: not cut short and sent again")

	s, err := sqlite.Open(cfg.Store.DSN.Reveal())
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.View(context.Background(), func(tx adapter.Tx) error {
		for _, state := range []adapter.OutboxState{adapter.OutboxPending, adapter.OutboxInFlight} {
			rows, err := tx.Outbox(state, 10)
			require.NoError(t, err)
			require.Empty(t, rows, "%s: the call finished, and its rows are settled", state)
		}
		return nil
	}))
}
