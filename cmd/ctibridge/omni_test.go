package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// omniBlock turns the presence mirror on, with the demo's map.
const omniBlock = `  salesforce:
    login_url: %s
    auth: client_credentials
    client_id: ctibridge-local
    client_secret: local-secret
    omni:
      presence:
        enabled: true
        map: {Available: available, Busy_Voice: available, Busy: busy, %s: busy}
        media:
          Busy_Voice: {live: busy}
`

// omniConfig is scenarioConfig with the presence mirror on; away names
// the status mapped to busy besides Busy (the org's is Away).
func omniConfig(t *testing.T, orgURL, away string) *config.Config {
	t.Helper()
	cfg := scenarioConfig(t, orgURL, "http://127.0.0.1:9/hooks")
	data, err := os.ReadFile(cfg.File)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg.File, withOmni(data, orgURL, away), 0o600))
	cfg, err = config.Load(cfg.File)
	require.NoError(t, err)
	require.True(t, cfg.CRM.Salesforce.Omni.Presence.Enabled)
	return cfg
}

// withOmni is scenarioConfig's file with omniBlock for its salesforce line.
func withOmni(yaml []byte, orgURL, away string) []byte {
	var out []string
	for _, line := range strings.Split(string(yaml), "\n") {
		if strings.HasPrefix(line, "  salesforce: {") {
			line = strings.TrimSuffix(fmt.Sprintf(omniBlock, orgURL, away), "\n")
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}

// TestPresenceFollowsOmni starts the daemon with the presence mirror on,
// against the local org over HTTP: what bob sets in the Omni-Channel
// widget (the org's control endpoint) reaches his event stream and his
// presence, per media type; he cannot set it in ctibridge; each change is
// logged as coming from Omni-Channel.
func TestPresenceFollowsOmni(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	orgSrv := httptest.NewServer(org)
	defer orgSrv.Close()
	require.NoError(t, org.OmniStatus("bob@local.test", "Available"))

	log, logs := jsonLog()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := startDaemon(ctx, omniConfig(t, orgSrv.URL, "Away"), daemonOptions{Log: log})
	require.NoError(t, err)
	c := &client{t: t, base: d.url()}
	bob := c.follow(ctx, "bob")

	eventually(t, "bob is available, as in Omni-Channel", func() bool {
		return c.ok("bob", "GET", "/api/v1/me", nil)["presence"] == "available"
	})
	me := c.ok("bob", "GET", "/api/v1/me", nil)
	require.Equal(t, "omni", me["presence_source"])
	require.Equal(t, "logged_out", c.ok("alice", "GET", "/api/v1/me", nil)["presence"], "alice is not signed in to Omni-Channel")

	omni := func(user, status string) {
		t.Helper()
		res, err := orgSrv.Client().Post(orgSrv.URL+sim.OmniControlPath, "application/json",
			strings.NewReader(`{"user": "`+user+`", "status": "`+status+`"}`))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		require.Equal(t, 204, res.StatusCode)
	}
	fromOmni := func(presence, status string) func(adapter.Event) bool {
		return func(e adapter.Event) bool {
			return e.Type == adapter.EventAgentPresence && e.Agent != nil && e.Agent.ID == "bob" &&
				string(e.Agent.Presence) == presence && e.Agent.CRMStatus == status && e.Agent.Source == adapter.PresenceFromOmni
		}
	}

	t.Run("a change in Omni-Channel reaches bob's stream", func(t *testing.T) {
		omni("bob@local.test", "Away")
		eventually(t, "agent.presence busy from Omni-Channel", func() bool { return bob.find(fromOmni("busy", "Away")) != nil })
		require.Equal(t, "busy", c.ok("bob", "GET", "/api/v1/me", nil)["presence"])
	})

	t.Run("busy on voice: available, but no new calls", func(t *testing.T) {
		omni("bob@local.test", "Busy_Voice")
		eventually(t, "agent.presence available, busy for live", func() bool { return bob.find(fromOmni("available", "Busy_Voice")) != nil })
		e := bob.find(fromOmni("available", "Busy_Voice"))
		require.Equal(t, "live", string(e.Agent.BusyMedia[0]))
		capacity := c.ok("bob", "GET", "/api/v1/me", nil)["capacity"].(map[string]any)
		require.Equal(t, float64(0), capacity["live"])
		require.Equal(t, float64(3), capacity["semi-live"], "the configured capacity")
	})

	t.Run("bob cannot change his presence in ctibridge", func(t *testing.T) {
		status, p := c.do("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "logged_out"})
		require.Equal(t, 409, status)
		require.Equal(t, "presence_follows_crm", p["code"])
		require.Equal(t, "presence follows Omni-Channel in Salesforce: change it there", p["detail"])
		require.Equal(t, "available", c.ok("bob", "GET", "/api/v1/me", nil)["presence"])
	})

	t.Run("signed out of Omni-Channel: logged out", func(t *testing.T) {
		omni("bob@local.test", "")
		eventually(t, "agent.presence logged_out", func() bool { return bob.find(fromOmni("logged_out", "")) != nil })
		require.Equal(t, "logged_out", c.ok("bob", "GET", "/api/v1/me", nil)["presence"])
	})

	t.Run("each change is logged as from Omni-Channel", func(t *testing.T) {
		var lines []string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"msg":"presence from Omni-Channel"`) && strings.Contains(line, `"agent":"bob"`) {
				lines = append(lines, line)
			}
		}
		require.Len(t, lines, 4, "available at start, busy, available busy on voice, logged out")
		require.Contains(t, lines[1], `"status":"Away"`)
	})
	stop()
	require.NoError(t, d.wait())
}

// TestDaemonChecksPresenceStatuses: a status of the map the org does not
// have (a typo) stops the start, naming where the config has it.
func TestDaemonChecksPresenceStatuses(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	orgSrv := httptest.NewServer(org)
	defer orgSrv.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	_, err := startDaemon(context.Background(), omniConfig(t, orgSrv.URL, "Awya"), daemonOptions{Log: log})
	require.Error(t, err)
	require.Regexp(t, `^check crm\.salesforce\.omni\.presence against the CRM: .*ctibridge\.yaml:\d+: `+
		`crm\.salesforce\.omni\.presence\.map\.Awya: "Awya" is not a presence status \(DeveloperName\) of the org `+
		`\(it has Available, Away, Busy, Busy_Voice\)$`, err.Error())
}

// TestReloadTurnsOmniPresenceOn: the presence mirror is no connection
// setting, so a reload turns it on (and off): agents' presence then
// follows Omni-Channel, and off again they set it themselves.
func TestReloadTurnsOmniPresenceOn(t *testing.T) {
	org := sim.New(sim.Options{})
	require.NoError(t, org.Seed(demoRecords()))
	orgSrv := httptest.NewServer(org)
	defer orgSrv.Close()
	require.NoError(t, org.OmniStatus("bob@local.test", "Away"))
	log := logrus.New()
	log.SetOutput(io.Discard)

	cfg := scenarioConfig(t, orgSrv.URL, "http://127.0.0.1:9/hooks")
	plainYAML, err := os.ReadFile(cfg.File)
	require.NoError(t, err)
	omniYAML := withOmni(plainYAML, orgSrv.URL, "Away")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	c := &client{t: t, base: d.url()}
	c.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})

	require.NoError(t, os.WriteFile(cfg.File, omniYAML, 0o600))
	require.NoError(t, d.reload(ctx))
	eventually(t, "bob busy, as Omni-Channel says", func() bool {
		return c.ok("bob", "GET", "/api/v1/me", nil)["presence"] == "busy"
	})
	status, _ := c.do("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	require.Equal(t, 409, status)

	require.NoError(t, os.WriteFile(cfg.File, plainYAML, 0o600))
	require.NoError(t, d.reload(ctx))
	_, follows := c.ok("bob", "GET", "/api/v1/me", nil)["presence_source"]
	require.False(t, follows)
	c.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	stop()
	require.NoError(t, d.wait())
}
