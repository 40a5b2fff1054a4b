package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDeferralRedated: an agent told that its deferral's due date, a few
// seconds ahead, is already past when the bridge got it (a slow answer)
// picks a new one, once, and the run counts it apart from the errors.
func TestDeferralRedated(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refuse  int64 // how many defers the bridge refuses as past
		redated int64
		errors  int64
	}{
		{"refused once: sent again", 1, 1, 0},
		{"refused twice: an error", 2, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var defers atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.Method + " " + r.URL.Path {
				case "GET /api/v1/interactions/int_1":
					_, _ = w.Write([]byte(`{"id":"int_1","owner":"a0000","status":"connected","media":"non-live"}`))
				case "POST /api/v1/interactions/int_1/defer":
					if defers.Add(1) <= tc.refuse {
						w.WriteHeader(http.StatusUnprocessableEntity)
						_, _ = w.Write([]byte(`{"status":422,"code":"due_by_in_past"}`))
						return
					}
					_, _ = w.Write([]byte(`{"id":"int_1","owner":"a0000","status":"deferred","media":"non-live"}`))
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			r := &runner{o: &Options{Seed: 1, Log: io.Discard}, url: srv.URL, errorKinds: map[string]int{}}
			it := &item{interaction: "int_1", plan: plan{deferFor: 2 * time.Second}}
			newAgent(r, 0).work(context.Background(), it, "", "")
			require.Equal(t, min(tc.refuse+1, 2), defers.Load())
			require.Equal(t, tc.redated, r.redated.Load())
			require.Equal(t, tc.errors, r.nErrors.Load(), "%v", r.errorSamples)
		})
	}
}

// TestColdTransferReplayed: the daemon dies after applying an agent's cold
// transfer, before answering; sent again once it is back, the transfer is
// refused because the interaction is no longer the agent's. The run counts
// a replayed command, not an error.
func TestColdTransferReplayed(t *testing.T) {
	var transfers atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "GET /api/v1/interactions/int_1":
			_, _ = w.Write([]byte(`{"id":"int_1","owner":"a0000","status":"connected","media":"non-live"}`))
		case "POST /api/v1/interactions/int_1/transfers":
			if transfers.Add(1) == 1 {
				// Applied, then the daemon dies: the connection drops.
				conn, _, err := http.NewResponseController(w).Hijack()
				require.NoError(t, err)
				conn.Close()
				return
			}
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"status":403,"code":"forbidden","detail":"interaction int_1 is not a0000's: forbidden"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	r := &runner{o: &Options{Seed: 1, Log: io.Discard, KillRestart: true, Agents: 2}, url: srv.URL, errorKinds: map[string]int{}}
	it := &item{interaction: "int_1", plan: plan{cold: true, transferTarget: 1}}
	newAgent(r, 0).work(context.Background(), it, "", "")
	require.Equal(t, int64(2), transfers.Load(), "sent again once the daemon is back")
	require.Equal(t, int64(1), r.replayed.Load())
	require.Zero(t, r.nErrors.Load(), "%v", r.errorSamples)
}
