package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
	"github.com/ctibridge/ctibridge/contactpad/api/panel"
	"github.com/ctibridge/ctibridge/contactpad/api/webhook"
	"github.com/ctibridge/ctibridge/mapping"
)

// daemonOptions are what a daemon takes besides its config.
type daemonOptions struct {
	Log logrus.FieldLogger
	// Org is the local org of crm.kind sim; nil makes one with the
	// default seed. It is served in process, without a socket.
	Org *sim.Org
	// OrgURL reaches the org of crm.kind sim over HTTP instead (the demo
	// serves its org on a port users can look at).
	OrgURL string
	// Listener serves the API; nil listens on cfg.Listen.
	Listener net.Listener
	// ShutdownTimeout bounds the drain of requests and of the outbox at
	// shutdown (default 10s).
	ShutdownTimeout time.Duration
	// Panel serves the agent panel at /; nil serves the embedded panel
	// (package panel) configured from cfg.Panel.
	Panel http.Handler
	// OnEvents also receives the events the engine commits (the demo
	// narrates them).
	OnEvents func([]adapter.Event)
}

// daemon is a running ctibridge: the store, the engine with its timers, the
// CRM poll and writeback loops, webhooks and the HTTP API.
type daemon struct {
	cfg    *config.Config
	log    logrus.FieldLogger
	store  adapter.Store
	engine *adapter.Engine
	api    *api.Server
	hooks  *webhook.Dispatcher
	srv    *http.Server
	ln     net.Listener
	sink   adapter.Sink
	crm    *crmHealth
	opts   daemonOptions

	done chan struct{}
	err  error
}

