package webhook

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ctibridge/ctibridge/adapter"
)

// The Dispatcher's Prometheus metrics (WithMetrics):
//
//	ctibridge_webhook_deliveries_total{webhook,outcome}  counter: delivery attempts by outcome, delivered or failed
//	ctibridge_webhook_backlog{webhook}                   gauge: events after the hook's cursor, read at scrape time
//
// webhook is the hook's URL as Status shows it (password and query values
// masked; "#2" added to the second of two that look alike). Every attempt counts: an event delivered at its third attempt
// counts two failed and one delivered. The backlog is the number of events
// in the store's log after the hook's cursor, events of types the hook does
// not receive included (its loop passes over those at once, so a hook that
// keeps up stays near 0); it is read from the store, the authority shared
// by every replica, so a replica that stands by reports the same backlog as
// the one delivering.

// Metric outcomes.
const (
	outcomeDelivered = "delivered"
	outcomeFailed    = "failed"
)

// WithMetrics registers the Dispatcher's metrics on reg (default: none).
// New panics if reg already holds them, as MustRegister does.
func WithMetrics(reg prometheus.Registerer) Option { return func(d *Dispatcher) { d.reg = reg } }

// newDeliveries is the deliveries counter. Every Dispatcher has one, so the
// delivery path never checks for it; only WithMetrics registers it.
func newDeliveries() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ctibridge_webhook_deliveries_total",
		Help: "Webhook delivery attempts, by webhook and outcome (delivered, or failed: no answer or not 2xx).",
	}, []string{"webhook", "outcome"})
}

// registerMetrics registers the deliveries counter and the backlog gauge
// on d.reg, if set.
func (d *Dispatcher) registerMetrics(deliveries *prometheus.CounterVec) {
	if d.reg == nil {
		return
	}
	d.reg.MustRegister(deliveries, &backlogCollector{d: d, desc: prometheus.NewDesc("ctibridge_webhook_backlog",
		"Events in the store's log after the webhook's cursor (not yet delivered, or not yet passed over as a type it does not receive).",
		[]string{"webhook"}, nil)})
}

// backlogTimeout bounds the store read of one scrape.
const backlogTimeout = 5 * time.Second

// backlogCollector reads every hook's backlog from the store at scrape time.
type backlogCollector struct {
	d    *Dispatcher
	desc *prometheus.Desc
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reads the end of the event log and every hook's stored cursor in
// one View. The delivering replica's own cursor may be ahead of the stored
// one (it is saved once a page), so the larger of the two counts. If the
// store cannot answer, the scrape reports the error rather than a value.
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	var last int64
	stored := make([]int64, len(c.d.hooks))
	err := c.d.store.View(ctx, func(tx adapter.Tx) error {
		var err error
		if last, err = tx.LastEventSeq(); err != nil {
			return err
		}
		for i, h := range c.d.hooks {
			value, err := tx.Watermark(h.key)
			if err != nil {
				return err
			}
			// A hook without a cursor yet starts at the end of the log;
			// a cursor that does not parse stops its hook, whose loop
			// says why.
			if value == "" {
				stored[i] = last
			} else if stored[i], err = strconv.ParseInt(value, 10, 64); err != nil {
				stored[i] = last
			}
		}
		return nil
	})
	if err != nil {
		// The store's errors may name a watermark, which holds a URL.
		for _, h := range c.d.hooks {
			err = h.scrub(err)
		}
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("read webhook backlog: %w", err))
		return
	}
	for i, h := range c.d.hooks {
		h.mu.Lock()
		cursor := max(stored[i], h.status.DeliveredSeq)
		h.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(max(last-cursor, 0)), h.label)
	}
}
