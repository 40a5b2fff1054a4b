//go:build unix

package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// TestFilesArePrivate checks that the database and its -wal and -shm
// files are created 0600 even under a umask that would leave them open to
// everyone: they hold subjects, notes and webhook URLs.
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	path := filepath.Join(t.TempDir(), "ctibridge.db")
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Update(context.Background(), []func(adapter.Tx) error{func(tx adapter.Tx) error {
		return tx.PutAgent(&contactpad.Agent{ID: "alice"})
	}})
	require.NoError(t, err)
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(name)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), name)
	}
}

// TestExistingFileKeepsItsMode checks that an operator's own choice of
// mode for an existing database stands.
func TestExistingFileKeepsItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctibridge.db")
	require.NoError(t, os.WriteFile(path, nil, 0o640))
	require.NoError(t, os.Chmod(path, 0o640))
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), info.Mode().Perm())
}
