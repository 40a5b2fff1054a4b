package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/contactpad"
)

// axeEnv names the file of axe-core's axe.min.js, which .ci/run installs
// from npm (pinned) before the tests; nothing is downloaded while they run.
const axeEnv = "CTIBRIDGE_TEST_AXE_JS"

// axeTags are the rule sets every panel state must pass: WCAG 2.0, 2.1
// and 2.2 at levels A and AA, and axe's best practices.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"}

var axeScript struct {
	once   sync.Once
	source string
	err    error
}

// loadAxe reads axe.min.js from $CTIBRIDGE_TEST_AXE_JS, once per test
// binary. It returns "" when the variable is unset; a variable that names
// no readable file is an error.
func loadAxe() (string, error) {
	axeScript.once.Do(func() {
		path := os.Getenv(axeEnv)
		if path == "" {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			axeScript.err = fmt.Errorf("%s: %w", axeEnv, err)
			return
		}
		if !strings.Contains(string(b[:min(len(b), 4096)]), "axe") {
			axeScript.err = fmt.Errorf("%s=%s: not axe-core's axe.min.js", axeEnv, path)
			return
		}
		axeScript.source = string(b)
	})
	return axeScript.source, axeScript.err
}

// axeMissing reports why axe-core cannot run: a failure under CI, which
// must check accessibility, and a loud note elsewhere.
func axeMissing(t *testing.T, err error) string {
	t.Helper()
	why := fmt.Sprintf("%s is unset", axeEnv)
	if err != nil {
		why = err.Error()
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("axe-core: %s, and CI must check the panel's accessibility (.ci/run installs axe-core from npm)", why)
	}
	return fmt.Sprintf("!!! axe-core accessibility checks SKIPPED: %s. Install it with "+
		"`npm install --no-save --prefix DIR axe-core@4.14.1` and set %s=DIR/node_modules/axe-core/axe.min.js. !!!", why, axeEnv)
}

// requireAxe skips a test that is about accessibility alone when axe-core
// is not installed (fails it under CI).
func requireAxe(t *testing.T) {
	t.Helper()
	if src, err := loadAxe(); src == "" {
		t.Skip(axeMissing(t, err))
	}
}

var axeSkipNoted sync.Map // test name -> noted

// axeViolation is the part of an axe-core result a failure report needs.
type axeViolation struct {
	ID     string
	Impact string
	Help   string
	Nodes  []struct {
		Target  []any
		Summary string
	}
}

// checkAxe runs axe-core on the page of ctx as it is now (state names it
// in the report) and fails the test with every violation of the WCAG 2.x
// A/AA and best-practice rules: rule, impact, the elements, and what to
// fix. The page must have zero. Without axe-core (outside CI) it notes
// once per test that the check was skipped, and the test goes on: a
// browser test's other checks are worth running without it.
func checkAxe(t *testing.T, ctx context.Context, state string) {
	t.Helper()
	src, err := loadAxe()
	if src == "" {
		msg := axeMissing(t, err)
		if _, noted := axeSkipNoted.LoadOrStore(t.Name(), true); !noted {
			t.Log(msg)
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err == nil && !loaded {
		// The script defines window.axe; the panel's CSP does not apply to
		// what DevTools evaluates.
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src+"\n;undefined"))
	}
	if err != nil {
		t.Fatalf("axe-core, %s: injecting axe.min.js: %v", state, err)
	}
	tags, _ := json.Marshal(axeTags)
	// iframes: false: axe checks the document it was injected into; a
	// frame of another origin (the framed panel) would get axe's messages
	// with the wrong target origin, which the browser reports.
	js := fmt.Sprintf(`axe.run(document, {runOnly: {type: 'tag', values: %s}, resultTypes: ['violations'], iframes: false})
		.then((r) => JSON.stringify(r.violations.map((v) => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary})),
		}))))`, tags)
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core, %s: axe.run: %v", state, err)
	}
	var violations []axeViolation
	require.NoError(t, json.Unmarshal([]byte(out), &violations), "axe-core, %s: its result", state)
	if len(violations) == 0 {
		return
	}
	var b strings.Builder
	for _, v := range violations {
		fmt.Fprintf(&b, "\n  %s (%s): %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			target, _ := json.Marshal(n.Target)
			fmt.Fprintf(&b, "\n    at %s: %s", target, strings.ReplaceAll(n.Summary, "\n", "; "))
		}
	}
	t.Errorf("axe-core, %s: %d violation(s) of %s:%s", state, len(violations), strings.Join(axeTags, ","), b.String())
}

// axe checks the page with axe-core as it is now, named by state.
func (p *browserPage) axe(state string) {
	p.t.Helper()
	checkAxe(p.t, p.ctx, fmt.Sprintf("%s's page, %s", p.name, state))
}

