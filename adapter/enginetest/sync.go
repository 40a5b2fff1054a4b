package enginetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// pagedSource serves items in pages of size; its watermark is the index of
// the next item. It records the watermarks it was asked from.
type pagedSource struct {
	mu    sync.Mutex
	items []contactpad.WorkItem
	size  int
	asked []string
}

func (s *pagedSource) Name() string { return "test:Case" }

func (s *pagedSource) Changes(_ context.Context, since string, _ []string) ([]contactpad.WorkItem, string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, since)
	from := 0
	if since != "" {
		from, _ = strconv.Atoi(since)
	}
	to := min(from+s.size, len(s.items))
	return s.items[from:to], strconv.Itoa(to), to < len(s.items), nil
}

// recordingSink writes rows to memory; fail decides a row's error.
type recordingSink struct {
	mu      sync.Mutex
	written map[string][]int64 // CRM id -> row IDs written, in order
	calls   int
	fail    func(r adapter.OutboxRow, attempt int) error
	tries   map[int64]int
}

// rows returns the row IDs written to a record, in order.
func (s *recordingSink) rows(crmID string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.written[crmID]...)
}

// retried returns the IDs of rows the sink saw more than once.
func (s *recordingSink) retried() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for id, n := range s.tries {
		if n > 1 {
			out = append(out, id)
		}
	}
	return out
}

func (s *recordingSink) Write(_ context.Context, rows []adapter.OutboxRow) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	errs := make([]error, len(rows))
	for k, r := range rows {
		s.tries[r.ID]++
		if s.fail != nil {
			if errs[k] = s.fail(r, s.tries[r.ID]); errs[k] != nil {
				continue
			}
		}
		s.written[r.CRMID] = append(s.written[r.CRMID], r.ID)
	}
	return errs
}

// testPoll: every page of a source is ingested and its watermark stored; a
// restarted engine goes on from the watermark.
func testPoll(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		src := &pagedSource{size: 2}
		for n := range 5 {
			src.items = append(src.items, contactpad.WorkItem{CRMID: fmt.Sprintf("500P%d", n), CRMObject: "Case",
				Media: contactpad.NonLive, Service: "support", Subject: fmt.Sprint("Case ", n)})
		}
		require.NoError(t, h.Engine.PollOnce(context.Background(), src))
		require.Len(t, h.Interactions(adapter.InteractionFilter{}), 5)
		require.Equal(t, []string{"", "2", "4"}, src.asked, "page by page")

		src.items = append(src.items, contactpad.WorkItem{CRMID: "500P5", CRMObject: "Case", Media: contactpad.NonLive, Service: "support"})
		h.Crash()
		h.Restart(Settings()) // bubble stops it
		src.asked = nil
		require.NoError(t, h.Engine.PollOnce(context.Background(), src))
		require.Equal(t, []string{"5"}, src.asked, "a restart resumes from the stored watermark")
		require.Len(t, h.Interactions(adapter.InteractionFilter{}), 6)
	})
}

