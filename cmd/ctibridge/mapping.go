package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/mapping"
)

// loadMappings compiles the config's mappings and checks that every
// service they route to is configured.
func loadMappings(cfg *config.Config) ([]*mapping.Mapping, error) {
	ms, err := mapping.Parse(cfg.File, cfg.Mappings)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range ms {
		for _, s := range m.ServiceRefs() {
			if !slices.ContainsFunc(cfg.Services, func(c config.Service) bool { return c.ID == s.ID }) {
				errs = append(errs, fmt.Errorf("%s: unknown service %q (not in services)", s.At, s.ID))
			}
		}
	}
	return ms, errors.Join(errs...)
}

// mappingFor returns the mapping of the record's object (attributes.type).
func mappingFor(ms []*mapping.Mapping, record mapping.Record) (*mapping.Mapping, error) {
	attrs, _ := record["attributes"].(map[string]any)
	object, _ := attrs["type"].(string)
	i := slices.IndexFunc(ms, func(m *mapping.Mapping) bool { return m.Object == object })
	if i < 0 {
		return nil, fmt.Errorf("no mapping for object %q (attributes.type)", object)
	}
	return ms[i], nil
}

// runMapping is "ctibridge mapping preview": the interaction a CRM record
// becomes and what the mapping writes back for sample changes.
func runMapping(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "preview" {
		fmt.Fprintln(stderr, "usage: ctibridge mapping preview --config FILE --record FILE.json")
		return 2
	}
	fs := flag.NewFlagSet("mapping preview", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file with the mappings (required)")
	recordPath := fs.String("record", "", `CRM record as JSON, as the REST API returns it, with "attributes": {"type": ...} (required)`)
	if code, ok := parseFlags(fs, args[1:], stderr); !ok {
		return code
	}
	if *path == "" || *recordPath == "" {
		fmt.Fprintln(stderr, "mapping preview: --config FILE and --record FILE.json are required")
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
	data, err := os.ReadFile(*recordPath)
	if err != nil {
		fmt.Fprintln(stderr, "mapping preview:", err)
		return 1
	}
	var record mapping.Record
	if err := json.Unmarshal(data, &record); err != nil {
		fmt.Fprintf(stderr, "mapping preview: %s: not a JSON object: %v\n", *recordPath, err)
		return 1
	}
	m, err := mappingFor(ms, record)
	if err != nil {
		fmt.Fprintf(stderr, "mapping preview: %s: %v\n", *recordPath, err)
		return 1
	}
	settings := engineSettings(cfg)
	preview, err := m.Preview(record, time.Now(), settings.Agents, settings.Matrix)
	if err != nil {
		fmt.Fprintln(stderr, "mapping preview:", err)
		return 1
	}
	out := json.NewEncoder(stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(preview); err != nil {
		fmt.Fprintln(stderr, "mapping preview:", err)
		return 1
	}
	return 0
}
