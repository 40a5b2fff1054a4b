package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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
	jwtCert := fs.String("jwt-cert", "", "PEM certificate (or public key) that verifies JWT bearer assertions, as a connected app's; without it the jwt flow is refused")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	opts := sim.Options{}
	if *jwtCert != "" {
		key, err := loadJWTKey(*jwtCert)
		if err != nil {
			fmt.Fprintln(stderr, "sim:", err)
			return 1
		}
		opts.JWTKey = key
	}
	org := sim.New(opts)
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
	warnReachable(stderr, ln.Addr())
	srv := &http.Server{Handler: org, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "local Salesforce org at http://%s\n", ln.Addr())
	fmt.Fprintln(stdout, "  OAuth: client id ctibridge-local, client secret local-secret (client_credentials),")
	fmt.Fprintln(stdout, "         or user admin@local.test with password local-password (password grant)")
	fmt.Fprintln(stdout, "  login: every user (alice@local.test, bob@..., carol@...) logs in with local-password on /services/oauth2/authorize (Sign in with Salesforce)")
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

// warnReachable warns when the org listens where other hosts may reach
// it: its credentials are printed at start and known to all.
func warnReachable(w io.Writer, addr net.Addr) {
	if tcp, ok := addr.(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		fmt.Fprintf(w, "sim: warning: listening on %s, which other hosts may reach; the local org's credentials are public, so keep it on 127.0.0.1 unless they must\n", addr)
	}
}

// loadJWTKey reads the RSA public key that verifies JWT assertions from a
// PEM file: a CERTIFICATE (what a Salesforce connected app is given) or a
// PUBLIC KEY.
func loadJWTKey(path string) (*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--jwt-cert: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("--jwt-cert %s: no PEM block", path)
	}
	var pub any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("--jwt-cert %s: %w", path, err)
		}
		pub = cert.PublicKey
	case "PUBLIC KEY":
		if pub, err = x509.ParsePKIXPublicKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("--jwt-cert %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("--jwt-cert %s: a PEM %s, want a CERTIFICATE or a PUBLIC KEY", path, block.Type)
	}
	key, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("--jwt-cert %s: not an RSA key (JWT bearer assertions are RS256)", path)
	}
	return key, nil
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
