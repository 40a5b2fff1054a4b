package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

// hookURL is the URL of the in-process receiver of the synctest tests.
const hookURL = "https://hooks.example.com/ctibridge"

func TestDeliver(t *testing.T) {
	store := openStore(t)
	old := appendEvents(t, store, interactionEvent(adapter.EventInteractionCreated, "i0", "before the hook"))

	recv := &recorder{got: make(chan delivery, 100)}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	hooks := []Hook{
		// A plain secret, and two whsec_ ones in rotation.
		{URL: srv.URL + "/all", Secrets: []string{"all-secret-of-24-bytes!!"}},
		{URL: srv.URL + "/presence", Secrets: []string{newSecret, oldSecret}, Events: []adapter.EventType{adapter.EventAgentPresence}},
	}
	for _, h := range hooks {
		setCursor(t, store, h.URL, old[0].Seq)
	}
	// No polling: Notify must wake the hooks.
	d := New(store, hooks, WithPollInterval(time.Hour), WithLogger(quietLogger()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()

	events := appendEvents(t, store,
		interactionEvent(adapter.EventInteractionCreated, "i1", "Printer on fire"),
		presenceEvent("alice"),
		interactionEvent(adapter.EventInteractionUpdated, "i1", "Printer on fire"),
		presenceEvent("bob"),
		interactionEvent(adapter.EventInteractionOffered, "i2", "Refund"),
	)
	for range 3 {
		d.Notify() // never blocks
	}
	got := map[string][]delivery{}
	for range len(events) + 2 {
		select {
		case dl := <-recv.got:
			got[dl.path] = append(got[dl.path], dl)
		case <-time.After(10 * time.Second):
			t.Fatalf("deliveries so far: %v", got)
		}
	}
	// Canceling before the dispatcher read the last answers would leave
	// them to be redelivered.
	last := events[len(events)-1].Seq
	require.Eventually(t, func() bool {
		st := d.Status()
		return st[0].DeliveredSeq == last && st[1].DeliveredSeq == last
	}, 10*time.Second, time.Millisecond)
	cancel()
	<-done

	for i, h := range hooks {
		var want []adapter.Event
		for _, ev := range events {
			if h.wants(ev.Type) {
				want = append(want, ev)
			}
		}
		path := h.URL[len(srv.URL):]
		require.Len(t, got[path], len(want), path)
		for k, ev := range want {
			dl := got[path][k]
			wantBody, err := json.Marshal(ev)
			require.NoError(t, err)
			require.JSONEq(t, string(wantBody), string(dl.body), "%s delivery %d", path, k)
			require.Equal(t, http.MethodPost, dl.method)
			require.Equal(t, "application/json", dl.header.Get("Content-Type"))
			require.Equal(t, "ctibridge", dl.header.Get("User-Agent"))
			require.Equal(t, string(ev.Type), dl.header.Get("X-Ctibridge-Event"))
			require.Equal(t, strconv.FormatInt(ev.Seq, 10), dl.header.Get("X-Ctibridge-Delivery"))
			require.Equal(t, strconv.FormatInt(ev.Seq, 10), dl.header.Get(IDHeader))
			requireSigned(t, dl, h.Secrets...)
			for _, other := range hooks[1-i].Secrets {
				require.ErrorIs(t, Verify([][]byte{secretKey(t, other)}, dl.header, dl.body, dl.at), ErrNoSignature)
			}
			require.True(t, LegacyVerify(h.Secrets[0], dl.body, dl.header.Get(LegacySignatureHeader)), "%s delivery %d", path, k)
			require.False(t, LegacyVerify(hooks[1-i].Secrets[0], dl.body, dl.header.Get(LegacySignatureHeader)))
			requireContract(t, dl)
		}
		// The cursor passed the events the hook does not want, too.
		require.Equal(t, strconv.FormatInt(last, 10), storedCursor(t, store, h.URL), path)
		st := d.Status()[i]
		require.Equal(t, last, st.DeliveredSeq)
		require.Equal(t, http.StatusNoContent, st.LastStatus)
		require.NotNil(t, st.LastDeliveryAt)
		require.False(t, st.Pending)
		require.Zero(t, st.Attempts)
		require.Nil(t, st.NextAttemptAt)
		require.Empty(t, st.LastError)
	}
	require.Equal(t, []adapter.EventType{}, d.Status()[0].Events)
	require.Equal(t, []adapter.EventType{adapter.EventAgentPresence}, d.Status()[1].Events)
}

func TestRetryBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		// script answers the first attempts; the next ones get 200.
		script []response
		// waits are the backoffs expected after each failure (1s..4s).
		waits   []time.Duration
		wantErr []string
	}{
		{
			name:    "server errors double the wait up to the max",
			script:  []response{{status: 503}, {status: 500}, {status: 502}, {status: 500}},
			waits:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second},
			wantErr: []string{"HTTP 503 Service Unavailable", "HTTP 500 Internal Server Error", "HTTP 502 Bad Gateway", "HTTP 500 Internal Server Error"},
		},
		{
			name:    "client errors are retried too",
			script:  []response{{status: 400}, {status: 404}},
			waits:   []time.Duration{time.Second, 2 * time.Second},
			wantErr: []string{"HTTP 400 Bad Request", "HTTP 404 Not Found"},
		},
		{
			name:    "retry-after lengthens the wait",
			script:  []response{{status: 429, header: map[string]string{"Retry-After": "3"}}},
			waits:   []time.Duration{3 * time.Second},
			wantErr: []string{"HTTP 429 Too Many Requests"},
		},
		{
			name:    "retry-after is capped by the max",
			script:  []response{{status: 503, header: map[string]string{"Retry-After": "600"}}},
			waits:   []time.Duration{4 * time.Second},
			wantErr: []string{"HTTP 503 Service Unavailable"},
		},
		{
			name:    "transport error",
			script:  []response{{err: errors.New("dial tcp 192.0.2.1:443: connect: connection refused")}},
			waits:   []time.Duration{time.Second},
			wantErr: []string{"post: dial tcp 192.0.2.1:443: connect: connection refused"},
		},
		{
			name:    "a redirect is not followed",
			script:  []response{{status: 302, header: map[string]string{"Location": "/elsewhere"}}},
			waits:   []time.Duration{time.Second},
			wantErr: []string{"HTTP 302 Found"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := openStore(t)
				setCursor(t, store, hookURL, 0)
				events := appendEvents(t, store,
					interactionEvent(adapter.EventInteractionCreated, "i1", "one"),
					interactionEvent(adapter.EventInteractionUpdated, "i1", "one"),
					interactionEvent(adapter.EventInteractionCreated, "i2", "two"),
				)
				recv := &fakeReceiver{script: tc.script}
				d := New(store, []Hook{{URL: hookURL, Secrets: []string{testSecret}}}, WithBackoff(time.Second, 4*time.Second), WithLogger(quietLogger()))
				d.client.Transport = recv // the default client, without sockets
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() { d.Run(ctx); close(done) }()

				synctest.Wait()
				for i, wait := range tc.waits {
					st := d.Status()[0]
					require.True(t, st.Pending, "failure %d", i+1)
					require.Equal(t, i+1, st.Attempts)
					require.NotNil(t, st.NextAttemptAt)
					require.Equal(t, time.Now().Add(wait), *st.NextAttemptAt, "failure %d", i+1)
					require.Equal(t, tc.script[i].status, st.LastStatus)
					require.Equal(t, tc.wantErr[i], st.LastError)
					require.Zero(t, st.DeliveredSeq, "the failing event holds the cursor")
					require.Nil(t, st.LastDeliveryAt)

					// Not a moment early.
					time.Sleep(wait - time.Nanosecond)
					synctest.Wait()
					require.Len(t, recv.deliveries(), i+1)
					time.Sleep(time.Nanosecond)
					synctest.Wait()
				}

				st := d.Status()[0]
				require.False(t, st.Pending)
				require.Zero(t, st.Attempts)
				require.Nil(t, st.NextAttemptAt)
				require.Empty(t, st.LastError)
				require.Equal(t, http.StatusOK, st.LastStatus)
				require.Equal(t, events[2].Seq, st.DeliveredSeq)
				require.Equal(t, time.Now(), *st.LastDeliveryAt)

				var want []int64
				for range tc.waits {
					want = append(want, events[0].Seq)
				}
				want = append(want, events[0].Seq, events[1].Seq, events[2].Seq)
				require.Equal(t, want, recv.seqs(), "retries of the head event, then the rest in order")
				for _, dl := range recv.deliveries() {
					require.Equal(t, http.MethodPost, dl.method)
					require.Equal(t, "/ctibridge", dl.path)
					// Each retry is signed anew as of its own time,
					// under the event's id.
					require.Equal(t, strconv.FormatInt(dl.seq, 10), dl.header.Get(IDHeader))
					require.Equal(t, strconv.FormatInt(dl.at.Unix(), 10), dl.header.Get(TimestampHeader))
					requireSigned(t, dl, testSecret)
				}
				if dls := recv.deliveries(); len(tc.waits) > 0 {
					require.NotEqual(t, dls[0].header.Get(TimestampHeader), dls[len(tc.waits)].header.Get(TimestampHeader), "a retry is not a replay")
				}

				cancel()
				<-done
				require.Equal(t, strconv.FormatInt(events[2].Seq, 10), storedCursor(t, store, hookURL))
			})
		})
	}
}

func TestRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		// The receiver takes two events, then goes down.
		recv := &fakeReceiver{script: []response{{status: 200}, {status: 200}}, down: true}
		hooks := []Hook{{URL: hookURL, Secrets: []string{testSecret}}}
		start := func() (*Dispatcher, func()) {
			d := New(store, hooks, WithClient(&http.Client{Transport: recv}), WithBackoff(time.Second, time.Minute), WithLogger(quietLogger()))
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { d.Run(ctx); close(done) }()
			return d, func() { cancel(); <-done }
		}

		d, stop := start()
		synctest.Wait()
		e := appendEvents(t, store,
			interactionEvent(adapter.EventInteractionCreated, "i1", "one"),
			interactionEvent(adapter.EventInteractionUpdated, "i1", "one"),
			interactionEvent(adapter.EventInteractionUpdated, "i1", "one"),
			interactionEvent(adapter.EventInteractionCreated, "i2", "two"),
		)
		d.Notify()
		synctest.Wait()
		require.Equal(t, []int64{e[0].Seq, e[1].Seq, e[2].Seq}, recv.seqs())
		require.True(t, d.Status()[0].Pending)
		require.Equal(t, strconv.FormatInt(e[1].Seq, 10), storedCursor(t, store, hookURL),
			"what was delivered is stored before the backoff")

		// Stopping during the backoff takes no time.
		before := time.Now()
		stop()
		require.Equal(t, before, time.Now())
		require.Equal(t, strconv.FormatInt(e[1].Seq, 10), storedCursor(t, store, hookURL))

		// More events while nothing runs; then a new process.
		e = append(e, appendEvents(t, store, presenceEvent("alice"))...)
		recv.setDown(false)
		_, stop = start()
		synctest.Wait()
		stop()

		var delivered []int64
		for _, dl := range recv.deliveries() {
			if dl.status/100 == 2 {
				delivered = append(delivered, dl.seq)
			}
		}
		var want []int64
		for _, ev := range e {
			want = append(want, ev.Seq)
		}
		require.Equal(t, want, delivered, "every event exactly once, in order")
		require.Equal(t, strconv.FormatInt(e[len(e)-1].Seq, 10), storedCursor(t, store, hookURL))
	})
}

func TestNewHookStartsAtEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		var history []adapter.Event
		for i := range 250 {
			history = append(history, interactionEvent(adapter.EventInteractionCreated, fmt.Sprintf("i%d", i), "old"))
		}
		history = appendEvents(t, store, history...)
		end := history[len(history)-1].Seq

		recv := &fakeReceiver{}
		d := New(store, []Hook{{URL: hookURL, Secrets: []string{testSecret}}}, WithClient(&http.Client{Transport: recv}), WithLogger(quietLogger()))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		synctest.Wait()
		require.Empty(t, recv.deliveries(), "no replay of the history")
		require.Equal(t, end, d.Status()[0].DeliveredSeq)
		require.Equal(t, strconv.FormatInt(end, 10), storedCursor(t, store, hookURL), "stored at once")

		// A poll (no Notify) finds the new event.
		e := appendEvents(t, store, interactionEvent(adapter.EventInteractionCreated, "new", "new"))
		time.Sleep(defaultPoll)
		synctest.Wait()
		require.Equal(t, []int64{e[0].Seq}, recv.seqs())
		cancel()
		<-done
	})
}

func TestNoSecretInLogsOrStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			secret   = "hook-secret-5f2a"
			password = "pw-91c3"
			token    = "tok-77d0"
			reqBody  = "request-body-marker"
			respBody = "response-body-marker"
		)
		var logs bytes.Buffer
		log := logrus.New()
		log.SetOutput(&logs)
		log.SetLevel(logrus.TraceLevel)
		log.SetFormatter(&logrus.JSONFormatter{})

		store := openStore(t)
		url := "https://user:" + password + "@hooks.example.com/in?token=" + token
		setCursor(t, store, url, 0)
		appendEvents(t, store, interactionEvent(adapter.EventInteractionCreated, "i1", reqBody))
		recv := &fakeReceiver{script: []response{
			{status: 500, body: respBody},
			{err: errors.New("read tcp 192.0.2.1:443: connection reset by peer")},
		}}
		hook := Hook{URL: url, Secrets: []string{secret}}
		d := New(store, []Hook{hook}, WithClient(&http.Client{Transport: recv}), WithLogger(log))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		synctest.Wait()
		failing, err := json.Marshal(d.Status())
		require.NoError(t, err)
		time.Sleep(time.Second)
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		cancel()
		<-done
		require.Len(t, recv.deliveries(), 3)
		delivered, err := json.Marshal(d.Status())
		require.NoError(t, err)

		require.Contains(t, logs.String(), "delivery failed")
		require.Contains(t, logs.String(), "connection reset by peer")
		require.Contains(t, string(failing), `"last_status":500`)
		var fields map[string]any
		require.NoError(t, json.Unmarshal(failing[1:len(failing)-1], &fields))
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		require.Equal(t, []string{"attempts", "delivered_seq", "delivering", "events", "last_delivery_at", "last_error",
			"last_status", "next_attempt_at", "pending", "url"}, keys)
		require.Equal(t, "https://user:xxxxx@hooks.example.com/in?token=xxxxx", fields["url"])

		for name, text := range map[string]string{
			"logs":           logs.String(),
			"failing status": string(failing),
			"status":         string(delivered),
			"hook":           fmt.Sprintf("%v %+v %#v %s", hook, hook, hook, hook),
		} {
			for _, leak := range []string{secret, password, token, reqBody, respBody} {
				require.NotContains(t, text, leak, name)
			}
		}
	})
}

