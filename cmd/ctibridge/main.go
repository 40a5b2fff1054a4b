// Command ctibridge is the bridge between a CRM and a contact centre's
// agents. See README.md for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `ctibridge: a bridge between a CRM and a contact centre's agents

Usage:
  ctibridge run       --config FILE [--listen ADDR] [--log-format json|text]
                                                the daemon: CRM sync, routing, HTTP API, events, webhooks
  ctibridge demo      [--listen ADDR] [--data DIR] [--omni]
                                                the bridge on a seeded local org and store, narrated
  ctibridge sim       [--listen 127.0.0.1:8090] [--seed FILE] [--rate N] [fault flags, see --help]
                                                the local Salesforce-compatible org alone
  ctibridge validate  --config FILE             check a config file: exit 0, or every error with file:line
  ctibridge mapping preview --config FILE --record FILE.json
                                                the interaction a CRM record becomes, and its writeback
  ctibridge bench     [--records N] [--agents M] [--rate R] [--json] [fault flags, see --help]
                                                load harness: local org, bridge, agents over HTTP; results table
  ctibridge healthcheck [--url URL]             exit 0 if the daemon here is ready (for container health checks)
  ctibridge version                             print the version, VCS revision and Go version

Run "ctibridge COMMAND --help" for a command's flags.
`

// run is the whole program, callable in-process by tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// simpleforce logs failed calls with their response bodies through the
	// standard log package: keep them at debug level (run routes them to
	// its own logger).
	routeStdLog(logrus.StandardLogger(), logrus.DebugLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "run":
		return runRun(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "sim":
		return runSim(ctx, args[1:], stdout, stderr)
	case "mapping":
		return runMapping(args[1:], stdout, stderr)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, readBuildInfo())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ctibridge: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// parseFlags parses a command's args with fs: ok when they are its flags
// and nothing else; else the exit code, 0 for --help (fs has printed its
// usage), 2 for anything it does not take, said on stderr.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	case err != nil:
		return 2, false
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	return 0, true
}
