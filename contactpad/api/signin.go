package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/adapter"
)

// Sign in with Salesforce: the OAuth 2.0 web server flow with PKCE, then
// the org's userinfo endpoint, gives the Salesforce user; the agent whose
// crm_user_id is that user gets a session. The session's secret id lives in
// an HttpOnly cookie and, hashed, in the store, so every replica knows it.
// A request authenticated by the cookie acts as that agent, exactly as the
// agent's bearer token would; a state change also needs the session's CSRF
// token in X-CSRF-Token and an Origin of the panel or a frame ancestor.
//
// Salesforce's login page cannot be framed, so the panel inside the
// console signs in through a popup: the callback page hands a short-lived,
// single-use ticket to the panel that opened it (postMessage to the
// panel's origin), and the panel trades it for the cookie with a
// same-origin POST, so the cookie is set in the frame's own context. In a
// tab of its own the callback sets the cookie and goes to the panel.

// The defaults of SignInOptions.
const (
	DefaultSessionTTL = 12 * time.Hour
	// ticketTTL is how long a popup's ticket may be traded for a session.
	ticketTTL = time.Minute
	// signinTTL is how long a sign-in may take at the org's login page.
	signinTTL = 10 * time.Minute
)

// The paths of sign-in.
const (
	SignInPath   = "/api/v1/signin/salesforce"
	CallbackPath = "/api/v1/signin/salesforce/callback"
	ticketPath   = "/api/v1/signin/ticket"
	signOutPath  = "/api/v1/signout"
)

// The cookies: the session's, and the one that carries a sign-in's state
// and PKCE verifier from the start to the callback.
const (
	sessionCookie = "ctibridge_session"
	flowCookie    = "ctibridge_signin"
	// CSRFHeader carries a cookie session's CSRF token.
	CSRFHeader = "X-CSRF-Token"
)

// codeCSRF: a state change authenticated by a session cookie came without
// its CSRF token, or from an origin that is not the panel's.
const codeCSRF = "csrf"

// SignInOptions turn on Sign in with Salesforce.
type SignInOptions struct {
	// ClientID and ClientSecret are the connected app's (or external
	// client app's) consumer key and secret.
	ClientID, ClientSecret string
	// LoginURL is the org's login host, such as https://login.salesforce.com
	// or https://MYDOMAIN.my.salesforce.com: /services/oauth2/authorize,
	// token and userinfo are under it.
	LoginURL string
	// CallbackURL is the callback registered in the connected app, which
	// must reach CallbackPath of this server. Empty: the request's own
	// origin (http, or https when the request came over TLS) and
	// CallbackPath.
	CallbackURL string
	// SessionTTL is how long a session lasts (default DefaultSessionTTL).
	SessionTTL time.Duration
	// HTTPClient calls the org (default http.DefaultClient).
	HTTPClient *http.Client
}

// signin serves Sign in with Salesforce and authenticates session cookies.
type signin struct {
	o      SignInOptions
	s      *Server
	framed bool // panel.frame_ancestors are set: the cookie must cross sites

	mu       sync.Mutex
	limiters map[string]*rate.Limiter // by agent
}

// session is the cookie session a request was authenticated by.
type session struct {
	idHash string
	csrf   string
}

type sessionKey struct{}

// sessionOf returns the session that authenticated r, or nil (a bearer token).
func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

func newSignin(s *Server, o SignInOptions) (*signin, error) {
	if o.ClientID == "" || o.LoginURL == "" {
		return nil, errors.New("sign-in: client ID and login URL are required")
	}
	if u, err := url.Parse(o.LoginURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("sign-in: login URL %q: want an absolute http(s) URL", o.LoginURL)
	}
	if o.CallbackURL != "" {
		if u, err := url.Parse(o.CallbackURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("sign-in: callback URL %q: want an absolute http(s) URL", o.CallbackURL)
		}
	}
	o.LoginURL = strings.TrimRight(o.LoginURL, "/")
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	return &signin{o: o, s: s, framed: len(s.o.FrameAncestors) > 0, limiters: map[string]*rate.Limiter{}}, nil
}

