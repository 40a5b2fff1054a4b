package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/adapter/store/sqlite"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
)

//go:embed demo.yaml
var demoConfig []byte

// demoSettings are the demo's agents and services (API.md's demo
// identities) with timeouts short enough to watch, read through the same
// config path as a real config file.
func demoSettings() (adapter.Settings, error) {
	cfg, err := config.Parse("demo.yaml", demoConfig)
	if err != nil {
		return adapter.Settings{}, err
	}
	return engineSettings(cfg), nil
}

// runDemo tells the engine's story on a fresh SQLite store: routing,
// deferral with automatic reopen, a warm transfer that times out and one
// that succeeds, refusals, release into wrap-up and resume from History.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "directory for the SQLite store (default: a new temporary directory, removed at exit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir := *data
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ctibridge-demo-")
		if err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := demo(ctx, dir, stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, dir string, out io.Writer) error {
	path := filepath.Join(dir, "ctibridge.db")
	store, err := sqlite.Open(path)
	if err != nil {
		return err
	}
	defer store.Close()

	settings, err := demoSettings()
	if err != nil {
		return err
	}
	p := &narrator{out: out}
	log := logrus.New()
	log.SetOutput(io.Discard)
	engine := adapter.New(store, settings, adapter.WithLogger(log), adapter.OnEvents(p.events))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { _ = engine.Run(ctx) })
	select {
	case <-engine.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}

	p.say("ctibridge demo: the engine on a SQLite store at %s", path)
	p.say("Agents alice (support, billing), bob (support), carol (billing). Every line marked '>' is an event from the store.")
	d := &demoRun{ctx: ctx, e: engine, p: p}

	p.step("Four customers get in touch; nobody is available yet, so everything queues")
	refund := d.ingest("500000000000001AAA", contactpad.NonLive, "billing", "Refund for order 1138", 2)
	password := d.ingest("500000000000002AAA", contactpad.NonLive, "support", "Password reset loop", 1)
	chat := d.ingest("570000000000003AAA", contactpad.SemiLive, "support", "Where is my parcel?", 1)
	call := d.ingest("500000000000004AAA", contactpad.Live, "support", "Router keeps rebooting", 3)

	p.step("alice goes Available now: emails and chats connect at once, the call alerts (offered) until she accepts")
	d.do(adapter.SetPresence{Agent: "alice", Presence: contactpad.Available})
	d.do(adapter.Accept{ID: call, Agent: "alice"})

	p.step("alice tries to defer the refund case to yesterday: refused")
	d.refuse(adapter.Defer{ID: refund, Agent: "alice", DueBy: ptr(time.Now().Add(-24 * time.Hour))})
	p.step("alice tries to transfer the chat: chats cannot be transferred by default")
	d.refuse(adapter.StartTransfer{ID: chat, Agent: "alice", Target: contactpad.Target{Agent: "bob"}})

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

	p.step("The refund case's audit trail")
	var trail []contactpad.AuditEntry
	var pending []adapter.OutboxRow
	if err := store.View(ctx, func(tx adapter.Tx) error {
		if trail, err = tx.Audit(refund); err != nil {
			return err
		}
		pending, err = tx.Outbox(adapter.OutboxPending, 1_000_000)
		return err
	}); err != nil {
		return err
	}
	for _, e := range trail {
		p.say("    %s  %-18s %-10s -> %-10s %s", e.At.Local().Format("15:04:05"), e.Action, e.FromStatus, e.ToStatus, e.Message)
	}
	p.step("Done. %d changes wait in the outbox for the CRM writeback; every one was written in the same transaction as its state change.", len(pending))
	return d.err
}

// demoRun applies the demo's commands, stopping at the first unexpected error.
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
	if err != nil {
		d.err = fmt.Errorf("%T: %w", cmd, err)
	}
	return res
}

func (d *demoRun) refuse(cmd adapter.Command) {
	if d.err != nil {
		return
	}
	if _, err := d.e.Apply(d.ctx, cmd); err != nil {
		d.p.say("  ! refused (%s): %v", adapter.Code(err), err)
		return
	}
	d.err = fmt.Errorf("%T was not refused", cmd)
}

func (d *demoRun) ingest(crmID string, media contactpad.Media, service, subject string, priority int) string {
	res := d.do(adapter.Ingest{Item: contactpad.WorkItem{CRMID: crmID, CRMObject: "Case", Media: media,
		Service: service, Subject: subject, Priority: priority}})
	if res.Interaction == nil {
		return ""
	}
	return res.Interaction.ID
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
		return e.Agent.ID + " is " + string(e.Agent.Presence)
	case e.Consult != nil:
		return e.Consult.Initiator + " -> " + e.Consult.Target.String() + " " + string(e.Consult.Status)
	}
	return ""
}
