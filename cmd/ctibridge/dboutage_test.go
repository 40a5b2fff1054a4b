package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/config"
)

// TestDaemonDatabaseOutage runs the daemon on PostgreSQL through a proxy,
// and cuts the proxy while alice works: her actions answer 503 with
// Retry-After and a reason she can read, /readyz says the store is
// unreachable, and the log says so once, not once a request. With the
// database back, her next try works, the replica is ready again, and the
// log says the outage ended.
func TestDaemonDatabaseOutage(t *testing.T) {
	proxy := pgtest.NewProxy(t, pgtest.DSN(t))
	cfg := postgresScenario(t, proxy.DSN)
	log, hook := logtest.NewNullLogger()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)
	id := aliceWorksTheRefund(t, &client{t: t, base: d.url()})
	require.Equal(t, 200, readyz(t, d.url()).status)

	proxy.Cut()
	for range 3 {
		res := call(t, d.url(), "alice", "POST", "/api/v1/interactions/"+id+"/release")
		require.Equal(t, 503, res.status, "%s", res.body)
		require.Equal(t, "5", res.header.Get("Retry-After"))
		var p struct{ Code, Detail, Reason string }
		require.NoError(t, json.Unmarshal(res.body, &p))
		require.Equal(t, "unavailable", p.Code)
		require.Equal(t, "the database cannot be reached or written now; retry after Retry-After seconds", p.Detail)
		require.Equal(t, "Your work could not be saved or read just now. Try again in a few seconds.", p.Reason)
		require.NotContains(t, string(res.body), "/.s.PGSQL.", "no address of the database in the answer")
	}
	scrape := metrics(t, d)
	require.Contains(t, scrape, `ctibridge_store_up{access="writes"} 0`)
	require.Contains(t, scrape, `ctibridge_commands_total{command="release",result="unavailable"} 3`)
	// Leases, polls, the writeback, the timers and the scrapes try again
	// meanwhile, each round: quietly, and none takes the outage for
	// another replica holding the poll.
	eventually(t, "a few rounds of trying", func() bool { return proxy.Refused() >= 20 })
	metrics(t, d)
	for _, e := range hook.AllEntries() {
		err, _ := e.Data[logrus.ErrorKey].(error)
		if e.Level <= logrus.WarnLevel && (errors.Is(err, adapter.ErrStoreUnavailable) || strings.Contains(e.Message, "store unavailable")) {
			require.True(t, strings.HasPrefix(e.Message, "store unavailable: "), "logged at %s: %q: %v", e.Level, e.Message, err)
		}
		require.NotEqual(t, "another replica polls the CRM source; standing by", e.Message, "it is the only replica")
	}
	ready := readyz(t, d.url())
	require.Equal(t, 503, ready.status)
	require.Contains(t, string(ready.body), `"store":"unreachable"`)
	var outages []string
	for _, e := range hook.AllEntries() {
		if e.Level <= logrus.ErrorLevel {
			outages = append(outages, e.Message)
		}
	}
	require.NotEmpty(t, outages)
	for _, msg := range outages {
		require.True(t, strings.HasPrefix(msg, "store unavailable: "), "only the outage is logged as an error, not each request: %q", msg)
	}
	require.LessOrEqual(t, len(outages), 2, "once for the reads and once for the writes: %q", outages)

	proxy.Restore()
	eventually(t, "alice's release goes through once the database is back", func() bool {
		return call(t, d.url(), "alice", "POST", "/api/v1/interactions/"+id+"/release").status == 200
	})
	eventually(t, "the replica is ready again", func() bool { return readyz(t, d.url()).status == 200 })
	scrape = metrics(t, d)
	require.Contains(t, scrape, `ctibridge_store_up{access="writes"} 1`)
	require.Contains(t, scrape, `ctibridge_store_up{access="reads"} 1`)
	var back []string
	for _, e := range hook.AllEntries() {
		if strings.HasPrefix(e.Message, "store available again") {
			back = append(back, e.Message)
		}
	}
	require.NotEmpty(t, back, "the end of the outage is logged")
	stop()
	require.NoError(t, d.wait())
}

// answer is an HTTP response, read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request without a body as who and reads the answer.
func call(t *testing.T, base, who, method, path string) answer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer tok-"+who)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{res.StatusCode, res.Header, body}
}

func readyz(t *testing.T, base string) answer {
	t.Helper()
	return call(t, base, "", "GET", "/readyz")
}

// TestPanelBrowserDatabaseOutage runs the demo on PostgreSQL through a
// proxy the test cuts while alice works in her panel. Her Release is
// refused with a sentence that tells her to try again in a moment (not
// that ctibridge restarts, not to call her administrator), and the panel
// says it is reconnecting. Bob, who opens his panel meanwhile, is told
// the panel tries again, and keeps his token. With the database back alice's panel is
// live again and her Release goes through, and bob's signs in by itself.
func TestPanelBrowserDatabaseOutage(t *testing.T) {
	proxy := pgtest.NewProxy(t, pgtest.DSN(t))
	pt := newPanelTest(t, func(c *config.Config) {
		c.Store = config.Store{Driver: config.DriverPostgres, DSN: config.NewSecret(proxy.DSN)}
	})
	alice := pt.page("alice", 400, 600)
	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.acceptCall()
	alice.pick(passwordCase)

	proxy.Cut()
	alice.click(`#detail button[data-action="release"]`)
	alice.waitText("#toast", "Your work could not be saved or read just now. Try again in a few seconds.")
	alice.waitText("#conn.down", "Reconnecting")
	alice.shot("db-outage")
	bob := pt.page("bob", 400, 600)
	bob.do(chromedp.Navigate(bob.base + "/#token=demo-bob"))
	bob.waitText("#signin-error", "ctibridge cannot answer just now. The panel tries again by itself.")
	bob.shot("db-outage-signin")

	proxy.Restore()
	alice.waitLive()
	alice.pick(passwordCase)
	// The reconnected panel loads everything again: a click while it
	// redraws is lost, and alice would click again.
	alice.clickTo(`#detail button[data-action="release"]`, "wrap-up",
		`document.querySelector('#detail .meta').textContent.includes('Wrap-up')`)
	bob.waitText("#me-name", "Bob")
	bob.waitLive()
}
