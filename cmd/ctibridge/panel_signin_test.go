package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// TestDemoUsersAreTheAgents: the Salesforce users the demo prints are the
// org users whose ids are the agents' crm_user_id in demo.yaml.
func TestDemoUsersAreTheAgents(t *testing.T) {
	cfg, err := config.Parse("demo.yaml", demoConfig)
	require.NoError(t, err)
	require.True(t, cfg.Panel.SignIn.Enabled(), "the demo signs agents in with the local org")
	users := map[string]string{}
	for _, r := range sim.DefaultSeed() {
		if r["attributes"].(map[string]any)["type"] == "User" {
			users[r["Username"].(string)] = r["Id"].(string)
		}
	}
	for _, u := range demoUsers {
		var crmUser string
		for _, a := range cfg.Agents {
			if a.ID == u.Agent {
				crmUser = a.CRMUserID
			}
		}
		require.NotEmpty(t, crmUser, u.Agent)
		require.Equal(t, crmUser, users[u.Username], "%s signs in as %s", u.Agent, u.Username)
	}
}

// sessionCookie returns the panel's session cookie in the page's browser
// context, nil if there is none.
func (p *browserPage) sessionCookie() *network.Cookie {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{p.base + "/"}})
	})
	require.NoError(p.t, err)
	for _, c := range res.Cookies {
		if c.Name == "ctibridge_session" {
			return c
		}
	}
	return nil
}

// meWithCookie calls GET /api/v1/me with the session cookie value alone.
func meWithCookie(t *testing.T, base, value string) int {
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "ctibridge_session", Value: value})
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

// orgLogin fills the local org's login page and logs in, then waits for
// the next page to load.
func (p *browserPage) orgLogin(username, password string) {
	p.t.Helper()
	p.orgSubmit(username, password)
	p.waitNewPage()
}

// orgSubmit fills the local org's login page and logs in.
func (p *browserPage) orgSubmit(username, password string) {
	p.t.Helper()
	p.waitNavigated("/services/oauth2/authorize")
	p.waitVisible("#username")
	p.do(chromedp.SendKeys(chromedp.ID("username"), username), chromedp.SendKeys(chromedp.ID("password"), password))
	p.eval(`window.ctibridgeOldPage = true; ''`)
	p.click("#Login")
}

// waitNewPage waits until the page marked with ctibridgeOldPage gave way
// to a loaded new one (after a submit or a redirect).
func (p *browserPage) waitNewPage() {
	p.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, time.Second)
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(window.ctibridgeOldPage ? 'old ' : 'new ') + document.readyState`))
		cancel()
		if err == nil && state == "new complete" {
			return
		}
		if time.Now().After(deadline) {
			p.fail("no new page loaded (%q, %v)", state, err)
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded by the deadline
	}
}

// waitNavigated waits until the page's address holds path and its
// document is loaded: polling the document while it is replaced fails.
func (p *browserPage) waitNavigated(path string) {
	p.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, time.Second)
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + ' ' + document.readyState`))
		cancel()
		if err == nil && state == path+" complete" {
			return
		}
		if time.Now().After(deadline) {
			p.fail("the page did not load %s (at %q, %v)", path, state, err)
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded by the deadline
	}
}

