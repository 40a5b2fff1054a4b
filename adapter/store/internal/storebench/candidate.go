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

// FillCandidates stores Candidate's fleet: CandidateAgents available
// agents, each serving one of CandidateServices services and holding
// CandidateCapacity-1 non-live interactions (the last in wrap-up), with
// as many completed beside them. The agents of the odd services hold one
// more, offered: they are full.
func FillCandidates(ctx context.Context, s adapter.Store) error {
	now := time.Now()
	return adapter.UpdateOne(ctx, s, func(tx adapter.Tx) error {
		for k := range CandidateAgents {
			a := &contactpad.Agent{
				ID: fmt.Sprintf("agent%04d", k), Name: fmt.Sprintf("Agent %d", k),
				Services: []string{candidateService(k % CandidateServices)},
				Capacity: contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: CandidateCapacity},
				Presence: contactpad.Available, PresenceAt: now, LastOfferAt: now.Add(-time.Duration(k) * time.Second),
			}
			if err := tx.PutAgent(a); err != nil {
				return err
			}
			statuses := []contactpad.Status{contactpad.Connected, contactpad.Connected, contactpad.Connected, contactpad.WrapUp}
			if k%2 == 1 {
				statuses = append(statuses, contactpad.Offered)
			}
			for range CandidateCapacity {
				statuses = append(statuses, contactpad.Completed)
			}
			for j, status := range statuses {
				i := Interaction(fmt.Sprintf("%s-%d", a.ID, j), 1, now)
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

func candidateService(k int) string { return fmt.Sprintf("service%02d", k) }

// Candidate measures routing's choice of an agent (one op: a View of one
// Tx.Candidate) in the fleet FillCandidates stored. "room": in an even
// service, where every agent has one free place, so the first in idle
// order is found (routing at a held load). "full": in an odd service,
// where no one is found (routing a new record while the queue is long).
func Candidate(b *testing.B, s adapter.Store) {
	ctx := context.Background()
	candidate := func(b *testing.B, odd int) {
		for n := 0; b.Loop(); n++ {
			q := adapter.CandidateQuery{Service: candidateService(2*(n%(CandidateServices/2)) + odd), Media: contactpad.NonLive}
			err := s.View(ctx, func(tx adapter.Tx) error {
				_, err := tx.Candidate(q)
				if err != nil && !errors.Is(err, adapter.ErrNotFound) {
					return err
				}
				if found, want := err == nil, odd == 0; found != want {
					return fmt.Errorf("candidate in %s: found %t, want %t", q.Service, found, want)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("room", func(b *testing.B) { candidate(b, 0) })
	b.Run("full", func(b *testing.B) { candidate(b, 1) })
}
