package sim

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// session is an issued access token.
type session struct {
	user    string
	expires time.Time
	epoch   int // Faults.ExpireSessions bumps the epoch to invalidate older tokens
}

// oauthError is the body of a refused token request.
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) write(w http.ResponseWriter) {
	writeJSON(w, e.status, object{{"error", e.code}, {"error_description", e.description}})
}

var (
	errUnknownClient = &oauthError{http.StatusBadRequest, "invalid_client_id", "client identifier invalid"}
	errBadSecret     = &oauthError{http.StatusBadRequest, "invalid_client", "invalid client credentials"}
	errAuthFailure   = &oauthError{http.StatusBadRequest, "invalid_grant", "authentication failure"}
	errBadAssertion  = &oauthError{http.StatusBadRequest, "invalid_grant", "invalid assertion"}
	errNoJWTKey      = &oauthError{http.StatusBadRequest, "invalid_grant", "invalid assertion: the org has no certificate to verify it (ctibridge sim --jwt-cert)"}
	errBadAudience   = &oauthError{http.StatusBadRequest, "invalid_grant", "audience is invalid"}
	errBadGrant      = &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant type not supported"}
	errNotPost       = &oauthError{http.StatusBadRequest, "invalid_request", "must use HTTP POST"}
)

// serveToken is POST /services/oauth2/token: the client credentials,
// username-password, JWT bearer and authorization code (webflow.go) grants. It is counted apart from API calls.
func (o *Org) serveToken(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.calls[CallToken]++
	o.mu.Unlock()
	if r.Method != http.MethodPost {
		errNotPost.write(w)
		return
	}
	if err := r.ParseForm(); err != nil {
		(&oauthError{http.StatusBadRequest, "invalid_request", "invalid request body"}).write(w)
		return
	}
	form := r.Form
	// Clients may authenticate in an Authorization: Basic header instead of
	// the form (client_secret_basic), as golang.org/x/oauth2 tries first.
	if id, secret, ok := r.BasicAuth(); ok && form.Get("client_id") == "" {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	var user string
	var oerr *oauthError
	switch form.Get("grant_type") {
	case "client_credentials":
		oerr = o.checkClient(form.Get("client_id"), form.Get("client_secret"))
		user = o.adminID
	case "password":
		oerr = o.checkClient(form.Get("client_id"), form.Get("client_secret"))
		if oerr == nil && (!strings.EqualFold(form.Get("username"), o.opts.Username) ||
			!equalSecret(form.Get("password"), o.opts.Password+o.opts.SecurityToken)) {
			oerr = errAuthFailure
		}
		user = o.adminID
	case "authorization_code":
		user, oerr = o.redeemCode(form)
	case grantJWTBearer:
		user, oerr = o.checkAssertion(form.Get("assertion"), baseURL(r))
	default:
		oerr = errBadGrant
	}
	if oerr != nil {
		oerr.write(w)
		return
	}
	o.issueToken(w, r, user)
}

func equalSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (o *Org) checkClient(id, secret string) *oauthError {
	if id != o.opts.ClientID {
		return errUnknownClient
	}
	if !equalSecret(secret, o.opts.ClientSecret) {
		return errBadSecret
	}
	return nil
}

// checkAssertion validates a JWT bearer assertion: RS256, iss the client id,
// sub an active user's username, aud a Salesforce login URL or this org,
// exp in the future, and the signature by Options.JWTKey; with no key set
// every assertion is refused.
func (o *Org) checkAssertion(assertion, base string) (string, *oauthError) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "", errBadAssertion
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp json.RawMessage `json:"exp"`
	}
	if !decodeSegment(parts[0], &header) || !decodeSegment(parts[1], &claims) || header.Alg != "RS256" {
		return "", errBadAssertion
	}
	// Without a key no assertion can be verified, so none is accepted:
	// an unsigned one would let anyone sign in as any user.
	if o.opts.JWTKey == nil {
		return "", errNoJWTKey
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", errBadAssertion
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(o.opts.JWTKey, crypto.SHA256, digest[:], sig) != nil {
		return "", errBadAssertion
	}
	if claims.Iss != o.opts.ClientID {
		return "", errUnknownClient
	}
	if !audienceOK(claims.Aud, base) {
		return "", errBadAudience
	}
	exp, ok := numericClaim(claims.Exp)
	if !ok || !o.now().Before(time.Unix(exp, 0)) {
		return "", errBadAssertion
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.tables["User"].rows {
		if name, _ := r.vals["Username"].(string); strings.EqualFold(name, claims.Sub) && r.vals["IsActive"] == true {
			return r.id, nil
		}
	}
	return "", errBadAssertion
}

func decodeSegment(seg string, v any) bool {
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	return err == nil && json.Unmarshal(data, v) == nil
}

func audienceOK(raw json.RawMessage, base string) bool {
	var one string
	var many []string
	if json.Unmarshal(raw, &one) == nil {
		many = []string{one}
	} else if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, aud := range many {
		switch strings.TrimRight(aud, "/") {
		case "https://login.salesforce.com", "https://test.salesforce.com", base:
			return true
		}
	}
	return false
}

// numericClaim reads a NumericDate that some clients send as a string.
func numericClaim(raw json.RawMessage) (int64, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, true
		}
		if f, err := n.Float64(); err == nil {
			return int64(f), true
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
	}
	return 0, false
}

func (o *Org) issueToken(w http.ResponseWriter, r *http.Request, user string) {
	random := make([]byte, 48)
	_, _ = rand.Read(random)
	base := baseURL(r)

	o.mu.Lock()
	now := o.now()
	for tok, s := range o.sessions {
		if !now.Before(s.expires) {
			delete(o.sessions, tok)
		}
	}
	token := o.orgID[:15] + "!" + base64.RawURLEncoding.EncodeToString(random)
	o.sessions[token] = &session{user: user, expires: now.Add(o.opts.TokenTTL), epoch: o.faults.epoch()}
	o.mu.Unlock()

	id := base + "/id/" + o.orgID + "/" + user
	issuedAt := strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(o.opts.ClientSecret))
	mac.Write([]byte(id + issuedAt))
	w.Header().Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	writeJSON(w, http.StatusOK, object{
		{"access_token", token},
		{"instance_url", base},
		{"id", id},
		{"token_type", "Bearer"},
		{"issued_at", issuedAt},
		{"signature", base64.StdEncoding.EncodeToString(mac.Sum(nil))},
	})
}

// authenticate returns the user of the request's access token. The caller holds o.mu.
func (o *Org) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "OAuth") {
		return "", false
	}
	token = strings.TrimSpace(token)
	s := o.sessions[token]
	if s == nil {
		return "", false
	}
	if s.epoch != o.faults.epoch() || !o.now().Before(s.expires) {
		delete(o.sessions, token)
		return "", false
	}
	return s.user, true
}
