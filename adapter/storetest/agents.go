package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// agent is an agent serving services with the given presence and last offer.
func agent(id string, presence contactpad.Presence, lastOffer time.Time, services ...string) *contactpad.Agent {
	if services == nil {
		services = []string{}
	}
	return &contactpad.Agent{
		ID:          id,
		Name:        "Agent " + id,
		Services:    services,
		Capacity:    contactpad.Capacity{contactpad.Live: 1, contactpad.NonLive: 5},
		Presence:    presence,
		PresenceAt:  t0,
		LastOfferAt: lastOffer,
	}
}

func testAgentRoundTrip(t *testing.T, s adapter.Store) {
	full := &contactpad.Agent{
		ID:          "alice",
		Name:        "Alice Liddell",
		CRMUserID:   "005A",
		Services:    []string{"sales", "support"},
		Capacity:    contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: 5},
		Presence:    contactpad.Available,
		PresenceAt:  at(time.Minute),
		LastOfferAt: at(2 * time.Minute),
	}
	zoned := *full
	zoned.ID = "zoned"
	zoned.PresenceAt = inZone(full.PresenceAt, cet)
	zoned.LastOfferAt = inZone(full.LastOfferAt, cet)
	wantZoned := *full
	wantZoned.ID = "zoned"

	tests := []struct {
		name string
		put  *contactpad.Agent
		want *contactpad.Agent
	}{
		{name: "every field set", put: full, want: full},
		{
			name: "nil services and capacity come back empty",
			put:  &contactpad.Agent{ID: "bare"},
			want: &contactpad.Agent{ID: "bare", Services: []string{}, Capacity: contactpad.Capacity{}},
		},
		{name: "times come back in UTC", put: &zoned, want: &wantZoned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			putAgents(t, s, tt.put)
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Agent(tt.put.ID)
				require.NoError(t, err)
				require.Equal(t, tt.want, got)

				got.Services = append(got.Services, "changed")
				got.Capacity[contactpad.Live] = 99
				again, err := tx.Agent(tt.put.ID)
				require.NoError(t, err)
				require.Equal(t, tt.want, again, "a returned agent is a copy")
				return nil
			})
		})
	}
}

func testAgents(t *testing.T, s adapter.Store) {
	view(t, s, func(tx adapter.Tx) error {
		got, err := tx.Agents()
		require.NoError(t, err)
		require.Empty(t, got)
		return nil
	})

	putAgents(t, s,
		agent("carol", contactpad.Busy, time.Time{}, "sales"),
		agent("alice", contactpad.Available, t0, "support"),
		agent("bob", contactpad.LoggedOut, time.Time{}),
	)
	view(t, s, func(tx adapter.Tx) error {
		got, err := tx.Agents()
		require.NoError(t, err)
		require.Equal(t, []*contactpad.Agent{
			agent("alice", contactpad.Available, t0, "support"),
			agent("bob", contactpad.LoggedOut, time.Time{}),
			agent("carol", contactpad.Busy, time.Time{}, "sales"),
		}, got)
		return nil
	})
}

func testPutAgentReplacesServices(t *testing.T, s adapter.Store) {
	candidates := func(service string) []string {
		var out []string
		view(t, s, func(tx adapter.Tx) error {
			out = []string{}
			a, err := tx.Candidate(adapter.CandidateQuery{Service: service, Media: contactpad.Live})
			if errors.Is(err, adapter.ErrNotFound) {
				return nil
			}
			require.NoError(t, err)
			out = append(out, a.ID)
			return nil
		})
		return out
	}

	steps := []struct {
		name     string
		services []string
		// presence is the agent's (default available).
		presence contactpad.Presence
		want     map[string][]string
	}{
		{name: "two services", services: []string{"sales", "support"},
			want: map[string][]string{"sales": {"alice"}, "support": {"alice"}, "billing": {}}},
		// The same services: only the agent's row changes.
		{name: "the same services, busy", services: []string{"sales", "support"}, presence: contactpad.Busy,
			want: map[string][]string{"sales": {}, "support": {}, "billing": {}}},
		{name: "the same services, available again", services: []string{"sales", "support"},
			want: map[string][]string{"sales": {"alice"}, "support": {"alice"}, "billing": {}}},
		{name: "the same services in another order", services: []string{"support", "sales"},
			want: map[string][]string{"sales": {"alice"}, "support": {"alice"}, "billing": {}}},
		{name: "one dropped, one added", services: []string{"support", "billing"},
			want: map[string][]string{"sales": {}, "support": {"alice"}, "billing": {"alice"}}},
		{name: "a duplicate", services: []string{"billing", "billing"},
			want: map[string][]string{"sales": {}, "support": {}, "billing": {"alice"}}},
		{name: "none", services: nil,
			want: map[string][]string{"sales": {}, "support": {}, "billing": {}}},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			presence := tt.presence
			if presence == "" {
				presence = contactpad.Available
			}
			want := agent("alice", presence, t0, tt.services...)
			putAgents(t, s, want)
			for service, want := range tt.want {
				require.Equal(t, want, candidates(service), "candidates for %s", service)
			}
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Agent("alice")
				require.NoError(t, err)
				require.Equal(t, want, got)
				return nil
			})
		})
	}
}

