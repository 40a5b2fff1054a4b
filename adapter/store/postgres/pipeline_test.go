package postgres

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func TestWithKey(t *testing.T) {
	require.Equal(t,
		"INSERT INTO events (seq, type, at) VALUES ($3, $1, $2)",
		withKey("INSERT INTO events (type, at) VALUES ($1, $2) RETURNING seq", "seq"))
	require.Equal(t, "INSERT INTO events (seq, type, at, interaction_id, audience, payload)\n\t\t\tVALUES ($6, $1, $2, $3, $4, $5)",
		sqlOf("e", "o")[stmtAppendEventKeyed])
}

// TestQueuedWriteFails: a queued write that fails when it is sent fails
// its fn, whether the fn is still running (its next read gets the error)
// or done (Update returns the error at its index), and only that fn:
// what the later fns queued meanwhile is committed.
func TestQueuedWriteFails(t *testing.T) {
	errRefused := errors.New("refused")
	s := openTest(t)
	at := time.Date(2025, time.March, 1, 9, 30, 0, 0, time.UTC)
	record := func(id, crmID string) *contactpad.Interaction {
		return &contactpad.Interaction{ID: id, CRMObject: "Case", CRMID: crmID, Media: contactpad.NonLive,
			Status: contactpad.Queued, Tags: []string{}, CreatedAt: at}
	}
	// Everything a command writes; a duplicate CRM record fails the first
	// write, which the store sends only later.
	command := func(tx adapter.Tx, i *contactpad.Interaction) error {
		if err := tx.PutInteraction(i); err != nil {
			return err
		}
		if err := tx.AppendAudit(&contactpad.AuditEntry{ID: "a-" + i.ID, InteractionID: i.ID, At: at}); err != nil {
			return err
		}
		if err := tx.AppendEvent(&adapter.Event{Type: adapter.EventInteractionCreated, At: at, Interaction: i}); err != nil {
			return err
		}
		if err := tx.AppendOutbox(&adapter.OutboxRow{InteractionID: i.ID, CRMObject: i.CRMObject, CRMID: i.CRMID,
			Kind: adapter.OutboxChange, Payload: json.RawMessage(`{}`), CreatedAt: at}); err != nil {
			return err
		}
		return tx.SetTimer(adapter.Timer{Kind: adapter.TimerInactivity, Ref: i.ID, DueAt: at})
	}
	require.NoError(t, adapter.UpdateOne(t.Context(), s, func(tx adapter.Tx) error {
		return tx.PutInteraction(record("taken", "500A"))
	}))

	var readErr error
	var sawDup bool
	errs, err := s.Update(t.Context(), []func(adapter.Tx) error{
		func(tx adapter.Tx) error { return command(tx, record("i0", "5000")) },
		// Done before its write is sent.
		func(tx adapter.Tx) error { return command(tx, record("dup1", "500A")) },
		func(tx adapter.Tx) error { return command(tx, record("i2", "5002")) },
		// Its read sends the queue: it sees i0 and i2, not dup1.
		func(tx adapter.Tx) error {
			if err := command(tx, record("i3", "5003")); err != nil {
				return err
			}
			for _, id := range []string{"i0", "i2", "i3"} {
				if _, err := tx.Interaction(id); err != nil {
					return err
				}
			}
			_, err := tx.Interaction("dup1")
			sawDup = err == nil
			return nil
		},
		// Still running when its write fails: its read gets the error.
		func(tx adapter.Tx) error {
			if err := command(tx, record("dup4", "500A")); err != nil {
				return err
			}
			_, readErr = tx.Interaction("i0")
			return nil // swallowed: the fn fails all the same
		},
		func(tx adapter.Tx) error { return command(tx, record("i5", "5005")) },
		// Fails at the commit.
		func(tx adapter.Tx) error { return command(tx, record("dup6", "500A")) },
		// Reads, so its writes were sent: they are rolled back.
		func(tx adapter.Tx) error {
			if err := command(tx, record("bad7", "5007")); err != nil {
				return err
			}
			if _, err := tx.Interaction("i0"); err != nil {
				return err
			}
			if err := tx.PutInteraction(record("bad7b", "5017")); err != nil {
				return err
			}
			return errRefused
		},
		// Only writes: nothing of it was sent.
		func(tx adapter.Tx) error {
			if err := command(tx, record("bad8", "5008")); err != nil {
				return err
			}
			return errRefused
		},
	})
	require.NoError(t, err)
	require.False(t, sawDup, "a later fn saw the failed fn's write")
	var conflict *adapter.ConflictError
	require.ErrorAs(t, readErr, &conflict)
	for k, err := range errs {
		switch k {
		case 1, 4, 6:
			require.ErrorAs(t, err, &conflict, "fn %d", k)
		case 7, 8:
			require.ErrorIs(t, err, errRefused, "fn %d", k)
		default:
			require.NoError(t, err, "fn %d", k)
		}
	}

	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
		is, err := tx.Interactions(adapter.InteractionFilter{})
		require.NoError(t, err)
		var ids []string
		for _, i := range is {
			ids = append(ids, i.ID)
		}
		require.ElementsMatch(t, []string{"taken", "i0", "i2", "i3", "i5"}, ids)
		events, err := tx.EventsAfter(0, 100)
		require.NoError(t, err)
		require.Len(t, events, 4)
		for n, e := range events {
			if n > 0 {
				require.Greater(t, e.Seq, events[n-1].Seq)
			}
		}
		rows, err := tx.Outbox(adapter.OutboxPending, 100)
		require.NoError(t, err)
		require.Len(t, rows, 4)
		timers, err := tx.DueTimers(at, 100)
		require.NoError(t, err)
		require.Len(t, timers, 4)
		for _, id := range []string{"dup1", "dup4", "dup6", "bad7", "bad8", "i0", "i5"} {
			audit, err := tx.Audit(id)
			require.NoError(t, err)
			want := 1
			if id[0] == 'd' || id[0] == 'b' {
				want = 0
			}
			require.Len(t, audit, want, id)
		}
		return nil
	}))
}

