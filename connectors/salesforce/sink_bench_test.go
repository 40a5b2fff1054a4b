package salesforce

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// BenchmarkSinkCalls writes 5,000 records' changes (a status update and an
// audit Task each: 10,000 record writes) pending together, and reports the
// API calls the local org counted per 1,000 record writes, next to the
// floor (one composite call per 1,000) and the two baselines: one call per
// record write (a plain REST client) and one sObject Collection call per 200.
func BenchmarkSinkCalls(b *testing.B) {
	const records = 5000
	for range b.N {
		b.StopTimer()
		org, url, ids := localOrg(b, records)
		sink := NewSink(connect(b, url, nil), map[string]Writeback{"Case": caseWriteback{}})
		rows := make([]adapter.OutboxRow, len(ids))
		for k, id := range ids {
			rows[k] = row(int64(k+1), id, contactpad.Deferred, fmt.Sprintf("aud-%d", k))
		}
		before := org.Total()
		b.StartTimer()
		for _, err := range sink.Write(context.Background(), rows) {
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		writes := 2 * float64(records)
		calls := float64(org.Total() - before)
		b.ReportMetric(writes, "record_writes")
		b.ReportMetric(calls, "api_calls")
		b.ReportMetric(calls/writes*1000, "calls/1000writes")
		b.ReportMetric(math.Ceil(writes/1000)/writes*1000, "floor_calls/1000writes")
		b.ReportMetric(1000/200, "collection_baseline_calls/1000writes")
		b.ReportMetric(1000, "per_record_baseline_calls/1000writes")
	}
}
