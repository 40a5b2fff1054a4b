package storebench

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// The shape of Candidate's fleet: as ctibridge bench's 1,000 agents in 20
// services, each able to hold CandidateCapacity Cases.
const (
	CandidateAgents   = 1_000
	CandidateServices = 20
	CandidateCapacity = 5
)

// Candidate measures routing's choice of an agent (one op: a View of one
// Tx.Candidate) in a fleet of CandidateAgents available agents, each
// serving one of CandidateServices services and holding CandidateCapacity
// non-live interactions, with ended work of the same agents beside them.
// "full": every agent is at capacity, so no one is found (routing a new
// record while the queue is long). "room": every agent has one free
// place, so the first in idle order is found (routing at a held load).
// Run it from a store's benchmark with a fresh store.
func Candidate(b *testing.B, s adapter.Store) {
	ctx := context.Background()
	now := time.Now()
	agents := make([]*contactpad.Agent, CandidateAgents)
	for k := range agents {
		agents[k] = &contactpad.Agent{
			ID: fmt.Sprintf("agent%04d", k), Name: fmt.Sprintf("Agent %d", k),
			Services: []string{fmt.Sprintf("service%02d", k%CandidateServices)},
			Capacity: contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: CandidateCapacity},
			Presence: contactpad.Available, PresenceAt: now, LastOfferAt: now.Add(-time.Duration(k) * time.Second),
		}
	}
	// Each agent holds CandidateCapacity interactions, the last one in
	// wrap-up, and has completed as many.
	put := func(status contactpad.Status, n int) error {
		return adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error {
			for _, a := range agents {
				for j := range n {
					i := Interaction(fmt.Sprintf("%s-%s-%d", a.ID, status, j), 1, now)
					i.CRMID = "500" + i.ID
					i.Owner, i.Service, i.Status = a.ID, a.Services[0], status
					if err := tx.PutInteraction(i); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	err := adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error {
		for _, a := range agents {
			if err := tx.PutAgent(a); err != nil {
				return err
			}
		}
		return nil
	})
	for _, step := range []struct {
		status contactpad.Status
		n      int
	}{{contactpad.Connected, CandidateCapacity - 2}, {contactpad.WrapUp, 1}, {contactpad.Completed, CandidateCapacity}} {
		if err == nil {
			err = put(step.status, step.n)
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	candidate := func(b *testing.B, want bool) {
		for n := 0; b.Loop(); n++ {
			q := adapter.CandidateQuery{Service: fmt.Sprintf("service%02d", n%CandidateServices), Media: contactpad.NonLive}
			err := s.View(ctx, func(tx adapter.Tx) error {
				_, err := tx.Candidate(q)
				if found := err == nil; found != want && (err == nil || errors.Is(err, adapter.ErrNotFound)) {
					return fmt.Errorf("candidate in %s: found %t, want %t", q.Service, found, want)
				} else if err != nil && !errors.Is(err, adapter.ErrNotFound) {
					return err
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("room", func(b *testing.B) { candidate(b, true) })
	if err := put(contactpad.Offered, 1); err != nil {
		b.Fatal(err)
	}
	b.Run("full", func(b *testing.B) { candidate(b, false) })
}