func TestBadStoredCursor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const url = hookURL + "?token=tok-3e1b"
		store := openStore(t)
		setRawCursor(t, store, url, "garbage")
		e := appendEvents(t, store, presenceEvent("alice"))
		recv := &fakeReceiver{}
		d := New(store, []Hook{{URL: url, Secrets: []string{testSecret}}}, WithClient(&http.Client{Transport: recv}), WithLogger(quietLogger()))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		synctest.Wait()
		require.Equal(t, `webhook cursor "garbage" is not an event seq`, d.Status()[0].LastError)
		require.Empty(t, recv.deliveries())

		// An operator repairs it; the next try after the backoff starts.
		setRawCursor(t, store, url, "0")
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, []int64{e[0].Seq}, recv.seqs())
		require.Empty(t, d.Status()[0].LastError)
		cancel()
		<-done
	})
}

func TestScrub(t *testing.T) {
	const url = "https://u:pw@hooks.example.com/in?token=tok-1"
	d := New(nil, []Hook{{URL: url, Secrets: []string{"s3cr3t"}}})
	err := d.hooks[0].scrub(fmt.Errorf("watermark of %s: disk I/O error", watermarkKey(url)))
	require.EqualError(t, err, "watermark of webhook:https://u:xxxxx@hooks.example.com/in?token=xxxxx: disk I/O error")
}

