package salesforce

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
	"github.com/stretchr/testify/require"
)

// caseMapping is the sample Case mapping.
func caseMapping(t *testing.T) *mapping.Mapping {
	t.Helper()
	ms, err := mapping.ParseFile(filepath.Join("..", "..", "testdata", "mappings", "case.yaml"))
	require.NoError(t, err)
	return ms[0]
}

// failingOrg is the local org behind a front that answers every request
// whose path starts with prefix with status and body (Retry-After: 0), as an
// org in an incident does, and counts those answers.
func failingOrg(t *testing.T, prefix string, status int, body string) (string, *atomic.Int32) {
	t.Helper()
	org := sim.New(sim.Options{})
	var answers atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			org.ServeHTTP(w, r)
			return
		}
		answers.Add(1)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &answers
}

// TestRetriesRunOut: when an org keeps answering 503 or 429, the call
// fails once its retries run out with the org's last answer, errorCode
// included, and Classify retries it later (it is neither lost as a bare
// "giving up" nor parked).
func TestRetriesRunOut(t *testing.T) {
	const retryMax = 2
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   string
	}{
		{"503 SERVER_UNAVAILABLE", http.StatusServiceUnavailable,
			`[{"message":"Server temporarily unavailable, please try again later","errorCode":"SERVER_UNAVAILABLE"}]`,
			"SERVER_UNAVAILABLE"},
		{"429 REQUEST_LIMIT_EXCEEDED", http.StatusTooManyRequests,
			`[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`,
			"REQUEST_LIMIT_EXCEEDED"},
		{"500 UNKNOWN_EXCEPTION", http.StatusInternalServerError,
			`[{"message":"An unexpected error occurred.","errorCode":"UNKNOWN_EXCEPTION"}]`, "UNKNOWN_EXCEPTION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, answers := failingOrg(t, "/services/data/", tc.status, tc.body)
			c := connect(t, url, func(c *Config) { c.RetryMax = retryMax })
			ctx := context.Background()
			wantAPIError := func(t *testing.T, err error) {
				t.Helper()
				var api *APIError
				require.ErrorAs(t, err, &api)
				require.Equal(t, tc.status, api.Status)
				require.Equal(t, tc.code, api.Code)
				require.Equal(t, Retry, Classify(err))
				require.Equal(t, int32(retryMax+1), answers.Swap(0), "the first attempt and every retry")
			}

			_, err := c.Query(ctx, "SELECT Id FROM Case")
			require.ErrorContains(t, err, "query: salesforce: "+tc.code+": ")
			wantAPIError(t, err)

			_, err = c.Describe(ctx, "Case")
			require.ErrorContains(t, err, "GET sobjects/Case/describe: salesforce: "+tc.code)
			wantAPIError(t, err)

			_, _, _, err = NewSource(c, caseMapping(t)).Changes(ctx, "", nil)
			require.ErrorContains(t, err, "read Case: POST composite: salesforce: "+tc.code)
			wantAPIError(t, err)

			sink := NewSink(c, map[string]Writeback{"Case": caseWriteback{}})
			errs := sink.Write(ctx, []adapter.OutboxRow{row(1, "500000000000001AAA", contactpad.Deferred, "a1")})
			var park *adapter.ParkError
			require.NotErrorAs(t, errs[0], &park, "an org in an incident is retried later, not parked")
			wantAPIError(t, errs[0])
		})
	}
}

// TestNewSessionRefused: an org that signs the client in and then refuses
// every session (INVALID_SESSION_ID) gets one new sign-in, not one a call:
// after a new session is refused at once, the client does not sign in
// again for reauthPause.
func TestNewSessionRefused(t *testing.T) {
	org := sim.New(sim.Options{})
	var tokens, data atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/services/oauth2/token") {
			tokens.Add(1)
			org.ServeHTTP(w, r)
			return
		}
		data.Add(1)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
	}))
	t.Cleanup(srv.Close)
	c := connect(t, srv.URL, nil)
	signedIn := tokens.Load()
	for range 5 {
		_, err := c.Query(context.Background(), "SELECT Id FROM Case")
		require.ErrorContains(t, err, "INVALID_SESSION_ID")
	}
	require.Equal(t, signedIn+1, tokens.Load(), "one new session for five refused calls")
	require.Equal(t, int32(6), data.Load(), "the first call twice, the others once")
}

