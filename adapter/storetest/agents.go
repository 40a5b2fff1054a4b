package storetest

import (
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
			cs, err := tx.Candidates(service)
			require.NoError(t, err)
			out = []string{}
			for _, c := range cs {
				out = append(out, c.Agent.ID)
			}
			return nil
		})
		return out
	}

	steps := []struct {
		name     string
		services []string
		want     map[string][]string
	}{
		{name: "two services", services: []string{"sales", "support"},
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
			putAgents(t, s, agent("alice", contactpad.Available, t0, tt.services...))
			for service, want := range tt.want {
				require.Equal(t, want, candidates(service), "candidates for %s", service)
			}
		})
	}
}

func testCandidates(t *testing.T, s adapter.Store) {
	putAgents(t, s,
		agent("a1", contactpad.Available, at(2*time.Minute), "sales"),
		agent("a2", contactpad.Available, t0, "sales", "support"),
		agent("a3", contactpad.Available, time.Time{}, "sales"), // never offered anything
		agent("a4", contactpad.Busy, time.Time{}, "sales"),
		agent("a5", contactpad.Available, time.Time{}, "support"),
		agent("a6", contactpad.Available, t0, "sales"),
		agent("a7", contactpad.Interruptible, time.Time{}, "sales"),
		agent("a8", contactpad.LoggedOut, time.Time{}, "sales"),
	)
	// a2 holds a live interaction and a non-live transfer delivered to it.
	putInteractions(t, s,
		owned("i1", "a2", contactpad.Live, contactpad.Connected),
		owned("i2", "a4", contactpad.NonLive, contactpad.Connected),
	)
	putTransfers(t, s, &contactpad.Transfer{
		ID: "t1", InteractionID: "i2", Status: contactpad.TransferInitiated, Initiator: "a4", Assignee: "a2",
	})

	// An agent's load counts whatever service its work came from.
	loads := map[string]contactpad.Capacity{
		"a2": {contactpad.Live: 1, contactpad.NonLive: 1},
	}

	tests := []struct {
		name    string
		service string
		want    []string
	}{
		{
			name:    "available agents of the service, longest since last offer first",
			service: "sales",
			want:    []string{"a3", "a2", "a6", "a1"},
		},
		{name: "another service", service: "support", want: []string{"a5", "a2"}},
		{name: "nobody serves it", service: "billing", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, s, func(tx adapter.Tx) error {
				cs, err := tx.Candidates(tt.service)
				require.NoError(t, err)
				got := []string{}
				for _, c := range cs {
					got = append(got, c.Agent.ID)
					want := loads[c.Agent.ID]
					if want == nil {
						want = contactpad.Capacity{}
					}
					require.Equal(t, want, c.Load, "load of %s", c.Agent.ID)
					stored, err := tx.Agent(c.Agent.ID)
					require.NoError(t, err)
					require.Equal(t, stored, c.Agent)
				}
				require.Equal(t, tt.want, got)
				return nil
			})
		})
	}
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
