package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/ctibridge/ctibridge/config"
)

// runRun is "ctibridge run": the production daemon. It logs JSON and stops
// gracefully on SIGINT or SIGTERM.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ctibridge run --config FILE [--log-level info]

Runs the bridge: polls the CRM, routes interactions, serves the HTTP API,
the event stream and the panel on the config's listen address, and writes
changes back to the CRM. Logs are JSON on stderr. SIGTERM or Ctrl-C stops
it gracefully: in-flight requests finish, the outbox is flushed as far as
the CRM allows within 10s, timers stop (overdue ones fire at the next start).

Flags:
`)
		fs.PrintDefaults()
	}
	path := fs.String("config", "", "config file (required)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "run: --config FILE is required")
		return 2
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetFormatter(&logrus.JSONFormatter{})
	lvl, err := logrus.ParseLevel(*level)
	if err != nil {
		fmt.Fprintf(stderr, "run: --log-level %q: want debug, info, warn or error\n", *level)
		return 2
	}
	log.SetLevel(lvl)
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0
		}
		log.WithError(err).Error("ctibridge did not start")
		return 1
	}
	if err := d.wait(); err != nil {
		log.WithError(err).Error("ctibridge stopped")
		return 1
	}
	return 0
}