func TestBackoff(t *testing.T) {
	d := New(nil, nil, WithBackoff(time.Second, 5*time.Minute))
	for _, tc := range []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		want       time.Duration
	}{
		{name: "first failure", attempt: 1, want: time.Second},
		{name: "doubles", attempt: 4, want: 8 * time.Second},
		{name: "capped", attempt: 10, want: 5 * time.Minute},
		{name: "no overflow", attempt: 1000, want: 5 * time.Minute},
		{name: "retry-after", attempt: 1, retryAfter: 30 * time.Second, want: 30 * time.Second},
		{name: "shorter retry-after", attempt: 4, retryAfter: 2 * time.Second, want: 8 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, d.backoff(tc.attempt, tc.retryAfter))
		})
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ name, url, want string }{
		{name: "plain", url: "https://hooks.example.com/in", want: "https://hooks.example.com/in"},
		{name: "password", url: "https://u:p@hooks.example.com/in", want: "https://u:xxxxx@hooks.example.com/in"},
		{name: "query", url: "https://hooks.example.com/in?token=abc&x=1", want: "https://hooks.example.com/in?token=xxxxx&x=xxxxx"},
		{name: "invalid", url: "http://[::1", want: "<invalid URL>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, redactURL(tc.url))
		})
	}
}

func openStore(t *testing.T) adapter.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "ctibridge.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// appendEvents commits events in one transaction and returns them with
// their Seq.
func appendEvents(t *testing.T, store adapter.Store, events ...adapter.Event) []adapter.Event {
	t.Helper()
	out := make([]adapter.Event, len(events))
	copy(out, events)
	errs, err := store.Update(context.Background(), []func(adapter.Tx) error{func(tx adapter.Tx) error {
		for i := range out {
			if err := tx.AppendEvent(&out[i]); err != nil {
				return err
			}
		}
		return nil
	}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	return out
}

func setCursor(t *testing.T, store adapter.Store, url string, seq int64) {
	t.Helper()
	setRawCursor(t, store, url, strconv.FormatInt(seq, 10))
}

func setRawCursor(t *testing.T, store adapter.Store, url, value string) {
	t.Helper()
	errs, err := store.Update(context.Background(), []func(adapter.Tx) error{func(tx adapter.Tx) error {
		return tx.SetWatermark(watermarkKey(url), value)
	}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
}

func storedCursor(t *testing.T, store adapter.Store, url string) string {
	t.Helper()
	var value string
	require.NoError(t, store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		value, err = tx.Watermark(watermarkKey(url))
		return err
	}))
	return value
}

var eventTime = time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC)

func interactionEvent(typ adapter.EventType, id, subject string) adapter.Event {
	return adapter.Event{Type: typ, At: eventTime, Audience: []string{"alice"}, Interaction: &contactpad.Interaction{
		ID: id, Subject: subject, Media: contactpad.NonLive, Status: contactpad.Queued, Tags: []string{},
		CreatedAt: eventTime, UpdatedAt: eventTime,
	}}
}

func presenceEvent(agent string) adapter.Event {
	return adapter.Event{Type: adapter.EventAgentPresence, At: eventTime, Audience: []string{agent},
		Agent: &adapter.AgentPresence{ID: agent, Presence: contactpad.Available}}
}

func quietLogger() logrus.FieldLogger {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return log
}

// delivery is one request a receiver got.
type delivery struct {
	method, path string
	header       http.Header
	body         []byte
	seq          int64     // from X-Ctibridge-Delivery
	at           time.Time // when the receiver got it
	status       int       // the answer; 0 for a transport error
}

// recorder is a receiver behind a real server: it answers 204 and sends
// each delivery on got.
type recorder struct {
	got chan delivery
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	w.WriteHeader(http.StatusNoContent)
	r.got <- delivery{method: req.Method, path: req.URL.Path, header: req.Header.Clone(), body: body, at: time.Now()}
}

// Secrets of the tests: a plain one, and a whsec_ pair in rotation.
const (
	testSecret = "test-secret-of-24-bytes!"
	newSecret  = "whsec_bmV3LXNlY3JldC1rZXktb2YtMjQtYnl0ZXM=" // new-secret-key-of-24-bytes
	oldSecret  = "whsec_b2xkLXNlY3JldC1rZXktb2YtMjQtYnl0ZXM=" // old-secret-key-of-24-bytes
)

// secretKey is SecretKey of a secret that must be valid.
func secretKey(t *testing.T, secret string) []byte {
	t.Helper()
	key, err := SecretKey(secret)
	require.NoError(t, err)
	return key
}

// requireSigned checks that a delivery carries one webhook-signature per
// secret, and that a receiver knowing any one of them alone verifies it.
func requireSigned(t *testing.T, dl delivery, secrets ...string) {
	t.Helper()
	require.Len(t, strings.Fields(dl.header.Get(SignatureHeader)), len(secrets), "one signature per secret")
	for _, secret := range secrets {
		require.NoError(t, Verify([][]byte{secretKey(t, secret)}, dl.header, dl.body, dl.at), "delivery %s", dl.header.Get(IDHeader))
	}
}

// response is a scripted answer of a fakeReceiver.
type response struct {
	status int
	header map[string]string
	body   string
	err    error // a transport error instead of an answer
}

// fakeReceiver is an in-process receiver, an http.RoundTripper without
// sockets for synctest bubbles: it answers the first requests with script,
// later ones with 503 while it is down and 200 otherwise.
type fakeReceiver struct {
	script []response

	mu   sync.Mutex
	down bool
	got  []delivery
}

func (f *fakeReceiver) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	_ = req.Body.Close()
	seq, _ := strconv.ParseInt(req.Header.Get("X-Ctibridge-Delivery"), 10, 64)

	f.mu.Lock()
	defer f.mu.Unlock()
	resp := response{status: http.StatusOK}
	switch n := len(f.got); {
	case n < len(f.script):
		resp = f.script[n]
	case f.down:
		resp = response{status: http.StatusServiceUnavailable}
	}
	f.got = append(f.got, delivery{method: req.Method, path: req.URL.Path, header: req.Header.Clone(), body: body, seq: seq, status: resp.status, at: time.Now()})
	if resp.err != nil {
		return nil, resp.err
	}
	rec := httptest.NewRecorder()
	for k, v := range resp.header {
		rec.Header().Set(k, v)
	}
	rec.WriteHeader(resp.status)
	_, _ = rec.WriteString(resp.body)
	return rec.Result(), nil
}

func (f *fakeReceiver) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeReceiver) deliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]delivery(nil), f.got...)
}

// seqs are the events of every attempt, in order.
func (f *fakeReceiver) seqs() []int64 {
	var out []int64
	for _, dl := range f.deliveries() {
		out = append(out, dl.seq)
	}
	return out
}