// TestSignInRetriesRunOut: a token endpoint that keeps answering 503 fails
// the sign-in with its status, as unavailable rather than refused.
func TestSignInRetriesRunOut(t *testing.T) {
	url, answers := failingOrg(t, "/services/oauth2/", http.StatusServiceUnavailable,
		`<html><body>Service Unavailable</body></html>`)
	_, err := New(context.Background(), Config{LoginURL: url, Auth: AuthClientCredentials, ClientID: "ctibridge-local",
		ClientSecret: "local-secret", Logger: quiet(), RetryMax: 1, RetryWaitMin: 1, RetryWaitMax: 1})
	require.EqualError(t, err, "salesforce sign-in (client_credentials) at "+url+": salesforce: HTTP 503")
	var api *APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, http.StatusServiceUnavailable, api.Status)
	require.Equal(t, int32(2), answers.Load())

	// No answer at all: the last network error, and how often it was tried.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	_, err = New(context.Background(), Config{LoginURL: down.URL, Auth: AuthClientCredentials, ClientID: "ctibridge-local",
		ClientSecret: "local-secret", Logger: quiet(), RetryMax: 1, RetryWaitMin: 1, RetryWaitMax: 1})
	require.ErrorContains(t, err, "salesforce sign-in (client_credentials) at "+down.URL+": ")
	require.ErrorContains(t, err, ": after 2 attempts: ")
	var netErr *net.OpError
	require.ErrorAs(t, err, &netErr)
}

// stuckOrg is the local org behind a front that gets stuck on every
// request whose path starts with prefix: it reports the request on arrived
// and then either holds it until the client goes away (reported on gone)
// or, with retryAfter, answers 503 with a Retry-After of an hour.
func stuckOrg(t *testing.T, prefix string, retryAfter bool) (url string, arrived, gone <-chan struct{}) {
	t.Helper()
	org := sim.New(sim.Options{})
	in, out := make(chan struct{}, 16), make(chan struct{}, 16)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			org.ServeHTTP(w, r)
			return
		}
		// Read the body: the server notices a client going away only
		// once it has.
		_, _ = io.Copy(io.Discard, r.Body)
		in <- struct{}{}
		if retryAfter {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `[{"message":"Server temporarily unavailable, please try again later","errorCode":"SERVER_UNAVAILABLE"}]`)
			return
		}
		select {
		case <-r.Context().Done():
			out <- struct{}{}
		case <-release: // the test failed; let the server close
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	return srv.URL, in, out
}

// within fails the test unless ch delivers before a generous deadline: a
// watchdog for "at once", not a wait the test depends on.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10s", what)
		panic("unreachable")
	}
}