func testCandidate(t *testing.T, s adapter.Store) {
	putAgents(t, s,
		agent("a1", contactpad.Available, at(2*time.Minute), "sales"),
		agent("a2", contactpad.Available, t0, "sales", "support"),
		agent("a3", contactpad.Available, time.Time{}, "sales"), // never offered anything
		agent("a4", contactpad.Busy, time.Time{}, "sales"),
		agent("a5", contactpad.Available, time.Time{}, "support"),
		agent("a6", contactpad.Available, t0, "sales"),
		agent("a7", contactpad.Interruptible, time.Time{}, "sales"),
		agent("a8", contactpad.LoggedOut, time.Time{}, "sales"),
		agent("a9", contactpad.Available, at(time.Minute), "sales"),
	)
	// a3 holds its one live interaction (and ended work that does not
	// count); a2 a live interaction and a non-live transfer delivered to
	// it; a6 a non-live transfer only; a1 four non-live interactions and an
	// open non-live transfer, its five.
	putInteractions(t, s,
		owned("i1", "a2", contactpad.Live, contactpad.Connected),
		owned("i2", "a4", contactpad.NonLive, contactpad.Connected),
		owned("i3", "a3", contactpad.Live, contactpad.WrapUp),
		owned("i4", "a3", contactpad.Live, contactpad.Completed),
		owned("i5", "a3", contactpad.NonLive, contactpad.Deferred),
		owned("i6", "a1", contactpad.NonLive, contactpad.Offered),
		owned("i7", "a1", contactpad.NonLive, contactpad.Connected),
		owned("i8", "a1", contactpad.NonLive, contactpad.Connected),
		owned("i9", "a1", contactpad.NonLive, contactpad.WrapUp),
		owned("i10", "a4", contactpad.NonLive, contactpad.Connected),
	)
	putTransfers(t, s,
		&contactpad.Transfer{ID: "t1", InteractionID: "i2", Status: contactpad.TransferInitiated, Initiator: "a4", Assignee: "a2"},
		&contactpad.Transfer{ID: "t2", InteractionID: "i10", Status: contactpad.TransferAccepted, Initiator: "a4", Assignee: "a1"},
		&contactpad.Transfer{ID: "t3", InteractionID: "i2", Status: contactpad.TransferInitiated, Initiator: "a4", Assignee: "a6"},
		&contactpad.Transfer{ID: "t4", InteractionID: "i10", Status: contactpad.TransferCompleted, Initiator: "a4", Assignee: "a9"},
		&contactpad.Transfer{ID: "t5", InteractionID: "i10", Status: contactpad.TransferInitiated, Initiator: "a4"},
	)

	tests := []struct {
		name string
		q    adapter.CandidateQuery
		want string // "" for none
	}{
		{name: "longest since last offer with room", q: adapter.CandidateQuery{Service: "sales", Media: contactpad.NonLive}, want: "a3"},
		{name: "full for the media", q: adapter.CandidateQuery{Service: "sales", Media: contactpad.Live}, want: "a6"},
		{name: "skip", q: adapter.CandidateQuery{Service: "sales", Media: contactpad.Live, Skip: "a6"}, want: "a9"},
		{name: "skip and sender", q: adapter.CandidateQuery{Service: "sales", Media: contactpad.Live, Skip: "a6", Sender: "a9"}, want: "a1"},
		{name: "sender", q: adapter.CandidateQuery{Service: "sales", Media: contactpad.Live, Sender: "a6"}, want: "a9"},
		{name: "idle only", q: adapter.CandidateQuery{Service: "sales", Media: contactpad.NonLive, Idle: true}, want: "a9"},
		{name: "no capacity for the media", q: adapter.CandidateQuery{Service: "sales", Media: contactpad.SemiLive}},
		{name: "another service", q: adapter.CandidateQuery{Service: "support", Media: contactpad.NonLive}, want: "a5"},
		{name: "another service, skip", q: adapter.CandidateQuery{Service: "support", Media: contactpad.NonLive, Skip: "a5"}, want: "a2"},
		{name: "nobody serves it", q: adapter.CandidateQuery{Service: "billing", Media: contactpad.NonLive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Candidate(tt.q)
				if tt.want == "" {
					require.ErrorIs(t, err, adapter.ErrNotFound)
					return nil
				}
				require.NoError(t, err)
				stored, err := tx.Agent(tt.want)
				require.NoError(t, err)
				require.Equal(t, stored, got)
				return nil
			})
		})
	}

	t.Run("agrees with Agents and Load", func(t *testing.T) { candidateAgrees(t, s) })

	// Presence, last offers and services change as agents work; the
	// candidate follows them.
	t.Run("follows the agents' changes", func(t *testing.T) {
		busy := agent("a3", contactpad.Busy, time.Time{}, "sales")               // was available, never offered
		offered := agent("a9", contactpad.Available, at(3*time.Minute), "sales") // last offered now
		back := agent("a4", contactpad.Available, time.Time{}, "sales")          // was busy
		joined := agent("a5", contactpad.Available, time.Time{}, "support", "sales")
		left := agent("a2", contactpad.Available, t0, "support")
		putAgents(t, s, busy, offered, back, joined, left)
		view(t, s, func(tx adapter.Tx) error {
			// a3, first before, is busy; a4 and a5 were never offered
			// anything either, and a4 comes first by ID.
			got, err := tx.Candidate(adapter.CandidateQuery{Service: "sales", Media: contactpad.NonLive})
			require.NoError(t, err)
			require.Equal(t, "a4", got.ID)
			got, err = tx.Candidate(adapter.CandidateQuery{Service: "sales", Media: contactpad.NonLive, Skip: "a4"})
			require.NoError(t, err)
			require.Equal(t, "a5", got.ID)
			return nil
		})
		candidateAgrees(t, s)
	})
}

