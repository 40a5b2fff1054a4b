package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/enginetest"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/stretchr/testify/require"
)

// TestEngine runs the engine's behaviour suite on a real SQLite file.
func TestEngine(t *testing.T) {
	enginetest.Run(t, func(t testing.TB) func() adapter.Store {
		path := filepath.Join(t.TempDir(), "ctibridge.db")
		return func() adapter.Store {
			s, err := sqlite.Open(path)
			require.NoError(t, err)
			return s
		}
	})
}
