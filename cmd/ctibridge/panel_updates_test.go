package main

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/contactpad"
)

// TestPanelUpdatesBurst: 201 changes of one of alice's cases in a burst
// (deferred and resumed a hundred times, deferred again; each an event on
// her stream), then its release and wrap-up. Her panel applies the events
// as they come and fetches what they cannot carry at most about once a
// second: counted on the server side, it makes at most 40 requests for
// the whole burst, none refused with 429, and ends showing the state the
// API shows. A full reload per event made 6 requests each, 1,200 here.
func TestPanelUpdatesBurst(t *testing.T) {
	pt, d := newUpdatesTest(t, nil)
	proxy := newCountingProxy(t, pt.base)
	alice := pt.page("alice", 400, 600)
	alice.base = proxy.url

	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.acceptCall()
	alice.waitText("#list", refundCase)
	alice.waitText("#list", passwordCase)
	refund := interactionID(t, pt.base, "demo-alice", refundCase)
	alice.pick(passwordCase) // a selected interaction: its audit trail is fetched, not the burst's

	proxy.reset()
	ctx := context.Background()
	due := time.Now().Add(time.Hour)
	for range 100 {
		_, err := d.engine.Apply(ctx, adapter.Defer{ID: refund, Agent: "alice", DueBy: &due})
		require.NoError(t, err)
		_, err = d.engine.Apply(ctx, adapter.Resume{ID: refund, Agent: "alice"})
		require.NoError(t, err)
	}
	_, err := d.engine.Apply(ctx, adapter.Defer{ID: refund, Agent: "alice", DueBy: &due})
	require.NoError(t, err)

	alice.waitNoText("#list", refundCase) // deferred: out of Ongoing
	alice.waitText("#tab-deferred .count", "(1)")
	alice.click("#tab-deferred")
	alice.waitText("#list", refundCase)
	alice.waitText("#list", "Due ")
	alice.shot("upd-01-after-burst")

	// Back, released and finished: on top of History, counted.
	_, err = d.engine.Apply(ctx, adapter.Resume{ID: refund, Agent: "alice"})
	require.NoError(t, err)
	_, err = d.engine.Apply(ctx, adapter.Release{ID: refund, Agent: "alice"})
	require.NoError(t, err)
	_, err = d.engine.Apply(ctx, adapter.FinishWrapUp{ID: refund, Agent: "alice"})
	require.NoError(t, err)
	alice.waitText("#tab-history .count", "(1)")
	alice.click("#tab-history")
	alice.waitText("#list li:first-child .subject", refundCase)
	alice.waitText("#list li:first-child", "Completed")

	// What the panel shows is what the API says.
	alice.click("#tab-ongoing")
	var ongoing struct{ Interactions []struct{ Subject string } }
	require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/interactions?folder=ongoing", nil, &ongoing))
	var want []string
	for _, i := range ongoing.Interactions {
		want = append(want, i.Subject)
	}
	alice.waitFor("Ongoing as the API lists it", fmt.Sprintf(
		`[...document.querySelectorAll('#list .pick .subject')].map((s) => s.textContent).join('|') === %s`,
		jsString(strings.Join(want, "|"))))
	alice.waitText("#detail h2", passwordCase)
	require.NotContains(t, alice.eval(`document.getElementById('toast').textContent`), "too many requests")

	n, refused, paths := proxy.settle(t)
	t.Logf("the panel made %d requests for the burst: %v", n, paths)
	require.LessOrEqual(t, n, 40, "requests of the panel during the burst: %v", paths)
	require.Zero(t, refused, "requests refused with 429")
}

