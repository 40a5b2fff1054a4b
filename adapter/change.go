package adapter

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// change is one command being applied inside a store transaction. Every
// write goes through it, so that each interaction change carries its audit
// entry, event, outbox rows and timers.
type change struct {
	tx  Tx
	now time.Time
	s   *Settings
	// agents holds the configured agents by ID (names, CRM user ids), and
	// crmUsers their IDs by CRM user id.
	agents   map[string]contactpad.Agent
	crmUsers map[string]string
	res      Result
	// routed collects the routing latencies (seconds) of the offers made,
	// for metrics; nil when the engine has none.
	routed []float64
	// conflicts collects the fields both the CRM and the bridge changed,
	// for metrics.
	conflicts []fieldConflict
}

// fieldConflict is one field of a CRM record that both sides changed
// since they were last in step.
type fieldConflict struct {
	object, field string
	bridgeWins    bool
}

// record describes why an interaction changed, for its audit entry and event.
type record struct {
	actor    string
	action   contactpad.AuditAction   // empty: no audit entry (not a transition)
	category contactpad.AuditCategory // handling-export category
	message  string
	data     map[string]string
	event    EventType // default interaction.updated
	flags    map[string]bool
	activity bool // an agent worked on it: resets the inactivity period
	// local keeps the audit entry out of the CRM: the change came from
	// the CRM (or is the first sight of a record), which knows it already.
	local bool
	// agentWork, if set, is an offer to deliver through Omni-Channel: the
	// change's outbox row carries it.
	agentWork *contactpad.AgentWorkOffer
	// gone: the CRM record no longer exists; nothing is written to it.
	gone bool
}

func actorOf(agent string) string {
	if agent == "" {
		return contactpad.ActorAdmin
	}
	return agent
}

// interaction loads an interaction, wrapping ErrNotFound with its ID.
func (c *change) interaction(id string) (*contactpad.Interaction, error) {
	// The store's error names the interaction.
	return c.tx.Interaction(id)
}

// save writes i, which was before, with the audit entry, event, outbox
// rows and timers its change implies. The outbox row carries the audit
// entry (unless it is local) and asks for the mirrored fields the change
// made differ from what the CRM holds.
func (c *change) save(i *contactpad.Interaction, before contactpad.Interaction, r record) error {
	i.Version++
	i.UpdatedAt = c.now
	if r.activity || i.Status != before.Status {
		i.LastActivityAt = c.now
	}
	// The talk timer starts when the work connects to an agent: accepted,
	// assigned, reopened, resumed, or handed over to a new owner.
	if i.Status == contactpad.Connected && (before.Status != contactpad.Connected || i.Owner != before.Owner) {
		at := c.now
		i.ConnectedAt = &at
	}
	wb := c.writeback(i)
	var change contactpad.RecordChange
	if i.CRMID != "" {
		m := c.mirror(i.CRMObject)
		want, err := m.Fields(i.CRMID, wb)
		if err != nil {
			return fmt.Errorf("mirrored fields of %s %s: %w", i.CRMObject, i.CRMID, err)
		}
		// What a change made in the CRM leads to is written back only to
		// the fields the bridge owns (it wins their conflicts): the CRM's
		// own fields stay as the people working there left them.
		var mark func(string) bool
		switch {
		case r.gone:
			i.Sync.Change(want, func(string) bool { return false })
			i.Sync.Dirty, i.Sync.Sent = nil, nil // nothing left to write
		case r.actor == contactpad.ActorCRM:
			mark = m.Policy().BridgeWins
		}
		if !r.gone && i.Sync.Change(want, mark) {
			change.Fields = i.Sync.Writes()
		}
	}
	if err := c.tx.PutInteraction(i); err != nil {
		return fmt.Errorf("save interaction %s: %w", i.ID, err)
	}
	if err := c.syncTimers(i, &before); err != nil {
		return err
	}
	if r.action != "" {
		e, err := c.appendAudit(i, before.Status, r)
		if err != nil {
			return err
		}
		if !r.local {
			change.Audit = e
		}
	}
	if change.Audit != nil || change.Fields != nil {
		change.Writeback = &wb
	}
	change.AgentWork = r.agentWork
	if err := c.outbox(i, change); err != nil {
		return err
	}
	typ := r.event
	if typ == "" {
		typ = EventInteractionUpdated
	}
	snapshot := *i
	// The result is the command's own interaction (saved first), not one
	// that routing touched after it in the same transaction.
	if c.res.Interaction == nil || c.res.Interaction.ID == i.ID {
		c.res.Interaction = &snapshot
	}
	return c.emit(Event{Type: typ, Interaction: &snapshot, Flags: r.flags,
		Audience: audience(i.Owner, before.Owner, i.TargetAgent)})
}

