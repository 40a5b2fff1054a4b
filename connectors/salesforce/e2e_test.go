package salesforce_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/connectors/salesforce"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
)

// clock is a time source the test moves by hand, so retry backoff passes
// without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }
func quiet() *logrus.Logger          { l := logrus.New(); l.SetOutput(io.Discard); return l }

// bridge is the whole bridge on one machine: the local org over HTTP, the
// connector with the sample mappings, and the engine on a SQLite file.
type bridge struct {
	t       *testing.T
	org     *sim.Org
	client  *salesforce.Client
	engine  *adapter.Engine
	store   adapter.Store
	sources []adapter.Source
	sink    *salesforce.Sink
	clock   *clock
	opts    adapter.SyncOptions
	// mappings are the bridge's mappings.
	mappings []*mapping.Mapping
}

// users are the seed's User records: the agents' CRM users, whom the
// writeback names as owners.
func users() []sim.Record {
	var out []sim.Record
	for _, r := range sim.DefaultSeed() {
		if r["attributes"].(map[string]any)["type"] == "User" {
			out = append(out, r)
		}
	}
	return out
}

// bridgeOptions change what startBridgeWith starts; zero fields keep the
// defaults of startBridge.
type bridgeOptions struct {
	// store opens the bridge's store (default: a SQLite file).
	store func(t *testing.T) adapter.Store
	// mappings are the mapping files' contents (default: the samples).
	mappings []string
	// agents work the records (default: alice and bob of the seed).
	agents []contactpad.Agent
	// tweak changes the engine's settings.
	tweak func(*adapter.Settings)
	// orgClock, if set, is the org's clock (default time.Now).
	orgClock *clock
}

// The seed's users, as the agents' CRM users.
const (
	aliceUser = "005Sd0000000001IAA"
	bobUser   = "005Sd0000000002IAA"
	carolUser = "005Sd0000000003IAA"
	samUser   = "005Sd0000000004IAA" // Sam Supervisor, no agent: a person working in Salesforce
)

func startBridge(t *testing.T, seed []sim.Record) *bridge {
	return startBridgeWith(t, seed, bridgeOptions{})
}

func startBridgeWith(t *testing.T, seed []sim.Record, o bridgeOptions) *bridge {
	t.Helper()
	orgOpts := sim.Options{}
	if o.orgClock != nil {
		orgOpts.Now = o.orgClock.Now
	}
	org := sim.New(orgOpts)
	require.NoError(t, org.Seed(seed))
	srv := httptest.NewServer(org)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	client, err := salesforce.New(ctx, salesforce.Config{LoginURL: srv.URL, Auth: salesforce.AuthClientCredentials,
		ClientID: "ctibridge-local", ClientSecret: "local-secret", Logger: quiet(),
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	require.NoError(t, err)
	var ms []*mapping.Mapping
	for _, f := range []string{"case.yaml", "livechattranscript.yaml"} {
		if o.mappings != nil {
			break
		}
		m, err := mapping.ParseFile(filepath.Join("..", "..", "testdata", "mappings", f))
		require.NoError(t, err)
		ms = append(ms, m...)
	}
	for k, text := range o.mappings {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("mapping%d.yaml", k))
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		m, err := mapping.ParseFile(path)
		require.NoError(t, err)
		ms = append(ms, m...)
	}
	require.NoError(t, salesforce.CheckMappings(ctx, client, ms), "the sample mappings fit the org")
	b := &bridge{t: t, org: org, client: client, clock: &clock{now: time.Now().UTC()}, mappings: ms,
		opts: adapter.SyncOptions{RetryBase: time.Second, RetryMax: 10 * time.Second, MaxAttempts: 50}}
	writebacks := map[string]salesforce.Writeback{}
	var readers []*salesforce.Source
	for _, m := range ms {
		src := salesforce.NewSource(client, m)
		b.sources, readers = append(b.sources, src), append(readers, src)
		writebacks[m.Object] = m
	}
	b.sink = salesforce.NewSink(client, writebacks, readers...)

	s := adapter.Defaults()
	s.Services = []contactpad.Service{{ID: "support"}, {ID: "billing"}}
	capacity := contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 50, contactpad.NonLive: 1000}
	s.Agents = []contactpad.Agent{
		{ID: "alice", CRMUserID: aliceUser, Services: []string{"support", "billing"}, Capacity: capacity},
		{ID: "bob", CRMUserID: bobUser, Services: []string{"support"}, Capacity: capacity},
	}
	if o.agents != nil {
		s.Agents = o.agents
	}
	if o.tweak != nil {
		o.tweak(&s)
	}
	s.CRMName, s.Mirrors = "Salesforce", map[string]adapter.Mirror{}
	for _, m := range ms {
		s.Mirrors[m.Object] = m
	}
	if o.store != nil {
		b.store = o.store(t)
	} else {
		b.store, err = sqlite.Open(filepath.Join(t.TempDir(), "bridge.db"))
		require.NoError(t, err)
	}
	b.engine = adapter.New(b.store, s, adapter.WithLogger(quiet()), adapter.WithClock(b.clock.Now))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = b.engine.Run(runCtx) }()
	<-b.engine.Ready()
	t.Cleanup(func() { cancel(); <-done; _ = b.store.Close() })
	return b
}

