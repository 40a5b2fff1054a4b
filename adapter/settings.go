package adapter

import (
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// ReopenPolicy decides where a deferred interaction goes at its due date.
type ReopenPolicy string

// The reopen policies.
const (
	// ReopenOwnerThenQueue returns it to the owner's Ongoing folder when the
	// owner is logged in with room for it, else to routing.
	ReopenOwnerThenQueue ReopenPolicy = "owner_then_queue"
	// ReopenQueue always returns it to routing.
	ReopenQueue ReopenPolicy = "queue"
)

// DeferralRule computes a due date for a deferral that names none: the
// first rule whose Match is true sets due_by to now + After, with
// due_by_was_set_manually false.
type DeferralRule struct {
	Name  string
	Match func(*contactpad.Interaction) bool
	After time.Duration
}

// Settings is what the engine's behaviour depends on. cmd builds it from
// the config file; Defaults gives the values of API.md.
type Settings struct {
	Matrix               contactpad.Matrix
	AutoAccept           map[contactpad.Media]bool
	PushTimeout          time.Duration
	PushTimeoutPresence  contactpad.Presence
	ReleaseAllBeforeNext bool
	WrapUp               map[contactpad.Media]time.Duration
	WrapUpMaxExtensions  int
	TransferAccept       time.Duration
	Consult              time.Duration
	// Inactivity is the idle period after which a connected interaction
	// raises interaction.inactive; zero or missing means never.
	Inactivity    map[contactpad.Media]time.Duration
	Reopen        ReopenPolicy
	DeferralRules []DeferralRule
	Agents        []contactpad.Agent
	Services      []contactpad.Service
	// Mirrors says, per CRM object, how its records mirror interactions
	// (the object's mapping); objects it does not name use WritebackMirror.
	Mirrors map[string]Mirror
	// CRMName names the CRM in audit messages ("Closed in Salesforce by
	// ..."); default "the CRM".
	CRMName string
	// PresenceSource, when set, says the agents' presence follows the CRM
	// ("Omni-Channel"): FollowPresence sets it, and an agent's
	// SetPresence is refused with a *PresenceFollowsCRMError.
	PresenceSource string
}

// Defaults returns the default settings of API.md, with no agents or
// services. They are the only definition of these defaults: the config
// file's (package config, docs/configuration.md) are taken from here.
func Defaults() Settings {
	return Settings{
		Matrix:              contactpad.DefaultMatrix(),
		AutoAccept:          map[contactpad.Media]bool{contactpad.Live: false, contactpad.SemiLive: true, contactpad.NonLive: true},
		PushTimeout:         20 * time.Second,
		PushTimeoutPresence: contactpad.Busy,
		WrapUp: map[contactpad.Media]time.Duration{
			contactpad.Live: 30 * time.Second, contactpad.SemiLive: 20 * time.Second, contactpad.NonLive: 10 * time.Second},
		WrapUpMaxExtensions: 1,
		TransferAccept:      30 * time.Second,
		Consult:             45 * time.Second,
		Inactivity: map[contactpad.Media]time.Duration{
			contactpad.SemiLive: 10 * time.Minute, contactpad.NonLive: 24 * time.Hour},
		Reopen: ReopenOwnerThenQueue,
	}
}

// DefaultCapacity is how many interactions of each media type an agent may
// hold at once when the config does not say (agents[].capacity).
func DefaultCapacity() contactpad.Capacity {
	return contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 3, contactpad.NonLive: 5}
}
