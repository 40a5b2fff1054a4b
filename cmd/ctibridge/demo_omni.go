package main

import (
	"context"
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
// they set in Omni-Channel, which the local org's widget stand-in plays.
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

	p.step("alice takes a break in Omni-Channel (Away): busy in ctibridge")
	omni("alice@local.test", "Away")

	p.step("bob signs out of Omni-Channel: logged out in ctibridge")
	omni("bob@local.test", "")
	return d.err
}
