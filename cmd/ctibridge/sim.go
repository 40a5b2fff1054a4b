package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
)

// runSim serves the local Salesforce-compatible org until ctx is done.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "address to serve the local org on")
	seed := fs.String("seed", "", "JSON file of records to seed (default: the built-in seed)")
	rate := fs.Float64("rate", 0, "new customer records per second, generated until stopped (0: none)")
	latency := fs.Duration("latency", 0, "fault: delay every API call by this much")
	failNext := fs.Int("fail-next", 0, "fault: answer the next N API calls with 503")
	limitNext := fs.Int("limit-next", 0, "fault: answer the next N API calls with 403 REQUEST_LIMIT_EXCEEDED")
	expireEvery := fs.Duration("expire-every", 0, "fault: expire every session this often (INVALID_SESSION_ID)")
	lock := fs.String("lock", "", "fault: comma-separated record ids whose writes fail with UNABLE_TO_LOCK_ROW")
	deleted := fs.String("deleted", "", "fault: comma-separated record ids that answer ENTITY_IS_DELETED")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	org := sim.New(sim.Options{})
	var err error
	if *seed == "" {
		err = org.Seed(sim.DefaultSeed())
	} else {
		err = org.LoadSeed(*seed)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sim:", err)
		return 1
	}
	faults := org.Faults()
	faults.SetLatency(*latency)
	if *failNext > 0 {
		faults.FailNext(*failNext, http.StatusServiceUnavailable)
	}
	if *limitNext > 0 {
		faults.ExceedLimit(*limitNext)
	}
	if ids := splitList(*lock); len(ids) > 0 {
		faults.LockRows(0, ids...)
	}
	if ids := splitList(*deleted); len(ids) > 0 {
		faults.MarkDeleted(ids...)
	}
	if *expireEvery > 0 {
		go func() {
			tick := time.NewTicker(*expireEvery)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					faults.ExpireSessions()
				}
			}
		}()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "sim:", err)
		return 1
	}
	srv := &http.Server{Handler: org, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "local Salesforce org at http://%s\n", ln.Addr())
	fmt.Fprintln(stdout, "  OAuth: client id ctibridge-local, client secret local-secret (client_credentials),")
	fmt.Fprintln(stdout, "         or user admin@local.test with password local-password (password grant)")
	fmt.Fprintf(stdout, "  try:   curl -s -d grant_type=client_credentials -d client_id=ctibridge-local -d client_secret=local-secret http://%s/services/oauth2/token\n", ln.Addr())
	if *rate > 0 {
		go func() { _ = org.Generate(ctx, *rate, nil) }()
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "sim:", err)
		return 1
	}
	return 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
