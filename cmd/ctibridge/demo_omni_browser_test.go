package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/stretchr/testify/require"
)

// TestPanelBrowserOmni: an offer that Salesforce Omni-Channel delivers (an
// AgentWork) shows, in the alert and in the detail, where to answer it
// instead of Accept and Decline; at the softphone's size and a full tab's.
func TestPanelBrowserOmni(t *testing.T) {
	pt, orgURL := omniPanelTest(t, nil)
	for _, size := range []struct {
		name          string
		width, height int64
		subject       string
	}{
		{"softphone", 400, 600, "Omni parcel lost"},
		{"tab", 1280, 800, "Omni wrong size"},
	} {
		alice := pt.page("alice-"+size.name, size.width, size.height)
		alice.signIn("demo-alice", "Alice")
		omniStatus(t, orgURL, "alice@local.test", "Available") // presence follows Omni-Channel in demo --omni
		alice.waitPresence("available")
		orgCreateInQueue(t, orgURL, size.subject)
		alice.waitText(".alert.offer", size.subject)
		alice.waitText(".alert.offer .note.omni", "accept or decline it in the Omni-Channel widget")
		require.Equal(t, "", alice.eval(fmt.Sprintf(`[...document.querySelectorAll('.alert.offer')].
			filter(a => a.textContent.includes(%s)).map(a => a.querySelector('.buttons') ? 'buttons' : '').join('')`,
			jsString(size.subject))), "no Accept or Decline for an AgentWork")
		alice.shot("30-omni-offer")
		alice.pick(size.subject)
		alice.waitText("#detail .note.omni", "Omni-Channel widget")
		alice.shot("31-omni-detail")
		omniStatus(t, orgURL, "alice@local.test", "")
		alice.waitPresence("logged_out")
	}
}

// omniPanelTest starts demo --omni without its story (its config adjusted
// by adjust, if set) and a browser on its panel; it returns the local
// org's URL too.
func omniPanelTest(t *testing.T, adjust func(*config.Config)) (*panelTest, string) {
	var orgURL string
	pt := newPanelTestOn(t, func() (string, string) {
		base, org := startDemoWith(t, demoEnv{Omni: true, Config: adjust})
		orgURL = org
		return base, org
	})
	return pt, orgURL
}

// orgCreateInQueue creates a Case in the org's Support_Omni queue through
// its REST API, as an assignment rule would put it there.
func orgCreateInQueue(t *testing.T, orgURL, subject string) {
	t.Helper()
	org := newOrgClient(t, orgURL)
	var queues struct{ Records []struct{ Id string } }
	org.query("SELECT Id FROM Group WHERE DeveloperName = 'Support_Omni'", &queues)
	require.Len(t, queues.Records, 1)
	org.do("POST", "/sobjects/Case", map[string]any{"Subject": subject, "Origin": "Web", "Type": "Problem",
		"OwnerId": queues.Records[0].Id}, http.StatusCreated)
}

// orgClient calls the local org's REST API as the integration user.
type orgClient struct {
	t          *testing.T
	url, token string
}

func newOrgClient(t *testing.T, orgURL string) *orgClient {
	t.Helper()
	resp, err := http.PostForm(orgURL+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"ctibridge-local"}, "client_secret": {"local-secret"}})
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return &orgClient{t: t, url: orgURL, token: tok.AccessToken}
}

// query runs a SOQL query, decoding its answer into out.
func (c *orgClient) query(soql string, out any) {
	c.t.Helper()
	c.call("GET", "/query?q="+url.QueryEscape(soql), nil, http.StatusOK, out)
}

// do sends body to path under /services/data/v62.0 and expects status.
func (c *orgClient) do(method, path string, body any, status int) {
	c.t.Helper()
	c.call(method, path, body, status, nil)
}

func (c *orgClient) call(method, path string, body any, status int, out any) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, c.url+"/services/data/v62.0"+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	require.Equal(c.t, status, resp.StatusCode, "%s %s", method, path)
	if out != nil {
		require.NoError(c.t, json.NewDecoder(resp.Body).Decode(out))
	}
}

// omniStatus sets a user's status in the org's Omni-Channel widget
// stand-in ("" signs the user out of Omni-Channel).
func omniStatus(t *testing.T, orgURL, user, status string) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"user": user, "status": status})
	require.NoError(t, err)
	res, err := http.Post(orgURL+sim.OmniControlPath, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
}
