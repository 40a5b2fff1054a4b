package adapter

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// handlingCategories are the audit categories of agent work. routing (an
// offer declined) and system are not handling.
var handlingCategories = map[contactpad.AuditCategory]bool{
	contactpad.CategoryAccept: true, contactpad.CategoryStatusAction: true, contactpad.CategoryTransfer: true,
	contactpad.CategoryRelease: true, contactpad.CategoryAbandon: true, contactpad.CategoryConsult: true,
	contactpad.CategoryHold: true, contactpad.CategoryWrapUp: true,
}

// handlingPage is how many audit entries Engine.Handling reads at a time.
const handlingPage = 1000

// HandlingStep is one row of the handling export: one step an agent took
// on an interaction, from one audit entry. HandleTime is defined at
// HandlingReport.
type HandlingStep struct {
	At            time.Time        `json:"at"`
	Agent         string           `json:"agent"`
	InteractionID string           `json:"interaction_id"`
	CRMObject     string           `json:"crm_object"`
	CRMID         string           `json:"crm_id"`
	Media         contactpad.Media `json:"media"`
	// Service is the interaction's service as it is now.
	Service string `json:"service"`
	// Category is the audit category (status_action, accept, transfer,
	// release, abandon, consult, hold, wrap_up), Action the audit action
	// (deferred, resumed, accepted, transferred, ...).
	Category   contactpad.AuditCategory `json:"category"`
	Action     contactpad.AuditAction   `json:"action"`
	FromStatus contactpad.Status        `json:"from_status"`
	ToStatus   contactpad.Status        `json:"to_status"`
	// HandleTime is the time the agent held the interaction since their
	// previous step on it; in JSON, handle_time_s in seconds.
	HandleTime time.Duration `json:"-"`
}

// HandlingAHT is the average handle time of one agent on one media type.
// Interactions the agent abandoned in the range count apart: their steps'
// handle time is in AbandonedHandleTime, not in HandleTime and AHT.
// Durations are in seconds in JSON (handle_time_s, aht_s,
// abandoned_handle_time_s).
type HandlingAHT struct {
	Agent string           `json:"agent"`
	Media contactpad.Media `json:"media"`
	// Interactions is how many distinct interactions of the media the agent
	// took a step on in the range, holding them before or after the step,
	// and did not abandon.
	Interactions int `json:"interactions"`
	// HandleTime is the sum of the handle times of the agent's steps on them.
	HandleTime time.Duration `json:"-"`
	// AHT is HandleTime / Interactions, zero when Interactions is.
	AHT time.Duration `json:"-"`
	// Abandoned is how many interactions of the media the agent abandoned
	// in the range, and AbandonedHandleTime the handle time of the agent's
	// steps on them.
	Abandoned           int           `json:"-"`
	AbandonedHandleTime time.Duration `json:"-"`
}

// HandlingReport is the handling export of the range From <= At < To (a
// zero bound is open): the steps agents took on interactions, in time
// order, and the average handle time (AHT) by agent, then media type.
//
// A step is an audit entry whose actor is an agent (not the system, not an
// admin) in a handling category: accept, status_action (defer, resume:
// setting pending is handling even when no reply was sent), transfer,
// release, abandon, consult, hold, wrap_up. A declined offer (routing) is
// not handling.
//
// Handle time. An agent holds an interaction while it is theirs and
// connected or in wrap-up: from the accept (or the routing's assignment
// when the media auto-accepts, a reopen into their Ongoing folder, a
// resume, a warm transfer to them) until it leaves them (deferred,
// completed, abandoned, transferred, back to the queue). A step's handle
// time is how long the agent held the interaction since their previous
// step on it, or since they came to hold it if they took no step since. It
// is zero for a step by an agent who did not hold the interaction (an
// accept, a resume, a transfer target's decline, a consult target ending
// the consult). So accept at t0 and defer at t1 give the defer step
// (status_action) the handle time t1-t0, reply or not. A system or admin
// entry that takes the interaction from the agent (the wrap-up timer
// running out, an admin's defer) ends the agent's time without a step:
// what they held since their last step is not counted, and a later resume
// does not count the time in between. A handle time may start before From
// (it is read from the interaction's earlier audit entries): each step is
// in exactly one range, so the handle times of adjacent ranges add up.
type HandlingReport struct {
	From, To time.Time
	Steps    []HandlingStep
	AHT      []HandlingAHT
}