// testWriteback: every outbox row reaches the sink once, in order per
// record; transient failures retry with backoff, refusals park the row and
// hold the record's later rows until an admin re-drives it.
func testWriteback(t *testing.T, open Opener) {
	synctest.Test(t, func(t *testing.T) {
		h := Start(t, open, nil)
		defer h.Stop()
		const maxAge = time.Second / 2                     // a retry due after a second is older
		locked := h.Connected("alice", contactpad.NonLive) // fails twice, then works
		deleted := h.Connected("alice", contactpad.NonLive)
		fine := h.Connected("alice", contactpad.NonLive)
		for _, i := range []*contactpad.Interaction{locked, deleted, fine} {
			h.Do(adapter.Release{ID: i.ID, Agent: "alice"})
		}
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{},
			fail: func(r adapter.OutboxRow, attempt int) error {
				switch {
				case r.CRMID == locked.CRMID && attempt <= 2:
					return codedError{code: "UNABLE_TO_LOCK_ROW", msg: "unable to obtain exclusive access to this record"}
				case r.CRMID == deleted.CRMID && attempt == 1:
					return &adapter.ParkError{Code: "ENTITY_IS_DELETED", Message: "entity is deleted"}
				}
				return nil
			}}
		rowsOf := map[string][]int64{}
		for _, r := range h.Outbox() {
			rowsOf[r.CRMID] = append(rowsOf[r.CRMID], r.ID)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.Engine.RunWriteback(ctx, sink, adapter.SyncOptions{RetryBase: time.Second, BatchMaxAge: maxAge})
		}()
		synctest.Wait()
		require.Equal(t, rowsOf[fine.CRMID], sink.rows(fine.CRMID), "the healthy record is written at once (a backlog)")
		require.Empty(t, sink.rows(locked.CRMID), "the locked record waits for its retry")
		var waiting []adapter.OutboxRow
		for _, r := range h.outbox(adapter.OutboxPending) {
			if r.CRMID == locked.CRMID {
				waiting = append(waiting, r)
			}
		}
		require.Len(t, waiting, len(rowsOf[locked.CRMID]))
		require.Greater(t, len(waiting), 1)
		require.Equal(t, "UNABLE_TO_LOCK_ROW", waiting[0].ErrorCode, "the CRM's code, shown while the row waits")
		for _, r := range waiting[1:] {
			require.True(t, r.NextAttemptAt.Equal(waiting[0].NextAttemptAt),
				"a later row is due with its record's retry, %v, not %v", waiting[0].NextAttemptAt, r.NextAttemptAt)
		}

		time.Sleep(time.Second + slack) // first retry: fails again, backs off 2s
		synctest.Wait()
		require.Empty(t, sink.rows(locked.CRMID))
		time.Sleep(2*time.Second + slack)
		synctest.Wait()
		require.Equal(t, rowsOf[locked.CRMID], sink.rows(locked.CRMID), "then all its rows, in order")

		parked := h.outbox(adapter.OutboxParked)
		require.Len(t, parked, 1)
		require.Equal(t, deleted.CRMID, parked[0].CRMID)
		require.Equal(t, "ENTITY_IS_DELETED", parked[0].ErrorCode)
		require.Empty(t, sink.rows(deleted.CRMID), "later rows of a parked record wait too")

		h.Do(adapter.FinishWrapUp{ID: fine.ID}) // a new change wakes the writer
		synctest.Wait()
		require.Len(t, sink.rows(fine.CRMID), len(rowsOf[fine.CRMID]), "it waits BatchMaxAge for others")
		time.Sleep(maxAge)
		synctest.Wait()
		require.Len(t, sink.rows(fine.CRMID), len(rowsOf[fine.CRMID])+1)

		require.NoError(t, adapter.UpdateOne(context.Background(), h.Store, func(tx adapter.Tx) error {
			return tx.RetryParked(parked[0].ID)
		}))
		h.Engine.WakeWriteback() // as the admin endpoint does: no wait for the writer's idle poll
		synctest.Wait()
		require.Equal(t, rowsOf[deleted.CRMID], sink.rows(deleted.CRMID), "re-driven at once (they are old), in order")
		require.Empty(t, h.outbox(adapter.OutboxPending))
		require.Empty(t, h.outbox(adapter.OutboxInFlight))
		require.Empty(t, h.outbox(adapter.OutboxParked))
		retried := append(append([]int64{}, rowsOf[locked.CRMID]...), rowsOf[deleted.CRMID]...)
		for _, id := range sink.retried() {
			require.Contains(t, retried, id, "only rows of failing records are tried again")
		}
		cancel()
		<-done
	})
}

// testCustomerReply: the mapping's early reopen rule reopens a deferred
// interaction before its due date; elsewhere it changes nothing.
func testCustomerReply(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		i := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(48 * time.Hour)})
		item := contactpad.WorkItem{CRMID: i.CRMID, CRMObject: i.CRMObject, Media: i.Media, Service: i.Service,
			Subject: i.Subject, CustomerReply: true}
		h.Do(adapter.Ingest{Item: item})
		i = h.Get(i.ID)
		require.Equal(t, contactpad.Connected, i.Status, "back in alice's Ongoing folder")
		require.Equal(t, contactpad.ReopenCustomerReply, i.ReopenReason)
		require.False(t, i.AutoOpenedDueToDueDate, "not the due date")
		require.Equal(t, "customer_reply", h.LastAudit(i.ID).Data["reopen_reason"])
		require.Empty(t, dueTimers(h), "the due date no longer applies")

		h.Do(adapter.Ingest{Item: item})
		require.Equal(t, i.Version, h.Get(i.ID).Version, "a reply to an open interaction changes nothing")
	})
}

func dueTimers(h *Harness) []adapter.Timer {
	var out []adapter.Timer
	for _, t := range h.Timers(time.Now().Add(365 * 24 * time.Hour)) {
		if t.Kind == adapter.TimerDueDate {
			out = append(out, t)
		}
	}
	return out
}

// writeCalls returns how many times Write was called.
func (s *recordingSink) writeCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// roomy lets alice hold a hundred non-live interactions, so that each
// Connected adds an outbox row and nothing else waits.
func roomy(s *adapter.Settings) { s.Agents[0].Capacity[contactpad.NonLive] = 100 }

// runWriteback runs h's writer into sink until the returned stop is
// called. It returns once the writer has written the backlog and sleeps.
func runWriteback(h *Harness, sink adapter.Sink, opts adapter.SyncOptions) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Engine.RunWriteback(ctx, sink, opts)
	}()
	synctest.Wait()
	return func() { cancel(); <-done }
}

