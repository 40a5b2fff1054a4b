package postgres

import (
	"testing"

	"github.com/ctibridge/ctibridge/adapter/store/internal/storebench"
)

// BenchmarkCandidate is routing's choice of an agent among 1,000 in 20
// services, with room and with everyone full (storebench.Candidate):
//
//	go test -run xxx -bench Candidate ./adapter/store/postgres/
func BenchmarkCandidate(b *testing.B) {
	s := openTest(b)
	if err := storebench.FillCandidates(b.Context(), s); err != nil {
		b.Fatal(err)
	}
	storebench.Candidate(b, s)
}
