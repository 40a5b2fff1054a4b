package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	stdlog "log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/contactpad"
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
	pt := newPanelTest(t, nil)
	base := pt.base
	alice := pt.page("alice", 300, 550) // the softphone size
	bob := pt.page("bob", 1100, 700)    // a full tab

	// Sign in from the URL; the token leaves the address bar at once.
	alice.do(chromedp.Navigate(base + "/#token=demo-alice"))
	alice.waitVisible("#app")
	require.Equal(t, base+"/", alice.eval(`location.href`), "the token is stripped from the URL")
	alice.waitText("#me-name", "Alice")
	alice.waitText("#list", "Nothing ongoing")
	alice.shot("01-signed-in")

	// Available now: the cases and the chat connect by themselves, the call alerts.
	alice.setPresence("available")
	alice.waitVisible(".alert.offer")
	alice.waitText(".alert.offer", "Router keeps rebooting")
	alice.waitText(".alert.offer .countdown", "Answer within")
	alice.waitText("#list", "Refund for order 1138")
	alice.waitText("#list", "Chat: Where is my parcel?")
	alice.shot("02-offer")
	alice.acceptCall()
	alice.waitText("#list", "Router keeps rebooting")

	// A chat has no transfer or hold button, and Resume does not fit a
	// connected chat: it is not shown.
	alice.pick("Chat: Where is my parcel?")
	alice.waitVisible(`#detail button[data-action="release"]`)
	require.Equal(t, "Release Consult Abandon Defer", alice.texts("#detail .actions button"))

	// Defer the refund case: a time in the past is refused with the server's message.
	alice.pick("Refund for order 1138")
	alice.clickOpen(`#detail button[data-action="defer"]:not([aria-disabled])`, "#dlg-defer")
	alice.axe("the defer dialog")
	alice.do(chromedp.SetValue(chromedp.ID("defer-at"), "2020-01-01T09:00"))
	alice.click("#defer-go")
	alice.waitText("#defer-error", "That time has passed: choose a time in the future.")
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
	alice.waitText("#detail", "Resumed from the Deferred folder.")
	alice.waitText("#detail .audit", "Interaction resumed by an agent")

	// bob signs in with the form, in his own browser context, and goes Available now.
	bob.do(chromedp.Navigate(base + "/"))
	bob.click("#signin-token-box summary") // the demo offers Sign in with Salesforce first
	bob.waitVisible("#signin-token")
	bob.axe("sign-in")
	bob.do(chromedp.SendKeys(chromedp.ID("signin-token"), "demo-nobody"), chromedp.KeyEvent(kb.Enter))
	bob.waitText("#signin-error", "That token is not known to ctibridge.")
	bob.axe("sign-in refused")
	bob.do(chromedp.SendKeys(chromedp.ID("signin-token"), "demo-bob"), chromedp.KeyEvent(kb.Enter))
	bob.waitText("#me-name", "Bob")
	bob.setPresence("available")

	// alice warm-transfers the case to bob: search by part of the name, arrow
	// keys and Return, a note.
	const note = "Refund approved by billing; card ending 4242"
	alice.clickOpen(`#detail button[data-action="transfer"]:not([aria-disabled])`, "#dlg-route")
	alice.waitText("#route-list", "Billing") // agents and services, alphabetical
	require.Equal(t, "Billing Bob Carol Support", alice.texts("#route-list .name"))
	alice.waitText("#route-list", "Available now")
	alice.waitText("#route-list", "queue 0")
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "o"))
	alice.waitNoText("#route-list", "Billing")
	require.Equal(t, "Bob Carol Support", alice.texts("#route-list .name"))
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
	bob.clickOpen(".alert.request button:not(.primary)", "#dlg-decline")
	bob.do(chromedp.SendKeys(chromedp.ID("decline-reason"), "On a long call"))
	bob.axe("the decline dialog")
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
	bob.waitText("#detail .audit", "Transfer to agent bob declined by bob: On a long call")
	bob.shot("09-bob-owns-the-case")

	// alice consults bob about the chat: only a consult (chats cannot be
	// transferred), bob answers, and ends the consult leg.
	alice.pick("Chat: Where is my parcel?")
	alice.clickOpen(`#detail button[data-action="consult"]:not([aria-disabled])`, "#dlg-route")
	alice.waitText("#route-title", "Consult")
	alice.waitText("#route-list", "Carol")
	alice.waitGone("#route-modes") // no Consult | Transfer switch: a chat cannot be transferred
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "carol"))
	alice.waitText("#route-list li.off", "Logged out")
	alice.do(chromedp.KeyEvent(kb.Enter)) // Carol is logged out: she cannot be consulted
	alice.waitText("#route-error", "only agents who are Available now or Interruptible can be consulted")
	alice.axe("the consult directory, refused")
	alice.eval(`(el => { el.value = ''; el.dispatchEvent(new Event('input')); return '' })(document.getElementById('route-search'))`)
	alice.do(chromedp.SendKeys(chromedp.ID("route-search"), "Bob"))
	alice.waitText("#route-go", "Consult Bob")
	alice.click("#route-go")
	alice.waitGone("#dlg-route[open]")
	alice.waitText("#detail .consult", "Consult with Bob")
	bob.waitText(".alert.request", "Alice is consulting you")
	bob.axe("a consult request")
	alice.axe("a consult ringing")
	bob.click(".alert.request button.primary") // Answer
	bob.waitText(".alert.request", "On consult with Alice")
	alice.waitText("#detail .consult", "connected")
	bob.axe("on a consult")
	alice.axe("a consult connected")
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
	alice.clickOpen(`#detail button[data-action="abandon"]:not([aria-disabled])`, "#dlg-abandon")
	alice.waitText("#abandon-warning", "Only abandon an interaction if releasing it did not work.")
	require.Equal(t, "Keep it", alice.eval(`document.activeElement.textContent`), "the safe choice has the focus")
	alice.axe("the abandon dialog")
	alice.click("#abandon-go")
	alice.waitGone("#dlg-abandon[open]")
	alice.waitNoText("#list", "Chat: Where is my parcel?")
	alice.choose("#status-filter", "abandoned")
	alice.waitText("#list", "Chat: Where is my parcel?")
	alice.axe("the status filter")
	alice.choose("#status-filter", "")

	// The same panel in a full tab.
	alice.do(chromedp.EmulateViewport(1280, 760))
	alice.click("#tab-ongoing")
	alice.pick("Password reset loop")
	alice.waitText("#detail", "Audit trail")
	alice.shot("12-full-tab")

}

