package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/stretchr/testify/require"
)

// TestPanelBrowserOmniTransfer: a warm transfer of work routed through
// Omni-Channel reaches its target as an AgentWork. The target's panel says
// to answer it in the Omni-Channel widget (no Accept or Decline), the
// sender's says whom it waits for; accepted there, the work is the
// target's in both panels. At the softphone's size and a full tab's.
func TestPanelBrowserOmniTransfer(t *testing.T) {
	// The demo's 4s to accept a transfer is short for a poll, a writeback
	// and two screenshots in between.
	pt, orgURL := omniPanelTest(t, func(c *config.Config) { c.Timeouts.TransferAccept = config.Duration(time.Minute) })
	for _, size := range []struct {
		name          string
		width, height int64
		subject       string
	}{
		{"softphone", 400, 600, "Omni refund request"},
		{"tab", 1280, 800, "Omni address change"},
	} {
		alice := pt.page("alice-"+size.name, size.width, size.height)
		alice.signIn("demo-alice", "Alice")
		bob := pt.page("bob-"+size.name, size.width, size.height)
		bob.signIn("demo-bob", "Bob")
		omniStatus(t, orgURL, "alice@local.test", "Available")
		alice.waitPresence("available")
		orgCreateInQueue(t, orgURL, size.subject)
		alice.waitText(".alert.offer", size.subject)
		omniWork(t, orgURL, size.subject, "alice", "accept")
		alice.waitNoText(".alerts", size.subject)
		alice.pick(size.subject)

		omniStatus(t, orgURL, "bob@local.test", "Available")
		bob.waitPresence("available")
		alice.startTransfer("Bob", "Wants a refund", false)
		bob.waitText(".alert.request .note.omni", "accept or decline it in the Omni-Channel widget")
		require.Equal(t, "", bob.eval(`[...document.querySelectorAll('.alert.request')].
			map(a => a.querySelector('.buttons') ? 'buttons' : '').join('')`), "no Accept or Decline for an AgentWork")
		bob.waitText(".alert.request", "Wants a refund")
		bob.shot("32-omni-transfer-request")
		alice.waitText("#route-progress", "waiting for Bob to accept in Omni-Channel")
		alice.press(kb.Escape)
		alice.waitGone("#dlg-route[open]")
		alice.waitText(".alert.outgoing", "waiting for Bob to accept in Omni-Channel")
		alice.shot("33-omni-transfer-waiting")

		omniWork(t, orgURL, size.subject, "bob", "accept")
		bob.waitNoText(".alerts", "Transfer request")
		bob.pick(size.subject)
		bob.waitText("#detail", "Wants a refund")
		alice.waitFor("the Case leaves alice's list", `![...document.querySelectorAll('#list .pick .subject')].
			some((s) => s.textContent === `+jsString(size.subject)+`)`)
		omniStatus(t, orgURL, "alice@local.test", "")
		omniStatus(t, orgURL, "bob@local.test", "")
		alice.waitPresence("logged_out")
		bob.waitPresence("logged_out")
	}
}

// omniWork answers, as agent in the org's stand-in for the Omni-Channel
// widget, the AgentWork assigned to agent for the Case with subject, once
// the writeback has created it.
func omniWork(t *testing.T, orgURL, subject, agent, answer string) {
	t.Helper()
	org := newOrgClient(t, orgURL)
	var ids struct {
		Records []struct{ Id string }
	}
	org.query("SELECT Id FROM Case WHERE Subject = '"+subject+"'", &ids)
	require.Len(t, ids.Records, 1, "the Case %q", subject)
	caseID := ids.Records[0].Id
	org.query("SELECT Id FROM User WHERE Username = '"+agent+"@local.test'", &ids)
	require.Len(t, ids.Records, 1, "the user of %s", agent)
	soql := "SELECT Id FROM AgentWork WHERE Status = 'Assigned' AND WorkItemId = '" + caseID +
		"' AND UserId = '" + ids.Records[0].Id + "'"
	deadline := time.Now().Add(20 * time.Second)
	for org.query(soql, &ids); len(ids.Records) == 0; org.query(soql, &ids) {
		if time.Now().After(deadline) {
			t.Fatalf("no AgentWork of %q assigned to %s within 20s", subject, agent)
		}
		time.Sleep(100 * time.Millisecond) // the writeback's batch age; bounded by the deadline
	}
	require.Len(t, ids.Records, 1)
	body, err := json.Marshal(map[string]string{"work_id": ids.Records[0].Id, "answer": answer})
	require.NoError(t, err)
	res, err := http.Post(orgURL+sim.OmniWorkControlPath, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
}