// syncTimers arms and clears the timers that follow from i's state: the
// offer timeout while offered, the wrap-up end while in wrap-up, the due
// date while deferred, and the inactivity timer while connected.
func (c *change) syncTimers(i, before *contactpad.Interaction) error {
	type timed struct {
		kind   TimerKind
		status contactpad.Status
		at     func(*contactpad.Interaction) *time.Time
	}
	for _, t := range []timed{
		{TimerOfferTimeout, contactpad.Offered, func(x *contactpad.Interaction) *time.Time { return x.OfferExpiresAt }},
		{TimerWrapUpEnd, contactpad.WrapUp, func(x *contactpad.Interaction) *time.Time { return x.WrapUpEndsAt }},
		{TimerDueDate, contactpad.Deferred, func(x *contactpad.Interaction) *time.Time { return x.DueBy }},
	} {
		now, was := i.Status == t.status, before.Status == t.status
		switch {
		case now && (!was || !equalTime(t.at(i), t.at(before))):
			at := t.at(i)
			if at == nil {
				// Deferred with no due date (put on hold in the CRM).
				if err := c.tx.ClearTimer(t.kind, i.ID); err != nil {
					return err
				}
				continue
			}
			if err := c.tx.SetTimer(Timer{Kind: t.kind, Ref: i.ID, DueAt: *at}); err != nil {
				return err
			}
		case !now && was:
			if err := c.tx.ClearTimer(t.kind, i.ID); err != nil {
				return err
			}
		}
	}
	// The inactivity timer is armed once on connect; activity only moves
	// LastActivityAt, and a timer that fires early re-arms itself (inactive).
	idle := c.s.Inactivity[i.Media]
	switch {
	case idle <= 0:
	case i.Status == contactpad.Connected && before.Status != contactpad.Connected:
		return c.tx.SetTimer(Timer{Kind: TimerInactivity, Ref: i.ID, DueAt: i.LastActivityAt.Add(idle)})
	case i.Status != contactpad.Connected && before.Status == contactpad.Connected:
		return c.tx.ClearTimer(TimerInactivity, i.ID)
	}
	return nil
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// audit appends an audit entry that comes with no change of i's state
// (a consult, a failed transfer), and its outbox row unless it is local;
// the row carries r's AgentWork, if any (a transfer request delivered
// through Omni-Channel).
func (c *change) audit(i *contactpad.Interaction, r record) error {
	e, err := c.appendAudit(i, i.Status, r)
	if err != nil || r.local {
		return err
	}
	wb := c.writeback(i)
	return c.outbox(i, contactpad.RecordChange{Audit: e, Writeback: &wb, AgentWork: r.agentWork})
}

// appendAudit appends the audit entry of r for i.
func (c *change) appendAudit(i *contactpad.Interaction, from contactpad.Status, r record) (*contactpad.AuditEntry, error) {
	e := &contactpad.AuditEntry{ID: newID("aud"), InteractionID: i.ID, At: c.now, Actor: r.actor,
		Action: r.action, Category: r.category, FromStatus: from, ToStatus: i.Status,
		Message: r.message, Data: r.data}
	if e.Actor == "" {
		e.Actor = contactpad.ActorSystem
	}
	if err := c.tx.AppendAudit(e); err != nil {
		return nil, fmt.Errorf("audit interaction %s: %w", i.ID, err)
	}
	return e, nil
}

// outbox queues the change of i's CRM record for writeback, if i comes from
// the CRM and the change carries anything.
func (c *change) outbox(i *contactpad.Interaction, change contactpad.RecordChange) error {
	if i.CRMID == "" || (change.Fields == nil && change.Audit == nil && change.AgentWork == nil) {
		return nil
	}
	body, err := json.Marshal(change)
	if err != nil {
		return err
	}
	row := &OutboxRow{InteractionID: i.ID, CRMObject: i.CRMObject, CRMID: i.CRMID, Kind: OutboxChange,
		Payload: body, State: OutboxPending, CreatedAt: c.now}
	if err := c.tx.AppendOutbox(row); err != nil {
		return fmt.Errorf("outbox interaction %s: %w", i.ID, err)
	}
	return nil
}

// writeback is the part of i that the CRM mirrors. The owner is the agent
// who works it, not one it is only offered to.
func (c *change) writeback(i *contactpad.Interaction) contactpad.Writeback {
	wb := contactpad.Writeback{Status: i.Status, DueBySetManually: i.DueBySetManually,
		AutoOpenedDueToDueDate: i.AutoOpenedDueToDueDate, ResumedFrom: i.ResumedFrom, Service: i.Service}
	if i.Status.Worked() && i.Owner != "" {
		wb.Owner, wb.OwnerCRMUserID = i.Owner, c.agents[i.Owner].CRMUserID
	}
	if i.DueBy != nil {
		// A value, not the pointer, so that two writebacks compare by content.
		due := i.DueBy.UTC()
		wb.DueBy = &due
	}
	return wb
}

// emit stores an event and keeps it for the Result.
func (c *change) emit(e Event) error {
	e.At = c.now
	if err := c.tx.AppendEvent(&e); err != nil {
		return fmt.Errorf("event %s: %w", e.Type, err)
	}
	c.res.Events = append(c.res.Events, e)
	return nil
}

// audience lists the distinct non-empty agents.
func audience(agents ...string) []string {
	out := make([]string, 0, len(agents))
	for _, a := range agents {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// agent loads an agent, wrapping ErrNotFound with its ID.
func (c *change) agent(id string) (*contactpad.Agent, error) {
	a, err := c.tx.Agent(id)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", id, err)
	}
	return a, nil
}

// hasRoom reports whether an agent with load may take one more interaction
// of media, honouring the release-all-before-next policy. Tx.Candidate
// applies the same rule in the store.
func (c *change) hasRoom(a *contactpad.Agent, load contactpad.Capacity, media contactpad.Media) bool {
	return c.s.hasRoom(a, load, media)
}

func (s *Settings) hasRoom(a *contactpad.Agent, load contactpad.Capacity, media contactpad.Media) bool {
	if load[media] >= a.Capacity[media] {
		return false
	}
	if s.ReleaseAllBeforeNext {
		for _, n := range load {
			if n > 0 {
				return false
			}
		}
	}
	return true
}

// roomFor checks that agent may take one more interaction of media.
func (c *change) roomFor(agent string, media contactpad.Media) error {
	a, err := c.agent(agent)
	if err != nil {
		return err
	}
	load, err := c.tx.Load(agent)
	if err != nil {
		return err
	}
	return c.s.RoomFor(a, load, media)
}

// NeedsRoom says whether agent's step on i takes a free slot of its media
// type (RoomFor): an agent's resume from History does; deferred work keeps
// its slot (see reopen), and an admin's resume sends the work back to
// routing.
func NeedsRoom(i *contactpad.Interaction, step Step, agent string) bool {
	return step == StepResume && agent != "" && i.Status == contactpad.Completed
}

// RoomFor says whether agent a, with load, may take one more interaction
// of media (an agent's resume from History): nil, or the refusal the
// engine gives.
func (s *Settings) RoomFor(a *contactpad.Agent, load contactpad.Capacity, media contactpad.Media) error {
	if s.hasRoom(a, load, media) {
		return nil
	}
	if load[media] < a.Capacity[media] {
		return &ConflictError{Reason: fmt.Sprintf("agent %s holds other work (release_all_before_next)", a.ID),
			Say: "Finish the work you hold first: new work comes only when you hold none."}
	}
	return &ConflictError{Reason: fmt.Sprintf("agent %s has no free %s capacity (%d of %d in use)",
		a.ID, media, load[media], a.Capacity[media]),
		Say: fmt.Sprintf("No room for more %s (%d of %d in use).", mediaNames[media], load[media], a.Capacity[media])}
}

// newID returns a random ID with a readable prefix, unique across replicas.
func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	var sb strings.Builder
	sb.WriteString(prefix)
	sb.WriteByte('_')
	for _, x := range b {
		sb.WriteByte(alphabet[x&31])
	}
	return sb.String()
}
