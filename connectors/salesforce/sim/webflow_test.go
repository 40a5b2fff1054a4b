package sim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testCallback = "http://127.0.0.1:9/callback"
	testVerifier = "a-verifier-of-forty-three-characters-or-more-0123"
)

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize posts the login form and returns the redirect's query.
func (e *env) authorize(username, password string, extra url.Values) (*http.Response, string, url.Values) {
	e.t.Helper()
	form := url.Values{"response_type": {"code"}, "client_id": {"ctibridge-local"}, "redirect_uri": {testCallback},
		"state": {"st4te"}, "code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"},
		"username": {username}, "pw": {password}}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := noRedirect.PostForm(e.srv.URL+"/services/oauth2/authorize", form)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Location") == "" {
		return resp, string(body), nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(e.t, err)
	return resp, string(body), loc.Query()
}

func (e *env) redeem(code string, extra url.Values) (*http.Response, []byte) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"ctibridge-local"},
		"client_secret": {"local-secret"}, "redirect_uri": {testCallback}, "code_verifier": {testVerifier}}
	for k, v := range extra {
		form[k] = v
	}
	return e.tokenRequest(form)
}

// TestWebServerFlow: the login page signs alice in with her password, the
// code it gives is traded once, with the right verifier and redirect_uri,
// for a token whose userinfo is alice's.
func TestWebServerFlow(t *testing.T) {
	e := newEnv(t, Options{UserPasswords: map[string]string{"alice@local.test": "alice-pw"}})
	require.NoError(t, e.org.Seed(DefaultSeed()[:1]))

	resp, err := http.Get(e.srv.URL + "/services/oauth2/authorize?" + url.Values{"response_type": {"code"},
		"client_id": {"ctibridge-local"}, "redirect_uri": {testCallback}, "state": {"st4te"}}.Encode())
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	require.Contains(t, string(page), `<label for="username">Username</label>`)
	require.Contains(t, string(page), `<label for="password">Password</label>`)

	resp, body, _ := e.authorize("alice@local.test", "local-password", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "a wrong password shows the page again")
	require.Contains(t, body, "check your username and password")

	resp, _, q := e.authorize("alice@local.test", "alice-pw", nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "st4te", q.Get("state"))
	code := q.Get("code")
	require.NotEmpty(t, code)

	resp, data := e.redeem(code, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(data, &tok))

	resp, data = e.redeem(code, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.JSONEq(t, `{"error":"invalid_grant","error_description":"invalid authorization code"}`, string(data), "a code is single-use")

	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/services/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var info map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
	require.Equal(t, "005Sd0000000001IAA", info["user_id"])
	require.Equal(t, e.org.orgID, info["organization_id"])
	require.Equal(t, "alice@local.test", info["preferred_username"])
	require.Equal(t, "Alice Archer", info["name"])
	require.Equal(t, "alice@local.test", info["email"])

	req, _ = http.NewRequest(http.MethodGet, e.srv.URL+"/services/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer nope")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// TestWebServerFlowRefusals: every way a code trade goes wrong, each of
// which spends the code.
func TestWebServerFlowRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()[:5]))
	tests := []struct {
		name      string
		extra     url.Values
		wait      time.Duration
		error     string
		errorDesc string
	}{
		{"wrong verifier", url.Values{"code_verifier": {testVerifier + "x"}}, 0, "invalid_grant", "invalid code verifier"},
		{"no verifier", url.Values{"code_verifier": {""}}, 0, "invalid_grant", "invalid code verifier"},
		{"wrong redirect_uri", url.Values{"redirect_uri": {"http://127.0.0.1:9/other"}}, 0, "redirect_uri_mismatch", "redirect_uri must match configuration"},
		{"wrong secret", url.Values{"client_secret": {"nope"}}, 0, "invalid_client", "invalid client credentials"},
		{"expired", nil, authCodeTTL, "invalid_grant", "invalid authorization code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, q := e.authorize("bob@local.test", "local-password", nil)
			code := q.Get("code")
			require.NotEmpty(t, code)
			e.clock.Advance(tc.wait)
			resp, data := e.redeem(code, tc.extra)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.JSONEq(t, `{"error":"`+tc.error+`","error_description":"`+tc.errorDesc+`"}`, string(data))
			if tc.name != "wrong secret" {
				resp, _ = e.redeem(code, nil)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, "the failed try spent the code")
			}
		})
	}

	t.Run("inactive user", func(t *testing.T) {
		resp, body, _ := e.authorize("dana@local.test", "local-password", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, body, "check your username and password")
	})
	t.Run("unregistered callback gets a page, not a redirect", func(t *testing.T) {
		resp, body, q := e.authorize("bob@local.test", "local-password", url.Values{"redirect_uri": {"https://evil.example/cb"}})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Nil(t, q)
		require.Contains(t, body, "redirect_uri_mismatch")
	})
	t.Run("unknown client gets a page", func(t *testing.T) {
		resp, body, _ := e.authorize("bob@local.test", "local-password", url.Values{"client_id": {"nope"}})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Contains(t, body, "invalid_client_id")
	})
	t.Run("bad response type is redirected with the error", func(t *testing.T) {
		resp, _, q := e.authorize("bob@local.test", "local-password", url.Values{"response_type": {"token"}})
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.Equal(t, "unsupported_response_type", q.Get("error"))
		require.Equal(t, "st4te", q.Get("state"))
	})
	t.Run("configured callback URLs only", func(t *testing.T) {
		e := newEnv(t, Options{CallbackURLs: []string{"https://bridge.example/cb"}})
		resp, body, _ := e.authorize("admin@local.test", "local-password", nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.True(t, strings.Contains(body, "redirect_uri_mismatch"))
	})
}