// The demo's interactions, by subject.
const (
	refundCase   = "Refund for order 1138"
	passwordCase = "Password reset loop"
	routerCall   = "Router keeps rebooting"
	parcelChat   = "Chat: Where is my parcel?"
)

// transferButton is the selected interaction's Transfer action, enabled.
const transferButton = `#detail button[data-action="transfer"]:not([aria-disabled])`

// inactive is the inactivity prompt of the interaction with this subject.
func inactive(subject string) string {
	return fmt.Sprintf(`.alert.inactive[aria-label=%s]`, jsString("Inactive: "+subject))
}

// TestPanelBrowserInactivity: after the inactivity time (1 s here) the
// panel prompts for each idle case and chat with Transfer (not for a chat),
// Defer, Complete and Later. Transfer opens the directory and Escape gives
// the focus back to the prompt; Defer defers through its dialog; Complete
// releases into wrap-up (1 min here), whose Extend moves the countdown out
// by one wrap-up, once, and Finish now completes it.
func TestPanelBrowserInactivity(t *testing.T) {
	const wrapUp = time.Minute
	pt := newPanelTest(t, func(c *config.Config) {
		for _, m := range []contactpad.Media{contactpad.SemiLive, contactpad.NonLive} {
			c.Timeouts.Inactivity[m] = config.Duration(time.Second)
			c.Timeouts.WrapUp[m] = config.Duration(wrapUp)
		}
	})
	alice := pt.page("alice", 1100, 700)
	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.acceptCall()

	for _, subject := range []string{refundCase, passwordCase, parcelChat} {
		alice.waitText(inactive(subject), "No activity for a while")
	}
	require.Equal(t, "Transfer Defer Complete Later", alice.texts(inactive(refundCase)+" button"))
	require.Equal(t, "Defer Complete Later", alice.texts(inactive(parcelChat)+" button"), "a chat cannot be transferred")
	alice.shot("13-inactive")

	// Transfer opens the directory for it; Escape closes it, and the focus
	// is back on the prompt's button.
	transfer := inactive(passwordCase) + ` button[data-key^="itransfer:"]`
	alice.clickOpen(transfer, "#dlg-route")
	alice.waitText("#route-subject", passwordCase)
	alice.waitFocus("#route-search")
	alice.axe("the directory from an inactivity prompt")
	alice.press(kb.Escape)
	alice.waitGone("#dlg-route[open]")
	alice.waitFocus(transfer)

	// Defer: the defer dialog; it leaves Ongoing (and its prompt) for Deferred.
	alice.clickOpen(inactive(refundCase)+` button[data-key^="idefer:"]`, "#dlg-defer")
	alice.waitText("#defer-subject", refundCase)
	alice.click(`#defer-presets button[data-preset="4h"]`)
	alice.click("#defer-go")
	alice.waitGone("#dlg-defer[open]")
	alice.waitGone(inactive(refundCase))
	alice.waitNoText("#list", refundCase)
	alice.click("#tab-deferred")
	alice.waitText("#list", refundCase)
	alice.click("#tab-ongoing")

	// Complete releases it into wrap-up.
	alice.click(inactive(passwordCase) + ` button[data-key^="irelease:"]`)
	alice.waitGone(inactive(passwordCase))
	alice.pick(passwordCase)
	const countdown = "#detail .timer.wrapup .countdown"
	alice.waitText(countdown, "Wrap-up ends in")
	ends := alice.until(countdown)

	// Extend moves the end out by one wrap-up: more than a minute is left.
	// The end before the click: read after it, it may already be the new
	// one, and the wait would wait for a third.
	alice.waitText(`#detail .timer.wrapup button[data-key^="extend:"]`, "Extend (1 left)")
	before := alice.eval(fmt.Sprintf(`document.querySelector(%s).dataset.until`, jsString(countdown)))
	alice.click(`#detail .timer.wrapup button[data-key^="extend:"]`)
	alice.waitFor("the extended wrap-up", fmt.Sprintf(`document.querySelector(%s).dataset.until !== %s`,
		jsString(countdown), jsString(before)))
	require.Equal(t, wrapUp, alice.until(countdown).Sub(ends))
	require.Regexp(t, `^(1:[0-5]\d|2:00)$`, alice.texts(countdown+" .cd-left"), "more than a minute is left")
	alice.waitText("#detail .audit", "wrap up extended")
	alice.shot("14-wrap-up-extended")
	// The demo allows one extension: none is left, and Extend says so.
	alice.waitText(`#detail .timer.wrapup button[data-key^="extend:"]`, "Extend (0 left)")
	alice.click(`#detail .timer.wrapup button[data-key^="extend:"]`)
	alice.waitText("#why", "Extend: No wrap-up extension left.")

	// Finish now: completed, in History.
	alice.click(`#detail .timer.wrapup button[data-key^="finish:"]`)
	alice.waitGone("#detail .timer.wrapup")
	alice.waitFocus("#detail") // gone with its button, the focus stays in the pane, not at the top of the page
	alice.waitText("#detail .meta", "Completed")
	alice.click("#tab-history")
	alice.waitText("#list", passwordCase)

	// Later puts the chat's prompt away.
	alice.click(inactive(parcelChat) + ` button[data-key^="ilater:"]`)
	alice.waitGone(inactive(parcelChat))
}

