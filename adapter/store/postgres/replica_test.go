package postgres_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/postgres"
	"github.com/ctibridge/ctibridge/adapter/store/postgres/pgtest"
	"github.com/ctibridge/ctibridge/contactpad"
)

// These tests run several engines, each with its own store (pool), timer
// loop and writeback loop, on one PostgreSQL schema, as replicas in
// separate processes would. They talk to a real server over sockets, so
// they cannot run in a synctest bubble: they wait for outcomes with bounded
// polls (waitFor) and assert on the store afterwards, never on elapsed time.

// replica is one engine over its own store.
type replica struct {
	name   string
	store  *postgres.Store
	engine *adapter.Engine
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// replicaOptions are what tells the replicas of a test apart.
type replicaOptions struct {
	// taken records the timers the replica's commits take.
	taken *takenLog
	// sink, when not nil, gets the replica's writeback loop.
	sink adapter.Sink
	// blockTake, when not nil, runs inside the firing fn right after a
	// timer is taken (see recordingStore).
	blockTake func(adapter.Timer)
	// clock is the engine's clock (default time.Now).
	clock func() time.Time
}

// writebackLease is the outbox lease of the replicas.
const writebackLease = time.Minute

// startReplica opens a store on dsn and runs an engine over it with its
// timer loop and, when o.sink is set, its writeback loop.
func startReplica(t *testing.T, dsn, name string, s adapter.Settings, o replicaOptions) *replica {
	t.Helper()
	st, err := postgres.Open(t.Context(), pgtest.WithParam(dsn, "application_name", "ctibridge-"+name))
	require.NoError(t, err)
	r := &replica{name: name, store: st}
	if o.taken == nil {
		o.taken = &takenLog{}
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	opts := []adapter.Option{adapter.WithLogger(log), adapter.WithIdlePoll(50 * time.Millisecond)}
	if o.clock != nil {
		opts = append(opts, adapter.WithClock(o.clock))
	}
	r.engine = adapter.New(&recordingStore{Store: st, log: o.taken, replica: name, blockTake: o.blockTake}, s, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() { _ = r.engine.Run(ctx) })
	if o.sink != nil {
		r.wg.Go(func() { r.engine.RunWriteback(ctx, o.sink, adapter.SyncOptions{Lease: writebackLease}) })
	}
	t.Cleanup(r.stop)
	return r
}

// stop stops the replica cleanly; a second call does nothing.
func (r *replica) stop() {
	r.cancel()
	r.wg.Wait()
	_ = r.store.Close()
}

// takenLog records the timers taken by committed fns, by every replica.
type takenLog struct {
	mu    sync.Mutex
	taken map[adapter.Timer][]string
}

func (l *takenLog) add(replica string, tms []adapter.Timer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.taken == nil {
		l.taken = map[adapter.Timer][]string{}
	}
	for _, tm := range tms {
		tm.DueAt = tm.DueAt.UTC()
		l.taken[tm] = append(l.taken[tm], replica)
	}
}

// twice lists the timers taken more than once.
func (l *takenLog) twice() map[adapter.Timer][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[adapter.Timer][]string{}
	for tm, by := range l.taken {
		if len(by) > 1 {
			out[tm] = by
		}
	}
	return out
}

func (l *takenLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.taken)
}

// recordingStore notes the timers that the committed fns of its Updates
// took, and can hold a fn that took a timer (blockTake), as a replica that
// froze mid-fire.
type recordingStore struct {
	adapter.Store
	log     *takenLog
	replica string
	// blockTake, when set, is called inside the fn right after a take.
	blockTake func(adapter.Timer)
}

func (s *recordingStore) Update(ctx context.Context, fns []func(adapter.Tx) error) ([]error, error) {
	took := make([][]adapter.Timer, len(fns))
	wrapped := make([]func(adapter.Tx) error, len(fns))
	for k, fn := range fns {
		wrapped[k] = func(tx adapter.Tx) error {
			took[k] = nil
			return fn(&recordingTx{Tx: tx, took: &took[k], block: s.blockTake})
		}
	}
	errs, err := s.Store.Update(ctx, wrapped)
	if err == nil {
		for k := range fns {
			if errs[k] == nil {
				s.log.add(s.replica, took[k])
			}
		}
	}
	return errs, err
}

type recordingTx struct {
	adapter.Tx
	took  *[]adapter.Timer
	block func(adapter.Timer)
}

func (t *recordingTx) TakeTimer(tm adapter.Timer) (bool, error) {
	ok, err := t.Tx.TakeTimer(tm)
	if ok && err == nil {
		*t.took = append(*t.took, tm)
		if t.block != nil {
			t.block(tm)
		}
	}
	return ok, err
}

// recordingSink writes nothing and counts each outbox row it is given.
type recordingSink struct {
	mu      sync.Mutex
	written map[int64][]string
	records map[string]int // rows written per CRM record
}

func (s *recordingSink) as(replica string) adapter.Sink { return sinkOf{s, replica} }

type sinkOf struct {
	s       *recordingSink
	replica string
}

func (k sinkOf) Write(_ context.Context, rows []adapter.OutboxRow) []error {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	if k.s.written == nil {
		k.s.written, k.s.records = map[int64][]string{}, map[string]int{}
	}
	for _, r := range rows {
		k.s.written[r.ID] = append(k.s.written[r.ID], k.replica)
		k.s.records[r.CRMID]++
	}
	return make([]error, len(rows))
}

// writtenFor counts the rows written for the CRM record crmID.
func (s *recordingSink) writtenFor(crmID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[crmID]
}

func (s *recordingSink) snapshot() map[int64][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64][]string, len(s.written))
	for id, by := range s.written {
		out[id] = slices.Clone(by)
	}
	return out
}

