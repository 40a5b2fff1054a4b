package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/config"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
)

// demoOmniPresence is demo --omni's presence mirror: on a call in
// Omni-Channel (Busy_Voice), an agent takes chats and cases but no calls.
func demoOmniPresence() config.OmniPresence {
	return config.OmniPresence{
		Enabled: true,
		Map: map[string]contactpad.Presence{"Available": contactpad.Available, "Busy_Voice": contactpad.Available,
			"Busy": contactpad.Busy, "Away": contactpad.Busy},
		Media: map[string]map[contactpad.Media]contactpad.Presence{"Busy_Voice": {contactpad.Live: contactpad.Busy}},
	}
}

// omniStory tells demo --omni's story: the agents' presence follows what
// they set in Omni-Channel, which the local org's widget stand-in plays,
// and a Case of the Support_Omni queue is routed through an AgentWork
// (omniRoutingStory) while they are available.
func omniStory(ctx context.Context, daemon *daemon, org *sim.Org, p *narrator, orgURL, path string) error {
	p.say("ctibridge demo --omni: a local Salesforce org at %s, the engine on SQLite at %s", orgURL, path)
	p.say("The agents' presence follows their Omni-Channel status in Salesforce (crm.salesforce.omni.presence), read at every poll (1s here).")
	p.say("Every line marked '>' is an event from the store.")
	d := &demoRun{ctx: ctx, e: daemon.engine, p: p}
	poll := 1500 * time.Millisecond
	omni := func(user, status string) {
		if d.err == nil {
			if err := org.OmniStatus(user, status); err != nil {
				d.err = err
			}
		}
		d.wait(poll)
	}

	p.step("alice and bob sign in to Omni-Channel as Available: ctibridge makes them available, and the waiting work goes to them")
	omni("alice@local.test", "Available")
	omni("bob@local.test", "Available")

	p.step("bob is on a call outside ctibridge: Omni-Channel shows Busy_Voice. He stays available for chats and cases,\n" +
		"   but ctibridge routes him no new calls (crm.salesforce.omni.presence.media: {Busy_Voice: {live: busy}})")
	omni("bob@local.test", "Busy_Voice")

	p.step("bob tries to set his presence in ctibridge: refused, it follows Omni-Channel (the panel's selector says so)")
	d.refuse(adapter.SetPresence{Agent: "bob", Presence: contactpad.Busy})

	if d.err == nil {
		d.err = omniRoutingStory(ctx, daemon, org, p)
	}

	p.step("alice takes a break in Omni-Channel (Away): busy in ctibridge")
	omni("alice@local.test", "Away")

	p.step("bob signs out of Omni-Channel: logged out in ctibridge")
	omni("bob@local.test", "")
	return d.err
}

// demo --omni: ctibridge is the external router of the demo org's
// Support_Omni queue (External routing), and the story ends with one Case
// routed through an AgentWork.

// omniDemoMapping is the omni section the demo's Case mapping gets.
const omniDemoMapping = "    omni: {external_routing: true, queue: Support_Omni, service_channel: Cases}\n"

// withOmniRouting returns the demo's config with the Case mapping routing
// the Support_Omni queue, and its records with the org's Omni-Channel
// setup (the queue, its External routing configuration and the Cases
// service channel, from the default seed).
func withOmniRouting(config []byte, records []sim.Record) ([]byte, []sim.Record, error) {
	anchor := []byte("  - object: Case\n")
	at := bytes.Index(config, anchor)
	if at < 0 {
		return nil, nil, fmt.Errorf("demo --omni: the demo config has no Case mapping")
	}
	at += len(anchor)
	out := append(append(append([]byte{}, config[:at]...), omniDemoMapping...), config[at:]...)
	for _, r := range sim.DefaultSeed() {
		switch r["attributes"].(map[string]any)["type"] {
		case "Group", "QueueRoutingConfig", "ServiceChannel":
			records = append(records, r)
		}
	}
	return out, records, nil
}

