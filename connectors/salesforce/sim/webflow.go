package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The OAuth 2.0 web server flow (authorization code, with PKCE), as
// Salesforce serves it: GET /services/oauth2/authorize shows a login page,
// its POST signs the user in and redirects to the client's callback with a
// code, POST /services/oauth2/token trades the code for an access token,
// and GET /services/oauth2/userinfo describes the token's user.

// authCodeTTL is how long an authorization code may be traded: Salesforce
// gives 15 minutes.
const authCodeTTL = 15 * time.Minute

// authCode is an authorization code not yet traded.
type authCode struct {
	user, clientID, redirectURI string
	challenge                   string // the S256 code_challenge; "" without PKCE
	expires                     time.Time
}

// authorizeRequest is what /services/oauth2/authorize was asked.
type authorizeRequest struct {
	ClientID, RedirectURI, State, Challenge, ChallengeMethod string
}

func authorizeRequestOf(v url.Values) authorizeRequest {
	return authorizeRequest{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), State: v.Get("state"),
		Challenge: v.Get("code_challenge"), ChallengeMethod: v.Get("code_challenge_method"),
	}
}

// redirectOK reports whether uri may receive codes: one of
// Options.CallbackURLs, or with none configured any http(s) URL on a
// loopback host (the local org's bridges listen on any port).
func (o *Org) redirectOK(uri string) bool {
	if len(o.opts.CallbackURLs) > 0 {
		for _, c := range o.opts.CallbackURLs {
			if c == uri {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" {
		return false
	}
	switch h := u.Hostname(); {
	case h == "localhost", strings.HasPrefix(h, "127."), h == "::1":
		return true
	}
	return false
}

// serveAuthorize is /services/oauth2/authorize: GET shows the login page,
// POST checks the user's password. Like Salesforce, a request whose client
// or callback is wrong gets a plain error page (a redirect would send the
// user somewhere unchecked); other errors are redirected to the callback
// with error and error_description.
func (o *Org) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		authorizePage(w, http.StatusBadRequest, loginPage{Error: "Invalid request."})
		return
	}
	req := authorizeRequestOf(r.Form)
	switch {
	case req.ClientID != o.opts.ClientID:
		authorizePage(w, http.StatusBadRequest, loginPage{Error: "error=invalid_client_id: client identifier invalid"})
		return
	case !o.redirectOK(req.RedirectURI):
		authorizePage(w, http.StatusBadRequest, loginPage{Error: "error=redirect_uri_mismatch: redirect_uri must match configuration"})
		return
	}
	fail := func(code, description string) {
		q := url.Values{"error": {code}, "error_description": {description}}
		if req.State != "" {
			q.Set("state", req.State)
		}
		http.Redirect(w, r, withQuery(req.RedirectURI, q), http.StatusFound)
	}
	switch {
	case r.Form.Get("response_type") != "code":
		fail("unsupported_response_type", "response type not supported")
		return
	case req.Challenge != "" && req.ChallengeMethod != "S256" && req.ChallengeMethod != "":
		fail("invalid_request", "invalid code_challenge_method")
		return
	}
	page := loginPage{Request: req, Username: r.PostForm.Get("username")}
	if r.Method == http.MethodGet {
		authorizePage(w, http.StatusOK, page)
		return
	}
	user, ok := o.checkPassword(page.Username, r.PostForm.Get("pw"))
	if !ok {
		page.Error = "Please check your username and password. If you still can't log in, contact your Salesforce administrator."
		authorizePage(w, http.StatusOK, page)
		return
	}
	code := randomToken(32)
	o.mu.Lock()
	now := o.now()
	for c, a := range o.codes {
		if !now.Before(a.expires) {
			delete(o.codes, c)
		}
	}
	o.codes[code] = &authCode{user: user, clientID: req.ClientID, redirectURI: req.RedirectURI,
		challenge: req.Challenge, expires: now.Add(authCodeTTL)}
	o.mu.Unlock()
	q := url.Values{"code": {code}}
	if req.State != "" {
		q.Set("state", req.State)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, withQuery(req.RedirectURI, q), http.StatusFound)
}

