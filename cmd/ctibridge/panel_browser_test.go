package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
)

// TestPanelBrowser drives the agent panel in a real Chromium against the
// demo daemon on 127.0.0.1: alice signs in from the URL, goes Available,
// accepts the offered call, is refused a deferral into the past (with the
// server's words), defers a case and resumes it from Deferred, warm-
// transfers it to bob (signed in with the form), who declines once and accepts the second time in
// his own browser context, hands it over with "Transfer now", releases the
// call and watches its wrap-up run out; she also consults bob about a
// chat and abandons it. Any console error or uncaught
// exception in either page fails the test. Screenshots go to
// $CTIBRIDGE_TEST_OUT (default: the test's temp dir).
func TestPanelBrowser(t *testing.T) {
	chromium := findChromium(t)
	out := os.Getenv("CTIBRIDGE_TEST_OUT")
	if out == "" {
		out = t.TempDir()
	}
	out = filepath.Join(out, "panel")
	require.NoError(t, os.MkdirAll(out, 0o755))

	base := startDemo(t)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromium),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(t.TempDir()),
		)...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	require.NoError(t, chromedp.Do(browser)) // start the browser

	alice := openPage(t, browser, "alice", out, 300, 550) // the softphone size
	bob := openPage(t, browser, "bob", out, 1100, 700)    // a full tab

	// Sign in from the URL; the token leaves the address bar at once.
	alice.do(chromedp.Navigate(base + "/#token=demo-alice"))
	alice.waitVisible("#app")
	require.Equal(t, base+"/", alice.eval(`location.href`), "the token is stripped from the URL")
	alice.waitText("#me-name", "Alice")
	alice.waitText("#list", "Nothing ongoing")
	alice.shot("01-signed-in")

	// Available now: the cases and the chat connect by themselves, the call alerts.
	alice.choose("#presence", "available")
	alice.waitPresence(base, "demo-alice", "available")
	alice.waitVisible(".alert.offer")
	alice.waitText(".alert.offer", "Router keeps rebooting")
	alice.waitText(".alert.offer .countdown", "Answer within")
	alice.waitText("#list", "Refund for order 1138")
	alice.waitText("#list", "Chat: Where is my parcel?")
	alice.shot("02-offer")
	alice.click(".alert.offer button.primary") // Accept
	alice.waitGone(".alert.offer")
	alice.waitText("#list", "Router keeps rebooting")

	// A chat has no transfer or hold button; its Resume is disabled with the reason.
	alice.pick("Chat: Where is my parcel?")
	alice.waitVisible(`#detail button[data-action="release"]`)
	require.Equal(t, "Release Consult Abandon Defer Resume", alice.eval(
		`[...document.querySelectorAll('#detail .actions button')].map(b => b.textContent).join(' ')`))
	alice.onNode(`#detail button[data-action="resume"]`, chromedp.Focus(chromedp.CSS(`#detail button[data-action="resume"]`)))
	alice.waitText("#why", "Only deferred or completed interactions can be resumed.")

	// Defer the refund case: a time in the past is refused with the server's message.
	alice.pick("Refund for order 1138")
	alice.click(`#detail button[data-action="defer"]:not([aria-disabled])`)
	alice.waitVisible("#dlg-defer[open]")
	alice.do(chromedp.SetValue(chromedp.ID("defer-at"), "2020-01-01T09:00"))
	alice.click("#defer-go")
	alice.waitText("#defer-error", "is not in the future")
	require.Equal(t, "true", alice.eval(`document.getElementById('defer-at').getAttribute('aria-invalid')`))
	alice.shot("03-defer-in-the-past")
	alice.click(`#defer-presets button[data-preset="1h"]`)
	alice.click("#defer-go")
	alice.waitGone("#dlg-defer[open]")
	alice.waitNoText("#list", "Refund for order 1138")

	// It waits in Deferred; resume it from there.
	alice.click("#tab-deferred")
	alice.waitText("#list", "Refund for order 1138")
	alice.waitText("#list", "Due ")
	alice.shot("04-deferred")
	alice.click(`#list button.quick[aria-label="Resume Refund for order 1138"]`)
	alice.waitText("#list", "Nothing deferred.")
	alice.click("#tab-ongoing")
	alice.pick("Refund for order 1138")
	alice.waitText("#detail", "Resumed from deferred.")
	alice.waitText("#detail .audit", "Interaction resumed by an agent")

	// bob signs in with the form, in his own browser context, and goes Available now.
	bob.do(chromedp.Navigate(base + "/"))
	bob.waitVisible("#signin-token")
	bob.do(chromedp.SendKeys(chromedp.ID("signin-token"), "demo-nobody"), chromedp.KeyEvent(kb.Enter))
	bob.waitText("#signin-error", "That token is not known to ctibridge.")
	bob.do(chromedp.SendKeys(chromedp.ID("signin-token"), "demo-bob"), chromedp.KeyEvent(kb.Enter))
	bob.waitText("#me-name", "Bob")
	bob.choose("#presence", "available")
	bob.waitPresence(base, "demo-bob", "available")

	// alice warm-transfers the case to bob: search by part of the name, arrow
	// keys and Return, a note.
	const note = "Refund approved by billing; card ending 4242"
	alice.click(`#detail button[data-action="transfer"]:not([aria-disabled])`)
	alice.waitVisible("#dlg-route[open]")
	alice.waitText("#route-list", "Billing") // agents and services, alphabetical
	require.Equal(t, "Billing Bob Carol Support", alice.eval(
		`[...document.querySelectorAll('#route-list .name')].map(n => n.textContent).join(' ')`))
	alice.waitText("#route-list", "Available now")
	alice.waitText("#route-list", "queue 0")
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "o"))
	alice.waitNoText("#route-list", "Billing")
	require.Equal(t, "Bob Carol Support", alice.eval(
		`[...document.querySelectorAll('#route-list .name')].map(n => n.textContent).join(' ')`))
	alice.do(chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowUp))
	alice.waitText("#route-list li.active", "Carol")
	alice.do(chromedp.KeyEvent(kb.Enter)) // Return chooses the active one
	alice.waitText("#route-go", "Transfer to Carol")
	alice.do(chromedp.Focus(chromedp.ID("route-search")), chromedp.KeyEvent(kb.ArrowUp), chromedp.KeyEvent(kb.Enter))
	alice.waitText("#route-go", "Transfer to Bob")
	alice.do(chromedp.SendKeys(chromedp.ID("route-note"), note))
	alice.shot("05-transfer-dialog")
	alice.click("#route-go")
	alice.waitText("#route-progress", "waiting for Bob to accept")

	// bob declines the first request; alice is told why, and keeps the note.
	bob.waitText(".alert.request", note)
	bob.waitText(".alert.request .countdown", "Accept within")
	bob.click(".alert.request button:not(.primary)")
	bob.waitVisible("#dlg-decline[open]")
	bob.do(chromedp.SendKeys(chromedp.ID("decline-reason"), "On a long call"))
	bob.click("#decline-go")
	bob.waitGone(".alert.request")
	alice.waitText("#route-progress", "Bob declined: “On a long call”.")
	alice.waitText("#route-progress", "your note is kept")
	alice.shot("06-transfer-declined")

	// Try again: bob accepts, alice hands over with "Transfer now".
	alice.click("#route-progress button.primary") // Try again
	require.Equal(t, note, alice.eval(`document.getElementById('route-note').value`))
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "Bob")) // the whole, unique name chooses Bob
	alice.waitText("#route-go", "Transfer to Bob")
	alice.click("#route-go")
	bob.waitText(".alert.request", note)
	bob.shot("07-transfer-request")
	bob.click(".alert.request button.primary") // Accept
	alice.waitText("#route-progress", "Bob accepted.")
	alice.shot("08-transfer-accepted")
	alice.click("#route-progress button.primary") // Transfer now
	alice.waitGone("#dlg-route[open]")
	alice.waitNoText("#list", "Refund for order 1138")
	bob.pick("Refund for order 1138")
	bob.waitText("#detail", "Transfer note: "+note)
	bob.waitText("#detail .audit", "Transfer to agent bob failed: declined")
	bob.shot("09-bob-owns-the-case")

	// alice consults bob about the chat: only a consult (chats cannot be
	// transferred), bob answers, and ends the consult leg.
	alice.pick("Chat: Where is my parcel?")
	alice.click(`#detail button[data-action="consult"]:not([aria-disabled])`)
	alice.waitVisible("#dlg-route[open]")
	alice.waitText("#route-title", "Consult")
	alice.waitText("#route-list", "Carol")
	alice.waitGone("#route-modes") // no Consult | Transfer switch: a chat cannot be transferred
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "carol"))
	alice.waitText("#route-list li.off", "Logged out")
	alice.do(chromedp.KeyEvent(kb.Enter)) // Carol is logged out: she cannot be consulted
	alice.waitText("#route-error", "only agents who are Available now or Interruptible can be consulted")
	alice.eval(`(el => { el.value = ''; el.dispatchEvent(new Event('input')); return '' })(document.getElementById('route-search'))`)
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "Bob"))
	alice.waitText("#route-go", "Consult Bob")
	alice.click("#route-go")
	alice.waitGone("#dlg-route[open]")
	alice.waitText("#detail .consult", "Consult with Bob")
	bob.waitText(".alert.request", "Alice is consulting you")
	bob.click(".alert.request button.primary") // Answer
	bob.waitText(".alert.request", "On consult with Alice")
	alice.waitText("#detail .consult", "connected")
	bob.click(".alert.request button") // End consult
	alice.waitGone("#detail .consult")

	// alice releases the call: the wrap-up counts down (3 s in the demo), then it is in History.
	alice.pick("Router keeps rebooting")
	alice.click(`#detail button[data-action="release"]:not([aria-disabled])`)
	alice.waitVisible("#detail .timer.wrapup .countdown")
	alice.waitText("#detail .timer.wrapup", "Wrap-up ends in")
	alice.shot("10-wrap-up")
	alice.waitText("#detail", "Completed")
	alice.waitGone("#detail .timer.wrapup")
	alice.click("#tab-history")
	alice.waitText("#list", "Router keeps rebooting")
	alice.shot("11-history")

	// Abandon is behind a warning that it is only for when release did not work.
	alice.click("#tab-ongoing")
	alice.pick("Chat: Where is my parcel?")
	alice.click(`#detail button[data-action="abandon"]:not([aria-disabled])`)
	alice.waitVisible("#dlg-abandon[open]")
	alice.waitText("#abandon-warning", "Only abandon an interaction if releasing it did not work.")
	require.Equal(t, "Keep it", alice.eval(`document.activeElement.textContent`), "the safe choice has the focus")
	alice.click("#abandon-go")
	alice.waitGone("#dlg-abandon[open]")
	alice.waitNoText("#list", "Chat: Where is my parcel?")
	alice.choose("#status-filter", "abandoned")
	alice.waitText("#list", "Chat: Where is my parcel?")
	alice.choose("#status-filter", "")

	// The same panel in a full tab.
	alice.do(chromedp.EmulateViewport(1280, 760))
	alice.click("#tab-ongoing")
	alice.pick("Password reset loop")
	alice.waitText("#detail", "Audit trail")
	alice.shot("12-full-tab")

	alice.checkConsole()
	bob.checkConsole()
	t.Logf("screenshots in %s", out)
}

