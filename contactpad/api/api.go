// Package api is ctibridge's HTTP API: the agent-facing endpoints of
// docs/api.md, the Server-Sent Events stream, the admin and export
// endpoints, health and metrics, and (from Options.Panel) the agent panel.
//
// Every state change goes through the engine's Apply; every read comes from
// the store. The server holds no state of its own beyond rate limiters and
// the wake-up signal of the event streams, so any number of servers may
// share one store.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/adapter"
)

// The defaults of the Options a caller leaves zero. They are the only
// definition of these defaults: the config file's api section (package
// config, docs/configuration.md) takes them from here.
const (
	DefaultRateLimit  rate.Limit = 50
	DefaultRateBurst             = 100
	DefaultHeartbeat             = 15 * time.Second
	DefaultMaxStreams            = 10
	// DefaultMaxReplay is how many events a stream replays at most after
	// its Last-Event-ID: a client further behind is reset (stream.reset)
	// and reloads, which is quicker than replaying more.
	DefaultMaxReplay = 10000
	// DefaultMaxBodyBytes bounds a request body: a mapping preview's CRM
	// record is the biggest body the API expects.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxNoteBytes bounds a transfer note and a decline or abandon
	// reason: a few paragraphs, and whatever the panel's fields take (2000
	// UTF-16 units, at most 6000 bytes of UTF-8). Each is stored, sent to
	// every event stream and webhook, and a reason goes to the CRM in an
	// audit entry.
	DefaultMaxNoteBytes = 8192
	// MaxNoteBytes is the most MaxNoteBytes may be: a reason goes into
	// an audit entry's message, which the mappings write to a Salesforce
	// Task Description (32,000 characters), leaving room for the rest of
	// the audit template.
	MaxNoteBytes = 30000
)