// TestPanelHistoryPages: History shows its newest 50, its true count, and
// "Show more" pages on to the end; each item shows when it was completed;
// the search box asks the server, which searches the whole History.
func TestPanelHistoryPages(t *testing.T) {
	pt, d := newUpdatesTest(t, nil)
	t0 := time.Now().Add(-48 * time.Hour).Truncate(time.Minute)
	require.NoError(t, adapter.UpdateOne(context.Background(), d.store, func(tx adapter.Tx) error {
		for k := 1; k <= 120; k++ {
			subject := fmt.Sprintf("Old case %03d", k)
			if k%10 == 0 {
				subject = fmt.Sprintf("Refund request %03d", k)
			}
			at := t0.Add(time.Duration(k) * time.Minute)
			if err := tx.PutInteraction(&contactpad.Interaction{
				ID: fmt.Sprintf("int_hist%03d", k), CRMID: fmt.Sprintf("500H%03d", k), CRMObject: "Case",
				Media: contactpad.NonLive, Service: "support", Status: contactpad.Completed, Owner: "alice",
				Subject: subject, Tags: []string{}, CreatedAt: at, UpdatedAt: at, LastActivityAt: at, Version: 1,
			}); err != nil {
				return err
			}
			if err := tx.AppendAudit(&contactpad.AuditEntry{ID: fmt.Sprintf("aud_hist%03d", k), InteractionID: fmt.Sprintf("int_hist%03d", k),
				At: at, Actor: "alice", Action: contactpad.AuditCompleted, Category: contactpad.CategoryWrapUp,
				FromStatus: contactpad.WrapUp, ToStatus: contactpad.Completed, Message: "Completed by alice"}); err != nil {
				return err
			}
		}
		return nil
	}))
	for _, size := range []struct {
		name          string
		width, height int64
	}{{"softphone", 400, 600}, {"tab", 1280, 800}} {
		t.Run(size.name, func(t *testing.T) {
			proxy := newCutProxy(t, pt.base)
			alice := pt.page("alice-"+size.name, size.width, size.height)
			alice.t = t
			alice.base = proxy.srv.URL
			alice.signIn("demo-alice", "Alice")
			alice.waitText("#tab-history .count", "(120)")
			alice.click("#tab-history")
			alice.waitText("#history-count", "120 in History, 50 shown")
			require.Equal(t, "50", alice.eval(`String(document.querySelectorAll('#list .pick').length)`))
			require.Equal(t, "Refund request 120", alice.eval(`document.querySelector('#list .pick .subject').textContent`), "newest first")
			// Opening an older item reads it again; it keeps its place.
			order := `[...document.querySelectorAll('#list .pick')].map((b) => b.dataset.id).join()`
			listed := alice.eval(order)
			third := alice.eval(`document.querySelectorAll('#list .pick .subject')[2].textContent`)
			alice.click(`#list li:nth-child(3) .pick`)
			alice.waitText("#detail h2", third)
			alice.waitText("#detail .audit summary", "Audit trail (1)") // read again, with its trail
			require.Equal(t, listed, alice.eval(order), "History stays newest first")
			// Each item shows when it was completed.
			require.Equal(t, "50", alice.eval(`String(document.querySelectorAll('#list .pick time[datetime]').length)`))
			alice.shot("upd-02-history-" + size.name)

			count := func(want string) string {
				return fmt.Sprintf(`document.getElementById('history-count').textContent === %s`, jsString(want))
			}
			alice.clickTo("#history-more", "a second page", count("120 in History, 100 shown"))
			alice.clickTo("#history-more", "the last page", count("120 in History"))
			alice.waitGone("#history-more")
			require.Equal(t, "120", alice.eval(`String(new Set([...document.querySelectorAll('#list .pick')].map((b) => b.dataset.id)).size)`),
				"every item once")
			require.Equal(t, "Old case 001", alice.eval(`[...document.querySelectorAll('#list .pick .subject')].pop().textContent`))

			// A reload of the whole state (here after the connection comes
			// back) keeps the pages the agent loaded.
			before := proxy.requests()
			proxy.cut()
			alice.waitText("#conn.down", "Reconnecting")
			proxy.restore()
			alice.waitLive()
			deadline := time.Now().Add(stepTimeout)
			for !proxy.requested(before, "folder=history", "limit=120") {
				if time.Now().After(deadline) {
					t.Fatalf("the panel did not reload History's 120 loaded items")
				}
				time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
			}
			alice.waitText("#history-count", "120 in History")
			alice.waitNoText("#history-count", "shown")
			alice.waitGone("#history-more")

			// The search goes to the server: matches beyond the pages loaded count.
			alice.do(chromedp.SendKeys(chromedp.ID("history-q"), "REFUND"))
			alice.waitText("#history-count", "12 matches")
			require.Equal(t, "12", alice.eval(`String(document.querySelectorAll('#list .pick').length)`))
			alice.waitNoText("#list", "Old case")
			require.Equal(t, "(120)", alice.eval(`document.querySelector('#tab-history .count').textContent`),
				"the tab counts the whole History while searching")
			alice.shot("upd-03-history-search-" + size.name)
			search := func(q string) {
				alice.eval(fmt.Sprintf(`(el => { el.value = %s; el.dispatchEvent(new Event('input')); return '' })(document.getElementById('history-q'))`, jsString(q)))
			}
			search("500h030") // a CRM id
			alice.waitText("#history-count", "1 match")
			alice.waitText("#list", "Refund request 030")
			search("no such thing")
			alice.waitText("#list", "Nothing in History matches")
			search("")
			alice.waitText("#history-count", "120 in History, 50 shown")
		})
	}
}

