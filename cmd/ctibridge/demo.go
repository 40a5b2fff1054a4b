package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
)

//go:embed demo.yaml
var demoConfig []byte

// runDemo is "ctibridge demo": the whole bridge on a seeded local org, with
// no flags, files or network needed. It tells the bridge's story through
// the engine (routing, deferral with automatic reopen, a warm transfer that
// times out and one that succeeds, refusals, release into wrap-up, resume
// from History, the writeback to the org), then keeps serving the API with
// a slow stream of new records until Ctrl-C.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the API and panel")
	orgListen := fs.String("org-listen", "127.0.0.1:0", "address of the local Salesforce org (port 0: any free port)")
	data := fs.String("data", "", "directory for the SQLite store (default: a new temporary directory, removed at exit)")
	omni := fs.Bool("omni", false, "the agents' presence follows the local org's Omni-Channel (crm.salesforce.omni.presence), and ctibridge routes its Support_Omni queue as an external router (AgentWork); the story shows both")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	dir := *data
	if dir != "" {
		// A directory named for the demo's store is made if need be, as
		// the default's temporary one is.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			fmt.Fprintln(stderr, "demo: --data:", err)
			return 1
		}
	} else {
		tmp, err := os.MkdirTemp("", "ctibridge-demo-")
		if err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v (another demo running? try --listen 127.0.0.1:0)\n", err)
		return 1
	}
	orgLn, err := net.Listen("tcp", *orgListen)
	if err != nil {
		ln.Close()
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	if err := demo(ctx, dir, stdout, demoEnv{Listener: ln, OrgListener: orgLn, Omni: *omni}); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	return 0
}

// demoEnv is where the demo serves. Tests run it in a synctest bubble
// with in-memory listeners.
type demoEnv struct {
	Listener, OrgListener net.Listener
	// InProcess has the bridge reach the org without sockets (in a
	// synctest bubble); OrgListener still serves it.
	InProcess bool
	// NewRecordsEvery is the pace of the stream of new records after the
	// story (default 20s).
	NewRecordsEvery time.Duration
	// NoStory serves the freshly seeded org without telling the story:
	// the panel's browser test plays it through the panel instead.
	NoStory bool
	// Config, when set, adjusts the demo's config before the daemon
	// starts: the panel's browser tests shorten or lengthen its timers.
	Config func(*config.Config)
	// Started, when set, is told of the daemon once it runs: tests act on
	// its work while the story runs, as people would through the panel.
	Started func(*daemon)
	// Omni has the agents' presence follow the org's Omni-Channel, makes
	// ctibridge the external router of its Support_Omni queue, and tells
	// that story (omniStory) instead of the bridge's.
	Omni bool
}

// demoUsers are the Salesforce users of the demo's agents (their
// crm_user_id in demo.yaml) and their passwords on the local org's login
// page, for Sign in with Salesforce.
var demoUsers = []struct{ Agent, Username, Password string }{
	{"alice", "alice@local.test", "alice-password"},
	{"bob", "bob@local.test", "bob-password"},
	{"carol", "carol@local.test", "carol-password"},
}

func demoPasswords() map[string]string {
	out := map[string]string{}
	for _, u := range demoUsers {
		out[u.Username] = u.Password
	}
	return out
}

// demoRecords are the demo org's users (the agents' CRM users and Sam, a
// supervisor), four open Cases (one of them escalated and worked by carol
// already) and a waiting chat.
func demoRecords() []sim.Record {
	var out []sim.Record
	for _, r := range sim.DefaultSeed() {
		if r["attributes"].(map[string]any)["type"] == "User" {
			out = append(out, r)
		}
	}
	kase := func(subject, origin, typ, priority string) sim.Record {
		return sim.Record{"attributes": map[string]any{"type": "Case"}, "Subject": subject, "Origin": origin,
			"Type": typ, "Priority": priority, "Status": "New"}
	}
	withCaller := func(r sim.Record, phone string) sim.Record { r["SuppliedPhone"] = phone; return r }
	escalated := kase("Invoice shows the old VAT rate", "Email", "Billing", "High")
	escalated["Status"], escalated["OwnerId"] = "Escalated", "005Sd0000000003IAA" // carol's
	return append(out,
		escalated,
		kase("Refund for order 1138", "Email", "Billing", "Medium"),
		kase("Password reset loop", "Web", "Question", "Low"),
		withCaller(kase("Router keeps rebooting", "Phone", "Problem", "High"), "+44 20 7946 0958"),
		sim.Record{"attributes": map[string]any{"type": "LiveChatTranscript"}, "Status": "Waiting", "Body": "Where is my parcel?"},
	)
}