// findChromium finds the browser, or skips the test, except under CI,
// where a missing browser is a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("TestPanelBrowser: no Chromium found, and CI must run the browser test (apt-get install chromium)")
	}
	t.Skip("!!! TestPanelBrowser SKIPPED: no Chromium on PATH. Install it (apt-get install chromium) to test the agent panel in a browser. !!!")
	return ""
}

// startDemo runs the demo daemon (without its story, so the test plays it
// through the panel) on real listeners of 127.0.0.1, and returns its base
// URL once the seed records are interactions.
func startDemo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	orgLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- demo(ctx, t.TempDir(), io.Discard, demoEnv{Listener: ln, OrgListener: orgLn, NoStory: true, NewRecordsEvery: time.Hour})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	base := "http://" + ln.Addr().String()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := countInteractions(base)
		if err == nil && n == 4 {
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not make its 4 interactions in time (have %d, %v)", n, err)
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded by the deadline
	}
}

// waitPresence waits until the API reports the agent's presence.
func (p *browserPage) waitPresence(base, token, want string) {
	p.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		var me struct{ Presence string }
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = json.NewDecoder(res.Body).Decode(&me)
			res.Body.Close()
		}
		if me.Presence == want {
			return
		}
		if time.Now().After(deadline) {
			p.fail("presence is %q, want %q; toast %q", me.Presence, want, p.eval(`document.getElementById('toast').textContent`))
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded by the deadline
	}
}