// NewHandlingReport builds the handling export of [from, to) from trail,
// the audit entries of the interactions concerned ordered by At (entries
// with the same At in the order they were appended), and interactions by
// ID, which give each step its media type, service and CRM record. Entries
// before from only set who held what when the range starts; entries at or
// after to are ignored.
func NewHandlingReport(from, to time.Time, trail []contactpad.AuditEntry, interactions map[string]*contactpad.Interaction) *HandlingReport {
	b := newHandlingBuilder(from, to)
	for _, e := range trail {
		if !b.seen(e.InteractionID) {
			b.begin(interactions[e.InteractionID], e.InteractionID, nil)
		}
		switch {
		case !from.IsZero() && e.At.Before(from):
			b.step(e, false)
		case to.IsZero() || e.At.Before(to):
			b.step(e, true)
		}
	}
	return b.report()
}

// Handling builds the handling export of [from, to) from the engine's
// store, in one consistent read: the audit entries of the range page by
// page, and each interaction concerned with its earlier audit entries.
func (e *Engine) Handling(ctx context.Context, from, to time.Time) (*HandlingReport, error) {
	b := newHandlingBuilder(from, to)
	err := e.store.View(ctx, func(tx Tx) error {
		var after AuditCursor
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			page, next, err := tx.AuditBetween(from, to, after, handlingPage)
			if err != nil {
				return err
			}
			for _, entry := range page {
				if !b.seen(entry.InteractionID) {
					if err := b.load(tx, entry.InteractionID); err != nil {
						return err
					}
				}
				b.step(entry, true)
			}
			if len(page) < handlingPage {
				return nil
			}
			after = next
		}
	})
	if err != nil {
		return nil, fmt.Errorf("handling export: %w", err)
	}
	return b.report(), nil
}

// handlingBuilder folds audit entries, in time order, into the export.
type handlingBuilder struct {
	from, to time.Time
	held     map[string]*holding // by interaction
	steps    []HandlingStep
	// work is what each agent did on each interaction in the range.
	work  map[agentInteraction]*agentWork
	order []agentInteraction
}

// holding is who holds an interaction as the audit trail goes, and since
// when their time is not counted in a step yet.
type holding struct {
	interaction *contactpad.Interaction
	// owner is the agent the interaction was last given to.
	owner string
	// held is whether owner holds it: connected or in wrap-up.
	held  bool
	since time.Time
}

type agentInteraction struct{ agent, interaction string }

type agentWork struct {
	media      contactpad.Media
	handleTime time.Duration
	held       bool // the agent held it at a step: it counts in the AHT
	abandoned  bool
}

func newHandlingBuilder(from, to time.Time) *handlingBuilder {
	return &handlingBuilder{from: from, to: to, held: map[string]*holding{},
		steps: []HandlingStep{}, work: map[agentInteraction]*agentWork{}}
}

func (b *handlingBuilder) seen(interaction string) bool {
	_, ok := b.held[interaction]
	return ok
}

// load begins an interaction with its stored state and audit trail. One
// missing from the store still has its steps, without media or service.
func (b *handlingBuilder) load(tx Tx, id string) error {
	i, err := tx.Interaction(id)
	if errors.Is(err, ErrNotFound) {
		i = nil
	} else if err != nil {
		return err
	}
	var earlier []contactpad.AuditEntry
	if !b.from.IsZero() {
		trail, err := tx.Audit(id)
		if err != nil {
			return err
		}
		for _, e := range trail {
			if e.At.Before(b.from) {
				earlier = append(earlier, e)
			}
		}
		// Audit is in append order; the export goes by time.
		slices.SortStableFunc(earlier, func(x, y contactpad.AuditEntry) int { return x.At.Compare(y.At) })
	}
	b.begin(i, id, earlier)
	return nil
}