// The two sizes the panel is checked at: the Open CTI softphone and a
// full tab.
var panelSizes = [][2]int64{{400, 600}, {1280, 800}}

// screenshotsEnv names the folder where TestPanelA11y writes the docs'
// screenshots (docs/img; a relative path is from the repository root);
// unset, it writes none, so that a test run never rewrites the
// repository's files.
const screenshotsEnv = "CTIBRIDGE_SCREENSHOTS"

// screenshotDir is the folder of $CTIBRIDGE_SCREENSHOTS, or "".
func screenshotDir() string {
	dir := os.Getenv(screenshotsEnv)
	if dir != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // the test runs in cmd/ctibridge
	}
	return dir
}

// colorSchemes are the prefers-color-scheme values the panel is checked
// in: a dark theme must pass axe-core's color-contrast as the light one.
var colorSchemes = []string{"light", "dark"}

// emulateColorScheme makes the page's prefers-color-scheme scheme.
func emulateColorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// atBothSizes checks the page with axe-core at each panel size, in the
// light and the dark color scheme; for a state the docs show (shot is its
// file name, "" for none) it saves the light screenshot at each size to
// $CTIBRIDGE_SCREENSHOTS.
func (p *browserPage) atBothSizes(state, shot string) {
	p.t.Helper()
	defer p.do(emulateColorScheme("light"))
	for _, size := range panelSizes {
		for _, scheme := range colorSchemes {
			p.do(chromedp.EmulateViewport(size[0], size[1]), emulateColorScheme(scheme))
			// Let the page lay itself out at the new size.
			ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
			_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](
				`new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))`, chromedp.EvalAwaitPromise))
			cancel()
			require.NoError(p.t, err, "a frame at %dx%d", size[0], size[1])
			p.axe(fmt.Sprintf("%s at %dx%d, %s", state, size[0], size[1], scheme))
			if dir := screenshotDir(); dir != "" && shot != "" && scheme == "light" {
				ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
				png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				cancel()
				require.NoError(p.t, err)
				require.NoError(p.t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("panel-%s-%dx%d.png", shot, size[0], size[1])), png, 0o644))
			}
		}
	}
}

