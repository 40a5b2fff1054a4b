package adapter_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

var deferrals = flag.Int("deferrals", 100_000, "deferred interactions in BenchmarkDeferralReopen (the documented run uses 1000000)")

// benchEngine runs an engine over a fresh SQLite file with one service per
// agent, so each agent's work routes to it alone. With metrics, the engine
// records its metrics and a goroutine gathers them once a second, as
// Prometheus would.
func benchEngine(b *testing.B, agents int, metrics bool, opts ...adapter.Option) (*adapter.Engine, adapter.Store, func()) {
	b.Helper()
	store, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	if metrics {
		opts = append(opts, scrapedMetrics(b, store))
	}
	s := adapter.Defaults()
	for n := range agents {
		id := fmt.Sprintf("agent%04d", n)
		s.Services = append(s.Services, contactpad.Service{ID: "svc-" + id})
		s.Agents = append(s.Agents, contactpad.Agent{ID: id, Services: []string{"svc-" + id},
			Capacity: contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: 5}})
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	e := adapter.New(store, s, append([]adapter.Option{adapter.WithLogger(log)}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	<-e.Ready()
	for _, a := range s.Agents {
		if _, err := e.Apply(ctx, adapter.SetPresence{Agent: a.ID, Presence: contactpad.Available}); err != nil {
			b.Fatal(err)
		}
	}
	return e, store, func() { cancel(); <-done; _ = store.Close() }
}

// BenchmarkTransitions measures durable commands and transitions per second
// and command latency with 1, 8 and 200 agents acting at once, as fast as
// they can. Each agent works cases round: ingest (routed and connected),
// defer, resume, release, finish wrap-up: five commands making six
// transitions (created, assigned, deferred, resumed, released, completed),
// each written with its audit entry, event, outbox row and timers in a
// synchronous=FULL transaction.
func BenchmarkTransitions(b *testing.B) {
	for _, agents := range []int{1, 8, 200} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) { workCases(b, agents, 0, false) })
	}
}

// BenchmarkTransitionsWithMetrics is BenchmarkTransitions with the
// engine's metrics on: their cost on the hot path is the difference.
func BenchmarkTransitionsWithMetrics(b *testing.B) {
	for _, agents := range []int{1, 8, 200} {
		b.Run(fmt.Sprintf("agents=%d", agents), func(b *testing.B) { workCases(b, agents, 0, true) })
	}
}

// scrapedMetrics returns the option that turns the engine's metrics on
// over store, and gathers them once a second until the benchmark ends.
func scrapedMetrics(b *testing.B, store adapter.Store) adapter.Option {
	reg := prometheus.NewRegistry()
	m := adapter.NewMetrics(reg, store)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := reg.Gather(); err != nil {
					b.Errorf("scrape: %v", err)
				}
			}
		}
	})
	b.Cleanup(func() { close(done); wg.Wait() })
	return adapter.WithMetrics(m)
}

// BenchmarkPacedTransitions is BenchmarkTransitions with 200 agents who
// pause between commands, offering a fixed load: the latency an agent
// feels when the engine is not saturated.
func BenchmarkPacedTransitions(b *testing.B) {
	for _, rate := range []int{1000, 2500, 4000} {
		b.Run(fmt.Sprintf("agents=200/rate=%d", rate), func(b *testing.B) { workCases(b, 200, rate, false) })
	}
}

