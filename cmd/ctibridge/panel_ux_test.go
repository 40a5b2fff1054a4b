package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/contactpad"
)

// The panel's states are checked at the softphone's size and in a full tab.
var uxSizes = []struct {
	name          string
	width, height int64
}{
	{"softphone", 400, 600},
	{"tab", 1280, 800},
}

// Who calls in the demo's call (routerCall).
const caller = "+44 20 7946 0958"

// uxStubs stands in for what a test cannot hear or see: WebAudio counts
// the tones it would play, Notification records what it would show (and
// whether permission was asked), document.visibilityState follows
// window.__ux.hidden, sforce.opencti records the Open CTI calls, and fetch
// counts the requests that change something.
const uxStubs = `(() => {
  const rec = window.__ux = { tones: 0, notes: [], asked: 0, cti: [], hidden: false, posts: 0 };
  const fetch = window.fetch;
  window.fetch = (url, o) => { if (o && o.method && o.method !== 'GET') rec.posts++; return fetch(url, o); };
  window.AudioContext = class {
    constructor() { this.state = 'running'; this.currentTime = 0; this.destination = {}; }
    resume() { return Promise.resolve(); }
    createOscillator() { return { type: '', frequency: { value: 0 }, connect: (x) => x, start() { rec.tones++; }, stop() {} }; }
    createGain() { return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (x) => x }; }
  };
  let permission = 'default';
  window.Notification = class {
    constructor(title, o) { rec.notes.push({ title, body: (o && o.body) || '' }); }
    close() {}
    static get permission() { return permission; }
    static requestPermission() { rec.asked++; permission = 'granted'; return Promise.resolve(permission); }
  };
  Object.defineProperty(document, 'visibilityState', { get: () => (rec.hidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { get: () => rec.hidden });
  const call = (name) => (arg) => { rec.cti.push(name + ':' + (arg.label || arg.key || '')); };
  window.sforce = { opencti: {
    SCREENPOP_TYPE: { SOBJECT: 'sobject', URL: 'url' },
    screenPop: (o) => { if (o.callback) o.callback({ success: true }); },
    onNavigationChange: () => {},
    setSoftphonePanelVisibility: () => {},
    setSoftphoneItemLabel: call('label'), setSoftphoneItemIcon: call('icon'),
  } };
})();`

// uxOptions are the emulations of a page.
type uxOptions struct {
	dark           bool
	locale, zoneID string
}

// uxPage opens an agent's page with the stubs, and the emulations asked for.
func (pt *panelTest) uxPage(name string, width, height int64, o uxOptions) *browserPage {
	pt.t.Helper()
	p := pt.page(name, width, height)
	p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: uxStubs}); err != nil {
			return err
		}
		if o.dark {
			if _, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
				return err
			}
		}
		if o.locale != "" {
			if _, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: o.locale}); err != nil {
				return err
			}
			// navigator.language follows Accept-Language.
			if _, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
				UserAgent: "Mozilla/5.0 ctibridge-test", AcceptLanguage: strings.ReplaceAll(o.locale, "_", "-")}); err != nil {
				return err
			}
		}
		if o.zoneID != "" {
			if _, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: o.zoneID}); err != nil {
				return err
			}
		}
		return nil
	}))
	return p
}

// ux reads the stubs' records.
func (p *browserPage) ux() (rec struct {
	Tones int
	Notes []struct{ Title, Body string }
	Asked int
	CTI   []string
	Posts int
}) {
	p.t.Helper()
	require.NoError(p.t, json.Unmarshal([]byte(p.eval(`JSON.stringify(window.__ux)`)), &rec))
	return rec
}

func (p *browserPage) waitTitle(want string) {
	p.t.Helper()
	p.waitFor("title "+want, fmt.Sprintf(`document.title === %s`, jsString(want)))
}