// testWritebackBatchSize: once BatchRows rows are due the writer writes
// them at once, long before the oldest is BatchMaxAge old; full batches go
// back to back, and what is left waits for its age.
func testWritebackBatchSize(t *testing.T, open Opener) {
	bubble(t, open, roomy, func(h *Harness) {
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}
		stop := runWriteback(h, sink, adapter.SyncOptions{BatchRows: 6, BatchMaxAge: time.Minute})
		defer stop()
		start := time.Now()
		for range 5 {
			h.Connected("alice", contactpad.NonLive) // one outbox row each
			synctest.Wait()
		}
		require.Zero(t, sink.writeCalls(), "five rows gather")
		h.Connected("alice", contactpad.NonLive)
		synctest.Wait()
		require.Equal(t, 1, sink.writeCalls(), "the sixth fills a batch: written at once")
		require.Equal(t, start, time.Now(), "with no time passed")
		require.Empty(t, h.outbox(adapter.OutboxPending))

		for range 13 {
			h.Connected("alice", contactpad.NonLive)
		}
		synctest.Wait()
		require.Equal(t, 3, sink.writeCalls(), "13 rows: two full batches at once")
		require.Len(t, h.outbox(adapter.OutboxPending), 1, "the 13th waits")
		time.Sleep(h.Outbox()[0].CreatedAt.Add(time.Minute).Sub(time.Now()) - slack)
		synctest.Wait()
		require.Equal(t, 3, sink.writeCalls())
		time.Sleep(slack)
		synctest.Wait()
		require.Equal(t, 4, sink.writeCalls(), "until it is BatchMaxAge old")
		require.Empty(t, h.outbox(adapter.OutboxPending))
	})
}

// testWritebackBatchAge: a few rows wait until the oldest is BatchMaxAge
// old, not longer and not less, and then go in one write with those that
// came after it.
func testWritebackBatchAge(t *testing.T, open Opener) {
	bubble(t, open, roomy, func(h *Harness) {
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}
		stop := runWriteback(h, sink, adapter.SyncOptions{}) // BatchMaxAge 2s, BatchRows 1,000
		defer stop()
		require.Equal(t, 2*time.Second, adapter.DefaultBatchMaxAge)
		for range 3 {
			h.Connected("alice", contactpad.NonLive)
			time.Sleep(time.Second / 2)
		}
		synctest.Wait()
		require.Zero(t, sink.writeCalls(), "the changes gather")
		first := h.Outbox()[0].CreatedAt
		time.Sleep(first.Add(adapter.DefaultBatchMaxAge).Sub(time.Now()) - slack)
		synctest.Wait()
		require.Zero(t, sink.writeCalls(), "not before the oldest is BatchMaxAge old")
		time.Sleep(slack)
		synctest.Wait()
		require.Equal(t, 1, sink.writeCalls(), "then all three go in one write")
		require.Empty(t, h.outbox(adapter.OutboxPending))

		time.Sleep(time.Hour)
		synctest.Wait()
		require.Equal(t, 1, sink.writeCalls(), "nothing to write: no call")
	})
}

// testWritebackBacklog: what is due when the writer starts goes at once,
// however young, in full batches and the rest.
func testWritebackBacklog(t *testing.T, open Opener) {
	bubble(t, open, roomy, func(h *Harness) {
		for range 14 {
			h.Connected("alice", contactpad.NonLive)
		}
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}
		start := time.Now()
		stop := runWriteback(h, sink, adapter.SyncOptions{BatchRows: 6, BatchMaxAge: time.Minute})
		defer stop()
		require.Equal(t, 3, sink.writeCalls(), "6, 6 and 2 rows")
		require.Equal(t, start, time.Now(), "at once")
		require.Empty(t, h.outbox(adapter.OutboxPending))
	})
}

// fittingSink is a recordingSink whose calls carry perCall rows.
type fittingSink struct {
	*recordingSink
	perCall int
}

func (s fittingSink) FitCall(rows []adapter.OutboxRow, _ []*contactpad.RecordChange) []bool {
	take := make([]bool, len(rows))
	for k := range min(len(rows), s.perCall) {
		take[k] = true
	}
	return take
}

// choosySink is a recordingSink whose first call leaves out the claim's
// second row and would take every other row.
type choosySink struct {
	*recordingSink
	fitted *int
}

func (s choosySink) FitCall(rows []adapter.OutboxRow, _ []*contactpad.RecordChange) []bool {
	take := make([]bool, len(rows))
	for k := range take {
		take[k] = *s.fitted > 0 || k != 1
	}
	*s.fitted++
	return take
}

// brokenFitter is a recordingSink whose first broken calls to FitCall
// answer for no row, which the writer takes for a broken sink.
type brokenFitter struct {
	*recordingSink
	broken *int
}

func (s brokenFitter) FitCall(rows []adapter.OutboxRow, _ []*contactpad.RecordChange) []bool {
	if *s.broken > 0 {
		*s.broken--
		return nil
	}
	take := make([]bool, len(rows))
	for k := range take {
		take[k] = true
	}
	return take
}

