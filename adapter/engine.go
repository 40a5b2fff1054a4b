// Package adapter is the engine of ctibridge: the interaction state machine,
// routing, transfers, consults, wrap-up, deferral, timers, audit and events.
//
// Every state change is a Command applied by Engine.Apply: one store
// transaction that writes the new state with its audit entries, events,
// outbox rows and timers, or nothing. The Store is the only authority; the
// engine keeps no state of its own between commands, so several engines may
// share one store. Timers are store rows; one scheduler loop per engine
// sleeps until the earliest and fires it as a command.
package adapter

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
)

// Engine applies commands to a Store and fires its timers.
type Engine struct {
	store    *watchedStore
	cfg      atomic.Pointer[engineConfig] // replaced whole by Reconfigure
	log      logrus.FieldLogger
	now      func() time.Time
	maxBatch int
	idlePoll time.Duration
	onEvents func([]Event)
	metrics  *Metrics  // nil: none
	holder   string    // names this engine in the store's leases
	started  time.Time // when New made it: its own outbox rows wait ReclaimAfter from then
	last     time.Time // the previous command's time; owned by the commit goroutine

	// reqs are the commands of callers waiting for them (agents' and
	// admins' actions); background, the engine's own (ingest, timers,
	// presence followed, offers refused), taken at most backgroundBatch a
	// transaction beside them, so that an agent's action never waits
	// behind a whole poll or a burst of timers.
	reqs       chan *request
	background chan *request
	// wake tells the scheduler that a commit armed a timer due before
	// sleepUntil: the UnixNano time of the engine's clock until which it
	// sleeps without reading the store; math.MaxInt64 while it reads, so
	// that a timer armed meanwhile, which the read may miss, wakes it.
	wake       chan struct{}
	sleepUntil atomic.Int64
	written    chan struct{} // a commit wrote outbox rows: wakes RunWriteback
	// appended counts the outbox rows this engine's commands committed,
	// and recount is set by WakeWriteback: RunWriteback counts what is due
	// again only when they may have made a CRM call's worth due.
	appended atomic.Int64
	recount  atomic.Bool
	// unreachable counts the writer's calls in a row that the CRM did not
	// answer (UnavailableError): their rows back off by it.
	unreachable atomic.Int64
	ready       chan struct{}
	stopped     chan struct{}
	stop        sync.Once
}

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger (default: logrus's standard logger).
func WithLogger(l logrus.FieldLogger) Option { return func(e *Engine) { e.log = l } }

// WithHolder names the engine in the store's leases (see Lease; default:
// NewHolder). A replica that keeps its name across restarts takes its
// leases back at once.
func WithHolder(name string) Option { return func(e *Engine) { e.holder = name } }

// WithClock sets the clock (default time.Now). Tests use testing/synctest
// rather than a fake clock; this is for tools that replay time.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithMaxBatch bounds how many actions share one transaction (default 512);
// the engine's own commands (ingest, timers) may add as many again.
func WithMaxBatch(n int) Option { return func(e *Engine) { e.maxBatch = n } }

// WithIdlePoll sets how often the scheduler looks for timers armed by other
// engines sharing the store (default 10s).
func WithIdlePoll(d time.Duration) Option { return func(e *Engine) { e.idlePoll = d } }

// OnEvents registers f to be called with the events of every committed
// batch, in Seq order, from the engine's commit goroutine. f must not block.
func OnEvents(f func([]Event)) Option { return func(e *Engine) { e.onEvents = f } }

// New returns an engine over store with settings s. Call Run to start it.
func New(store Store, s Settings, opts ...Option) *Engine {
	e := &Engine{
		log: logrus.StandardLogger(), now: time.Now, maxBatch: 512, idlePoll: 10 * time.Second, holder: NewHolder(),
		reqs: make(chan *request, 1024), background: make(chan *request, 1024), wake: make(chan struct{}, 1), written: make(chan struct{}, 1), ready: make(chan struct{}), stopped: make(chan struct{}),
	}
	e.sleepUntil.Store(math.MaxInt64)
	e.cfg.Store(newEngineConfig(s))
	for _, o := range opts {
		o(e)
	}
	e.store = &watchedStore{Store: store, log: e.log, now: e.now, metrics: e.metrics}
	e.started = e.now()
	return e
}

// engineConfig is the settings an engine works with, and the lookups made
// from them. It is never changed once made: Reconfigure makes a new one.
type engineConfig struct {
	s        Settings
	agents   map[string]contactpad.Agent
	crmUsers map[string]string // agent IDs by CRM user id
}

func newEngineConfig(s Settings) *engineConfig {
	cfg := &engineConfig{s: s, agents: make(map[string]contactpad.Agent, len(s.Agents)), crmUsers: map[string]string{}}
	for _, a := range s.Agents {
		cfg.agents[a.ID] = a
		if a.CRMUserID != "" {
			cfg.crmUsers[a.CRMUserID] = a.ID
		}
	}
	if cfg.s.Matrix == nil {
		cfg.s.Matrix = contactpad.DefaultMatrix()
	}
	return cfg
}

type request struct {
	cmd  Command
	res  Result
	err  error
	done chan struct{}
	// routed holds the routing latencies (seconds) of the offers the
	// command made, when the engine has metrics; routedSpace backs it so
	// that the usual zero or one offer costs no allocation.
	routed      []float64
	routedSpace [2]float64
	// conflicts are the CRM fields both sides changed, for metrics.
	conflicts []fieldConflict
	// appended is how many outbox rows the command's last run appended.
	appended int
}

// Outcome is the result of one command of ApplyAll.
type Outcome struct {
	Result
	Err error
}

// Run syncs the configured agents into the store, then applies commands
// and fires timers until ctx is done. Timers that fell due while no engine
// ran fire at once. Run returns nil when ctx is canceled.
func (e *Engine) Run(ctx context.Context) error {
	defer e.stop.Do(func() { close(e.stopped) })
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { e.runCommits(ctx) })
	if _, err := e.Apply(ctx, SyncAgents{Agents: e.Settings().Agents}); err != nil {
		return fmt.Errorf("sync agents: %w", err)
	}
	close(e.ready)
	wg.Go(func() { e.runScheduler(ctx) })
	<-ctx.Done()
	return nil
}