// omniRoutingStory puts a Case in the Support_Omni queue as Sam would, waits for
// ctibridge to route it and create its AgentWork, accepts it in
// "Omni-Channel" for the agent and shows the org's rows at each step.
func omniRoutingStory(ctx context.Context, daemon *daemon, org *sim.Org, p *narrator) error {
	d := &demoRun{ctx: ctx, e: daemon.engine, p: p}
	p.step("Omni-Channel: Sam puts a Case in the Support_Omni queue, whose routing configuration is External. Salesforce\n" +
		"   makes its PendingServiceRouting; ctibridge routes it with its own rules and offers it as an AgentWork")
	caseID, err := org.Create(samUser, "Case", map[string]any{"Subject": "Parcel arrived damaged", "Origin": "Web",
		"Type": "Problem", "OwnerId": org.QueueID("Support_Omni")})
	if err != nil {
		return fmt.Errorf("omni story: %w", err)
	}
	var work map[string]any
	for work == nil {
		if work = agentWork(org, caseID); work == nil {
			d.wait(100 * time.Millisecond)
			if d.err != nil {
				return d.err
			}
		}
	}
	p.say("    AgentWork %v for user %v: %v; PendingServiceRouting pushed: %v", work["Id"], work["UserId"], work["Status"],
		pushed(org, caseID))
	p.step("The agent accepts in the Omni-Channel widget (the panel's Accept is refused for such an offer); the next poll\n" +
		"   connects the interaction in ctibridge, and Salesforce has deleted the PendingServiceRouting")
	if err := org.OmniAccept(fmt.Sprint(work["Id"])); err != nil {
		return err
	}
	i, err := waitForCase(d, daemon.store, caseID, func(i *contactpad.Interaction) bool {
		return i.Status == contactpad.Connected
	})
	if err != nil {
		return err
	}
	first := agentWork(org, caseID)
	p.say("    AgentWork %v: %v; PendingServiceRouting pushed: %v", first["Id"], first["Status"], pushed(org, caseID))

	from := i.Owner
	to := map[string]string{"alice": "bob", "bob": "alice"}[from]
	p.step(fmt.Sprintf("%s warm-transfers it to %s: the request is an AgentWork for %s, answered in the Omni-Channel widget\n"+
		"   (the panel's Accept is refused for it); accepted there, Salesforce hands the Case over, and so does ctibridge", from, to, to))
	d.do(adapter.StartTransfer{ID: i.ID, Agent: from, Target: contactpad.Target{Agent: to}, Note: "The customer sent photos"})
	if d.err != nil {
		return d.err
	}
	for work = agentWork(org, caseID); work["Id"] == first["Id"]; work = agentWork(org, caseID) {
		d.wait(100 * time.Millisecond)
		if d.err != nil {
			return d.err
		}
	}
	p.say("    AgentWork %v for user %v: %v", work["Id"], work["UserId"], work["Status"])
	if err := org.OmniAccept(fmt.Sprint(work["Id"])); err != nil {
		return err
	}
	if _, err := waitForCase(d, daemon.store, caseID, func(i *contactpad.Interaction) bool { return i.Owner == to }); err != nil {
		return err
	}
	p.say("    AgentWork %v: %v; AgentWork %v: %v; the Case's owner: %v", first["Id"], orgRecord(org, "AgentWork", first["Id"])["Status"],
		work["Id"], orgRecord(org, "AgentWork", work["Id"])["Status"], orgRecord(org, "Case", caseID)["OwnerId"])
	return nil
}

// waitForCase waits until the interaction of a Case is as done says, and
// returns it.
func waitForCase(d *demoRun, store adapter.Store, caseID string, done func(*contactpad.Interaction) bool) (*contactpad.Interaction, error) {
	for {
		var i *contactpad.Interaction
		err := store.View(d.ctx, func(tx adapter.Tx) error {
			var err error
			i, err = tx.InteractionByCRM("Case", caseID)
			return err
		})
		if err == nil && done(i) {
			return i, nil
		}
		d.wait(100 * time.Millisecond)
		if d.err != nil {
			return nil, d.err
		}
	}
}

// orgRecord returns the org's record of object with id, or nil.
func orgRecord(org *sim.Org, object string, id any) map[string]any {
	for _, r := range org.Records(object) {
		if r["Id"] == id {
			return r
		}
	}
	return nil
}

// agentWork returns the newest AgentWork of a work item, or nil.
func agentWork(org *sim.Org, item string) map[string]any {
	var last map[string]any
	for _, r := range org.Records("AgentWork") {
		if r["WorkItemId"] == item {
			last = r
		}
	}
	return last
}

// pushed says whether a work item's PendingServiceRouting is pushed
// ("deleted" once none is left).
func pushed(org *sim.Org, item string) string {
	for _, r := range org.Records("PendingServiceRouting") {
		if r["WorkItemId"] == item {
			return fmt.Sprint(r["IsPushed"])
		}
	}
	return "deleted"
}
