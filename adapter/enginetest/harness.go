// Package enginetest is the behaviour suite of the engine: DESIGN.md's
// behaviour list as tests, run against any adapter.Store so that every
// store (SQLite, PostgreSQL) shows the same behaviour. A store package runs
// it with enginetest.Run(t, open).
package enginetest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"
)

// Opener makes a fresh, empty database for one test and returns the
// function that opens it; calling that again after Close reopens the same
// database, as a restarted process would. Both are called inside the test's
// synctest bubble when there is one; the harness closes the store.
type Opener func(t testing.TB) (open func() adapter.Store)

// Settings returns the settings the suite runs with: services support and
// billing; alice serves both, bob support, carol billing; capacities live
// 1, semi-live 3, non-live 5; the defaults of API.md otherwise.
func Settings() adapter.Settings {
	s := adapter.Defaults()
	capacity := contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: 5}
	s.Services = []contactpad.Service{{ID: "support", Name: "Support"}, {ID: "billing", Name: "Billing"}}
	s.Agents = []contactpad.Agent{
		{ID: "alice", Name: "Alice", CRMUserID: "005000000000001AAA", Services: []string{"support", "billing"}, Capacity: capacity},
		{ID: "bob", Name: "Bob", CRMUserID: "005000000000002AAA", Services: []string{"support"}, Capacity: capacity},
		{ID: "carol", Name: "Carol", CRMUserID: "005000000000003AAA", Services: []string{"billing"}, Capacity: capacity},
	}
	return s
}

// slack is how far past a deadline the timer tests step. The engine gives
// every command a strictly later time than the one before (first come,
// first served), so in a synctest bubble, where time stands still between
// sleeps, a timer armed by the k-th command of an instant is due k
// nanoseconds after the round deadline.
const slack = time.Millisecond

// Harness is a running engine over a fresh store.
type Harness struct {
	T      testing.TB
	Engine *adapter.Engine
	Store  adapter.Store
	open   func() adapter.Store
	cancel context.CancelFunc
	done   chan error
	seq    int
	// Log holds the engine's log lines.
	Log *logtest.Hook
}

// Start opens a store and runs an engine over it with Settings, changed by
// tweak if not nil. Call Stop when done (with defer inside a synctest bubble).
func Start(t testing.TB, open Opener, tweak func(*adapter.Settings)) *Harness {
	t.Helper()
	s := Settings()
	if tweak != nil {
		tweak(&s)
	}
	reopen := open(t)
	h := &Harness{T: t, Store: reopen(), open: reopen}
	h.run(s)
	return h
}

// quietLog discards the engine's log lines in tests.
func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func (h *Harness) run(s adapter.Settings) {
	// The harness's engine keeps its lines in h.Log, and prints none.
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	h.Log = hook
	h.Engine = adapter.New(h.Store, s, adapter.WithLogger(log))
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.Engine.Run(ctx) }()
	// Tests start once Run has synced the agents.
	select {
	case <-h.Engine.Ready():
	case err := <-h.done:
		h.T.Fatalf("engine stopped at start: %v", err)
	}
}

// StopEngine stops the engine and leaves the store open.
func (h *Harness) StopEngine() {
	h.cancel()
	require.NoError(h.T, <-h.done)
}

// Stop stops the engine and closes the store.
func (h *Harness) Stop() {
	h.StopEngine()
	require.NoError(h.T, h.Store.Close())
}

// Crash stops the engine and closes the store without any other cleanup.
func (h *Harness) Crash() {
	h.Stop()
}

// Restart reopens the store and runs a new engine over it, as a restarted
// process would.
func (h *Harness) Restart(s adapter.Settings) {
	h.Store = h.open()
	h.run(s)
}

// Do applies cmd and fails the test on error.
func (h *Harness) Do(cmd adapter.Command) adapter.Result {
	h.T.Helper()
	res, err := h.Engine.Apply(context.Background(), cmd)
	require.NoError(h.T, err, "%T", cmd)
	return res
}

// Refused applies cmd, requires it to fail with the API error code, and
// returns the error.
func (h *Harness) Refused(cmd adapter.Command, code string) error {
	h.T.Helper()
	_, err := h.Engine.Apply(context.Background(), cmd)
	require.Error(h.T, err, "%T should be refused with %s", cmd, code)
	require.Equal(h.T, code, adapter.Code(err), "%T: %v", cmd, err)
	return err
}

// Ingest makes an interaction from a new CRM record.
func (h *Harness) Ingest(media contactpad.Media, service string) *contactpad.Interaction {
	h.T.Helper()
	h.seq++
	return h.IngestItem(contactpad.WorkItem{CRMID: fmt.Sprintf("500%015d", h.seq), CRMObject: "Case",
		Media: media, Service: service, Subject: fmt.Sprintf("Case %d", h.seq)})
}