// routes registers the sign-in endpoints (as literals: TestOpenAPIRoutes
// reads them from the source).
func (g *signin) routes() {
	mux, m := g.s.mux, g.s.metrics
	mux.Handle("GET /api/v1/signin/salesforce", m.instrument(SignInPath, http.HandlerFunc(g.start)))
	mux.Handle("GET /api/v1/signin/salesforce/callback", m.instrument(CallbackPath, http.HandlerFunc(g.callback)))
	mux.Handle("POST /api/v1/signin/ticket", m.instrument(ticketPath, http.HandlerFunc(g.trade)))
	mux.Handle("POST /api/v1/signout", m.instrument(signOutPath, http.HandlerFunc(g.signOut)))
}

// hashOf is the stored hash of a secret of kind ("session" or "ticket"):
// a ticket presented as a session cookie, or the reverse, matches nothing.
func hashOf(kind, secret string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// csrfOf is the CSRF token of the session whose secret id is secret: only
// a page that was given it (same origin) knows it.
func csrfOf(secret string) string {
	sum := sha256.Sum256([]byte("csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authenticate returns the agent of the request's session cookie; nil
// without a cookie or for an unknown, expired or revoked session.
func (g *signin) authenticate(r *http.Request) (*Identity, *session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil, nil
	}
	hash := hashOf("session", c.Value)
	var sess *adapter.Session
	err = g.s.store.View(r.Context(), func(tx adapter.Tx) (err error) {
		sess, err = tx.Session(hash)
		return err
	})
	if errors.Is(err, adapter.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read session: %w", err)
	}
	if !sess.RevokedAt.IsZero() || !g.s.o.Now().Before(sess.ExpiresAt) {
		return nil, nil, nil
	}
	if !g.s.engine.Configured(sess.Agent) {
		return nil, nil, nil // removed from the config since
	}
	// TokenSHA256 keys the address an identity last signed in from
	// (authFailures): one entry per agent, not per session.
	id := &Identity{Name: sess.Agent, Role: RoleAgent, TokenSHA256: "session:" + sess.Agent}
	return id, &session{idHash: hash, csrf: csrfOf(c.Value)}, nil
}

// limiter is the rate limiter of an agent's sessions, all of them.
func (g *signin) limiter(agent string) *rate.Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.limiters[agent]
	if l == nil {
		l = rate.NewLimiter(g.s.o.RateLimit, g.s.o.RateBurst)
		g.limiters[agent] = l
	}
	return l
}

// checkCSRF refuses a state change by a cookie session without the
// session's token in X-CSRF-Token or from a foreign Origin.
func (g *signin) checkCSRF(r *http.Request, sess *session) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if !g.ownOrigin(r) {
		return &apiError{codeCSRF, "a request signed in by the session cookie must come from the panel's origin (Origin header)"}
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(sess.csrf)) != 1 {
		return &apiError{codeCSRF, "a request signed in by the session cookie needs the session's " + CSRFHeader + " header"}
	}
	return nil
}

// ownOrigin reports whether the request's Origin is the panel's own or
// one of the frame ancestors.
func (g *signin) ownOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return false
	}
	return strings.EqualFold(origin, g.origin(r)) || g.s.cors.allows(origin)
}

