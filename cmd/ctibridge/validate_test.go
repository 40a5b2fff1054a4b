package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/config"
)

// TestEngineSettingsOfAnEmptyFile checks that the engine runs an empty
// config file with exactly its own defaults: a default the engine gains,
// or one the config sets otherwise, shows here.
func TestEngineSettingsOfAnEmptyFile(t *testing.T) {
	require.Equal(t, adapter.Defaults(), engineSettings(config.Default()))
}

// TestValidateWarns checks that validate accepts a config whose secret
// file others may read, and says so on stderr, naming the file only.
func TestValidateWarns(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook-secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cr3t-hook-value-of-24-bytes-or-more"), 0o600))
	require.NoError(t, os.Chmod(secret, 0o604))
	path := filepath.Join(dir, "ctibridge.yaml")
	require.NoError(t, os.WriteFile(path, []byte("webhooks:\n  - url: https://example.com/hook\n    secret_file: hook-secret\n"), 0o600))
	var out, errs bytes.Buffer
	require.Equal(t, 0, run([]string{"validate", "--config", path}, &out, &errs))
	require.Contains(t, out.String(), ": ok (")
	require.Equal(t, "warning: "+path+":3: webhooks[0].secret_file: "+secret+" is readable by others (mode 0604); chmod 600 it\n", errs.String())
}
