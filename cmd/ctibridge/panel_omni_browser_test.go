package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// TestPanelBrowserOmniPresence: with presence following Omni-Channel, the
// panel's presence selector is disabled and says why, at 400x600 and at
// 1280x800, and shows what bob sets in the org's Omni-Channel widget
// stand-in; a status busy for calls hides the calls' capacity.
func TestPanelBrowserOmniPresence(t *testing.T) {
	pt := newPanelTest(t, func(c *config.Config) { c.CRM.Salesforce.Omni.Presence = demoOmniPresence() })
	omni := func(user, status string) {
		t.Helper()
		res, err := http.Post(pt.org+sim.OmniControlPath, "application/json",
			strings.NewReader(`{"user": "`+user+`", "status": "`+status+`"}`))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusNoContent, res.StatusCode)
	}
	const why = "Your presence follows your Omni-Channel status in Salesforce: change it there."
	fits := `(() => { const r = document.getElementById('presence-source').getBoundingClientRect();
		return r.left >= 0 && r.right <= window.innerWidth && r.height > 0; })()`

	bob := pt.page("bob", 400, 600)
	bob.signIn("demo-bob", "Bob")
	bob.waitFor("the presence selector disabled", `document.getElementById('presence').disabled`)
	bob.waitText("#presence-source", why)
	require.Equal(t, "logged_out", bob.eval(`document.getElementById('presence').value`), "not signed in to Omni-Channel")
	require.Equal(t, why, bob.eval(`document.getElementById('presence').title`))
	require.Equal(t, "presence-source", bob.eval(`document.getElementById('presence').getAttribute('aria-describedby')`))

	omni("bob@local.test", "Available")
	bob.waitFor("bob available", `document.getElementById('presence').value === 'available'`)
	bob.waitText("#load", "Calls")
	omni("bob@local.test", "Busy_Voice")
	bob.waitNoText("#load", "Calls")
	require.Equal(t, "available", bob.eval(`document.getElementById('presence').value`))
	bob.waitFor("the reason fits at 400x600", fits)
	bob.shot("omni-presence-400")

	alice := pt.page("alice", 1280, 800)
	alice.signIn("demo-alice", "Alice")
	alice.waitFor("the presence selector disabled", `document.getElementById('presence').disabled`)
	alice.waitText("#presence-source", why)
	alice.waitFor("the reason fits at 1280x800", fits)
	omni("alice@local.test", "Away")
	alice.waitFor("alice busy", `document.getElementById('presence').value === 'busy'`)
	alice.shot("omni-presence-1280")
}
