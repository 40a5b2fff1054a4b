package adapter

import (
	"testing"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkMetricsPerCommand measures what metrics add to one committed
// command on the engine's commit path: its command counter, one routing
// latency and two events (an ingest that routes). It must not allocate.
func BenchmarkMetricsPerCommand(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry(), nil)
	cmd := Command(Ingest{Item: contactpad.WorkItem{CRMID: "500A"}})
	routed := []float64{1.5}
	events := []Event{{Type: EventInteractionCreated}, {Type: EventInteractionUpdated}}
	b.ReportAllocs()
	for b.Loop() {
		m.commandApplied(cmd, nil)
		m.routed(routed)
		m.eventsCommitted(events)
	}
}