// deferring signs alice in, Available, with the Defer dialog of the
// refund case open.
func (pt *panelTest) deferring() *browserPage {
	alice := pt.page("alice", 1100, 700)
	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.waitText("#list", refundCase)
	alice.pick(refundCase)
	alice.clickOpen(`#detail button[data-action="defer"]:not([aria-disabled])`, "#dlg-defer")
	return alice
}

// TestPanelBrowserDialogOfWorkGone: a dialog about an interaction that
// leaves the agent's Ongoing folder meanwhile (here: its Case closed in
// Salesforce) closes and says so, rather than waiting for a deferral
// that can only be refused; the focus goes to the detail pane.
func TestPanelBrowserDialogOfWorkGone(t *testing.T) {
	pt := newPanelTest(t, nil)
	alice := pt.deferring()
	alice.waitText("#defer-subject", refundCase)

	org := newOrgClient(t, pt.org)
	var ids struct {
		Records []struct{ Id string }
	}
	// Closed at once, maybe before the bridge's own write of alice's work
	// (Working) has gone out: the writer reads the Case before it writes,
	// and does not put it back to Working.
	org.query("SELECT Id FROM Case WHERE Subject = '"+refundCase+"'", &ids)
	require.Len(t, ids.Records, 1)
	org.do("PATCH", "/sobjects/Case/"+ids.Records[0].Id, map[string]any{"Status": "Closed"}, http.StatusNoContent)

	alice.waitGone("#dlg-defer[open]")
	alice.waitText("#toast", "“"+refundCase+"” is no longer in your Ongoing folder")
	alice.waitFocus("#detail")
	alice.waitNoText("#list", refundCase)

	var c struct {
		Records []struct{ Status, Ctibridge_Status__c string }
	}
	eventually(t, "the bridge's own field of the closed Case written", func() bool {
		org.query("SELECT Status, Ctibridge_Status__c FROM Case WHERE Id = '"+ids.Records[0].Id+"'", &c)
		return len(c.Records) == 1 && c.Records[0].Ctibridge_Status__c == "completed"
	})
	require.Equal(t, "Closed", c.Records[0].Status, "the Case stays closed")
}

// TestPanelBrowserOfferInDialog: a modal dialog makes the page behind it
// inert, so an offer there could not be answered and would be missed. While
// alice's Defer dialog is open, the call that rings for her is at its top,
// and she accepts it there; closed, the offers are back in their place.
func TestPanelBrowserOfferInDialog(t *testing.T) {
	pt := newPanelTest(t, nil)
	alice := pt.page("alice", 1100, 700)
	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.waitText(".alert.offer", "Router keeps rebooting")
	alice.waitText("#list", refundCase)
	alice.pick(refundCase)
	alice.clickOpen(`#detail button[data-action="defer"]:not([aria-disabled])`, "#dlg-defer")
	alice.waitVisible("#dlg-defer .alert.offer")
	alice.waitText("#dlg-defer .alert.offer", "Router keeps rebooting")
	alice.shot("offer-in-dialog")
	alice.click("#dlg-defer .alert.offer button.primary")
	alice.waitGone(".alert.offer")
	alice.waitVisible("#live")
	require.Equal(t, "true", alice.eval(`String(document.getElementById('dlg-defer').open)`), "the dialog stays")
	alice.click("#dlg-defer button.close")
	alice.waitGone("#dlg-defer[open]")
	alice.waitFor("the offers back in place", `document.getElementById('alerts').parentElement.tagName === 'MAIN'`)
}

// TestPanelBrowserReopenedByItself: deferred work that comes back at its
// due date says so, wherever the agent is looking; and the Defer dialog
// offers no time that has begun already.
func TestPanelBrowserReopenedByItself(t *testing.T) {
	pt := newPanelTest(t, nil)
	alice := pt.deferring()
	require.Equal(t, "true", alice.eval(`String(new Date(document.getElementById('defer-at').min) > new Date())`),
		"the earliest time offered is still to come")
	alice.click("#dlg-defer button.close")

	var ongoing struct {
		Interactions []struct{ ID, Subject string }
	}
	require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/interactions?folder=ongoing", nil, &ongoing))
	var id string
	for _, i := range ongoing.Interactions {
		if i.Subject == refundCase {
			id = i.ID
		}
	}
	require.NotEmpty(t, id)
	due := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	require.NoError(t, apiCall(pt.base, "demo-alice", "POST", "/interactions/"+id+"/defer", map[string]string{"due_by": due}, nil))
	alice.waitNoText("#list", refundCase)
	alice.waitText("#toast", "“"+refundCase+"” is back in your Ongoing folder: its due date has come.")
	alice.waitText("#list", refundCase)
}

