package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// signinEnv is the API with Sign in with Salesforce against a local org
// whose users are the env's agents (bob's crm_user_id has 15 characters,
// the org answers 18), and a clock the test moves.
type signinEnv struct {
	*env
	org *httptest.Server

	mu  sync.Mutex
	now time.Time
}

func (s *signinEnv) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *signinEnv) advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
}

func startSignin(t *testing.T, opts ...envOption) *signinEnv {
	org := sim.New(sim.Options{UserPasswords: map[string]string{"alice@local.test": "alice-pw"}})
	require.NoError(t, org.Seed([]sim.Record{
		{"attributes": map[string]any{"type": "User"}, "Id": "005000000000001AAA", "Username": "alice@local.test", "LastName": "Archer", "Email": "alice@local.test"},
		{"attributes": map[string]any{"type": "User"}, "Id": "005000000000002AAA", "Username": "bob@local.test", "LastName": "Baker", "Email": "bob@local.test"},
		{"attributes": map[string]any{"type": "User"}, "Id": "005000000000009AAA", "Username": "sam@local.test", "LastName": "Supervisor", "Email": "sam@local.test"},
	}))
	orgSrv := httptest.NewServer(org)
	t.Cleanup(orgSrv.Close)
	s := &signinEnv{org: orgSrv, now: time.Now()}
	s.env = start(t, func(o *api.Options, settings *adapter.Settings) {
		o.SignIn = &api.SignInOptions{ClientID: "ctibridge-local", ClientSecret: "local-secret", LoginURL: orgSrv.URL, SessionTTL: time.Hour}
		o.Now = s.clock
		settings.Agents[1].CRMUserID = "005000000000002"
		for _, opt := range opts {
			opt(o, settings)
		}
	})
	return s
}

// browser is a cookie jar that does not follow redirects, so each step
// of the flow can be looked at.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// signIn runs the flow in c as username with password, from the start
// (mode "popup" or "") to the callback's response.
func (s *signinEnv) signIn(t *testing.T, c *http.Client, mode, username, password string) (*http.Response, string) {
	t.Helper()
	start := s.srv.URL + "/api/v1/signin/salesforce"
	if mode != "" {
		start += "?mode=" + mode
	}
	req, _ := http.NewRequest(http.MethodGet, start, nil)
	resp, _ := do(t, c, req)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authorize, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, s.org.URL+"/services/oauth2/authorize", authorize.Scheme+"://"+authorize.Host+authorize.Path)
	q := authorize.Query()
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.NotEmpty(t, q.Get("code_challenge"))
	require.Equal(t, s.srv.URL+api.CallbackPath, q.Get("redirect_uri"))

	form := url.Values{}
	for k, v := range q {
		form[k] = v
	}
	form.Set("username", username)
	form.Set("pw", password)
	req, _ = http.NewRequest(http.MethodPost, s.org.URL+"/services/oauth2/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ = do(t, c, req)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	req, _ = http.NewRequest(http.MethodGet, resp.Header.Get("Location"), nil)
	return do(t, c, req)
}

// request sends method path from the panel's origin (origin "" sends
// none) with the CSRF token csrf, if any.
func (s *signinEnv) request(t *testing.T, c *http.Client, method, path, origin, csrf, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if csrf != "" {
		req.Header.Set(api.CSRFHeader, csrf)
	}
	return do(t, c, req)
}

func problemCode(t *testing.T, body string) string {
	t.Helper()
	var p api.Problem
	require.NoError(t, json.Unmarshal([]byte(body), &p), body)
	return p.Code
}