// testWritebackGivesBackWhatItCannotSend: when the call for the claimed
// rows cannot be made ready (here the sink fails to fit it), the claim
// ends as if it had never been: nothing is written, every row is due
// again at once (not when its claim's lease would end), and the next
// writeback writes them all, each record in order and each row once.
func testWritebackGivesBackWhatItCannotSend(t *testing.T, open Opener) {
	bubble(t, open, roomy, func(h *Harness) {
		a := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: a.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.Connected("alice", contactpad.NonLive)
		backlog := h.Outbox()
		require.Greater(t, len(backlog), 2)
		broken := 1
		sink := brokenFitter{&recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}, &broken}
		n, err := h.Engine.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.ErrorContains(t, err, fmt.Sprintf("sink fitted 0 of %d rows", len(backlog)))
		require.Zero(t, n)
		require.Zero(t, sink.writeCalls())
		require.Equal(t, withoutHolder(backlog), withoutHolder(h.Outbox()),
			"every row pending again, as it was (but for the name of its last claim's holder)")

		n, err = h.Engine.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Equal(t, len(backlog), n, "at once, not after the lease")
		require.Empty(t, h.outbox(adapter.OutboxPending))
		for _, r := range backlog {
			require.Contains(t, sink.rows(r.CRMID), r.ID)
		}
		require.Equal(t, rowIDs(backlog, a.CRMID), sink.rows(a.CRMID), "in order")
		require.Empty(t, sink.retried(), "each row once")
	})
}

// withoutHolder returns rows without the name of their last claim's holder.
func withoutHolder(rows []adapter.OutboxRow) []adapter.OutboxRow {
	rows = slices.Clone(rows)
	for k := range rows {
		rows[k].Holder = ""
	}
	return rows
}

// rowIDs returns the IDs of the rows of record crmID, in their order.
func rowIDs(rows []adapter.OutboxRow, crmID string) []int64 {
	var ids []int64
	for _, r := range rows {
		if r.CRMID == crmID {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// testWritebackKeepsRecordOrder: when a CallFitter leaves a row out of a
// call, the later rows of its record stay out too, so that every record's
// changes reach the CRM in order, each once.
func testWritebackKeepsRecordOrder(t *testing.T, open Opener) {
	bubble(t, open, roomy, func(h *Harness) {
		a := h.Connected("alice", contactpad.NonLive)
		b := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: a.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.Do(adapter.Defer{ID: b.ID, Agent: "alice", DueBy: in(time.Hour)})
		backlog := h.Outbox()
		require.Greater(t, len(backlog), 2)
		left := backlog[1]
		fitted := 0
		sink := choosySink{&recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}, &fitted}
		stop := runWriteback(h, sink, adapter.SyncOptions{BatchRows: 100, BatchMaxAge: time.Minute})
		defer stop()
		require.Equal(t, 2, sink.writeCalls(), "the row left out, and its record's later rows, in a second call")
		require.Empty(t, h.outbox(adapter.OutboxPending))
		want := rowIDs(backlog, left.CRMID)
		require.Greater(t, len(want), 1, "the record left out has a later row")
		require.Equal(t, want, sink.rows(left.CRMID), "in order")
		for _, id := range sink.retried() {
			t.Errorf("row %d written twice", id)
		}
	})
}

// testWritebackOneCallAtATime: a sink that writes in calls of bounded size
// (a CallFitter) gets one call's worth at a time, and what does not fit
// waits for the next call: full calls back to back for a backlog; then a
// call as soon as as many rows are due as the last full call carried, the
// rest for its age.
func testWritebackOneCallAtATime(t *testing.T, open Opener) {
	bubble(t, open, roomy, func(h *Harness) {
		for range 10 {
			h.Connected("alice", contactpad.NonLive)
		}
		sink := fittingSink{&recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}, 4}
		stop := runWriteback(h, sink, adapter.SyncOptions{BatchRows: 6, BatchMaxAge: time.Minute})
		defer stop()
		require.Equal(t, 3, sink.writeCalls(), "a backlog of 10: 4, 4 and 2 at once")
		require.Empty(t, h.outbox(adapter.OutboxPending))

		for range 3 {
			h.Connected("alice", contactpad.NonLive)
			synctest.Wait()
		}
		require.Equal(t, 3, sink.writeCalls())
		h.Connected("alice", contactpad.NonLive)
		synctest.Wait()
		require.Equal(t, 4, sink.writeCalls(), "four rows fill a call: written at once, not at BatchRows (6)")
		for range 2 {
			h.Connected("alice", contactpad.NonLive)
		}
		synctest.Wait()
		require.Equal(t, 4, sink.writeCalls())
		require.Len(t, h.outbox(adapter.OutboxPending), 2, "the rest waits")
		require.Empty(t, h.outbox(adapter.OutboxInFlight))
		time.Sleep(h.Outbox()[0].CreatedAt.Add(time.Minute).Sub(time.Now()))
		synctest.Wait()
		require.Equal(t, 5, sink.writeCalls(), "until it is BatchMaxAge old")
		require.Empty(t, h.outbox(adapter.OutboxPending))
		for _, id := range sink.retried() {
			t.Errorf("row %d written twice", id)
		}
	})
}

// testPollLease: of two replicas sharing the store, one polls a source at
// a time (CRM API calls are metered). A replica that stops hands the
// source over at once; one that dies holding it, once its lease expires.
// Either way the next one goes on from the stored watermark.
func testPollLease(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		other := adapter.New(h.Store, Settings(), adapter.WithLogger(quietLog()))
		otherCtx, stopOther := context.WithCancel(context.Background())
		otherDone := make(chan error, 1)
		go func() { otherDone <- other.Run(otherCtx) }()
		<-other.Ready()
		defer func() { stopOther(); require.NoError(t, <-otherDone) }()

		var items []contactpad.WorkItem
		for n := range 3 {
			items = append(items, contactpad.WorkItem{CRMID: fmt.Sprintf("500L%d", n), CRMObject: "Case",
				Media: contactpad.NonLive, Service: "support", Subject: fmt.Sprint("Case ", n)})
		}
		opts := adapter.SyncOptions{PollInterval: time.Second}
		poll := func(e *adapter.Engine) (*pagedSource, func()) {
			src := &pagedSource{size: 10, items: items}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); e.RunPoll(ctx, []adapter.Source{src}, opts) }()
			return src, func() { cancel(); <-done }
		}
		asked := func(src *pagedSource) int {
			src.mu.Lock()
			defer src.mu.Unlock()
			return len(src.asked)
		}

		a, stopA := poll(h.Engine)
		synctest.Wait()
		b, stopB := poll(other)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.GreaterOrEqual(t, asked(a), 10, "the first replica polls each second")
		require.Zero(t, asked(b), "the second stands by")
		require.Len(t, h.Interactions(adapter.InteractionFilter{}), 3)

		stopA() // hands the lease back
		time.Sleep(time.Second)
		synctest.Wait()
		require.Positive(t, asked(b), "the second took over at its next tick")
		b.mu.Lock()
		require.Equal(t, "3", b.asked[0], "from the stored watermark")
		b.mu.Unlock()

		// The second dies holding the lease: nobody polls until it expires.
		stopB()
		require.NoError(t, adapter.UpdateOne(context.Background(), h.Store, func(tx adapter.Tx) error {
			return tx.SetWatermark("poll-lease:test:Case", time.Now().Add(30*time.Second).UTC().Format(time.RFC3339Nano)+" dead/1/x")
		}))
		a, stopA = poll(h.Engine)
		time.Sleep(29 * time.Second)
		synctest.Wait()
		require.Zero(t, asked(a), "the dead replica's lease still runs")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Positive(t, asked(a), "taken over once it expired")
		stopA()

		// A replica restarted under its old name (WithHolder) takes its
		// lease back at once.
		require.NoError(t, adapter.UpdateOne(context.Background(), h.Store, func(tx adapter.Tx) error {
			return tx.SetWatermark("poll-lease:test:Case", time.Now().Add(30*time.Second).UTC().Format(time.RFC3339Nano)+" host/10.0.0.7:8080")
		}))
		h.StopEngine()
		h.Engine = adapter.New(h.Store, Settings(), adapter.WithLogger(quietLog()), adapter.WithHolder("host/10.0.0.7:8080"))
		restartCtx, stopRestarted := context.WithCancel(context.Background())
		restarted := make(chan error, 1)
		go func() { restarted <- h.Engine.Run(restartCtx) }()
		<-h.Engine.Ready()
		a, stopA = poll(h.Engine)
		synctest.Wait()
		require.Positive(t, asked(a), "the same name polls at once")
		stopA()
		stopRestarted()
		require.NoError(t, <-restarted)
		h.run(Settings()) // for the bubble's Stop
	})
}

