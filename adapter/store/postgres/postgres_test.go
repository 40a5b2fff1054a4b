package postgres

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/adapter/storetest"
)

// openTest opens a store in a fresh schema and closes it when t ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openDSN(t, pgtest.DSN(t))
}

// openDSN opens a store on dsn and closes it when t ends.
func openDSN(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	require.NoError(t, err)
	// Some tests close the store themselves; a second Close fails harmlessly.
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) adapter.Store { return openTest(t) })
}