func countInteractions(base string) (int, error) {
	req, _ := http.NewRequest("GET", base+"/api/v1/interactions", nil)
	req.Header.Set("Authorization", "Bearer demo-admin")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var body struct{ Interactions []json.RawMessage }
	err = json.NewDecoder(res.Body).Decode(&body)
	return len(body.Interactions), err
}

// browserPage is one agent's tab, in its own browser context (its own
// session storage and cookies), with the problems its console reported.
type browserPage struct {
	t    *testing.T
	ctx  context.Context
	name string
	out  string

	mu       sync.Mutex
	problems []string
}

// stepTimeout bounds every wait: a step that should take milliseconds may
// take seconds on a loaded machine, never this long.
const stepTimeout = 15 * time.Second

func openPage(t *testing.T, browser context.Context, name, out string, width, height int64) *browserPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &browserPage{t: t, ctx: ctx, name: name, out: out}
	require.NoError(t, chromedp.Listen(ctx, p.observe))
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(width, height)))
	return p
}

// observe records console errors, uncaught exceptions and failed loads.
// A refusal of the API (a 4xx of /api/v1, which the panel shows to the
// agent) is expected behaviour, not a problem of the page.
func (p *browserPage) observe(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		problem = "uncaught exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			problem += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			problem = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning {
			if e.Source == log.EntrySourceNetwork && strings.Contains(e.URL, "/api/v1/") {
				return
			}
			problem = fmt.Sprintf("%s %s: %s %s", e.Source, e.Level, e.Text, e.URL)
		}
	}
	if problem != "" {
		p.mu.Lock()
		p.problems = append(p.problems, problem)
		p.mu.Unlock()
	}
}