// handlerTransport serves requests with a handler in process, without
// sockets (the demo's test runs in a synctest bubble).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil {
		r = r.Clone(r.Context())
		r.Body = http.NoBody // a server's request always has a body
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// demo runs the daemon on a seeded local org and a fresh SQLite store in
// dir, tells its story on out, and serves until ctx is done.
func demo(ctx context.Context, dir string, out io.Writer, env demoEnv) error {
	text, records := demoConfig, demoRecords()
	if env.Omni {
		var err error
		if text, records, err = withOmniRouting(text, records); err != nil {
			return err
		}
	}
	cfg, err := config.Parse("demo.yaml", text)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "ctibridge.db")
	cfg.Store.DSN = config.NewSecret(path)
	if env.Omni {
		cfg.CRM.Salesforce.Omni.Presence = demoOmniPresence()
	}
	if env.Config != nil {
		env.Config(cfg)
	}
	org := sim.New(sim.Options{UserPasswords: demoPasswords()})
	if err := org.Seed(records); err != nil {
		return err
	}
	orgSrv := &http.Server{Handler: org, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = orgSrv.Serve(env.OrgListener) }()
	defer orgSrv.Close()
	orgURL := "http://" + env.OrgListener.Addr().String()
	if cfg.Panel.SignIn.Enabled() {
		cfg.Panel.SignIn.LoginURL = orgURL
	}

	log := logrus.New()
	log.SetOutput(io.Discard)
	p := &narrator{out: out, omni: env.Omni}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := daemonOptions{Log: log, OrgURL: orgURL, Listener: env.Listener, OnEvents: p.events}
	if env.InProcess {
		opts.Org, opts.OrgURL = org, ""
	}
	d, err := startDaemon(ctx, cfg, opts)
	if err != nil {
		return err
	}
	if env.Started != nil {
		env.Started(d)
	}
	if !env.NoStory {
		tell := story
		if env.Omni {
			tell = omniStory
		}
		// The story never takes the daemon down: people may be using it.
		if serr := tell(ctx, d, org, p, orgURL, path); serr != nil && ctx.Err() == nil {
			p.say("  ! the story stopped (%v); the bridge keeps running", serr)
		}
	}
	if ctx.Err() == nil {
		p.tour(d.url(), orgURL)
		every := env.NewRecordsEvery
		if every == 0 {
			every = 20 * time.Second
		}
		go func() { _ = org.Generate(ctx, float64(time.Second)/float64(every), nil) }()
		<-ctx.Done()
	}
	cancel()
	if werr := d.wait(); err == nil {
		err = werr
	}
	return err
}

