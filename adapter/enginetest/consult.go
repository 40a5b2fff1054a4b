package enginetest

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// testConsult: a consult rings an available or interruptible agent (or an
// external number) until answered or the consult timeout; it is a separate
// leg: ending one does not end the other.
func testConsult(t *testing.T, open Opener) {
	bubble(t, open, nil, func(h *Harness) {
		call := h.Connected("alice", contactpad.Live)
		h.Presence("bob", contactpad.Interruptible)
		k := h.Do(adapter.StartConsult{ID: call.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Consult
		require.Equal(t, contactpad.ConsultRinging, k.Status)
		require.ElementsMatch(t, []string{"alice", "bob"}, h.Events(adapter.EventConsultStarted)[0].Audience)
		h.Refused(adapter.StartConsult{ID: call.ID, Agent: "alice", Target: contactpad.Target{Number: "+4930123456"}}, adapter.CodeConflict)

		h.Refused(adapter.AnswerConsult{ConsultID: k.ID, Agent: "carol"}, adapter.CodeForbidden)
		h.Do(adapter.AnswerConsult{ConsultID: k.ID, Agent: "bob"})
		require.Equal(t, contactpad.ConsultConnected, h.Consult(k.ID).Status)

		h.Do(adapter.Release{ID: call.ID, Agent: "alice"})
		require.Equal(t, contactpad.ConsultConnected, h.Consult(k.ID).Status, "releasing the call does not end the consult")
		h.Do(adapter.EndConsult{ConsultID: k.ID, Agent: "bob"})
		require.Equal(t, contactpad.ConsultEnded, h.Consult(k.ID).Status)
		require.Equal(t, contactpad.WrapUp, h.Get(call.ID).Status, "ending the consult does not touch the call")
		require.Contains(t, actions(h.Audit(call.ID)), "consult_ended")
	})
	// A consult rings only an agent who is signed in: logging out ends it.
	bubble(t, open, nil, func(h *Harness) {
		call := h.Connected("alice", contactpad.Live)
		h.Presence("bob", contactpad.Interruptible)
		k := h.Do(adapter.StartConsult{ID: call.ID, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Consult
		h.Presence("bob", contactpad.LoggedOut)
		k = h.Consult(k.ID)
		require.Equal(t, contactpad.ConsultEnded, k.Status)
		require.Equal(t, "logged_out", k.EndedReason)
		ended := h.Events(adapter.EventConsultEnded)
		require.Len(t, ended, 1)
		require.ElementsMatch(t, []string{"alice", "bob"}, ended[0].Audience, "alice hears of it")
		h.Refused(adapter.AnswerConsult{ConsultID: k.ID, Agent: "bob"}, adapter.CodeInvalidTransition)
		require.Equal(t, contactpad.Connected, h.Get(call.ID).Status)
	})
	bubble(t, open, nil, func(h *Harness) {
		email := h.Connected("alice", contactpad.NonLive)
		k := h.Do(adapter.StartConsult{ID: email.ID, Agent: "alice", Target: contactpad.Target{Number: "+4930123456"}}).Consult
		time.Sleep(45*time.Second - slack)
		synctest.Wait()
		require.Equal(t, contactpad.ConsultRinging, h.Consult(k.ID).Status)
		time.Sleep(2 * slack)
		synctest.Wait()
		k = h.Consult(k.ID)
		require.Equal(t, contactpad.ConsultEnded, k.Status, "consult timeout")
		require.Equal(t, "timeout", k.EndedReason)
		require.Equal(t, contactpad.Connected, h.Get(email.ID).Status)
		require.Len(t, h.Events(adapter.EventConsultEnded), 1)
	})
}