// TestSignInTab: in a tab of its own, the callback sets the session cookie
// and goes to the panel; the session acts as the agent, its state changes
// need the CSRF token and the panel's origin, and sign-out ends it.
func TestSignInTab(t *testing.T) {
	s := startSignin(t)
	c := browser(t)
	resp, _ := s.signIn(t, c, "", "alice@local.test", "alice-pw")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"))
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "ctibridge_session" {
			cookie = ck
		}
	}
	require.NotNil(t, cookie)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, "/", cookie.Path)
	require.Equal(t, http.SameSiteLaxMode, cookie.SameSite, "over http, framed or not")
	require.False(t, cookie.Secure, "http")

	resp, body := s.request(t, c, http.MethodGet, "/api/v1/me", "", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var me map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &me))
	require.Equal(t, "alice", me["id"])
	require.Equal(t, "agent", me["role"])
	require.Equal(t, true, me["session"])
	csrf, _ := me["csrf_token"].(string)
	require.NotEmpty(t, csrf)

	presence := `{"presence":"available"}`
	resp, body = s.request(t, c, http.MethodPut, "/api/v1/me/presence", s.srv.URL, "", presence)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "csrf", problemCode(t, body), "no CSRF header")
	resp, body = s.request(t, c, http.MethodPut, "/api/v1/me/presence", s.srv.URL, "wrong", presence)
	require.Equal(t, "csrf", problemCode(t, body), "a wrong CSRF token")
	resp, body = s.request(t, c, http.MethodPut, "/api/v1/me/presence", "https://evil.example", csrf, presence)
	require.Equal(t, "csrf", problemCode(t, body), "a foreign origin")
	resp, body = s.request(t, c, http.MethodPut, "/api/v1/me/presence", "", csrf, presence)
	require.Equal(t, "csrf", problemCode(t, body), "no origin")
	resp, body = s.request(t, c, http.MethodPut, "/api/v1/me/presence", s.srv.URL, csrf, presence)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, body = s.request(t, c, http.MethodPut, "/api/v1/me/presence", "https://acme.lightning.force.com", csrf, `{"presence":"busy"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "a frame ancestor's origin: %s", body)

	resp, body = s.request(t, c, http.MethodGet, "/api/v1/admin/status", "", "", "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "exactly an agent's access: %s", body)
	require.Equal(t, "forbidden", problemCode(t, body))

	resp, body = s.request(t, c, http.MethodPost, "/api/v1/signout", s.srv.URL, "", "")
	require.Equal(t, "csrf", problemCode(t, body), "sign-out needs the token too")
	stolen := c.Jar.Cookies(mustURL(t, s.srv.URL))
	resp, _ = s.request(t, c, http.MethodPost, "/api/v1/signout", s.srv.URL, csrf, "")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = s.request(t, c, http.MethodGet, "/api/v1/me", "", "", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the cookie is gone")

	replay := browser(t)
	replay.Jar.SetCookies(mustURL(t, s.srv.URL), stolen)
	resp, _ = s.request(t, replay, http.MethodGet, "/api/v1/me", "", "", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the session is revoked, not only its cookie deleted")

	require.NotContains(t, s.logs.String(), stolen[0].Value, "no session id in the log")
	require.NotContains(t, s.logs.String(), csrf)
}

func mustURL(t *testing.T, raw string) *url.URL {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

var ticketAttr = regexp.MustCompile(`data-ticket="([^"]+)"`)

