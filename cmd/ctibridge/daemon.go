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
	"sync/atomic"
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
	"github.com/ctibridge/ctibridge/contactpad/api"
	"github.com/ctibridge/ctibridge/contactpad/api/panel"
	"github.com/ctibridge/ctibridge/contactpad/api/webhook"
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
	// Overrides, when set, changes every config the daemon loads on a
	// reload as the caller changed the first (run's --listen).
	Overrides func(*config.Config)
}

// daemon is a running ctibridge: the store, the engine with its timers, the
// CRM poll and writeback loops, webhooks and the HTTP API.
type daemon struct {
	gen    atomic.Pointer[generation] // the config it works with; replaced by reload
	log    logrus.FieldLogger
	store  adapter.Store
	engine *adapter.Engine
	api    *api.Server
	srv    *http.Server
	ln     net.Listener
	// metricsSrv serves /metrics on metricsLn when the config's
	// metrics.listen is set; nil otherwise.
	metricsSrv *http.Server
	metricsLn  net.Listener
	client     *salesforce.Client
	link       *crmLink
	opts       daemonOptions
	holder     string // its name in the store's leases

	// The CRM sync (poll and writeback of the generation's mappings) and
	// the webhooks, restarted by a reload.
	sync, hookLoop restartable
	sink           atomic.Pointer[adapter.Sink]
	sources        atomic.Pointer[[]string] // the names of the sources polled
	hooks          atomic.Pointer[webhook.Dispatcher]
	hookMetrics    atomic.Pointer[collectorSet] // the current dispatcher's
	reloading      sync.Mutex

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
	gen, err := newGeneration(cfg)
	if err != nil {
		return nil, err
	}
	logWarnings(log, cfg)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(buildInfoCollector(readBuildInfo()))

	// The link is made once the client is: the client tells it what the
	// CRM answers.
	var link atomic.Pointer[crmLink]
	client, err := crmClient(cfg, o, reg, func(err error) {
		if l := link.Load(); l != nil {
			l.observe(err)
		}
	})
	if err != nil {
		return nil, err
	}
	d = &daemon{log: log, opts: o, done: make(chan struct{}), client: client}
	d.gen.Store(gen)
	// The bridge serves agents from the store whether or not the CRM
	// answers: the link signs in and checks the org now, and again in the
	// background until it has; polling and writeback wait for it. Only a
	// config the org contradicts stops the start, while it can be seen.
	d.link = newCRMLink(func(ctx context.Context) error {
		if err := client.SignIn(ctx); err != nil {
			return fmt.Errorf("sign in to the CRM: %w", err)
		}
		return d.gen.Load().checkOrg(ctx, client)
	}, log, reg)
	link.Store(d.link)
	firstCtx, cancelFirst := context.WithTimeout(ctx, firstLinkAttempt)
	first := d.link.attempt(firstCtx)
	cancelFirst()
	var mismatch *salesforce.MismatchError
	if errors.As(first, &mismatch) {
		return nil, first
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	warnStoreReadable(cfg, log)
	defer func() {
		if err != nil {
			store.Close()
		}
	}()

	d.store = store
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
	if cfg.Metrics.Listen != "" {
		if d.metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			return nil, fmt.Errorf("listen for metrics: %w", err)
		}
		defer func() {
			if err != nil {
				d.metricsLn.Close()
			}
		}()
	}
	// The replica's name in the store's leases (CRM poll, webhooks): the
	// same after a restart, so a restarted replica takes its leases back
	// at once instead of waiting for them to expire.
	d.holder = replicaName(d.ln.Addr())
	metrics := adapter.NewMetrics(reg, store)
	d.engine = adapter.New(store, gen.settings, adapter.WithLogger(log), adapter.WithMetrics(metrics), adapter.WithHolder(d.holder),
		adapter.OnEvents(func(events []adapter.Event) {
			d.api.NotifyEvents(events)
			d.hooks.Load().Notify()
			if o.OnEvents != nil {
				o.OnEvents(events)
			}
		}))
	d.setSync(gen)
	d.hooks.Store(d.dispatcher(gen))
	reg.MustRegister(current(func() *collectorSet { return d.hookMetrics.Load() }))
	reg.MustRegister(newPollCollector(d.engine, func() []string { return *d.sources.Load() }, log))

	if o.Panel == nil {
		if o.Panel, err = panel.Handler(panelOptions(cfg)); err != nil {
			return nil, err
		}
	}
	signIn, err := signInOptions(cfg, o)
	if err != nil {
		return nil, err
	}
	d.api, err = api.New(api.Options{
		Engine:           d.engine,
		SignIn:           signIn,
		Identities:       identities(cfg),
		FrameAncestors:   cfg.Panel.FrameAncestors,
		RateLimit:        rate.Limit(cfg.API.RateLimit),
		RateBurst:        cfg.API.RateBurst,
		MaxStreams:       cfg.API.MaxStreams,
		MaxReplay:        cfg.API.MaxReplay,
		MaxBodyBytes:     cfg.API.MaxBodyBytes,
		MaxNoteBytes:     cfg.API.MaxNoteBytes,
		Heartbeat:        time.Duration(cfg.API.Heartbeat),
		Preview:          d.preview,
		Webhooks:         func() any { return d.hooks.Load().Status() },
		Status:           d.status,
		Redrive:          d.engine.WakeWriteback,
		Panel:            o.Panel,
		Registry:         reg,
		Logger:           log,
		ScriptURLs:       scriptURLs(cfg),
		AuthFailureRate:  rate.Limit(cfg.API.AuthFailureRate),
		AuthFailureBurst: cfg.API.AuthFailureBurst,
		MetricsElsewhere: d.metricsLn != nil,
	})
	if err != nil {
		return nil, err
	}

	d.srv = &http.Server{
		Handler:           d.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second, // the event stream lifts it for itself
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          httpErrorLog(log),
	}
	d.srv.RegisterOnShutdown(d.api.CloseStreams)
	if d.metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", d.api.MetricsHandler())
		d.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: httpErrorLog(log)}
	}

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
	d.sync = restartable{parent: loopCtx, wg: &loops}
	d.hookLoop = restartable{parent: loopCtx, wg: &loops}
	loops.Go(func() {
		d.link.run(loopCtx, first, func() { d.startSync(d.gen.Load()) })
	})
	hooks := d.hooks.Load()
	d.hookLoop.start(hooks.Run)
	retention := adapter.RetentionOptions{Events: time.Duration(cfg.Retention.Events),
		Audit: time.Duration(cfg.Retention.Audit), Interval: time.Duration(cfg.Retention.Interval)}
	loops.Go(func() { d.engine.RunRetention(loopCtx, retention) })
	if pg, ok := store.(*postgres.Store); ok {
		// Commits of the other replicas wake this one's event streams
		// and webhooks at once, not at their next poll.
		loops.Go(func() {
			pg.Listen(loopCtx, func(int64) {
				d.api.Notify()
				d.hooks.Load().Notify()
			}, func(err error) { log.WithError(err).Warn("postgres: event notifications lost; reconnecting") })
		})
	}

	serveErr := make(chan error, 2)
	go func() { serveErr <- d.srv.Serve(d.ln) }()
	fields := logrus.Fields{"listen": d.ln.Addr().String(), "store": cfg.Store.Driver, "crm": cfg.CRM.Kind,
		"agents": len(cfg.Agents), "mappings": len(gen.mappings)}
	if d.metricsSrv != nil {
		go func() { serveErr <- d.metricsSrv.Serve(d.metricsLn) }()
		fields["metrics_listen"] = d.metricsLn.Addr().String()
	}
	log.WithFields(fields).Info("ctibridge started")

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
	if d.metricsSrv != nil {
		if err := d.metricsSrv.Shutdown(ctx); err != nil {
			d.metricsSrv.Close()
		}
	}
	// A call the writer has in flight goes on to Salesforce's answer (its
	// rows settled as written, not sent again), up to the deadline, when
	// stopping the engine cuts it short.
	cut := context.AfterFunc(ctx, stopEngine)
	defer cut()
	stopLoops()
	loops.Wait()
	flushed := 0
	for ctx.Err() == nil && d.link.connected() {
		n, err := d.engine.WritebackOnce(ctx, *d.sink.Load(), adapter.SyncOptions{})
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

// logWarnings logs what is unsafe in cfg but valid (a secret file others
// may read), one line each, naming the file and the key, never a value.
func logWarnings(log logrus.FieldLogger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.WithError(w).WithFields(logrus.Fields{"file": w.File, "line": w.Line, "key": w.Path}).Warn("config warning")
	}
}

