package api_test

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// BenchmarkAccessLog is the cost of the access log line on an API call
// (GET /api/v1/me through the handler, no socket): JSON at info, as run
// logs by default, against warn, where the line is skipped.
func BenchmarkAccessLog(b *testing.B) {
	for _, level := range []logrus.Level{logrus.WarnLevel, logrus.InfoLevel} {
		b.Run(level.String(), func(b *testing.B) {
			e := startBubble(b, func(o *api.Options, _ *adapter.Settings) {
				log := logrus.New()
				log.SetOutput(io.Discard)
				log.SetFormatter(&logrus.JSONFormatter{})
				log.SetLevel(level)
				o.Logger = log
				o.RateLimit, o.RateBurst = 1e9, 1e9
			})
			h := e.api.Handler()
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/api/v1/me", nil)
				req.Header.Set("Authorization", "Bearer tok-ops")
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
