package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/enginetest"
	"github.com/ctibridge/ctibridge/contactpad"
)

// updatesStore notes of every Update how many fns it ran and which agents
// they put.
type updatesStore struct {
	adapter.Store
	mu      sync.Mutex
	updates []storeUpdate
}

type storeUpdate struct {
	fns    int
	agents []string
}

func (s *updatesStore) Update(ctx context.Context, fns []func(adapter.Tx) error) ([]error, error) {
	u := &storeUpdate{fns: len(fns)}
	wrapped := make([]func(adapter.Tx) error, len(fns))
	for k, fn := range fns {
		wrapped[k] = func(tx adapter.Tx) error { return fn(agentsPut{tx, u}) }
	}
	errs, err := s.Store.Update(ctx, wrapped)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates = append(s.updates, *u)
	return errs, err
}

type agentsPut struct {
	adapter.Tx
	u *storeUpdate
}

func (tx agentsPut) PutAgent(a *contactpad.Agent) error {
	tx.u.agents = append(tx.u.agents, a.ID)
	return tx.Tx.PutAgent(a)
}

// TestActionsCommitBeforeBackgroundWork: an agent's action that arrives
// behind a poll's worth of records commits in the next transaction,
// beside at most 32 of them, not after them all; the records all go in,
// in order, in the transactions after it.
func TestActionsCommitBeforeBackgroundWork(t *testing.T) {
	store := &updatesStore{Store: openSQLite(t)}
	run := func(engine *adapter.Engine) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- engine.Run(ctx) }()
		return func() { cancel(); require.NoError(t, <-done) }
	}
	// A first engine puts the agents in the store, so the second's first
	// transaction is what waits when it starts.
	first := adapter.New(store, enginetest.Settings())
	stop := run(first)
	<-first.Ready()
	stop()

	engine := adapter.New(store, enginetest.Settings())
	ctx := context.Background()
	var records []adapter.Command
	for k := range 100 {
		records = append(records, adapter.Ingest{Item: contactpad.WorkItem{CRMID: fmt.Sprintf("500%015d", k),
			CRMObject: "Case", Media: contactpad.NonLive, Service: "support"}})
	}
	ingested := engine.Queue(ctx, true, records)
	action := engine.Queue(ctx, false, []adapter.Command{adapter.SetPresence{Agent: "bob", Presence: contactpad.Available}})
	store.mu.Lock()
	before := len(store.updates)
	store.mu.Unlock()
	defer run(engine)()

	require.NoError(t, action()[0].Err)
	outs := ingested()
	for k, out := range outs {
		require.NoError(t, out.Err, "record %d", k)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	updates := store.updates[before:]
	k := slices.IndexFunc(updates, func(u storeUpdate) bool { return slices.Contains(u.agents, "bob") })
	require.Equal(t, 0, k, "bob's action commits in the first transaction: %+v", updates)
	// Beside it: the engine's SyncAgents at start, if it came in time,
	// and at most 32 records.
	require.LessOrEqual(t, updates[0].fns, 1+1+32, "bob's transaction")
	require.Greater(t, len(updates), 3, "the records went in over several transactions")

	// In order: the first record queued was offered to bob first.
	var first5 []string
	require.NoError(t, store.View(ctx, func(tx adapter.Tx) error {
		held, err := tx.Interactions(adapter.InteractionFilter{Owner: "bob"})
		for _, i := range held {
			first5 = append(first5, i.CRMID)
		}
		return err
	}))
	require.NotEmpty(t, first5)
	require.Equal(t, fmt.Sprintf("500%015d", 0), first5[0], "records go in in the order they were queued")
}

// TestAppendedCountsCommittedRows: the engine counts the outbox rows its
// commands append, for the writer, only for the commands that committed.
func TestAppendedCountsCommittedRows(t *testing.T) {
	store := openSQLite(t)
	engine := adapter.New(store, enginetest.Settings())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	<-engine.Ready()

	row := func(crmID string) adapter.OutboxRow {
		return adapter.OutboxRow{CRMObject: "Case", CRMID: crmID, Kind: adapter.OutboxChange, Payload: []byte(`{}`),
			State: adapter.OutboxPending, CreatedAt: time.Now().UTC()}
	}
	refused := errors.New("refused")
	outs := engine.ApplyAll(ctx, []adapter.Command{
		adapter.AppendThen{Row: row("500000000000000001")},
		adapter.AppendThen{Row: row("500000000000000002"), Err: refused},
		adapter.AppendThen{Row: row("500000000000000003")},
	})
	require.NoError(t, outs[0].Err)
	require.ErrorIs(t, outs[1].Err, refused)
	require.NoError(t, outs[2].Err)
	require.Equal(t, int64(2), engine.Appended(), "the rows of the two commands that committed")
	var pending []adapter.OutboxRow
	require.NoError(t, store.View(ctx, func(tx adapter.Tx) (err error) {
		pending, err = tx.Outbox(adapter.OutboxPending, 10)
		return err
	}))
	require.Len(t, pending, 2, "the failed command's row was rolled back")
}
