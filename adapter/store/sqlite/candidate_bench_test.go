package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/ctibridge/ctibridge/adapter/store/internal/storebench"
)

// BenchmarkCandidate is routing's choice of an agent among 1,000 in 20
// services, with room and with everyone full (storebench.Candidate). The
// store is closed and opened again after the fill, so that the timing
// starts from a checkpointed file, as a running bridge's would.
//
//	go test -run xxx -bench Candidate ./adapter/store/sqlite/
func BenchmarkCandidate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ctibridge.db")
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := storebench.FillCandidates(b.Context(), s); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	storebench.Candidate(b, s)
}
