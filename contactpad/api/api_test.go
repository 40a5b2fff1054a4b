package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/enginetest"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

func hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// env is a running engine on a real SQLite file behind the API on a real
// HTTP server. Tokens are "tok-<name>". Every request to /api and its
// response are checked against the OpenAPI document (contract_test.go):
// call reports what did not match at once, the end of the test the rest.
type env struct {
	t      testing.TB
	engine *adapter.Engine
	store  adapter.Store
	api    *api.Server
	// handler is the API's handler behind the contract check.
	handler  http.Handler
	contract *contractCheck
	srv      *httptest.Server
	logs     *bytes.Buffer
	n        int
}

type envOption func(*api.Options, *adapter.Settings)

// start runs the env with the API on a real HTTP server.
func start(t testing.TB, opts ...envOption) *env { return newEnv(t, true, opts) }

// startBubble runs the env inside a synctest bubble: no sockets, so the API
// is called through its Handler.
func startBubble(t testing.TB, opts ...envOption) *env { return newEnv(t, false, opts) }

func newEnv(t testing.TB, serve bool, opts []envOption) *env {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "ctibridge.db"))
	require.NoError(t, err)
	e := &env{t: t, store: store, logs: &bytes.Buffer{}, contract: newContractCheck(t)}
	log := logrus.New()
	log.SetOutput(&syncWriter{w: e.logs})
	log.SetLevel(logrus.DebugLevel)

	settings := enginetest.Settings()
	o := api.Options{
		Identities: []api.Identity{
			{Name: "alice", Role: api.RoleAgent, TokenSHA256: hash("tok-alice")},
			{Name: "bob", Role: api.RoleAgent, TokenSHA256: hash("tok-bob")},
			{Name: "carol", Role: api.RoleAgent, TokenSHA256: hash("tok-carol")},
			{Name: "ops", Role: api.RoleAdmin, TokenSHA256: hash("tok-ops")},
			{Name: "bi", Role: api.RoleIntegration, TokenSHA256: hash("tok-bi")},
		},
		FrameAncestors: []string{"https://*.lightning.force.com"},
		Poll:           time.Hour, // streams must be woken by NotifyEvents
		Heartbeat:      time.Hour,
		Logger:         log,
	}
	for _, opt := range opts {
		opt(&o, &settings)
	}
	e.engine = adapter.New(store, settings, adapter.WithLogger(log), adapter.OnEvents(func(events []adapter.Event) {
		if e.api != nil {
			e.api.NotifyEvents(events) // as the daemon does
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.engine.Run(ctx) }()
	<-e.engine.Ready()
	o.Engine = e.engine
	e.api, err = api.New(o)
	require.NoError(t, err)
	e.handler = e.contract.wrap(e.api.Handler())
	if serve {
		e.srv = httptest.NewServer(e.handler)
	}
	t.Cleanup(func() {
		e.api.CloseStreams()
		if e.srv != nil {
			e.srv.Close() // waits for the handlers, and their checks
		}
		e.contract.report(t)
		cancel()
		<-done
		store.Close()
	})
	return e
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// response is a finished API call.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &v), "body: %s", r.Body)
	return v
}

// code is the problem code of an error response.
func (r response) code(t testing.TB) string {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	p := r.json(t)
	require.Equal(t, float64(r.Status), p["status"])
	require.NotEmpty(t, p["title"])
	require.NotEmpty(t, p["detail"])
	require.Equal(t, "urn:ctibridge:problem:"+p["code"].(string), p["type"])
	return p["code"].(string)
}

// call sends a request as who ("" sends no token) with body (a string is
// sent as is, anything else as JSON).
func (e *env) call(who, method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer tok-"+who)
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	e.contract.report(e.t)
	return response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// ok calls and requires a 2xx status.
func (e *env) ok(who, method, path string, body any) map[string]any {
	e.t.Helper()
	r := e.call(who, method, path, body)
	require.True(e.t, r.Status >= 200 && r.Status < 300, "%s %s as %s: %d %s", method, path, who, r.Status, r.Body)
	if len(r.Body) == 0 {
		return nil
	}
	return r.json(e.t)
}

// refused calls and requires the status and problem code.
func (e *env) refused(who, method, path string, body any, status int, code string) response {
	e.t.Helper()
	r := e.call(who, method, path, body)
	require.Equal(e.t, status, r.Status, "%s %s as %s: %s", method, path, who, r.Body)
	require.Equal(e.t, code, r.code(e.t), "%s %s as %s", method, path, who)
	return r
}

// ingest makes an interaction of a new CRM record.
func (e *env) ingest(media contactpad.Media, service string) string {
	e.t.Helper()
	e.n++
	res, err := e.engine.Apply(context.Background(), adapter.Ingest{Item: contactpad.WorkItem{
		CRMID: fmt.Sprintf("500%015d", e.n), CRMObject: "Case", Media: media, Service: service,
		Subject: fmt.Sprintf("case %d", e.n), Tags: []string{}}})
	require.NoError(e.t, err)
	return res.Interaction.ID
}

// get reads an interaction from the store.
func (e *env) get(id string) *contactpad.Interaction {
	e.t.Helper()
	var i *contactpad.Interaction
	require.NoError(e.t, e.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		i, err = tx.Interaction(id)
		return err
	}))
	return i
}

// connected gives agent a connected interaction of the media type.
func (e *env) connected(agent string, media contactpad.Media) string {
	e.t.Helper()
	e.ok(agent, "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	id := e.ingest(media, "support")
	if e.get(id).Status == contactpad.Offered {
		e.ok(agent, "POST", "/api/v1/interactions/"+id+"/accept", nil)
	}
	i := e.get(id)
	require.Equal(e.t, contactpad.Connected, i.Status)
	require.Equal(e.t, agent, i.Owner)
	e.ok(agent, "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
	return id
}