// scriptURLs are the scripts the panel loads from other origins: the
// org's Open CTI library, when the config names it.
func scriptURLs(cfg *config.Config) []string {
	if cfg.Panel.OpenCTIURL == "" {
		return nil
	}
	return []string{cfg.Panel.OpenCTIURL}
}

// firstLinkAttempt bounds the first attempt to reach the CRM at start;
// the next ones run in the background.
const firstLinkAttempt = 15 * time.Second

// crmClient returns a client of the CRM of the config, not signed in yet,
// that tells answered whether the CRM answered each call.
func crmClient(cfg *config.Config, o daemonOptions, reg prometheus.Registerer, answered func(error)) (*salesforce.Client, error) {
	sc := salesforce.Config{Logger: o.Log, Metrics: salesforce.NewMetrics(reg), Answered: answered}
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
	return salesforce.NewClient(sc), nil
}

// warnStoreReadable warns when the SQLite file others may read: it holds
// subjects, notes and webhook URLs. A new file is 0600; an existing one
// keeps the mode its operator gave it, so this says so once at start.
func warnStoreReadable(cfg *config.Config, log logrus.FieldLogger) {
	if cfg.Store.Driver != config.DriverSQLite {
		return
	}
	// The DSN is a secret like any other: the line names the key, not the path.
	if info, err := os.Stat(cfg.Store.DSN.Reveal()); err == nil && info.Mode().Perm()&0o007 != 0 {
		log.WithFields(logrus.Fields{"key": "store.dsn", "mode": fmt.Sprintf("%04o", info.Mode().Perm())}).
			Warn("the SQLite store file is readable by others; chmod 600 it (and its -wal and -shm)")
	}
}

