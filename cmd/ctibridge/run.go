package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/ctibridge/ctibridge/config"
)

// The environment variables of run, for containers and units that set
// the environment more easily than the command line. A flag wins.
const (
	envConfig = "CTIBRIDGE_CONFIG"
	envListen = "CTIBRIDGE_LISTEN"
)

// runRun is "ctibridge run": the production daemon. It logs JSON (or text)
// on stderr, reloads its config on SIGHUP and stops gracefully on SIGINT or
// SIGTERM.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ctibridge run --config FILE [--listen ADDR] [--log-format json|text] [--log-level info]

Runs the bridge: polls the CRM, routes interactions, serves the HTTP API,
the event stream and the panel on the config's listen address (or
--listen), and writes changes back to the CRM. Logs go to stderr, one JSON
object a line unless --log-format text: an access log line per API
request, and the lines of the libraries inside (at debug). A config with
problems is refused with one error line each, naming its file:line.
SIGHUP reloads the config file: agents, tokens, services, mappings,
timeouts and webhooks take effect at once; a file with problems (or one
that changes the store, the listen address or the CRM, which need a
restart) is refused whole, each problem logged at its file:line.
SIGTERM or Ctrl-C stops it gracefully: in-flight requests finish, a call
to the CRM under way gets its answer, the outbox is flushed as far as the
CRM allows within 10s, timers stop
(overdue ones fire at the next start).

Environment:
  CTIBRIDGE_CONFIG   the config file when --config is not given
  CTIBRIDGE_LISTEN   host:port to listen on when --listen is not given;
                     either one overrides the config's listen
  GOMEMLIMIT         the Go heap's soft limit (off: none); by default, in a
                     container with a memory limit, 90% of that limit

Flags:
`)
		fs.PrintDefaults()
	}
	path := fs.String("config", "", "config file (default $"+envConfig+"; one of them is required)")
	listen := fs.String("listen", "", "host:port of the API and panel, over the config's listen (default $"+envListen+")")
	format := fs.String("log-format", logJSON, "log format: json or text")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	log, err := newLogger(stderr, *format, *level)
	if err != nil {
		fmt.Fprintln(stderr, "run:", err)
		return 2
	}
	src, err := runSources(*path, *listen, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "run:", err)
		return 2
	}
	defer routeStdLog(log, logrus.DebugLevel)()

	cfg, err := config.Load(src.config)
	if err != nil {
		logProblems(log, "config refused", err)
		return 1
	}
	overrides := func(cfg *config.Config) {
		if src.listen != "" {
			cfg.Listen = src.listen
		}
	}
	overrides(cfg)
	limitMemory(log, os.Getenv)
	// SIGHUP reloads the config file; a reload that is refused changes
	// nothing and says why.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log, Overrides: overrides})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0
		}
		logProblems(log, "ctibridge did not start", err)
		return 1
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.WithField("file", cfg.File).Info("reloading the config (SIGHUP)")
				if err := d.reload(ctx); err != nil {
					logProblems(log, "config reload refused", err)
				}
			}
		}
	}()
	if err := d.wait(); err != nil {
		log.WithError(err).Error("ctibridge stopped")
		return 1
	}
	return 0
}

// runSource is where run's config file is and what address it listens on
// ("" keeps the config's).
type runSource struct {
	config, listen string
}

// runSources resolves the config path and the listen address: a flag,
// else its environment variable (getenv), else the config's listen; the
// config path is required.
func runSources(configFlag, listenFlag string, getenv func(string) string) (runSource, error) {
	src := runSource{config: configFlag, listen: listenFlag}
	if src.config == "" {
		src.config = getenv(envConfig)
	}
	if src.config == "" {
		return src, fmt.Errorf("--config FILE (or %s) is required", envConfig)
	}
	from := "--listen"
	if src.listen == "" {
		src.listen, from = getenv(envListen), envListen
	}
	if src.listen != "" {
		if err := checkListen(src.listen); err != nil {
			return src, fmt.Errorf("%s %q: %w", from, src.listen, err)
		}
	}
	return src, nil
}

// checkListen checks a host:port as config validation checks listen.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, e.g. 0.0.0.0:8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q (want 0 to 65535)", port)
	}
	return nil
}
