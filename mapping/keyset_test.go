package mapping

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQueryAfter(t *testing.T) {
	ms, err := ParseFile("../testdata/mappings/case.yaml")
	require.NoError(t, err)
	m := ms[0]
	base := m.Query(time.Time{})
	head := base[:len(base)-len(" ORDER BY SystemModstamp, Id")]
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	require.Equal(t, base+" LIMIT 2000", m.QueryAfter(time.Time{}, "", 2000))
	require.Equal(t, head+" AND SystemModstamp > 2026-11-22T10:00:00.000Z ORDER BY SystemModstamp, Id LIMIT 2000",
		m.QueryAfter(at, "", 2000))
	require.Equal(t, head+" AND (SystemModstamp > 2026-11-22T10:00:00.000Z OR (SystemModstamp = 2026-11-22T10:00:00.000Z"+
		" AND Id > '500Sd0000000001IAA')) ORDER BY SystemModstamp, Id LIMIT 2000", m.QueryAfter(at, "500Sd0000000001IAA", 2000))
}