// TestPanelUXAlerts: an offer rings (unless muted), raises a desktop
// notification while the page is hidden (permission asked only when the
// agent goes available), puts "(1) Offer" in the title and on the Open CTI
// utility bar item; a transfer request rings the same way; an offer left
// to time out explains itself with one "Go available" button.
func TestPanelUXAlerts(t *testing.T) {
	for _, size := range uxSizes {
		t.Run(size.name, func(t *testing.T) {
			pt := newPanelTest(t, func(c *config.Config) {
				c.Routing.PushTimeout = config.Duration(6 * time.Second)
				c.Timeouts.TransferAccept = config.Duration(time.Minute)
			})
			alice := pt.uxPage("alice", size.width, size.height, uxOptions{})
			alice.signIn("demo-alice", "Alice")
			alice.waitTitle("ctibridge panel")

			// Mute is remembered across a reload.
			alice.click("#mute")
			alice.waitText("#mute", "Sound off")
			require.Equal(t, "true", alice.eval(`document.getElementById('mute').getAttribute('aria-pressed')`))
			alice.do(chromedp.Reload())
			alice.waitLive()
			alice.waitText("#mute", "Sound off")
			alice.click("#mute")
			alice.waitText("#mute", "Sound on")
			require.Zero(t, alice.ux().Asked, "no permission asked before the agent goes available")

			alice.eval(`window.__ux.hidden = true, ''`)
			alice.setPresence("available")
			alice.waitText(".alert.offer", "Incoming call from "+caller)
			alice.waitTitle("(1) Offer - ctibridge")
			rec := alice.ux()
			require.Equal(t, 1, rec.Asked, "going available asks for notifications")
			require.Equal(t, 2, rec.Tones, "one two-tone chime")
			require.Len(t, rec.Notes, 1)
			require.Equal(t, "Incoming call", rec.Notes[0].Title)
			require.Equal(t, caller+" · "+routerCall, rec.Notes[0].Body)
			require.Equal(t, []string{"label:Offer (1)", "icon:alert"}, rec.CTI)
			alice.shot("ux-offer-" + size.name)

			// The offer times out: alice is busy, and the panel says why.
			const missed = "You missed “" + routerCall + "”: it was not answered in time, so you are now Logged in / busy and receive no new work."
			alice.waitText("#missed", missed)
			alice.waitTitle("Missed offer - ctibridge")
			require.Equal(t, "Go available", alice.texts("#missed button"))
			alice.shot("ux-missed-" + size.name)

			// Go available: the call comes back, silent and without a
			// notification (muted, and the page is visible).
			alice.eval(`window.__ux.hidden = false, ''`)
			alice.click("#mute")
			alice.waitText("#mute", "Sound off")
			alice.click("#missed button")
			alice.waitPresence("available")
			alice.waitGone("#missed .alert")
			alice.waitText(".alert.offer", routerCall)
			alice.waitTitle("(1) Offer - ctibridge")
			rec = alice.ux()
			require.Equal(t, 2, rec.Tones, "muted: no more tones")
			require.Len(t, rec.Notes, 1, "the page is visible: no more notifications")
			require.Equal(t, 1, rec.Asked, "asked once")
			alice.acceptCall()
			alice.waitTitle("ctibridge panel")
			// The offer, the missed offer; at the end the new offer and the
			// idle item again (an idle moment between Go available and the
			// new offer may show in between).
			cti := alice.ux().CTI
			require.GreaterOrEqual(t, len(cti), 8, "%q", cti)
			require.Equal(t, []string{"label:Offer (1)", "icon:alert", "label:Missed offer", "icon:alert"}, cti[:4])
			require.Equal(t, []string{"label:Offer (1)", "icon:alert", "label:ctibridge", "icon:call"}, cti[len(cti)-4:])

			// A transfer request rings bob's panel too.
			bob := pt.uxPage("bob", size.width, size.height, uxOptions{})
			bob.signIn("demo-bob", "Bob")
			bob.setPresence("available")
			var list struct {
				Interactions []struct{ ID, Subject string }
			}
			require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/interactions?folder=ongoing", nil, &list))
			id := ""
			for _, i := range list.Interactions {
				if i.Subject == routerCall {
					id = i.ID
				}
			}
			require.NotEmpty(t, id)
			tones := bob.ux().Tones
			require.NoError(t, apiCall(pt.base, "demo-alice", "POST", "/interactions/"+id+"/transfers",
				map[string]any{"target": map[string]string{"agent": "bob"}, "mode": "warm"}, nil))
			bob.waitText(".alert.request", "Transfer request from Alice")
			bob.waitTitle("(1) Transfer request - ctibridge")
			require.Equal(t, tones+2, bob.ux().Tones)
			bob.shot("ux-request-" + size.name)
		})
	}
}