// workCases runs b.N commands of the cases round over agents, each agent
// pausing so that all together offer rate commands/s (0: no pause), with
// the engine's metrics on or off.
func workCases(b *testing.B, agents, rate int, metrics bool) {
	e, _, stop := benchEngine(b, agents, metrics)
	defer stop()
	ctx := context.Background()
	latencies := make([][]time.Duration, agents)
	var pause time.Duration
	if rate > 0 {
		pause = time.Duration(agents) * time.Second / time.Duration(rate)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for n := range agents {
		wg.Go(func() {
			agent := fmt.Sprintf("agent%04d", n)
			if pause > 0 { // spread the agents' first commands over one pause
				time.Sleep(pause * time.Duration(n) / time.Duration(agents))
			}
			do := func(cmd adapter.Command) adapter.Result {
				t0 := time.Now()
				res, err := e.Apply(ctx, cmd)
				took := time.Since(t0)
				latencies[n] = append(latencies[n], took)
				if err != nil {
					b.Errorf("%s %T: %v", agent, cmd, err)
				}
				if pause > took {
					time.Sleep(pause - took)
				}
				return res
			}
			for next.Add(5) <= int64(b.N)+4 {
				res := do(adapter.Ingest{Item: contactpad.WorkItem{CRMID: fmt.Sprintf("%s-%d", agent, next.Load()),
					CRMObject: "Case", Media: contactpad.NonLive, Service: "svc-" + agent}})
				if res.Interaction == nil {
					return
				}
				id := res.Interaction.ID
				due := time.Now().Add(time.Hour)
				do(adapter.Defer{ID: id, Agent: agent, DueBy: &due})
				do(adapter.Resume{ID: id, Agent: agent})
				do(adapter.Release{ID: id, Agent: agent})
				do(adapter.FinishWrapUp{ID: id, Agent: agent})
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	all := slices.Concat(latencies...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "commands/s")
	b.ReportMetric(float64(len(all))*6/5/elapsed.Seconds(), "transitions/s")
	b.ReportMetric(ms(percentile(all, 50)), "p50_ms")
	b.ReportMetric(ms(percentile(all, 99)), "p99_ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(all)), "cpu_us/command")
}

// processCPU is the CPU time (user and system) the process has used. Per
// command, it varies less than throughput on a machine shared with other
// work, which takes the cores but not this process's CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDeferralReopen keeps -deferrals deferred interactions in the
// store, of which 5,000 fall due during one 5-second window (1,000 reopens
// a second) and the rest in 30 days. It measures how late each of the
// 5,000 reopens (event time minus due_by) with all the others pending, and
// the process's peak resident memory: timers live in the store, not in
// memory, so neither should grow with the number of deferrals.
func BenchmarkDeferralReopen(b *testing.B) {
	for range b.N {
		var mu sync.Mutex
		var lateness []time.Duration
		e, _, stop := benchEngine(b, 1, false, adapter.OnEvents(func(events []adapter.Event) {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range events {
				if ev.Flags["auto_opened_due_to_due_date"] {
					lateness = append(lateness, now.Sub(*ev.Interaction.DueBy))
				}
			}
		}))
		ctx := context.Background()
		n := *deferrals
		const chunk = 2048
		// Ingested interactions queue (the agent is busy); deferring a queued
		// interaction takes it out of routing.
		if _, err := e.Apply(ctx, adapter.SetPresence{Agent: "agent0000", Presence: contactpad.Busy}); err != nil {
			b.Fatal(err)
		}
		const dueSoon, spread = 5000, 5 * time.Second
		// deferAll ingests count interactions and defers them, due at due(k).
		deferAll := func(name string, count int, due func(k int) time.Time) {
			for base := 0; base < count; base += chunk {
				size := min(chunk, count-base)
				ingest := make([]adapter.Command, size)
				for k := range size {
					ingest[k] = adapter.Ingest{Item: contactpad.WorkItem{CRMID: fmt.Sprintf("%s-%d", name, base+k),
						CRMObject: "Case", Media: contactpad.NonLive, Service: "svc-agent0000"}}
				}
				defers := make([]adapter.Command, 0, size)
				for k, out := range e.ApplyAll(ctx, ingest) {
					if out.Err != nil {
						b.Fatal(out.Err)
					}
					at := due(base + k)
					defers = append(defers, adapter.Defer{ID: out.Interaction.ID, DueBy: &at})
				}
				for _, out := range e.ApplyAll(ctx, defers) {
					if out.Err != nil {
						b.Fatal(out.Err)
					}
				}
			}
		}
		seedStart := time.Now()
		later := seedStart.Add(30 * 24 * time.Hour)
		deferAll("later", n-dueSoon, func(int) time.Time { return later })
		// The sample falls due from 10 s after it is deferred, over spread.
		window := time.Now().Add(10 * time.Second)
		deferAll("soon", dueSoon, func(k int) time.Time { return window.Add(time.Duration(k) * spread / dueSoon) })
		seeded := time.Since(seedStart)
		if time.Now().After(window) {
			b.Fatalf("deferring the sample took more than 10s (seeding %s)", seeded)
		}
		for {
			mu.Lock()
			got := len(lateness)
			mu.Unlock()
			if got == dueSoon {
				break
			}
			if time.Now().After(window.Add(10 * time.Minute)) {
				b.Fatalf("only %d of %d reopened", got, dueSoon)
			}
			time.Sleep(100 * time.Millisecond)
		}
		stop()
		slices.Sort(lateness)
		b.ReportMetric(float64(n), "deferrals")
		b.ReportMetric(float64(len(lateness)), "reopened")
		b.ReportMetric(seeded.Seconds(), "seed_s")
		b.ReportMetric(ms(percentile(lateness, 50)), "reopen_late_p50_ms")
		b.ReportMetric(ms(percentile(lateness, 99)), "reopen_late_p99_ms")
		b.ReportMetric(ms(lateness[len(lateness)-1]), "reopen_late_max_ms")
		b.ReportMetric(peakRSSMB(), "peak_rss_MB")
	}
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// peakRSSMB reads the process's peak resident set size (VmHWM) from /proc.
func peakRSSMB() float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