// TestPanelBrowserTransfers: alice hands a case to bob cold (at once, the
// note travels with it); bob sends it cold to Billing while its agents
// are busy, where it waits (the directory shows the queue and its wait);
// alice sends another case warm to Support, which delivers the request to
// bob, its available agent, who accepts; and alice, Available again, gets
// the case that waited for Billing.
func TestPanelBrowserTransfers(t *testing.T) {
	pt := newPanelTest(t, func(c *config.Config) {
		c.Timeouts.TransferAccept = config.Duration(time.Minute) // no race with the accept timeout
	})
	alice := pt.page("alice", 1100, 700)
	bob := pt.page("bob", 1100, 700)
	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.acceptCall()
	bob.signIn("demo-bob", "Bob")
	bob.setPresence("available")

	// Cold to bob: handed over at once; bob has it, connected, with the note.
	const coldNote = "Customer asked for Bob by name"
	alice.pick(passwordCase)
	alice.startTransfer("Bob", coldNote, true)
	alice.waitGone("#dlg-route[open]")
	alice.waitText("#toast", "Transferred to Bob: they get it as soon as they have room.")
	alice.waitNoText("#list", passwordCase)
	bob.pick(passwordCase)
	bob.waitText("#detail .meta", "Connected")
	bob.waitText("#detail", "Transfer note: "+coldNote)
	bob.waitText("#detail .audit", "Cold transfer to agent bob")
	bob.shot("15-cold-transfer-received")

	// Cold to the service Billing while alice is busy and carol logged out:
	// it waits in Billing's queue.
	alice.setPresence("busy")
	bob.clickOpen(transferButton, "#dlg-route")
	bob.waitText("#route-list", "Service · queue 0 · wait 0 s")
	bob.axe("the directory")
	bob.startTransfer("Billing", "", true)
	bob.waitGone("#dlg-route[open]")
	bob.waitText("#toast", "Transferred to Billing: its next free agent gets it.")
	bob.waitNoText("#list", passwordCase)

	// alice's directory shows Billing's queue and how long it has waited.
	alice.pick(refundCase)
	alice.clickOpen(transferButton, "#dlg-route")
	alice.waitText("#route-list li", "queue 1 · wait ")
	require.Regexp(t, `^BillingService · queue 1 · wait \d+ s$`, alice.texts("#route-list li:first-child"))
	alice.shot("16-directory-queue")

	// Warm to Support: delivered to bob, who sees who sends what, with the note.
	const warmNote = "Refund approved; please confirm with the customer"
	alice.startTransfer("Support", warmNote, false)
	alice.waitText("#route-progress", "waiting for Bob to accept")
	bob.waitText(".alert.request", "Transfer request from Alice")
	bob.waitText(".alert.request .subject", refundCase)
	bob.waitText(".alert.request .note", warmNote)
	bob.shot("17-service-transfer-request")
	// Logged out, bob may not accept: the panel says why, in words.
	require.NoError(t, apiCall(pt.base, "demo-bob", "PUT", "/me/presence", map[string]string{"presence": "logged_out"}, nil))
	bob.waitPresence("logged_out")
	bob.click(".alert.request button.primary")
	bob.waitText("#toast", "Log in to accept it.")
	bob.setPresence("available")
	bob.click(".alert.request button.primary") // Accept
	alice.waitText("#route-progress", "Bob accepted.")
	alice.click("#route-progress button.primary") // Transfer now
	alice.waitGone("#dlg-route[open]")
	alice.waitText("#toast", "Handed over to Bob.")
	require.NotContains(t, alice.texts("#toast"), "no longer in your Ongoing folder", "her own hand-over is no news")
	alice.waitNoText("#list", refundCase)
	bob.pick(refundCase)
	bob.waitText("#detail", "Transfer note: "+warmNote)
	bob.waitText("#detail .audit", "Transferred from alice to bob")

	// Available again, alice gets the case that waited for Billing.
	alice.setPresence("available")
	alice.pick(passwordCase)
	alice.waitText("#detail .meta", "Billing")
	alice.waitText("#detail .audit", "Cold transfer to service billing")
}

// TestPanelBrowserReconnect cuts alice's connection while her warm
// transfer waits for bob, and bob declines meanwhile. The indicator goes
// to Reconnecting…; when the connection is back, the panel resumes the
// event stream with Last-Event-ID, goes Live and shows the failure that
// happened while it was away (only the replayed event tells it).
func TestPanelBrowserReconnect(t *testing.T) {
	pt := newPanelTest(t, func(c *config.Config) {
		c.Timeouts.TransferAccept = config.Duration(time.Minute)
		c.Timeouts.WrapUp[contactpad.NonLive] = config.Duration(time.Minute)
	})
	proxy := newCutProxy(t, pt.base)
	alice := pt.page("alice", 300, 550)
	alice.base = proxy.srv.URL
	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.acceptCall()
	require.NoError(t, apiCall(pt.base, "demo-bob", "PUT", "/me/presence", map[string]string{"presence": "available"}, nil))

	alice.pick(passwordCase)
	alice.startTransfer("Bob", "", false)
	alice.waitText("#route-progress", "waiting for Bob to accept")
	alice.press(kb.Escape) // the transfer goes on at the top of the page
	alice.waitGone("#dlg-route[open]")
	alice.waitText(".alert.outgoing", "waiting for Bob to accept")
	alice.axe("a transfer waiting")

	proxy.cut()
	alice.waitText("#conn.down", "Reconnecting")
	var open struct{ Transfers []struct{ ID string } }
	require.NoError(t, apiCall(pt.base, "demo-bob", "GET", "/transfers", nil, &open))
	require.Len(t, open.Transfers, 1)
	require.NoError(t, apiCall(pt.base, "demo-bob", "POST", "/transfers/"+open.Transfers[0].ID+"/decline",
		map[string]string{"reason": "Back in five"}, nil))
	// Connection lost: a banner says so, and Cancel transfer waits (it
	// could not get through).
	alice.waitText("#offline", "Connection lost - you may not receive work")
	alice.waitFor("Cancel transfer disabled", `document.querySelector('.alert.outgoing button[data-key^="tcancel:"]').getAttribute('aria-disabled') === 'true'`)
	alice.click(`.alert.outgoing button[data-key^="tcancel:"]`)
	alice.shot("18-reconnecting")

	proxy.restore()
	alice.waitLive()
	alice.waitGone("#offline")
	require.Equal(t, "true", alice.eval(`String(document.getElementById('toast').hidden)`),
		"back in touch, with no complaint that ctibridge cannot be reached")
	alice.waitText(".alert.outgoing", "Transfer failed: Bob declined: “Back in five”.")
	alice.shot("19-reconnected")
	ids := proxy.lastEventIDs()
	require.GreaterOrEqual(t, len(ids), 2, "the panel reconnected")
	require.Empty(t, ids[0], "the first stream starts at the present")
	require.Regexp(t, `^\d+$`, ids[len(ids)-1], "the reconnect resumes after the last event seen")

	// Released into wrap-up, the case has nothing to try again: the
	// failure goes.
	alice.pick(passwordCase)
	alice.click(`#detail button[data-action="release"]`)
	alice.waitText("#detail .meta", "Wrap-up")
	alice.waitGone(".alert.outgoing")
}