// Options configure a Server. Engine and Identities are required.
type Options struct {
	Engine *adapter.Engine
	// Identities are who may call the API, by the SHA-256 of their token.
	Identities []Identity
	// FrameAncestors are the origins that may embed the panel and call the
	// API from a browser (CSP frame-ancestors and CORS); "https://*.x.com"
	// matches every subdomain of x.com.
	FrameAncestors []string
	// ScriptURLs are scripts the panel loads from other origins, such as
	// the org's Open CTI library: their origins join 'self' in the CSP's
	// script-src. Each must be https.
	ScriptURLs []string
	// RateLimit and RateBurst limit the requests of each token
	// (default DefaultRateLimit a second, burst DefaultRateBurst).
	RateLimit rate.Limit
	RateBurst int
	// AuthFailureRate and AuthFailureBurst limit the requests with an
	// unknown bearer token from each client address (default
	// DefaultAuthFailureRate a second, burst DefaultAuthFailureBurst): over
	// it, the address gets 429 except for tokens that last signed in from
	// it (see authFailures).
	AuthFailureRate  rate.Limit
	AuthFailureBurst int
	// Heartbeat is how often an idle event stream sends a comment
	// (default DefaultHeartbeat).
	Heartbeat time.Duration
	// MaxStreams is how many event streams one identity may hold open on
	// this server (default DefaultMaxStreams): opening one more closes
	// its oldest, with a stream.closed event.
	MaxStreams int
	// MaxReplay is how many events a stream replays at most after its
	// Last-Event-ID (default DefaultMaxReplay): a client further behind,
	// or behind the pruned events, gets a stream.reset event and the
	// stream goes on from the present.
	MaxReplay int
	// MaxBodyBytes is the largest request body the API reads (default
	// DefaultMaxBodyBytes); a larger one is 413 too_large.
	MaxBodyBytes int
	// MaxNoteBytes is the longest transfer note, and decline or abandon
	// reason, in bytes of UTF-8 (default DefaultMaxNoteBytes); a longer
	// one is 422 too_long.
	MaxNoteBytes int
	// Poll is how often an event stream looks at the store without being
	// woken, for events committed by other replicas (default 2s).
	Poll time.Duration
	// Preview turns a CRM record into the interaction and writeback it
	// would yield (POST /api/v1/admin/mapping/preview). Nil: 404.
	Preview func(record map[string]any) (any, error)
	// Webhooks reports the delivery status of the webhooks
	// (GET /api/v1/admin/webhooks). Nil: an empty list.
	Webhooks func() any
	// Status reports how the CRM sync goes, for GET /api/v1/admin/status
	// (the replica, its link to the CRM, the polls). Nil: the status
	// shows the store's part only.
	Status func(ctx context.Context) (any, error)
	// Redrive is called after an admin makes a parked writeback pending
	// again, to wake the writer. Optional.
	Redrive func()
	// SignIn turns on Sign in with Salesforce: agents sign in to the panel
	// with their Salesforce user and get a session cookie (signin.go).
	// Nil: only bearer tokens.
	SignIn *SignInOptions
	// Panel serves the agent panel at /. Nil: / is not found.
	Panel http.Handler
	// Registry receives the API's metrics and is served at /metrics.
	// Nil: a new registry.
	Registry *prometheus.Registry
	// MetricsElsewhere leaves /metrics out of Handler: the caller serves
	// MetricsHandler on a listener of its own (the daemon's
	// metrics.listen), away from the agents' and browsers' one.
	MetricsElsewhere bool
	// Logger receives the access log (a line per request: info for /api/,
	// debug for the rest), handler panics with their stack and internal
	// errors. Nil: nothing is logged.
	Logger logrus.FieldLogger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server is the HTTP API. Create it with New; it is safe for concurrent use.
type Server struct {
	o       Options
	engine  *adapter.Engine
	store   adapter.Store
	auth    atomic.Pointer[authenticator]
	signin  *signin // nil: sign-in is off
	hub     *hub
	streams *streamSet
	// signIns counts the changes of who may sign in (SignInsChanged).
	signIns atomic.Uint64
	feed    *feed
	cors    *originSet
	csp     string
	log     logrus.FieldLogger
	metrics *httpMetrics
	mux     *http.ServeMux
	handler http.Handler

	// failures are the unknown tokens by client address; they outlive a
	// reload of the identities.
	failures *authFailures
}

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.RateBurst == 0 {
		o.RateBurst = DefaultRateBurst
	}
	if o.AuthFailureRate == 0 {
		o.AuthFailureRate = DefaultAuthFailureRate
	}
	if o.AuthFailureBurst == 0 {
		o.AuthFailureBurst = DefaultAuthFailureBurst
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.Poll == 0 {
		o.Poll = 2 * time.Second
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.MaxReplay <= 0 {
		o.MaxReplay = DefaultMaxReplay
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxNoteBytes <= 0 {
		o.MaxNoteBytes = DefaultMaxNoteBytes
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(nilWriter{})
		o.Logger = l
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	auth, err := newAuthenticator(o.Identities, o.RateLimit, o.RateBurst)
	if err != nil {
		return nil, err
	}
	origins, err := newOriginSet(o.FrameAncestors)
	if err != nil {
		return nil, err
	}
	var scriptOrigins []string
	for _, u := range o.ScriptURLs {
		origin, err := scriptOrigin(u)
		if err != nil {
			return nil, err
		}
		scriptOrigins = append(scriptOrigins, origin)
	}
	s := &Server{
		o:       o,
		engine:  o.Engine,
		store:   o.Engine.Store(),
		hub:     newHub(),
		streams: &streamSet{open: map[string][]*openStream{}},
		cors:    origins,
		csp:     contentSecurityPolicy(scriptOrigins, o.FrameAncestors),
		log:     o.Logger,
		metrics: newHTTPMetrics(o.Registry),
		mux:     http.NewServeMux(),

		failures: newAuthFailures(o.AuthFailureRate, o.AuthFailureBurst),
	}
	s.auth.Store(auth)
	if o.SignIn != nil {
		if s.signin, err = newSignin(s, *o.SignIn); err != nil {
			return nil, err
		}
	}
	s.feed = &feed{store: s.store, hub: s.hub}
	s.routes()
	s.handler = s.observe(s.secure(s.mux))
	return s, nil
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics of Options.Registry. A
// metric that cannot be read (the store's counts while the database is
// down) is left out and logged, and the rest are served: an outage is
// when the others are wanted most. promhttp's default answers 500 with
// the collector's error, which may name the database's socket and user,
// to a scraper that needs no sign-in.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{Registry: s.o.Registry,
		ErrorHandling: promhttp.ContinueOnError, ErrorLog: metricsLog{s.log}})
}

// metricsLog logs what promhttp could not collect, at warning level; at
// debug level when it is all the store's outage, which the engine logs
// once when it begins and once when it ends, and a scraper would make a
// line of at every scrape.
type metricsLog struct{ log logrus.FieldLogger }

func (l metricsLog) Println(v ...any) {
	var errs []error
	for _, a := range v {
		switch a := a.(type) {
		case prometheus.MultiError:
			errs = append(errs, a...)
		case error:
			errs = append(errs, a)
		}
	}
	outage := len(errs) > 0
	for _, err := range errs {
		outage = outage && errors.Is(err, adapter.ErrStoreUnavailable)
	}
	if outage {
		l.log.Debug(fmt.Sprint(v...))
		return
	}
	l.log.Warn(fmt.Sprint(v...))
}

// Notify wakes the event streams: events were committed. The daemon calls
// it from the engine's OnEvents; streams also look at the store every
// Options.Poll for events of other replicas.
func (s *Server) Notify() { s.hub.notify() }

// NotifyEvents wakes the event streams that events are for: their
// audience's, and those of admins and integrations.
func (s *Server) NotifyEvents(events []adapter.Event) { s.hub.notifyEvents(events) }

// CloseStreams ends the event streams, so that a graceful shutdown
// (http.Server.Shutdown, which waits for open requests) does not wait for
// them: register it with http.Server.RegisterOnShutdown. Clients reconnect
// with their Last-Event-ID and miss nothing.
func (s *Server) CloseStreams() { s.hub.close() }

// who may call a route.
const (
	agents       = 1 << iota // an agent acting as itself
	admins                   // an admin, acting on anything
	integrations             // an integration: read, export, events
	anyone       = agents | admins | integrations
)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if !s.o.MetricsElsewhere {
		s.mux.Handle("GET /metrics", s.MetricsHandler())
	}
	if s.o.Panel != nil {
		s.mux.Handle("/", s.allowedMethods("/", s.o.Panel))
	}

	if s.signin != nil {
		s.signin.routes()
	}
	s.mux.Handle("GET /api/v1/openapi.json", s.metrics.instrument("/api/v1/openapi.json", http.HandlerFunc(s.openAPIDocument)))

	s.api("GET /api/v1/me", agents|admins|integrations, s.me)
	s.api("PUT /api/v1/me/presence", agents, s.setPresence)
	s.api("GET /api/v1/directory", agents|admins, s.directory)

	s.api("GET /api/v1/interactions", anyone, s.listInteractions)
	s.api("GET /api/v1/interactions/{id}", anyone, s.getInteraction)
	s.api("PATCH /api/v1/interactions/{id}", agents|admins, s.patchInteraction)
	s.api("POST /api/v1/interactions/{id}/accept", agents, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.Accept{ID: id, Agent: agent}, decodeNone(r)
	}))
	s.api("POST /api/v1/interactions/{id}/decline", agents, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := decodeOptional(r, &body); err != nil {
			return nil, err
		}
		return adapter.Decline{ID: id, Agent: agent, Reason: body.Reason}, s.checkNote("reason", body.Reason)
	}))
	s.api("POST /api/v1/interactions/{id}/release", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.Release{ID: id, Agent: agent}, decodeNone(r)
	}))
	s.api("POST /api/v1/interactions/{id}/wrapup/extend", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.ExtendWrapUp{ID: id, Agent: agent}, decodeNone(r)
	}))
	s.api("POST /api/v1/interactions/{id}/wrapup/finish", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.FinishWrapUp{ID: id, Agent: agent}, decodeNone(r)
	}))
	s.api("POST /api/v1/interactions/{id}/abandon", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		var body struct {
			Confirm bool   `json:"confirm"`
			Reason  string `json:"reason"`
		}
		if err := decodeOptional(r, &body); err != nil {
			return nil, err
		}
		return adapter.Abandon{ID: id, Agent: agent, Confirm: body.Confirm, Reason: body.Reason}, s.checkNote("reason", body.Reason)
	}))
	s.api("POST /api/v1/interactions/{id}/hold", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.Hold{ID: id, Agent: agent}, decodeNone(r)
	}))
	s.api("POST /api/v1/interactions/{id}/retrieve", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.Retrieve{ID: id, Agent: agent}, decodeNone(r)
	}))
	s.api("POST /api/v1/interactions/{id}/defer", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		var body struct {
			DueBy *string `json:"due_by"`
		}
		if err := decodeOptional(r, &body); err != nil {
			return nil, err
		}
		due, err := parseTime("due_by", body.DueBy)
		return adapter.Defer{ID: id, Agent: agent, DueBy: due}, err
	}))
	s.api("POST /api/v1/interactions/{id}/resume", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.Resume{ID: id, Agent: agent}, decodeNone(r)
	}))

	s.api("POST /api/v1/interactions/{id}/consults", agents|admins, s.startConsult)
	s.api("GET /api/v1/consults", anyone, s.listConsults)
	s.api("GET /api/v1/consults/{id}", anyone, s.getConsult)
	s.api("POST /api/v1/consults/{id}/answer", agents, s.consultCommand(func(id, agent string) adapter.Command {
		return adapter.AnswerConsult{ConsultID: id, Agent: agent}
	}))
	s.api("POST /api/v1/consults/{id}/release", agents|admins, s.consultCommand(func(id, agent string) adapter.Command {
		return adapter.EndConsult{ConsultID: id, Agent: agent}
	}))

	s.api("POST /api/v1/interactions/{id}/transfers", agents|admins, s.startTransfer)
	s.api("GET /api/v1/transfers", anyone, s.listTransfers)
	s.api("GET /api/v1/transfers/{id}", anyone, s.getTransfer)
	s.api("POST /api/v1/transfers/{id}/accept", agents, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.AcceptTransfer{TransferID: id, Agent: agent}, decodeNone(r)
	}))
	s.api("POST /api/v1/transfers/{id}/decline", agents, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := decodeOptional(r, &body); err != nil {
			return nil, err
		}
		return adapter.DeclineTransfer{TransferID: id, Agent: agent, Reason: body.Reason}, s.checkNote("reason", body.Reason)
	}))
	s.api("POST /api/v1/transfers/{id}/complete", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.CompleteTransfer{TransferID: id, Agent: agent}, decodeNone(r)
	}))
	s.api("POST /api/v1/transfers/{id}/cancel", agents|admins, s.command(func(r *http.Request, id, agent string) (adapter.Command, error) {
		return adapter.CancelTransfer{TransferID: id, Agent: agent}, decodeNone(r)
	}))

	s.api("GET /api/v1/events", anyone, s.events) // eventsRoute
	s.api("GET /api/v1/export/handling", admins|integrations, s.exportHandling)

	s.api("POST /api/v1/admin/mapping/preview", admins, s.previewMapping)
	s.api("GET /api/v1/admin/sync", admins, s.syncStatus)
	s.api("POST /api/v1/admin/sync/parked/{id}/retry", admins, s.retryParked)
	s.api("GET /api/v1/admin/status", admins, s.status)
	s.api("GET /api/v1/admin/webhooks", admins, s.webhookStatus)

	// Anything else under /api is a JSON 404 (or 405), not the panel.
	s.mux.Handle("/api/", s.allowedMethods("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, errNoRoute)
	})))
}