// inFlight makes alice work and defer an interaction, and claims its
// outbox rows for holder, a writer that dies with them in flight.
func (h *Harness) inFlight(holder string) (*contactpad.Interaction, []adapter.OutboxRow) {
	h.T.Helper()
	i := h.worked("alice", contactpad.NonLive)
	h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: in(time.Hour)})
	var claimed []adapter.OutboxRow
	require.NoError(h.T, adapter.UpdateOne(context.Background(), h.Store, func(tx adapter.Tx) error {
		var err error
		claimed, err = tx.ClaimOutbox(adapter.ClaimQuery{Now: time.Now(), LeaseUntil: time.Now().Add(2 * time.Minute),
			Limit: 100, Holder: holder})
		return err
	}))
	require.NotEmpty(h.T, claimed, "the dead writer's rows, in flight")
	return i, claimed
}

// testWritebackAfterRestart: rows a writer had in flight when it died are
// taken back by the writer restarted under its name once a request it sent
// before dying is done (ReclaimAfter, a minute), not after the lease (two);
// another writer leaves them alone until the lease expires.
func testWritebackAfterRestart(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		i, claimed := h.inFlight("host/10.0.0.7:8080")

		other := adapter.New(h.Store, Settings(), adapter.WithLogger(quietLog()), adapter.WithHolder("host/10.0.0.8:8080"))
		sink := &fieldSink{sent: map[string][]map[string]any{}}
		n, err := other.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Zero(t, n, "another writer waits for the lease")

		same := adapter.New(h.Store, Settings(), adapter.WithLogger(quietLog()), adapter.WithHolder("host/10.0.0.7:8080"))
		n, err = same.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Zero(t, n, "not at once: a request the dead writer sent may still land")
		time.Sleep(adapter.DefaultReclaimAfter)
		n, err = other.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Zero(t, n, "another writer still waits for the lease")
		n, err = same.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Equal(t, len(claimed), n, "its restarted self takes them back after ReclaimAfter")
		require.Equal(t, "deferred", sink.sent[i.CRMID][0]["status"], "the deferral is written")
		require.Empty(t, h.Outbox())
	})
}