// TestPanelBrowserPushedOut: with api.max_streams 1, a second panel of
// alice's takes the event stream over; the first says so and stops,
// instead of coming back and pushing the second out in turn.
func TestPanelBrowserPushedOut(t *testing.T) {
	pt := newPanelTest(t, func(c *config.Config) { c.API.MaxStreams = 1 })
	alice := pt.page("alice", 300, 550)
	alice.signIn("demo-alice", "Alice")
	alice.waitLive()
	// At this width too the presence selector shows its longest option
	// whole (the arrow takes about 20 px).
	require.Equal(t, "true", alice.eval(`(() => {
		const s = document.getElementById('presence'), cs = getComputedStyle(s);
		const c = document.createElement('canvas').getContext('2d');
		c.font = cs.fontWeight + ' ' + cs.fontSize + ' ' + cs.fontFamily;
		const longest = Math.max(...[...s.options].map((o) => c.measureText(o.text).width));
		return String(s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20 >= longest);
	})()`), "the presence is not cut")

	req, err := http.NewRequest("GET", pt.base+"/api/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer demo-alice")
	second, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer second.Body.Close()
	require.Equal(t, 200, second.StatusCode)

	alice.waitText("#conn.down", "Stopped")
	alice.waitText("#toast", "This panel is open in too many windows")
	alice.shot("20-pushed-out")
}

// TestPanelBrowserReset: with api.max_replay 1, a panel that was away for
// more events than that gets a stream.reset when it reconnects: it shows
// the state as it is now (loaded again, not replayed), reports no error,
// and its next reconnect resumes after the reset's id, that of the newest
// event, which a replay of her own events would not have given it.
func TestPanelBrowserReset(t *testing.T) {
	pt := newPanelTest(t, func(c *config.Config) { c.API.MaxReplay = 1 })
	proxy := newCutProxy(t, pt.base)
	alice := pt.page("alice", 300, 550)
	alice.base = proxy.srv.URL
	alice.signIn("demo-alice", "Alice")
	// Not through the panel's selector: a PUT of the panel still in flight
	// when the proxy cuts its connection is sent again by the browser once
	// the proxy is back, over the presence the test sets meanwhile.
	require.NoError(t, apiCall(pt.base, "demo-alice", "PUT", "/me/presence", map[string]string{"presence": "available"}, nil))
	alice.waitFor("the panel showing alice available", `document.getElementById('presence').value === 'available'`)

	proxy.cut()
	alice.waitText("#conn.down", "Reconnecting")
	for _, presence := range []string{"busy", "available", "busy"} {
		require.NoError(t, apiCall(pt.base, "demo-alice", "PUT", "/me/presence", map[string]string{"presence": presence}, nil))
	}
	// The newest event is none of alice's: a replay would leave her
	// panel's Last-Event-ID at her last one, the reset moves it here.
	require.NoError(t, apiCall(pt.base, "demo-bob", "PUT", "/me/presence", map[string]string{"presence": "busy"}, nil))
	newest := newestEventID(t, pt.base)

	proxy.restore()
	alice.waitLive()
	alice.waitFor("the presence set while away", `document.getElementById('presence').value === 'busy'`)
	ids := proxy.lastEventIDs()
	behind, err := strconv.ParseInt(ids[len(ids)-1], 10, 64)
	require.NoError(t, err)
	require.Less(t, behind, newest-1, "the panel came back more than api.max_replay events behind")

	proxy.cut()
	alice.waitText("#conn.down", "Reconnecting")
	proxy.restore()
	alice.waitLive()
	ids = proxy.lastEventIDs()
	require.Equal(t, strconv.FormatInt(newest, 10), ids[len(ids)-1], "after the reset, the panel resumes from its id")
}

// newestEventID reads the id of the newest event off the preamble of an
// event stream, which names the id it starts after.
func newestEventID(t *testing.T, base string) int64 {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/api/v1/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer demo-admin")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if after, ok := strings.CutPrefix(sc.Text(), ": ctibridge events after "); ok {
			id, err := strconv.ParseInt(after, 10, 64)
			require.NoError(t, err)
			return id
		}
	}
	t.Fatalf("the event stream ended without its preamble: %v", sc.Err())
	return 0
}

