package enginetest

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

func in(d time.Duration) *time.Time {
	t := time.Now().Add(d)
	return &t
}

// testDefer: a deferral needs a future due_by; the interaction leaves
// routing and the Ongoing folder, shows in the Deferred folder, frees the
// agent's capacity, and counts as handling activity (status_action).
func testDefer(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("bob", contactpad.Available)
		var emails []*contactpad.Interaction
		for range 6 {
			emails = append(emails, h.Ingest(contactpad.NonLive, "support"))
		}
		waiting := emails[5]
		require.Equal(t, contactpad.Queued, waiting.Status, "bob is full")

		h.Do(adapter.Defer{ID: emails[0].ID, Agent: "bob", DueBy: in(48 * time.Hour)})
		deferred := h.Get(emails[0].ID)
		require.Equal(t, contactpad.Deferred, deferred.Status)
		require.WithinDuration(t, time.Now().Add(48*time.Hour), *deferred.DueBy, time.Millisecond)
		require.True(t, deferred.DueBySetManually)
		require.False(t, deferred.AutoOpenedDueToDueDate)
		require.Equal(t, "bob", deferred.Owner, "the owner is kept for the reopen")
		require.Equal(t, "bob", h.Get(waiting.ID).Owner, "the freed capacity takes the next in queue")

		ongoing := h.Interactions(adapter.InteractionFilter{Owner: "bob", Statuses: contactpad.FolderOngoing.Statuses()})
		require.Len(t, ongoing, 5)
		require.False(t, slices.ContainsFunc(ongoing, func(i *contactpad.Interaction) bool { return i.ID == deferred.ID }))
		folder := h.Interactions(adapter.InteractionFilter{Owner: "bob", Statuses: contactpad.FolderDeferred.Statuses()})
		require.Len(t, folder, 1)
		require.Equal(t, deferred.ID, folder[0].ID)

		last := h.LastAudit(deferred.ID)
		require.Equal(t, contactpad.AuditDeferred, last.Action)
		require.Equal(t, contactpad.CategoryStatusAction, last.Category, "setting pending is handling activity")
		require.Equal(t, "true", last.Data["due_by_was_set_manually"])

		// A queued interaction may be deferred too: it leaves routing.
		queued := h.Ingest(contactpad.NonLive, "billing")
		h.Do(adapter.Defer{ID: queued.ID, DueBy: in(time.Hour)})
		h.Presence("carol", contactpad.Available)
		require.Equal(t, contactpad.Deferred, h.Get(queued.ID).Status, "deferred work is not routed")
	})
}

// testDeferralRules: with no due_by, the first matching rule computes it,
// and due_by_was_set_manually is false.
func testDeferralRules(t *testing.T, open Opener) {
	rules := func(s *adapter.Settings) {
		s.DeferralRules = []adapter.DeferralRule{
			{Name: "waiting-customer", After: 120 * time.Hour,
				Match: func(i *contactpad.Interaction) bool { return slices.Contains(i.Tags, "waiting-customer") }},
			{Name: "billing", After: 24 * time.Hour,
				Match: func(i *contactpad.Interaction) bool { return i.Service == "billing" }},
		}
	}
	bubble(t, open, rules, func(h *Harness) {
		h.Presence("alice", contactpad.Available)
		tagged := h.IngestItem(contactpad.WorkItem{CRMID: "c1", CRMObject: "Case", Media: contactpad.NonLive,
			Service: "billing", Tags: []string{"waiting-customer"}})
		h.Do(adapter.Defer{ID: tagged.ID, Agent: "alice"})
		tagged = h.Get(tagged.ID)
		require.WithinDuration(t, time.Now().Add(120*time.Hour), *tagged.DueBy, time.Millisecond, "first matching rule wins")
		require.False(t, tagged.DueBySetManually)
		require.Equal(t, "waiting-customer", h.LastAudit(tagged.ID).Data["rule"])

		manual := h.Ingest(contactpad.NonLive, "billing")
		h.Do(adapter.Defer{ID: manual.ID, Agent: "alice", DueBy: in(time.Hour)})
		require.True(t, h.Get(manual.ID).DueBySetManually, "an agent's due_by beats the rules")

		none := h.Ingest(contactpad.NonLive, "support")
		h.Refused(adapter.Defer{ID: none.ID, Agent: "alice"}, adapter.CodeDueByRequired)
	})
}

