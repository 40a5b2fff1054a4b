package sqlite

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// BenchmarkRoutingReads measures the reads routing makes on every command,
// in a View, against a busy contact centre: 200 available agents in 4
// services, each holding its 2 non-live interactions (full), and 500 open
// transfers, all delivered. One op is one read.
//
//	go test -run '^$' -bench RoutingReads ./adapter/store/sqlite/
func BenchmarkRoutingReads(b *testing.B) {
	s := openTemp(b)
	now := time.Date(2025, time.March, 1, 9, 30, 0, 0, time.UTC)
	var fns []func(adapter.Tx) error
	for n := range 200 {
		a := &contactpad.Agent{
			ID: fmt.Sprintf("agent%03d", n), Services: []string{fmt.Sprintf("svc%d", n%4)},
			Capacity: contactpad.Capacity{contactpad.NonLive: 2}, Presence: contactpad.Available,
			PresenceAt: now, LastOfferAt: now.Add(time.Duration(n) * time.Second),
		}
		fns = append(fns, func(tx adapter.Tx) error { return tx.PutAgent(a) })
		for k := range 2 {
			i := &contactpad.Interaction{
				ID: fmt.Sprintf("i-%s-%d", a.ID, k), CRMID: fmt.Sprintf("%s-%d", a.ID, k), CRMObject: "Case",
				Media: contactpad.NonLive, Service: a.Services[0], Status: contactpad.Connected, Owner: a.ID,
				Tags: []string{}, CreatedAt: now, LastActivityAt: now, UpdatedAt: now,
			}
			fns = append(fns, func(tx adapter.Tx) error { return tx.PutInteraction(i) })
		}
	}
	for n := range 500 {
		t := &contactpad.Transfer{
			ID: fmt.Sprintf("t%03d", n), InteractionID: fmt.Sprintf("i-agent%03d-0", n%200), Mode: contactpad.Warm,
			Status: contactpad.TransferAccepted, Initiator: "x", Assignee: "y", CreatedAt: now, UpdatedAt: now,
		}
		fns = append(fns, func(tx adapter.Tx) error { return tx.PutTransfer(t) })
	}
	_, err := s.Update(b.Context(), fns)
	require.NoError(b, err)

	for _, bc := range []struct {
		name string
		read func(tx adapter.Tx) error
	}{
		{name: "candidate, all full", read: func(tx adapter.Tx) error {
			_, err := tx.Candidate(adapter.CandidateQuery{Service: "svc1", Media: contactpad.NonLive})
			if err != nil && !errors.Is(err, adapter.ErrNotFound) {
				return err
			}
			return nil
		}},
		{name: "load of an agent", read: func(tx adapter.Tx) error {
			_, err := tx.Load("agent007")
			return err
		}},
		{name: "agent", read: func(tx adapter.Tx) error {
			_, err := tx.Agent("agent007")
			return err
		}},
		{name: "nothing", read: func(tx adapter.Tx) error { return nil }},
		{name: "undelivered transfers", read: func(tx adapter.Tx) error {
			_, err := tx.OpenTransfers(adapter.TransferFilter{Undelivered: true})
			return err
		}},
		{name: "open transfers of an interaction", read: func(tx adapter.Tx) error {
			_, err := tx.OpenTransfers(adapter.TransferFilter{InteractionID: "i-agent007-0"})
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				require.NoError(b, s.View(b.Context(), bc.read))
			}
		})
	}
}
