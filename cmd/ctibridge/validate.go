package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/contactpad"
)

// runValidate checks a config file: exit 0, or every error with file:line.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file to check (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "validate: --config FILE is required")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ms, err := loadMappings(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d agents, %d services, %d mappings, store %s, crm %s)\n",
		*path, len(cfg.Agents), len(cfg.Services), len(ms), cfg.Store.Driver, cfg.CRM.Kind)
	return 0
}

// engineSettings turns a checked config into the engine's settings.
func engineSettings(cfg *config.Config) adapter.Settings {
	s := adapter.Settings{
		Matrix:               cfg.Matrix(),
		AutoAccept:           cfg.Routing.AutoAccept,
		PushTimeout:          time.Duration(cfg.Routing.PushTimeout),
		PushTimeoutPresence:  cfg.Routing.PushTimeoutPresence,
		ReleaseAllBeforeNext: cfg.Routing.ReleaseAllBeforeNext,
		WrapUp:               durations(cfg.Timeouts.WrapUp),
		WrapUpMaxExtensions:  cfg.Timeouts.WrapUpMaxExtensions,
		TransferAccept:       time.Duration(cfg.Timeouts.TransferAccept),
		Consult:              time.Duration(cfg.Timeouts.Consult),
		Inactivity:           durations(cfg.Timeouts.Inactivity),
		Reopen:               adapter.ReopenPolicy(cfg.Deferral.Reopen),
	}
	for _, r := range cfg.Deferral.Rules {
		s.DeferralRules = append(s.DeferralRules, adapter.DeferralRule{Name: r.When, Match: r.Matches, After: time.Duration(r.After)})
	}
	for _, sv := range cfg.Services {
		s.Services = append(s.Services, contactpad.Service{ID: sv.ID, Name: sv.Name})
	}
	for _, a := range cfg.Agents {
		s.Agents = append(s.Agents, contactpad.Agent{ID: a.ID, Name: a.Name, CRMUserID: a.CRMUserID,
			Services: a.Services, Capacity: a.Capacity})
	}
	return s
}

func durations(in map[contactpad.Media]config.Duration) map[contactpad.Media]time.Duration {
	out := make(map[contactpad.Media]time.Duration, len(in))
	for m, d := range in {
		out[m] = time.Duration(d)
	}
	return out
}