// testReopenAtDueDate: at due_by a deferred interaction reopens by itself,
// to its owner if logged in with room (owner_then_queue), else to routing,
// with interaction.updated carrying auto_opened_due_to_due_date.
func testReopenAtDueDate(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		toOwner := h.Connected("alice", contactpad.NonLive)
		toQueue := h.Connected("bob", contactpad.NonLive)
		h.Do(adapter.Defer{ID: toOwner.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.Do(adapter.Defer{ID: toQueue.ID, Agent: "bob", DueBy: in(2 * time.Hour)})
		h.Presence("alice", contactpad.Busy) // logged in, not ready: still gets its own work back
		h.Presence("bob", contactpad.LoggedOut)

		time.Sleep(time.Hour - time.Second)
		synctest.Wait()
		require.Equal(t, contactpad.Deferred, h.Get(toOwner.ID).Status, "not before due_by")
		time.Sleep(time.Second + slack)
		synctest.Wait()
		reopened := h.Get(toOwner.ID)
		require.Equal(t, contactpad.Connected, reopened.Status, "back in the owner's Ongoing folder")
		require.Equal(t, "alice", reopened.Owner)
		require.True(t, reopened.AutoOpenedDueToDueDate)
		require.Equal(t, contactpad.ReopenDueDate, reopened.ReopenReason)

		updates := h.Events(adapter.EventInteractionUpdated)
		last := updates[len(updates)-1]
		require.Equal(t, toOwner.ID, last.Interaction.ID)
		require.True(t, last.Interaction.AutoOpenedDueToDueDate)
		require.True(t, last.Flags["auto_opened_due_to_due_date"])
		require.Equal(t, contactpad.AuditReopened, h.LastAudit(toOwner.ID).Action)

		time.Sleep(time.Hour)
		synctest.Wait()
		queued := h.Get(toQueue.ID)
		require.Equal(t, contactpad.Queued, queued.Status, "owner logged out: back to routing")
		require.Empty(t, queued.Owner)
		require.True(t, queued.AutoOpenedDueToDueDate)
		h.Presence("alice", contactpad.Available)
		require.Equal(t, "alice", h.Get(toQueue.ID).Owner, "and routed like any other")
	})
	bubble(t, open, func(s *adapter.Settings) { s.Reopen = adapter.ReopenQueue }, func(h *Harness) {
		email := h.Connected("bob", contactpad.NonLive)
		h.Do(adapter.Defer{ID: email.ID, Agent: "bob", DueBy: in(time.Minute)})
		h.Presence("bob", contactpad.Busy)
		time.Sleep(time.Minute + slack)
		synctest.Wait()
		require.Equal(t, contactpad.Queued, h.Get(email.ID).Status, "reopen: queue sends it to routing")
	})
}

// testTimerArmedWhileSchedulerReads: a timer a command arms while the
// scheduler is reading the next timer (after its snapshot, before it goes
// to sleep) fires when due, not when the scheduler would next look.
func testTimerArmedWhileSchedulerReads(t *testing.T, open Opener) {
	var hook atomic.Pointer[func()]
	hooked := func(t testing.TB) func() adapter.Store {
		reopen := open(t)
		return func() adapter.Store { return afterView{Store: reopen(), hook: &hook} }
	}
	bubble(t, hooked, nil, func(h *Harness) {
		first := h.Connected("alice", contactpad.NonLive)
		second := h.Connected("bob", contactpad.NonLive)
		synctest.Wait() // the scheduler sleeps
		var armed error
		after := func() {
			_, armed = h.Engine.Apply(context.Background(),
				adapter.Defer{ID: second.ID, Agent: "bob", DueBy: in(time.Second)})
		}
		hook.Store(&after)
		// A timer due before the scheduler would look again wakes it to
		// read; the hook arms an earlier one right after that read.
		h.Do(adapter.Defer{ID: first.ID, Agent: "alice", DueBy: in(5 * time.Second)})
		synctest.Wait()
		require.NoError(t, armed)
		require.Nil(t, hook.Load(), "the scheduler read the next timer")

		time.Sleep(time.Second + slack)
		synctest.Wait()
		require.Equal(t, contactpad.Connected, h.Get(second.ID).Status, "reopened at its due date")
		require.Equal(t, contactpad.Deferred, h.Get(first.ID).Status)
	})
}