// checkPassword returns the id of the active user with username and
// password: Options.UserPasswords[username], or Options.Password for users
// it does not list.
func (o *Org) checkPassword(username, password string) (string, bool) {
	want, ok := o.opts.UserPasswords[strings.ToLower(username)]
	if !ok {
		want = o.opts.Password
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.tables["User"].rows {
		if name, _ := r.vals["Username"].(string); !r.deleted && strings.EqualFold(name, username) && r.vals["IsActive"] == true {
			return r.id, equalSecret(password, want)
		}
	}
	return "", false
}

func withQuery(base string, q url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + q.Encode()
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var (
	errBadCode     = &oauthError{http.StatusBadRequest, "invalid_grant", "invalid authorization code"}
	errBadVerifier = &oauthError{http.StatusBadRequest, "invalid_grant", "invalid code verifier"}
	errBadRedirect = &oauthError{http.StatusBadRequest, "redirect_uri_mismatch", "redirect_uri must match configuration"}
)

// redeemCode checks an authorization_code grant and returns the code's
// user. A code is single-use: it is spent by the first try, right or
// wrong, as Salesforce does.
func (o *Org) redeemCode(form url.Values) (string, *oauthError) {
	if oerr := o.checkClient(form.Get("client_id"), form.Get("client_secret")); oerr != nil {
		return "", oerr
	}
	o.mu.Lock()
	code := o.codes[form.Get("code")]
	delete(o.codes, form.Get("code"))
	now := o.now()
	o.mu.Unlock()
	switch {
	case code == nil || !now.Before(code.expires) || code.clientID != form.Get("client_id"):
		return "", errBadCode
	case code.redirectURI != form.Get("redirect_uri"):
		return "", errBadRedirect
	case code.challenge != "" && !pkceMatches(code.challenge, form.Get("code_verifier")):
		return "", errBadVerifier
	}
	return code.user, nil
}

// pkceMatches reports whether verifier hashes to the S256 challenge.
func pkceMatches(challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return equalSecret(base64.RawURLEncoding.EncodeToString(sum[:]), challenge)
}

// serveUserInfo is GET /services/oauth2/userinfo: the OpenID Connect
// claims of the access token's user, with Salesforce's user_id and
// organization_id (18-character ids). It is not an API call.
func (o *Org) serveUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	o.mu.Lock()
	user, ok := o.authenticate(r)
	var vals map[string]any
	if ok {
		if rec := o.liveRecord(user); rec != nil {
			vals = rec.vals
		}
	}
	o.mu.Unlock()
	if !ok || vals == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "Bad_OAuth_Token", http.StatusForbidden)
		return
	}
	str := func(k string) string { s, _ := vals[k].(string); return s }
	base := baseURL(r)
	name := strings.TrimSpace(str("FirstName") + " " + str("LastName"))
	writeJSON(w, http.StatusOK, object{
		{"sub", base + "/id/" + o.orgID + "/" + user},
		{"user_id", user},
		{"organization_id", o.orgID},
		{"preferred_username", str("Username")},
		{"nickname", strings.SplitN(str("Username"), "@", 2)[0]},
		{"name", name},
		{"email", str("Email")},
		{"email_verified", true},
		{"given_name", str("FirstName")},
		{"family_name", str("LastName")},
		{"zoneinfo", "Europe/London"},
		{"active", vals["IsActive"] == true},
		{"user_type", "STANDARD"},
		{"language", "en_US"},
		{"locale", "en_GB"},
	})
}

// loginPage is what the login page shows.
type loginPage struct {
	Request  authorizeRequest
	Username string
	Error    string
}

func authorizePage(w http.ResponseWriter, status int, p loginPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Salesforce's login page refuses to be framed.
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, p)
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Login | Salesforce (local org)</title>
<link rel="icon" href="data:,">
<style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:2rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;box-sizing:border-box}input{margin:.25rem 0 1rem;padding:.5rem}
button{padding:.6rem;background:#0b5cab;color:#fff;border:0;border-radius:4px}.error{color:#b00020}</style>
</head>
<body>
<main>
<h1>Log in to the local org</h1>
{{if .Error}}<p id="error" class="error" role="alert">{{.Error}}</p>{{end}}
{{if .Request.ClientID}}<form method="post" action="/services/oauth2/authorize">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="client_id" value="{{.Request.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.Request.RedirectURI}}">
<input type="hidden" name="state" value="{{.Request.State}}">
<input type="hidden" name="code_challenge" value="{{.Request.Challenge}}">
<input type="hidden" name="code_challenge_method" value="{{.Request.ChallengeMethod}}">
<label for="username">Username</label>
<input id="username" name="username" type="email" autocomplete="username" value="{{.Username}}" required>
<label for="password">Password</label>
<input id="password" name="pw" type="password" autocomplete="current-password" required>
<button id="Login" type="submit">Log In</button>
</form>{{end}}
</main>
</body>
</html>
`))
