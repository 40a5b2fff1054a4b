// Package storetest is the conformance suite of adapter.Store: every store
// (the embedded SQLite one, PostgreSQL) runs the same tests, so the engine
// can rely on the contract in adapter's doc comments and nothing more.
//
// A store's own tests call Run with a function that opens a new, empty
// store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) adapter.Store {
//			s, err := sqlite.Open(filepath.Join(t.TempDir(), "store.db"))
//			require.NoError(t, err)
//			t.Cleanup(func() { _ = s.Close() })
//			return s
//		})
//	}
//
// Some tests close the store themselves, so the cleanup must accept a
// second Close failing. What needs the store's own configuration (data
// surviving a restart, schema migrations) is tested by the store.
package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// Run runs the conformance suite against the stores open returns. open is
// called once per test and must return a new, empty store.
func Run(t *testing.T, open func(t *testing.T) adapter.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s adapter.Store)
	}{
		{"InteractionRoundTrip", testInteractionRoundTrip},
		{"InteractionCopies", testInteractionCopies},
		{"NotFound", testNotFound},
		{"PutInteractionUpdates", testPutInteractionUpdates},
		{"InteractionSyncs", testInteractionSyncs},
		{"InteractionByCRM", testInteractionByCRM},
		{"Interactions", testInteractions},
		{"InteractionsNewest", testInteractionsNewest},
		{"InteractionsPages", testInteractionsPages},
		{"Queued", testQueued},
		{"QueuedFor", testQueuedFor},
		{"QueueStats", testQueueStats},
		{"Counts", testCounts},

		{"AgentRoundTrip", testAgentRoundTrip},
		{"Agents", testAgents},
		{"PutAgentReplacesServices", testPutAgentReplacesServices},
		{"Candidate", testCandidate},
		{"Load", testLoad},

		{"TransferRoundTrip", testTransferRoundTrip},
		{"OpenTransfers", testOpenTransfers},
		{"ConsultRoundTrip", testConsultRoundTrip},
		{"OpenConsults", testOpenConsults},
		{"InProgress", testInProgress},

		{"Audit", testAudit},
		{"AuditBetween", testAuditBetween},
		{"Events", testEvents},
		{"PruneEvents", testPruneEvents},
		{"PruneAudit", testPruneAudit},
		{"Outbox", testOutbox},
		{"ClaimOutbox", testClaimOutbox},
		{"OutboxDue", testOutboxDue},
		{"OutboxOrderPerRecord", testOutboxOrderPerRecord},
		{"ClaimAcrossStates", testClaimAcrossStates},
		{"ClaimAcrossRetries", testClaimAcrossRetries},
		{"FinishOutbox", testFinishOutbox},
		{"Watermarks", testWatermarks},
		{"IngestFailures", testIngestFailures},
		{"Sessions", testSessions},
		{"PruneSessions", testPruneSessions},

		{"DueTimers", testDueTimers},
		{"SetTimerReplaces", testSetTimerReplaces},
		{"TakeTimer", testTakeTimer},
		{"ClearTimer", testClearTimer},
		{"NextTimer", testNextTimer},

		{"UpdateIsolatesFailingFn", testUpdateIsolatesFailingFn},
		{"UpdateSeesEarlierFns", testUpdateSeesEarlierFns},
		{"UpdateEmpty", testUpdateEmpty},
		{"UpdatePanic", testUpdatePanic},
		{"UpdateCanceledContext", testUpdateCanceledContext},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"ViewCannotWrite", testViewCannotWrite},
		{"ViewNotBlockedByUpdate", testViewNotBlockedByUpdate},
		{"ViewSnapshot", testViewSnapshot},
		{"ViewPanic", testViewPanic},
		{"ViewCanceledContext", testViewCanceledContext},
		{"ViewsConcurrent", testViewsConcurrent},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, open(t))
		})
	}
}

// t0 is the suite's reference time: UTC, with nanoseconds, so a store that
// loses precision fails.
var t0 = time.Date(2025, time.March, 1, 9, 30, 0, 123456789, time.UTC)

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// update runs fns in one Update and fails t on any error.
func update(t *testing.T, s adapter.Store, fns ...func(adapter.Tx) error) {
	t.Helper()
	errs, err := s.Update(t.Context(), fns)
	require.NoError(t, err)
	require.Len(t, errs, len(fns))
	for i, err := range errs {
		require.NoError(t, err, "fn %d", i)
	}
}

// view runs fn in a View and fails t on an error.
func view(t *testing.T, s adapter.Store, fn func(adapter.Tx) error) {
	t.Helper()
	require.NoError(t, s.View(t.Context(), fn))
}

// putAll stores items in one Update, one fn each, with put (a Tx's Put
// method: adapter.Tx.PutAgent...).
func putAll[T any](t *testing.T, s adapter.Store, put func(adapter.Tx, T) error, items ...T) {
	t.Helper()
	fns := make([]func(adapter.Tx) error, len(items))
	for n, item := range items {
		fns[n] = func(tx adapter.Tx) error { return put(tx, item) }
	}
	update(t, s, fns...)
}