// candidateAgrees checks that the store's rule is routing's: the first
// agent by last offer, then ID, among those Agents and Load say have room.
func candidateAgrees(t *testing.T, s adapter.Store) {
	t.Helper()
	view(t, s, func(tx adapter.Tx) error {
		agents, err := tx.Agents()
		require.NoError(t, err)
		slices.SortStableFunc(agents, func(a, b *contactpad.Agent) int { return a.LastOfferAt.Compare(b.LastOfferAt) })
		for _, service := range []string{"sales", "support", "billing"} {
			for _, media := range []contactpad.Media{contactpad.Live, contactpad.SemiLive, contactpad.NonLive} {
				for _, skip := range []string{"", "a2", "a3", "a6"} {
					for _, idle := range []bool{false, true} {
						q := adapter.CandidateQuery{Service: service, Media: media, Skip: skip, Idle: idle}
						want := ""
						for _, a := range agents {
							load, err := tx.Load(a.ID)
							require.NoError(t, err)
							busy := slices.ContainsFunc(slices.Collect(maps.Values(load)), func(n int) bool { return n > 0 })
							if a.Presence == contactpad.Available && a.Serves(service) && a.ID != skip &&
								load[media] < a.Capacity[media] && (!idle || !busy) {
								want = a.ID
								break
							}
						}
						got, err := tx.Candidate(q)
						if want == "" {
							require.ErrorIs(t, err, adapter.ErrNotFound, "%+v", q)
							continue
						}
						require.NoError(t, err, "%+v", q)
						require.Equal(t, want, got.ID, "%+v", q)
					}
				}
			}
		}
		return nil
	})
}

func testLoad(t *testing.T, s adapter.Store) {
	putInteractions(t, s,
		owned("offered", "alice", contactpad.Live, contactpad.Offered),
		owned("connected", "alice", contactpad.SemiLive, contactpad.Connected),
		owned("wrap-up", "alice", contactpad.SemiLive, contactpad.WrapUp),
		owned("completed", "alice", contactpad.Live, contactpad.Completed),
		owned("abandoned", "alice", contactpad.SemiLive, contactpad.Abandoned),
		owned("deferred", "alice", contactpad.NonLive, contactpad.Deferred),
		owned("bobs", "bob", contactpad.Live, contactpad.Connected),
		owned("bobs-case", "bob", contactpad.NonLive, contactpad.Connected),
		owned("bobs-chat", "bob", contactpad.SemiLive, contactpad.Connected),
		owned("bobs-old", "bob", contactpad.NonLive, contactpad.Completed),
	)
	transfer := func(id, interaction string, status contactpad.TransferStatus, assignee string) *contactpad.Transfer {
		return &contactpad.Transfer{ID: id, InteractionID: interaction, Status: status, Initiator: "bob", Assignee: assignee}
	}
	putTransfers(t, s,
		transfer("t-initiated", "bobs-case", contactpad.TransferInitiated, "alice"),
		transfer("t-accepted", "bobs-chat", contactpad.TransferAccepted, "alice"),
		transfer("t-completed", "bobs-old", contactpad.TransferCompleted, "alice"),
		transfer("t-failed", "bobs-old", contactpad.TransferFailed, "alice"),
		transfer("t-canceled", "bobs-old", contactpad.TransferCanceled, "alice"),
		transfer("t-carol", "bobs", contactpad.TransferInitiated, "carol"),
		transfer("t-undelivered", "bobs", contactpad.TransferInitiated, ""),
	)

	tests := []struct {
		name  string
		agent string
		want  contactpad.Capacity
	}{
		{name: "owned interactions holding capacity plus open transfers delivered", agent: "alice",
			want: contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: 1}},
		{name: "owner only", agent: "bob",
			want: contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 1, contactpad.NonLive: 1}},
		{name: "transfer only", agent: "carol", want: contactpad.Capacity{contactpad.Live: 1}},
		{name: "nothing held is an empty map", agent: "dave", want: contactpad.Capacity{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				got, err := tx.Load(tt.agent)
				require.NoError(t, err)
				require.NotNil(t, got)
				require.Equal(t, tt.want, got)
				return nil
			})
		})
	}
}