// begin starts following an interaction, from the entries before the range.
func (b *handlingBuilder) begin(i *contactpad.Interaction, id string, earlier []contactpad.AuditEntry) {
	if i == nil {
		i = &contactpad.Interaction{ID: id}
	}
	b.held[id] = &holding{interaction: i}
	for _, e := range earlier {
		b.step(e, false)
	}
}

// step folds in e, and lists it as a step when inRange and it is an
// agent's handling step.
func (b *handlingBuilder) step(e contactpad.AuditEntry, inRange bool) {
	h := b.held[e.InteractionID]
	holder := ""
	if h.held {
		holder = h.owner
	}
	agentStep := isAgentActor(e.Actor) && handlingCategories[e.Category]
	credited := agentStep && e.Actor == holder
	var handleTime time.Duration
	if credited && e.At.After(h.since) {
		handleTime = e.At.Sub(h.since)
	}

	h.owner = nextOwner(h.owner, e)
	h.held = h.owner != "" && (e.ToStatus == contactpad.Connected || e.ToStatus == contactpad.WrapUp)
	if h.held && (credited || h.owner != holder) {
		h.since = e.At
	}

	if !inRange || !agentStep {
		return
	}
	i := h.interaction
	b.steps = append(b.steps, HandlingStep{At: e.At.UTC(), Agent: e.Actor, InteractionID: e.InteractionID,
		CRMObject: i.CRMObject, CRMID: i.CRMID, Media: i.Media, Service: i.Service,
		Category: e.Category, Action: e.Action, FromStatus: e.FromStatus, ToStatus: e.ToStatus,
		HandleTime: handleTime})
	key := agentInteraction{e.Actor, e.InteractionID}
	w := b.work[key]
	if w == nil {
		w = &agentWork{media: i.Media}
		b.work[key] = w
		b.order = append(b.order, key)
	}
	w.handleTime += handleTime
	w.held = w.held || credited || (h.held && h.owner == e.Actor)
	w.abandoned = w.abandoned || e.Category == contactpad.CategoryAbandon
}

// nextOwner is the agent an interaction is given to after e, which it was
// given to before.
func nextOwner(owner string, e contactpad.AuditEntry) string {
	switch {
	case e.ToStatus == contactpad.Queued:
		return ""
	case e.Action == contactpad.AuditOffered || e.Action == contactpad.AuditAssigned || e.Action == contactpad.AuditAdopted:
		return e.Data["agent"]
	case (e.Action == contactpad.AuditTransferred || e.Action == contactpad.AuditReassigned) && e.Data["to"] != "":
		return e.Data["to"]
	case (e.Action == contactpad.AuditAccepted || e.Action == contactpad.AuditResumed) && isAgentActor(e.Actor):
		return e.Actor
	}
	return owner
}

// isAgentActor reports whether an audit actor is an agent, not the
// system, an admin or the CRM.
func isAgentActor(actor string) bool {
	return actor != "" && !slices.Contains(contactpad.ReservedActors, actor)
}

func (b *handlingBuilder) report() *HandlingReport {
	type agentMedia struct {
		agent string
		media contactpad.Media
	}
	byAgentMedia := map[agentMedia]*HandlingAHT{}
	aht := []HandlingAHT{}
	var keys []agentMedia
	for _, key := range b.order {
		w := b.work[key]
		if !w.held {
			continue
		}
		am := agentMedia{key.agent, w.media}
		a := byAgentMedia[am]
		if a == nil {
			a = &HandlingAHT{Agent: key.agent, Media: w.media}
			byAgentMedia[am] = a
			keys = append(keys, am)
		}
		if w.abandoned {
			a.Abandoned++
			a.AbandonedHandleTime += w.handleTime
		} else {
			a.Interactions++
			a.HandleTime += w.handleTime
		}
	}
	slices.SortFunc(keys, func(x, y agentMedia) int {
		return cmp.Or(cmp.Compare(x.agent, y.agent), compareMedia(x.media, y.media))
	})
	for _, k := range keys {
		a := byAgentMedia[k]
		if a.Interactions > 0 {
			a.AHT = a.HandleTime / time.Duration(a.Interactions)
		}
		aht = append(aht, *a)
	}
	return &HandlingReport{From: b.from, To: b.to, Steps: b.steps, AHT: aht}
}