// testWritebackAfterSlowRestart: a writer restarted under its name more
// than ReclaimAfter after it died still runs ReclaimAfter itself before it
// takes its rows in flight back, so that its first polls read what the
// dead writer's last call wrote before it sends the same values again.
func testWritebackAfterSlowRestart(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		_, claimed := h.inFlight("host/10.0.0.7:8080")
		time.Sleep(adapter.DefaultReclaimAfter + time.Second) // the restart took that long

		same := adapter.New(h.Store, Settings(), adapter.WithLogger(quietLog()), adapter.WithHolder("host/10.0.0.7:8080"))
		sink := &fieldSink{sent: map[string][]map[string]any{}}
		n, err := same.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Zero(t, n, "not before it has run ReclaimAfter itself")
		time.Sleep(adapter.DefaultReclaimAfter)
		n, err = same.WritebackOnce(context.Background(), sink, adapter.SyncOptions{})
		require.NoError(t, err)
		require.Equal(t, len(claimed), n, "then it takes them back")
		require.Empty(t, h.Outbox())
	})
}

// flakySource is a pagedSource whose polls fail while err is set.
type flakySource struct {
	pagedSource
	err atomic.Pointer[error]
}

func (s *flakySource) Changes(ctx context.Context, since string, retry []string) ([]contactpad.WorkItem, string, bool, error) {
	if err := s.err.Load(); err != nil {
		return nil, "", false, *err
	}
	return s.pagedSource.Changes(ctx, since, retry)
}

// testPollStatus: every replica reads from the store how the polling of a
// source goes: who holds its lease, when a poll last succeeded, and why
// the polls since failed; a success clears the failure.
func testPollStatus(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		poller := adapter.New(h.Store, Settings(), adapter.WithLogger(quietLog()), adapter.WithHolder("host/10.0.0.7:8080"))
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		src := &flakySource{pagedSource: pagedSource{size: 10}}
		status := func() adapter.PollStatus {
			// Read through the harness's engine: a replica that does not poll.
			st, err := h.Engine.PollStatus(context.Background(), []string{src.Name()})
			require.NoError(t, err)
			require.Len(t, st, 1)
			return st[0]
		}
		require.Equal(t, adapter.PollStatus{Source: "test:Case"}, status(), "never polled")

		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			poller.RunPoll(ctx, []adapter.Source{src}, adapter.SyncOptions{PollInterval: time.Second})
		}()
		synctest.Wait()
		st := status()
		require.Equal(t, "host/10.0.0.7:8080", st.Holder)
		require.NotNil(t, st.LeaseUntil)
		require.NotNil(t, st.LastSuccess)
		require.WithinDuration(t, start, *st.LastSuccess, time.Millisecond)
		require.Empty(t, st.LastError)

		down := errors.New("salesforce: SERVER_UNAVAILABLE: down for maintenance")
		src.err.Store(&down)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		st = status()
		require.Equal(t, down.Error(), st.LastError)
		require.WithinDuration(t, start, *st.LastSuccess, time.Millisecond, "the last success stays")
		require.InDelta(t, 3, st.Lag(time.Now()).Seconds(), 0.01)

		src.err.Store(nil)
		time.Sleep(time.Second)
		synctest.Wait()
		st = status()
		require.Empty(t, st.LastError, "a success clears the failure")
		require.WithinDuration(t, time.Now(), *st.LastSuccess, time.Millisecond)
		stop()
		<-done
	})
}

// claimWatch is a Store that counts the claims of outbox rows (every
// Tx.ClaimOutbox in an Update) and, while inflate is set, makes each
// View's Tx.OutboxDue find a full batch due: what a writer counts just
// before another replica claims the batch.
type claimWatch struct {
	adapter.Store
	claims  *atomic.Int32
	inflate *atomic.Bool
}

func (s claimWatch) Update(ctx context.Context, fns []func(adapter.Tx) error) ([]error, error) {
	counted := make([]func(adapter.Tx) error, len(fns))
	for k, fn := range fns {
		counted[k] = func(tx adapter.Tx) error { return fn(claimCounter{tx, s.claims}) }
	}
	return s.Store.Update(ctx, counted)
}

func (s claimWatch) View(ctx context.Context, fn func(adapter.Tx) error) error {
	return s.Store.View(ctx, func(tx adapter.Tx) error { return fn(inflatedDue{tx, s.inflate}) })
}

type claimCounter struct {
	adapter.Tx
	claims *atomic.Int32
}

func (tx claimCounter) ClaimOutbox(q adapter.ClaimQuery) ([]adapter.OutboxRow, error) {
	tx.claims.Add(1)
	return tx.Tx.ClaimOutbox(q)
}

