package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
)

// appendRows appends one pending outbox row per CRM id, in order, and
// returns their IDs.
func appendRows(t *testing.T, s adapter.Store, crmIDs ...string) []int64 {
	t.Helper()
	return appendRowsAt(t, s, t0, crmIDs...)
}

// appendRowsAt is appendRows with the rows created at created.
func appendRowsAt(t *testing.T, s adapter.Store, created time.Time, crmIDs ...string) []int64 {
	t.Helper()
	ids := make([]int64, len(crmIDs))
	update(t, s, func(tx adapter.Tx) error {
		for k, crmID := range crmIDs {
			r := &adapter.OutboxRow{InteractionID: "i-" + crmID, CRMObject: "Case", CRMID: crmID,
				Kind: adapter.OutboxChange, Payload: json.RawMessage(`{}`), CreatedAt: created}
			if err := tx.AppendOutbox(r); err != nil {
				return err
			}
			ids[k] = r.ID
		}
		return nil
	})
	return ids
}

// claim claims as a writer of its own, as another replica would.
func claim(t *testing.T, s adapter.Store, now time.Time, limit int) []adapter.OutboxRow {
	return claimAs(t, s, fmt.Sprintf("writer-%d", writers.Add(1)), now, limit)
}

// writers numbers the writers of claim.
var writers atomic.Int64

// claimAs claims as holder with a lease of a minute, taking its own rows
// in flight back once they have been out 20 seconds.
func claimAs(t *testing.T, s adapter.Store, holder string, now time.Time, limit int) []adapter.OutboxRow {
	t.Helper()
	var rows []adapter.OutboxRow
	update(t, s, func(tx adapter.Tx) error {
		var err error
		rows, err = tx.ClaimOutbox(adapter.ClaimQuery{Now: now, LeaseUntil: now.Add(time.Minute), Limit: limit, Holder: holder,
			OwnBy: now.Add(time.Minute - 20*time.Second)})
		return err
	})
	return rows
}

