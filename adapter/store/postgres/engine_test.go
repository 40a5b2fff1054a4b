package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/enginetest"
	"github.com/ctibridge/ctibridge/adapter/store/postgres"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
)

// TestEngine runs the engine's behaviour suite on PostgreSQL: the same
// tests as on SQLite, so the two stores cannot drift apart.
func TestEngine(t *testing.T) {
	pgtest.ServerDSN(t) // skip (or fail under CI) here, not inside a subtest's bubble
	enginetest.Run(t, func(t testing.TB) func() adapter.Store {
		dsn := pgtest.DSN(t)
		return func() adapter.Store {
			s, err := postgres.Open(t.Context(), dsn)
			require.NoError(t, err)
			return s
		}
	})
}