type inflatedDue struct {
	adapter.Tx
	inflate *atomic.Bool
}

func (tx inflatedDue) OutboxDue(q adapter.ClaimQuery) (adapter.OutboxDue, error) {
	due, err := tx.Tx.OutboxDue(q)
	if tx.inflate.Load() {
		due.Rows = max(due.Rows, q.Limit)
	}
	return due, err
}

// testWritebackClaimsWhenReady: the writer counts what is due on a reader
// and takes the store's writer to claim only once a batch is worth a call.
// A claim that finds fewer rows than were counted (another replica took
// them meanwhile) leaves them as they were and waits for their age,
// without counting and claiming again in a loop.
func testWritebackClaimsWhenReady(t *testing.T, open Opener) {
	var (
		claims  atomic.Int32
		inflate atomic.Bool
	)
	watched := func(t testing.TB) func() adapter.Store {
		reopen := open(t)
		return func() adapter.Store { return claimWatch{Store: reopen(), claims: &claims, inflate: &inflate} }
	}
	bubble(t, watched, roomy, func(h *Harness) {
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}
		stop := runWriteback(h, sink, adapter.SyncOptions{BatchRows: 6, BatchMaxAge: time.Minute})
		defer stop()
		backlog := claims.Load() // the backlog's claim, of nothing
		for range 4 {
			h.Connected("alice", contactpad.NonLive) // one outbox row each, waking the writer
			synctest.Wait()
		}
		require.Equal(t, backlog, claims.Load(), "four young rows: counted, not claimed")
		require.Zero(t, sink.writeCalls())

		inflate.Store(true)
		h.Engine.WakeWriteback() // count again: no commit wakes a writer that knows four rows are no batch of six
		synctest.Wait()
		require.Equal(t, backlog+1, claims.Load(), "counted as a full batch: claimed once")
		require.Zero(t, sink.writeCalls(), "four young rows are not worth a call")
		require.Len(t, h.outbox(adapter.OutboxPending), 4, "the claim was rolled back")
		require.Empty(t, h.outbox(adapter.OutboxInFlight))

		time.Sleep(h.Outbox()[0].CreatedAt.Add(time.Minute).Sub(time.Now()))
		synctest.Wait()
		require.Equal(t, 1, sink.writeCalls(), "once the oldest is BatchMaxAge old: one call")
		require.Empty(t, h.outbox(adapter.OutboxPending))
		require.Empty(t, h.outbox(adapter.OutboxInFlight))
	})
}

// dueWatch is a Store whose Views count the writer's counts of what is
// due (Tx.OutboxDue).
type dueWatch struct {
	adapter.Store
	counts *atomic.Int32
}

func (s dueWatch) View(ctx context.Context, fn func(adapter.Tx) error) error {
	return s.Store.View(ctx, func(tx adapter.Tx) error { return fn(dueCounter{tx, s.counts}) })
}

type dueCounter struct {
	adapter.Tx
	counts *atomic.Int32
}

func (tx dueCounter) OutboxDue(q adapter.ClaimQuery) (adapter.OutboxDue, error) {
	tx.counts.Add(1)
	return tx.Tx.OutboxDue(q)
}

// testWritebackCountsPerBatch: the writer counts what is due again only
// when its engine's commits may have made a call's worth due, not after
// every commit: rows that gather one commit at a time below a full batch
// cost one count (the first, for its age), and the commit that fills the batch is written at
// once. WakeWriteback (an admin re-drove a row) counts again whatever
// was appended.
func testWritebackCountsPerBatch(t *testing.T, open Opener) {
	var counts atomic.Int32
	watched := func(t testing.TB) func() adapter.Store {
		reopen := open(t)
		return func() adapter.Store { return dueWatch{Store: reopen(), counts: &counts} }
	}
	bubble(t, watched, roomy, func(h *Harness) {
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}
		stop := runWriteback(h, sink, adapter.SyncOptions{BatchRows: 20, BatchMaxAge: time.Minute})
		defer stop()
		start, idle := time.Now(), counts.Load()
		for range 19 {
			h.Connected("alice", contactpad.NonLive) // one outbox row each, waking the writer
			synctest.Wait()
		}
		require.Zero(t, sink.writeCalls(), "19 rows gather")
		require.Equal(t, idle+1, counts.Load(), "19 commits below a full batch: counted once (for the first row's age), not once a commit")
		h.Connected("alice", contactpad.NonLive)
		synctest.Wait()
		require.Equal(t, 1, sink.writeCalls(), "the 20th fills a batch: written at once")
		require.Equal(t, start, time.Now(), "with no time passed")
		require.Empty(t, h.outbox(adapter.OutboxPending))

		h.Connected("alice", contactpad.NonLive)
		synctest.Wait()
		counted := counts.Load()
		h.Engine.WakeWriteback()
		synctest.Wait()
		require.Equal(t, counted+1, counts.Load(), "WakeWriteback counts again, though nothing was appended")
		require.Equal(t, 1, sink.writeCalls(), "one young row is not worth a call")
		time.Sleep(h.Outbox()[0].CreatedAt.Add(time.Minute).Sub(time.Now()))
		synctest.Wait()
		require.Equal(t, 2, sink.writeCalls(), "it is written once BatchMaxAge old")
	})
}

