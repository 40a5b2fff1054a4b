// Package salesforce connects ctibridge to a Salesforce org: it signs in
// with OAuth, reads changed records as work items (Source) and writes the
// outbox back in Composite calls of sObject Collections (Sink). Calls go
// through simpleforce (Query, ApexREST) over a go-retryablehttp client.
// The local org in package sim speaks the same API.
package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/simpleforce/simpleforce"
	"github.com/sirupsen/logrus"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jwt"
)

// The sign-in flows.
const (
	AuthClientCredentials = "client_credentials"
	AuthPassword          = "password"
	AuthJWT               = "jwt"
)

// Config is how to reach and sign in to an org.
type Config struct {
	// LoginURL is where to sign in: https://login.salesforce.com,
	// https://test.salesforce.com, a My Domain URL, or the local org.
	LoginURL   string
	APIVersion string // e.g. "62.0"
	Auth       string // AuthClientCredentials, AuthPassword or AuthJWT
	ClientID   string
	// ClientSecret is for client_credentials and password.
	ClientSecret string
	// Username is for password and jwt (the JWT's subject).
	Username string
	Password string
	// PrivateKey is the PEM RSA key that signs the JWT assertion.
	PrivateKey []byte
	// RetryMax, RetryWaitMin and RetryWaitMax tune the retries of one call
	// (defaults 4, 200ms, 5s); Timeout bounds one attempt (default 60s).
	RetryMax                   int
	RetryWaitMin, RetryWaitMax time.Duration
	Timeout                    time.Duration
	Logger                     logrus.FieldLogger
	// Transport carries the requests under the retry layer (default
	// http.DefaultTransport); tests put httpmock here.
	Transport http.RoundTripper
	// Metrics, if not nil, counts every request attempt and error and
	// keeps the org's API usage (see NewMetrics).
	Metrics *Metrics
	// Answered, if not nil, hears after each call whether the org
	// answered it: nil when it did (even with an error about a record or
	// the request), else the error (network, 5xx, its rate limit, a
	// session it would not renew). A call cut short by its context says
	// nothing of the org and is not reported.
	Answered func(err error)
}

// jwtAssertionLifetime is how long the JWT bearer assertion is valid (its
// exp claim). Salesforce's OAuth 2.0 JWT Bearer Flow wants "the expiration
// time of the assertion within 3 minutes"
// (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm);
// x/oauth2/jwt would make it an hour. The assertion is used once, at once:
// the access token it buys lasts the session.
const jwtAssertionLifetime = 3 * time.Minute

// Client calls one org's REST API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	log  logrus.FieldLogger
	// sf is replaced, never changed, when the session is renewed:
	// simpleforce's SetSidLoc is not safe while calls are in flight.
	sf     atomic.Pointer[simpleforce.Client]
	signIn sync.Mutex
	// noReauthUntil (Unix nanoseconds) pauses signing in again after a
	// new session was refused at once (see call).
	noReauthUntil atomic.Int64
}

// reauthPause is how long a client that got a new session refused at once
// does not sign in again for a refused session.
const reauthPause = 30 * time.Second

