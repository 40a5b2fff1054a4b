package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
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