// testWritebackOutage: while the CRM answers no call (UnavailableError),
// the rows wait for it however long that takes: they spend none of their
// attempts, so none is parked, and they back off at most
// UnavailableRetryMax apart; once the CRM answers again they are written,
// in order. A record's own failures still count.
// testWritebackHungCall: a call the CRM takes but never answers is given
// up before its claim ends. After the claim, another replica may take the
// rows over with the newer ones of the same records and write them; a
// retry of the hung call sent after that would land last and put an older
// value back. Its rows are written at a later call.
func testWritebackHungCall(t *testing.T, open Opener) {
	synctest.Test(t, func(t *testing.T) {
		h := Start(t, open, nil)
		defer h.Stop()
		i := h.Connected("alice", contactpad.NonLive)
		const lease = 2 * time.Minute
		var hung atomic.Bool
		hung.Store(true)
		var gaveUp time.Duration
		start := time.Now()
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{}}
		hanging := sinkFunc(func(ctx context.Context, rows []adapter.OutboxRow) []error {
			if !hung.Load() {
				return sink.Write(ctx, rows)
			}
			<-ctx.Done() // the CRM never answers
			gaveUp = time.Since(start)
			errs := make([]error, len(rows))
			for k := range errs {
				errs[k] = &adapter.UnavailableError{Err: ctx.Err()}
			}
			return errs
		})
		opts := adapter.SyncOptions{Lease: lease}
		_, err := h.Engine.WritebackOnce(context.Background(), hanging, opts)
		require.NoError(t, err)
		require.Equal(t, lease-30*time.Second, gaveUp, "given up 30s before the claim ends")
		require.NotEmpty(t, h.Outbox(), "nothing written")

		hung.Store(false)
		time.Sleep(adapter.UnavailableRetryMax + time.Second)
		for {
			n, err := h.Engine.WritebackOnce(context.Background(), hanging, opts)
			require.NoError(t, err)
			if n == 0 {
				break
			}
		}
		require.Empty(t, h.Outbox())
		require.NotEmpty(t, sink.rows(i.CRMID), "written once the CRM answers")
	})
}

func testWritebackOutage(t *testing.T, open Opener) {
	synctest.Test(t, func(t *testing.T) {
		h := Start(t, open, nil)
		defer h.Stop()
		i := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Release{ID: i.ID, Agent: "alice"}) // and its wrap-up ends during the outage
		var down atomic.Bool
		down.Store(true)
		var (
			mu    sync.Mutex
			calls []time.Time
		)
		sink := &recordingSink{written: map[string][]int64{}, tries: map[int64]int{},
			fail: func(r adapter.OutboxRow, _ int) error {
				if down.Load() {
					return &adapter.UnavailableError{Err: errors.New("POST composite: connection refused")}
				}
				return nil
			}}
		counting := sinkFunc(func(ctx context.Context, rows []adapter.OutboxRow) []error {
			mu.Lock()
			calls = append(calls, time.Now())
			mu.Unlock()
			return sink.Write(ctx, rows)
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.Engine.RunWriteback(ctx, counting, adapter.SyncOptions{RetryBase: time.Second, MaxAttempts: 3})
		}()
		time.Sleep(time.Hour) // an hour's outage: far more calls than MaxAttempts
		synctest.Wait()
		mu.Lock()
		seen := slices.Clone(calls)
		mu.Unlock()
		require.Greater(t, len(seen), 100)
		for k := 1; k < len(seen); k++ {
			require.LessOrEqual(t, seen[k].Sub(seen[k-1]), adapter.UnavailableRetryMax+time.Second, "call %d", k)
		}
		require.Empty(t, h.outbox(adapter.OutboxParked), "an outage parks nothing")
		waiting := h.Outbox()
		var want []int64
		for _, r := range waiting {
			require.Zero(t, r.Attempts, "no attempt spent on an outage")
			want = append(want, r.ID)
		}
		require.Contains(t, waiting[0].ErrorMessage, "connection refused", "the record's first row shows the last error")

		down.Store(false) // the CRM is back
		time.Sleep(adapter.UnavailableRetryMax + time.Second)
		synctest.Wait()
		require.Equal(t, want, sink.rows(i.CRMID), "written once the CRM answers, in order")
		require.Empty(t, h.Outbox())
		cancel()
		<-done
	})
}

// sinkFunc is a Sink of a function.
type sinkFunc func(ctx context.Context, rows []adapter.OutboxRow) []error

func (f sinkFunc) Write(ctx context.Context, rows []adapter.OutboxRow) []error { return f(ctx, rows) }

// codedError is a failed write with the CRM's error code (adapter.CodedError).
type codedError struct{ code, msg string }

func (e codedError) Error() string     { return e.code + ": " + e.msg }
func (e codedError) ErrorCode() string { return e.code }