// story tells the bridge's story through the engine of a running daemon.
func story(ctx context.Context, daemon *daemon, org *sim.Org, p *narrator, orgURL, path string) error {
	engine, store, cfg := daemon.engine, daemon.store, daemon.gen.Load().cfg
	p.say("ctibridge demo: a local Salesforce org at %s, the engine on SQLite at %s", orgURL, path)
	p.say("Agents alice (support, billing), bob (support), carol (billing). Every line marked '>' is an event from the store.")
	d := &demoRun{ctx: ctx, e: engine, p: p}

	p.step("Salesforce has four open Cases and a waiting chat; ctibridge adopts them as Salesforce shows them: carol already works\n" +
		"   the escalated one, so it is hers; the others wait for an agent (nobody is available yet). Nothing is written back")
	var ids map[string]string
	for len(ids) < 5 {
		var err error
		if ids, err = interactionsBySubject(ctx, store); err != nil {
			return err
		}
		d.wait(100 * time.Millisecond)
		if d.err != nil {
			return d.err
		}
	}
	refund, password, call, chat := ids["Refund for order 1138"], ids["Password reset loop"],
		ids["Router keeps rebooting"], ids["Chat: Where is my parcel?"]

	p.step("alice goes Available now: emails and chats connect at once, the call alerts (offered) until she accepts")
	d.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
	d.do(adapter.Accept{ID: call, Agent: "alice"})

	p.step("alice tries to defer the refund case to yesterday: refused")
	d.refuse(adapter.Defer{ID: refund, Agent: "alice", DueBy: ptr(time.Now().Add(-24 * time.Hour))})
	p.step("alice tries to transfer the chat: chats cannot be transferred by default")
	d.refuse(adapter.StartTransfer{ID: chat, Agent: "alice", Target: contactpad.Target{Agent: "bob"}})

	p.step("Sam, a supervisor, ends the chat in Salesforce: it leaves the mapping's filter, so ctibridge ends its interaction\n" +
		"   (audited as changed by Sam Supervisor) and alice's chat capacity is free again")
	d.edit(org, "LiveChatTranscript", d.crmID(store, chat), map[string]any{"Status": "Completed"})
	d.wait(1500 * time.Millisecond)

	p.step("alice defers the refund case for 3 seconds: it leaves her Ongoing folder and frees her capacity")
	d.do(adapter.Defer{ID: refund, Agent: "alice", DueBy: ptr(time.Now().Add(3 * time.Second))})
	p.step("...the due date passes: it reopens by itself, flagged auto_opened_due_to_due_date")
	d.wait(3500 * time.Millisecond)

	p.step("alice warm-transfers the password case to bob with a note; bob does not answer within the accept timeout (4s here, 30s by default)")
	d.do(adapter.SetPresence{Agent: "bob", Presence: contactpad.Available})
	d.do(adapter.StartTransfer{ID: password, Agent: "alice", Target: contactpad.Target{Agent: "bob"}, Note: "Customer tried three resets already"})
	d.wait(4500 * time.Millisecond)
	p.step("alice tries again (the note is kept); bob accepts and alice hands over with \"Transfer now\"")
	if tr := d.do(adapter.StartTransfer{ID: password, Agent: "alice", Target: contactpad.Target{Agent: "bob"}}).Transfer; tr != nil {
		d.do(adapter.AcceptTransfer{TransferID: tr.ID, Agent: "bob"})
		d.do(adapter.CompleteTransfer{TransferID: tr.ID, Agent: "alice"})
	}

	p.step("alice releases the call: wrap-up (3s here), then completed")
	d.do(adapter.Release{ID: call, Agent: "alice"})
	d.wait(3500 * time.Millisecond)

	p.step("alice closes the refund case and then resumes it from History")
	d.do(adapter.Release{ID: refund, Agent: "alice"})
	d.do(adapter.FinishWrapUp{ID: refund, Agent: "alice"})
	d.do(adapter.Resume{ID: refund, Agent: "alice"})
	if d.err != nil {
		return d.err
	}

	p.step("The refund case's audit trail")
	var trail []contactpad.AuditEntry
	if err := store.View(ctx, func(tx adapter.Tx) error {
		var err error
		trail, err = tx.Audit(refund)
		return err
	}); err != nil {
		return err
	}
	for _, e := range trail {
		p.say("    %s  %-18s %-10s -> %-10s %s", e.At.Local().Format("15:04:05"), e.Action, e.FromStatus, e.ToStatus, e.Message)
	}

	p.step("In Salesforce, once the writeback has drained (changes pending together share one API call); carol's escalated\n" +
		"   Case is as Salesforce had it: ctibridge writes only what its agents change")
	if err := waitForWriteback(ctx, store); err != nil {
		return err
	}
	owners := map[string]string{}
	for _, a := range cfg.Agents {
		owners[a.CRMUserID] = a.ID
	}
	for _, r := range org.Records("Case") {
		p.say("    Case %-32q Status %-9s owner %-6s Ctibridge_Status__c %-10v resumed_from %v", r["Subject"], r["Status"],
			owners[fmt.Sprint(r["OwnerId"])], orDash(r["Ctibridge_Status__c"]), orDash(r["Ctibridge_Resumed_From__c"]))
	}
	p.say("    %d audit Tasks written; %d API calls in all (sign-in not counted)", len(org.Records("Task")), org.Total())
	return nil
}

