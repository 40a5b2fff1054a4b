// Package bench is "ctibridge bench": an end-to-end load harness. It starts
// the local Salesforce org and a bridge on it (or drives a running one),
// creates CRM records, simulates agents over the real HTTP API and event
// stream, waits until every change is written back, checks the org's
// records against what the agents did, and reports throughput, latency,
// CRM API calls and memory.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Options configure a run. Records and Agents are required; the zero value
// of every other field has a default.
type Options struct {
	// Records is how many Cases the run creates in the org.
	Records int
	// Agents is how many agents work them, each with its own connections.
	Agents int
	// Rate is how many Cases a second the org gets; 0 creates them all at
	// once (as fast as possible). Duration, when set without Rate, spreads
	// them over that time.
	Rate     float64
	Duration time.Duration
	// PollInterval is the bridge's CRM poll interval (default 1s).
	PollInterval time.Duration
	// BatchMaxAge is the bridge's crm.batch_max_age (default: the
	// config's).
	BatchMaxAge time.Duration
	// Think is how long an agent works an interaction before acting on it
	// (default 0: agents act as fast as the bridge lets them).
	Think time.Duration
	// Shares of the Cases that are deferred (2-4s ahead, then reopen on
	// their own), transferred warm and cold to a colleague, and resumed
	// from History after they are closed (defaults 10%, 5%, 5%, 5%;
	// negative: none).
	DeferShare, WarmShare, ColdShare, ResumeShare float64
	// Faults makes the org fail during the run: a burst of 5xx answers, an
	// expiry of every session and REQUEST_LIMIT_EXCEEDED answers, one after
	// the other, while work goes on.
	Faults bool
	// KillRestart SIGKILLs the bridge halfway through and restarts it on
	// the same store; Start must start a child process.
	KillRestart bool
	// Target is the base URL of a bridge already running with the config
	// the bench writes to ConfigPath (start it once the file is there):
	// the bench starts no bridge and waits for it.
	Target string
	// ConfigPath is where the bridge's config is written (default
	// Dir/ctibridge.yaml). OrgListen is the local org's address (default
	// 127.0.0.1, any port); a Target needs a fixed one.
	ConfigPath, OrgListen string
	// Dir holds the config, the store and the bridge's log (default: a
	// temporary directory, removed at the end).
	Dir string
	// Seed makes the run's choices (media, plans, colleagues) repeatable.
	Seed uint64
	// Timeout bounds the whole run (default 10m).
	Timeout time.Duration
	// Start starts the bridge (see Starter); required without Target.
	Start Starter
	// Progress, if set, gets a progress line, rewritten with \r.
	Progress io.Writer
	// Log gets a line for the run's phases and its first errors (nil: none).
	Log io.Writer
}

