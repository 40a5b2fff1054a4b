package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
)

// testSessions: a session reads back as stored, is revoked once, and a
// second session with the same hash is refused.
func testSessions(t *testing.T, s adapter.Store) {
	alice := adapter.Session{IDHash: "aa01", Agent: "alice", CreatedAt: at(0), ExpiresAt: at(12 * time.Hour)}
	update(t, s, func(tx adapter.Tx) error { return tx.PutSession(&alice) })
	view(t, s, func(tx adapter.Tx) error {
		got, err := tx.Session("aa01")
		require.NoError(t, err)
		require.Equal(t, alice, *got)
		_, err = tx.Session("bb02")
		require.ErrorIs(t, err, adapter.ErrNotFound)
		_, err = tx.RevokeSession("aa01", at(time.Hour))
		require.Error(t, err, "a View cannot write")
		return nil
	})

	errs, err := s.Update(t.Context(), []func(adapter.Tx) error{func(tx adapter.Tx) error {
		return tx.PutSession(&adapter.Session{IDHash: "aa01", Agent: "bob", CreatedAt: at(0), ExpiresAt: at(time.Hour)})
	}})
	require.NoError(t, err)
	require.Error(t, errs[0], "the same hash twice")

	var first, second bool
	update(t, s, func(tx adapter.Tx) (err error) {
		first, err = tx.RevokeSession("aa01", at(time.Hour))
		return err
	}, func(tx adapter.Tx) (err error) {
		second, err = tx.RevokeSession("aa01", at(2*time.Hour))
		return err
	})
	require.True(t, first)
	require.False(t, second, "revoked once only")
	update(t, s, func(tx adapter.Tx) error {
		gone, err := tx.RevokeSession("cc03", at(time.Hour))
		require.False(t, gone)
		return err
	})
	view(t, s, func(tx adapter.Tx) error {
		got, err := tx.Session("aa01")
		require.NoError(t, err)
		require.Equal(t, at(time.Hour), got.RevokedAt, "the first revocation's time")
		require.Equal(t, "alice", got.Agent)
		return nil
	})
}

// testPruneSessions: sessions expired before the bound go, oldest first
// and limit at a time; the others stay.
func testPruneSessions(t *testing.T, s adapter.Store) {
	update(t, s, func(tx adapter.Tx) error {
		for i, exp := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour, 10 * time.Hour} {
			if err := tx.PutSession(&adapter.Session{IDHash: string(rune('a' + i)), Agent: "alice",
				CreatedAt: at(0), ExpiresAt: at(exp)}); err != nil {
				return err
			}
		}
		return nil
	})
	var n int
	update(t, s, func(tx adapter.Tx) (err error) {
		n, err = tx.PruneSessions(at(5*time.Hour), 2)
		return err
	})
	require.Equal(t, 2, n)
	view(t, s, func(tx adapter.Tx) error {
		for hash, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true} {
			_, err := tx.Session(hash)
			require.Equal(t, want, !errors.Is(err, adapter.ErrNotFound), "session %s", hash)
		}
		return nil
	})
	update(t, s, func(tx adapter.Tx) (err error) {
		n, err = tx.PruneSessions(at(5*time.Hour), 0)
		return err
	})
	require.Equal(t, 1, n, "the one left that expired")
}
