package main

import (
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
