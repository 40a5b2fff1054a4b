package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/enginetest"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/contactpad"
)

// metricsEngine runs an engine with metrics over a fresh SQLite file inside
// the caller's synctest bubble, and tallies the events it commits.
type metricsEngine struct {
	t      *testing.T
	engine *adapter.Engine
	store  adapter.Store
	reg    *prometheus.Registry
	mu     sync.Mutex
	events map[adapter.EventType]int
	stop   func()
}

func startMetricsEngine(t *testing.T) *metricsEngine {
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "metrics.db"))
	require.NoError(t, err)
	m := &metricsEngine{t: t, store: store, reg: prometheus.NewRegistry(), events: map[adapter.EventType]int{}}
	log := logrus.New()
	log.SetOutput(io.Discard)
	m.engine = adapter.New(store, enginetest.Settings(), adapter.WithLogger(log),
		adapter.WithMetrics(adapter.NewMetrics(m.reg, store)),
		adapter.OnEvents(func(events []adapter.Event) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, e := range events {
				m.events[e.Type]++
			}
		}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.engine.Run(ctx) }()
	<-m.engine.Ready()
	m.stop = func() {
		cancel()
		require.NoError(t, <-done)
		_ = store.Close()
	}
	return m
}

func (m *metricsEngine) do(cmd adapter.Command) adapter.Result {
	m.t.Helper()
	res, err := m.engine.Apply(context.Background(), cmd)
	require.NoError(m.t, err, "%T", cmd)
	return res
}

func (m *metricsEngine) refused(cmd adapter.Command, code string) {
	m.t.Helper()
	_, err := m.engine.Apply(context.Background(), cmd)
	require.Equal(m.t, code, adapter.Code(err), "%T: %v", cmd, err)
}

// find returns the sample of the metric family name whose labels include
// the name/value pairs of labels, or nil.
func find(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for k := 0; k+1 < len(labels); k += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[k] && l.GetValue() == labels[k+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			return m
		}
	}
	return nil
}