func (b *bridge) do(cmd adapter.Command) adapter.Result {
	b.t.Helper()
	res, err := b.engine.Apply(context.Background(), cmd)
	require.NoError(b.t, err, "%T", cmd)
	return res
}

func (b *bridge) poll() {
	b.t.Helper()
	for _, src := range b.sources {
		require.NoError(b.t, b.engine.PollOnce(context.Background(), src))
	}
}

// drain writes the outbox back until nothing is pending, moving the clock
// past each retry's backoff, and returns the rows it parked.
func (b *bridge) drain() []adapter.OutboxRow {
	b.t.Helper()
	for range 200 {
		if _, err := b.engine.WritebackOnce(context.Background(), b.sink, b.opts); err != nil {
			b.t.Logf("writeback: %v", err)
		}
		var pending, inFlight []adapter.OutboxRow
		require.NoError(b.t, b.store.View(context.Background(), func(tx adapter.Tx) error {
			var err error
			if pending, err = tx.Outbox(adapter.OutboxPending, 1); err != nil {
				return err
			}
			inFlight, err = tx.Outbox(adapter.OutboxInFlight, 1)
			return err
		}))
		if len(pending)+len(inFlight) == 0 {
			var parked []adapter.OutboxRow
			require.NoError(b.t, b.store.View(context.Background(), func(tx adapter.Tx) error {
				var err error
				parked, err = tx.Outbox(adapter.OutboxParked, 1_000_000)
				return err
			}))
			return parked
		}
		b.clock.Add(b.opts.RetryMax)
	}
	var stuck []adapter.OutboxRow
	_ = b.store.View(context.Background(), func(tx adapter.Tx) error {
		stuck, _ = tx.Outbox(adapter.OutboxPending, 3)
		parked, _ := tx.Outbox(adapter.OutboxParked, 3)
		stuck = append(stuck, parked...)
		return nil
	})
	for _, r := range stuck {
		b.t.Logf("stuck row %d %s attempts %d next %s: %s %s", r.ID, r.CRMID, r.Attempts, r.NextAttemptAt, r.ErrorCode, r.ErrorMessage)
	}
	b.t.Fatal("the outbox did not drain")
	return nil
}

func (b *bridge) record(object, id string) map[string]any {
	for _, r := range b.org.Records(object) {
		if r["Id"] == id {
			return r
		}
	}
	b.t.Fatalf("%s %s not in the org", object, id)
	return nil
}

func (b *bridge) interactions() []*contactpad.Interaction {
	var out []*contactpad.Interaction
	require.NoError(b.t, b.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		out, err = tx.Interactions(adapter.InteractionFilter{})
		return err
	}))
	return out
}

