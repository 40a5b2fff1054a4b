package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// runHealthcheck is "ctibridge healthcheck": one GET of the daemon's
// readiness, exit 0 when it answers 2xx. The container image has no shell
// and no curl (distroless), so Docker's HEALTHCHECK and compose's
// healthcheck run the binary itself; Kubernetes probes /readyz directly.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ctibridge healthcheck [--url URL] [--timeout 5s]

Asks a running ctibridge whether it is ready (GET /readyz): exit 0 when it
answers 2xx, 1 otherwise, with the reason on stderr. By default it asks the
daemon of this host on the port of $CTIBRIDGE_LISTEN (8080 without it).

Flags:
`)
		fs.PrintDefaults()
	}
	url := fs.String("url", probeURL(os.Getenv("CTIBRIDGE_LISTEN")), "the URL to GET")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: --url: %v\n", err)
		return 2
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	defer res.Body.Close()
	// The body of /readyz names the failing check; a page of HTML from
	// something else is cut short.
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode/100 != 2 {
		fmt.Fprintf(stderr, "healthcheck: GET %s: %s %s\n", *url, res.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintf(stdout, "healthcheck: GET %s: %s\n", *url, res.Status)
	return 0
}

// probeURL is the readiness URL of the daemon listening on listen (the
// form of the config's listen key), as seen from the same host: a wildcard
// or missing host becomes 127.0.0.1.
func probeURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		host, port = "", "8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}
