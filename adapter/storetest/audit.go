package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func testAuditBetween(t *testing.T, s adapter.Store) {
	entry := func(id, interaction string, at time.Time) contactpad.AuditEntry {
		return contactpad.AuditEntry{
			ID: id, InteractionID: interaction, At: at, Actor: "alice", Action: "deferred",
			Category: "status_action", FromStatus: contactpad.Connected, ToStatus: contactpad.Deferred,
			Message: "entry " + id, Data: map[string]string{"n": id},
		}
	}
	// Appended out of time order, across interactions and Updates; three
	// share one instant (s1..s3, appended in that order but not adjacent),
	// and two are one nanosecond apart.
	from, to := at(time.Minute), at(time.Hour)
	var (
		before  = entry("before", "i1", at(time.Minute-time.Nanosecond))
		atFrom  = entry("at-from", "i2", from)
		s1      = entry("s1", "i1", at(10*time.Minute))
		s2      = entry("s2", "i2", at(10*time.Minute))
		s3      = entry("s3", "i1", at(10*time.Minute))
		late    = entry("late", "i3", at(30*time.Minute))
		early   = entry("early", "i2", at(2*time.Minute))
		lastIn  = entry("last-in", "i1", to.Add(-time.Nanosecond))
		atTo    = entry("at-to", "i3", to)
		after   = entry("after", "i1", at(2*time.Hour))
		batches = [][]contactpad.AuditEntry{
			{s1, atTo, late},
			{before, s2},
			{lastIn, early, s3, atFrom, after},
		}
	)
	for _, batch := range batches {
		var fns []func(adapter.Tx) error
		for _, e := range batch {
			fns = append(fns, func(tx adapter.Tx) error { return tx.AppendAudit(&e) })
		}
		update(t, s, fns...)
	}
	inRange := []contactpad.AuditEntry{atFrom, early, s1, s2, s3, late, lastIn}

	// readAll pages through [from, to) limit entries at a time, each page
	// in a View of its own, and checks the cursor contract on the way.
	readAll := func(t *testing.T, from, to time.Time, limit int) []contactpad.AuditEntry {
		t.Helper()
		var (
			all    []contactpad.AuditEntry
			cursor adapter.AuditCursor
		)
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100, "paging does not end")
			var page []contactpad.AuditEntry
			view(t, s, func(tx adapter.Tx) error {
				got, next, err := tx.AuditBetween(from, to, cursor, limit)
				require.NoError(t, err)
				if len(got) == 0 {
					require.Equal(t, cursor, next, "an empty page leaves the cursor where it was")
				} else {
					require.True(t, got[len(got)-1].At.Equal(next.At), "next is at the last entry returned")
				}
				page, cursor = got, next
				return nil
			})
			require.LessOrEqual(t, len(page), limit)
			all = append(all, page...)
			if len(page) < limit {
				return all
			}
		}
	}

	tests := []struct {
		name     string
		from, to time.Time
		limit    int
		want     []contactpad.AuditEntry
	}{
		{name: "one page: by At, the same At in append order", from: from, to: to, limit: 100, want: inRange},
		{name: "pages of 2 split the entries of one instant", from: from, to: to, limit: 2, want: inRange},
		{name: "pages of 1", from: from, to: to, limit: 1, want: inRange},
		{name: "pages that end exactly at the last entry", from: from, to: to, limit: 7, want: inRange},
		{name: "bounds in another zone", from: from.In(cet), to: to.In(cet), limit: 3, want: inRange},
		{name: "a nanosecond later from leaves out the entry at from", from: from.Add(time.Nanosecond), to: to,
			limit: 100, want: inRange[1:]},
		{name: "open below", to: at(5 * time.Minute), limit: 2, want: []contactpad.AuditEntry{before, atFrom, early}},
		{name: "open above", from: to, limit: 2, want: []contactpad.AuditEntry{atTo, after}},
		{name: "empty range", from: at(3 * time.Minute), to: at(4 * time.Minute), limit: 10, want: []contactpad.AuditEntry{}},
		{name: "to before from", from: to, to: from, limit: 10, want: []contactpad.AuditEntry{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalList(t, tt.want, readAll(t, tt.from, tt.to, tt.limit))
		})
	}

	t.Run("no limit returns the whole range", func(t *testing.T) {
		view(t, s, func(tx adapter.Tx) error {
			got, _, err := tx.AuditBetween(from, to, adapter.AuditCursor{}, 0)
			require.NoError(t, err)
			require.Equal(t, inRange, got)
			return nil
		})
	})

	t.Run("a cursor from another range starts no earlier than from", func(t *testing.T) {
		view(t, s, func(tx adapter.Tx) error {
			_, cursor, err := tx.AuditBetween(time.Time{}, time.Time{}, adapter.AuditCursor{}, 1)
			require.NoError(t, err)
			got, _, err := tx.AuditBetween(from, to, cursor, 100)
			require.NoError(t, err)
			require.Equal(t, inRange, got)
			return nil
		})
	})

	t.Run("entries appended after a page at a later At are read on", func(t *testing.T) {
		var cursor adapter.AuditCursor
		view(t, s, func(tx adapter.Tx) error {
			got, next, err := tx.AuditBetween(from, to, adapter.AuditCursor{}, 4)
			require.NoError(t, err)
			require.Equal(t, inRange[:4], got)
			cursor = next
			return nil
		})
		// Same instant as s1..s3, appended after them: it sorts after s3.
		s4 := entry("s4", "i3", at(10*time.Minute))
		update(t, s, func(tx adapter.Tx) error { return tx.AppendAudit(&s4) })
		view(t, s, func(tx adapter.Tx) error {
			got, _, err := tx.AuditBetween(from, to, cursor, 100)
			require.NoError(t, err)
			require.Equal(t, []contactpad.AuditEntry{s3, s4, late, lastIn}, got)
			return nil
		})
	})
}