// TestUpdateRunsAgainOnlyWhenNeeded: an Update runs its fns without a
// savepoint each, and runs them again, each in its own, only when one
// must be undone alone: it failed after writing, or the server refused
// one of its writes. Either way the failed fn leaves nothing and the
// others commit.
func TestUpdateRunsAgainOnlyWhenNeeded(t *testing.T) {
	errBoom := errors.New("boom")
	at := time.Date(2025, time.March, 1, 9, 30, 0, 0, time.UTC)
	failedAfterWriting := func(tx adapter.Tx) error {
		if err := tx.SetWatermark("c", "from the failed fn"); err != nil {
			return err
		}
		return errBoom
	}
	for _, tc := range []struct {
		name     string
		failing  func(adapter.Tx) error // nil: none fails
		want     error                  // the failing fn's error
		others   int                    // fns before the failing one
		wantRuns int                    // of each of them
	}{
		{name: "none fails", others: 3, wantRuns: 1},
		{name: "fails before writing", failing: func(tx adapter.Tx) error {
			if _, err := tx.Watermark("a"); err != nil {
				return err
			}
			return errBoom
		}, want: errBoom, others: 2, wantRuns: 1},
		{name: "fails after writing", failing: failedAfterWriting, want: errBoom, others: 2, wantRuns: 2},
		{name: "a write refused", failing: func(tx adapter.Tx) error {
			if err := tx.SetWatermark("c", "from the failed fn"); err != nil {
				return err
			}
			return tx.PutInteraction(&contactpad.Interaction{ID: "dup", CRMObject: "Case", CRMID: "500A",
				Media: contactpad.NonLive, Status: contactpad.Queued, Tags: []string{}, CreatedAt: at})
		}, want: &adapter.ConflictError{}, others: 2, wantRuns: 2},
		{name: "alone, fails after writing", failing: failedAfterWriting, want: errBoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			require.NoError(t, adapter.UpdateOne(t.Context(), s, func(tx adapter.Tx) error {
				return tx.PutInteraction(&contactpad.Interaction{ID: "taken", CRMObject: "Case", CRMID: "500A",
					Media: contactpad.NonLive, Status: contactpad.Queued, Tags: []string{}, CreatedAt: at})
			}))
			runs := map[string]int{}
			want := map[string]string{}
			var fns []func(adapter.Tx) error
			for k := range tc.others {
				id := string(rune('d' + k))
				fns = append(fns, func(tx adapter.Tx) error { runs[id]++; return tx.SetWatermark(id, "v") })
				want[id] = "v"
			}
			failingRuns := 0
			if tc.failing != nil {
				fns = append(fns, func(tx adapter.Tx) error { failingRuns++; return tc.failing(tx) })
			}
			replays := s.replays.Load()

			errs, err := s.Update(t.Context(), fns)
			require.NoError(t, err)
			for k, err := range errs {
				switch {
				case tc.failing == nil || k < len(fns)-1:
					require.NoError(t, err, "fn %d", k)
				case errors.Is(tc.want, errBoom):
					require.ErrorIs(t, err, errBoom)
				default:
					require.ErrorAs(t, err, &tc.want)
				}
			}
			got := map[string]string{}
			require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
				for _, id := range []string{"c", "d", "e", "f"} {
					v, err := tx.Watermark(id)
					if err != nil {
						return err
					}
					if v != "" {
						got[id] = v
					}
				}
				return nil
			}))
			require.Equal(t, want, got, "the failed fn left nothing, the others committed")
			for id, n := range runs {
				require.Equal(t, tc.wantRuns, n, "runs of fn %s", id)
			}
			if tc.others == 0 {
				require.Equal(t, 1, failingRuns, "alone, the failed fn runs once")
			}
			require.Equal(t, int64(max(tc.wantRuns-1, 0)), s.replays.Load()-replays, "Updates run again")
		})
	}
}
