package adapter

import (
	"context"
	"slices"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/prometheus/client_golang/prometheus"
)

// countTimeout bounds the store read of one scrape.
const countTimeout = 5 * time.Second

// Metrics are the engine's Prometheus metrics:
//
//	ctibridge_interactions{status}             gauge: interactions per status, read from the store at scrape time
//	ctibridge_outbox_rows{state}               gauge: writeback rows per state, read from the store at scrape time
//	ctibridge_routing_latency_seconds          histogram: from queued to offered (or connected) by routing
//	ctibridge_commands_total{command,result}   counter: commands applied; result is ok or the API error code
//	ctibridge_commit_seconds                   histogram: duration of the group-commit transactions
//	ctibridge_events_total{type}               counter: committed events
//	ctibridge_writebacks_total{result}         counter: outbox rows written back: done, retry or parked
//	ctibridge_crm_conflicts_total{object,field,winner}  counter: fields both the CRM and the bridge changed; winner crm or bridge
//	ctibridge_pruned_rows_total{table}         counter: events, audit entries and expired sessions deleted
//	ctibridge_ingest_failures                  gauge: CRM records that could not be ingested, read from the store at scrape time
//	ctibridge_store_up{access}                 gauge: 1 while this engine's reads (or writes) of the store succeed, 0 during an outage
//
// The gauges come from the store, the authority shared by every replica,
// so each replica reports the same values; the counters and histograms
// count what this engine did. A nil *Metrics records nothing.
type Metrics struct {
	// commandsOK holds the ok child of each command, resolved once: the
	// hot path only increments it. Errors resolve their child when they
	// happen.
	commandsOK   [numCommands]prometheus.Counter
	commands     *prometheus.CounterVec
	routing      prometheus.Histogram
	commit       prometheus.Histogram
	events       *prometheus.CounterVec
	eventsByType map[EventType]prometheus.Counter
	writebacks   [numWritebackResults]prometheus.Counter
	conflicts    *prometheus.CounterVec
	prunedRows   *prometheus.CounterVec
	storeUp      *prometheus.GaugeVec
}

// NewMetrics makes the engine's metrics and registers them on reg (unless
// reg is nil); it panics if reg already holds them, as MustRegister does.
// The gauges read store (normally the engine's) through View at every
// scrape; with a nil store there are none. Hand the result to New with
// WithMetrics.
func NewMetrics(reg prometheus.Registerer, store Store) *Metrics {
	m := &Metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_commands_total",
			Help: "Commands applied by the engine, by command and result (ok or the API error code).",
		}, []string{"command", "result"}),
		routing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ctibridge_routing_latency_seconds",
			Help: "Time from an interaction's queueing to its offer (or connection, with auto-accept) by routing.",
			// From sub-second (an agent was free) to a day (non-live work waiting for one).
			Buckets: []float64{0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600},
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ctibridge_commit_seconds",
			Help:    "Duration of the engine's group-commit store transactions.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms to 4s
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_events_total",
			Help: "Events committed by the engine, by type.",
		}, []string{"type"}),
		eventsByType: make(map[EventType]prometheus.Counter, len(eventTypes)),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_crm_conflicts_total",
			Help: "CRM record fields that both the CRM and the bridge changed since they were last in step, by object, field and winner (crm or bridge).",
		}, []string{"object", "field", "winner"}),
		prunedRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctibridge_pruned_rows_total",
			Help: "Rows the store's pruning deleted past their retention, by table (events or audit).",
		}, []string{"table"}),
		storeUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ctibridge_store_up",
			Help: "1 while this replica's reads (access=reads) or writes (access=writes) of the store succeed; 0 during an outage, until one succeeds again.",
		}, []string{"access"}),
	}
	m.storeUp.WithLabelValues("reads").Set(1)
	m.storeUp.WithLabelValues("writes").Set(1)
	for k, name := range commandNames {
		m.commandsOK[k] = m.commands.WithLabelValues(name, "ok")
	}
	for _, t := range eventTypes {
		m.eventsByType[t] = m.events.WithLabelValues(string(t))
	}
	writebacks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ctibridge_writebacks_total",
		Help: "Outbox rows written back to the CRM, by result: done, retry (later) or parked (refused for good).",
	}, []string{"result"})
	for k, name := range writebackResults {
		m.writebacks[k] = writebacks.WithLabelValues(name)
	}
	if reg != nil {
		reg.MustRegister(m.commands, m.routing, m.commit, m.events, writebacks, m.conflicts, m.prunedRows, m.storeUp)
		if store != nil {
			reg.MustRegister(newStoreCollector(store))
		}
	}
	return m
}

