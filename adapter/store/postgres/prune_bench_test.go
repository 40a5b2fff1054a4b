package postgres

import (
	"testing"

	"github.com/ctibridge/ctibridge/adapter/store/internal/storebench"
)

// BenchmarkPruneBatch is how long one prune batch (1,000 events, or
// 1,000 audit entries) holds the store's write lock:
//
//	go test -run xxx -bench PruneBatch -benchtime 20x ./adapter/store/postgres/
func BenchmarkPruneBatch(b *testing.B) {
	storebench.PruneBatch(b, openTest(b))
}