// compareMedia orders media types as contactpad.Medias, unknown ones last.
func compareMedia(x, y contactpad.Media) int {
	rank := func(m contactpad.Media) int {
		if n := slices.Index(contactpad.Medias, m); n >= 0 {
			return n
		}
		return len(contactpad.Medias)
	}
	return cmp.Or(cmp.Compare(rank(x), rank(y)), cmp.Compare(x, y))
}

// handlingColumns is the CSV header of the steps, in column order.
var handlingColumns = []string{"at", "agent", "interaction_id", "crm_object", "crm_id", "media", "service",
	"category", "action", "from_status", "to_status", "handle_time_s"}

// ahtColumns is the CSV header of the AHT table, in column order.
var ahtColumns = []string{"agent", "media", "interactions", "handle_time_s", "aht_s",
	"abandoned", "abandoned_handle_time_s"}

// WriteCSV writes the steps as CSV: a header row, then one row per step
// with the columns of the JSON export in the same order, times in RFC 3339
// UTC (with nanoseconds when there are any), handle times in seconds.
func (r *HandlingReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(handlingColumns); err != nil {
		return err
	}
	for _, s := range r.Steps {
		if err := cw.Write([]string{s.At.UTC().Format(time.RFC3339Nano), s.Agent, s.InteractionID, s.CRMObject,
			s.CRMID, string(s.Media), s.Service, string(s.Category), string(s.Action), string(s.FromStatus), string(s.ToStatus),
			formatSeconds(s.HandleTime)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteAHTCSV writes the AHT table as CSV: a header row, then one row per
// agent and media type.
func (r *HandlingReport) WriteAHTCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ahtColumns); err != nil {
		return err
	}
	for _, a := range r.AHT {
		if err := cw.Write([]string{a.Agent, string(a.Media), strconv.Itoa(a.Interactions),
			formatSeconds(a.HandleTime), formatSeconds(a.AHT), strconv.Itoa(a.Abandoned),
			formatSeconds(a.AbandonedHandleTime)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// MarshalJSON encodes the report as {"from","to","steps":[...],"aht":[...]};
// an open bound is null.
func (r HandlingReport) MarshalJSON() ([]byte, error) {
	steps, aht := r.Steps, r.AHT
	if steps == nil {
		steps = []HandlingStep{}
	}
	if aht == nil {
		aht = []HandlingAHT{}
	}
	return json.Marshal(struct {
		From  *time.Time     `json:"from"`
		To    *time.Time     `json:"to"`
		Steps []HandlingStep `json:"steps"`
		AHT   []HandlingAHT  `json:"aht"`
	}{utcOrNil(r.From), utcOrNil(r.To), steps, aht})
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// MarshalJSON encodes the step with its tags, At in UTC, and the handle
// time in seconds as handle_time_s.
func (s HandlingStep) MarshalJSON() ([]byte, error) {
	type plain HandlingStep
	s.At = s.At.UTC()
	return json.Marshal(struct {
		plain
		HandleTime float64 `json:"handle_time_s"`
	}{plain(s), s.HandleTime.Seconds()})
}

// MarshalJSON encodes the AHT with its tags and the durations in seconds.
func (a HandlingAHT) MarshalJSON() ([]byte, error) {
	type plain HandlingAHT
	return json.Marshal(struct {
		plain
		HandleTime          float64 `json:"handle_time_s"`
		AHT                 float64 `json:"aht_s"`
		Abandoned           int     `json:"abandoned"`
		AbandonedHandleTime float64 `json:"abandoned_handle_time_s"`
	}{plain(a), a.HandleTime.Seconds(), a.AHT.Seconds(), a.Abandoned, a.AbandonedHandleTime.Seconds()})
}
