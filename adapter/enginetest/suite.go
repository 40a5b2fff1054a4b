package enginetest

import (
	"testing"
	"testing/synctest"

	"github.com/ctibridge/ctibridge/adapter"
)

// Run runs the whole behaviour suite against stores made by open.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, Opener)
	}{
		{"capability matrix", testMatrix},
		{"capability overrides", testMatrixOverrides},
		{"refusals", testRefusals},
		{"the lifecycle table, walked", testWalkTheLifecycle},
		{"ingest is idempotent by CRM id", testIngestIdempotent},
		{"routing by service, priority and wait time", testRoutingOrder},
		{"routing by presence and capacity", testRoutingCapacity},
		{"a command's result is its own interaction", testResultIsTheCommandsInteraction},
		{"a command's result is its own transfer", testTransferResultIsTheCommands},
		{"release all before next", testReleaseAllBeforeNext},
		{"offers: accept, decline and re-route", testOffers},
		{"offers: push timeout", testPushTimeout},
		{"an offer whose timeout fires late is offered again", testLateOfferTimeout},
		{"offers: withdrawn at logout", testLogoutWithdrawsOffers},
		{"offers through Omni-Channel (external routing)", testOmniRouting},
		{"warm transfers through Omni-Channel", testOmniWarmTransfer},
		{"an offer out in Omni-Channel outlives its agent's logout", testOmniOfferOutlivesLogout},
		{"offers through Omni-Channel: the AgentWork refused", testOmniRefused},
		{"offers through Omni-Channel: refused again and again, it waits", testOmniRefusedWaits},
		{"offers through Omni-Channel: an AgentWork that waited is not sent once the offer moved on", testOmniStaleAgentWork},
		{"hold and retrieve", testHold},
		{"the customer and the talk timer's start", testCustomerAndTalkTime},
		{"release, wrap-up and completion", testWrapUp},
		{"abandon", testAbandon},
		{"defer", testDefer},
		{"deferral rules compute due dates", testDeferralRules},
		{"reopen at the due date", testReopenAtDueDate},
		{"a timer armed while the scheduler reads", testTimerArmedWhileSchedulerReads},
		{"resume and manual reopen", testResume},
		{"inactivity", testInactivity},
		{"warm transfer", testWarmTransfer},
		{"warm transfer fails", testWarmTransferFails},
		{"warm transfer delivery by presence", testTransferDelivery},
		{"warm transfer before the queue", testTransferBeforeTheQueue},
		{"warm transfer nobody can take", testTransferNobodyCanTake},
		{"cold transfer", testColdTransfer},
		{"transfers never go back to their sender", testTransferNeverBackToSender},
		{"deferred work keeps its slot", testDeferredKeepsItsSlot},
		{"queued work is routed at start", testRoutedAtStart},
		{"release all before next: the next interactions", testReleaseAllDeliversMany},
		{"routing past work of other media", testRoutingPastOtherMedia},
		{"audit entries say what happened", testAuditMessages},
		{"a reloaded config takes effect at once", testReconfigure},
		{"consult", testConsult},
		{"audit, events and outbox", testAuditEventsOutbox},
		{"handling export", testHandlingExport},
		{"early reopen when the customer replies", testCustomerReply},
		{"due_by up to what the stores hold", testDueByRange},
		{"the CRM is a peer: first sight adopts the record", testAdopt},
		{"the CRM is a peer: first sight resets, if the mapping says so", testResetPolicy},
		{"the CRM is a peer: closed or filtered out there", testClosedInCRM},
		{"the CRM is a peer: deleted there", testDeletedInCRM},
		{"the CRM is a peer: reopened there", testReopenedInCRM},
		{"the CRM is a peer: owner changed there", testOwnerChangedInCRM},
		{"the CRM is a peer: due date changed there", testDueChangedInCRM},
		{"the CRM is a peer: service changed there", testServiceChangedInCRM},
		{"the CRM is a peer: the echo of our writes", testEcho},
		{"the CRM is a peer: both sides changed a field", testConflicts},
		{"the CRM is a peer: changed there before the write", testChangedBeforeWrite},
		{"the CRM is a peer: a late read of an older version", testLateRead},
		{"writeback: a record held for a read keeps the batches whole", testHoldKeepsBatches},
		{"the CRM is a peer: only changed fields are written", testDeltas},
		{"the CRM is a peer: records that cannot go in", testIngestFailures},
		{"the CRM is a peer: a read older than a write", testStaleRead},
		{"the CRM is a peer: text no store can hold", testCleanText},
		{"the CRM is a peer: a poll's text no store can hold", testPollCleanText},
		{"ingest cuts long text", testIngestCutsLongText},
		{"polling CRM sources", testPoll},
		{"polling: one replica at a time", testPollLease},
		{"polling: its status, as every replica sees it", testPollStatus},
		{"presence follows Omni-Channel", testFollowPresence},
		{"presence follows Omni-Channel: one read per poll", testRunPresence},
		{"writeback: order, retry, park", testWriteback},
		{"writeback: an outage of any length parks nothing", testWritebackOutage},
		{"writeback: a hung call ends before its claim", testWritebackHungCall},
		{"writeback: a full batch goes at once", testWritebackBatchSize},
		{"writeback: a few rows wait for BatchMaxAge", testWritebackBatchAge},
		{"writeback: a backlog goes at once", testWritebackBacklog},
		{"writeback: one call at a time", testWritebackOneCallAtATime},
		{"writeback claims only a batch worth a call", testWritebackClaimsWhenReady},
		{"writeback counts what is due once a batch, not once a commit", testWritebackCountsPerBatch},
		{"writeback keeps each record's order across calls", testWritebackKeepsRecordOrder},
		{"writeback gives back what it cannot send", testWritebackGivesBackWhatItCannotSend},
		{"writeback: a restarted writer takes its rows back", testWritebackAfterRestart},
		{"writeback after a slow restart", testWritebackAfterSlowRestart},
		{"retention: events and audit pruned in the background", testRetention},
		{"retention: expired panel sessions pruned", testRetentionSessions},
		{"crash safety", testCrashSafety},
		{"concurrency", testConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open) })
	}
}

// bubble runs f in a synctest bubble with a started harness, stopped at the end.
func bubble(t *testing.T, open Opener, tweak func(*adapter.Settings), f func(h *Harness)) {
	synctest.Test(t, func(t *testing.T) {
		h := Start(t, open, tweak)
		defer h.Stop()
		f(h)
	})
}