func (o *Options) defaults() error {
	if o.Records <= 0 || o.Agents <= 0 {
		return errors.New("bench: records and agents must be positive")
	}
	if o.Rate == 0 && o.Duration > 0 {
		o.Rate = float64(o.Records) / o.Duration.Seconds()
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	share := func(s *float64, def float64) {
		if *s == 0 {
			*s = def
		}
		*s = max(*s, 0)
	}
	share(&o.DeferShare, 0.10)
	share(&o.WarmShare, 0.05)
	share(&o.ColdShare, 0.05)
	share(&o.ResumeShare, 0.05)
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Target == "" && o.Start == nil {
		return errors.New("bench: no Start and no Target")
	}
	if o.Target != "" && o.KillRestart {
		return errors.New("bench: --kill-restart needs a bridge the bench starts, not --target")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// runner is one run in progress.
type runner struct {
	runnerCounters
	o     *Options
	url   string
	items []*item

	mu            sync.Mutex
	byInteraction map[string]*item
	errorSamples  []string
	errorKinds    map[string]int

	// actions are timed while the run's clock runs; signIns before it.
	actions, signIns, recordToOffer, reopenLateness Latencies
	firstCreate, lastOffer                          time.Time
	nCreated                                        int
}

func (r *runner) base() string { return r.url }

// itemFor finds the item of an interaction from its subject, and remembers
// the interaction's id.
func (r *runner) itemFor(i *interactionJSON) *item {
	r.mu.Lock()
	defer r.mu.Unlock()
	if it, ok := r.byInteraction[i.ID]; ok {
		return it
	}
	seq := subjectSeq(i.Subject)
	if seq < 0 || seq >= len(r.items) {
		return nil
	}
	it := r.items[seq]
	it.mu.Lock()
	it.interaction = i.ID
	it.mu.Unlock()
	r.byInteraction[i.ID] = it
	return it
}

func (r *runner) itemByInteraction(id string) *item {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byInteraction[id]
}

// offered records the first offer of a Case.
func (r *runner) offered(after time.Duration, at time.Time) {
	r.recordToOffer.Add(after)
	r.nOffered.Add(1)
	r.mu.Lock()
	if at.After(r.lastOffer) {
		r.lastOffer = at
	}
	r.mu.Unlock()
}

// fail counts an error; an item it stops is failed, so the run can end.
func (r *runner) fail(it *item, what string, err error) {
	r.nErrors.Add(1)
	r.mu.Lock()
	kind := what
	var apiErr *errAPI
	if errors.As(err, &apiErr) {
		kind = fmt.Sprintf("%s: HTTP %d", what, apiErr.status)
	}
	r.errorKinds[kind]++
	sample := len(r.errorSamples) < 10
	if sample {
		r.errorSamples = append(r.errorSamples, fmt.Sprintf("%s: %v", what, err))
	}
	r.mu.Unlock()
	if sample {
		fmt.Fprintf(r.o.Log, "bench: error: %s: %v\n", what, err)
		if it != nil && it.interaction != "" {
			fmt.Fprint(r.o.Log, r.trail(it.interaction))
		}
	}
	if it != nil {
		it.mu.Lock()
		if !it.done && !it.failed {
			it.failed = true
			r.nDone.Add(1)
		}
		it.mu.Unlock()
	}
}

// plans draws each Case's origin, service and plan.
func plans(o *Options) []*item {
	rng := rand.New(rand.NewPCG(o.Seed, 0x6265_6e63_68))
	services := numServices(o.Agents)
	items := make([]*item, o.Records)
	for k := range items {
		it := &item{seq: k, service: k % services, origin: pickOrigin(rng)}
		it.plan.transferTarget = -1
		switch x := rng.Float64(); {
		case x < o.DeferShare:
			it.plan.deferFor = 2*time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
		case x < o.DeferShare+o.WarmShare:
			it.plan.warm = true
		case x < o.DeferShare+o.WarmShare+o.ColdShare:
			it.plan.cold = true
		}
		if it.plan.warm || it.plan.cold {
			first := it.service * agentsPerService
			size := min(agentsPerService, o.Agents-first)
			if size > 1 {
				// Any colleague of the service: the owner is not known yet,
				// and a transfer to oneself is skipped at the time (see work).
				it.plan.transferTarget = first + rng.IntN(size)
			}
		}
		it.plan.resume = rng.Float64() < o.ResumeShare
		items[k] = it
	}
	return items
}

// Run runs the bench and returns its result; an error means the run could
// not be made (the result's Errors count what went wrong within it).
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "ctibridge-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	if o.ConfigPath == "" {
		o.ConfigPath = filepath.Join(o.Dir, "ctibridge.yaml")
	}
	org, userIDs, err := startOrg(o.OrgListen, o.Agents)
	if err != nil {
		return nil, err
	}
	defer org.close()
	r := &runner{o: &o, items: plans(&o), byInteraction: map[string]*item{}, errorKinds: map[string]int{}}

	listen := ""
	if o.Target != "" {
		r.url = strings.TrimSuffix(o.Target, "/")
		listen = strings.TrimPrefix(strings.TrimPrefix(r.url, "http://"), "https://")
	} else {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		listen = fmt.Sprintf("127.0.0.1:%d", port)
		r.url = "http://" + listen
	}
	if err := writeConfig(o.ConfigPath, listen, org.url, filepath.Join(o.Dir, "ctibridge.db"), &o, userIDs); err != nil {
		return nil, fmt.Errorf("write the bridge's config: %w", err)
	}
	var bridge Bridge
	var rss rssTracker
	if o.Target == "" {
		fmt.Fprintf(o.Log, "bench: starting the bridge (%s)\n", o.ConfigPath)
		if bridge, err = o.Start(ctx, o.ConfigPath); err != nil {
			return nil, err
		}
		defer func() {
			if bridge != nil {
				_ = bridge.Stop()
			}
		}()
	} else {
		fmt.Fprintf(o.Log, "bench: waiting for the bridge at %s: run ctibridge run --config %s\n", r.url, o.ConfigPath)
	}
	if err := waitHealthy(ctx, r.url, bridge, 5*time.Minute); err != nil {
		return nil, err
	}
	rss.watch(ctx, r.url, bridge)

	// Agents: available, each following its event stream.
	agentCtx, stopAgents := context.WithCancel(ctx)
	defer stopAgents()
	var agentsDone sync.WaitGroup
	var ready sync.WaitGroup
	ready.Add(o.Agents)
	for k := range o.Agents {
		a := newAgent(r, k)
		agentsDone.Go(func() { a.run(agentCtx, ready.Done) })
	}
	if err := waitGroup(ctx, &ready); err != nil {
		return nil, fmt.Errorf("agents did not connect: %w", err)
	}
	fmt.Fprintf(o.Log, "bench: %d agents available; creating %d Cases\n", o.Agents, o.Records)

	metricsClient := &http.Client{Timeout: 10 * time.Second}
	latencyBefore, latencyErr := scrapeActionLatency(ctx, metricsClient, r.url)
	start := time.Now()
	cpu := startCPU(bridge)
	createErr := make(chan error, 1)
	go func() {
		createErr <- createRecords(ctx, org, r.items, o.Rate, func(first, n int, at time.Time) {
			for _, it := range r.items[first : first+n] {
				it.mu.Lock()
				it.created = at
				it.mu.Unlock()
			}
			r.mu.Lock()
			if r.nCreated == 0 {
				r.firstCreate = at
			}
			r.nCreated += n
			r.mu.Unlock()
		})
	}()

	var faults faultLog
	if o.Faults {
		go injectFaults(ctx, org, r, &faults)
	}
	var restarts restartLog
	progress := newProgress(o.Progress, r, start)
	for {
		done := r.nDone.Load()
		progress.show()
		if int(done) >= o.Records {
			break
		}
		if o.KillRestart && restarts.kills == 0 && done >= int64(o.Records)*2/5 {
			b, err := killRestart(ctx, r, org, bridge, &rss, &restarts)
			bridge = b
			if err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			progress.end()
			return nil, fmt.Errorf("run timed out with %d of %d Cases done (%s); waiting: %s", done, o.Records, r.errorSummary(), r.stuck())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := <-createErr; err != nil {
		return nil, err
	}
	worked := time.Now()
	cpuUsed := cpu.stop(bridge, worked.Sub(start))
	var latency actionLatency
	if latencyErr == nil {
		var after actionLatency
		if after, latencyErr = scrapeActionLatency(ctx, metricsClient, r.url); latencyErr == nil {
			latency, _ = after.since(latencyBefore)
		}
	}
	progress.end()
	fmt.Fprintf(o.Log, "bench: every Case closed after %s; waiting for the writeback\n", worked.Sub(start).Round(time.Millisecond))

	admin := &http.Client{Timeout: 30 * time.Second}
	sync, err := waitWriteback(ctx, admin, r.url)
	if err != nil {
		return nil, err
	}
	drained := time.Now()
	stopAgents()
	agentsDone.Wait()

	res := &Result{}
	if bridge != nil {
		rss.sample(bridge.PID())
	}
	res.PeakRSSMB, res.RSSOf = rss.peak(), rss.of(bridge)
	verifyErr := verify(ctx, admin, r, org, userIDs, res)
	if bridge != nil {
		if err := bridge.Stop(); err != nil {
			r.fail(nil, "stop the bridge", err)
		}
		bridge = nil
	}
	r.fill(res, org, start, worked, drained, sync)
	cpuUsed.fill(res)
	latency.fill(res)
	res.Faults, res.Kills, res.Restarts, res.Downtime = faults.list(), restarts.kills, restarts.restarts, restarts.downtime
	if verifyErr != nil {
		return res, verifyErr
	}
	return res, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// syncState is the outbox as GET /api/v1/admin/sync shows it.
type syncState map[string]struct {
	Count int `json:"count"`
	Rows  []struct {
		CRMID     string `json:"crm_id"`
		ErrorCode string `json:"error_code"`
	} `json:"rows"`
}

// waitWriteback waits until the outbox has nothing pending or in flight.
func waitWriteback(ctx context.Context, client *http.Client, base string) (syncState, error) {
	for {
		var st syncState
		if err := adminGet(ctx, client, base+"/api/v1/admin/sync", &st); err != nil {
			return nil, err
		}
		if st["pending"].Count == 0 && st["in_flight"].Count == 0 {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("writeback not drained: %d pending, %d in flight", st["pending"].Count, st["in_flight"].Count)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// adminGet reads url as the bench's admin, waiting out the API's rate
// limit of the admin token.
func adminGet(ctx context.Context, client *http.Client, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := client.Do(req)
	for tries := 0; err == nil && res.StatusCode == http.StatusTooManyRequests && tries < 30; tries++ {
		res.Body.Close()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		res, err = client.Do(req)
	}
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		return &errAPI{method: "GET", path: url, status: res.StatusCode, body: string(body)}
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// trail is the audit trail of an interaction, read as the bench's admin:
// what the bridge did before an error.
func (r *runner) trail(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var i struct {
		Status, Owner string
		Audit         []contactpad.AuditEntry
	}
	if err := adminGet(ctx, http.DefaultClient, r.base()+"/api/v1/interactions/"+id, &i); err != nil {
		return fmt.Sprintf("bench:   (no audit trail of %s: %v)\n", id, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bench:   %s is %s, owner %q; its audit trail:\n", id, i.Status, i.Owner)
	for _, e := range i.Audit {
		fmt.Fprintf(&b, "bench:     %s %-8s %-20s %s -> %s %s\n", e.At.Format("15:04:05.000"), e.Actor, e.Action, e.FromStatus, e.ToStatus, e.Message)
	}
	return b.String()
}

func (r *runner) errorSummary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errorSamples) == 0 {
		return "no errors"
	}
	return fmt.Sprintf("%d errors, first: %s", r.nErrors.Load(), r.errorSamples[0])
}

// stuck describes a few Cases that are not done, for a run that timed out.
func (r *runner) stuck() string {
	var out []string
	for _, it := range r.items {
		it.mu.Lock()
		if !it.done && !it.failed && len(out) < 5 {
			out = append(out, fmt.Sprintf("case %d (interaction %q, offered %v, deferred %v, reopened %v, transferred %v, resumed %v, plan %+v)",
				it.seq, it.interaction, it.offered, it.deferred, it.reopened, it.transferred, it.resumed, it.plan))
		}
		it.mu.Unlock()
	}
	return strings.Join(out, "; ")
}

func splitLines(s string) []string { return strings.Split(s, "\n") }