// storeOutage records that the reads or the writes of the store fail
// (up false) or succeed again.
func (m *Metrics) storeOutage(access string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.storeUp.WithLabelValues(access).Set(v)
}

// WithMetrics makes the engine record its metrics in m (default: none).
func WithMetrics(m *Metrics) Option { return func(e *Engine) { e.metrics = m } }

// The command label values, by command.
const (
	cmdIngest = iota
	cmdSyncAgents
	cmdSetPresence
	cmdFollowPresence
	cmdAccept
	cmdDecline
	cmdHold
	cmdRetrieve
	cmdRelease
	cmdExtendWrapUp
	cmdFinishWrapUp
	cmdAbandon
	cmdDefer
	cmdResume
	cmdReopen
	cmdStartConsult
	cmdAnswerConsult
	cmdEndConsult
	cmdStartTransfer
	cmdAcceptTransfer
	cmdDeclineTransfer
	cmdCompleteTransfer
	cmdCancelTransfer
	cmdFireTimer
	cmdOther
	numCommands
)

var commandNames = [numCommands]string{
	cmdIngest:           "ingest",
	cmdSyncAgents:       "sync_agents",
	cmdSetPresence:      "set_presence",
	cmdFollowPresence:   "follow_presence",
	cmdAccept:           "accept",
	cmdDecline:          "decline",
	cmdHold:             "hold",
	cmdRetrieve:         "retrieve",
	cmdRelease:          "release",
	cmdExtendWrapUp:     "extend_wrap_up",
	cmdFinishWrapUp:     "finish_wrap_up",
	cmdAbandon:          "abandon",
	cmdDefer:            "defer",
	cmdResume:           "resume",
	cmdReopen:           "reopen",
	cmdStartConsult:     "start_consult",
	cmdAnswerConsult:    "answer_consult",
	cmdEndConsult:       "end_consult",
	cmdStartTransfer:    "start_transfer",
	cmdAcceptTransfer:   "accept_transfer",
	cmdDeclineTransfer:  "decline_transfer",
	cmdCompleteTransfer: "complete_transfer",
	cmdCancelTransfer:   "cancel_transfer",
	cmdFireTimer:        "fire_timer",
	cmdOther:            "other",
}

// commandIndex returns the index of cmd's label value: a type switch, so
// the hot path neither allocates nor hashes.
func commandIndex(cmd Command) int {
	switch cmd.(type) {
	case Ingest:
		return cmdIngest
	case SyncAgents:
		return cmdSyncAgents
	case SetPresence:
		return cmdSetPresence
	case FollowPresence:
		return cmdFollowPresence
	case Accept:
		return cmdAccept
	case Decline:
		return cmdDecline
	case Hold:
		return cmdHold
	case Retrieve:
		return cmdRetrieve
	case Release:
		return cmdRelease
	case ExtendWrapUp:
		return cmdExtendWrapUp
	case FinishWrapUp:
		return cmdFinishWrapUp
	case Abandon:
		return cmdAbandon
	case Defer:
		return cmdDefer
	case Resume:
		return cmdResume
	case Reopen:
		return cmdReopen
	case StartConsult:
		return cmdStartConsult
	case AnswerConsult:
		return cmdAnswerConsult
	case EndConsult:
		return cmdEndConsult
	case StartTransfer:
		return cmdStartTransfer
	case AcceptTransfer:
		return cmdAcceptTransfer
	case DeclineTransfer:
		return cmdDeclineTransfer
	case CompleteTransfer:
		return cmdCompleteTransfer
	case CancelTransfer:
		return cmdCancelTransfer
	case FireTimer:
		return cmdFireTimer
	}
	return cmdOther
}

// eventTypes are the event types whose counters exist from the start.
var eventTypes = []EventType{
	EventInteractionCreated, EventInteractionUpdated, EventInteractionOffered, EventInteractionInactive,
	EventTransferRequested, EventTransferAccepted, EventTransferFailed, EventTransferCompleted,
	EventTransferCanceled, EventConsultStarted, EventConsultConnected, EventConsultEnded, EventAgentPresence,
}

// The writeback label values, by result.
const (
	writebackDone = iota
	writebackRetry
	writebackParked
	numWritebackResults
)

var writebackResults = [numWritebackResults]string{
	writebackDone:   "done",
	writebackRetry:  "retry",
	writebackParked: "parked",
}