// TestPanelBrowserSignInTab: in a tab of its own, at softphone size and in
// a full tab, alice clicks "Sign in with Salesforce", logs in on the local
// org's page, lands in the panel signed in by an HttpOnly cookie, changes
// her presence, signs out, and the session no longer works anywhere.
func TestPanelBrowserSignInTab(t *testing.T) {
	pt := newPanelTest(t, nil)
	for _, size := range [][2]int64{{400, 600}, {1280, 800}} {
		name := fmt.Sprintf("alice-%dx%d", size[0], size[1])
		t.Run(name, func(t *testing.T) {
			sub := *pt
			sub.t = t
			p := sub.page(name, size[0], size[1])
			p.do(chromedp.Navigate(pt.base + "/"))
			p.waitVisible("#signin-sf")
			p.waitFocus("#signin-sf")
			p.waitFor("the token field behind its disclosure", `!document.getElementById('signin-token-box').open`)
			p.shot("signin-salesforce")
			p.click("#signin-sf")

			p.orgLogin("alice@local.test", "wrong-password")
			p.waitText("#error", "check your username and password")
			p.do(chromedp.Clear(chromedp.ID("username")))
			p.orgLogin("alice@local.test", "alice-password")

			p.waitNavigated("/")
			p.waitText("#me-name", "Alice")
			p.waitLive()
			require.Empty(t, p.token(), "no API token in the page")
			require.NotContains(t, p.eval(`document.cookie`), "ctibridge_session", "the cookie is HttpOnly")
			cookie := p.sessionCookie()
			require.NotNil(t, cookie)
			require.True(t, cookie.HTTPOnly)
			require.Equal(t, network.CookieSameSiteLax, cookie.SameSite)
			p.shot("signed-in-salesforce")

			// An action: presence through the cookie and the CSRF header.
			p.choose("#presence", "available")
			waitPresenceOf(t, pt.base, "demo-alice", "available")

			p.click("#signout")
			p.waitVisible("#signin-sf")
			// The panel shows the sign-in at once; the sign-out request ends a moment later.
			require.Eventually(t, func() bool { return p.sessionCookie() == nil }, stepTimeout, 50*time.Millisecond, "sign-out deletes the cookie")
			require.Equal(t, http.StatusUnauthorized, meWithCookie(t, pt.base, cookie.Value), "and revokes the session")
			require.NoError(t, apiCall(pt.base, "demo-alice", "PUT", "/me/presence", map[string]string{"presence": "logged_out"}, nil))
		})
	}
}