// counter returns the value of a counter sample, 0 when it does not exist.
func counter(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	if m := find(t, reg, name, labels...); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

// TestMetrics: after real commands over a SQLite store, the gauges show
// the store's counts, the counters what the engine did, and the routing
// latency histogram how long the work waited in the queue (by the
// commands' time, here synctest's clock).
func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMetricsEngine(t)
		defer m.stop()

		// Nobody is available: three cases queue.
		time.Sleep(time.Second)
		ingest := func(crmID string, media contactpad.Media, service string) *contactpad.Interaction {
			return m.do(adapter.Ingest{Item: contactpad.WorkItem{CRMID: crmID, CRMObject: "Case", Media: media,
				Service: service}}).Interaction
		}
		email := ingest("500A", contactpad.NonLive, "support")
		call := ingest("500B", contactpad.Live, "support")
		ingest("500C", contactpad.Live, "support") // beyond alice's live capacity: stays queued
		require.NoError(t, testutil.CollectAndCompare(m.reg, strings.NewReader(`
# HELP ctibridge_interactions Interactions in the store, by status.
# TYPE ctibridge_interactions gauge
ctibridge_interactions{status="abandoned"} 0
ctibridge_interactions{status="completed"} 0
ctibridge_interactions{status="connected"} 0
ctibridge_interactions{status="deferred"} 0
ctibridge_interactions{status="offered"} 0
ctibridge_interactions{status="queued"} 3
ctibridge_interactions{status="wrap_up"} 0
`), "ctibridge_interactions"))

		// 90 s later alice becomes available: the email connects at once
		// (auto-accept), the first call is offered; both waited 90 s. The
		// second call waits for alice's one live seat.
		time.Sleep(90 * time.Second)
		m.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
		latency := find(t, m.reg, "ctibridge_routing_latency_seconds").GetHistogram()
		require.Equal(t, uint64(2), latency.GetSampleCount())
		// Commands of one instant are a nanosecond apart (first come, first served).
		require.InDelta(t, 180.0, latency.GetSampleSum(), 1e-6, "each waited 90s by the commands' clock")
		for _, b := range latency.GetBucket() {
			want := uint64(0)
			if b.GetUpperBound() >= 90 {
				want = 2
			}
			require.Equal(t, want, b.GetCumulativeCount(), "bucket le=%g", b.GetUpperBound())
		}

		m.refused(adapter.Defer{ID: call.ID, Agent: "alice", DueBy: new(time.Now().Add(time.Hour))},
			adapter.CodeActionNotAllowed)
		m.refused(adapter.Accept{ID: call.ID, Agent: "bob"}, adapter.CodeForbidden)
		m.do(adapter.Release{ID: email.ID, Agent: "alice"})

		require.NoError(t, testutil.CollectAndCompare(m.reg, strings.NewReader(`
# HELP ctibridge_interactions Interactions in the store, by status.
# TYPE ctibridge_interactions gauge
ctibridge_interactions{status="abandoned"} 0
ctibridge_interactions{status="completed"} 0
ctibridge_interactions{status="connected"} 0
ctibridge_interactions{status="deferred"} 0
ctibridge_interactions{status="offered"} 1
ctibridge_interactions{status="queued"} 1
ctibridge_interactions{status="wrap_up"} 1
`), "ctibridge_interactions"))

		for _, tc := range []struct {
			command, result string
			want            float64
		}{
			{"sync_agents", "ok", 1},
			{"ingest", "ok", 3},
			{"set_presence", "ok", 1},
			{"release", "ok", 1},
			{"defer", "action_not_allowed", 1},
			{"accept", "forbidden", 1},
			{"defer", "ok", 0},
			{"accept", "ok", 0},
		} {
			require.Equal(t, tc.want, counter(t, m.reg, "ctibridge_commands_total", "command", tc.command, "result", tc.result),
				"%s %s", tc.command, tc.result)
		}
		require.NotNil(t, find(t, m.reg, "ctibridge_commands_total", "command", "fire_timer", "result", "ok"),
			"every command's ok series exists from the start")

		// One transaction per command, refused ones included: they ran
		// and rolled back to their savepoint.
		require.Equal(t, uint64(8), find(t, m.reg, "ctibridge_commit_seconds").GetHistogram().GetSampleCount())

		m.mu.Lock()
		events := m.events
		m.mu.Unlock()
		require.Equal(t, 3, events[adapter.EventInteractionCreated])
		require.Equal(t, 1, events[adapter.EventInteractionOffered])
		require.Equal(t, 1, events[adapter.EventAgentPresence])
		for typ, n := range events {
			require.Equal(t, float64(n), counter(t, m.reg, "ctibridge_events_total", "type", string(typ)), "%s", typ)
		}
		require.Equal(t, 0.0, counter(t, m.reg, "ctibridge_events_total", "type", string(adapter.EventTransferFailed)))
	})
}

// recordSink answers every row of a CRM record the same way: parked,
// failed (to retry), or written.
type recordSink map[string]error

func (s recordSink) Write(_ context.Context, rows []adapter.OutboxRow) []error {
	errs := make([]error, len(rows))
	for k, r := range rows {
		errs[k] = s[r.CRMID]
	}
	return errs
}

// TestWritebackMetrics: written rows count as done, failed ones as retry,
// refused ones as parked, and the outbox gauge follows the rows' states.
// Rows held back behind their record's failed row do not count: the sink's
// answer for them was not taken.
func TestWritebackMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMetricsEngine(t)
		defer m.stop()
		m.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
		due := time.Now().Add(time.Hour)
		for _, crmID := range []string{"500A", "500B", "500C"} {
			// Each: assigned (auto-accept) and deferred: two rows.
			res := m.do(adapter.Ingest{Item: contactpad.WorkItem{CRMID: crmID, CRMObject: "Case", Media: contactpad.NonLive,
				Service: "support"}})
			m.do(adapter.Defer{ID: res.Interaction.ID, Agent: "alice", DueBy: &due})
		}
		outbox := func(pending, inFlight, parked int) string {
			return fmt.Sprintf(`
# HELP ctibridge_outbox_rows Writeback rows in the outbox, by state (done rows leave the outbox, so done is 0).
# TYPE ctibridge_outbox_rows gauge
ctibridge_outbox_rows{state="done"} 0
ctibridge_outbox_rows{state="in_flight"} %d
ctibridge_outbox_rows{state="parked"} %d
ctibridge_outbox_rows{state="pending"} %d
`, inFlight, parked, pending)
		}
		require.NoError(t, testutil.CollectAndCompare(m.reg, strings.NewReader(outbox(6, 0, 0)), "ctibridge_outbox_rows"))

		sink := recordSink{"500A": &adapter.ParkError{Code: "ENTITY_IS_DELETED"}, "500B": errors.New("UNABLE_TO_LOCK_ROW")}
		n, err := m.engine.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Equal(t, 6, n)
		// A's first row parked, B's first to retry, both of C's done; the
		// second rows of A and B wait behind the first.
		for result, want := range map[string]float64{"done": 2, "retry": 1, "parked": 1} {
			require.Equal(t, want, counter(t, m.reg, "ctibridge_writebacks_total", "result", result), result)
		}
		require.NoError(t, testutil.CollectAndCompare(m.reg, strings.NewReader(outbox(3, 0, 1)), "ctibridge_outbox_rows"))
	})
}