// Ready is closed once Run has synced the configured agents and accepts commands.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

// Stopped is closed once Run has returned: the engine takes no more commands.
func (e *Engine) Stopped() <-chan struct{} { return e.stopped }

// Apply applies one command and returns what it committed. It is safe for
// concurrent use; concurrent commands share transactions (group commit)
// but each is all-or-nothing on its own.
func (e *Engine) Apply(ctx context.Context, cmd Command) (Result, error) {
	out := e.ApplyAll(ctx, []Command{cmd})
	return out[0].Result, out[0].Err
}

// ApplyAll applies several commands, in order, each all-or-nothing.
func (e *Engine) ApplyAll(ctx context.Context, cmds []Command) []Outcome {
	return e.await(ctx, e.submit(ctx, e.reqs, cmds))
}

// applyBackground is ApplyAll for the engine's own work: its commands
// commit in order, after the actions waiting at each transaction.
func (e *Engine) applyBackground(ctx context.Context, cmds []Command) []Outcome {
	return e.await(ctx, e.submit(ctx, e.background, cmds))
}

// backgroundBatch is how many background commands a transaction takes
// beside few actions: about 10 ms of work, which is what an action may
// wait for them.
const backgroundBatch = 32

// submit queues cmds on q, in order, for the commit goroutine.
func (e *Engine) submit(ctx context.Context, q chan *request, cmds []Command) []*request {
	reqs := make([]*request, len(cmds))
	for k, cmd := range cmds {
		reqs[k] = &request{cmd: cmd, done: make(chan struct{})}
		select {
		case q <- reqs[k]:
		case <-ctx.Done():
			reqs[k].err = ctx.Err()
			close(reqs[k].done)
		case <-e.stopped:
			reqs[k].err = ErrStopped
			close(reqs[k].done)
		}
	}
	return reqs
}

// await waits for the outcomes of reqs.
func (e *Engine) await(ctx context.Context, reqs []*request) []Outcome {
	out := make([]Outcome, len(reqs))
	for k, r := range reqs {
		select {
		case <-r.done:
			out[k] = Outcome{Result: r.res, Err: r.err}
		case <-ctx.Done():
			out[k] = Outcome{Err: ctx.Err()}
		case <-e.stopped:
			select {
			case <-r.done:
				out[k] = Outcome{Result: r.res, Err: r.err}
			default:
				out[k] = Outcome{Err: ErrStopped}
			}
		}
	}
	return out
}

// runCommits takes the commands waiting and applies them in one
// transaction, until ctx is done: every action waiting (up to maxBatch),
// then as many of the engine's own commands, or backgroundBatch if that
// is more. An action waits for a few dozen of them at most, and when
// actions keep the engine busy, its own work still gets half of it.
func (e *Engine) runCommits(ctx context.Context) {
	batch := make([]*request, 0, 2*e.maxBatch)
	for {
		batch = batch[:0]
		background := 0
		select {
		case r := <-e.reqs:
			batch = append(batch, r)
		case r := <-e.background:
			batch, background = append(batch, r), 1
		case <-ctx.Done():
			return
		}
		batch = takeWaiting(batch, e.reqs, e.maxBatch)
		actions := len(batch) - background
		batch = takeWaiting(batch, e.background, len(batch)+max(backgroundBatch, actions)-background)
		e.commit(ctx, batch)
	}
}