// TestSignInPopup: in a popup the callback hands a ticket, which the
// panel trades once, from its own origin, for the cookie; bob's 15-character
// crm_user_id matches the org's 18-character user_id.
func TestSignInPopup(t *testing.T) {
	s := startSignin(t)
	popup := browser(t)
	resp, page := s.signIn(t, popup, "popup", "bob@local.test", "local-password")
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	require.Contains(t, page, `<script src="/signin-popup.js" defer></script>`)
	for _, ck := range resp.Cookies() {
		require.NotEqual(t, "ctibridge_session", ck.Name, "the popup gets no session")
	}
	m := ticketAttr.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	ticket := `{"ticket":"` + m[1] + `"}`

	panel := browser(t)
	resp, body := s.request(t, panel, http.MethodPost, "/api/v1/signin/ticket", "", "", ticket)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "csrf", problemCode(t, body), "no Origin")
	resp, body = s.request(t, panel, http.MethodPost, "/api/v1/signin/ticket", s.srv.URL, "", ticket)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var in struct {
		Agent     string `json:"agent"`
		CSRFToken string `json:"csrf_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &in))
	require.Equal(t, "bob", in.Agent)
	require.NotEmpty(t, in.CSRFToken)
	resp, body = s.request(t, panel, http.MethodGet, "/api/v1/me", "", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `"id":"bob"`)

	resp, body = s.request(t, browser(t), http.MethodPost, "/api/v1/signin/ticket", s.srv.URL, "", ticket)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a ticket works once")
	require.Equal(t, "unauthorized", problemCode(t, body))

	_, page = s.signIn(t, popup, "popup", "bob@local.test", "local-password")
	m = ticketAttr.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	s.advance(2 * time.Minute)
	resp, _ = s.request(t, browser(t), http.MethodPost, "/api/v1/signin/ticket", s.srv.URL, "", `{"ticket":"`+m[1]+`"}`)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a ticket lasts a minute")
}

// TestSignInRefusals: a session past its TTL, a Salesforce user no agent
// has, a callback this browser did not start, and an error from the org.
func TestSignInRefusals(t *testing.T) {
	s := startSignin(t)
	aliceSignedIn := func(t *testing.T) *http.Client {
		c := browser(t)
		resp, _ := s.signIn(t, c, "", "alice@local.test", "alice-pw")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		resp, _ = s.request(t, c, http.MethodGet, "/api/v1/me", "", "", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return c
	}

	t.Run("expired session", func(t *testing.T) {
		c := aliceSignedIn(t)
		s.advance(time.Hour)
		resp, _ := s.request(t, c, http.MethodGet, "/api/v1/me", "", "", "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "session_ttl is an hour")
	})
	t.Run("unknown Salesforce user", func(t *testing.T) {
		c := browser(t)
		resp, page := s.signIn(t, c, "", "sam@local.test", "local-password")
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, page, "no ctibridge agent has that Salesforce user")
		require.Contains(t, page, "crm_user_id: 005000000000009AAA")
		require.Empty(t, resp.Cookies()[1:], "only the sign-in's own cookie, deleted")
		resp, _ = s.request(t, c, http.MethodGet, "/api/v1/me", "", "", "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
	t.Run("agent removed from the config", func(t *testing.T) {
		c := aliceSignedIn(t)

		settings := s.engine.Settings()
		kept := settings
		settings.Agents = slices.DeleteFunc(slices.Clone(settings.Agents), func(a contactpad.Agent) bool { return a.ID == "alice" })
		require.NoError(t, s.engine.Reconfigure(t.Context(), settings))
		t.Cleanup(func() { require.NoError(t, s.engine.Reconfigure(context.Background(), kept)) })
		resp, _ := s.request(t, c, http.MethodGet, "/api/v1/me", "", "", "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "her session ends with her")
		resp, page := s.signIn(t, browser(t), "", "alice@local.test", "alice-pw")
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "nor may she sign in again")
		require.Contains(t, page, "no ctibridge agent has that Salesforce user")
	})
	t.Run("callback not started here", func(t *testing.T) {
		resp, page := s.request(t, browser(t), http.MethodGet, api.CallbackPath+"?code=x&state=y", "", "", "")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Contains(t, page, "not started here")
	})
	t.Run("error from the org", func(t *testing.T) {
		c := browser(t)
		req, _ := http.NewRequest(http.MethodGet, s.srv.URL+api.SignInPath, nil)
		resp, _ := do(t, c, req)
		state := mustURL(t, resp.Header.Get("Location")).Query().Get("state")
		resp, page := s.request(t, c, http.MethodGet, api.CallbackPath+"?"+url.Values{"state": {state},
			"error": {"access_denied"}, "error_description": {"end-user denied authorization"}}.Encode(), "", "", "")
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, page, "end-user denied authorization")
	})
	t.Run("bearer tokens still work", func(t *testing.T) {
		s.ok("alice", http.MethodGet, "/api/v1/me", nil)
	})
}

// TestSignInRateLimit: a session is limited as the agent's token is, per
// agent: a second session of the same agent shares the limit.
func TestSignInRateLimit(t *testing.T) {
	s := startSignin(t, func(o *api.Options, _ *adapter.Settings) { o.RateLimit, o.RateBurst = 0.001, 3 })
	first, second := browser(t), browser(t)
	s.signIn(t, first, "", "alice@local.test", "alice-pw")
	s.signIn(t, second, "", "alice@local.test", "alice-pw")
	for range 3 {
		resp, _ := s.request(t, first, http.MethodGet, "/api/v1/me", "", "", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, body := s.request(t, second, http.MethodGet, "/api/v1/me", "", "", "")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "rate_limited", problemCode(t, body))
}