// tasksFor counts the audit Tasks of each CRM record by external id.
func (b *bridge) auditTasks() map[string]int {
	out := map[string]int{}
	for _, task := range b.org.Records("Task") {
		if id, _ := task["Ctibridge_Audit_Id__c"].(string); id != "" {
			out[id]++
		}
	}
	return out
}

// TestEndToEnd: the seed's open Cases and chats become interactions; agent
// actions change the Case's Status, OwnerId and deferral fields and create
// one audit Task per audit entry.
func TestEndToEnd(t *testing.T) {
	b := startBridge(t, sim.DefaultSeed())
	b.poll()
	all := b.interactions()
	require.NotEmpty(t, all)
	media := map[contactpad.Media]int{}
	for _, i := range all {
		media[i.Media]++
	}
	require.Positive(t, media[contactpad.NonLive], "email and web Cases")
	require.Positive(t, media[contactpad.SemiLive], "chats")

	b.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
	var email *contactpad.Interaction
	for _, i := range b.interactions() {
		if i.Media == contactpad.NonLive && i.CRMObject == "Case" && i.Owner == "alice" && i.Status == contactpad.Connected {
			email = i
			break
		}
	}
	require.NotNil(t, email, "alice got an email Case")
	require.Empty(t, b.drain())
	c := b.record("Case", email.CRMID)
	require.Equal(t, "Working", c["Status"])
	require.Equal(t, "005Sd0000000001IAA", c["OwnerId"], "owner -> alice's CRM user")

	due := b.clock.Now().Add(48 * time.Hour).Truncate(time.Second)
	b.do(adapter.Defer{ID: email.ID, Agent: "alice", DueBy: &due})
	require.Empty(t, b.drain())
	c = b.record("Case", email.CRMID)
	require.Equal(t, "On Hold", c["Status"])
	require.Equal(t, true, c["Ctibridge_Due_By_Set_Manually__c"])
	dueBy, err := time.Parse("2006-01-02T15:04:05.000-0700", c["Ctibridge_Due_By__c"].(string))
	require.NoError(t, err)
	require.True(t, dueBy.Equal(due), "due_by %v", c["Ctibridge_Due_By__c"])

	b.do(adapter.Resume{ID: email.ID, Agent: "alice"})
	require.Empty(t, b.drain())
	c = b.record("Case", email.CRMID)
	require.Equal(t, "Working", c["Status"])
	require.Equal(t, "deferred", c["Ctibridge_Resumed_From__c"])
	require.Nil(t, c["Ctibridge_Due_By__c"], "no due date once resumed")
	b.do(adapter.Release{ID: email.ID, Agent: "alice"})
	b.do(adapter.FinishWrapUp{ID: email.ID, Agent: "alice"})
	require.Empty(t, b.drain())
	c = b.record("Case", email.CRMID)
	require.Equal(t, "Closed", c["Status"])
	require.Nil(t, c["Ctibridge_Resumed_From__c"], "cleared once it ended")
	require.Equal(t, "completed", c["Ctibridge_Status__c"])

	var trail []contactpad.AuditEntry
	require.NoError(t, b.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		trail, err = tx.Audit(email.ID)
		return err
	}))
	tasks := b.auditTasks()
	for _, e := range trail {
		want := 1
		if e.Action == "adopted" {
			want = 0 // the CRM knows its own record
		}
		require.Equal(t, want, tasks[e.ID], "Tasks for audit entry %s (%s)", e.ID, e.Action)
	}
	var resumed map[string]any
	for _, task := range b.org.Records("Task") {
		if task["WhatId"] == email.CRMID && task["Subject"] == "ctibridge: resumed" {
			resumed = task
		}
	}
	require.NotNil(t, resumed)
	require.Contains(t, resumed["Description"], "Interaction resumed by an agent")

	// Polling again reads the records the writeback changed and changes
	// nothing: the bridge's own writes coming back are no news.
	versions := map[string]int64{}
	for _, i := range b.interactions() {
		versions[i.ID] = i.Version
	}
	b.poll()
	for _, i := range b.interactions() {
		require.Equal(t, versions[i.ID], i.Version, "%s unchanged by the echo", i.CRMID)
	}
	require.Empty(t, b.drain())
}

