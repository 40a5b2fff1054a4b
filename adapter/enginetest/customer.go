package enginetest

import (
	"strings"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// testCustomerAndTalkTime: the customer the mapping names comes in with
// the record and follows its changes (cut to its limit); connected_at is
// when the work last connected to its owner (the panel's talk timer):
// set at accept, kept by hold, moved by a hand-over to the new owner, kept
// through wrap-up, set again by a resume.
func testCustomerAndTalkTime(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		h.Presence("alice", contactpad.Available)
		item := contactpad.WorkItem{CRMID: "500000000000000900", CRMObject: "Case", Media: contactpad.Live,
			Service: "support", Subject: "Router keeps rebooting", Customer: "+44 20 7946 0958"}
		call := h.IngestItem(item)
		require.Equal(t, "+44 20 7946 0958", call.Customer)
		require.Equal(t, contactpad.Offered, call.Status)
		require.Nil(t, call.ConnectedAt, "not connected yet")

		time.Sleep(5 * time.Second)
		h.Do(adapter.Accept{ID: call.ID, Agent: "alice"})
		accepted := time.Now()
		require.WithinDuration(t, accepted, *h.Get(call.ID).ConnectedAt, 0, "the talk timer starts at accept")

		time.Sleep(10 * time.Second)
		h.Do(adapter.Hold{ID: call.ID, Agent: "alice"})
		h.Do(adapter.Retrieve{ID: call.ID, Agent: "alice"})
		require.WithinDuration(t, accepted, *h.Get(call.ID).ConnectedAt, 0, "hold does not restart it")

		item.Customer = "Ada Byron " + strings.Repeat("x", adapter.MaxLabelBytes)
		h.Do(adapter.Ingest{Item: item})
		got := h.Get(call.ID)
		require.Len(t, got.Customer, adapter.MaxLabelBytes, "cut to its limit")
		require.True(t, strings.HasPrefix(got.Customer, "Ada Byron "), "the record's change is taken")

		h.Presence("bob", contactpad.Available)
		res := h.Do(adapter.StartTransfer{ID: call.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Mode: contactpad.Warm})
		h.Do(adapter.AcceptTransfer{TransferID: res.Transfer.ID, Agent: "bob"})
		time.Sleep(3 * time.Second)
		h.Do(adapter.CompleteTransfer{TransferID: res.Transfer.ID, Agent: "alice"})
		handedOver := time.Now()
		require.WithinDuration(t, handedOver, *h.Get(call.ID).ConnectedAt, 0, "bob's talk time starts at the hand-over")

		h.Do(adapter.Release{ID: call.ID, Agent: "bob"})
		h.Do(adapter.FinishWrapUp{ID: call.ID, Agent: "bob"})
		require.WithinDuration(t, handedOver, *h.Get(call.ID).ConnectedAt, 0, "kept after it ended")

		h.Presence("bob", contactpad.Busy)
		email := h.Connected("alice", contactpad.NonLive)
		h.Do(adapter.Release{ID: email.ID, Agent: "alice"})
		h.Do(adapter.FinishWrapUp{ID: email.ID, Agent: "alice"})
		time.Sleep(time.Minute)
		h.Do(adapter.Resume{ID: email.ID, Agent: "alice"})
		require.WithinDuration(t, time.Now(), *h.Get(email.ID).ConnectedAt, 0, "a resume starts it again")
	})
}