// TestPanelBrowserKeyboard works the panel with the keyboard alone: sign
// in with the form, presence with the arrow keys, accept the call, open a
// case from the list, cold-transfer it through the directory (search,
// arrow keys, Return, Space on Cold), then the defer and abandon dialogs,
// which give the focus back to the button that opened them on Escape or
// Cancel, and the folder tabs with the arrow keys.
func TestPanelBrowserKeyboard(t *testing.T) {
	// Without Sign in with Salesforce the token field is the sign-in.
	pt := newPanelTest(t, func(c *config.Config) { c.Panel.SignIn = config.SignIn{} })
	alice := pt.page("alice", 1100, 700)
	alice.do(chromedp.Navigate(pt.base + "/"))
	alice.waitFocus("#signin-token")
	alice.press("demo-alice" + kb.Enter)
	alice.waitText("#me-name", "Alice")
	alice.waitLive()
	alice.axe("signed in")

	// Presence: from Logged out up to Available now, one option at a time.
	alice.tabTo("#presence")
	alice.press(kb.ArrowUp + kb.ArrowUp + kb.ArrowUp)
	alice.waitPresence("available")

	alice.tabTo(".alert.offer button.primary") // Accept the call
	alice.press(kb.Enter)
	alice.waitGone(".alert.offer")
	require.NoError(t, apiCall(pt.base, "demo-bob", "PUT", "/me/presence", map[string]string{"presence": "available"}, nil))

	// A case from the list: Tab into it, the arrow keys, Return.
	alice.openRow(passwordCase)
	alice.tabTo(transferButton)
	alice.press(kb.Enter)
	alice.waitVisible("#dlg-route[open]")
	alice.waitFocus("#route-search")
	alice.waitText("#route-list", "Billing")
	alice.press("o")
	alice.waitNoText("#route-list", "Billing")
	alice.press(kb.ArrowDown)
	alice.waitText("#route-list li.active", "Carol")
	alice.press(kb.ArrowUp)
	alice.waitText("#route-list li.active", "Bob")
	alice.press(kb.Enter) // chooses Bob; the focus goes on to the note
	alice.waitText("#route-go", "Transfer to Bob")
	alice.waitFocus("#route-note")
	alice.axe("the directory, Bob chosen")
	alice.press("Over to you")
	// Return in the search field only chooses, even when the entry is
	// chosen already: it never sends the transfer.
	alice.do(chromedp.Focus(chromedp.ID("route-search")))
	alice.press(kb.Enter)
	alice.waitFocus("#route-note")
	require.Equal(t, "false", alice.eval(`String(document.getElementById('route-pick').hidden)`), "no transfer started")
	require.Empty(t, alice.texts("#route-progress"), "no transfer started")
	alice.tabTo("#route-cold")
	alice.press(" ")
	alice.waitFor("Cold ticked", `document.getElementById('route-cold').checked`)
	alice.tabTo("#route-go")
	alice.press(kb.Enter)
	alice.waitGone("#dlg-route[open]")
	alice.waitNoText("#list", passwordCase)
	alice.waitFocus("#detail") // its button is gone with it: the focus stays in the detail pane

	// Defer: Escape closes the dialog, and the focus is back on Defer.
	alice.tabTo("#list button.pick", true)
	alice.openRow(refundCase)
	const deferButton = `#detail button[data-action="defer"]`
	alice.tabTo(deferButton)
	alice.dialogAndBack("#dlg-defer", "#defer-at", kb.Escape)

	// Abandon opens on "Keep it"; Return keeps it, and the focus is back on Abandon.
	alice.tabTo(`#detail button[data-action="abandon"]`, true)
	alice.dialogAndBack("#dlg-abandon", "#dlg-abandon button.close", kb.Enter)

	// Defer for real: a preset (shift+Tab from the date), Return, Return.
	// The detail re-renders with Resume only: Defer is gone, the focus
	// stays in the detail pane.
	alice.tabTo(deferButton)
	alice.press(kb.Enter)
	alice.waitFocus("#defer-at")
	alice.tabTo(`#defer-presets button[data-preset="week"]`, true)
	alice.press(kb.Enter)
	alice.waitFocus("#defer-go")
	alice.press(kb.Enter)
	alice.waitGone("#dlg-defer[open]")
	alice.waitText("#detail .meta", "Deferred")
	alice.waitFocus("#detail")
	require.Equal(t, "Resume", alice.texts("#detail .actions button"))
	alice.axe("a deferred case")

	// Consult a number on the call: Return in the search field takes the
	// focus to Dial, and only Dial dials.
	alice.tabTo("#list button.pick", true)
	alice.openRow("Router keeps rebooting")
	alice.tabTo(`#detail button[data-action="consult"]`)
	alice.press(kb.Enter)
	alice.waitFocus("#route-search")
	alice.press("+4930123456" + kb.Enter)
	alice.waitFocus("#route-go")
	require.Equal(t, "true", alice.eval(`String(document.getElementById('dlg-route').open)`), "not dialled yet")
	require.NotContains(t, alice.texts("#detail"), "Consult with")
	alice.press(kb.Enter)
	alice.waitGone("#dlg-route[open]")
	alice.waitText("#detail .consult", "Consult with +4930123456")

	// The folder tabs: the arrow keys move between them.
	alice.tabTo(`[role=tab][aria-selected=true]`, true)
	alice.press(kb.ArrowRight)
	alice.waitFocus("#tab-deferred")
	alice.waitText("#list", refundCase)
}

// panelTest is one browser test's world: the demo daemon on 127.0.0.1 and
// a headless Chromium, whose pages report console problems when the test
// ends. Screenshots go to $CTIBRIDGE_TEST_OUT/panel (default: the test's
// temp dir).
type panelTest struct {
	t       *testing.T
	base    string // the daemon's URL
	org     string // the local org's URL
	browser context.Context
	out     string
}

// newPanelTest starts the demo daemon (with its config adjusted by
// tweak, when not nil) and a browser.
func newPanelTest(t *testing.T, tweak func(*config.Config)) *panelTest {
	t.Helper()
	return newPanelTestOn(t, func() (string, string) { return startDemo(t, tweak) })
}

// newPanelTestOn is newPanelTest on the demo that start starts, once the
// browser is known to be there.
func newPanelTestOn(t *testing.T, start func() (base, org string)) *panelTest {
	t.Helper()
	chromium := findChromium(t)
	out := os.Getenv("CTIBRIDGE_TEST_OUT")
	if out == "" {
		out = t.TempDir()
	}
	out = filepath.Join(out, "panel")
	require.NoError(t, os.MkdirAll(out, 0o755))

	base, org := start()

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
	return &panelTest{t: t, base: base, org: org, browser: browser, out: out}
}

// page opens a tab of width x height in its own browser context (its
// own session storage), for one agent. Any console error or uncaught
// exception it reports fails the test.
func (pt *panelTest) page(name string, width, height int64) *browserPage {
	pt.t.Helper()
	t := pt.t
	ctx, cancel := chromedp.NewContext(pt.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &browserPage{t: t, ctx: ctx, name: name, out: pt.out, base: pt.base}
	require.NoError(t, chromedp.Listen(ctx, p.observe))
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(width, height)))
	t.Cleanup(p.checkConsole)
	return p
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
// URL, and the local org's, once the seed records are interactions.
func startDemo(t *testing.T, tweak func(*config.Config)) (string, string) {
	t.Helper()
	return startDemoWith(t, demoEnv{Config: tweak})
}