// TestNoLossUnderFaults: thousands of changes written back while the org
// fails (5xx bursts, session expiry, request limit, locked rows): in the
// end every change has arrived exactly once and each record shows its
// latest state.
func TestNoLossUnderFaults(t *testing.T) {
	const cases = 600
	seed := users()
	for k := range cases {
		seed = append(seed, sim.Record{"attributes": map[string]any{"type": "Case"}, "Subject": fmt.Sprintf("Case %d", k),
			"Status": "New", "Origin": "Email", "Priority": "Medium"})
	}
	b := startBridge(t, seed)
	b.poll()
	b.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
	ids := map[string]string{} // interaction -> CRM id
	for _, i := range b.interactions() {
		ids[i.ID] = i.CRMID
	}
	require.Len(t, ids, cases)

	faults := b.org.Faults()
	round := 0
	for id, crmID := range ids {
		round++
		switch round % 50 {
		case 1:
			faults.FailNext(8, http.StatusServiceUnavailable) // longer than one call's retries
		case 11:
			faults.ExpireSessions()
		case 21:
			faults.ExceedLimit(2)
		case 31:
			faults.LockRows(2, crmID)
		}
		due := b.clock.Now().Add(time.Hour)
		b.do(adapter.Defer{ID: id, Agent: "alice", DueBy: &due})
		b.do(adapter.Resume{ID: id, Agent: "alice"})
		if round%3 == 0 {
			b.do(adapter.Release{ID: id, Agent: "alice"})
			b.do(adapter.FinishWrapUp{ID: id, Agent: "alice"})
		}
		if round%25 == 0 {
			b.engine.WritebackOnce(context.Background(), b.sink, b.opts) // write back while changes keep coming
		}
	}
	require.Empty(t, b.drain(), "nothing parked: every fault was temporary")

	tasks := b.auditTasks()
	entries := 0
	for _, i := range b.interactions() {
		var trail []contactpad.AuditEntry
		require.NoError(t, b.store.View(context.Background(), func(tx adapter.Tx) error {
			var err error
			trail, err = tx.Audit(i.ID)
			return err
		}))
		for _, e := range trail {
			if e.Action == "adopted" {
				require.Zero(t, tasks[e.ID], "no Task for the adoption")
				continue
			}
			entries++
			require.Equal(t, 1, tasks[e.ID], "audit entry %s of %s arrived exactly once", e.Action, i.CRMID)
		}
		c := b.record("Case", i.CRMID)
		require.Equal(t, string(i.Status), c["Ctibridge_Status__c"], "%s shows its latest state", i.CRMID)
	}
	require.Equal(t, entries, len(tasks), "no Task that is not an audit entry")
	require.Greater(t, entries, 2000, "thousands of changes")
	t.Logf("%d audit entries and %d record updates written back in %d API calls (composite %d)",
		entries, cases, b.org.Total(), b.org.Calls()[sim.CallComposite])
}

// TestPollingCost: polling reads one query page per 2000 changed records.
func TestPollingCost(t *testing.T) {
	seed := users()
	for k := range 4500 {
		seed = append(seed, sim.Record{"attributes": map[string]any{"type": "Case"}, "Subject": fmt.Sprintf("Case %d", k),
			"Status": "New", "Origin": "Web"})
	}
	b := startBridge(t, seed)
	before := b.org.Total()
	b.poll()
	require.Len(t, b.interactions(), 4500)
	// Case: 3 pages (2000, 2000, 500); LiveChatTranscript: 1 empty page.
	// Each page is one composite call (one API call) of the query of the
	// matching records and that of the others.
	require.Equal(t, 4, b.org.Total()-before)
	b.poll()
	require.Equal(t, 6, b.org.Total()-before, "nothing changed: one call per source")
}