// waitFor polls cond every 20ms until it holds, failing t after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counts reads the store's counts.
func counts(t *testing.T, s adapter.Store) adapter.Counts {
	t.Helper()
	var c adapter.Counts
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) (err error) {
		c, err = tx.Counts()
		return err
	}))
	return c
}

// replicaSettings: one service, agents a00.. with room for two non-live
// interactions each; offers must be accepted within 150ms, wrap-up lasts
// 30ms, so that timers fire all the time.
func replicaSettings(agents int) adapter.Settings {
	s := adapter.Defaults()
	s.AutoAccept = map[contactpad.Media]bool{contactpad.NonLive: false}
	s.PushTimeout = 150 * time.Millisecond
	s.WrapUp = map[contactpad.Media]time.Duration{contactpad.NonLive: 30 * time.Millisecond}
	s.Inactivity = nil
	s.Services = []contactpad.Service{{ID: "support", Name: "Support"}}
	for n := range agents {
		s.Agents = append(s.Agents, contactpad.Agent{ID: fmt.Sprintf("a%02d", n), Name: fmt.Sprintf("Agent %d", n),
			Services: []string{"support"}, Capacity: contactpad.Capacity{contactpad.NonLive: 2}})
	}
	return s
}

// TestReplicas runs 2 and 3 replicas on one database while agents act on
// all of them at once: offers accepted, declined and left to time out,
// interactions released, wrap-ups ended by timers. Afterwards no
// interaction was ever owned twice (each one's audit trail is one chain of
// transitions), no agent was over capacity in any snapshot, every timer
// was taken once, and every outbox row was written back once.
func TestReplicas(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) { testReplicas(t, n) })
	}
}

