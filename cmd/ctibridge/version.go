package main

import (
	"fmt"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo says which build of ctibridge runs, for "ctibridge version" and
// the ctibridge_build_info metric: an operator who sees odd behaviour on one
// replica can tell whether it runs the same code as the others.
type buildInfo struct {
	// Version is the main module's version: a tag (v1.2.0), or the
	// pseudo-version the go command derives from the VCS (with +dirty for
	// uncommitted changes); "dev" when the build recorded none (go run,
	// go test, a build outside a repository).
	Version string
	// Revision is the VCS commit, with "-modified" when the working tree
	// had uncommitted changes; "unknown" when the build did not stamp it
	// (-buildvcs=false, no .git in a container build context).
	Revision string
	// Time is the commit's time (RFC 3339), "unknown" like Revision.
	Time string
	// GoVersion is the toolchain that built the binary (go1.26.8).
	GoVersion string
}

// readBuildInfo reads the running binary's build information.
func readBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildInfoOf(bi)
}

// buildInfoOf extracts what we report from the go command's build
// information; bi may be nil (a binary built without module support).
func buildInfoOf(bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: "dev", Revision: "unknown", Time: "unknown", GoVersion: "unknown"}
	if bi == nil {
		return b
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		b.Version = v
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && b.Revision != "unknown" {
		b.Revision += "-modified"
	}
	return b
}

// String is the line "ctibridge version" prints.
func (b buildInfo) String() string {
	return fmt.Sprintf("ctibridge %s (revision %s, committed %s, built with %s)", b.Version, b.Revision, b.Time, b.GoVersion)
}

// buildInfoCollector exports b as ctibridge_build_info, a gauge that is
// always 1 with the build in its labels: joined to other series with
// "* on(instance) group_left(version)", and a dashboard shows a mixed
// rollout at a glance.
func buildInfoCollector(b buildInfo) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ctibridge_build_info",
		Help: "Always 1; the labels say which build of ctibridge runs: module version, VCS revision and commit time, Go version.",
		ConstLabels: prometheus.Labels{
			"version":    b.Version,
			"revision":   b.Revision,
			"time":       b.Time,
			"go_version": b.GoVersion,
		},
	}, func() float64 { return 1 })
}