// methods are the methods a route may be registered with.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods answers 405 with an Allow header, instead of calling
// next, when the request's path is a route of another method. The mux
// does that by itself only where no catch-all pattern matches the path,
// and "/" (the panel) and "/api/" (a JSON 404) match every path below.
func (s *Server) allowedMethods(catchAll string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
			if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != catchAll {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		if strings.HasPrefix(r.URL.Path, "/api/") {
			s.problem(w, r, &apiError{codeMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", "))})
			return
		}
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	})
}

// checkNote refuses a note or reason longer than Options.MaxNoteBytes.
func (s *Server) checkNote(field, v string) error {
	return checkLen(field, v, s.o.MaxNoteBytes, "api.max_note_bytes")
}

// healthz reports that the process serves requests.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports whether this replica can serve agents: the engine runs
// and the store answers, and its writes did not fail the last time (a full
// disk fails every write while reads go on); 503 with the failing check
// otherwise. The CRM is no part of it: agents work from the store while
// Salesforce is down, and a standby replica serves as well as the one that
// polls. How the CRM sync goes is in /api/v1/admin/status and the metrics.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{"engine": "ok", "store": "ok"}
	ok := true
	select {
	case <-s.engine.Stopped():
		checks["engine"], ok = "stopped", false
	case <-s.engine.Ready():
	default:
		checks["engine"], ok = "starting", false
	}
	switch err := s.store.View(ctx, func(tx adapter.Tx) error { _, _, err := tx.NextTimer(); return err }); {
	case errors.Is(err, adapter.ErrStoreUnavailable):
		checks["store"], ok = "unreachable", false // the engine logged the outage
	case err != nil:
		s.log.WithError(err).Warn("readyz: store")
		checks["store"], ok = "unreachable", false
	case s.engine.StoreFault() != nil:
		checks["store"], ok = "writes failing", false
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}

