package enginetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

// omniSource is a PresenceSource that plays Omni-Channel: each CRM user's
// current status ("" or absent: signed out), and the calls made to it.
type omniSource struct {
	mu     sync.Mutex
	status map[string]string
	calls  [][]string
}

func (s *omniSource) set(user, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status == nil {
		s.status = map[string]string{}
	}
	s.status[user] = status
}

func (s *omniSource) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Statuses implements adapter.PresenceSource.
func (s *omniSource) Statuses(_ context.Context, users []string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, slices.Clone(users))
	out := map[string]string{}
	for _, u := range users {
		if st := s.status[u]; st != "" {
			out[u] = st
		}
	}
	return out, nil
}

// omniMap is the presence map the presence tests follow.
var omniMap = adapter.PresenceMap{
	Source: "Omni-Channel",
	Presence: map[string]contactpad.Presence{
		"Available": contactpad.Available, "Busy_Voice": contactpad.Available, "Away": contactpad.Busy,
	},
	Busy: map[string][]contactpad.Media{"Busy_Voice": {contactpad.Live}},
}

func followsOmni(s *adapter.Settings) { s.PresenceSource = "Omni-Channel" }

// testFollowPresence: each read of Omni-Channel sets the presence its
// status maps to, as FollowPresence commands that say where they came
// from; a status busy for a media type routes no new work of it; a user
// signed out is logged out; an unknown status is ignored and logged once;
// agents cannot set their presence themselves.
func testFollowPresence(t *testing.T, open Opener) {
	bubble(t, open, followsOmni, func(h *Harness) {
		omni := &omniSource{}
		follow := func() {
			t.Helper()
			require.NoError(t, h.Engine.FollowPresenceOnce(context.Background(), omni, omniMap))
		}
		omni.set(bobUser, "Available")
		follow()
		require.Equal(t, []string{aliceUser, bobUser, carolUser}, omni.calls[0], "one read for every agent")
		require.Equal(t, contactpad.Available, h.Agent("bob").Presence)
		require.Equal(t, contactpad.LoggedOut, h.Agent("alice").Presence, "not signed in to Omni-Channel")
		events := h.Events(adapter.EventAgentPresence)
		require.Len(t, events, 1, "only bob changed")
		require.Equal(t, &adapter.AgentPresence{ID: "bob", Presence: contactpad.Available, Source: adapter.PresenceFromOmni,
			CRMStatus: "Available"}, events[0].Agent)

		follow()
		require.Len(t, h.Events(adapter.EventAgentPresence), 1, "no change, no command")

		// On a call in another channel: no new calls, but chats and cases.
		omni.set(bobUser, "Busy_Voice")
		follow()
		bob := h.Agent("bob")
		require.Equal(t, contactpad.Available, bob.Presence)
		require.Zero(t, bob.Capacity[contactpad.Live])
		require.Equal(t, 3, bob.Capacity[contactpad.SemiLive])
		events = h.Events(adapter.EventAgentPresence)
		require.Len(t, events, 2, "a change of busy media types is a presence event")
		require.Equal(t, []contactpad.Media{contactpad.Live}, events[1].Agent.BusyMedia)
		require.Equal(t, "Busy_Voice", events[1].Agent.CRMStatus)
		call := h.Ingest(contactpad.Live, "support")
		chat := h.Ingest(contactpad.SemiLive, "support")
		require.Equal(t, contactpad.Queued, h.Get(call.ID).Status, "bob takes no new calls")
		require.Equal(t, "bob", h.Get(chat.ID).Owner)

		omni.set(bobUser, "Available")
		follow()
		require.Equal(t, 1, h.Agent("bob").Capacity[contactpad.Live], "the configured capacity is back")
		require.Equal(t, "bob", h.Get(call.ID).Owner, "and the waiting call goes to bob")

		// Signed out of Omni-Channel: logged out.
		omni.set(bobUser, "")
		follow()
		require.Equal(t, contactpad.LoggedOut, h.Agent("bob").Presence)

		// A status the map does not name: ignored, logged once.
		omni.set(bobUser, "Lunch")
		follow()
		follow()
		require.Equal(t, contactpad.LoggedOut, h.Agent("bob").Presence)

		err := h.Refused(adapter.SetPresence{Agent: "bob", Presence: contactpad.Available}, adapter.CodePresenceFollowsCRM)
		require.EqualError(t, err, "presence follows Omni-Channel in the CRM: change it there")
		require.Equal(t, contactpad.LoggedOut, h.Agent("bob").Presence)
	})
}

// testRunPresence: the presence loop reads Omni-Channel at once and at
// every poll, in one read for all agents, so a change there reaches the
// agent within one poll; a warning names a status the map does not, once.
func testRunPresence(t *testing.T, open Opener) {
	bubble(t, open, followsOmni, func(h *Harness) {
		omni := &omniSource{}
		omni.set(aliceUser, "Available")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.Engine.RunPresence(ctx, omni, omniMap, adapter.SyncOptions{PollInterval: 5 * time.Second})
		}()
		defer func() { cancel(); <-done }()

		synctest.Wait()
		require.Equal(t, 1, omni.callCount(), "read at once")
		require.Equal(t, contactpad.Available, h.Agent("alice").Presence)

		omni.set(aliceUser, "Away")
		omni.set(carolUser, "Lunch")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Equal(t, 2, omni.callCount(), "one read per poll")
		require.Equal(t, contactpad.Busy, h.Agent("alice").Presence, "within one poll")

		time.Sleep(50 * time.Second)
		synctest.Wait()
		require.Equal(t, 12, omni.callCount())
		warned := 0
		for _, e := range h.Log.AllEntries() {
			if e.Data["status"] == "Lunch" {
				warned++
				require.Equal(t, "carol", e.Data["agent"])
			}
		}
		require.Equal(t, 1, warned, "an unknown status is logged once")
	})
}