// New signs in and returns a client.
func New(ctx context.Context, cfg Config) (*Client, error) {
	c := NewClient(cfg)
	if err := c.SignIn(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// NewClient returns a client that has not signed in yet: its first call
// signs in (see SignIn). It makes no request, so a bridge can start while
// Salesforce is unreachable.
func NewClient(cfg Config) *Client {
	if cfg.APIVersion == "" {
		cfg.APIVersion = "62.0"
	}
	if cfg.Logger == nil {
		cfg.Logger = logrus.StandardLogger()
	}
	rc := retryablehttp.NewClient()
	rc.RetryMax = orDefault(cfg.RetryMax, 4)
	rc.RetryWaitMin = orDefault(cfg.RetryWaitMin, 200*time.Millisecond)
	rc.RetryWaitMax = orDefault(cfg.RetryWaitMax, 5*time.Second)
	rc.HTTPClient.Timeout = orDefault(cfg.Timeout, 60*time.Second)
	var transport http.RoundTripper = guardEmptyErrors{next: orDefault[http.RoundTripper](cfg.Transport, http.DefaultTransport)}
	if cfg.Metrics != nil {
		transport = metered{next: transport, m: cfg.Metrics}
	}
	rc.HTTPClient.Transport = transport
	rc.Logger = leveledLogger{cfg.Logger}
	rc.CheckRetry = checkRetry
	rc.ErrorHandler = keepLastAnswer
	// retryablehttp's DefaultBackoff honours Retry-After on 429 and 503.
	return &Client{cfg: cfg, http: rc.StandardClient(), log: cfg.Logger}
}

// SignIn gets a session now, unless the client has one.
func (c *Client) SignIn(ctx context.Context) error {
	if c.sf.Load() != nil {
		return nil
	}
	return c.authenticate(ctx, nil)
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// checkRetry retries what go-retryablehttp retries (network errors, 429,
// 5xx) but not 401 (the client re-authenticates instead) nor 403
// (REQUEST_LIMIT_EXCEEDED: hammering makes it worse; the caller backs off).
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// keepLastAnswer is go-retryablehttp's ErrorHandler, called when a call
// ends in failure (its retries ran out, or an error is not worth a retry).
// Without it go-retryablehttp drops the org's last answer for a bare
// "giving up after N attempt(s)", and with it the errorCode
// (SERVER_UNAVAILABLE, REQUEST_LIMIT_EXCEEDED) that Classify and the
// admins need. The answer goes on to the caller as any error answer does:
// simpleforce and x/oauth2 read its body. A call that got no answer keeps
// its last error.
func keepLastAnswer(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if err == nil && resp != nil {
		return resp, nil
	}
	if resp != nil {
		resp.Body.Close()
	}
	if err == nil { // CheckRetry said stop without saying why; ours always says
		err = errors.New("no answer")
	}
	if attempts > 1 {
		err = fmt.Errorf("after %d attempts: %w", attempts, err)
	}
	return nil, err
}

// authenticate gets a new session, unless stale is no longer the current
// one (another caller renewed it meanwhile).
func (c *Client) authenticate(ctx context.Context, stale *simpleforce.Client) error {
	c.signIn.Lock()
	defer c.signIn.Unlock()
	if current := c.sf.Load(); current != nil && current != stale {
		return nil
	}
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	instance, _ := tok.Extra("instance_url").(string)
	if instance == "" {
		return fmt.Errorf("salesforce sign-in (%s) at %s: the token response has no instance_url", c.cfg.Auth, c.cfg.LoginURL)
	}
	sf := simpleforce.NewClient(instance, c.cfg.ClientID, c.cfg.APIVersion)
	sf.SetHttpClient(c.http)
	sf.SetSidLoc(tok.AccessToken, strings.TrimSuffix(instance, "/"))
	c.sf.Store(sf)
	c.log.WithFields(logrus.Fields{"auth": c.cfg.Auth, "instance": instance}).Info("signed in to Salesforce")
	return nil
}

func (c *Client) token(ctx context.Context) (*oauth2.Token, error) {
	// x/oauth2/jwt posts its assertion without ctx; the client carries it.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.httpWith(ctx))
	tokenURL := strings.TrimSuffix(c.cfg.LoginURL, "/") + "/services/oauth2/token"
	var (
		tok *oauth2.Token
		err error
	)
	switch c.cfg.Auth {
	case AuthClientCredentials:
		cc := clientcredentials.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, TokenURL: tokenURL,
			AuthStyle: oauth2.AuthStyleInParams}
		tok, err = cc.Token(ctx)
	case AuthPassword:
		pc := oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
		tok, err = pc.PasswordCredentialsToken(ctx, c.cfg.Username, c.cfg.Password)
	case AuthJWT:
		jc := jwt.Config{Email: c.cfg.ClientID, Subject: c.cfg.Username, PrivateKey: c.cfg.PrivateKey,
			TokenURL: tokenURL, Audience: strings.TrimSuffix(c.cfg.LoginURL, "/"), Expires: jwtAssertionLifetime}
		tok, err = jc.TokenSource(ctx).Token()
	default:
		return nil, fmt.Errorf("salesforce sign-in: unknown auth %q (want client_credentials, password or jwt)", c.cfg.Auth)
	}
	if err != nil {
		// Never the request: it carries the credentials.
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			code, desc := re.ErrorCode, re.ErrorDescription
			if code == "" { // x/oauth2/jwt leaves the OAuth error body unparsed
				var body struct {
					Error       string `json:"error"`
					Description string `json:"error_description"`
				}
				_ = json.Unmarshal(re.Body, &body)
				code, desc = body.Error, body.Description
			}
			if re.Response != nil && unavailable(re.Response.StatusCode) {
				// The org did not refuse us; it could not answer (its retries ran out).
				return nil, fmt.Errorf("salesforce sign-in (%s) at %s: %w", c.cfg.Auth, c.cfg.LoginURL,
					&APIError{Status: re.Response.StatusCode, Code: code, Message: desc})
			}
			if code == "" && re.Response != nil {
				code = re.Response.Status
			}
			return nil, fmt.Errorf("salesforce sign-in (%s) at %s refused: %s %s", c.cfg.Auth, c.cfg.LoginURL, code, desc)
		}
		if ctx.Err() != nil {
			// x/oauth2/jwt flattens its error to text; keep why it stopped.
			err = ctx.Err()
		}
		return nil, fmt.Errorf("salesforce sign-in (%s) at %s: %w", c.cfg.Auth, c.cfg.LoginURL, err)
	}
	return tok, nil
}

// unavailable says whether an HTTP status means the org could not answer
// now (too many requests, or a server error) rather than a refusal.
func unavailable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// call runs f with the current session, and once more with a new session
// if Salesforce says the session expired. f's requests carry ctx.
func (c *Client) call(ctx context.Context, f func(*simpleforce.Client) error) (err error) {
	if c.cfg.Answered != nil {
		defer func() {
			if ctx.Err() == nil {
				c.cfg.Answered(unanswered(err))
			}
		}()
	}
	if err := c.SignIn(ctx); err != nil {
		return err
	}
	sf := c.sf.Load()
	err = asAPIError(f(c.bind(ctx, sf)))
	if err == nil || Classify(err) != Reauthenticate || time.Now().UnixNano() < c.noReauthUntil.Load() {
		return err
	}
	c.log.Info("Salesforce session expired; signing in again")
	if aerr := c.authenticate(ctx, sf); aerr != nil {
		return aerr
	}
	err = asAPIError(f(c.bind(ctx, c.sf.Load())))
	if err != nil && Classify(err) == Reauthenticate {
		// A new session refused at once: the org refuses this user's
		// sessions (a permission, an IP range), not an old one. Signing
		// in again at every call would only hammer its login endpoint.
		c.noReauthUntil.Store(time.Now().Add(reauthPause).UnixNano())
		c.log.WithError(err).Warn("Salesforce refused a new session at once; not signing in again for " + reauthPause.String())
	}
	return err
}

// bind returns a copy of session sf whose requests carry ctx. simpleforce
// builds its requests without a context: without this, neither a stopped
// poll nor the shutdown flush's deadline would end a request in flight or
// a retry waiting for its turn. The copy is cheap, and safe because a
// session is never changed once stored.
func (c *Client) bind(ctx context.Context, sf *simpleforce.Client) *simpleforce.Client {
	bound := *sf
	bound.SetHttpClient(c.httpWith(ctx))
	return &bound
}

// httpWith returns the retrying client with every request it sends bound
// to ctx.
func (c *Client) httpWith(ctx context.Context) *http.Client {
	return &http.Client{Transport: withContext{ctx: ctx, next: c.http.Transport}}
}

// withContext sends each request with its ctx, for callers that build
// requests without one (simpleforce, x/oauth2/jwt). It sits above the retry
// layer, so cancelling ctx also ends the wait between two attempts.
type withContext struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t withContext) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(req.WithContext(t.ctx))
}