func testReplicas(t *testing.T, replicas int) {
	const (
		agents       = 12
		interactions = 90
	)
	dsn := pgtest.DSN(t)
	s := replicaSettings(agents)
	var taken takenLog
	var sink recordingSink
	var rs []*replica
	for k := range replicas {
		name := fmt.Sprintf("r%d", k)
		rs = append(rs, startReplica(t, dsn, name, s, replicaOptions{taken: &taken, sink: sink.as(name)}))
	}
	for _, r := range rs {
		<-r.engine.Ready()
	}
	ctx := t.Context()

	// commitErrs counts commands that failed to commit (not refused by the
	// engine, which racing agents expect, but failed in the store).
	var commitErrs atomic.Int64
	apply := func(r *replica, cmd adapter.Command) error {
		_, err := r.engine.Apply(ctx, cmd)
		if err != nil && adapter.Code(err) == adapter.CodeInternal {
			commitErrs.Add(1)
			t.Logf("%s: %T: %v", r.name, cmd, err)
		}
		return err
	}

	// Work arrives on every replica at once.
	var ingest sync.WaitGroup
	for k := range interactions {
		ingest.Go(func() {
			_ = apply(rs[k%replicas], adapter.Ingest{Item: contactpad.WorkItem{
				CRMID: fmt.Sprintf("500%04d", k), CRMObject: "Case", Media: contactpad.NonLive,
				Service: "support", Subject: fmt.Sprintf("case %d", k), Priority: k % 3,
			}})
		})
	}

	completed := func() bool {
		return counts(t, rs[0].store).Interactions[contactpad.Completed] == interactions
	}
	stop := make(chan struct{})
	var work sync.WaitGroup
	// Each agent acts through a different replica at every step.
	for a := range agents {
		agent := s.Agents[a].ID
		work.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(a), uint64(replicas)))
			for step := 0; ; step++ {
				select {
				case <-stop:
					return
				default:
				}
				r := rs[(a+step)%replicas]
				var mine []*contactpad.Interaction
				var me *contactpad.Agent
				if err := r.store.View(ctx, func(tx adapter.Tx) (err error) {
					if me, err = tx.Agent(agent); err != nil {
						return err
					}
					mine, err = tx.Interactions(adapter.InteractionFilter{Owner: agent,
						Statuses: []contactpad.Status{contactpad.Offered, contactpad.Connected}})
					return err
				}); err != nil {
					return
				}
				if me.Presence != contactpad.Available {
					_ = apply(r, adapter.SetPresence{Agent: agent, Presence: contactpad.Available})
				}
				for _, i := range mine {
					r := rs[rng.IntN(replicas)]
					switch {
					case i.Status == contactpad.Connected:
						_ = apply(r, adapter.Release{ID: i.ID, Agent: agent})
					case rng.IntN(10) < 7:
						_ = apply(r, adapter.Accept{ID: i.ID, Agent: agent})
					case rng.IntN(3) == 0:
						_ = apply(r, adapter.Decline{ID: i.ID, Agent: agent, Reason: "busy"})
					default:
						// Left to the push timeout.
					}
				}
				time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
			}
		})
	}
	// A watcher checks capacity in snapshots while the agents work.
	var overCapacity []string
	work.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = rs[0].store.View(ctx, func(tx adapter.Tx) error {
				for _, a := range s.Agents {
					load, err := tx.Load(a.ID)
					if err != nil {
						return err
					}
					if load[contactpad.NonLive] > a.Capacity[contactpad.NonLive] {
						overCapacity = append(overCapacity, fmt.Sprintf("%s holds %d", a.ID, load[contactpad.NonLive]))
					}
				}
				return nil
			})
			time.Sleep(5 * time.Millisecond)
		}
	})
	ingest.Wait()
	waitFor(t, 90*time.Second, "every interaction completed", completed)
	close(stop)
	work.Wait()
	waitFor(t, 30*time.Second, "the outbox drained", func() bool {
		c := counts(t, rs[0].store)
		return c.Outbox[adapter.OutboxPending]+c.Outbox[adapter.OutboxInFlight]+c.Outbox[adapter.OutboxParked] == 0
	})
	for _, r := range rs {
		r.stop()
	}

	require.Zero(t, commitErrs.Load(), "commands that failed in the store")
	require.Empty(t, overCapacity, "an agent held more than its capacity")
	require.Empty(t, taken.twice(), "timers taken more than once")
	require.NotZero(t, taken.count(), "timers fired")
	written := sink.snapshot()
	require.NotEmpty(t, written)
	for id, by := range written {
		require.Len(t, by, 1, "outbox row %d written by %v", id, by)
	}
	check := openCheck(t, dsn)
	requireConsistentAudit(t, check, interactions)
	requireEventsInOrder(t, check)
	t.Logf("%d replicas: %d timers fired, %d outbox rows written once", replicas, taken.count(), len(written))
}

// openCheck opens another store on dsn to read what the replicas left.
func openCheck(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// requireConsistentAudit checks that every interaction is completed and
// its audit trail is one chain: each transition starts where the one
// before ended. Two replicas deciding on the same state (an interaction
// offered twice, a timer fired twice) would break the chain.
func requireConsistentAudit(t *testing.T, s adapter.Store, want int) {
	t.Helper()
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
		is, err := tx.Interactions(adapter.InteractionFilter{})
		require.NoError(t, err)
		require.Len(t, is, want)
		for _, i := range is {
			require.Equal(t, contactpad.Completed, i.Status, i.ID)
			entries, err := tx.Audit(i.ID)
			require.NoError(t, err)
			var at contactpad.Status
			for _, e := range entries {
				if e.ToStatus == "" || e.FromStatus == e.ToStatus {
					continue
				}
				if at != "" {
					require.Equal(t, at, e.FromStatus, "interaction %s: %q after %s", i.ID, e.Action, at)
				}
				at = e.ToStatus
			}
			require.Equal(t, contactpad.Completed, at, i.ID)
		}
		return nil
	}))
}

// requireEventsInOrder checks that event seqs increase.
func requireEventsInOrder(t *testing.T, s adapter.Store) {
	t.Helper()
	require.NoError(t, s.View(t.Context(), func(tx adapter.Tx) error {
		events, err := tx.EventsAfter(0, 0)
		require.NoError(t, err)
		require.NotEmpty(t, events)
		for k := 1; k < len(events); k++ {
			require.Greater(t, events[k].Seq, events[k-1].Seq)
		}
		return nil
	}))
}