// openStore opens the configured store.
func openStore(ctx context.Context, cfg *config.Config) (adapter.Store, error) {
	switch cfg.Store.Driver {
	case config.DriverSQLite:
		s, err := sqlite.Open(cfg.Store.DSN.Reveal())
		if err != nil {
			return nil, storeError(cfg, err)
		}
		return s, nil
	case config.DriverPostgres:
		// The error never quotes the DSN (see postgres.Open).
		s, err := postgres.Open(ctx, cfg.Store.DSN.Reveal())
		if err != nil {
			return nil, storeError(cfg, err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("store.driver %q is not supported by this build", cfg.Store.Driver)
}

// storeError is err, the store's failure to open, at the config's store
// key: "ctibridge.yaml:4: store.dsn: open store: ...".
func storeError(cfg *config.Config, err error) error {
	path := "store.dsn"
	if cfg.Line(path) == 0 && cfg.Line("store.dsn_file") != 0 {
		path = "store.dsn_file"
	}
	return &config.Error{File: cfg.File, Line: cfg.Line(path), Path: path, Msg: "open store: " + err.Error()}
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

// signInOptions is Sign in with Salesforce as cfg.Panel.SignIn sets it;
// nil when it is off. With crm.kind sim the org is the one served at
// o.OrgURL (the demo's), unless login_url names another.
func signInOptions(cfg *config.Config, o daemonOptions) (*api.SignInOptions, error) {
	s := cfg.Panel.SignIn
	if !s.Enabled() {
		return nil, nil
	}
	login := s.LoginURL
	if login == "" && cfg.CRM.Kind == config.CRMSim {
		login = o.OrgURL
	}
	if login == "" {
		return nil, fmt.Errorf("%s: panel.signin.login_url: required with crm.kind sim when the local org is not served on a port (it is under ctibridge demo and ctibridge sim)", cfg.File)
	}
	return &api.SignInOptions{ClientID: s.ClientID, ClientSecret: s.ClientSecret.Reveal(), LoginURL: login,
		CallbackURL: s.CallbackURL, SessionTTL: time.Duration(s.SessionTTL),
		HTTPClient: &http.Client{Timeout: 30 * time.Second}}, nil
}

// preview serves the admin mapping preview with the config's mappings
// and agents.
func (d *daemon) preview(record map[string]any) (any, error) {
	gen := d.gen.Load()
	m, err := mappingFor(gen.mappings, record)
	if err != nil {
		return nil, err
	}
	return m.Preview(record, time.Now(), gen.settings.Agents, gen.settings.Matrix)
}

// setSync makes the sources and the sink of gen's mappings the ones the
// CRM sync uses next.
func (d *daemon) setSync(gen *generation) ([]adapter.Source, adapter.Sink) {
	writebacks := map[string]salesforce.Writeback{}
	var (
		sources []adapter.Source
		readers []*salesforce.Source
		names   []string
	)
	for _, m := range gen.mappings {
		src := salesforce.NewSource(d.client, m)
		sources, readers, names = append(sources, src), append(readers, src), append(names, src.Name())
		writebacks[m.Object] = m
	}
	var sink adapter.Sink = salesforce.NewSink(d.client, writebacks, readers...)
	d.sink.Store(&sink)
	d.sources.Store(&names)
	return sources, sink
}

// startSync (re)starts polling and writing back gen's mappings.
// Writebacks wait for others until a composite call of 1,000 records is
// full or the oldest has waited its maximum age, instead of a call per
// commit.
func (d *daemon) startSync(gen *generation) {
	sources, sink := d.setSync(gen)
	opts := adapter.SyncOptions{PollInterval: time.Duration(gen.cfg.CRM.PollInterval),
		ReclaimAfter: time.Duration(gen.cfg.CRM.ReclaimAfter), BatchMaxAge: time.Duration(gen.cfg.CRM.BatchMaxAge)}
	d.sync.start(func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { d.engine.RunPoll(ctx, sources, opts) })
		wg.Go(func() { d.engine.RunWriteback(ctx, sink, opts) })
		if gen.cfg.CRM.Salesforce.Omni.Presence.Enabled {
			omni := salesforce.NewOmniPresence(d.client)
			wg.Go(func() { d.engine.RunPresence(ctx, omni, presenceMap(gen.cfg), opts) })
		}
		wg.Wait()
	})
}

// dispatcher returns the webhook dispatcher of gen's webhooks.
func (d *daemon) dispatcher(gen *generation) *webhook.Dispatcher {
	metrics := &collectorSet{}
	hooks := webhook.New(d.store, gen.webhooks(), webhook.WithLogger(d.log), webhook.WithHolder(d.holder), webhook.WithMetrics(metrics))
	d.hookMetrics.Store(metrics)
	return hooks
}

// startHooks (re)starts delivering gen's webhooks; each goes on from its
// stored cursor.
func (d *daemon) startHooks(gen *generation) {
	hooks := d.dispatcher(gen)
	d.hooks.Store(hooks)
	d.hookLoop.start(hooks.Run)
}

// agentUsers lists the agents' CRM users, and where the config names them.
func agentUsers(cfg *config.Config) []salesforce.AgentUser {
	out := make([]salesforce.AgentUser, 0, len(cfg.Agents))
	for k, a := range cfg.Agents {
		path := fmt.Sprintf("agents[%d].crm_user_id", k)
		out = append(out, salesforce.AgentUser{Agent: a.ID, CRMUserID: a.CRMUserID, File: cfg.File, Line: cfg.Line(path), Path: path})
	}
	return out
}

// panelOptions configures the panel from cfg: the org's Open CTI library,
// and where a CRM record opens outside Salesforce (the Lightning record
// page of the org's My Domain, when the config names it).
func panelOptions(cfg *config.Config) panel.Options {
	o := panel.Options{OpenCTIURL: cfg.Panel.OpenCTIURL, RecordURL: panel.RecordURLFromOpenCTI(cfg.Panel.OpenCTIURL),
		SignIn: cfg.Panel.SignIn.Enabled()}
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