// TestPanelUXTimesAndWords: every time is in the agent's language and
// zone, with the zone's name, and never RFC 3339; a refusal is a plain
// sentence without internal ids.
func TestPanelUXTimesAndWords(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, size := range uxSizes {
		t.Run(size.name, func(t *testing.T) {
			pt := newPanelTest(t, nil)
			alice := pt.uxPage("alice", size.width, size.height, uxOptions{locale: "en_GB", zoneID: "Europe/Berlin"})
			alice.signIn("demo-alice", "Alice")
			require.Equal(t, "en-GB", alice.eval(`navigator.language`))
			alice.setPresence("available")
			alice.waitText("#list", refundCase)

			// A deferral far enough ahead to be another day, on the hour.
			due := time.Now().Add(50 * time.Hour).Truncate(time.Hour)
			var list struct {
				Interactions []struct{ ID, Subject string }
			}
			require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/interactions?folder=ongoing", nil, &list))
			for _, i := range list.Interactions {
				if i.Subject == refundCase {
					require.NoError(t, apiCall(pt.base, "demo-alice", "POST", "/interactions/"+i.ID+"/defer",
						map[string]string{"due_by": due.UTC().Format(time.RFC3339)}, nil))
				}
			}
			want := due.In(berlin).Format("2 Jan, 15:04 MST") // en-GB: "8 Dec, 17:00 CET"
			alice.click("#tab-deferred")
			alice.waitText("#list", "Due "+want)
			alice.pick(refundCase)
			alice.waitText("#detail", "Comes back "+want)
			alice.waitText("#detail .audit time", due.In(berlin).Format("MST")) // labelled with the zone

			// A time in the past: the server's refusal as a plain sentence.
			alice.click("#tab-ongoing")
			alice.pick(passwordCase)
			alice.clickOpen(`#detail button[data-action="defer"]`, "#dlg-defer")
			alice.do(chromedp.SetValue(chromedp.ID("defer-at"), "2020-01-01T09:00"))
			alice.click("#defer-go")
			alice.waitText("#defer-error", "That time has passed: choose a time in the future.")
			alice.shot("ux-refused-" + size.name)
			alice.click(`#defer-presets button[data-preset="tomorrow"]`)
			alice.click("#defer-go")
			tomorrow := time.Now().In(berlin).AddDate(0, 0, 1)
			alice.waitText("#toast", "Deferred until "+fmt.Sprintf("%d %s, 09:00 %s", tomorrow.Day(), tomorrow.Format("Jan"),
				time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 9, 0, 0, 0, berlin).Format("MST")))

			text := alice.eval(`document.body.innerText`)
			require.NotRegexp(t, regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d`), text, "no RFC 3339 on screen")
			require.NotContains(t, text, "int_", "no internal ids on screen")
		})
	}
}

// TestPanelUXLiveWorkFirst: the live call is pinned on top with the
// caller and a talk timer; only the actions that fit its status show, and
// one that fits but cannot be taken now says why on focus.
func TestPanelUXLiveWorkFirst(t *testing.T) {
	for _, size := range uxSizes {
		t.Run(size.name, func(t *testing.T) {
			pt := newPanelTest(t, func(c *config.Config) {
				c.Timeouts.TransferAccept = config.Duration(time.Minute)
				c.Timeouts.WrapUp[contactpad.Live] = config.Duration(time.Minute)
			})
			alice := pt.uxPage("alice", size.width, size.height, uxOptions{})
			alice.signIn("demo-alice", "Alice")
			alice.setPresence("available")
			alice.acceptCall()
			alice.waitText("#live .live-call", "On a call with "+caller)
			alice.waitText("#live .live-call", routerCall)
			alice.waitFor("the talk timer running", `/^[2-9] s$/.test(document.querySelector('#live .talk-time').textContent)`)
			require.Equal(t, "Hold Release Open", alice.texts("#live button"))
			require.Equal(t, "true", alice.eval(`String(document.getElementById('live').getBoundingClientRect().top < document.querySelector('.work').getBoundingClientRect().top)`),
				"pinned above the lists")

			alice.click(`#live button[data-key^="live:hold:"]`)
			alice.waitText("#live", "On hold")
			alice.waitText("#live button", "Retrieve")
			alice.click(`#live button[data-key^="live:open:"]`)
			alice.waitText("#detail h2", routerCall)
			alice.waitText("#detail .customer", caller)
			alice.waitText("#detail .customer", "Talking")
			require.Equal(t, "Release Retrieve Consult Transfer", alice.texts("#detail .actions button"), "a call has no Abandon or Defer")

			// A transfer under way: Transfer stays, disabled, and says why.
			require.NoError(t, apiCall(pt.base, "demo-bob", "PUT", "/me/presence", map[string]string{"presence": "available"}, nil))
			alice.startTransfer("Bob", "", false)
			alice.waitText("#route-progress", "waiting for Bob to accept")
			alice.press(kb.Escape)
			alice.waitGone("#dlg-route[open]")
			const transfer = `#detail button[data-action="transfer"][aria-disabled="true"]`
			alice.onNode(transfer, chromedp.Focus(chromedp.CSS(transfer)))
			alice.waitText("#why", "Transfer: A transfer is in progress.")
			require.Equal(t, "why", alice.eval(`document.querySelector('`+transfer+`').getAttribute('aria-describedby')`))
			alice.shot("ux-live-" + size.name)
			alice.click(`.alert.outgoing button[data-key^="tcancel:"]`)
			alice.waitGone(".alert.outgoing")

			// Released: wrap-up shows Abandon only, and Extend (1 left).
			alice.click(`#live button[data-key^="live:retrieve:"]`)
			alice.waitVisible(`#live button[data-key^="live:hold:"]`)
			alice.click(`#live button[data-key^="live:release:"]`)
			alice.waitGone("#live .live-call")
			alice.waitText(`#detail .timer.wrapup button[data-key^="extend:"]`, "Extend (1 left)")
			require.Subset(t, []string{"Abandon"}, strings.Fields(alice.texts("#detail .actions button")), "only what fits wrap-up")
			alice.click(`#detail .timer.wrapup button[data-key^="finish:"]`)
			alice.waitText("#detail .meta", "Completed")
			require.Empty(t, alice.texts("#detail .actions button"), "no row of grey buttons on a completed call: it cannot be resumed")
			require.Equal(t, "0", alice.eval(`String(document.querySelectorAll('#detail .actions button[aria-disabled]').length)`))
		})
	}
}

