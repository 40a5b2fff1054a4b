package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// jsonLog is the API's log as JSON lines, as `ctibridge run` writes it.
type jsonLog struct {
	buf *syncWriter
	raw *bytes.Buffer
}

// withJSONLog makes the env's API log JSON lines at debug into l.
func withJSONLog(l *jsonLog) envOption {
	l.raw = &bytes.Buffer{}
	l.buf = &syncWriter{w: l.raw}
	return func(o *api.Options, _ *adapter.Settings) {
		log := logrus.New()
		log.SetOutput(l.buf)
		log.SetFormatter(&logrus.JSONFormatter{})
		log.SetLevel(logrus.DebugLevel)
		o.Logger = log
	}
}

func (l *jsonLog) text() string {
	l.buf.mu.Lock()
	defer l.buf.mu.Unlock()
	return l.raw.String()
}

// lines returns the lines whose msg is msg.
func (l *jsonLog) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.text()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// accessLines returns the access log lines of route.
func (l *jsonLog) accessLines(t *testing.T, route string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range l.lines(t, "request") {
		if m["route"] == route {
			out = append(out, m)
		}
	}
	return out
}

func TestAccessLog(t *testing.T) {
	var log jsonLog
	e := start(t, withJSONLog(&log))
	id := e.connected("alice", contactpad.NonLive)
	e.refused("alice", "POST", "/api/v1/interactions/"+id+"/defer", map[string]any{"due_by": "2001-01-01T00:00:00Z"},
		422, "due_by_in_past")
	e.ok("alice", "POST", "/api/v1/interactions/"+id+"/release", nil)
	e.refused("ops", "GET", "/api/v1/interactions?folder=history&access_token=query-secret-value", nil, 400, "invalid_request")
	e.call("", "GET", "/healthz", nil)
	req, err := http.NewRequest("GET", e.srv.URL+"/api/v1/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer unknown-token-value")
	res, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)

	for _, tc := range []struct {
		name, route string
		want        map[string]any
		absent      []string
	}{
		{
			name:  "an action: its route pattern, and the interaction as its own field",
			route: "POST /api/v1/interactions/{id}/release",
			want: map[string]any{"level": "info", "method": "POST", "status": 200.0, "identity": "alice",
				"interaction": id},
		},
		{
			name:  "a refusal",
			route: "POST /api/v1/interactions/{id}/defer",
			want:  map[string]any{"level": "info", "status": 422.0, "identity": "alice", "interaction": id},
		},
		{
			name:   "a list: no query string",
			route:  "GET /api/v1/interactions",
			want:   map[string]any{"level": "info", "method": "GET", "status": 400.0, "identity": "ops"},
			absent: []string{"interaction"},
		},
		{
			name:   "an unknown token: no identity",
			route:  "GET /api/v1/me",
			want:   map[string]any{"level": "info", "status": 401.0},
			absent: []string{"identity"},
		},
		{
			name:  "a probe, at debug",
			route: "GET /healthz",
			want:  map[string]any{"level": "debug", "status": 200.0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := log.accessLines(t, tc.route)
			require.Len(t, lines, 1, log.text())
			line := lines[0]
			for k, v := range tc.want {
				require.Equal(t, v, line[k], k)
			}
			for _, k := range tc.absent {
				require.NotContains(t, line, k)
			}
			require.IsType(t, 0.0, line["duration_s"])
			require.GreaterOrEqual(t, line["duration_s"].(float64), 0.0)
		})
	}
	for _, secret := range []string{"tok-alice", "tok-ops", "unknown-token-value", "query-secret-value", "2001-01-01", "/api/v1/interactions/" + id} {
		require.NotContains(t, log.text(), secret, "no token, query, body or raw path in the log")
	}
}