// TestCancel: every call honours its context. A call stuck on an org that
// does not answer, or waiting an hour to retry as the org's Retry-After
// asks, returns at once when its context is cancelled, and the request in
// flight is aborted: the shutdown flush and a stopped poll never overrun.
func TestCancel(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	signIn := func(auth string) func(context.Context, string) error {
		return func(ctx context.Context, url string) error {
			_, err := New(ctx, Config{LoginURL: url, Auth: auth, ClientID: "ctibridge-local", ClientSecret: "local-secret",
				Username: "admin@local.test", PrivateKey: pemKey, Logger: quiet()})
			return err
		}
	}
	withClient := func(f func(context.Context, *Client) error) func(context.Context, string) error {
		return func(ctx context.Context, url string) error {
			return f(ctx, connect(t, url, nil))
		}
	}
	calls := []struct {
		name   string
		prefix string
		call   func(ctx context.Context, url string) error
	}{
		{"sign-in client credentials", "/services/oauth2/", signIn(AuthClientCredentials)},
		{"sign-in jwt", "/services/oauth2/", signIn(AuthJWT)},
		{"query", "/services/data/", withClient(func(ctx context.Context, c *Client) error {
			_, err := c.Query(ctx, "SELECT Id FROM Case")
			return err
		})},
		{"describe", "/services/data/", withClient(func(ctx context.Context, c *Client) error {
			_, err := c.Describe(ctx, "Case")
			return err
		})},
		{"poll", "/services/data/", withClient(func(ctx context.Context, c *Client) error {
			_, _, _, err := NewSource(c, caseMapping(t)).Changes(ctx, "", nil)
			return err
		})},
		{"writeback", "/services/data/", withClient(func(ctx context.Context, c *Client) error {
			sink := NewSink(c, map[string]Writeback{"Case": caseWriteback{}})
			return sink.Write(ctx, []adapter.OutboxRow{row(1, "500000000000001AAA", contactpad.Deferred, "a1")})[0]
		})},
	}
	for _, mode := range []struct {
		name       string
		retryAfter bool
	}{{"no answer", false}, {"Retry-After an hour", true}} {
		for _, tc := range calls {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				url, arrived, gone := stuckOrg(t, tc.prefix, mode.retryAfter)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- tc.call(ctx, url) }()
				within(t, arrived, "the request reaching the org")
				cancel()
				err := within(t, done, "the call returning after its context was cancelled")
				require.ErrorIs(t, err, context.Canceled)
				if !mode.retryAfter {
					within(t, gone, "the org seeing the request aborted")
				}
			})
		}
	}
}

// TestQueryRecordsHoldNoSession: simpleforce puts its client, which holds
// the session's access token, in every record Query returns
// ("__client__"); no record leaves the connector with it, on the first
// page or the next.
func TestQueryRecordsHoldNoSession(t *testing.T) {
	org := sim.New(sim.Options{PageSize: 2})
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	require.NoError(t, org.Seed([]sim.Record{
		{"attributes": map[string]any{"type": "Case"}, "Subject": "one"},
		{"attributes": map[string]any{"type": "Case"}, "Subject": "two"},
		{"attributes": map[string]any{"type": "Case"}, "Subject": "three"},
	}))
	c := connect(t, srv.URL, nil)
	var subjects []any
	for q := "SELECT Id, Subject FROM Case"; q != ""; {
		res, err := c.Query(context.Background(), q)
		require.NoError(t, err)
		for _, r := range res.Records {
			require.NotContains(t, r, "__client__")
			require.Equal(t, map[string]any{"type": "Case", "url": "/services/data/v62.0/sobjects/Case/" + r["Id"].(string)},
				r["attributes"], "the rest of the record is kept")
			subjects = append(subjects, r["Subject"])
		}
		q = res.NextRecordsURL
	}
	require.ElementsMatch(t, []any{"one", "two", "three"}, subjects, "two pages read")
}

// TestJWTAssertionLifetime: the JWT bearer assertion the client sends
// expires 3 minutes after it is made, the most Salesforce accepts, not an
// hour (x/oauth2/jwt's default).
func TestJWTAssertionLifetime(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	org := sim.New(sim.Options{JWTKey: &key.PublicKey})
	assertions := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/services/oauth2/token" {
			body, _ := io.ReadAll(r.Body)
			form, _ := neturl.ParseQuery(string(body))
			assertions <- form.Get("assertion")
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		org.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})

	before := time.Now()
	connect(t, srv.URL, func(c *Config) { c.Auth, c.Username, c.PrivateKey = AuthJWT, "admin@local.test", pemKey })
	after := time.Now()

	parts := strings.Split(<-assertions, ".")
	require.Len(t, parts, 3, "header.claims.signature")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.Equal(t, "ctibridge-local", claims.Iss)
	require.Equal(t, "admin@local.test", claims.Sub)
	require.Equal(t, srv.URL, claims.Aud)
	require.GreaterOrEqual(t, claims.Exp, before.Add(3*time.Minute).Unix())
	require.LessOrEqual(t, claims.Exp, after.Add(3*time.Minute).Unix())
}
