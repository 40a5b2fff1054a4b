package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/internal/storebench"
)

// BenchmarkUpdate measures the engine's hot path: Updates of batchSize fns,
// each writing what one command writes (the interaction, an audit entry, an
// event, an outbox row and a timer), committed durably (synchronous=FULL).
// One op is one Update; fns/s is the throughput in commands.
//
//	go test -run xxx -bench Update -benchtime 20x ./adapter/store/sqlite/
func BenchmarkUpdate(b *testing.B) {
	const batchSize = 256
	for _, bc := range []struct {
		name string
		// id names the interaction of fn f in batch n.
		id func(n, f int) string
	}{
		{name: "new interactions", id: func(n, f int) string { return fmt.Sprintf("i-%d-%d", n, f) }},
		{name: "existing interactions", id: func(_, f int) string { return fmt.Sprintf("i-%d", f) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := openTemp(b)
			now := time.Date(2025, time.March, 1, 9, 30, 0, 0, time.UTC)
			fns := make([]func(adapter.Tx) error, batchSize)
			n := 0
			var elapsed time.Duration
			for b.Loop() {
				for f := range fns {
					i := storebench.Interaction(bc.id(n, f), int64(n), now)
					fns[f] = storebench.Command(i, fmt.Sprint(n, f), now)
				}
				start := time.Now()
				errs, err := s.Update(b.Context(), fns)
				elapsed += time.Since(start)
				require.NoError(b, err)
				for _, err := range errs {
					require.NoError(b, err)
				}
				n++
			}
			fnsDone := float64(n * batchSize)
			b.ReportMetric(fnsDone/elapsed.Seconds(), "fns/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/fnsDone, "ns/fn")
		})
	}
}

// BenchmarkClaimBacklog is the writeback's claim of a call's worth of
// rows, and its count of what is due, with 20,000 rows due:
//
//	go test -run xxx -bench ClaimBacklog -benchtime 50x ./adapter/store/sqlite/
func BenchmarkClaimBacklog(b *testing.B) {
	storebench.ClaimBacklog(b, openTemp(b))
}

// BenchmarkRetryBacklog is the writeback's claim and count in a long CRM
// outage: 100,000 rows wait for their retry, 500 new ones are due behind
// them (storebench.RetryBacklog).
//
//	go test -run xxx -bench RetryBacklog -benchtime 20x ./adapter/store/sqlite/
func BenchmarkRetryBacklog(b *testing.B) {
	storebench.RetryBacklog(b, openTemp(b))
}
