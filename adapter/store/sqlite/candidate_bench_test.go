package sqlite

import (
	"testing"

	"github.com/ctibridge/ctibridge/adapter/store/internal/storebench"
)

// BenchmarkCandidate is routing's choice of an agent among 1,000 in 20
// services, with room and with everyone full (storebench.Candidate):
//
//	go test -run xxx -bench Candidate ./adapter/store/sqlite/
func BenchmarkCandidate(b *testing.B) {
	storebench.Candidate(b, openTemp(b))
}
