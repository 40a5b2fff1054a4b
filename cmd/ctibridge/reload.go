package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce"
	"github.com/ctibridge/ctibridge/contactpad/api/webhook"
	"github.com/ctibridge/ctibridge/internal/yamlpos"
	"github.com/ctibridge/ctibridge/mapping"
)

// generation is one config the daemon works with: loaded at start, and
// again at each reload (SIGHUP) that the daemon accepts.
type generation struct {
	cfg      *config.Config
	mappings []*mapping.Mapping
	settings adapter.Settings
}

// newGeneration loads what cfg asks for: its mappings and the engine's
// settings, or the errors of the config, each with its file and line.
func newGeneration(cfg *config.Config) (*generation, error) {
	ms, err := loadMappings(cfg)
	if err != nil {
		return nil, err
	}
	settings := engineSettings(cfg)
	for k, a := range settings.Agents {
		// As the org spells ids, to compare with the owners it returns.
		settings.Agents[k].CRMUserID = salesforce.ID18(a.CRMUserID)
	}
	settings.CRMName, settings.Mirrors = "Salesforce", map[string]adapter.Mirror{}
	for _, m := range ms {
		settings.Mirrors[m.Object] = m
	}
	return &generation{cfg: cfg, mappings: ms, settings: settings}, nil
}

