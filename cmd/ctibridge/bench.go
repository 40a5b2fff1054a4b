package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/internal/bench"
)

// runBench is "ctibridge bench": the end-to-end load harness of
// internal/bench, with the bridge in this process, in a child process
// (--child, --kill-restart) or already running (--target).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ctibridge bench [--records N] [--agents M] [--rate R | --duration D] [flags]

Starts the local Salesforce org on 127.0.0.1 and a bridge on it, creates N
Cases in the org, and has M agents work them over the HTTP API and their
event streams: go available, accept each offer, defer some (reopening on
their own 2-4s later), transfer some warm and cold to a colleague, release,
finish wrap-up, resume some from History. It waits until every change is
written back, checks the org's records against what the agents did, and
prints a results table (one JSON object on stdout with --json). It exits 1
when anything went wrong (errors > 0).

Flags:
`)
		fs.PrintDefaults()
	}
	var o bench.Options
	fs.IntVar(&o.Records, "records", 1000, "Cases to create in the org")
	fs.IntVar(&o.Agents, "agents", 50, "agents working them")
	fs.Float64Var(&o.Rate, "rate", 0, "Cases created a second (0: all at once, or spread over --duration)")
	fs.DurationVar(&o.Duration, "duration", 0, "spread the Cases over this time (when --rate is 0)")
	fs.DurationVar(&o.PollInterval, "poll", time.Second, "the bridge's CRM poll interval")
	fs.DurationVar(&o.BatchMaxAge, "batch-max-age", 0, "the bridge's crm.batch_max_age (0: its default)")
	fs.DurationVar(&o.Think, "think", 0, "how long an agent works an interaction before acting")
	fs.Float64Var(&o.DeferShare, "defer", 0.10, "share of Cases deferred (2-4s ahead)")
	fs.Float64Var(&o.WarmShare, "warm", 0.05, "share of Cases transferred warm")
	fs.Float64Var(&o.ColdShare, "cold", 0.05, "share of Cases transferred cold")
	fs.Float64Var(&o.ResumeShare, "resume", 0.05, "share of Cases resumed from History")
	fs.BoolVar(&o.Faults, "faults", false, "the org fails during the run: 5xx burst, session expiry, rate limiting")
	fs.BoolVar(&o.KillRestart, "kill-restart", false, "SIGKILL the bridge mid-run and restart it on the same store (implies --child)")
	child := fs.Bool("child", false, "run the bridge as a child process (ctibridge run) instead of in this process")
	fs.StringVar(&o.Target, "target", "", "base URL of a bridge to drive instead: start it with the config written to --config-out")
	fs.StringVar(&o.ConfigPath, "config-out", "", "where to write the bridge's config (default: in --dir)")
	fs.StringVar(&o.OrgListen, "org-listen", "", "address of the local org (default 127.0.0.1, any port)")
	fs.StringVar(&o.Dir, "dir", "", "directory for the config, the store and the bridge's log (default: a temporary one, removed)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the run's random choices")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up after this long")
	asJSON := fs.Bool("json", false, "print the result as one JSON object on stdout")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process to FILE (the bridge too when it runs in process)")
	memProfile := fs.String("memprofile", "", "write a profile of what this process allocated to FILE at the end (the bridge too when it runs in process)")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	o.Log = stderr
	if isTerminal(stderr) {
		o.Progress = stderr
	}
	switch {
	case o.Target != "":
	case o.KillRestart || *child:
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		o.Start = bench.ChildStarter(exe, nil, nil, filepath.Join(os.TempDir(), fmt.Sprintf("ctibridge-bench-%d.log", os.Getpid())))
	default:
		o.Start = inProcessBridge(logrus.ErrorLevel, stderr)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(ctx, o)
	if *memProfile != "" {
		if err := writeAllocs(*memProfile); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if res != nil {
		if *asJSON {
			_ = res.WriteJSON(stdout)
		} else {
			_ = res.WriteTable(stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if res.Errors > 0 {
		return 1
	}
	return 0
}

// inProcessBridge starts the daemon in this process: its memory is the
// bench's, and it cannot be killed.
func inProcessBridge(level logrus.Level, logTo io.Writer) bench.Starter {
	return func(ctx context.Context, path string) (bench.Bridge, error) {
		cfg, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		log := logrus.New()
		log.SetOutput(logTo)
		log.SetLevel(level)
		ctx, stop := context.WithCancel(ctx)
		d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
		if err != nil {
			stop()
			return nil, err
		}
		return &inProcess{d: d, stop: stop}, nil
	}
}

type inProcess struct {
	d    *daemon
	stop context.CancelFunc
}

func (p *inProcess) PID() int { return os.Getpid() }

func (p *inProcess) Kill() error {
	return errors.New("a bridge in process cannot be killed: use --child")
}

func (p *inProcess) Stop() error {
	p.stop()
	return p.d.wait()
}

// isTerminal reports whether w is a terminal (a progress line on a file or
// a pipe would only clutter it).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// writeAllocs writes the allocations profile (every allocation sampled
// since the process started, by where it was made) to path.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
