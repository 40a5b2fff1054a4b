package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the API's Prometheus metrics:
//
//	ctibridge_http_request_duration_seconds{route,method,code}  histogram: time to serve an API request, event streams left out
//	ctibridge_event_streams_open                                gauge: event streams (GET /api/v1/events) open on this replica
type httpMetrics struct {
	latency *prometheus.HistogramVec
	streams prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ctibridge_http_request_duration_seconds",
			Help:    "Time to serve an API request, by route pattern, method and status code; event streams, which last as long as their client stays, are left out.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ctibridge_event_streams_open",
			Help: "Event streams (GET /api/v1/events) open on this replica.",
		}),
	}
	reg.MustRegister(m.latency, m.streams)
	return m
}

// instrument observes the latency of h under the route's pattern, so IDs
// in paths do not multiply the series.
func (m *httpMetrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.latency.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Flush keeps the wrapped writer a http.Flusher for handlers that assert it.
func (w *statusWriter) Flush() {
	w.wrote = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines of the event stream).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
