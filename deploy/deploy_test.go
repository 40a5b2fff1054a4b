// Package deploy tests the deployment files: the Dockerfile and its
// .dockerignore, compose.yaml's try-out, the Helm chart, the systemd unit
// and the configs they ship. Docker and Helm cannot run here (no daemon, no
// base images, no Helm package in Debian), so these tests read the files and
// check their structure, render the chart's templates (helmtemplate_test.go)
// and load every shipped config with ctibridge's own config package.
package deploy

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/mapping"
)

// root is the repository's top directory, from this package's.
const root = ".."

// secretName matches names of variables and build arguments that would
// put a secret into an image's metadata, where docker history shows it.
var secretName = regexp.MustCompile(`(?i)secret|passw|token|dsn|private|credential|api_?key`)

// loadConfig loads a shipped config as ctibridge does, with its secrets
// from dir: each occurrence of mount+"/" in the file is replaced by dir+"/"
// (the files a container or systemd would have there). It also parses the
// mappings and checks the services they route to, as validate does.
func loadConfig(t *testing.T, path, mount, dir string) *config.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	text := string(data)
	if mount != "" {
		require.Contains(t, text, mount+"/", "%s names no file under %s", path, mount)
		text = strings.ReplaceAll(text, mount+"/", dir+"/")
	}
	name := filepath.Join(t.TempDir(), filepath.Base(path))
	require.NoError(t, os.WriteFile(name, []byte(text), 0o600))
	cfg, err := config.Load(name)
	require.NoError(t, err, "%s does not load", path)
	ms, err := mapping.Parse(cfg.File, cfg.Mappings)
	require.NoError(t, err, "%s: mappings", path)
	require.NotEmpty(t, ms, "%s: no mappings", path)
	services := map[string]bool{}
	for _, s := range cfg.Services {
		services[s.ID] = true
	}
	for _, m := range ms {
		for _, s := range m.Services() {
			require.True(t, services[s], "%s: mapping %s routes to unknown service %q", path, m.Object, s)
		}
	}
	return cfg
}

// readLines returns a file's lines, for the line-oriented formats
// (Dockerfile, .dockerignore, systemd units).
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	require.NoError(t, s.Err())
	return lines
}

// execForm decodes a Dockerfile instruction's JSON ("exec") form.
func execForm(t *testing.T, args string) []string {
	t.Helper()
	var argv []string
	require.NoError(t, json.Unmarshal([]byte(args), &argv), "want the exec form [\"...\"], got %s", args)
	return argv
}