// commandApplied counts one command that went through a transaction, with
// its error (nil: ok).
func (m *Metrics) commandApplied(cmd Command, err error) {
	if m == nil {
		return
	}
	k := commandIndex(cmd)
	if err == nil {
		m.commandsOK[k].Inc()
		return
	}
	m.commands.WithLabelValues(commandNames[k], Code(err)).Inc()
}

// routed observes the routing latencies (seconds) of one committed command.
func (m *Metrics) routed(latencies []float64) {
	if m == nil {
		return
	}
	for _, s := range latencies {
		m.routing.Observe(s)
	}
}

// conflicted counts the conflicts of one committed command.
func (m *Metrics) conflicted(conflicts []fieldConflict) {
	if m == nil {
		return
	}
	for _, c := range conflicts {
		winner := "crm"
		if c.bridgeWins {
			winner = "bridge"
		}
		m.conflicts.WithLabelValues(c.object, c.field, winner).Inc()
	}
}

// committed observes one group-commit transaction that began at start.
func (m *Metrics) committed(start time.Time) {
	if m == nil {
		return
	}
	m.commit.Observe(time.Since(start).Seconds())
}

// pruned counts n rows of table deleted past their retention.
func (m *Metrics) pruned(table string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.prunedRows.WithLabelValues(table).Add(float64(n))
}

// eventsCommitted counts committed events by type.
func (m *Metrics) eventsCommitted(events []Event) {
	if m == nil {
		return
	}
	for k := range events {
		c, ok := m.eventsByType[events[k].Type]
		if !ok {
			c = m.events.WithLabelValues(string(events[k].Type))
		}
		c.Inc()
	}
}

// writebackTally counts the rows of one writeback batch by result. Rows
// held back behind an earlier failed row of their record are not counted:
// the sink's answer for them was not taken.
type writebackTally [numWritebackResults]int

func (t *writebackTally) add(state OutboxState) {
	switch state {
	case OutboxDone:
		t[writebackDone]++
	case OutboxParked:
		t[writebackParked]++
	default:
		t[writebackRetry]++
	}
}

// writebacksSettled counts the rows of a settled batch.
func (m *Metrics) writebacksSettled(t *writebackTally) {
	if m == nil {
		return
	}
	for k, n := range t {
		if n > 0 {
			m.writebacks[k].Add(float64(n))
		}
	}
}

// storeCollector exports the store's Counts as gauges at scrape time.
type storeCollector struct {
	store        Store
	interactions *prometheus.Desc
	outbox       *prometheus.Desc
	failures     *prometheus.Desc
}

// outboxStates are the states the outbox gauge always reports.
var outboxStates = []OutboxState{OutboxPending, OutboxInFlight, OutboxDone, OutboxParked}

func newStoreCollector(store Store) *storeCollector {
	return &storeCollector{
		store: store,
		interactions: prometheus.NewDesc("ctibridge_interactions",
			"Interactions in the store, by status.", []string{"status"}, nil),
		outbox: prometheus.NewDesc("ctibridge_outbox_rows",
			"Writeback rows in the outbox, by state (done rows leave the outbox, so done is 0).", []string{"state"}, nil),
		failures: prometheus.NewDesc("ctibridge_ingest_failures",
			"CRM records that could not be ingested and are being read again (GET /api/v1/admin/sync lists them).", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.interactions
	ch <- c.outbox
	ch <- c.failures
}

// Collect reads the counts in one View. If the store cannot answer, the
// scrape reports the error rather than stale or zero values.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
	defer cancel()
	var counts Counts
	if err := c.store.View(ctx, func(tx Tx) (err error) {
		counts, err = tx.Counts()
		return err
	}); err != nil {
		ch <- prometheus.NewInvalidMetric(c.interactions, err)
		ch <- prometheus.NewInvalidMetric(c.outbox, err)
		ch <- prometheus.NewInvalidMetric(c.failures, err)
		return
	}
	collectCounts(ch, c.interactions, contactpad.Statuses, counts.Interactions)
	collectCounts(ch, c.outbox, outboxStates, counts.Outbox)
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(counts.IngestFailures))
}

// collectCounts sends a gauge for every known key (0 when absent), and for
// any other key the store holds.
func collectCounts[K ~string](ch chan<- prometheus.Metric, desc *prometheus.Desc, known []K, counts map[K]int) {
	for _, k := range known {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(counts[k]), string(k))
	}
	for k, n := range counts {
		if !slices.Contains(known, k) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), string(k))
		}
	}
}
