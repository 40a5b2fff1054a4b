package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce"
	"github.com/ctibridge/ctibridge/contactpad"
)

// runValidate checks a config file: exit 0, or every error with file:line.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file to check (required)")
	offline := fs.Bool("offline", false, "do not connect to a postgres store; only check that its dsn parses")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
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
	store, err := checkStore(cfg.Store, *offline)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d agents, %d services, %d mappings, store %s, crm %s)\n",
		*path, len(cfg.Agents), len(cfg.Services), len(ms), store, cfg.CRM.Kind)
	return 0
}

// storeCheckTimeout bounds validate's connection to a postgres store.
const storeCheckTimeout = 10 * time.Second

// checkStore checks a postgres store beyond what config validation can:
// that its dsn parses and, unless offline, that the database answers and
// its schema is not newer than this build's (older is fine: the daemon
// migrates it at start). It describes the store for validate's ok line.
// Errors never quote the dsn.
func checkStore(s config.Store, offline bool) (string, error) {
	if s.Driver != config.DriverPostgres {
		return s.Driver, nil
	}
	if _, err := postgres.ParseDSN(s.DSN.Reveal()); err != nil {
		return "", err
	}
	if offline {
		return "postgres (not connected)", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeCheckTimeout)
	defer cancel()
	version, err := postgres.AppliedVersion(ctx, s.DSN.Reveal())
	if err != nil {
		return "", fmt.Errorf("store: postgres: %w (--offline skips this check)", err)
	}
	if err := postgres.CheckSchema(version); err != nil {
		return "", fmt.Errorf("store: postgres %w", err)
	}
	return fmt.Sprintf("postgres (schema %d of %d)", version, postgres.SchemaVersion()), nil
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
	if cfg.CRM.Salesforce.Omni.Presence.Enabled {
		s.PresenceSource = salesforce.OmniSource
	}
	return s
}

// presenceMap is what the Omni-Channel presence mirror of cfg maps each
// status to.
func presenceMap(cfg *config.Config) adapter.PresenceMap {
	p := cfg.CRM.Salesforce.Omni.Presence
	m := adapter.PresenceMap{Source: salesforce.OmniSource, Presence: p.Map, Busy: map[string][]contactpad.Media{}}
	for status, media := range p.Media {
		for _, md := range contactpad.Medias {
			if media[md] == contactpad.Busy {
				m.Busy[status] = append(m.Busy[status], md)
			}
		}
	}
	return m
}

func durations(in map[contactpad.Media]config.Duration) map[contactpad.Media]time.Duration {
	out := make(map[contactpad.Media]time.Duration, len(in))
	for m, d := range in {
		out[m] = time.Duration(d)
	}
	return out
}