func (p *browserPage) checkConsole() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Empty(p.t, p.problems, "%s's page reported problems", p.name)
}

func (p *browserPage) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.fail("%v", err)
	}
}

// fail saves a screenshot of the page as it is, and stops the test.
func (p *browserPage) fail(format string, args ...any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(p.out, "failed-"+p.name+".png"), png, 0o644)
	}
	p.mu.Lock()
	problems := strings.Join(p.problems, "\n")
	p.mu.Unlock()
	p.t.Fatalf("%s: %s (screenshot failed-%s.png in %s)\nconsole:\n%s", p.name, fmt.Sprintf(format, args...), p.name, p.out, problems)
}

func (p *browserPage) eval(js string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.fail("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor waits until the JavaScript condition holds, checking on every
// animation frame.
func (p *browserPage) waitFor(what, condition string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](condition, chromedp.WithPollingTimeout(stepTimeout))); err != nil {
		p.fail("waiting for %s: %v", what, err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// visible is true for an element that exists and is rendered.
const visible = `((el) => !!el && !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length))`

func (p *browserPage) waitVisible(sel string) {
	p.t.Helper()
	p.waitFor(sel+" visible", fmt.Sprintf(`%s(document.querySelector(%s))`, visible, jsString(sel)))
}

func (p *browserPage) waitGone(sel string) {
	p.t.Helper()
	p.waitFor(sel+" gone", fmt.Sprintf(`!%s(document.querySelector(%s))`, visible, jsString(sel)))
}

func (p *browserPage) waitText(sel, text string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("%q in %s", text, sel), fmt.Sprintf(
		`[...document.querySelectorAll(%s)].some((el) => el.textContent.includes(%s))`, jsString(sel), jsString(text)))
}

func (p *browserPage) waitNoText(sel, text string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("no %q in %s", text, sel), fmt.Sprintf(
		`![...document.querySelectorAll(%s)].some((el) => el.textContent.includes(%s))`, jsString(sel), jsString(text)))
}

// click clicks the element once it is visible, with the mouse. When the
// page re-renders between finding the node and clicking it, the click did
// not happen, and it tries again on the new node.
func (p *browserPage) click(sel string) {
	p.t.Helper()
	p.onNode(sel, chromedp.Click(chromedp.CSS(sel)))
}

// onNode runs an action on the node of sel, again when the page replaced
// the node in between.
func (p *browserPage) onNode(sel string, click chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	for attempt := 1; ; attempt++ {
		p.waitVisible(sel)
		ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
		err := chromedp.Do(ctx, click)
		cancel()
		if err == nil {
			return
		}
		if attempt == 3 || !strings.Contains(err.Error(), "Could not find node") {
			p.fail("%s: %v", sel, err)
		}
	}
}

// pick selects the interaction with this subject in the list.
func (p *browserPage) pick(subject string) {
	p.t.Helper()
	xpath := fmt.Sprintf(`//ul[@id="list"]/li/button[contains(@class,"pick")][.//span[@class="subject" and text()=%s]]`, jsString(subject))
	p.waitFor("row "+subject, fmt.Sprintf(
		`[...document.querySelectorAll('#list .pick .subject')].some((s) => s.textContent === %s)`, jsString(subject)))
	p.onNode("#list", chromedp.Click(chromedp.Search(xpath)))
	p.waitText("#detail h2", subject)
}

// choose picks an option of a select, as a user would, firing change.
func (p *browserPage) choose(sel, value string) {
	p.t.Helper()
	p.do(chromedp.SetValue(chromedp.CSS(sel), value))
	p.eval(fmt.Sprintf(`document.querySelector(%s).dispatchEvent(new Event('change', {bubbles: true})), ''`, jsString(sel)))
	p.waitFor(sel+" = "+value, fmt.Sprintf(`document.querySelector(%s).value === %s`, jsString(sel), jsString(value)))
}

func (p *browserPage) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail("screenshot %s: %v", name, err)
	}
	require.NoError(p.t, os.WriteFile(filepath.Join(p.out, fmt.Sprintf("%s-%s.png", name, p.name)), png, 0o644))
}
