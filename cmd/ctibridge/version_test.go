package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
)

func TestBuildInfoOf(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want buildInfo
	}{
		{"no build information", nil, buildInfo{"dev", "unknown", "unknown", "unknown"}},
		{"go run or go test: (devel), no VCS", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			buildInfo{"dev", "unknown", "unknown", "go1.26.8"}},
		{"a tagged release", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"},
			Settings: vcs("-trimpath", "true", "vcs", "git", "vcs.revision", "6f73943b", "vcs.time", "2026-03-01T10:00:00Z", "vcs.modified", "false")},
			buildInfo{"v1.4.0", "6f73943b", "2026-03-01T10:00:00Z", "go1.26.8"}},
		{"uncommitted changes", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260301100000-6f73943b+dirty"},
			Settings: vcs("vcs.revision", "6f73943b", "vcs.time", "2026-03-01T10:00:00Z", "vcs.modified", "true")},
			buildInfo{"v0.0.0-20260301100000-6f73943b+dirty", "6f73943b-modified", "2026-03-01T10:00:00Z", "go1.26.8"}},
		{"vcs.modified without a revision stays unknown", &debug.BuildInfo{Settings: vcs("vcs.modified", "true")},
			buildInfo{"dev", "unknown", "unknown", "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, buildInfoOf(tc.bi))
		})
	}
}

func TestBuildInfoCollector(t *testing.T) {
	b := buildInfo{Version: "v1.4.0", Revision: "6f73943b", Time: "2026-03-01T10:00:00Z", GoVersion: "go1.26.8"}
	require.NoError(t, testutil.CollectAndCompare(buildInfoCollector(b), strings.NewReader(`
# HELP ctibridge_build_info Always 1; the labels say which build of ctibridge runs: module version, VCS revision and commit time, Go version.
# TYPE ctibridge_build_info gauge
ctibridge_build_info{go_version="go1.26.8",revision="6f73943b",time="2026-03-01T10:00:00Z",version="v1.4.0"} 1
`)))
}

// TestDaemonExportsBuildInfo: the running daemon's /metrics carries the
// build of the test binary (go test records no VCS information).
func TestDaemonExportsBuildInfo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte("listen: 127.0.0.1:0\nstore: {driver: sqlite, dsn: "+
		filepath.Join(dir, "ctibridge.db")+"}\n"), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := startDaemon(ctx, cfg, daemonOptions{Log: log})
	require.NoError(t, err)

	res, err := http.Get(d.url() + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	b := readBuildInfo()
	require.Contains(t, string(body), `ctibridge_build_info{go_version="`+b.GoVersion+`",revision="`+b.Revision+
		`",time="`+b.Time+`",version="`+b.Version+`"} 1`)

	stop()
	require.NoError(t, d.wait())
}

// TestVersionOfAStampedBinary builds ctibridge as a release would (from the
// repository, so the go command stamps the VCS information) and checks that
// "ctibridge version" names the commit checked out.
func TestVersionOfAStampedBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	require.NoError(t, err, "the test runs in the repository's git checkout")
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		// The go command looks for a .git directory; a worktree's .git is a
		// file, so builds there carry no VCS information (go1.26).
		t.Skip("a git worktree: the go command stamps VCS information only in a main checkout")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "ctibridge")
	args := []string{"build", "-buildvcs=true", "-o", bin}
	if raceBuild {
		args = append(args, "-race") // as the test binary: its packages are in the build cache
	}
	build := exec.Command("go", append(args, ".")...)
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	out, err = exec.Command(bin, "version").Output()
	require.NoError(t, err)
	line := string(bytes.TrimSpace(out))
	require.Regexp(t, `^ctibridge v\S+ \(revision `+strings.TrimSpace(string(head))+`(-modified)?, committed \d{4}-\d\d-\d\dT\S+Z, built with go1\.\S+\)$`, line)
}