// TestMetricsStoreDown: a scrape while the store cannot answer fails
// rather than reporting zeros.
func TestMetricsStoreDown(t *testing.T) {
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "down.db"))
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	adapter.NewMetrics(reg, store)
	_, err = reg.Gather()
	require.NoError(t, err)
	require.NoError(t, store.Close())
	_, err = reg.Gather()
	require.ErrorContains(t, err, "closed")
}

// TestNoMetrics: an engine without WithMetrics (or with a nil one) works.
func TestNoMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store, err := sqlite.Open(filepath.Join(t.TempDir(), "none.db"))
		require.NoError(t, err)
		defer store.Close()
		log := logrus.New()
		log.SetOutput(io.Discard)
		e := adapter.New(store, enginetest.Settings(), adapter.WithLogger(log), adapter.WithMetrics(nil))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		<-e.Ready()
		_, err = e.Apply(ctx, adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
		require.NoError(t, err)
		res, err := e.Apply(ctx, adapter.Ingest{Item: contactpad.WorkItem{CRMID: "500A", CRMObject: "Case",
			Media: contactpad.NonLive, Service: "support"}})
		require.NoError(t, err)
		require.Equal(t, contactpad.Connected, res.Interaction.Status)
		n, err := e.WritebackOnce(ctx, recordSink{}, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Equal(t, 1, n, "the assignment (the adoption writes nothing)")
		cancel()
		require.NoError(t, <-done)
	})
}

// TestPeerMetrics: a field both the CRM and the bridge changed counts as a
// conflict, by object, field and winner; records that could not be
// ingested are a gauge from the store.
func TestPeerMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := startMetricsEngine(t)
		defer m.stop()
		m.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
		m.do(adapter.SetPresence{Agent: "bob", Presence: contactpad.Available})
		item := contactpad.WorkItem{CRMID: "500A", CRMObject: "Case", Media: contactpad.NonLive, Service: "support",
			CRM: &contactpad.RecordState{Fields: map[string]any{"status": "queued", "owner_crm_user_id": "005QUEUE"}}}
		res := m.do(adapter.Ingest{Item: item})
		owner := res.Interaction.Owner
		other := map[string]string{"alice": "bob", "bob": "alice"}[owner]
		m.do(adapter.StartTransfer{ID: res.Interaction.ID, Agent: owner, Mode: contactpad.Cold,
			Target: contactpad.Target{Agent: other}})
		item.CRM = &contactpad.RecordState{Fields: map[string]any{"owner_crm_user_id": "005000000000003AAA"}, ChangedBy: "Sam"}
		m.do(adapter.Ingest{Item: item}) // carol's now, in the CRM
		require.Equal(t, 1.0, counter(t, m.reg, "ctibridge_crm_conflicts_total", "object", "Case",
			"field", "owner_crm_user_id", "winner", "crm"))

		require.NoError(t, adapter.UpdateOne(context.Background(), m.store, func(tx adapter.Tx) error {
			return tx.PutIngestFailure(&adapter.IngestFailure{Source: "s", CRMID: "500X", Reason: "no media rule matches"})
		}))
		require.NoError(t, testutil.CollectAndCompare(m.reg, strings.NewReader(`
# HELP ctibridge_ingest_failures CRM records that could not be ingested and are being read again (GET /api/v1/admin/sync lists them).
# TYPE ctibridge_ingest_failures gauge
ctibridge_ingest_failures 1
`), "ctibridge_ingest_failures"))
	})
}
