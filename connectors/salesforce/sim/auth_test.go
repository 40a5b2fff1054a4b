package sim

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTokenGrants(t *testing.T) {
	e := newEnv(t, Options{SecurityToken: "tok123"})
	client := url.Values{"client_id": {"ctibridge-local"}, "client_secret": {"local-secret"}}
	with := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, vs := range client {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	tests := []struct {
		name        string
		form        url.Values
		status      int
		error, desc string
	}{
		{"client credentials", with(url.Values{"grant_type": {"client_credentials"}}), 200, "", ""},
		{"password with security token", with(url.Values{"grant_type": {"password"}, "username": {"admin@local.test"},
			"password": {"local-passwordtok123"}}), 200, "", ""},
		{"password without security token", with(url.Values{"grant_type": {"password"}, "username": {"admin@local.test"},
			"password": {"local-password"}}), 400, "invalid_grant", "authentication failure"},
		{"unknown user", with(url.Values{"grant_type": {"password"}, "username": {"eve@local.test"},
			"password": {"local-passwordtok123"}}), 400, "invalid_grant", "authentication failure"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nope"}, "client_secret": {"local-secret"}},
			400, "invalid_client_id", "client identifier invalid"},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ctibridge-local"}, "client_secret": {"nope"}},
			400, "invalid_client", "invalid client credentials"},
		{"unsupported grant", with(url.Values{"grant_type": {"refresh_token"}}), 400, "unsupported_grant_type", "grant type not supported"},
		{"no grant", client, 400, "unsupported_grant_type", "grant type not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.tokenRequest(tc.form)
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			if tc.status != 200 {
				require.JSONEq(t, `{"error":"`+tc.error+`","error_description":"`+tc.desc+`"}`, string(body))
				return
			}
			var tok map[string]string
			require.NoError(t, json.Unmarshal(body, &tok))
			require.Equal(t, e.srv.URL, tok["instance_url"])
			require.Equal(t, "Bearer", tok["token_type"])
			require.Equal(t, e.srv.URL+"/id/"+e.org.orgID+"/"+e.org.UserID(), tok["id"])
			require.Equal(t, strconv.FormatInt(e.clock.Now().UnixMilli(), 10), tok["issued_at"])
			mac := hmac.New(sha256.New, []byte("local-secret"))
			mac.Write([]byte(tok["id"] + tok["issued_at"]))
			require.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), tok["signature"])
			resp, data := e.callWith(tok["access_token"], http.MethodGet, "/limits", nil, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
		})
	}

	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/services/oauth2/token",
		strings.NewReader("grant_type=client_credentials"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("ctibridge-local", "local-secret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "client_secret_basic")

	resp, err = http.Get(e.srv.URL + "/services/oauth2/token")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, len(tests)+3, e.org.Calls()[CallToken]) // the env's own login, the table, Basic, the GET
}

// signJWT makes an RS256 assertion the way Salesforce's JWT bearer flow expects.
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(data)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	require.NoError(t, err)
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestJWTBearerGrant(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	e := newEnv(t, Options{JWTKey: &key.PublicKey})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	exp := e.clock.Now().Add(3 * time.Minute).Unix()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "ctibridge-local", "sub": "alice@local.test", "aud": "https://login.salesforce.com", "exp": exp}
		if change != nil {
			change(c)
		}
		return c
	}
	tests := []struct {
		name   string
		key    *rsa.PrivateKey
		claims map[string]any
		error  string
		desc   string
	}{
		{"valid", key, claims(nil), "", ""},
		{"exp as a string, aud this org", key, claims(func(c map[string]any) {
			c["exp"] = strconv.FormatInt(exp, 10)
			c["aud"] = e.srv.URL
		}), "", ""},
		{"signed by another key", other, claims(nil), "invalid_grant", "invalid assertion"},
		{"unknown client", key, claims(func(c map[string]any) { c["iss"] = "someone" }), "invalid_client_id", "client identifier invalid"},
		{"expired", key, claims(func(c map[string]any) { c["exp"] = e.clock.Now().Add(-time.Second).Unix() }), "invalid_grant", "invalid assertion"},
		{"unknown user", key, claims(func(c map[string]any) { c["sub"] = "eve@local.test" }), "invalid_grant", "invalid assertion"},
		{"wrong audience", key, claims(func(c map[string]any) { c["aud"] = "https://example.com" }), "invalid_grant", "audience is invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.tokenRequest(url.Values{"grant_type": {grantJWTBearer}, "assertion": {signJWT(t, tc.key, tc.claims)}})
			if tc.error != "" {
				require.Equal(t, http.StatusBadRequest, resp.StatusCode)
				require.JSONEq(t, `{"error":"`+tc.error+`","error_description":"`+tc.desc+`"}`, string(body))
				return
			}
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			var tok map[string]string
			require.NoError(t, json.Unmarshal(body, &tok))
			require.Equal(t, e.srv.URL+"/id/"+e.org.orgID+"/005Sd0000000001IAA", tok["id"], "the session is alice's")
		})
	}
	resp, body := e.tokenRequest(url.Values{"grant_type": {grantJWTBearer}, "assertion": {"not.a.jwt"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), "invalid assertion")
}

// TestJWTBearerGrantWithoutKey checks that an org with no key to verify
// assertions refuses them all, signed or not: an unchecked signature would
// let anyone sign in as any user.
func TestJWTBearerGrantWithoutKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	e := newEnv(t, Options{})
	require.NoError(t, e.org.Seed(DefaultSeed()))
	claims := map[string]any{"iss": "ctibridge-local", "sub": "alice@local.test", "aud": "https://login.salesforce.com",
		"exp": e.clock.Now().Add(3 * time.Minute).Unix()}
	signed := signJWT(t, key, claims)
	unsigned := signed[:strings.LastIndexByte(signed, '.')+1]
	for _, assertion := range []string{signed, unsigned} {
		resp, body := e.tokenRequest(url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion}})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.JSONEq(t, `{"error":"invalid_grant","error_description":"invalid assertion: the org has no certificate to verify it (ctibridge sim --jwt-cert)"}`, string(body))
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, Options{TokenTTL: time.Hour})
	const invalid = `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`

	resp, body := e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))

	e.clock.Advance(time.Hour)
	resp, body = e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.JSONEq(t, invalid, string(body))

	for _, token := range []string{"", "made-up"} {
		resp, body = e.callWith(token, http.MethodGet, "/limits", nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.JSONEq(t, invalid, string(body))
	}

	e.token = e.login()
	resp, _ = e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	e.org.Faults().ExpireSessions()
	resp, body = e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.JSONEq(t, invalid, string(body))
	e.token = e.login()
	resp, _ = e.call(http.MethodGet, "/limits", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Calls refused for their token are not API calls.
	require.Equal(t, 3, e.org.Total())
}