// TestPanelBrowserSignInPopup: the panel framed by a page of another
// origin (listed in panel.frame_ancestors), as in the Salesforce console:
// "Sign in with Salesforce" opens a popup with the org's login page, the
// popup hands its ticket to the framed panel and closes, and the panel is
// signed in by a cookie of its own context; sign-out ends the session.
func TestPanelBrowserSignInPopup(t *testing.T) {
	var base atomic.Value
	console := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Console</title><body style="margin:0"><main>`+
			`<h1 style="position:absolute;width:1px;height:1px;overflow:hidden">Console</h1>`+
			`<iframe id="softphone" title="Softphone" src="%s/" style="border:0;width:100vw;height:100vh"></iframe></main></body></html>`, base.Load())
	}))
	t.Cleanup(console.Close)
	pt := newPanelTest(t, func(c *config.Config) { c.Panel.FrameAncestors = []string{console.URL} })
	base.Store(pt.base)

	for _, size := range [][2]int64{{400, 600}, {1280, 800}} {
		name := fmt.Sprintf("bob-framed-%dx%d", size[0], size[1])
		t.Run(name, func(t *testing.T) {
			sub := *pt
			sub.t = t
			p := sub.page(name, size[0], size[1])
			p.do(chromedp.Navigate(console.URL + "/"))
			frame := p.inFrame("#softphone")
			frame.waitVisible("#signin-sf")

			popups := chromedp.WaitNewTarget(p.ctx, func(info *target.Info) bool {
				return strings.Contains(info.URL, "/services/oauth2/authorize")
			})
			frame.click("#signin-sf")
			var popupID target.ID
			select {
			case popupID = <-popups:
			case <-time.After(stepTimeout):
				p.fail("no sign-in popup opened")
			}
			popupCtx, cancel := chromedp.NewContext(p.ctx, chromedp.WithTargetID(popupID))
			defer cancel()
			require.NoError(t, chromedp.Do(popupCtx)) // attach, without a timeout: it lasts as long as popupCtx
			popup := &browserPage{t: t, ctx: popupCtx, name: name + "-popup", out: pt.out, base: pt.base}
			popup.shot("signin-popup")
			popup.orgSubmit("bob@local.test", "bob-password") // the popup closes once it handed its ticket over

			frame.waitText("#me-name", "Bob")
			frame.waitFor("live updates", `document.getElementById('conn').classList.contains('ok')`)
			p.shot("signed-in-framed")
			cookie := p.sessionCookie()
			require.NotNil(t, cookie, "the frame's context holds the session")

			frame.choose("#presence", "available")
			waitPresenceOf(t, pt.base, "demo-bob", "available")

			frame.click("#signout")
			frame.waitVisible("#signin-sf")
			// The panel shows the sign-in at once; the sign-out request ends a moment later.
			require.Eventually(t, func() bool { return meWithCookie(t, pt.base, cookie.Value) == http.StatusUnauthorized },
				stepTimeout, 50*time.Millisecond, "sign-out revokes the session")
			require.NoError(t, apiCall(pt.base, "demo-bob", "PUT", "/me/presence", map[string]string{"presence": "logged_out"}, nil))
		})
	}
}

// waitPresenceOf waits until the API reports the token's agent's presence.
func waitPresenceOf(t *testing.T, base, token, want string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		var me struct{ Presence string }
		_ = apiCall(base, token, "GET", "/me", nil, &me)
		if me.Presence == want {
			return
		}
		require.False(t, time.Now().After(deadline), "presence is %q, want %q", me.Presence, want)
		time.Sleep(50 * time.Millisecond) // polling, bounded by the deadline
	}
}

// framePage acts on the document inside an iframe of a page.
type framePage struct {
	p   *browserPage
	sel string
}

func (p *browserPage) inFrame(sel string) *framePage {
	p.waitVisible(sel)
	return &framePage{p: p, sel: sel}
}

// node returns the iframe element's node.
func (f *framePage) node() *chromedp.Node {
	ctx, cancel := context.WithTimeout(f.p.ctx, stepTimeout)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(f.sel)))
	require.NoError(f.p.t, err)
	return nodes[0]
}

// waitFor waits until the JavaScript condition holds in the frame's document.
func (f *framePage) waitFor(what, condition string) {
	f.p.t.Helper()
	ctx, cancel := context.WithTimeout(f.p.ctx, stepTimeout+time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](condition,
		chromedp.WithPollingInFrame(f.node()), chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		f.p.fail("framed panel: %s: %v", what, err)
	}
}

// eval returns the string value of js, which must be truthy, in the frame.
func (f *framePage) eval(js string) string {
	f.p.t.Helper()
	ctx, cancel := context.WithTimeout(f.p.ctx, stepTimeout+time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[string](js, chromedp.WithPollingInFrame(f.node()), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		f.p.fail("framed panel: evaluate: %v", err)
	}
	return v
}

func (f *framePage) waitVisible(sel string) {
	f.p.t.Helper()
	f.waitFor(sel+" visible", `(() => { const e = document.querySelector(`+jsString(sel)+`); return !!e && e.offsetParent !== null; })()`)
}

func (f *framePage) waitText(sel, text string) {
	f.p.t.Helper()
	f.waitFor(sel+" shows "+text, `(document.querySelector(`+jsString(sel)+`) || {textContent: ''}).textContent.includes(`+jsString(text)+`)`)
}

// click clicks the middle of sel in the frame with the mouse, a user
// gesture (the popup it opens is not blocked). The frame fills the page
// from its top left corner.
func (f *framePage) click(sel string) {
	f.p.t.Helper()
	f.waitVisible(sel)
	var x, y float64
	_, err := fmt.Sscanf(f.eval(`(() => { const r = document.querySelector(`+jsString(sel)+`).getBoundingClientRect();
		return (r.left + r.width / 2) + ' ' + (r.top + r.height / 2); })()`), "%g %g", &x, &y)
	require.NoError(f.p.t, err)
	f.p.do(chromedp.MouseClickXY(x, y))
}

// choose picks value in the select sel, as the agent would.
func (f *framePage) choose(sel, value string) {
	f.p.t.Helper()
	f.waitVisible(sel)
	f.eval(`(() => { const e = document.querySelector(` + jsString(sel) + `); e.value = ` + jsString(value) + `;
		e.dispatchEvent(new Event('change', {bubbles: true})); return 'ok'; })()`)
}