// writeJSON writes v as the JSON response body. Nothing the API answers
// may be kept by a browser or proxy cache: it names customers and agents,
// and is stale a moment later.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type nilWriter struct{}

func (nilWriter) Write(p []byte) (int, error) { return len(p), nil }

// SetIdentities replaces who may call the API (a reloaded config): the
// new tokens work from the next request on, removed ones no longer do.
// Invalid identities (a duplicate token) change nothing.
func (s *Server) SetIdentities(ids []Identity) error {
	auth, err := newAuthenticator(ids, s.o.RateLimit, s.o.RateBurst)
	if err != nil {
		return err
	}
	s.auth.Store(auth)
	s.SignInsChanged()
	return nil
}

// SignInsChanged makes the open event streams check their sign-in again:
// who may sign in changed (SetIdentities; a reloaded config that removed
// an agent, whose Salesforce sessions then end). A stream whose token or
// session no longer signs in ends, and the client's reconnect is refused.
// Without it, a removed agent's open stream, or a leaked token's after it
// was rotated, went on receiving customers' data.
func (s *Server) SignInsChanged() {
	s.signIns.Add(1)
	s.hub.notify()
}

// stillSignedIn reports whether the request that opened a stream of id
// still signs in as id. A session that cannot be read now (the store is
// down) is given the benefit of the doubt until the next check.
func (s *Server) stillSignedIn(r *http.Request, id *Identity) bool {
	if _, ok := bearer(r); ok || s.signin == nil {
		now := s.auth.Load().authenticate(r)
		return now != nil && now.Name == id.Name && now.Role == id.Role
	}
	now, _, err := s.signin.authenticate(r)
	return err != nil || now != nil && now.Name == id.Name
}