// startDemoWith is startDemo with more of the demo's environment (its
// listeners, story and pace are the test's); it returns the org's URL too.
func startDemoWith(t *testing.T, env demoEnv) (base, orgURL string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	orgLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env.Listener, env.OrgListener, env.NoStory, env.NewRecordsEvery = ln, orgLn, true, time.Hour
	go func() {
		done <- demo(ctx, t.TempDir(), io.Discard, env)
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	base = "http://" + ln.Addr().String()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list struct{ Interactions []json.RawMessage }
		err := apiCall(base, "demo-admin", "GET", "/interactions", nil, &list)
		if err == nil && len(list.Interactions) == len(demoRecords())-5 { // less its five Users
			return base, "http://" + orgLn.Addr().String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not make its %d interactions in time (have %d, %v)", len(demoRecords())-5,
				len(list.Interactions), err)
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded by the deadline
	}
}

// apiCall calls the daemon's API as the token's owner, decoding the answer
// into out (when not nil); an answer that is not 2xx is an error.
func apiCall(base, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(res.Body)
		return fmt.Errorf("%s %s: %s %s", method, path, res.Status, msg)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// waitPresence waits until the API reports the agent's presence.
func (p *browserPage) waitPresence(want string) {
	p.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	token := p.token()
	for {
		var me struct{ Presence string }
		_ = apiCall(p.base, token, "GET", "/me", nil, &me)
		if me.Presence == want {
			return
		}
		if time.Now().After(deadline) {
			p.fail("presence is %q, want %q; toast %q", me.Presence, want, p.eval(`document.getElementById('toast').textContent`))
		}
		time.Sleep(50 * time.Millisecond) // polling, bounded by the deadline
	}
}

// browserPage is one agent's tab, in its own browser context (its own
// session storage and cookies), with the problems its console reported.
type browserPage struct {
	t    *testing.T
	ctx  context.Context
	name string
	out  string
	base string // the daemon's URL

	mu       sync.Mutex
	problems []string
}

// stepTimeout bounds every wait: a step that should take milliseconds may
// take seconds on a loaded machine, never this long.
const stepTimeout = 15 * time.Second

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

// clickTo clicks sel until the JavaScript condition holds: a mouse click
// that lands while the page re-renders (a list refreshed by an event, on
// a loaded machine) hits the node's old place and is lost, and the user
// would click again. It clicks again only while sel is still there.
func (p *browserPage) clickTo(sel, what, condition string) {
	p.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		p.click(sel)
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](condition, chromedp.WithPollingTimeout(2*time.Second)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.fail("clicked %s: waiting for %s: %v", sel, what, err)
		}
		if p.eval(fmt.Sprintf(`String(%s(document.querySelector(%s)))`, visible, jsString(sel))) != "true" {
			p.waitFor(what, condition) // the click took: wait for what it does
			return
		}
	}
}

// clickOpen clicks sel until dialog (an id) is open.
func (p *browserPage) clickOpen(sel, dialog string) {
	p.t.Helper()
	p.clickTo(sel, dialog+" open", fmt.Sprintf(`%s(document.querySelector(%s))`, visible, jsString(dialog+"[open]")))
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

// shot saves a screenshot of the page, and checks the state it shows with
// axe-core (checkAxe): every state a test thinks worth a picture must
// have no accessibility violations.
func (p *browserPage) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail("screenshot %s: %v", name, err)
	}
	require.NoError(p.t, os.WriteFile(filepath.Join(p.out, fmt.Sprintf("%s-%s.png", name, p.name)), png, 0o644))
	p.axe(name)
}

// signIn opens the panel signed in from the URL, and waits until it shows
// the agent and its live updates flow (events before that would be missed).
func (p *browserPage) signIn(token, name string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + "/#token=" + token))
	p.waitText("#me-name", name)
	p.waitLive()
}

// waitLive waits until the connection indicator says live updates flow.
func (p *browserPage) waitLive() {
	p.t.Helper()
	p.waitFor("live updates", `document.getElementById('conn').classList.contains('ok')`)
}

// setPresence chooses a presence in the header and waits until the API has it.
func (p *browserPage) setPresence(presence string) {
	p.t.Helper()
	p.choose("#presence", presence)
	p.waitPresence(presence)
}

// token is the API token the page signed in with.
func (p *browserPage) token() string {
	p.t.Helper()
	return p.eval(`sessionStorage.getItem('ctibridge.token') || ''`)
}

// texts is the text of every element of sel, joined by spaces.
func (p *browserPage) texts(sel string) string {
	p.t.Helper()
	return p.eval(fmt.Sprintf(`[...document.querySelectorAll(%s)].map((el) => el.textContent).join(' ')`, jsString(sel)))
}

// press types keys on whatever has the focus, as the keyboard does.
func (p *browserPage) press(keys string, opts ...chromedp.KeyOption) {
	p.t.Helper()
	p.do(chromedp.KeyEvent(keys, opts...))
}