// takeWaiting appends to batch what waits on q, until batch holds n.
func takeWaiting(batch []*request, q chan *request, n int) []*request {
	for len(batch) < n {
		select {
		case r := <-q:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

func (e *Engine) commit(ctx context.Context, batch []*request) {
	fns := make([]func(Tx) error, len(batch))
	cfg := e.cfg.Load()
	var armed armedTimers
	for k, r := range batch {
		now := e.tick()
		fns[k] = func(tx Tx) error {
			r.appended = 0 // the store may run fns again
			c := &change{tx: armingTx{Tx: tx, armed: &armed, appended: &r.appended}, now: now, s: &cfg.s, agents: cfg.agents, crmUsers: cfg.crmUsers}
			if e.metrics != nil {
				c.routed = r.routedSpace[:0]
			}
			err := r.cmd.apply(c)
			r.res, r.routed, r.conflicts = c.res, c.routed, c.conflicts
			return err
		}
	}
	// A batch that has started commits even if Run is told to stop meanwhile:
	// its callers are waiting for the outcome.
	var start time.Time
	if e.metrics != nil {
		start = time.Now() // the transaction's real duration, whatever the engine's clock
	}
	errs, err := e.store.Update(context.WithoutCancel(ctx), fns)
	e.metrics.committed(start)
	var events []Event
	appended := 0
	for k, r := range batch {
		switch {
		case err != nil:
			r.res, r.err = Result{}, fmt.Errorf("commit: %w", err)
		case errs[k] != nil:
			r.res, r.err = Result{}, errs[k]
		default:
			events = append(events, r.res.Events...)
			appended += r.appended
			e.metrics.routed(r.routed)
			e.metrics.conflicted(r.conflicts)
		}
		e.metrics.commandApplied(r.cmd, r.err)
		close(r.done)
	}
	e.metrics.eventsCommitted(events)
	// The scheduler reads the store again only when it would sleep past
	// a timer this batch armed.
	if err == nil && armed.any && armed.earliest < e.sleepUntil.Load() {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	if appended > 0 {
		e.appended.Add(int64(appended)) // before the wake, which reads it
		select {
		case e.written <- struct{}{}:
		default:
		}
	}
	if len(events) > 0 && e.onEvents != nil {
		e.onEvents(events)
	}
}

// armedTimers is the earliest due time (UnixNano) of the timers a batch
// armed.
type armedTimers struct {
	any      bool
	earliest int64
}

// armingTx notes the timers a command arms, so that the commit wakes the
// scheduler only for one due before it would look again. A command that
// fails leaves its timers noted: at worst a wake for nothing. It also
// counts the outbox rows the command appends, which the commit adds to
// Engine.appended if the command committed.
type armingTx struct {
	Tx
	armed    *armedTimers
	appended *int
}

func (tx armingTx) AppendOutbox(r *OutboxRow) error {
	if err := tx.Tx.AppendOutbox(r); err != nil {
		return err
	}
	*tx.appended++
	return nil
}

func (tx armingTx) SetTimer(t Timer) error {
	if err := tx.Tx.SetTimer(t); err != nil {
		return err
	}
	if due := t.DueAt.UnixNano(); !tx.armed.any || due < tx.armed.earliest {
		tx.armed.any, tx.armed.earliest = true, due
	}
	return nil
}

// WakeWriteback makes RunWriteback count at once what is due, however
// few rows this engine appended since it last counted: an admin re-drove
// a parked row, say (old enough to be written at once).
func (e *Engine) WakeWriteback() {
	e.recount.Store(true)
	select {
	case e.written <- struct{}{}:
	default:
	}
}

// tick returns the time of the next command: now, in UTC without a
// monotonic reading (as the store keeps it), and strictly after the
// previous command's, so that commands sharing a transaction or an instant
// still queue first-come first-served.
func (e *Engine) tick() time.Time {
	now := e.now().UTC()
	if !now.After(e.last) {
		now = e.last.Add(time.Nanosecond)
	}
	e.last = now
	return now
}

// Store returns the engine's store, for reads: watched for outages like
// the engine's own (StoreFault).
func (e *Engine) Store() Store { return e.store }

// Settings returns the engine's settings.
func (e *Engine) Settings() Settings { return e.cfg.Load().s }

// Configured reports whether agent is one of the configured agents. The
// store keeps agents a reloaded config removed, with their work.
func (e *Engine) Configured(agent string) bool {
	_, ok := e.cfg.Load().agents[agent]
	return ok
}