// TestPanelA11y walks alice's panel through the states of an agent's day
// and checks each with axe-core at 400x600 and 1280x800, light and dark: zero violations
// of WCAG 2.x A/AA and axe's best practices. The states: sign-in (and its
// refusal), the empty Ongoing list, an offer, the connected call, the
// transfer directory, a warm transfer waiting, bob's request and decline
// dialog, the declined transfer, a consult ringing, answered and
// connected on both sides, the defer dialog, Deferred, wrap-up, History,
// the abandon dialog, and Reconnecting. With
// $CTIBRIDGE_SCREENSHOTS set (to docs/img) it also saves the screenshots
// of docs/panel.md.
func TestPanelA11y(t *testing.T) {
	requireAxe(t)
	if dir := screenshotDir(); dir != "" {
		require.DirExists(t, dir, "%s names the folder for the screenshots", screenshotsEnv)
	}
	pt := newPanelTest(t, func(c *config.Config) {
		c.Timeouts.WrapUp[contactpad.Live] = config.Duration(time.Minute) // time for the checks
		c.Timeouts.TransferAccept = config.Duration(time.Minute)
	})
	proxy := newCutProxy(t, pt.base)
	alice := pt.page("alice", 400, 600)
	alice.base = proxy.srv.URL

	alice.do(chromedp.Navigate(alice.base + "/"))
	alice.waitFocus("#signin-sf")
	alice.atBothSizes("sign-in with Salesforce", "signin")
	alice.click("#signin-token-box summary")
	alice.click("#signin-token")
	alice.waitFocus("#signin-token")
	alice.atBothSizes("sign-in with a token", "")
	alice.press("demo-nobody" + kb.Enter)
	alice.waitText("#signin-error", "That token is not known to ctibridge.")
	alice.atBothSizes("sign-in refused", "")
	alice.press("demo-alice" + kb.Enter)
	alice.waitText("#me-name", "Alice")
	alice.waitLive()
	alice.waitText("#list", "Nothing ongoing")
	alice.atBothSizes("nothing ongoing", "")

	alice.setPresence("available")
	alice.waitText(".alert.offer", routerCall)
	alice.waitText("#list", refundCase)
	alice.atBothSizes("an offer", "offer")
	alice.acceptCall()
	alice.pick(routerCall)
	alice.waitText("#detail .meta", "Connected")
	alice.atBothSizes("the connected call", "call")

	// A warm transfer of the case to bob: the directory, alice waiting,
	// bob's request and his decline dialog, alice told why.
	bob := pt.page("bob", 400, 600)
	bob.signIn("demo-bob", "Bob")
	bob.setPresence("available")
	alice.pick(refundCase)
	alice.clickOpen(transferButton, "#dlg-route")
	alice.waitText("#route-list", "Billing")
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "Bob"))
	alice.waitText("#route-go", "Transfer to Bob")
	alice.do(chromedp.SendKeys(chromedp.ID("route-note"), "Refund approved by billing"))
	alice.atBothSizes("the transfer directory", "directory")
	alice.click("#route-go")
	alice.waitText("#route-progress", "waiting for Bob to accept")
	alice.atBothSizes("a transfer waiting", "")
	bob.waitText(".alert.request", "Refund approved by billing")
	bob.atBothSizes("a transfer request", "request")
	bob.clickOpen(".alert.request button:not(.primary)", "#dlg-decline")
	bob.do(chromedp.SendKeys(chromedp.ID("decline-reason"), "On a long call"))
	bob.atBothSizes("the decline dialog", "")
	bob.click("#decline-go")
	bob.waitGone(".alert.request")
	alice.waitText("#route-progress", "Bob declined")
	alice.atBothSizes("a transfer declined", "")
	alice.click("#route-close")
	alice.waitGone("#dlg-route[open]")

	// A consult about the chat: bob answers it.
	alice.pick(parcelChat)
	alice.clickOpen(`#detail button[data-action="consult"]:not([aria-disabled])`, "#dlg-route")
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "Bob"))
	alice.waitText("#route-go", "Consult Bob")
	alice.click("#route-go")
	alice.waitGone("#dlg-route[open]")
	alice.waitText("#detail .consult", "ringing")
	alice.atBothSizes("a consult ringing", "")
	bob.waitText(".alert.request", "Alice is consulting you")
	bob.atBothSizes("a consult request", "")
	bob.click(".alert.request button.primary") // Answer
	alice.waitText("#detail .consult", "connected")
	alice.atBothSizes("a consult connected", "")
	bob.waitText(".alert.request", "On consult with Alice")
	bob.atBothSizes("on a consult", "")
	alice.click("#detail .consult button")
	alice.waitGone("#detail .consult")

	alice.pick(refundCase)
	alice.clickOpen(`#detail button[data-action="defer"]:not([aria-disabled])`, "#dlg-defer")
	alice.atBothSizes("the defer dialog", "")
	alice.click(`#defer-presets button[data-preset="tomorrow"]`)
	alice.click("#defer-go")
	alice.waitGone("#dlg-defer[open]")
	alice.openFolder("deferred")
	alice.waitText("#list", refundCase)
	alice.waitText("#detail .meta", "Deferred")
	alice.atBothSizes("Deferred", "deferred")

	alice.openFolder("ongoing")
	alice.pick(routerCall)
	alice.clickTo(`#detail button[data-action="release"]:not([aria-disabled])`, "wrap-up",
		`!!document.querySelector('#detail .timer.wrapup')`)
	alice.waitText("#detail .timer.wrapup", "Wrap-up ends in")
	alice.atBothSizes("wrap-up", "wrapup")
	alice.click(`#detail .timer.wrapup button[data-key^="finish:"]`)
	alice.waitGone("#detail .timer.wrapup")
	alice.openFolder("history")
	alice.waitText("#list", routerCall)
	alice.atBothSizes("History", "history")

	// The folder tabs, as ARIA's tabs pattern has them: Home and End go
	// to the first and the last, the arrow keys wrap around.
	alice.waitFocus("#tab-history")
	alice.press(kb.Home)
	alice.waitFocus("#tab-ongoing[aria-selected=true]")
	alice.press(kb.ArrowLeft)
	alice.waitFocus("#tab-history[aria-selected=true]")
	alice.press(kb.Home)
	alice.press(kb.End)
	alice.waitFocus("#tab-history[aria-selected=true]")
	require.Equal(t, "tab-history", alice.eval(`document.getElementById('folder').getAttribute('aria-labelledby')`),
		"the tab panel is named by the folder it shows")

	alice.openFolder("ongoing")
	alice.pick(parcelChat)
	alice.clickOpen(`#detail button[data-action="abandon"]:not([aria-disabled])`, "#dlg-abandon")
	alice.atBothSizes("the abandon dialog", "")
	alice.press(kb.Escape)
	alice.waitGone("#dlg-abandon[open]")

	proxy.cut()
	alice.waitText("#conn.down", "Reconnecting")
	alice.atBothSizes("reconnecting", "")
	proxy.restore()
	alice.waitLive()
}

// openFolder clicks the folder's tab until it is the one shown.
func (p *browserPage) openFolder(folder string) {
	p.t.Helper()
	tab := "#tab-" + folder
	p.clickTo(tab, folder+" shown", fmt.Sprintf(`document.querySelector(%s).getAttribute('aria-selected') === 'true'`, jsString(tab)))
}