// TestEventStreamAccessAndGauge: a stream is logged once, when it ends,
// with how long it lasted; it counts in the open-streams gauge while it
// is open, and not in the request-duration histogram.
func TestEventStreamAccessAndGauge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log jsonLog
		reg := prometheus.NewRegistry()
		e := startBubble(t, withJSONLog(&log), func(o *api.Options, _ *adapter.Settings) { o.Registry = reg })
		open := func(who string) (closeStream func()) {
			ctx, cancel := context.WithCancel(context.Background())
			req := httptest.NewRequestWithContext(ctx, "GET", "/api/v1/events", nil)
			req.Header.Set("Authorization", "Bearer tok-"+who)
			done := make(chan struct{})
			go func() { defer close(done); e.api.Handler().ServeHTTP(httptest.NewRecorder(), req) }()
			return func() { cancel(); <-done }
		}
		gauge := func() float64 {
			families, err := reg.Gather()
			require.NoError(t, err)
			for _, f := range families {
				if f.GetName() == "ctibridge_event_streams_open" {
					return f.GetMetric()[0].GetGauge().GetValue()
				}
			}
			t.Fatal("no ctibridge_event_streams_open")
			return 0
		}

		closeAlice := open("alice")
		closeBob := open("bob")
		synctest.Wait()
		require.Equal(t, 2.0, gauge())
		require.Empty(t, log.accessLines(t, "GET /api/v1/events"), "nothing logged while the streams are open")

		time.Sleep(90 * time.Second)
		closeAlice()
		require.Equal(t, 1.0, gauge())
		lines := log.accessLines(t, "GET /api/v1/events")
		require.Len(t, lines, 1)
		require.Equal(t, map[string]any{"level": "info", "msg": "request", "method": "GET", "route": "GET /api/v1/events",
			"status": 200.0, "identity": "alice", "duration_s": 90.0, "time": lines[0]["time"]}, lines[0])

		e.api.CloseStreams() // as at shutdown
		synctest.Wait()
		require.Equal(t, 0.0, gauge())
		require.Len(t, log.accessLines(t, "GET /api/v1/events"), 2)
		closeBob()

		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() != "ctibridge_http_request_duration_seconds" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					require.NotEqual(t, "/api/v1/events", l.GetValue(), "event streams stay out of the histogram")
				}
			}
		}
	})
}

func TestHandlerPanic(t *testing.T) {
	var log jsonLog
	e := start(t, withJSONLog(&log), func(o *api.Options, _ *adapter.Settings) {
		o.Preview = func(map[string]any) (any, error) { panic("preview exploded") }
		o.Panel = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/late":
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, "half a page")
				w.(http.Flusher).Flush()
				panic("panel exploded mid-answer")
			case "/abort":
				panic(http.ErrAbortHandler)
			}
		})
	})

	t.Run("before the answer: a 500 problem and one error line with the stack", func(t *testing.T) {
		r := e.refused("ops", "POST", "/api/v1/admin/mapping/preview", map[string]any{"Id": "500x"}, 500, "internal")
		require.Equal(t, "internal error; the server log has the cause", r.json(t)["detail"])
		errs := log.lines(t, "panic serving a request")
		require.Len(t, errs, 1)
		require.Equal(t, "error", errs[0]["level"])
		require.Equal(t, "preview exploded", errs[0]["panic"])
		require.Equal(t, "POST /api/v1/admin/mapping/preview", errs[0]["route"])
		require.Equal(t, "ops", errs[0]["identity"])
		require.Contains(t, errs[0]["stack"], "api_test.TestHandlerPanic", "the stack names the panicking function")
		access := log.accessLines(t, "POST /api/v1/admin/mapping/preview")
		require.Len(t, access, 1)
		require.Equal(t, 500.0, access[0]["status"])
		require.Empty(t, log.lines(t, "request failed"), "one error line, not two")
	})

	t.Run("after the answer began: the response is cut short", func(t *testing.T) {
		res, err := e.srv.Client().Get(e.srv.URL + "/late")
		require.NoError(t, err)
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
		require.Error(t, err, "the client must not take half a page for a whole one")
		errs := log.lines(t, "panic serving a request")
		require.Len(t, errs, 2)
		require.Equal(t, "panel exploded mid-answer", errs[1]["panic"])
		access := log.accessLines(t, "/")
		require.Len(t, access, 1)
		require.Equal(t, true, access[0]["aborted"])
	})

	t.Run("http.ErrAbortHandler is no bug", func(t *testing.T) {
		_, err := e.srv.Client().Get(e.srv.URL + "/abort")
		require.Error(t, err)
		require.Len(t, log.lines(t, "panic serving a request"), 2)
		require.Len(t, log.accessLines(t, "/"), 2)
	})

	e.ok("alice", "GET", "/api/v1/me", nil) // the server goes on
}