// IngestItem ingests item and returns the interaction made from it.
func (h *Harness) IngestItem(item contactpad.WorkItem) *contactpad.Interaction {
	h.T.Helper()
	res := h.Do(adapter.Ingest{Item: item})
	require.NotNil(h.T, res.Interaction)
	return h.Get(res.Interaction.ID)
}

// Presence sets an agent's presence.
func (h *Harness) Presence(agent string, p contactpad.Presence) {
	h.T.Helper()
	h.Do(adapter.SetPresence{Agent: agent, Presence: p})
}

// Connected returns a new interaction of media connected to agent, who is
// made available first.
func (h *Harness) Connected(agent string, media contactpad.Media) *contactpad.Interaction {
	h.T.Helper()
	h.Presence(agent, contactpad.Available)
	service := "support"
	if agent == "carol" {
		service = "billing"
	}
	i := h.Ingest(media, service)
	require.Equal(h.T, agent, i.Owner, "routed to %s", agent)
	if i.Status == contactpad.Offered {
		h.Do(adapter.Accept{ID: i.ID, Agent: agent})
	}
	i = h.Get(i.ID)
	require.Equal(h.T, contactpad.Connected, i.Status)
	return i
}

// Get reads an interaction.
func (h *Harness) Get(id string) *contactpad.Interaction {
	h.T.Helper()
	var i *contactpad.Interaction
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		i, err = tx.Interaction(id)
		return err
	}))
	return i
}

// Transfer reads a transfer.
func (h *Harness) Transfer(id string) *contactpad.Transfer {
	h.T.Helper()
	var t *contactpad.Transfer
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		t, err = tx.Transfer(id)
		return err
	}))
	return t
}

// Consult reads a consult.
func (h *Harness) Consult(id string) *contactpad.Consult {
	h.T.Helper()
	var k *contactpad.Consult
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		k, err = tx.Consult(id)
		return err
	}))
	return k
}

// Agent reads an agent.
func (h *Harness) Agent(id string) *contactpad.Agent {
	h.T.Helper()
	var a *contactpad.Agent
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		a, err = tx.Agent(id)
		return err
	}))
	return a
}

// Load reads what an agent holds per media type.
func (h *Harness) Load(agent string) contactpad.Capacity {
	h.T.Helper()
	var load contactpad.Capacity
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		load, err = tx.Load(agent)
		return err
	}))
	return load
}

// Audit reads an interaction's audit trail.
func (h *Harness) Audit(id string) []contactpad.AuditEntry {
	h.T.Helper()
	var out []contactpad.AuditEntry
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		out, err = tx.Audit(id)
		return err
	}))
	return out
}

// Events reads every committed event of the given types (all if none).
func (h *Harness) Events(types ...adapter.EventType) []adapter.Event {
	h.T.Helper()
	var out []adapter.Event
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		after := int64(0)
		for {
			page, err := tx.EventsAfter(after, 1000)
			if err != nil || len(page) == 0 {
				return err
			}
			for _, e := range page {
				if len(types) == 0 || containsType(types, e.Type) {
					out = append(out, e)
				}
			}
			after = page[len(page)-1].Seq
		}
	}))
	return out
}

func containsType(types []adapter.EventType, t adapter.EventType) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// Outbox reads every pending outbox row.
func (h *Harness) Outbox() []adapter.OutboxRow { return h.outbox(adapter.OutboxPending) }

func (h *Harness) outbox(state adapter.OutboxState) []adapter.OutboxRow {
	h.T.Helper()
	var out []adapter.OutboxRow
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		out, err = tx.Outbox(state, 1_000_000)
		return err
	}))
	return out
}

// Interactions lists interactions matching f.
func (h *Harness) Interactions(f adapter.InteractionFilter) []*contactpad.Interaction {
	h.T.Helper()
	var out []*contactpad.Interaction
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		out, err = tx.Interactions(f)
		return err
	}))
	return out
}

// Timers lists every timer armed up to horizon.
func (h *Harness) Timers(horizon time.Time) []adapter.Timer {
	h.T.Helper()
	var out []adapter.Timer
	require.NoError(h.T, h.Store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		out, err = tx.DueTimers(horizon, 1_000_000)
		return err
	}))
	return out
}

// LastAudit returns an interaction's newest audit entry.
func (h *Harness) LastAudit(id string) contactpad.AuditEntry {
	h.T.Helper()
	trail := h.Audit(id)
	require.NotEmpty(h.T, trail)
	return trail[len(trail)-1]
}

// parallel runs f for every n in [0, count) on its own goroutine and waits.
func parallel(count int, f func(n int)) {
	var wg sync.WaitGroup
	for n := range count {
		wg.Go(func() { f(n) })
	}
	wg.Wait()
}