func orDash(v any) any {
	if v == nil || v == "" {
		return "-"
	}
	return v
}

// interactionsBySubject maps the subjects of the store's interactions to their IDs.
func interactionsBySubject(ctx context.Context, store adapter.Store) (map[string]string, error) {
	ids := map[string]string{}
	err := store.View(ctx, func(tx adapter.Tx) error {
		all, err := tx.Interactions(adapter.InteractionFilter{})
		for _, i := range all {
			ids[i.Subject] = i.ID
		}
		return err
	})
	return ids, err
}

// waitForWriteback waits until the outbox holds nothing pending or in flight.
func waitForWriteback(ctx context.Context, store adapter.Store) error {
	for {
		left := 0
		if err := store.View(ctx, func(tx adapter.Tx) error {
			for _, state := range []adapter.OutboxState{adapter.OutboxPending, adapter.OutboxInFlight} {
				rows, err := tx.Outbox(state, 1)
				if err != nil {
					return err
				}
				left += len(rows)
			}
			return nil
		}); err != nil || left == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// demoRun applies the demo's commands. People may act on the demo's work
// through the panel or the API while the story runs: a step the engine
// refuses then is skipped, and the story goes on. It stops at the first
// error that is no refusal (the store failed, or the demo is stopping).
type demoRun struct {
	ctx context.Context
	e   *adapter.Engine
	p   *narrator
	err error
}

func (d *demoRun) do(cmd adapter.Command) adapter.Result {
	if d.err != nil {
		return adapter.Result{}
	}
	res, err := d.e.Apply(d.ctx, cmd)
	switch {
	case err == nil:
	case refusal(err):
		d.p.say("  ~ skipped: someone acted on this work meanwhile (%s: %v)", adapter.Code(err), err)
	default:
		d.err = fmt.Errorf("%T: %w", cmd, err)
	}
	return res
}

// refusal reports whether err is the engine refusing a command (a 4xx of
// the API), not a failure.
func refusal(err error) bool {
	code := adapter.Code(err)
	return code != adapter.CodeInternal && code != ""
}

// samUser is the demo org's supervisor: a person working in Salesforce.
const samUser = "005Sd0000000004IAA"

// edit changes a record in the org as Sam would in Salesforce.
func (d *demoRun) edit(org *sim.Org, object, id string, fields map[string]any) {
	if d.err != nil {
		return
	}
	if err := org.Edit(samUser, object, id, fields); err != nil {
		d.err = fmt.Errorf("edit %s %s as Sam: %w", object, id, err)
	}
}

// crmID returns the CRM record id of an interaction.
func (d *demoRun) crmID(store adapter.Store, id string) string {
	var crmID string
	if d.err != nil {
		return ""
	}
	d.err = store.View(d.ctx, func(tx adapter.Tx) error {
		i, err := tx.Interaction(id)
		if err == nil {
			crmID = i.CRMID
		}
		return err
	})
	return crmID
}

func (d *demoRun) refuse(cmd adapter.Command) {
	if d.err != nil {
		return
	}
	_, err := d.e.Apply(d.ctx, cmd)
	switch {
	case err == nil:
		// Someone changed the work so that the step was possible.
		d.p.say("  ~ not refused after all: someone acted on this work meanwhile")
	case refusal(err):
		d.p.say("  ! refused (%s): %v", adapter.Code(err), err)
	default:
		d.err = fmt.Errorf("%T: %w", cmd, err)
	}
}

func (d *demoRun) wait(t time.Duration) {
	if d.err != nil {
		return
	}
	select {
	case <-time.After(t):
	case <-d.ctx.Done():
		d.err = d.ctx.Err()
	}
}

func ptr[T any](v T) *T { return &v }

// narrator prints the story and the events as they commit.
type narrator struct {
	mu    sync.Mutex
	out   io.Writer
	steps int
	// omni says the agents' presence follows Omni-Channel (demo --omni).
	omni bool
}

func (p *narrator) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format+"\n", args...)
}

