package api_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// BenchmarkEventStreams measures what open event streams cost: it opens
// 2,000 streams (one token, the limit raised) and reports the memory the
// process holds for them, server and clients together (the clients are
// bare connections), per 2,000 streams.
//
//	go test -run xxx -bench EventStreams -benchtime 1x ./contactpad/api/
func BenchmarkEventStreams(b *testing.B) {
	const streams = 2000
	e := newEnv(b, false, []envOption{func(o *api.Options, _ *adapter.Settings) {
		o.MaxStreams, o.RateLimit, o.RateBurst = streams, streams, streams
	}})
	srv := httptest.NewServer(e.api.Handler())
	defer srv.Close()
	defer e.api.CloseStreams()
	request := "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-ops\r\n\r\n"
	for b.Loop() {
		before := memory()
		conns := make([]net.Conn, streams)
		for k := range conns {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			conns[k] = c
			if _, err := c.Write([]byte(request)); err != nil {
				b.Fatal(err)
			}
			// The stream is open once its first comment arrives.
			rd := bufio.NewReaderSize(c, 512)
			for {
				line, err := rd.ReadString('\n')
				if err != nil {
					b.Fatalf("stream %d: %v", k, err)
				}
				if strings.HasPrefix(line, ": ctibridge events after") {
					break
				}
			}
		}
		b.ReportMetric(float64(memory()-before)/(1<<20), fmt.Sprintf("MB/%dstreams", streams))
		for _, c := range conns {
			c.Close()
		}
	}
}

// memory is the memory the Go runtime holds in use for the heap and the
// goroutine stacks, after a collection.
func memory() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