// TestPanelUXConnectionLost: while the event stream is down a banner says
// the agent may not receive work, and the actions are disabled until it
// is back.
func TestPanelUXConnectionLost(t *testing.T) {
	for _, size := range uxSizes {
		t.Run(size.name, func(t *testing.T) {
			pt := newPanelTest(t, nil)
			proxy := newCutProxy(t, pt.base)
			alice := pt.uxPage("alice", size.width, size.height, uxOptions{})
			alice.base = proxy.srv.URL
			alice.signIn("demo-alice", "Alice")
			alice.setPresence("available")
			alice.acceptCall()
			alice.waitVisible(`#live button[data-key^="live:hold:"]`)
			require.Equal(t, "true", alice.eval(`String(document.getElementById('offline').hidden)`))

			proxy.cut()
			alice.waitVisible("#offline")
			require.Equal(t, "alert", alice.eval(`document.getElementById('offline').getAttribute('role')`))
			alice.waitText("#offline", "Connection lost - you may not receive work")
			alice.waitFor("actions disabled", `document.querySelector('#live button[data-key^="live:hold:"]').getAttribute('aria-disabled') === 'true'`)
			posts := alice.ux().Posts
			alice.click(`#live button[data-key^="live:hold:"]`)
			alice.shot("ux-offline-" + size.name)
			require.Equal(t, posts, alice.ux().Posts, "a click while offline sends nothing")

			proxy.restore()
			alice.waitLive()
			alice.waitGone("#offline")
			alice.waitFor("actions enabled", `!document.querySelector('#live button[data-key^="live:hold:"]').hasAttribute('aria-disabled')`)
			var call struct {
				Interactions []struct {
					Subject string
					Held    bool
				}
			}
			require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/interactions?folder=ongoing", nil, &call))
			for _, i := range call.Interactions {
				require.False(t, i.Held, "the click while offline did nothing")
			}
			alice.click(`#live button[data-key^="live:hold:"]`)
			alice.waitText("#live", "On hold")
		})
	}
}