func (p *narrator) step(format string, args ...any) {
	p.steps++
	p.say("\n%d. "+format, append([]any{p.steps}, args...)...)
}

// tour prints where the running demo is and how to talk to it.
func (p *narrator) tour(api, org string) {
	p.say(`
The bridge keeps running, with a new customer record every few seconds.

  Panel        %[1]s/   "Sign in with Salesforce" as an agent's user below (docs/panel.md);
               or %[1]s/#token=demo-alice with an API token
  Sign in as   alice@local.test / alice-password, bob@local.test / bob-password,
               carol@local.test / carol-password (the local org's login page)
  API          %[1]s/api/v1   (docs/api.md)
  Local org    %[2]s   (client ctibridge-local / local-secret)
  Metrics      %[1]s/metrics
  Tokens       demo-alice, demo-bob, demo-carol (agents), demo-admin (admin)

Try it (README.md has the full tour):

  curl -s -H 'Authorization: Bearer demo-alice' %[1]s/api/v1/interactions?folder=ongoing
  %[3]s
  curl -sN -H 'Authorization: Bearer demo-alice' %[1]s/api/v1/events

Ctrl-C stops it.`, api, org, p.presenceCommand(api, org))
}

// presenceCommand is the tour's command that makes bob available: in
// ctibridge, or with --omni in the Omni-Channel widget (the org's stand-in
// for it).
func (p *narrator) presenceCommand(api, org string) string {
	if p.omni {
		return `curl -s -d '{"user":"bob@local.test","status":"Available"}' ` + org + sim.OmniControlPath +
			"   (bob's Omni-Channel status: Available, Busy_Voice, Busy, Away; \"status\":\"\" signs him out)"
	}
	return `curl -s -X PUT -H 'Authorization: Bearer demo-bob' -d '{"presence":"available"}' ` + api + "/api/v1/me/presence"
}

func (p *narrator) events(events []adapter.Event) {
	for _, e := range events {
		p.say("  > %-22s %s", e.Type, describe(e))
	}
}

func describe(e adapter.Event) string {
	switch {
	case e.Interaction != nil:
		i := e.Interaction
		s := fmt.Sprintf("%q (%s, %s) %s", i.Subject, i.Media, i.Service, i.Status)
		if i.Owner != "" {
			s += " owner=" + i.Owner
		}
		if i.Status == contactpad.Deferred && i.DueBy != nil {
			s += " due_by=" + i.DueBy.Local().Format("15:04:05")
		}
		var flags []string
		for f, on := range e.Flags {
			if on {
				flags = append(flags, f)
			}
		}
		if len(flags) > 0 {
			s += " [" + strings.Join(flags, ",") + "]"
		}
		return s
	case e.Transfer != nil:
		t := e.Transfer
		s := fmt.Sprintf("%s transfer %s -> %s %s", t.Mode, t.Initiator, t.Target, t.Status)
		if t.FailedReason != "" {
			s += " (" + t.FailedReason + ")"
		}
		if t.Note != "" {
			s += fmt.Sprintf(" note=%q", t.Note)
		}
		return s
	case e.Agent != nil:
		s := e.Agent.ID + " is " + string(e.Agent.Presence)
		if e.Agent.Source == adapter.PresenceFromOmni {
			status := e.Agent.CRMStatus
			if status == "" {
				status = "signed out"
			}
			s += " (Omni-Channel: " + status + ")"
		}
		for _, m := range e.Agent.BusyMedia {
			s += ", busy for " + string(m)
		}
		return s
	case e.Consult != nil:
		return e.Consult.Initiator + " -> " + e.Consult.Target.String() + " " + string(e.Consult.Status)
	}
	return ""
}
