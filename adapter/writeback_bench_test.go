package adapter_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
)

// holdingStore times the Updates of the store it wraps while counting is
// on: with nothing else writing, the time an Update takes is the time it
// holds the store's single writer. longest is the longest one: how long
// a command may wait for the writer behind it.
type holdingStore struct {
	adapter.Store
	counting               atomic.Bool
	updates, held, longest atomic.Int64
}

func (s *holdingStore) Update(ctx context.Context, fns []func(adapter.Tx) error) ([]error, error) {
	start := time.Now()
	errs, err := s.Store.Update(ctx, fns)
	if s.counting.Load() {
		took := int64(time.Since(start))
		s.updates.Add(1)
		s.held.Add(took)
		for longest := s.longest.Load(); took > longest && !s.longest.CompareAndSwap(longest, took); longest = s.longest.Load() {
		}
	}
	return errs, err
}

// fittingBenchSink writes every row at once and fits every row in a call,
// looking at each row's change as the Salesforce sink does.
type fittingBenchSink struct{}

func (fittingBenchSink) Write(_ context.Context, rows []adapter.OutboxRow) []error {
	return make([]error, len(rows))
}

func (fittingBenchSink) FitCall(rows []adapter.OutboxRow, changes []*contactpad.RecordChange) []bool {
	take := make([]bool, len(rows))
	for k, change := range changes {
		take[k] = change != nil
	}
	return take
}

// BenchmarkWriteback measures one writeback call (claim, write, settle)
// over 1,000 outbox rows on SQLite: the rows of 200 cases, each worked by
// one of 200 agents (ingested and connected, deferred, resumed, released,
// wrap-up finished), as the writer finds them under load. It reports the
// time the call holds the store's writer, and its CPU; the sink costs
// nothing but reading each row to fit the call.
func BenchmarkWriteback(b *testing.B) {
	const agents, rows = 200, 1000
	store, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	held := &holdingStore{Store: store}
	s := adapter.Defaults()
	for n := range agents {
		id := fmt.Sprintf("agent%04d", n)
		s.Services = append(s.Services, contactpad.Service{ID: "svc-" + id})
		s.Agents = append(s.Agents, contactpad.Agent{ID: id, Services: []string{"svc-" + id},
			Capacity: contactpad.Capacity{contactpad.NonLive: 5}})
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	e := adapter.New(held, s, adapter.WithLogger(log))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	defer func() { cancel(); <-done; _ = store.Close() }()
	<-e.Ready()
	for _, a := range s.Agents {
		if _, err := e.Apply(ctx, adapter.SetPresence{Agent: a.ID, Presence: contactpad.Available}); err != nil {
			b.Fatal(err)
		}
	}
	opts := adapter.SyncOptions{BatchRows: rows}
	// fill works cases until at least the rows of one call wait.
	serial := 0
	fill := func() {
		for pending(b, store) < rows {
			var cmds []adapter.Command
			for n := range agents {
				serial++
				cmds = append(cmds, adapter.Ingest{Item: contactpad.WorkItem{CRMID: fmt.Sprintf("c%d", serial),
					CRMObject: "Case", Media: contactpad.NonLive, Service: fmt.Sprintf("svc-agent%04d", n)}})
			}
			var ids []string
			for k, out := range e.ApplyAll(ctx, cmds) {
				if out.Err != nil || out.Result.Interaction == nil {
					b.Fatalf("ingest %d: %v", k, out.Err)
				}
				ids = append(ids, out.Result.Interaction.ID)
			}
			due := time.Now().Add(time.Hour)
			for _, step := range []func(id, agent string) adapter.Command{
				func(id, agent string) adapter.Command { return adapter.Defer{ID: id, Agent: agent, DueBy: &due} },
				func(id, agent string) adapter.Command { return adapter.Resume{ID: id, Agent: agent} },
				func(id, agent string) adapter.Command { return adapter.Release{ID: id, Agent: agent} },
				func(id, agent string) adapter.Command { return adapter.FinishWrapUp{ID: id, Agent: agent} },
			} {
				cmds = cmds[:0]
				for n, id := range ids {
					cmds = append(cmds, step(id, fmt.Sprintf("agent%04d", n)))
				}
				for k, out := range e.ApplyAll(ctx, cmds) {
					if out.Err != nil {
						b.Fatalf("%T %d: %v", cmds[k], k, out.Err)
					}
				}
			}
		}
	}
	var written int
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fill()
		held.counting.Store(true)
		cpu0 := processCPU()
		b.StartTimer()
		n, err := e.WritebackOnce(ctx, fittingBenchSink{}, opts)
		b.StopTimer()
		cpu += processCPU() - cpu0
		held.counting.Store(false)
		if err != nil || n != rows {
			b.Fatalf("wrote %d rows of %d: %v", n, rows, err)
		}
		written += n
	}
	b.ReportMetric(float64(time.Duration(held.held.Load()).Microseconds())/1000/float64(b.N), "held_ms/call")
	b.ReportMetric(float64(held.updates.Load())/float64(b.N), "updates/call")
	b.ReportMetric(float64(time.Duration(held.longest.Load()).Microseconds())/1000, "longest_held_ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(written), "cpu_us/row")
}

// pending counts the outbox rows waiting to be written.
func pending(b *testing.B, store adapter.Store) int {
	var c adapter.Counts
	if err := store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		c, err = tx.Counts()
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return c.Outbox[adapter.OutboxPending]
}