// sessionKey is the key under which simpleforce puts its client, with the
// session's access token, in each record Query returns.
const sessionKey = "__client__"

// Query runs a SOQL query, or reads the next page when q is a
// nextRecordsUrl. Its records are the org's fields only.
func (c *Client) Query(ctx context.Context, q string) (*simpleforce.QueryResult, error) {
	var res *simpleforce.QueryResult
	err := c.call(ctx, func(sf *simpleforce.Client) error {
		var err error
		res, err = sf.Query(q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	// The session stays in the connector: a record handed on must not be a
	// way to call the org with its token (simpleforce's SObject methods,
	// which bypass our retries, contexts and error classification, use
	// it), nor keep a renewed session alive.
	for _, r := range res.Records {
		delete(r, sessionKey)
	}
	return res, nil
}

// maxQueriesPerCall is how many queries one composite call may carry.
const maxQueriesPerCall = 5

// Queries runs up to five SOQL queries in one composite call (one API
// call) and returns each query's records, in order. Each query must fit
// one page (a LIMIT of at most 2000); an answer that is not done is an
// error rather than a silently shortened page.
func (c *Client) Queries(ctx context.Context, queries []string) ([][]map[string]any, error) {
	if len(queries) == 0 || len(queries) > maxQueriesPerCall {
		return nil, fmt.Errorf("composite query: %d queries (want 1 to %d)", len(queries), maxQueriesPerCall)
	}
	req := struct {
		AllOrNone bool         `json:"allOrNone"`
		Requests  []subrequest `json:"compositeRequest"`
	}{}
	for k, q := range queries {
		req.Requests = append(req.Requests, subrequest{Method: http.MethodGet,
			URL:         "/services/data/v" + c.cfg.APIVersion + "/query?q=" + url.QueryEscape(q),
			ReferenceID: fmt.Sprintf("q%d", k)})
	}
	var resp struct {
		Responses []struct {
			Body           json.RawMessage `json:"body"`
			HTTPStatusCode int             `json:"httpStatusCode"`
		} `json:"compositeResponse"`
	}
	if err := c.Do(ctx, http.MethodPost, "composite", req, &resp); err != nil {
		return nil, err
	}
	if len(resp.Responses) != len(queries) {
		return nil, fmt.Errorf("composite query: %d answers to %d queries", len(resp.Responses), len(queries))
	}
	out := make([][]map[string]any, len(queries))
	for k, sub := range resp.Responses {
		if sub.HTTPStatusCode >= 300 {
			err := subrequestError(sub.HTTPStatusCode, sub.Body)
			c.cfg.Metrics.crmError(errorCode(err))
			return nil, fmt.Errorf("query %d: %w", k+1, err)
		}
		var page struct {
			Done    bool             `json:"done"`
			Records []map[string]any `json:"records"`
		}
		dec := json.NewDecoder(bytes.NewReader(sub.Body))
		dec.UseNumber()
		if err := dec.Decode(&page); err != nil {
			return nil, fmt.Errorf("query %d: decode answer: %w", k+1, err)
		}
		if !page.Done {
			return nil, fmt.Errorf("query %d: the answer has more pages than one call reads", k+1)
		}
		out[k] = page.Records
	}
	return out, nil
}

// Do calls the REST API at path (below /services/data/vXX.X/) with body as
// JSON, and decodes the answer into out when it is not nil.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	full := "services/data/v" + c.cfg.APIVersion + "/" + strings.TrimPrefix(path, "/")
	var data []byte
	err := c.call(ctx, func(sf *simpleforce.Client) error {
		var rdr io.Reader
		if payload != nil {
			rdr = bytes.NewReader(payload)
		}
		var err error
		data, err = sf.ApexREST(method, full, rdr)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Describe returns the field names of an sObject type.
func (c *Client) Describe(ctx context.Context, object string) ([]string, error) {
	var d struct {
		Fields []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}
	if err := c.Do(ctx, http.MethodGet, "sobjects/"+object+"/describe", nil, &d); err != nil {
		return nil, err
	}
	names := make([]string, len(d.Fields))
	for k, f := range d.Fields {
		names[k] = f.Name
	}
	return names, nil
}

// guardEmptyErrors gives an error response with an empty body or an empty
// JSON array a Salesforce-shaped body: simpleforce indexes the first error
// of the array and would panic on [].
type guardEmptyErrors struct{ next http.RoundTripper }

func (g guardEmptyErrors) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || bytes.Equal(t, []byte("[]")) {
		body = fmt.Appendf(nil, `[{"message":"HTTP %d with no error details","errorCode":""}]`, resp.StatusCode)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// leveledLogger hands go-retryablehttp's lines to logrus: requests at
// debug, retries at warn. They carry method and URL, never headers or bodies.
type leveledLogger struct{ l logrus.FieldLogger }

func (l leveledLogger) Error(msg string, kv ...any) { l.l.WithFields(fields(kv)).Warn(msg) }
func (l leveledLogger) Info(msg string, kv ...any)  { l.l.WithFields(fields(kv)).Debug(msg) }
func (l leveledLogger) Debug(msg string, kv ...any) { l.l.WithFields(fields(kv)).Debug(msg) }
func (l leveledLogger) Warn(msg string, kv ...any)  { l.l.WithFields(fields(kv)).Warn(msg) }

func fields(kv []any) logrus.Fields {
	f := logrus.Fields{}
	for k := 0; k+1 < len(kv); k += 2 {
		f[fmt.Sprint(kv[k])] = kv[k+1]
	}
	return f
}
