package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/connectors/salesforce/sim"
	"github.com/ctibridge/ctibridge/contactpad"
)

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

// omniStory puts a Case in the Support_Omni queue as Sam would, waits for
// ctibridge to route it and create its AgentWork, accepts it in
// "Omni-Channel" for the agent and shows the org's rows at each step.
func omniStory(ctx context.Context, daemon *daemon, org *sim.Org, p *narrator) error {
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
	for {
		var status contactpad.Status
		err := daemon.store.View(ctx, func(tx adapter.Tx) error {
			i, err := tx.InteractionByCRM("Case", caseID)
			if err == nil {
				status = i.Status
			}
			return err
		})
		if err == nil && status == contactpad.Connected {
			break
		}
		d.wait(100 * time.Millisecond)
		if d.err != nil {
			return d.err
		}
	}
	work = agentWork(org, caseID)
	p.say("    AgentWork %v: %v; PendingServiceRouting pushed: %v", work["Id"], work["Status"], pushed(org, caseID))
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