// origin is the panel's origin: the callback URL's, or the request's.
func (g *signin) origin(r *http.Request) string {
	if g.o.CallbackURL != "" {
		u, _ := url.Parse(g.o.CallbackURL)
		return u.Scheme + "://" + u.Host
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (g *signin) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(g.o.CallbackURL, "https://")
}

// sessionCookieOf is the session cookie with value, for maxAge seconds
// (negative: delete it). Framed by another site (frame_ancestors) over
// https it is SameSite=None and Partitioned (CHIPS), so the framed panel
// keeps it under third-party cookie rules; otherwise Lax, which is also
// what browsers need over http, where None is refused without Secure.
func (g *signin) sessionCookieOf(r *http.Request, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: g.secure(r), SameSite: http.SameSiteLaxMode}
	if g.framed && c.Secure {
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
	return c
}

func (g *signin) config(r *http.Request) *oauth2.Config {
	redirect := g.o.CallbackURL
	if redirect == "" {
		redirect = g.origin(r) + CallbackPath
	}
	return &oauth2.Config{
		ClientID: g.o.ClientID, ClientSecret: g.o.ClientSecret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{
			AuthURL: g.o.LoginURL + "/services/oauth2/authorize", TokenURL: g.o.LoginURL + "/services/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		// openid and id give userinfo its user_id: nothing more is asked
		// for, the bridge never calls the API as the agent.
		Scopes: []string{"openid", "id"},
	}
}

// flow is what the start of a sign-in leaves for its callback, in the
// flow cookie: the state, the PKCE verifier and whether it runs in a popup.
type flow struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Popup    bool   `json:"p,omitempty"`
}

// start is GET /api/v1/signin/salesforce[?mode=popup]: it sends the
// browser to the org's login page.
func (g *signin) start(w http.ResponseWriter, r *http.Request) {
	f := flow{State: newSecret(), Verifier: oauth2.GenerateVerifier(), Popup: r.URL.Query().Get("mode") == "popup"}
	raw, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Value: base64.RawURLEncoding.EncodeToString(raw),
		Path: "/api/v1/signin/", MaxAge: int(signinTTL / time.Second), HttpOnly: true, Secure: g.secure(r),
		SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, g.config(r).AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// callback is GET /api/v1/signin/salesforce/callback: the org sends the
// browser back with a code (or an error).
func (g *signin) callback(w http.ResponseWriter, r *http.Request) {
	var f flow
	c, err := r.Cookie(flowCookie)
	if err == nil {
		raw, derr := base64.RawURLEncoding.DecodeString(c.Value)
		err = errors.Join(derr, json.Unmarshal(raw, &f))
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Path: "/api/v1/signin/", MaxAge: -1, HttpOnly: true, Secure: g.secure(r)})
	q := r.URL.Query()
	if err != nil || f.State == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		g.page(w, http.StatusBadRequest, signinPage{Title: "Sign-in expired",
			Message: "This sign-in was not started here or took too long. Close this window and sign in again."})
		return
	}
	if e := q.Get("error"); e != "" {
		g.page(w, http.StatusForbidden, signinPage{Title: "Salesforce did not sign you in",
			Message: fmt.Sprintf("Salesforce said: %s (%s). Close this window and try again.", q.Get("error_description"), e)})
		return
	}
	user, err := g.salesforceUser(r.Context(), r, q.Get("code"), f.Verifier)
	if err != nil {
		g.s.log.WithError(err).Warn("sign in with Salesforce")
		g.page(w, http.StatusBadGateway, signinPage{Title: "Sign-in failed",
			Message: "Salesforce's answer could not be checked. Close this window and try again; if it goes on, the bridge's log has the cause."})
		return
	}
	agent, err := g.agentOf(r.Context(), user.UserID)
	if err != nil {
		g.s.log.WithError(err).Error("sign in with Salesforce: find the agent")
		g.page(w, http.StatusInternalServerError, signinPage{Title: "Sign-in failed", Message: detailInternal})
		return
	}
	if agent == "" {
		g.s.log.WithField("crm_user_id", user.UserID).Warn("sign in with Salesforce: no agent has this Salesforce user")
		g.page(w, http.StatusForbidden, signinPage{Title: "Not an agent",
			Message: fmt.Sprintf("You signed in to Salesforce as %s (user %s), but no ctibridge agent has that Salesforce user. "+
				"Ask your administrator to set crm_user_id: %s on your agent in the bridge's configuration.",
				user.PreferredUsername, user.UserID, user.UserID)})
		return
	}
	accessOf(r).identity = agent
	secret := newSecret()
	now := g.s.o.Now()
	if f.Popup {
		if err := g.put(r.Context(), hashOf("ticket", secret), agent, now, ticketTTL); err != nil {
			g.s.log.WithError(err).Error("sign in with Salesforce: store the ticket")
			g.page(w, http.StatusInternalServerError, signinPage{Title: "Sign-in failed", Message: detailInternal})
			return
		}
		g.page(w, http.StatusOK, signinPage{Title: "Signed in", Ticket: secret,
			Message: "You are signed in as " + agent + ". This window closes by itself; if it does not, close it."})
		return
	}
	if err := g.put(r.Context(), hashOf("session", secret), agent, now, g.o.SessionTTL); err != nil {
		g.s.log.WithError(err).Error("sign in with Salesforce: store the session")
		g.page(w, http.StatusInternalServerError, signinPage{Title: "Sign-in failed", Message: detailInternal})
		return
	}
	http.SetCookie(w, g.sessionCookieOf(r, secret, int(g.o.SessionTTL/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// userInfo is the part of Salesforce's userinfo the bridge reads.
type userInfo struct {
	UserID            string `json:"user_id"`
	OrganizationID    string `json:"organization_id"`
	PreferredUsername string `json:"preferred_username"`
}

// salesforceUser trades the code for a token and asks userinfo whose it
// is. Errors never quote the code, the verifier or the token.
func (g *signin) salesforceUser(ctx context.Context, r *http.Request, code, verifier string) (*userInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, g.o.HTTPClient)
	conf := g.config(r)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("token request: %s %s", re.ErrorCode, re.ErrorDescription)
		}
		return nil, errors.New("token request failed")
	}
	resp, err := conf.Client(ctx, tok).Get(g.o.LoginURL + "/services/oauth2/userinfo")
	if err != nil {
		return nil, errors.New("userinfo request failed")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("userinfo: status %d", resp.StatusCode)
	}
	var info userInfo
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&info); err != nil || info.UserID == "" {
		return nil, errors.New("userinfo: no user_id in the answer")
	}
	return &info, nil
}

