package mapping

import (
	"strings"
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

func TestQueryUnmatchedAndIDs(t *testing.T) {
	ms, err := ParseFile("../testdata/mappings/case.yaml")
	require.NoError(t, err)
	m := ms[0]
	base := m.Query(time.Time{})
	selectFrom := base[:strings.Index(base, " WHERE ")]
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	require.Equal(t, selectFrom+" WHERE (NOT (IsClosed = false AND Origin != null)) AND (SystemModstamp > 2026-11-22T10:00:00.000Z"+
		" OR (SystemModstamp = 2026-11-22T10:00:00.000Z AND Id > '500Sd0000000001IAA')) ORDER BY SystemModstamp, Id LIMIT 2000",
		m.QueryUnmatchedAfter(at, "500Sd0000000001IAA", 2000), "the records that left the filter")
	require.Equal(t, selectFrom+" WHERE (IsClosed = false AND Origin != null) AND Id IN ('500A', '500\\'B') ORDER BY SystemModstamp, Id",
		m.QueryIDs([]string{"500A", "500'B"}), "records read again, quoted")
	require.Equal(t, selectFrom+" WHERE (NOT (IsClosed = false AND Origin != null)) AND Id IN ('500A') ORDER BY SystemModstamp, Id",
		m.QueryUnmatchedIDs([]string{"500A"}), "records read again that left the filter")

	noFilter := parse(t, "mappings:", "- {object: Case, media: live, service: s}")
	require.Empty(t, noFilter.QueryUnmatchedAfter(at, "", 2000), "without a filter every record matches")
	require.Equal(t, "SELECT Id, SystemModstamp, LastModifiedById, LastModifiedBy.Name FROM Case WHERE Id IN ('500A') ORDER BY SystemModstamp, Id",
		noFilter.QueryIDs([]string{"500A"}))
	require.Empty(t, noFilter.QueryUnmatchedIDs([]string{"500A"}))
}