// startDaemon opens the store, signs in to the CRM, checks the mappings
// against it, starts the engine and its loops and serves the API. It
// returns once the API is listening; the daemon runs until ctx is done,
// then shuts down gracefully (see wait).
func startDaemon(ctx context.Context, cfg *config.Config, o daemonOptions) (d *daemon, err error) {
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	log := o.Log
	ms, err := loadMappings(cfg)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(buildInfoCollector(readBuildInfo()))

	client, err := crmClient(ctx, cfg, o, reg)
	if err != nil {
		return nil, err
	}
	if err := salesforce.CheckMappings(ctx, client, ms); err != nil {
		return nil, fmt.Errorf("check mappings against the CRM: %w", err)
	}
	settings := engineSettings(cfg)
	users, err := salesforce.CheckUsers(ctx, client, agentUsers(cfg))
	if err != nil {
		return nil, fmt.Errorf("check the agents' CRM users: %w", err)
	}
	for k, a := range settings.Agents {
		if id, ok := users[a.ID]; ok {
			settings.Agents[k].CRMUserID = id // as the org spells it, to compare with the owners it returns
		}
	}
	settings.CRMName, settings.Mirrors = "Salesforce", map[string]adapter.Mirror{}
	for _, m := range ms {
		settings.Mirrors[m.Object] = m
	}

	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			store.Close()
		}
	}()

	d = &daemon{cfg: cfg, log: log, store: store, opts: o, done: make(chan struct{}), crm: &crmHealth{}}
	d.ln = o.Listener
	if d.ln == nil {
		if d.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	defer func() {
		if err != nil {
			d.ln.Close()
		}
	}()
	// The replica's name in the store's leases (CRM poll, webhooks): the
	// same after a restart, so a restarted replica takes its leases back
	// at once instead of waiting for them to expire.
	holder := replicaName(d.ln.Addr())
	var hooks []webhook.Hook
	for _, h := range cfg.Webhooks {
		hook := webhook.Hook{URL: h.URL, Secret: h.Secret.Reveal()}
		for _, t := range h.Events {
			hook.Events = append(hook.Events, adapter.EventType(t))
		}
		hooks = append(hooks, hook)
	}
	d.hooks = webhook.New(store, hooks, webhook.WithLogger(log), webhook.WithHolder(holder))
	metrics := adapter.NewMetrics(reg, store)
	d.engine = adapter.New(store, settings, adapter.WithLogger(log), adapter.WithMetrics(metrics), adapter.WithHolder(holder),
		adapter.OnEvents(func(events []adapter.Event) {
			d.api.Notify()
			d.hooks.Notify()
			if o.OnEvents != nil {
				o.OnEvents(events)
			}
		}))

	if o.Panel == nil {
		if o.Panel, err = panel.Handler(panelOptions(cfg)); err != nil {
			return nil, err
		}
	}
	d.api, err = api.New(api.Options{
		Engine:         d.engine,
		Identities:     identities(cfg),
		FrameAncestors: cfg.Panel.FrameAncestors,
		RateLimit:      rate.Limit(cfg.API.RateLimit),
		RateBurst:      cfg.API.RateBurst,
		Heartbeat:      time.Duration(cfg.API.Heartbeat),
		Preview:        previewer(ms, settings.Agents),
		Webhooks:       func() any { return d.hooks.Status() },
		Ready:          d.crm.ready,
		Redrive:        d.engine.WakeWriteback,
		Panel:          o.Panel,
		Registry:       reg,
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}

	writebacks := map[string]salesforce.Writeback{}
	var sources []adapter.Source
	for _, m := range ms {
		sources = append(sources, d.crm.track(salesforce.NewSource(client, m)))
		writebacks[m.Object] = m
	}
	d.sink = salesforce.NewSink(client, writebacks)

	d.srv = &http.Server{
		Handler:           d.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second, // the event stream lifts it for itself
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	d.srv.RegisterOnShutdown(d.api.CloseStreams)

	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	var engineDone sync.WaitGroup
	engineDone.Go(func() {
		if err := d.engine.Run(engineCtx); err != nil && engineCtx.Err() == nil {
			log.WithError(err).Error("engine stopped")
		}
	})
	select {
	case <-d.engine.Ready():
	case <-ctx.Done():
		stopEngine()
		engineDone.Wait()
		d.ln.Close()
		return nil, ctx.Err()
	}

	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	// Writebacks wait up to a second for others, so that a busy bridge
	// fills composite calls of 1,000 records instead of a call per commit.
	syncOpts := adapter.SyncOptions{PollInterval: time.Duration(cfg.CRM.PollInterval), BatchDelay: time.Second}
	loops.Go(func() { d.engine.RunPoll(loopCtx, sources, syncOpts) })
	loops.Go(func() { d.engine.RunWriteback(loopCtx, d.sink, syncOpts) })
	loops.Go(func() { d.hooks.Run(loopCtx) })
	if pg, ok := store.(*postgres.Store); ok {
		// Commits of the other replicas wake this one's event streams
		// and webhooks at once, not at their next poll.
		loops.Go(func() {
			pg.Listen(loopCtx, func(int64) {
				d.api.Notify()
				d.hooks.Notify()
			}, func(err error) { log.WithError(err).Warn("postgres: event notifications lost; reconnecting") })
		})
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- d.srv.Serve(d.ln) }()
	log.WithFields(logrus.Fields{"listen": d.ln.Addr().String(), "store": cfg.Store.Driver, "crm": cfg.CRM.Kind,
		"agents": len(cfg.Agents), "mappings": len(ms)}).Info("ctibridge started")

	go func() {
		defer close(d.done)
		select {
		case <-ctx.Done():
		case err := <-serveErr:
			d.err = fmt.Errorf("serve: %w", err)
		}
		d.shutdown(stopLoops, &loops, stopEngine, &engineDone)
	}()
	return d, nil
}

// shutdown stops the daemon in the order that loses nothing: no new
// requests, in-flight ones drained; the poll loop stopped; the outbox
// flushed as far as the CRM lets us within the timeout; then the timers and
// the engine; then the store.
func (d *daemon) shutdown(stopLoops context.CancelFunc, loops *sync.WaitGroup, stopEngine context.CancelFunc, engineDone *sync.WaitGroup) {
	log := d.log
	log.Info("ctibridge stopping: draining requests")
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.ShutdownTimeout)
	defer cancel()
	if err := d.srv.Shutdown(ctx); err != nil {
		log.WithError(err).Warn("requests still in flight at shutdown")
		d.srv.Close()
	}
	stopLoops()
	loops.Wait()
	flushed := 0
	for ctx.Err() == nil {
		n, err := d.engine.WritebackOnce(ctx, d.sink, adapter.SyncOptions{})
		flushed += n
		if err != nil || n == 0 {
			break
		}
	}
	stopEngine()
	engineDone.Wait()
	if err := d.store.Close(); err != nil && d.err == nil {
		d.err = fmt.Errorf("close store: %w", err)
	}
	log.WithField("writebacks_flushed", flushed).Info("ctibridge stopped")
}

// wait blocks until the daemon has shut down and returns why it stopped
// on its own, if it did.
func (d *daemon) wait() error {
	<-d.done
	return d.err
}

// url is the base URL of the API.
func (d *daemon) url() string { return "http://" + d.ln.Addr().String() }

// crmClient signs in to the CRM of the config.
func crmClient(ctx context.Context, cfg *config.Config, o daemonOptions, reg prometheus.Registerer) (*salesforce.Client, error) {
	sc := salesforce.Config{Logger: o.Log, Metrics: salesforce.NewMetrics(reg)}
	switch cfg.CRM.Kind {
	case config.CRMSalesforce:
		s := cfg.CRM.Salesforce
		sc.LoginURL, sc.APIVersion, sc.Auth = s.LoginURL, s.APIVersion, s.Auth
		sc.ClientID, sc.ClientSecret, sc.Username = s.ClientID, s.ClientSecret.Reveal(), s.Username
		sc.Password, sc.PrivateKey = s.Password.Reveal(), []byte(s.PrivateKey.Reveal())
	case config.CRMSim:
		sc.Auth, sc.ClientID, sc.ClientSecret = salesforce.AuthClientCredentials, "ctibridge-local", "local-secret"
		sc.LoginURL = o.OrgURL
		if sc.LoginURL == "" {
			org := o.Org
			if org == nil {
				org = sim.New(sim.Options{})
				if err := org.Seed(sim.DefaultSeed()); err != nil {
					return nil, err
				}
			}
			sc.LoginURL, sc.Transport = "http://local-org.invalid", handlerTransport{org}
		}
	default:
		return nil, fmt.Errorf("crm.kind %q: unknown", cfg.CRM.Kind)
	}
	client, err := salesforce.New(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("sign in to the CRM: %w", err)
	}
	return client, nil
}

// openStore opens the configured store.
func openStore(ctx context.Context, cfg *config.Config) (adapter.Store, error) {
	switch cfg.Store.Driver {
	case config.DriverSQLite:
		s, err := sqlite.Open(cfg.Store.DSN.Reveal())
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return s, nil
	case config.DriverPostgres:
		// The error never quotes the DSN (see postgres.Open).
		s, err := postgres.Open(ctx, cfg.Store.DSN.Reveal())
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("store.driver %q is not supported by this build", cfg.Store.Driver)
}

// identities are the API's callers: every agent, and the other tokens.
func identities(cfg *config.Config) []api.Identity {
	var ids []api.Identity
	for _, a := range cfg.Agents {
		if a.TokenSHA256 != "" {
			ids = append(ids, api.Identity{Name: a.ID, Role: api.RoleAgent, TokenSHA256: a.TokenSHA256})
		}
	}
	for _, t := range cfg.Tokens {
		ids = append(ids, api.Identity{Name: t.Name, Role: api.Role(t.Role), TokenSHA256: t.TokenSHA256})
	}
	return ids
}

// previewer serves the admin mapping preview with the config's mappings
// and agents.
func previewer(ms []*mapping.Mapping, agents []contactpad.Agent) func(map[string]any) (any, error) {
	return func(record map[string]any) (any, error) {
		m, err := mappingFor(ms, record)
		if err != nil {
			return nil, err
		}
		return m.Preview(record, time.Now(), agents)
	}
}

// agentUsers lists the agents' CRM users, and where the config names them.
func agentUsers(cfg *config.Config) []salesforce.AgentUser {
	out := make([]salesforce.AgentUser, 0, len(cfg.Agents))
	for k, a := range cfg.Agents {
		path := fmt.Sprintf("agents[%d].crm_user_id", k)
		out = append(out, salesforce.AgentUser{Agent: a.ID, CRMUserID: a.CRMUserID,
			At: fmt.Sprintf("%s:%d: %s", cfg.File, cfg.Line(path), path)})
	}
	return out
}

// crmHealth remembers how the last poll of each source went, for /readyz.
type crmHealth struct {
	mu      sync.Mutex
	lastErr map[string]error
}

func (h *crmHealth) track(src adapter.Source) adapter.Source {
	return &trackedSource{Source: src, h: h}
}

func (h *crmHealth) set(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastErr == nil {
		h.lastErr = map[string]error{}
	}
	h.lastErr[name] = err
}

// ready fails while no poll has run yet or the last poll of a source failed.
func (h *crmHealth) ready(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastErr == nil {
		return errors.New("not polled yet")
	}
	for name, err := range h.lastErr {
		if err != nil {
			var apiErr *salesforce.APIError
			if errors.As(err, &apiErr) {
				return fmt.Errorf("last poll of %s failed: HTTP %d %s", name, apiErr.Status, apiErr.Code)
			}
			return fmt.Errorf("last poll of %s failed: CRM unreachable", name)
		}
	}
	return nil
}

// trackedSource reports each poll's outcome to crmHealth.
type trackedSource struct {
	adapter.Source
	h *crmHealth
}

func (s *trackedSource) Changes(ctx context.Context, since string, retry []string) ([]contactpad.WorkItem, string, bool, error) {
	items, next, more, err := s.Source.Changes(ctx, since, retry)
	if ctx.Err() == nil {
		s.h.set(s.Name(), err)
	}
	return items, next, more, err
}

// panelOptions configures the panel from cfg: the org's Open CTI library,
// and where a CRM record opens outside Salesforce (the Lightning record
// page of the org's My Domain, when the config names it).
func panelOptions(cfg *config.Config) panel.Options {
	o := panel.Options{OpenCTIURL: cfg.Panel.OpenCTIURL, RecordURL: panel.RecordURLFromOpenCTI(cfg.Panel.OpenCTIURL)}
	if o.RecordURL == "" && cfg.CRM.Kind == config.CRMSalesforce {
		if u, err := url.Parse(cfg.CRM.Salesforce.LoginURL); err == nil && strings.HasSuffix(u.Hostname(), ".my.salesforce.com") {
			o.RecordURL = "https://" + u.Host + "/lightning/r/{object}/{id}/view"
		}
	}
	return o
}

// replicaName names this replica: its host and the address it serves on,
// which no other live replica has.
func replicaName(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + "/" + addr.String()
}