func rowIDs(rows []adapter.OutboxRow) []int64 {
	out := []int64{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func finish(t *testing.T, s adapter.Store, rows ...adapter.OutboxRow) {
	t.Helper()
	update(t, s, func(tx adapter.Tx) error { return tx.FinishOutbox(rows) })
}

// testClaimOutbox: claims take pending rows by ID and lease them; a row
// in flight is not claimed again until its lease expires.
func testClaimOutbox(t *testing.T, s adapter.Store) {
	ids := appendRows(t, s, "A", "B", "C")
	first := claim(t, s, at(0), 2)
	require.Equal(t, ids[:2], rowIDs(first))
	for _, r := range first {
		require.Equal(t, adapter.OutboxInFlight, r.State)
		require.True(t, r.LeaseUntil.Equal(at(time.Minute)))
	}
	require.Equal(t, first[0].Holder, first[1].Holder)
	require.NotEmpty(t, first[0].Holder)
	require.Equal(t, ids[2:], rowIDs(claimAs(t, s, "replica-b", at(0), 10)), "rows in flight are not claimed twice")
	require.Empty(t, claimAs(t, s, "replica-c", at(30*time.Second), 10), "not while the leases live")
	require.Equal(t, ids, rowIDs(claimAs(t, s, "replica-c", at(time.Minute), 10)), "expired leases are claimed again")

	// A writer restarted under its name takes its rows back once they
	// have been out long enough (OwnBy), not at once, and the later rows
	// of their records with them.
	more := appendRows(t, s, "A")
	require.Empty(t, claimAs(t, s, "replica-d", at(time.Minute+time.Second), 10), "replica-c's leases live")
	require.Empty(t, claimAs(t, s, "replica-c", at(time.Minute+19*time.Second), 10),
		"its own rows are not taken back while a request it sent may still land; nor the later row of A")
	require.Equal(t, append(ids, more...), rowIDs(claimAs(t, s, "replica-c", at(time.Minute+20*time.Second), 10)))
}

// testOutboxDue: OutboxDue counts the rows a claim would take, at most
// the limit, with the oldest's CreatedAt, and says when the next retry or
// lease comes free; it claims nothing.
func testOutboxDue(t *testing.T, s adapter.Store) {
	due := func(now time.Time, limit int) adapter.OutboxDue {
		t.Helper()
		var d adapter.OutboxDue
		view(t, s, func(tx adapter.Tx) error {
			var err error
			d, err = tx.OutboxDue(adapter.ClaimQuery{Now: now, Limit: limit, Holder: "replica-a", OwnBy: now.Add(-time.Hour)})
			return err
		})
		return d
	}
	require.Equal(t, adapter.OutboxDue{}, due(at(0), 10), "an empty outbox")

	ids := appendRowsAt(t, s, at(time.Second), "A", "B")
	ids = append(ids, appendRowsAt(t, s, at(2*time.Second), "A", "C")...)
	got := due(at(3*time.Second), 10)
	require.Equal(t, 4, got.Rows)
	require.Equal(t, at(time.Second), got.Oldest)
	require.True(t, got.Next.IsZero(), "nothing waits")
	require.Equal(t, 2, due(at(3*time.Second), 2).Rows, "at most the limit")
	require.Equal(t, got, due(at(3*time.Second), 10), "nothing was claimed")

	// Another writer has A's first row in flight and B waiting for a retry.
	claimed := claimAs(t, s, "replica-b", at(3*time.Second), 2)
	require.Equal(t, ids[:2], rowIDs(claimed))
	claimed[1].State, claimed[1].NextAttemptAt = adapter.OutboxPending, at(10*time.Second)
	finish(t, s, claimed[1])
	got = due(at(4*time.Second), 10)
	require.Equal(t, 1, got.Rows, "only C: A's second row waits behind its first")
	require.Equal(t, at(2*time.Second), got.Oldest)
	require.Equal(t, at(10*time.Second), got.Next, "B's retry")

	got = due(at(10*time.Second), 10)
	require.Equal(t, 2, got.Rows, "B's retry is due, and C")
	require.Equal(t, at(time.Second), got.Oldest, "B was created first")
	require.Equal(t, at(3*time.Second+time.Minute), got.Next, "the end of A's lease")

	got = due(at(3*time.Second+time.Minute), 10)
	require.Equal(t, 4, got.Rows, "the lease expired")
	require.True(t, got.Next.IsZero())
}

// testOutboxOrderPerRecord: a later row of a record is not claimed while an
// earlier one is in flight, waiting for a retry, or parked; rows of other
// records go on.
func testOutboxOrderPerRecord(t *testing.T, s adapter.Store) {
	ids := appendRows(t, s, "A", "B", "A", "C", "A")
	got := claim(t, s, at(0), 1)
	require.Equal(t, ids[:1], rowIDs(got))
	others := claim(t, s, at(0), 10)
	require.Equal(t, []int64{ids[1], ids[3]}, rowIDs(others), "A's later rows wait for its first")
	for k := range others {
		others[k].State = adapter.OutboxDone
	}
	finish(t, s, others...)

	retry := got[0]
	retry.State, retry.Attempts, retry.NextAttemptAt, retry.ErrorCode = adapter.OutboxPending, 1, at(time.Minute), "UNABLE_TO_LOCK_ROW"
	finish(t, s, retry)
	require.Empty(t, claim(t, s, at(10*time.Second), 10), "nor while the first waits for its retry")
	again := claim(t, s, at(time.Minute), 10)
	require.Equal(t, []int64{ids[0], ids[2], ids[4]}, rowIDs(again), "then A's rows go, in order")
	require.Equal(t, 1, again[0].Attempts)
	require.Equal(t, "UNABLE_TO_LOCK_ROW", again[0].ErrorCode)

	parked := again[0]
	parked.State, parked.ErrorCode, parked.ErrorMessage = adapter.OutboxParked, "ENTITY_IS_DELETED", "entity is deleted"
	rest := again[1:]
	for k := range rest {
		rest[k].State = adapter.OutboxPending
	}
	finish(t, s, append([]adapter.OutboxRow{parked}, rest...)...)
	require.Empty(t, claim(t, s, at(2*time.Minute), 10), "a parked row holds its record's later rows")
	view(t, s, func(tx adapter.Tx) error {
		p, err := tx.Outbox(adapter.OutboxParked, 10)
		require.NoError(t, err)
		require.Equal(t, []int64{ids[0]}, rowIDs(p))
		require.Equal(t, "ENTITY_IS_DELETED", p[0].ErrorCode)
		return nil
	})

	update(t, s, func(tx adapter.Tx) error { return tx.RetryParked(ids[0]) })
	require.Equal(t, []int64{ids[0], ids[2], ids[4]}, rowIDs(claim(t, s, at(2*time.Minute), 10)), "re-driven by an admin")
	update(t, s, func(tx adapter.Tx) error {
		require.ErrorIs(t, tx.RetryParked(ids[0]), adapter.ErrNotFound, "only parked rows are re-driven")
		return nil
	})
}

// testClaimAcrossStates: a claim takes pending rows that are due and
// in-flight rows whose lease expired as one list in ID order, the limit
// cutting across both states, and skips the rows a record's earlier row
// holds (parked, or waiting for its retry) wherever they stand.
func testClaimAcrossStates(t *testing.T, s adapter.Store) {
	ids := appendRows(t, s, "A", "B", "C", "D", "E", "F", "P", "P", "Q", "Q", "G", "H")
	taken := claimAs(t, s, "replica-a", at(0), 20)
	require.Equal(t, ids, rowIDs(taken))
	// A, C, E and G stay in flight under replica-a's lease (it ends at one
	// minute); the others go back: P's first row parked, Q's first waiting
	// for a retry at three minutes, the rest due at ten seconds.
	var settled []adapter.OutboxRow
	for k, r := range taken {
		switch r.CRMID {
		case "A", "C", "E", "G":
			continue
		case "P":
			r.State, r.NextAttemptAt = adapter.OutboxPending, at(10*time.Second)
			if k == 6 {
				r.State, r.ErrorCode = adapter.OutboxParked, "ENTITY_IS_DELETED"
			}
		case "Q":
			r.State, r.NextAttemptAt = adapter.OutboxPending, at(10*time.Second)
			if k == 8 {
				r.NextAttemptAt = at(3 * time.Minute)
			}
		default:
			r.State, r.NextAttemptAt = adapter.OutboxPending, at(10*time.Second)
		}
		settled = append(settled, r)
	}
	finish(t, s, settled...)

	due := func(limit int) adapter.OutboxDue {
		t.Helper()
		var d adapter.OutboxDue
		view(t, s, func(tx adapter.Tx) error {
			var err error
			d, err = tx.OutboxDue(adapter.ClaimQuery{Now: at(time.Minute), Limit: limit, Holder: "replica-b"})
			return err
		})
		return d
	}
	// Due at one minute: A to F, G and H. Not P's rows (the first parked,
	// the second behind it) nor Q's (the first waits for its retry).
	claimable := []int64{ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[10], ids[11]}
	require.Equal(t, len(claimable), due(20).Rows)
	require.Equal(t, len(claimable), due(0).Rows, "no limit")
	require.Equal(t, 3, due(3).Rows, "at most the limit, across both states")

	first := claimAs(t, s, "replica-b", at(time.Minute), 3)
	require.Equal(t, claimable[:3], rowIDs(first), "A (in flight), B (pending), C (in flight)")
	second := claimAs(t, s, "replica-b", at(time.Minute), 4)
	require.Equal(t, claimable[3:7], rowIDs(second), "D, E, F, then G past P's and Q's rows")
	for _, r := range append(first, second...) {
		require.Equal(t, adapter.OutboxInFlight, r.State)
		require.Equal(t, "replica-b", r.Holder)
		require.True(t, r.LeaseUntil.Equal(at(2*time.Minute)))
	}
	require.Equal(t, claimable[7:], rowIDs(claimAs(t, s, "replica-b", at(time.Minute), 0)), "H, with no limit")
	require.Empty(t, claimAs(t, s, "replica-c", at(time.Minute), 10))
}

// testClaimAcrossRetries: a claim takes pending rows never tried and rows
// due for their retry as one list in ID order, whatever their due times,
// the limit cutting across both; it leaves the rows waiting for their
// retry and every later row of their records, never tried or due; and the
// due count agrees.
func testClaimAcrossRetries(t *testing.T, s adapter.Store) {
	now := at(time.Minute)
	const fresh = time.Duration(-1) // never tried (or put back as it was)
	rows := []struct {
		crmID string
		next  time.Duration // from t0, or fresh
	}{
		{"A", fresh},
		{"B", 50 * time.Second}, // due; the earlier the ID, the later the due time
		{"W", 3 * time.Minute},  // waiting: W's later rows wait behind it
		{"B", fresh},            // behind B's due row, which does not hold it
		{"C", fresh},
		{"D", 40 * time.Second},
		{"W", fresh},
		{"E", 30 * time.Second},
		{"W", 20 * time.Second},
		{"F", fresh},
		{"G", 10 * time.Second},
		{"V", 2 * time.Minute}, // waiting
		{"V", 5 * time.Second},
		{"H", fresh},
		{"K", time.Minute}, // due at now exactly
		{"V", fresh},
		{"J", fresh},
		{"I", 15 * time.Second},
		{"L", time.Minute + time.Nanosecond}, // waiting, just
	}
	crmIDs := make([]string, len(rows))
	for k, r := range rows {
		crmIDs[k] = r.crmID
	}
	ids := appendRows(t, s, crmIDs...)
	taken := claimAs(t, s, "setup", at(0), 0)
	require.Equal(t, ids, rowIDs(taken))
	for k := range taken {
		taken[k].State = adapter.OutboxPending
		if rows[k].next != fresh {
			taken[k].Attempts, taken[k].NextAttemptAt = 1, at(rows[k].next)
		}
	}
	finish(t, s, taken...)

	var claimable []int64
	for k, r := range rows {
		if !slices.Contains([]string{"W", "V", "L"}, r.crmID) {
			claimable = append(claimable, ids[k])
		}
	}
	require.Len(t, claimable, 12, "6 never tried, 6 due for their retry")
	due := func(limit int) adapter.OutboxDue {
		t.Helper()
		var d adapter.OutboxDue
		view(t, s, func(tx adapter.Tx) error {
			var err error
			d, err = tx.OutboxDue(adapter.ClaimQuery{Now: now, Limit: limit, Holder: "writer"})
			return err
		})
		return d
	}
	require.Equal(t, 12, due(0).Rows, "no limit")
	require.Equal(t, 4, due(4).Rows, "at most the limit")
	require.True(t, due(4).Next.Equal(at(time.Minute+time.Nanosecond)), "L's retry is the next to come free, got %v", due(4).Next)

	var got []int64
	for range 3 {
		batch := claimAs(t, s, "writer", now, 4)
		require.Len(t, batch, 4)
		got = append(got, rowIDs(batch)...)
	}
	require.Equal(t, claimable, got, "A B B C, D E F G, H K J I: in ID order across both kinds of pending rows")
	require.Empty(t, claimAs(t, s, "writer", now, 10), "the rows waiting and those behind them stay")
	require.Zero(t, due(0).Rows)
}

// testFinishOutbox: done rows leave the outbox; a row another writer took
// over is left alone.
func testFinishOutbox(t *testing.T, s adapter.Store) {
	appendRows(t, s, "A", "B")
	rows := claim(t, s, at(0), 10)
	stale := rows[1]
	taken := claim(t, s, at(time.Minute), 10) // the lease of both expired: another writer has them
	require.Len(t, taken, 2)
	rows[0].State = adapter.OutboxDone
	finish(t, s, rows[0])
	view(t, s, func(tx adapter.Tx) error {
		for _, state := range []adapter.OutboxState{adapter.OutboxPending, adapter.OutboxDone} {
			got, err := tx.Outbox(state, 10)
			require.NoError(t, err)
			require.Empty(t, got, state)
		}
		inFlight, err := tx.Outbox(adapter.OutboxInFlight, 10)
		require.NoError(t, err)
		require.Equal(t, []int64{stale.ID}, rowIDs(inFlight), "the done row is gone")
		return nil
	})
	stale.State, stale.Attempts = adapter.OutboxPending, 5
	taken[1].State = adapter.OutboxDone
	finish(t, s, taken[1], stale)
	view(t, s, func(tx adapter.Tx) error {
		for _, state := range []adapter.OutboxState{adapter.OutboxPending, adapter.OutboxInFlight} {
			got, err := tx.Outbox(state, 10)
			require.NoError(t, err)
			require.Empty(t, got, "%s: the stale writer's finish did not resurrect a done row", state)
		}
		return nil
	})

	// A settled row keeps the payload it is finished with (the writes the
	// CRM took dropped), or its own when that is nil.
	appendRows(t, s, "C", "D")
	rows = claim(t, s, at(2*time.Minute), 10)
	require.Len(t, rows, 2)
	rows[0].State, rows[0].Payload = adapter.OutboxPending, json.RawMessage(`{"fields":{"Status":"Closed"}}`)
	rows[1].State, rows[1].ErrorCode = adapter.OutboxParked, "NOT_FOUND"
	want := string(rows[1].Payload)
	rows[1].Payload = nil
	finish(t, s, rows...)
	view(t, s, func(tx adapter.Tx) error {
		pending, err := tx.Outbox(adapter.OutboxPending, 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		require.JSONEq(t, `{"fields":{"Status":"Closed"}}`, string(pending[0].Payload))
		parked, err := tx.Outbox(adapter.OutboxParked, 10)
		require.NoError(t, err)
		require.Len(t, parked, 1)
		require.JSONEq(t, want, string(parked[0].Payload))
		return nil
	})

	// A batch of many rows (C again, and E to J): the done ones go,
	// wherever they stand; the one to retry stays.
	appendRows(t, s, "E", "F", "G", "H", "I", "J")
	rows = claim(t, s, at(3*time.Minute), 10)
	require.Len(t, rows, 7)
	for k := range rows {
		rows[k].State = adapter.OutboxDone
	}
	rows[3].State = adapter.OutboxPending
	finish(t, s, rows...)
	view(t, s, func(tx adapter.Tx) error {
		inFlight, err := tx.Outbox(adapter.OutboxInFlight, 10)
		require.NoError(t, err)
		require.Empty(t, inFlight)
		pending, err := tx.Outbox(adapter.OutboxPending, 10)
		require.NoError(t, err)
		require.Equal(t, []int64{rows[3].ID}, rowIDs(pending))
		parked, err := tx.Outbox(adapter.OutboxParked, 10)
		require.NoError(t, err)
		require.Len(t, parked, 1, "D, not in the batch")
		return nil
	})
}

func testWatermarks(t *testing.T, s adapter.Store) {
	view(t, s, func(tx adapter.Tx) error {
		w, err := tx.Watermark("salesforce:Case")
		require.NoError(t, err)
		require.Empty(t, w)
		return nil
	})
	update(t, s, func(tx adapter.Tx) error { return tx.SetWatermark("salesforce:Case", "2026-11-22T10:00:00.000Z|500A") })
	update(t, s, func(tx adapter.Tx) error { return tx.SetWatermark("salesforce:Case", "2026-11-22T11:00:00.000Z|500B") })
	update(t, s, func(tx adapter.Tx) error { return tx.SetWatermark("salesforce:LiveChatTranscript", "x") })
	view(t, s, func(tx adapter.Tx) error {
		w, err := tx.Watermark("salesforce:Case")
		require.NoError(t, err)
		require.Equal(t, "2026-11-22T11:00:00.000Z|500B", w)
		require.Error(t, tx.SetWatermark("salesforce:Case", "y"), "a View cannot write")
		return nil
	})
}

func testIngestFailures(t *testing.T, s adapter.Store) {
	bad := adapter.IngestFailure{Source: "salesforce:Case", CRMObject: "Case", CRMID: "500A",
		Reason: "no media rule matches", Attempts: 1, FirstAt: at(0), LastAt: at(0), NextAttemptAt: at(10 * time.Second)}
	later := adapter.IngestFailure{Source: "salesforce:Case", CRMObject: "Case", CRMID: "500B",
		Reason: "unknown service", Attempts: 1, FirstAt: at(0), LastAt: at(0), NextAttemptAt: at(20 * time.Second)}
	chat := adapter.IngestFailure{Source: "salesforce:LiveChatTranscript", CRMObject: "LiveChatTranscript", CRMID: "570A",
		Reason: "x", Attempts: 3, FirstAt: at(0), LastAt: at(time.Second), NextAttemptAt: at(5 * time.Second)}
	update(t, s, func(tx adapter.Tx) error {
		for _, f := range []adapter.IngestFailure{later, bad, chat} {
			if err := tx.PutIngestFailure(&f); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx adapter.Tx) error {
		fs, err := tx.IngestFailures("salesforce:Case", 10)
		require.NoError(t, err)
		require.Equal(t, []adapter.IngestFailure{bad, later}, fs, "one source's, by next attempt")
		all, err := tx.IngestFailures("", 10)
		require.NoError(t, err)
		require.Equal(t, []adapter.IngestFailure{chat, bad, later}, all, "every source's")
		one, err := tx.IngestFailures("", 1)
		require.NoError(t, err)
		require.Len(t, one, 1)
		counts, err := tx.Counts()
		require.NoError(t, err)
		require.Equal(t, 3, counts.IngestFailures)
		require.Error(t, tx.PutIngestFailure(&bad), "a View cannot write")
		return nil
	})
	again := bad
	again.Attempts, again.Reason, again.LastAt, again.NextAttemptAt = 2, "still no media rule", at(10*time.Second), at(30*time.Second)
	update(t, s, func(tx adapter.Tx) error { return tx.PutIngestFailure(&again) },
		func(tx adapter.Tx) error { return tx.ClearIngestFailure("salesforce:Case", "500B") },
		func(tx adapter.Tx) error { return tx.ClearIngestFailure("salesforce:Case", "500NONE") })
	view(t, s, func(tx adapter.Tx) error {
		fs, err := tx.IngestFailures("salesforce:Case", 10)
		require.NoError(t, err)
		require.Equal(t, []adapter.IngestFailure{again}, fs, "replaced, and the cleared one gone")
		return nil
	})
}
