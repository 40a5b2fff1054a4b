package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/internal/storebench"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
)

// BenchmarkReplicas measures durable transitions per second with 1, 2 and
// 3 replicas (stores with their own pools) on one database: every replica
// commits Updates of batch fns at once, each fn writing what one command
// writes (the interaction, an audit entry, an event, an outbox row and a
// timer), as SQLite's BenchmarkUpdate does. One op is one Update on every
// replica; fns/s is the throughput in commands, across replicas. Commits
// are as durable as the server makes them (synchronous_commit on).
//
//	go test -run '^$' -bench Replicas -benchtime 20x ./adapter/store/postgres/
func BenchmarkReplicas(b *testing.B) {
	for _, batch := range []int{256, 16} {
		for _, replicas := range []int{1, 2, 3} {
			b.Run(fmt.Sprintf("batch=%d/replicas=%d", batch, replicas), func(b *testing.B) {
				dsn := pgtest.DSN(b)
				stores := make([]*Store, replicas)
				for k := range stores {
					stores[k] = openDSN(b, dsn)
				}
				now := time.Date(2025, time.March, 1, 9, 30, 0, 0, time.UTC)
				n := 0
				var elapsed time.Duration
				for b.Loop() {
					start := time.Now()
					var wg sync.WaitGroup
					for r, s := range stores {
						fns := make([]func(adapter.Tx) error, batch)
						for f := range fns {
							id := fmt.Sprintf("i-%d-%d-%d", n, r, f)
							fns[f] = storebench.Command(storebench.Interaction(id, 0, now), "a-"+id, now)
						}
						wg.Go(func() {
							errs, err := s.Update(b.Context(), fns)
							require.NoError(b, err)
							for _, err := range errs {
								require.NoError(b, err)
							}
						})
					}
					wg.Wait()
					elapsed += time.Since(start)
					n++
				}
				fnsDone := float64(n * batch * replicas)
				b.ReportMetric(fnsDone/elapsed.Seconds(), "fns/s")
				b.ReportMetric(float64(elapsed.Nanoseconds())/fnsDone, "ns/fn")
			})
		}
	}
}