// contrastJS is the lowest contrast ratio (WCAG) of the text of the
// elements of each selector against the first opaque background behind
// it, and where.
const contrastJS = `(() => {
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bgOf = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  let worst = { ratio: 99, where: '' };
  for (const sel of SELECTORS) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.getClientRects().length || !el.textContent.trim()) continue;
      const a = lum(rgb(getComputedStyle(el).color)), b = lum(bgOf(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < worst.ratio) worst = { ratio, where: sel + ': ' + el.textContent.trim().slice(0, 30) };
    }
  }
  return JSON.stringify(worst);
})()`

// TestPanelUXDark: with prefers-color-scheme dark the panel is dark, and
// its text keeps a contrast of 4.5:1 or more, in every state shown.
func TestPanelUXDark(t *testing.T) {
	selectors := []string{"body", ".bar .me", ".bar .link", ".load", "[role=tab]", ".list .subject", ".list .muted", ".chip", ".state",
		".alert p", ".alert button", "#detail h2", "#detail .meta", "#detail .muted", "#detail .actions button:not([aria-disabled])",
		"button.primary", ".live-call p", ".talk", ".audit li", ".offline", ".countdown .cd-label"}
	sel, err := json.Marshal(selectors)
	require.NoError(t, err)
	check := func(p *browserPage, state string) {
		t.Helper()
		var worst struct {
			Ratio float64
			Where string
		}
		require.NoError(t, json.Unmarshal([]byte(p.eval(strings.Replace(contrastJS, "SELECTORS", string(sel), 1))), &worst))
		require.GreaterOrEqual(t, worst.Ratio, 4.5, "%s: contrast of %s", state, worst.Where)
	}
	for _, size := range uxSizes {
		t.Run(size.name, func(t *testing.T) {
			pt := newPanelTest(t, nil)
			proxy := newCutProxy(t, pt.base)
			alice := pt.uxPage("alice", size.width, size.height, uxOptions{dark: true})
			alice.base = proxy.srv.URL
			alice.signIn("demo-alice", "Alice")
			require.Equal(t, "true", alice.eval(`String(matchMedia('(prefers-color-scheme: dark)').matches)`))
			bg := alice.eval(`getComputedStyle(document.documentElement).backgroundColor`)
			require.Equal(t, "rgb(19, 23, 28)", bg, "a dark page")
			check(alice, "signed in")

			alice.setPresence("available")
			alice.waitVisible(".alert.offer")
			check(alice, "an offer")
			alice.shot("ux-dark-offer-" + size.name)
			alice.acceptCall()
			alice.waitVisible("#live .live-call")
			alice.pick(refundCase)
			check(alice, "a live call and a case")
			alice.shot("ux-dark-" + size.name)

			proxy.cut()
			alice.waitVisible("#offline")
			check(alice, "connection lost")
			proxy.restore()
			alice.waitLive()
		})
	}
}

// TestPanelUXReturnKey: in the directory, Return only chooses (even a
// whole name typed, which chooses by itself); Ctrl+Enter sends.
func TestPanelUXReturnKey(t *testing.T) {
	for _, size := range uxSizes {
		t.Run(size.name, func(t *testing.T) {
			pt := newPanelTest(t, func(c *config.Config) { c.Timeouts.TransferAccept = config.Duration(time.Minute) })
			alice := pt.uxPage("alice", size.width, size.height, uxOptions{})
			alice.signIn("demo-alice", "Alice")
			alice.setPresence("available")
			alice.acceptCall()
			require.NoError(t, apiCall(pt.base, "demo-bob", "PUT", "/me/presence", map[string]string{"presence": "available"}, nil))
			alice.pick(passwordCase)
			alice.clickOpen(transferButton, "#dlg-route")
			alice.waitText("#route-list", "Bob")
			alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "Bob"))
			alice.waitText("#route-go", "Transfer to Bob")
			alice.press(kb.Enter)
			alice.waitFocus("#route-note")
			alice.press(kb.Enter) // a new line in the note, nothing more
			var open struct{ Transfers []json.RawMessage }
			require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/transfers", nil, &open))
			require.Empty(t, open.Transfers, "Return sent nothing")
			require.Empty(t, alice.texts("#route-progress"))

			alice.press("Over to you")
			alice.press(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl))
			alice.waitText("#route-progress", "waiting for Bob to accept")
			require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/transfers", nil, &open))
			require.Len(t, open.Transfers, 1, "Ctrl+Enter sent it")
		})
	}
}
