package adapter

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/sirupsen/logrus"
)

// PresenceSource reads the agents' presence status in the CRM
// (Salesforce Omni-Channel).
type PresenceSource interface {
	// Statuses returns the current status of each of users (CRM user
	// ids, as the agents' CRMUserID spells them), by user; a user who has
	// none (signed out) is absent. It reads them all in one CRM call
	// (one per few thousand users), not one per user. An error is tried
	// again at the next poll. Safe to call from one goroutine at a time.
	Statuses(ctx context.Context, users []string) (map[string]string, error)
}

// PresenceMap says what presence each CRM status means.
type PresenceMap struct {
	// Source names the CRM's presence in logs and refusals
	// ("Omni-Channel"); Settings.PresenceSource is the same name.
	Source string
	// Presence is the presence of each status. A status it does not name
	// is logged once and ignored: the agent keeps its presence.
	Presence map[string]contactpad.Presence
	// Busy lists, per status, the media types that take no new work
	// while the agent is in it.
	Busy map[string][]contactpad.Media
}

// followCapacity is the capacity of an agent whose configured capacity is
// configured and whose busy media types are busy: those count as 0.
func followCapacity(configured contactpad.Capacity, busy []contactpad.Media) contactpad.Capacity {
	out := maps.Clone(configured)
	if out == nil {
		out = contactpad.Capacity{}
	}
	for _, m := range busy {
		out[m] = 0
	}
	return out
}

// sameCapacity reports whether a and b hold the same capacity, a missing
// media type counting as 0.
func sameCapacity(a, b contactpad.Capacity) bool {
	for _, m := range contactpad.Medias {
		if a[m] != b[m] {
			return false
		}
	}
	return true
}

func (cmd FollowPresence) apply(c *change) error {
	if _, err := contactpad.ParsePresence(string(cmd.Presence)); err != nil {
		return &InvalidError{Field: "presence", Reason: err.Error()}
	}
	a, err := c.agent(cmd.Agent)
	if err != nil {
		return err
	}
	configured := a.Capacity
	if want, ok := c.agents[a.ID]; ok {
		configured = want.Capacity
	}
	capacity := followCapacity(configured, cmd.Busy)
	changed := !sameCapacity(a.Capacity, capacity)
	a.Capacity = capacity
	origin := AgentPresence{Source: PresenceFromOmni, CRMStatus: cmd.Status, BusyMedia: slices.Clone(cmd.Busy)}
	return c.changePresence(a, cmd.Presence, origin, changed)
}

// presenceLeaseKey is the lease of the replica that reads the CRM's presence.
const presenceLeaseKey = "poll-lease:presence"

// RunPresence makes the agents' presence follow their CRM status until
// ctx is done: at once, then every opts.PollInterval (FollowPresenceOnce).
// Like RunPoll, only the replica that holds the presence lease reads the
// CRM.
func (e *Engine) RunPresence(ctx context.Context, src PresenceSource, m PresenceMap, opts SyncOptions) {
	opts = opts.withDefaults()
	tick := time.NewTicker(opts.PollInterval)
	defer tick.Stop()
	lease := NewLease(e.store, presenceLeaseKey, e.holder, opts.PollLease)
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := lease.Release(ctx); err != nil {
			WarnFailed(e.log, err, "hand back the CRM presence lease")
		}
	}()
	f := &presenceFollower{e: e, src: src, m: m, unknown: map[string]bool{}}
	for {
		held, err := lease.Acquire(ctx, e.now())
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			WarnFailed(e.log, err, "take the CRM presence lease")
		}
		if held {
			if err := f.once(ctx); err != nil && ctx.Err() == nil {
				WarnFailed(e.log.WithField("source", m.Source), err, "follow the agents' presence in the CRM")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// FollowPresenceOnce reads the agents' CRM status once and applies the
// presence it means to each agent whose presence (or busy media types)
// differs from it, as FollowPresence commands.
func (e *Engine) FollowPresenceOnce(ctx context.Context, src PresenceSource, m PresenceMap) error {
	return (&presenceFollower{e: e, src: src, m: m, unknown: map[string]bool{}}).once(ctx)
}

// presenceFollower is one RunPresence: it remembers the unknown statuses
// it has logged, so each is logged once.
type presenceFollower struct {
	e       *Engine
	src     PresenceSource
	m       PresenceMap
	unknown map[string]bool
}

func (f *presenceFollower) once(ctx context.Context) error {
	var agents []*contactpad.Agent
	if err := f.e.store.View(ctx, func(tx Tx) error {
		var err error
		agents, err = tx.Agents()
		return err
	}); err != nil {
		return fmt.Errorf("read agents: %w", err)
	}
	var users []string
	for _, a := range agents {
		if a.CRMUserID != "" && !slices.Contains(users, a.CRMUserID) {
			users = append(users, a.CRMUserID)
		}
	}
	if len(users) == 0 {
		return nil
	}
	statuses, err := f.src.Statuses(ctx, users)
	if err != nil {
		return fmt.Errorf("read the agents' %s status: %w", f.m.Source, err)
	}
	configured := map[string]contactpad.Agent{}
	for _, a := range f.e.Settings().Agents {
		configured[a.ID] = a
	}
	var cmds []Command
	for _, a := range agents {
		if a.CRMUserID == "" {
			continue
		}
		cmd := FollowPresence{Agent: a.ID, Presence: contactpad.LoggedOut}
		if status, ok := statuses[a.CRMUserID]; ok {
			p, known := f.m.Presence[status]
			if !known {
				if !f.unknown[status] {
					f.unknown[status] = true
					f.e.log.WithFields(logrus.Fields{"agent": a.ID, "status": status, "source": f.m.Source}).
						Warn("a presence status that crm.salesforce.omni.presence.map does not name; ignored (logged once)")
				}
				continue
			}
			cmd.Presence, cmd.Busy, cmd.Status = p, f.m.Busy[status], status
		}
		want := a.Capacity
		if c, ok := configured[a.ID]; ok {
			want = c.Capacity
		}
		if a.Presence == cmd.Presence && sameCapacity(a.Capacity, followCapacity(want, cmd.Busy)) {
			continue
		}
		cmds = append(cmds, cmd)
	}
	for k, out := range f.e.applyBackground(ctx, cmds) {
		cmd := cmds[k].(FollowPresence)
		log := f.e.log.WithFields(logrus.Fields{"agent": cmd.Agent, "presence": cmd.Presence, "status": cmd.Status,
			"source": f.m.Source})
		if out.Err != nil {
			WarnFailed(log, out.Err, "set presence from "+f.m.Source)
			continue
		}
		log.Info("presence from " + f.m.Source)
	}
	return nil
}