// agentOf is the agent whose CRM user is userID, "" if none.
func (g *signin) agentOf(ctx context.Context, userID string) (string, error) {
	var agent string
	err := g.s.store.View(ctx, func(tx adapter.Tx) error {
		agents, err := tx.Agents()
		for _, a := range agents {
			// The store keeps agents removed from the config (and their
			// work); they sign in no more.
			if sameSalesforceID(a.CRMUserID, userID) && g.s.engine.Configured(a.ID) {
				agent = a.ID
			}
		}
		return err
	})
	return agent, err
}

// sameSalesforceID compares ids of 15 (case-sensitive) or 18 characters
// (the 15 and a checksum of their case): the first 15 decide.
func sameSalesforceID(a, b string) bool {
	if (len(a) != 15 && len(a) != 18) || (len(b) != 15 && len(b) != 18) {
		return false
	}
	return a[:15] == b[:15]
}

// put stores a session or ticket of agent, from now for ttl.
func (g *signin) put(ctx context.Context, hash, agent string, now time.Time, ttl time.Duration) error {
	return adapter.UpdateOne(ctx, g.s.store, func(tx adapter.Tx) error {
		return tx.PutSession(&adapter.Session{IDHash: hash, Agent: agent, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	})
}

// signedIn is the body of a ticket trade: who is signed in, and the
// CSRF token of the session.
type signedIn struct {
	Agent     string `json:"agent"`
	CSRFToken string `json:"csrf_token"`
	ExpiresAt string `json:"expires_at"`
}

// trade is POST /api/v1/signin/ticket {"ticket": ...}: the panel that
// opened the sign-in popup trades the popup's ticket for a session cookie,
// set in the panel's own (maybe framed) context.
func (g *signin) trade(w http.ResponseWriter, r *http.Request) {
	if !g.ownOrigin(r) {
		g.s.problem(w, r, &apiError{codeCSRF, "the ticket must be traded from the panel's origin (Origin header)"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	var body struct {
		Ticket string `json:"ticket"`
	}
	if err := decode(r, &body); err != nil {
		g.s.problem(w, r, err)
		return
	}
	now := g.s.o.Now()
	secret := newSecret()
	var agent string
	err := adapter.UpdateOne(r.Context(), g.s.store, func(tx adapter.Tx) error {
		hash := hashOf("ticket", body.Ticket)
		t, err := tx.Session(hash)
		if errors.Is(err, adapter.ErrNotFound) {
			return errBadTicket
		}
		if err != nil {
			return err
		}
		fresh, err := tx.RevokeSession(hash, now)
		if err != nil {
			return err
		}
		if !fresh || !now.Before(t.ExpiresAt) {
			return errBadTicket
		}
		agent = t.Agent
		return tx.PutSession(&adapter.Session{IDHash: hashOf("session", secret), Agent: agent, CreatedAt: now, ExpiresAt: now.Add(g.o.SessionTTL)})
	})
	if err != nil {
		if errors.Is(err, errBadTicket) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ctibridge"`)
		} else {
			err = fmt.Errorf("trade a sign-in ticket: %w", err)
		}
		g.s.problem(w, r, err)
		return
	}
	accessOf(r).identity = agent
	http.SetCookie(w, g.sessionCookieOf(r, secret, int(g.o.SessionTTL/time.Second)))
	writeJSON(w, http.StatusOK, signedIn{Agent: agent, CSRFToken: csrfOf(secret), ExpiresAt: now.Add(g.o.SessionTTL).UTC().Format(time.RFC3339)})
}

var errBadTicket = &apiError{codeUnauthorized, "unknown, used or expired sign-in ticket: sign in again"}

// signOut is POST /api/v1/signout: it revokes the session of the cookie,
// for every replica, and deletes the cookie. Without a live session it
// only deletes the cookie.
func (g *signin) signOut(w http.ResponseWriter, r *http.Request) {
	id, sess, err := g.authenticate(r)
	if err != nil {
		g.s.problem(w, r, err)
		return
	}
	if sess != nil {
		if err := g.checkCSRF(r, sess); err != nil {
			g.s.problem(w, r, err)
			return
		}
		accessOf(r).identity = id.Name
		if err := adapter.UpdateOne(r.Context(), g.s.store, func(tx adapter.Tx) error {
			_, err := tx.RevokeSession(sess.idHash, g.s.o.Now())
			return err
		}); err != nil {
			g.s.problem(w, r, fmt.Errorf("sign out: %w", err))
			return
		}
	}
	http.SetCookie(w, g.sessionCookieOf(r, "", -1))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// signinPage is a page of the sign-in popup or tab.
type signinPage struct {
	Title, Message string
	// Ticket, in a popup, is handed to the panel that opened it.
	Ticket string
}

func (g *signin) page(w http.ResponseWriter, status int, p signinPage) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = signinTemplate.Execute(w, p)
}

var signinTemplate = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} - ctibridge</title>
<link rel="stylesheet" href="/panel.css">
{{if .Ticket}}<script src="/signin-popup.js" defer></script>{{end}}
</head>
<body>
<main class="signin" id="signin-result"{{if .Ticket}} data-ticket="{{.Ticket}}"{{end}}>
<div class="card">
<h1>{{.Title}}</h1>
<p role="status">{{.Message}}</p>
<p><a href="/">Open the panel</a></p>
</div>
</main>
</body>
</html>
`))