// tabTo presses Tab (shift+Tab with back) until sel has the focus.
func (p *browserPage) tabTo(sel string, back ...bool) {
	p.t.Helper()
	p.waitVisible(sel)
	var opts []chromedp.KeyOption
	if len(back) > 0 && back[0] {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	focused := fmt.Sprintf(`String(!!document.activeElement && document.activeElement.matches(%s))`, jsString(sel))
	for range 40 {
		if p.eval(focused) == "true" {
			return
		}
		p.press(kb.Tab, opts...)
	}
	p.fail("Tab does not reach %s; the focus is on %s", sel, p.eval(`document.activeElement.outerHTML.slice(0, 120)`))
}

// waitFocus waits until sel has the focus.
func (p *browserPage) waitFocus(sel string) {
	p.t.Helper()
	p.waitFor("focus on "+sel, fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%s)`, jsString(sel)))
}

// until is the deadline of the countdown sel.
func (p *browserPage) until(sel string) time.Time {
	p.t.Helper()
	v := p.eval(fmt.Sprintf(`document.querySelector(%s).dataset.until`, jsString(sel)))
	at, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		p.fail("countdown %s: until %q: %v", sel, v, err)
	}
	return at
}

// acceptCall accepts the call the demo offers when alice goes Available
// (left alone, its offer would time out and make her busy).
func (p *browserPage) acceptCall() {
	p.t.Helper()
	p.clickTo(".alert.offer button.primary", ".alert.offer gone",
		fmt.Sprintf(`!%s(document.querySelector(".alert.offer"))`, visible))
}

// startTransfer chooses target in the open directory dialog by its whole
// name, writes the note, ticks Cold when cold, and starts the transfer.
func (p *browserPage) startTransfer(target, note string, cold bool) {
	p.t.Helper()
	if p.eval(`String(document.getElementById('dlg-route').open)`) != "true" {
		p.clickOpen(transferButton, "#dlg-route")
	}
	p.waitText("#route-list", target)
	p.do(chromedp.SendKeys(chromedp.ID("route-search"), target))
	p.waitText("#route-go", "Transfer to "+target)
	if note != "" {
		p.do(chromedp.SendKeys(chromedp.ID("route-note"), note))
	}
	if cold {
		p.click("#route-cold")
	}
	p.click("#route-go")
}

// openRow moves the focus into the list (when it is not there), arrows to
// the row of subject and opens it with Return.
func (p *browserPage) openRow(subject string) {
	p.t.Helper()
	p.tabTo("#list button.pick")
	// How many rows down (up, when negative) the row of subject is.
	distance := fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll('#list button.pick')];
		const to = rows.findIndex((r) => r.querySelector('.subject').textContent === %s);
		return String(to < 0 ? 'none' : to - rows.indexOf(document.activeElement));
	})()`, jsString(subject))
	for range 10 {
		switch d := p.eval(distance); {
		case d == "0":
			p.press(kb.Enter)
			p.waitText("#detail h2", subject)
			return
		case d == "none":
			p.fail("no row %q", subject)
		case strings.HasPrefix(d, "-"):
			p.press(kb.ArrowUp)
		default:
			p.press(kb.ArrowDown)
		}
	}
	p.fail("the arrow keys do not reach the row %q", subject)
}

// dialogAndBack presses Return on the focused button, checks that the
// dialog opens with the focus on inside, closes it with key, and checks
// that the focus is back on the button.
func (p *browserPage) dialogAndBack(dialog, inside, key string) {
	p.t.Helper()
	opener := p.eval(`document.activeElement.dataset.key`)
	p.press(kb.Enter)
	p.waitVisible(dialog + "[open]")
	p.waitFocus(inside)
	p.press(key)
	p.waitGone(dialog + "[open]")
	p.waitFocus(fmt.Sprintf(`[data-key=%s]`, jsString(opener)))
}

// cutProxy stands between a page and the daemon, so that a test can cut
// the connection (the event stream breaks, new connections fail) and
// restore it. It records the Last-Event-ID of each event stream.
type cutProxy struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	ids  []string
	// gets are the paths and queries of the GET requests it passed on.
	gets []string
	// holdPath is the path of the next GET whose answer it holds back
	// until release (a read answered late); held is closed once it has
	// the answer.
	holdPath      string
	held, release chan struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = stdlog.New(io.Discard, "", 0) // a cut stream is no news
	p := &cutProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			panic(http.ErrAbortHandler) // the connection drops, as when the network fails
		}
		p.mu.Lock()
		if r.URL.Path == "/api/v1/events" {
			p.ids = append(p.ids, r.Header.Get("Last-Event-ID"))
		}
		if r.Method == http.MethodGet {
			p.gets = append(p.gets, r.URL.RequestURI())
		}
		hold := r.Method == http.MethodGet && p.holdPath != "" && r.URL.Path == p.holdPath
		if hold {
			p.holdPath = ""
		}
		p.mu.Unlock()
		if !hold {
			rp.ServeHTTP(w, r)
			return
		}
		answer := httptest.NewRecorder()
		rp.ServeHTTP(answer, r)
		close(p.held)
		select {
		case <-p.release:
		case <-r.Context().Done():
			return
		}
		maps.Copy(w.Header(), answer.Header())
		w.WriteHeader(answer.Code)
		_, _ = w.Write(answer.Body.Bytes())
	}))
	t.Cleanup(func() {
		p.srv.CloseClientConnections() // the event stream would keep Close waiting
		p.srv.Close()
	})
	return p
}

// cut drops every connection, and every new one until restore.
func (p *cutProxy) cut() {
	p.down.Store(true)
	p.srv.CloseClientConnections()
}

func (p *cutProxy) restore() { p.down.Store(false) }

// hold holds back the answer of the next GET of path until the returned
// release is called, and returns a channel closed once it has the answer.
func (p *cutProxy) hold(path string) (held <-chan struct{}, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdPath, p.held, p.release = path, make(chan struct{}), make(chan struct{})
	return p.held, sync.OnceFunc(func() { close(p.release) })
}

// requested reports whether a GET of a path and query containing every
// one of parts passed through since the request number from.
func (p *cutProxy) requested(from int, parts ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, uri := range p.gets[min(from, len(p.gets)):] {
		if !slices.ContainsFunc(parts, func(part string) bool { return !strings.Contains(uri, part) }) {
			return true
		}
	}
	return false
}

// requests is how many GET requests passed through so far.
func (p *cutProxy) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.gets)
}

// lastEventIDs are the Last-Event-ID headers of the event streams so far.
func (p *cutProxy) lastEventIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ids)
}
