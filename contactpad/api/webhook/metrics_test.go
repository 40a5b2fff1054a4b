package webhook

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
)

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		// Two URLs that differ only in a token look alike once redacted:
		// each keeps its own series.
		hooks := []Hook{
			{URL: hookURL + "?token=first-secret", Secrets: []string{testSecret}},
			{URL: hookURL + "?token=second-secret", Secrets: []string{testSecret}, Events: []adapter.EventType{adapter.EventAgentPresence}},
		}
		for _, h := range hooks {
			setCursor(t, store, h.URL, 0)
		}
		appendEvents(t, store,
			interactionEvent(adapter.EventInteractionCreated, "i1", "one"),
			interactionEvent(adapter.EventInteractionUpdated, "i1", "one"),
			interactionEvent(adapter.EventInteractionCreated, "i2", "two"),
		)
		first, second := hookURL+"?token=xxxxx", hookURL+"?token=xxxxx#2"

		reg := prometheus.NewRegistry()
		recv := &fakeReceiver{script: []response{{status: 503}, {status: 500}}}
		d := New(store, hooks, WithClient(&http.Client{Transport: recv}), WithBackoff(time.Second, time.Minute),
			WithLogger(quietLogger()), WithMetrics(reg))
		require.Equal(t, map[string]float64{first: 3, second: 3}, series(t, reg, "ctibridge_webhook_backlog", ""),
			"before Run, every event after the stored cursors")
		require.Equal(t, map[string]float64{first: 0, second: 0}, series(t, reg, "ctibridge_webhook_deliveries_total", outcomeFailed))

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		synctest.Wait()
		require.Equal(t, map[string]float64{first: 3, second: 0}, series(t, reg, "ctibridge_webhook_backlog", ""),
			"the first hook is stuck at its first event; the second passed over the types it does not receive")
		require.Equal(t, map[string]float64{first: 1, second: 0}, series(t, reg, "ctibridge_webhook_deliveries_total", outcomeFailed))
		require.Equal(t, map[string]float64{first: 0, second: 0}, series(t, reg, "ctibridge_webhook_deliveries_total", outcomeDelivered))

		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, map[string]float64{first: 2, second: 0}, series(t, reg, "ctibridge_webhook_deliveries_total", outcomeFailed))

		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Equal(t, map[string]float64{first: 2, second: 0}, series(t, reg, "ctibridge_webhook_deliveries_total", outcomeFailed))
		require.Equal(t, map[string]float64{first: 3, second: 0}, series(t, reg, "ctibridge_webhook_deliveries_total", outcomeDelivered))
		require.Equal(t, map[string]float64{first: 0, second: 0}, series(t, reg, "ctibridge_webhook_backlog", ""))
		require.Len(t, recv.deliveries(), 5)

		// New events are backlog until delivered, on the stored cursor
		// alone once this Dispatcher is gone.
		cancel()
		<-done
		appendEvents(t, store, presenceEvent("alice"))
		require.Equal(t, map[string]float64{first: 1, second: 1}, series(t, reg, "ctibridge_webhook_backlog", ""))

		for _, m := range gather(t, reg) {
			for _, s := range m.GetMetric() {
				for _, l := range s.GetLabel() {
					require.NotContains(t, l.GetValue(), "secret", "no token in a label")
				}
			}
		}
	})
}

// TestBacklogDuringAPage: the delivering replica counts from its own
// cursor, which runs ahead of the stored one until the page is done.
func TestBacklogDuringAPage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		setCursor(t, store, hookURL, 0)
		e := appendEvents(t, store,
			interactionEvent(adapter.EventInteractionCreated, "i1", "one"),
			interactionEvent(adapter.EventInteractionCreated, "i2", "two"),
			interactionEvent(adapter.EventInteractionCreated, "i3", "three"),
		)
		release := make(chan struct{})
		recv := &fakeReceiver{}
		slow := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Header.Get("X-Ctibridge-Delivery") == strconv.FormatInt(e[1].Seq, 10) {
				<-release
			}
			return recv.RoundTrip(req)
		})
		reg := prometheus.NewRegistry()
		d := New(store, []Hook{{URL: hookURL, Secrets: []string{testSecret}}}, WithClient(&http.Client{Transport: slow}),
			WithLogger(quietLogger()), WithMetrics(reg))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		synctest.Wait()
		require.Equal(t, "0", storedCursor(t, store, hookURL), "the page is not done")
		require.Equal(t, map[string]float64{hookURL: 2}, series(t, reg, "ctibridge_webhook_backlog", ""))
		close(release)
		synctest.Wait()
		require.Equal(t, map[string]float64{hookURL: 0}, series(t, reg, "ctibridge_webhook_backlog", ""))
		cancel()
		<-done
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func gather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	return mfs
}

// series returns the values of metric name by webhook label, of the
// series whose outcome is outcome (any, if empty).
func series(t *testing.T, reg *prometheus.Registry, name, outcome string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range gather(t, reg) {
		if m.GetName() != name {
			continue
		}
		for _, s := range m.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if outcome != "" && labels["outcome"] != outcome {
				continue
			}
			v := s.GetGauge().GetValue()
			if s.GetCounter() != nil {
				v = s.GetCounter().GetValue()
			}
			out[labels["webhook"]] = v
		}
	}
	return out
}