// openCTIStub stands in for Salesforce's Open CTI library in every frame
// of a page: it records screen pops and keeps the navigation listener.
const openCTIStub = `
window.__pops = [];
window.sforce = { opencti: {
  SCREENPOP_TYPE: { SOBJECT: 'sobject', URL: 'url' },
  screenPop: (o) => { window.__pops.push(o.params.recordId); if (o.callback) o.callback({ success: true }); },
  onNavigationChange: (o) => { window.__navigate = o.listener; },
  setSoftphonePanelVisibility: () => {},
}};`

// TestPanelScreenPopOnce: inside Salesforce (Open CTI stubbed), work that
// connects by itself pops nothing; the call the agent accepts pops its
// record, and so does a case the agent opens, once each. When the agent
// opens a record in Salesforce (onNavigationChange), the panel selects
// that record's interaction, without popping it again.
func TestPanelScreenPopOnce(t *testing.T) {
	pt, _ := newUpdatesTest(t, nil)
	alice := pt.page("alice", 1280, 800)
	alice.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: openCTIStub})
		return err
	}))
	pops := func() string { return alice.eval(`window.__pops.join(' ')`) }

	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.waitText("#list", refundCase)
	alice.waitText("#list", passwordCase)
	alice.waitText("#list", parcelChat)
	alice.waitVisible(".alert.offer")
	require.Empty(t, pops(), "two cases and a chat connected by themselves: no pop")

	crm := func(subject string) string {
		var list struct {
			Interactions []struct {
				Subject string
				CRMID   string `json:"crm_id"`
			}
		}
		require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/interactions?folder=ongoing", nil, &list))
		for _, i := range list.Interactions {
			if i.Subject == subject {
				return i.CRMID
			}
		}
		t.Fatalf("alice has no %q", subject)
		return ""
	}
	alice.acceptCall()
	call := crm(routerCall)
	alice.waitFor("the call popped", fmt.Sprintf(`window.__pops.join(' ') === %s`, jsString(call)))

	alice.pick(refundCase)
	refund := crm(refundCase)
	alice.waitFor("the case popped", fmt.Sprintf(`window.__pops.join(' ') === %s`, jsString(call+" "+refund)))
	alice.pick(passwordCase)
	alice.pick(refundCase) // opened again: popped already
	alice.pick(routerCall)
	require.Len(t, strings.Fields(pops()), 3, "each record pops once: %s", pops())

	// alice opens the password case's record in Salesforce: the panel follows.
	password := crm(passwordCase)
	before := pops()
	alice.eval(fmt.Sprintf(`window.__navigate({ recordId: %s, objectType: 'Case', url: 'https://crm.example/x' }), ''`,
		jsString(password[:min(15, len(password))])))
	alice.waitText("#detail h2", passwordCase)
	alice.waitFor("its row selected", fmt.Sprintf(
		`document.querySelector('#list .pick[aria-current="true"] .subject').textContent === %s`, jsString(passwordCase)))
	require.Equal(t, before, pops(), "a navigation in Salesforce pops nothing")
	alice.shot("upd-04-navigation")

	// A record alice has no interaction of changes nothing.
	alice.eval(`window.__navigate({ recordId: '001000000000001AAA', objectType: 'Account', url: 'https://crm.example/y' }), ''`)
	require.Equal(t, passwordCase, alice.eval(`document.querySelector('#detail h2').textContent`))
	require.Equal(t, before, pops())
}

