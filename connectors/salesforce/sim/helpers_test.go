package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *testClock {
	return &testClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is an org behind a real HTTP server on 127.0.0.1.
type env struct {
	t     *testing.T
	org   *Org
	srv   *httptest.Server
	clock *testClock
	token string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := newClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	org := New(opts)
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	e := &env{t: t, org: org, srv: srv, clock: clock}
	e.token = e.login()
	return e
}

func (e *env) login() string {
	e.t.Helper()
	resp, body := e.tokenRequest(url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"ctibridge-local"}, "client_secret": {"local-secret"},
	})
	require.Equal(e.t, http.StatusOK, resp.StatusCode, string(body))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(e.t, json.Unmarshal(body, &tok))
	return tok.AccessToken
}

func (e *env) tokenRequest(form url.Values) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/services/oauth2/token", form)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, body
}

// call makes an API request with the env's token; path is relative to
// /services/data/v62.0 unless it starts with /services.
func (e *env) call(method, path string, body any) (*http.Response, []byte) {
	e.t.Helper()
	return e.callWith(e.token, method, path, body, nil)
}

func (e *env) callWith(token, method, path string, body any, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	if !strings.HasPrefix(path, "/services") {
		path = "/services/data/v62.0" + path
	}
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, data
}

// callJSON is call that expects a status and decodes the body.
func (e *env) callJSON(method, path string, body any, status int, out any) {
	e.t.Helper()
	resp, data := e.call(method, path, body)
	require.Equal(e.t, status, resp.StatusCode, string(data))
	if out != nil {
		require.NoError(e.t, json.Unmarshal(data, out), string(data))
	}
}

// apiErr is one element of a REST error body.
type apiErr struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// expectError asserts a REST error response and returns its only element.
func (e *env) expectError(method, path string, body any, status int, code string) apiErr {
	e.t.Helper()
	resp, data := e.call(method, path, body)
	require.Equal(e.t, status, resp.StatusCode, string(data))
	var errs []apiErr
	require.NoError(e.t, json.Unmarshal(data, &errs), string(data))
	require.Len(e.t, errs, 1, string(data))
	require.Equal(e.t, code, errs[0].ErrorCode, string(data))
	return errs[0]
}

// saveResult is one element of a collection response.
type saveResultJSON struct {
	ID      string `json:"id"`
	Success bool   `json:"success"`
	Created *bool  `json:"created"`
	Errors  []struct {
		StatusCode string   `json:"statusCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	} `json:"errors"`
}

func (e *env) create(sobject string, fields map[string]any) string {
	e.t.Helper()
	var res saveResultJSON
	e.callJSON(http.MethodPost, "/sobjects/"+sobject, fields, http.StatusCreated, &res)
	require.True(e.t, res.Success)
	return res.ID
}

func (e *env) get(sobject, id string) map[string]any {
	e.t.Helper()
	var rec map[string]any
	e.callJSON(http.MethodGet, "/sobjects/"+sobject+"/"+id, nil, http.StatusOK, &rec)
	return rec
}

// seedCases adds n Cases with subjects "Case 0000"... through Seed.
func seedCases(t *testing.T, o *Org, n int) {
	t.Helper()
	records := make([]Record, n)
	for i := range records {
		records[i] = Record{"attributes": map[string]any{"type": "Case"}, "Subject": fmt.Sprintf("Case %04d", i), "Origin": "Web"}
	}
	require.NoError(t, o.Seed(records))
}
