package postgres

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
// Each replica runs one Update before the timing, so that its connection
// has its statements prepared, as a running daemon's has. With the server
// on the same machine, server-µs/fn is the CPU time of the replicas'
// server processes (from /proc) and client-µs/fn the benchmark process's,
// per fn: where the time goes, whatever else the machine runs. lock-wait%
// is the share of the replicas' time spent in BEGIN, waiting for the
// store's lock (and BEGIN's round trip).
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
				for r, s := range stores {
					id := fmt.Sprintf("warm-%d", r)
					require.NoError(b, adapter.UpdateOne(b.Context(), s,
						storebench.Command(storebench.Interaction(id, 0, now), "a-"+id, now)))
				}
				serverBefore := serverCPU(b, stores)
				var waitedBefore time.Duration
				for _, s := range stores {
					waitedBefore += time.Duration(s.waited.Load())
				}
				clientBefore := clientCPU()
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
				b.ReportMetric(float64((clientCPU()-clientBefore).Microseconds())/fnsDone, "client-µs/fn")
				var waited time.Duration
				for _, s := range stores {
					waited += time.Duration(s.waited.Load())
				}
				b.ReportMetric(100*float64(waited-waitedBefore)/float64(elapsed*time.Duration(replicas)), "lock-wait%")
				if server := serverCPU(b, stores); serverBefore != nil && server != nil {
					var used time.Duration
					for pid, t := range server {
						used += t - serverBefore[pid]
					}
					b.ReportMetric(float64(used.Microseconds())/fnsDone, "server-µs/fn")
				}
			})
		}
	}
}

// serverCPU returns the CPU time of the server process of every
// connection of the stores, by process id, or nil when the server's
// processes cannot be read (another machine).
func serverCPU(b *testing.B, stores []*Store) map[int]time.Duration {
	tick := 10 * time.Millisecond // USER_HZ
	out := map[int]time.Duration{}
	for _, s := range stores {
		for _, c := range s.pool.AcquireAllIdle(b.Context()) {
			var pid int
			err := c.QueryRow(b.Context(), `SELECT pg_backend_pid()`).Scan(&pid)
			c.Release()
			require.NoError(b, err)
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				return nil
			}
			// The fields after the command's closing parenthesis: utime
			// and stime are the 12th and 13th.
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			utime, _ := strconv.ParseInt(f[11], 10, 64)
			stime, _ := strconv.ParseInt(f[12], 10, 64)
			out[pid] = time.Duration(utime+stime) * tick
		}
	}
	return out
}

// clientCPU returns the CPU time of this process.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClaimBacklog is the writeback's claim of a call's worth of
// rows, and its count of what is due, with 20,000 rows due:
//
//	go test -run xxx -bench ClaimBacklog -benchtime 50x ./adapter/store/postgres/
func BenchmarkClaimBacklog(b *testing.B) {
	storebench.ClaimBacklog(b, openTest(b))
}

// BenchmarkRetryBacklog is the writeback's claim and count in a long CRM
// outage: 100,000 rows wait for their retry, 500 new ones are due behind
// them (storebench.RetryBacklog).
//
//	go test -run xxx -bench RetryBacklog -benchtime 20x ./adapter/store/postgres/
func BenchmarkRetryBacklog(b *testing.B) {
	storebench.RetryBacklog(b, openTest(b))
}