// newUpdatesTest is newPanelTest with the daemon at hand, so that a test
// changes its work as fast as the engine goes, or seeds its store.
func newUpdatesTest(t *testing.T, tweak func(*config.Config)) (*panelTest, *daemon) {
	t.Helper()
	started := make(chan *daemon, 1)
	pt := newPanelTestOn(t, func() (string, string) {
		return startDemoWith(t, demoEnv{Config: tweak, Started: func(d *daemon) { started <- d }})
	})
	select {
	case d := <-started:
		return pt, d
	case <-time.After(stepTimeout):
		t.Fatal("the demo daemon did not start")
		return nil, nil
	}
}

// interactionID is the id of the token owner's ongoing interaction with
// this subject.
func interactionID(t *testing.T, base, token, subject string) string {
	t.Helper()
	var list struct {
		Interactions []struct{ ID, Subject string }
	}
	require.NoError(t, apiCall(base, token, "GET", "/interactions?folder=ongoing", nil, &list))
	for _, i := range list.Interactions {
		if i.Subject == subject {
			return i.ID
		}
	}
	t.Fatalf("no ongoing %q", subject)
	return ""
}

// countingProxy stands between a browser and the daemon and counts the
// browser's API requests (not the event stream, nor the test's own calls)
// and how many were refused with 429.
type countingProxy struct {
	url     string
	mu      sync.Mutex
	paths   []string
	refused int
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = stdlog.New(io.Discard, "", 0)
	p := &countingProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		browser := strings.Contains(r.UserAgent(), "Chrome")
		if !browser || !strings.HasPrefix(r.URL.Path, "/api/v1/") || r.URL.Path == "/api/v1/events" {
			rp.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, r)
		p.mu.Lock()
		p.paths = append(p.paths, r.Method+" "+r.URL.RequestURI())
		if rec.status == http.StatusTooManyRequests {
			p.refused++
		}
		p.mu.Unlock()
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections() // the event stream would keep Close waiting
		srv.Close()
	})
	p.url = srv.URL
	return p
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paths, p.refused = nil, 0
}

// settle waits until the browser has made no request for two seconds
// (what it fetches late, it fetches within one), and returns the counts.
func (p *countingProxy) settle(t *testing.T) (n, refused int, paths []string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n = len(p.paths)
		p.mu.Unlock()
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 2*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling, bounded by the deadline
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.paths), p.refused, append([]string(nil), p.paths...)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// TestPanelBrowserLateRead: a read of alice's Case that the server
// answered before she handed the Case over, and that reaches her panel
// only after, does not bring the Case back to her list. The proxy holds
// back the read her panel makes when she opens the Case, and lets it
// through once the hand-over shows.
func TestPanelBrowserLateRead(t *testing.T) {
	pt := newPanelTest(t, nil)
	proxy := newCutProxy(t, pt.base)
	alice := pt.page("alice", 1100, 700)
	alice.base = proxy.srv.URL
	alice.signIn("demo-alice", "Alice")
	alice.setPresence("available")
	alice.acceptCall()
	require.NoError(t, apiCall(pt.base, "demo-bob", "PUT", "/me/presence", map[string]string{"presence": "available"}, nil))
	var ongoing struct {
		Interactions []struct{ ID, Subject string }
	}
	require.NoError(t, apiCall(pt.base, "demo-alice", "GET", "/interactions?folder=ongoing", nil, &ongoing))
	ids := map[string]string{}
	for _, i := range ongoing.Interactions {
		ids[i.Subject] = i.ID
	}
	require.Contains(t, ids, refundCase)
	require.Contains(t, ids, passwordCase)

	held, release := proxy.hold("/api/v1/interactions/" + ids[refundCase])
	defer release()
	alice.pick(refundCase) // its audit trail is read, and held back
	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("alice's panel did not read the Case she opened")
	}
	alice.startTransfer("Bob", "", true)
	alice.waitText("#toast", "Transferred to Bob: they get it as soon as they have room.")
	alice.waitNoText("#list", refundCase)

	release() // the read answered before the hand-over reaches the panel
	from := proxy.requests()
	alice.pick(passwordCase) // read after the held one is applied
	require.Eventually(t, func() bool { return proxy.requested(from, "/interactions/"+ids[passwordCase]) },
		15*time.Second, 10*time.Millisecond, "alice's panel read the Case she opened next")
	require.NotContains(t, alice.texts("#list .subject"), refundCase, "the late read brought the Case back")
}