func putInteractions(t *testing.T, s adapter.Store, is ...*contactpad.Interaction) {
	t.Helper()
	putAll(t, s, adapter.Tx.PutInteraction, is...)
}

func putAgents(t *testing.T, s adapter.Store, as ...*contactpad.Agent) {
	t.Helper()
	putAll(t, s, adapter.Tx.PutAgent, as...)
}

func putTransfers(t *testing.T, s adapter.Store, trs ...*contactpad.Transfer) {
	t.Helper()
	putAll(t, s, adapter.Tx.PutTransfer, trs...)
}

func putConsults(t *testing.T, s adapter.Store, cs ...*contactpad.Consult) {
	t.Helper()
	putAll(t, s, adapter.Tx.PutConsult, cs...)
}

// getInteraction reads interaction id in a View.
func getInteraction(t *testing.T, s adapter.Store, id string) *contactpad.Interaction {
	t.Helper()
	var i *contactpad.Interaction
	view(t, s, func(tx adapter.Tx) (err error) {
		i, err = tx.Interaction(id)
		return err
	})
	return i
}

// ids lists the IDs of is, in order.
func ids(is []*contactpad.Interaction) []string {
	out := make([]string, len(is))
	for n, i := range is {
		out[n] = i.ID
	}
	return out
}

// fullInteraction has every field set.
func fullInteraction(id string) *contactpad.Interaction {
	return &contactpad.Interaction{
		ID:                     id,
		CRMID:                  "500" + id,
		CRMObject:              "Case",
		Media:                  contactpad.SemiLive,
		Service:                "sales",
		Subject:                "Printer on fire",
		Priority:               3,
		Status:                 contactpad.Connected,
		Held:                   true,
		Owner:                  "alice",
		DueBy:                  ptr(at(48 * time.Hour)),
		DueBySetManually:       true,
		AutoOpenedDueToDueDate: true,
		ResumedFrom:            contactpad.ResumedFromDeferred,
		ReopenReason:           contactpad.ReopenDueDate,
		Tags:                   []string{"vip", "printer"},
		Category:               "hardware",
		Customer:               "+44 20 7946 0958",
		ConnectedAt:            ptr(at(-30 * time.Minute)),
		TransferNote:           "prefers email",
		TargetAgent:            "bob",
		SkipAgent:              "carol",
		TransferredFrom:        "dave",
		WrapUpEndsAt:           ptr(at(time.Minute)),
		WrapUpExtended:         2,
		OfferExpiresAt:         ptr(at(30 * time.Second)),
		QueuedAt:               ptr(at(-time.Hour)),
		LastActivityAt:         at(time.Second),
		CreatedAt:              at(-2 * time.Hour),
		UpdatedAt:              at(2 * time.Second),
		Version:                7,
		Sync: contactpad.RecordSync{
			Known: map[string]any{"Status": "Escalated", "OwnerId": "005A", "Due__c": nil, "Flag__c": true, "Count__c": 3.0},
			Want:  map[string]any{"Status": "Working", "OwnerId": "005B", "Due__c": "2025-03-03T09:30:00.000Z", "Flag__c": false},
			Dirty: []string{"Due__c", "OwnerId"}, Unmatched: true,
		},
		Omni: &contactpad.OmniRouting{PSRID: "0JRA", ServiceChannelID: "0N9A", CapacityWeight: 1.5, Pushed: true,
			WorkID: "0BzB", Answered: []string{"0BzA"}},
	}
}

// queued is a queued interaction of service.
func queued(id, service string, priority int, queuedAt time.Time) *contactpad.Interaction {
	return &contactpad.Interaction{
		ID:        id,
		Media:     contactpad.NonLive,
		Service:   service,
		Priority:  priority,
		Status:    contactpad.Queued,
		Tags:      []string{},
		QueuedAt:  ptr(queuedAt),
		CreatedAt: queuedAt,
		UpdatedAt: queuedAt,
	}
}

// owned is an interaction of media owned by agent in status.
func owned(id, agent string, media contactpad.Media, status contactpad.Status) *contactpad.Interaction {
	return &contactpad.Interaction{
		ID:        id,
		Media:     media,
		Service:   "sales",
		Status:    status,
		Owner:     agent,
		Tags:      []string{},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

// inZone returns t in loc when it is set, so tests can hand a store times
// that are not in UTC.
func inZone(t time.Time, loc *time.Location) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(loc)
}

// ptrInZone is inZone for an optional time.
func ptrInZone(t *time.Time, loc *time.Location) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(t.In(loc))
}

// cet is a zone other than UTC.
var cet = time.FixedZone("CET", 60*60)

// equalList is require.Equal for lists, where an empty want also accepts a
// nil list: the contract does not say which an empty result is.
func equalList[T any](t *testing.T, want, got []T, msgAndArgs ...any) {
	t.Helper()
	if len(want) == 0 {
		require.Empty(t, got, msgAndArgs...)
		return
	}
	require.Equal(t, want, got, msgAndArgs...)
}