// afterView is a Store that runs the hook, once, after the next View.
type afterView struct {
	adapter.Store
	hook *atomic.Pointer[func()]
}

func (s afterView) View(ctx context.Context, fn func(adapter.Tx) error) error {
	err := s.Store.View(ctx, fn)
	if f := s.hook.Swap(nil); f != nil {
		(*f)()
	}
	return err
}

// testResume: Resume from the Deferred folder (or the same update with
// status open) and from the History folder, each with the audit entry
// "Interaction resumed by an agent" and resumed_from.
func testResume(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		deferred := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Defer{ID: deferred.ID, Agent: "alice", DueBy: in(time.Hour)})
		h.Do(adapter.Resume{ID: deferred.ID, Agent: "alice"})
		deferred = h.Get(deferred.ID)
		require.Equal(t, contactpad.Connected, deferred.Status)
		require.Equal(t, contactpad.ResumedFromDeferred, deferred.ResumedFrom)
		last := h.LastAudit(deferred.ID)
		require.Equal(t, "Interaction resumed by an agent", last.Message)
		require.Equal(t, "deferred", last.Data["resumed_from"])
		require.Empty(t, h.Timers(time.Now().Add(2*time.Hour)), "the due-date timer is cleared")
		time.Sleep(time.Hour)
		synctest.Wait()
		require.False(t, h.Get(deferred.ID).AutoOpenedDueToDueDate, "no reopen after a manual resume")

		done := h.Connected("alice", contactpad.SemiLive)
		h.Do(adapter.Release{ID: done.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: done.ID, Agent: "alice"})
		history := h.Interactions(adapter.InteractionFilter{Owner: "alice", Statuses: contactpad.FolderHistory.Statuses()})
		require.Len(t, history, 1)
		h.Do(adapter.Resume{ID: done.ID, Agent: "alice"})
		done = h.Get(done.ID)
		require.Equal(t, contactpad.Connected, done.Status)
		require.Equal(t, contactpad.ResumedFromCompleted, done.ResumedFrom)
		require.Equal(t, "completed", h.LastAudit(done.ID).Data["resumed_from"])
		require.Equal(t, "Interaction resumed by an agent", h.LastAudit(done.ID).Message)

		// An admin resume (no agent) sends it back to routing.
		h.Do(adapter.Release{ID: done.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: done.ID, Agent: "alice"})
		h.Presence("alice", contactpad.Busy)
		h.Do(adapter.Resume{ID: done.ID})
		require.Equal(t, contactpad.Queued, h.Get(done.ID).Status)
		require.Equal(t, "admin", h.LastAudit(done.ID).Actor)
	})
}

// testDueByRange: a due date up to adapter.MaxTime (to the second) is
// stored and read back on every store; a later one is refused with
// due_by_out_of_range and changes nothing; a later one read from the CRM
// is taken as MaxTime rather than failing the ingest.
func testDueByRange(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		last := adapter.MaxTime.Truncate(time.Second)
		require.Equal(t, "2262-04-11T23:47:16Z", last.Format(time.RFC3339))
		i := h.Connected("alice", contactpad.NonLive)
		for _, due := range []time.Time{last.Add(time.Second), last.Add(time.Nanosecond),
			time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)} {
			err := h.Refused(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: &due}, adapter.CodeDueByOutOfRange)
			require.ErrorContains(t, err, "at most 2262-04-11T23:47:16Z")
		}
		require.Equal(t, contactpad.Connected, h.Get(i.ID).Status, "refused: nothing changed")
		h.Do(adapter.Defer{ID: i.ID, Agent: "alice", DueBy: &last})
		require.True(t, last.Equal(*h.Get(i.ID).DueBy), "the last time the stores hold")

		j := h.worked("alice", contactpad.NonLive)
		h.Do(adapter.Ingest{Item: seen(j, "Sam", shows{"status": "deferred", "due_by": "3000-01-01T00:00:00Z"})})
		deferred := h.Get(j.ID)
		require.Equal(t, contactpad.Deferred, deferred.Status, "put on hold in the CRM until 3000")
		require.True(t, adapter.MaxTime.Equal(*deferred.DueBy))
	})
}