// checkOrg checks the org against the generation: the fields its mappings
// name, its agents' Users and the Omni-Channel statuses its presence map
// names.
func (g *generation) checkOrg(ctx context.Context, client *salesforce.Client) error {
	// Every way the org and the config disagree is reported at once (a
	// *salesforce.MismatchError of them all); any other error (the org
	// unreachable) at once, alone.
	var mismatches []error
	check := func(what string, err error) error {
		var m *salesforce.MismatchError
		if err == nil || errors.As(err, &m) {
			if err != nil {
				mismatches = append(mismatches, fmt.Errorf("%s: %w", what, err))
			}
			return nil
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := check("check mappings against the CRM", salesforce.CheckMappings(ctx, client, g.mappings)); err != nil {
		return err
	}
	_, err := salesforce.CheckUsers(ctx, client, agentUsers(g.cfg))
	if err := check("check the agents' CRM users", err); err != nil {
		return err
	}
	if p := g.cfg.CRM.Salesforce.Omni.Presence; p.Enabled {
		var refs []salesforce.StatusRef
		for _, status := range slices.Sorted(maps.Keys(p.Map)) {
			path := yamlpos.Join("crm.salesforce.omni.presence.map", status)
			refs = append(refs, salesforce.StatusRef{Name: status, At: fmt.Sprintf("%s:%d: %s", g.cfg.File, g.cfg.Line(path), path)})
		}
		err := salesforce.CheckPresenceStatuses(ctx, client, refs)
		if err := check("check crm.salesforce.omni.presence against the CRM", err); err != nil {
			return err
		}
	}
	if len(mismatches) > 0 {
		return &salesforce.MismatchError{Err: errors.Join(mismatches...)}
	}
	return nil
}

// webhooks are the generation's webhooks.
func (g *generation) webhooks() []webhook.Hook {
	var hooks []webhook.Hook
	for _, h := range g.cfg.Webhooks {
		hook := webhook.Hook{URL: h.URL}
		for _, s := range h.SigningSecrets() {
			hook.Secrets = append(hook.Secrets, s.Reveal())
		}
		for _, t := range h.Events {
			hook.Events = append(hook.Events, adapter.EventType(t))
		}
		hooks = append(hooks, hook)
	}
	return hooks
}

// restartable runs one loop (the CRM sync of a set of mappings, the
// webhooks of a config) and replaces it with another when a reload asks.
type restartable struct {
	parent context.Context
	wg     *sync.WaitGroup

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// start stops the loop that runs, if any, then runs run until the parent
// context is done or start is called again.
func (r *restartable) start(run func(ctx context.Context)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	if r.parent.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.parent)
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	r.wg.Go(func() {
		defer close(done)
		run(ctx)
	})
}

// reload applies the config file again (SIGHUP): agents, tokens, services,
// mappings, timeouts, policies and webhooks. It is refused whole, with
// every error at its file and line, when the file is invalid, when it
// changes what only a restart can (the store, the listen address, the CRM
// and its credentials, the api and panel sections), or when the org, if the bridge can reach it,
// lacks what the new mappings or agents need. Work in flight goes on.
func (d *daemon) reload(ctx context.Context) error {
	d.reloading.Lock()
	defer d.reloading.Unlock()
	old := d.gen.Load()
	cfg, err := config.Load(old.cfg.File)
	if err != nil {
		return err
	}
	logWarnings(d.log, cfg)
	if d.opts.Overrides != nil {
		d.opts.Overrides(cfg)
	}
	var fixed []string
	if !reflect.DeepEqual(cfg.Store, old.cfg.Store) {
		fixed = append(fixed, "store")
	}
	if cfg.Listen != old.cfg.Listen {
		fixed = append(fixed, "listen")
	}
	// The Omni-Channel presence mirror is no connection setting: a
	// reload changes it.
	sf, oldSF := cfg.CRM.Salesforce, old.cfg.CRM.Salesforce
	sf.Omni, oldSF.Omni = config.Omni{}, config.Omni{}
	if !reflect.DeepEqual(sf, oldSF) || cfg.CRM.Kind != old.cfg.CRM.Kind {
		fixed = append(fixed, "crm")
	}
	if cfg.API != old.cfg.API {
		fixed = append(fixed, "api")
	}
	if !reflect.DeepEqual(cfg.Panel, old.cfg.Panel) {
		fixed = append(fixed, "panel")
	}
	if cfg.Metrics != old.cfg.Metrics {
		fixed = append(fixed, "metrics")
	}
	if len(fixed) > 0 {
		return fmt.Errorf("%s: %v changed: only a restart applies them (nothing was reloaded)", cfg.File, fixed)
	}
	next, err := newGeneration(cfg)
	if err != nil {
		return err
	}
	if d.link.connected() {
		if err := next.checkOrg(ctx, d.client); err != nil {
			var mismatch *salesforce.MismatchError
			if errors.As(err, &mismatch) {
				return fmt.Errorf("%w (nothing was reloaded)", err)
			}
			return fmt.Errorf("the CRM could not check the new config, try again: %w", err)
		}
	}
	if err := d.api.SetIdentities(identities(cfg)); err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	if err := d.engine.Reconfigure(ctx, next.settings); err != nil {
		_ = d.api.SetIdentities(identities(old.cfg))
		return err
	}
	d.api.SignInsChanged() // the sessions of agents it removed end too
	d.gen.Store(next)
	d.startHooks(next)
	if d.link.connected() {
		d.startSync(next)
	}
	d.log.WithField("file", cfg.File).WithField("agents", len(cfg.Agents)).WithField("mappings", len(next.mappings)).
		Info("config reloaded")
	return nil
}

// collectorSet is a prometheus.Registerer that keeps what is registered
// on it: the metrics of a webhook dispatcher, which a reload replaces.
type collectorSet struct {
	mu         sync.Mutex
	collectors []prometheus.Collector
}

func (s *collectorSet) Register(c prometheus.Collector) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.collectors = append(s.collectors, c)
	return nil
}

func (s *collectorSet) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = s.Register(c)
	}
}

func (s *collectorSet) Unregister(c prometheus.Collector) bool { return false }

// current is a collector of the collectors set() holds now. It describes
// nothing (an unchecked collector), so that what it collects may change.
type current func() *collectorSet

func (current) Describe(chan<- *prometheus.Desc) {}

func (c current) Collect(ch chan<- prometheus.Metric) {
	set := c()
	if set == nil {
		return
	}
	set.mu.Lock()
	collectors := slices.Clone(set.collectors)
	set.mu.Unlock()
	for _, col := range collectors {
		col.Collect(ch)
	}
}
