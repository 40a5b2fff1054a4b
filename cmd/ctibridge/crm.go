package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/connectors/salesforce"
)

// The states of this replica's link to the CRM.
const (
	linkConnecting = "connecting" // no attempt has finished yet
	linkConnected  = "connected"  // signed in, the org checked: polling and writeback run
	linkDegraded   = "degraded"   // the last attempt failed: agents are served from the store
)

// Backoff of the attempts to connect: doubling from linkRetryMin up to
// linkRetryMax.
const (
	linkRetryMin = time.Second
	linkRetryMax = time.Minute
)

// crmLink is this replica's link to the CRM: signed in, and the org
// checked against the config (the fields the mappings name, the agents'
// Users). Until it is, the bridge serves agents from the store, and
// neither polls nor writes back; it tries again with backoff and says why
// in /api/v1/admin/status, the log and ctibridge_crm_connected.
type crmLink struct {
	check func(ctx context.Context) error
	log   logrus.FieldLogger
	now   func() time.Time
	up    prometheus.Gauge

	mu          sync.Mutex
	state       string
	reason      string
	since       time.Time
	attempts    int
	nextAttempt time.Time
	// established is set once the link has connected: from then on
	// polling and writeback run, and what their calls meet (observe)
	// says whether the CRM is up.
	established bool
}

func newCRMLink(check func(context.Context) error, log logrus.FieldLogger, reg prometheus.Registerer) *crmLink {
	l := &crmLink{check: check, log: log, now: time.Now, state: linkConnecting,
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ctibridge_crm_connected",
			Help: "1 when this replica is signed in to the CRM and the org matches the config (polling and writeback run), else 0."})}
	l.since = l.now()
	reg.MustRegister(l.up)
	return l
}

// attempt tries once to connect and records how it went: an attempt that
// ran out of time failed (the CRM did not answer in time); one canceled
// (a shutdown) says nothing.
func (l *crmLink) attempt(ctx context.Context) error {
	err := l.check(ctx)
	if errors.Is(ctx.Err(), context.Canceled) {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts++
	state, reason := linkConnected, ""
	if err != nil {
		state, reason = linkDegraded, err.Error()
	}
	if state != l.state || reason != l.reason {
		l.state, l.reason, l.since = state, reason, l.now()
	}
	if err == nil {
		l.up.Set(1)
	}
	return err
}

// run tries to connect until it does or ctx is done, then calls connected.
// A mismatch between the org and the config is an error an admin must
// fix; anything else (Salesforce unreachable, limited, refusing the
// sign-in) a warning: both are tried again.
func (l *crmLink) run(ctx context.Context, first error, connected func()) {
	wait := linkRetryMin
	err := first
	for err != nil {
		var mismatch *salesforce.MismatchError
		entry := l.log.WithError(err).WithField("retry_in", wait.String())
		if errors.As(err, &mismatch) {
			entry.Error("the CRM org does not match the config; not polling or writing back")
		} else {
			entry.Warn("CRM unreachable; serving agents from the store, not polling or writing back")
		}
		l.mu.Lock()
		l.nextAttempt = l.now().Add(wait)
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, linkRetryMax)
		if err = l.attempt(ctx); ctx.Err() != nil {
			return
		}
	}
	l.log.Info("connected to the CRM: polling and writing back")
	l.mu.Lock()
	l.established, l.nextAttempt = true, time.Time{}
	l.mu.Unlock()
	connected()
}

// observe takes in whether the CRM answered a call of the polling or the
// writeback (salesforce.Config.Answered): once the link has connected, a
// call it did not answer makes the link degraded, with why, and the next
// it answers connected again. Polling and writeback go on trying
// meanwhile; agents are served from the store either way.
func (l *crmLink) observe(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.established {
		return // the link's own attempts say how it is until it connects
	}
	switch {
	case err != nil && l.state == linkConnected:
		l.state, l.reason, l.since = linkDegraded, "the CRM did not answer: "+err.Error(), l.now()
		l.up.Set(0)
		l.log.WithError(err).Warn("CRM unreachable; serving agents from the store, polling and writeback retry")
	case err != nil:
		// Still down: the reason is the last failure's (a reset
		// connection may turn into 503s), since when stays.
		l.reason = "the CRM did not answer: " + err.Error()
	case err == nil && l.state != linkConnected:
		l.state, l.reason, l.since = linkConnected, "", l.now()
		l.up.Set(1)
		l.log.Info("the CRM answers again")
	}
}

// connected reports whether the link is up.
func (l *crmLink) connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state == linkConnected
}

// linkStatus is the link as /api/v1/admin/status shows it.
type linkStatus struct {
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	Since       time.Time  `json:"since"`
	Attempts    int        `json:"attempts"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
}

func (l *crmLink) status() linkStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := linkStatus{State: l.state, Reason: l.reason, Since: l.since.UTC(), Attempts: l.attempts}
	if l.state != linkConnected && !l.nextAttempt.IsZero() {
		next := l.nextAttempt.UTC()
		s.NextAttempt = &next
	}
	return s
}

// pollView is a source's polling as /api/v1/admin/status shows it.
type pollView struct {
	adapter.PollStatus
	// LagSeconds is how far behind the CRM the bridge may be (see
	// adapter.PollStatus.Lag); null before the first successful poll.
	LagSeconds *float64 `json:"lag_seconds"`
}

// status is what /api/v1/admin/status shows of the CRM: this replica's
// link, and the polling of every source as the store has it (the same on
// every replica, whichever polls).
func (d *daemon) status(ctx context.Context) (any, error) {
	polls, err := d.engine.PollStatus(ctx, *d.sources.Load())
	if err != nil {
		return nil, err
	}
	now := time.Now()
	views := make([]pollView, len(polls))
	for k, p := range polls {
		views[k] = pollView{PollStatus: p}
		if p.LastSuccess != nil {
			lag := p.Lag(now).Seconds()
			views[k].LagSeconds = &lag
		}
	}
	retention, err := d.engine.RetentionStatus(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"replica": d.holder, "crm": d.link.status(), "polls": views, "retention": retention}, nil
}

// pollCollector exports the polling of the sources from the store at each
// scrape: the same on every replica.
type pollCollector struct {
	engine  *adapter.Engine
	sources func() []string
	log     logrus.FieldLogger
	lag     *prometheus.Desc
	success *prometheus.Desc
}

func newPollCollector(engine *adapter.Engine, sources func() []string, log logrus.FieldLogger) *pollCollector {
	return &pollCollector{engine: engine, sources: sources, log: log,
		lag: prometheus.NewDesc("ctibridge_crm_poll_lag_seconds",
			"Time since the start of the last successful poll of the CRM source: how far behind the CRM the bridge may be.",
			[]string{"source"}, nil),
		success: prometheus.NewDesc("ctibridge_crm_poll_last_success_timestamp_seconds",
			"When the last successful poll of the CRM source started (Unix time).", []string{"source"}, nil)}
}

func (c *pollCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.success
}

func (c *pollCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	polls, err := c.engine.PollStatus(ctx, c.sources())
	if err != nil {
		adapter.WarnFailed(c.log, err, "metrics: read the CRM poll status")
		return
	}
	now := time.Now()
	for _, p := range polls {
		if p.LastSuccess == nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, p.Lag(now).Seconds(), p.Source)
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, float64(p.LastSuccess.UnixNano())/1e9, p.Source)
	}
}
