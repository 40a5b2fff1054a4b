package contactpad

import (
	"encoding/json"
	"slices"
	"time"
)

// RecordSync is what the bridge knows of the CRM record an interaction
// mirrors, field by field: the value the CRM was last seen to hold (Known:
// read by a poll, or accepted from a write), the value the bridge wants it
// to hold (Want: the interaction's mirrored fields, as the mapping writes
// them), and the fields the bridge changed since the two sides were last
// in step (Dirty).
//
// People and other integrations change the same records, so the bridge
// is one writer of two. It writes a field only when it changed that field
// itself and the CRM does not hold the value already (Writes); it takes a
// change the CRM made as the record's news (Observe), and when both sides
// changed one field since they were last in step, the mapping says per
// field who wins. A value the bridge has no opinion on (an owner while the
// work waits in the queue) is absent from Want and never written.
//
// Values are the canonical JSON values of the fields: nil, bool, float64
// and string (the mapping writes date-times in one form, so that a value
// read back compares equal to the value written).
type RecordSync struct {
	Known map[string]any `json:"known,omitempty"`
	Want  map[string]any `json:"want,omitempty"`
	// Dirty lists the fields the bridge changed since they were last in
	// step with the CRM, sorted.
	Dirty []string `json:"dirty,omitempty"`
	// Unmatched says the record was last seen outside its mapping's filter.
	Unmatched bool `json:"unmatched,omitempty"`
	// Sent are values the bridge sent for a field and does not know the
	// CRM took (its writer died, or the call failed without an answer),
	// latest last, at most maxSent a field. Read back by a poll, such a
	// value is the bridge's own write landing, not a change people made.
	Sent map[string][]any `json:"sent,omitempty"`
	// AcceptedAt is when the CRM's answer to the bridge's latest write
	// of the record came back (Accepted). A read sent before then may
	// show the record as it was before that write (Stale).
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	// Service is the service the mapping's rule gave the record when the
	// bridge last read it: a later read that gives another one is a change
	// made in the CRM (a Case's Type, say), not the bridge's own transfer.
	// Empty: not known yet (stored before the bridge kept it).
	Service string `json:"service,omitempty"`
	// Modified is when the record had last changed in the CRM as of the
	// newest read taken in (RecordState.Modified), and ReadSent when that
	// read was sent; nil when not known.
	Modified *time.Time `json:"modified,omitempty"`
	ReadSent *time.Time `json:"read_sent,omitempty"`
}

// Outdated reports whether a read of the record sent at sent, which shows
// it as last changed at modified, is older than the read taken in last:
// the poll and the writer (which reads the records it is about to update)
// both read records, and an older read may be taken in after a newer one.
// Taken in, it would put back what the newer one replaced. Salesforce
// keeps a record's last change to the second, so of two reads that show
// the same one, the one sent first is the older. A zero modified is not
// known, and never outdated.
func (s *RecordSync) Outdated(modified, sent time.Time) bool {
	switch {
	case modified.IsZero() || s.Modified == nil:
		return false
	case !modified.Equal(*s.Modified):
		return modified.Before(*s.Modified)
	}
	return !sent.IsZero() && s.ReadSent != nil && sent.Before(*s.ReadSent)
}

// Newer reports whether a read that shows the record as last changed at
// modified shows a later change than the read taken in last (or either is
// not known): a read of a record nobody changed since is no news, even if
// the mapping's rules read it again.
func (s *RecordSync) Newer(modified time.Time) bool {
	return modified.IsZero() || s.Modified == nil || modified.After(*s.Modified)
}

// Read records that a read sent at sent, showing the record as last
// changed at modified, was taken in.
func (s *RecordSync) Read(modified, sent time.Time) {
	if modified.IsZero() || s.Outdated(modified, sent) {
		return
	}
	at := modified.UTC()
	s.Modified = &at
	s.ReadSent = nil
	if !sent.IsZero() {
		sent := sent.UTC()
		s.ReadSent = &sent
	}
}

// Stale reports whether a read of the record sent at readAt may predate
// the bridge's latest write to it: sent before the CRM's answer to that
// write came back, it may show values the write replaced, which are no
// change made in the CRM. A zero readAt is not known, and never stale.
func (s *RecordSync) Stale(readAt time.Time) bool {
	return !readAt.IsZero() && s.AcceptedAt != nil && readAt.Before(*s.AcceptedAt)
}

// maxSent bounds the values RecordSync.Sent keeps a field.
const maxSent = 4

// Sending records that the bridge is about to write these fields: until
// the CRM is known to have taken them (Accepted), a poll that reads one of
// these values back knows it for the bridge's own.
func (s *RecordSync) Sending(fields map[string]any) {
	for f, v := range fields {
		if s.Sent == nil {
			s.Sent = map[string][]any{}
		}
		sent := s.Sent[f]
		if len(sent) > 0 && SameValue(sent[len(sent)-1], v) {
			continue
		}
		if len(sent) == maxSent {
			sent = sent[1:]
		}
		s.Sent[f] = append(slices.Clone(sent), v)
	}
}

// Change records the mirrored fields the interaction now has: a field
// whose value differs from the one wanted before becomes dirty (the bridge
// changed it), if mark says so (nil marks every field), unless the CRM is
// known to hold that value already and no other value of the bridge's is
// on its way to it (Sent): then the two sides are in step on it, and a
// later change people make to it is theirs alone, no conflict. (A write
// on its way may still land: the field stays the bridge's to bring back
// to what it wants.) A field that is no longer wanted is forgotten. It
// reports whether anything changed.
func (s *RecordSync) Change(want map[string]any, mark func(field string) bool) bool {
	changed := false
	for f, v := range want {
		if old, ok := s.Want[f]; !ok || !SameValue(old, v) {
			if k, known := s.Known[f]; known && SameValue(k, v) && len(s.Sent[f]) == 0 {
				s.clean(f)
			} else if mark == nil || mark(f) {
				s.markDirty(f)
			}
			changed = true
		}
	}
	for f := range s.Want {
		if _, ok := want[f]; !ok {
			s.clean(f)
			changed = true
		}
	}
	if changed {
		s.Want = want
	}
	return changed
}

// Writes returns the fields to write to the record now: those the bridge
// changed whose wanted value the CRM is not known to hold. Nil when there
// is nothing to write.
func (s *RecordSync) Writes() map[string]any {
	var out map[string]any
	for _, f := range s.Dirty {
		v, wanted := s.Want[f]
		if !wanted {
			continue
		}
		if k, known := s.Known[f]; known && SameValue(k, v) {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[f] = v
	}
	return out
}

// Accepted records that the CRM accepted a write of these fields, its
// answer having come back at: it holds them now, and a field whose wanted
// value is the one written is in step.
func (s *RecordSync) Accepted(written map[string]any, at time.Time) {
	if len(written) > 0 && (s.AcceptedAt == nil || at.After(*s.AcceptedAt)) {
		at := at.UTC()
		s.AcceptedAt = &at
	}
	for f, v := range written {
		s.know(f, v)
		if want, ok := s.Want[f]; ok && SameValue(want, v) {
			s.clean(f)
		}
		delete(s.Sent, f)
	}
	if len(s.Sent) == 0 {
		s.Sent = nil
	}
}

// Observe takes in the values the CRM's record shows now (read; fields
// absent from it were not read) and returns the fields the CRM changed
// since the bridge last knew them, and of those the ones the bridge had
// changed too (conflicts). A value equal to what the bridge wants is no
// change: it is the bridge's own write coming back, or the same change
// made on both sides. In a conflict the CRM's value wins, and the bridge
// drops its own change, unless bridgeWins says otherwise for the field;
// then the bridge's value stays to be written over the CRM's.
func (s *RecordSync) Observe(read map[string]any, bridgeWins func(field string) bool) (changed, conflicts []string) {
	for _, f := range sortedKeys(read) {
		r := read[f]
		k, known := s.Known[f]
		if known && SameValue(k, r) {
			continue
		}
		s.know(f, r)
		if want, ok := s.Want[f]; ok && SameValue(want, r) {
			s.clean(f)
			continue
		}
		if slices.ContainsFunc(s.Sent[f], func(v any) bool { return SameValue(v, r) }) {
			// An earlier write of the bridge's that landed after all
			// (its writer died before it knew): still to be brought to
			// what the bridge wants now.
			if _, wanted := s.Want[f]; wanted {
				s.markDirty(f)
			}
			continue
		}
		if !known {
			// A field read for the first time (a mapping that mirrors a
			// new field): what it held before is unknown, so it is no news.
			continue
		}
		changed = append(changed, f)
		if slices.Contains(s.Dirty, f) {
			conflicts = append(conflicts, f)
			if bridgeWins == nil || !bridgeWins(f) {
				s.clean(f)
			}
		}
	}
	return changed, conflicts
}

// IsDirty reports whether the bridge changed field since it was last in
// step with the CRM.
func (s *RecordSync) IsDirty(field string) bool { return slices.Contains(s.Dirty, field) }

func (s *RecordSync) know(f string, v any) {
	if s.Known == nil {
		s.Known = map[string]any{}
	}
	s.Known[f] = v
}

func (s *RecordSync) markDirty(f string) {
	if i, found := slices.BinarySearch(s.Dirty, f); !found {
		s.Dirty = slices.Insert(s.Dirty, i, f)
	}
}

func (s *RecordSync) clean(f string) {
	if i, found := slices.BinarySearch(s.Dirty, f); found {
		s.Dirty = slices.Delete(s.Dirty, i, i+1)
	}
	if len(s.Dirty) == 0 {
		s.Dirty = nil
	}
}

// Clone returns a copy that shares nothing with s.
func (s RecordSync) Clone() RecordSync {
	s.Known, s.Want = cloneValues(s.Known), cloneValues(s.Want)
	s.Dirty = slices.Clone(s.Dirty)
	if s.AcceptedAt != nil {
		at := *s.AcceptedAt
		s.AcceptedAt = &at
	}
	if s.Modified != nil {
		at := *s.Modified
		s.Modified = &at
	}
	if s.ReadSent != nil {
		at := *s.ReadSent
		s.ReadSent = &at
	}
	if s.Sent != nil {
		sent := make(map[string][]any, len(s.Sent))
		for f, vs := range s.Sent {
			sent[f] = slices.Clone(vs)
		}
		s.Sent = sent
	}
	return s
}

func cloneValues(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SameValue reports whether two canonical field values are equal: both
// nil, or equal booleans, numbers or strings. Numbers of any Go type
// compare by value, as JSON turns them all into float64.
func SameValue(a, b any) bool {
	a, b = CanonicalNumber(a), CanonicalNumber(b)
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case float64:
		b, ok := b.(float64)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	}
	return false
}

// CanonicalNumber turns a number of any Go type into a float64, as it
// comes back from JSON; other values are returned as they are.
func CanonicalNumber(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int32:
		return float64(n)
	case int64:
		return float64(n)
	case float32:
		return float64(n)
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return f
		}
		return n.String()
	}
	return v
}

// RecordView is what a record's mirrored field values say about its
// interaction, as far as the mapping can tell: the status its status field
// stands for ("" when it has none, or a value no status writes), the CRM
// user who owns it, the due date it shows, and whether an agent set that
// date (nil when the mapping mirrors no such flag, or the record shows no
// true or false).
type RecordView struct {
	Status           Status
	OwnerCRMUserID   string
	DueBy            *time.Time
	DueBySetManually *bool
}

// Adopted is the state an interaction takes when the bridge first sees a
// record that shows v, under the adopt policy: an ended record goes to
// History and an on-hold one stays deferred, each with the owner it shows
// if that is an agent; an agent's record that is not waiting for work is
// connected to that agent; one that waits is queued for that agent
// (waitingFor); any other is queued for everyone. agentOf returns the
// agent of a CRM user, or "".
func (v RecordView) Adopted(agentOf func(crmUserID string) string) (status Status, owner, waitingFor string) {
	agent := ""
	if v.OwnerCRMUserID != "" {
		agent = agentOf(v.OwnerCRMUserID)
	}
	switch {
	case v.Status.Ended(), v.Status == Deferred:
		return v.Status, agent, ""
	case agent == "":
		return Queued, "", ""
	case v.Status == Queued || v.Status == Offered:
		return Queued, "", agent
	}
	return Connected, agent, ""
}

// Ended reports whether the status is one of the end states.
func (s Status) Ended() bool { return s == Completed || s == Abandoned }

// Open reports whether the status is one of an interaction being routed
// or worked: queued, offered, connected or wrap_up.
func (s Status) Open() bool {
	return s == Queued || s == Offered || s == Connected || s == WrapUp
}

// Worked reports whether an interaction in this status has an owner who
// worked it (connected, wrap-up, deferred, or ended), as opposed to work
// that waits in the queue or is only offered to someone.
func (s Status) Worked() bool { return s != Queued && s != Offered }

// FirstSight is what the bridge does with a CRM record it sees for the
// first time.
type FirstSight string

// The first-sight policies.
const (
	// Adopt takes the state the record shows (owner, status, due date)
	// and writes nothing until the bridge changes something itself.
	Adopt FirstSight = "adopt"
	// Reset queues the record as new work and writes the bridge's state
	// over the record's.
	Reset FirstSight = "reset"
)

// ClosedPolicy is what a record closed in the CRM (or no longer matching
// its mapping's filter) does to its interaction.
type ClosedPolicy string

// The closed policies.
const (
	CloseCompletes ClosedPolicy = "complete"
	CloseAbandons  ClosedPolicy = "abandon"
)

// OwnerPolicy is what an owner changed in the CRM does.
type OwnerPolicy string

// The owner policies.
const (
	OwnerReassigns OwnerPolicy = "reassign"
	OwnerIgnored   OwnerPolicy = "ignore"
)

// Winner is the side whose value stays when both changed a field.
type Winner string

// The winners of a conflict.
const (
	CRMWins    Winner = "crm"
	BridgeWins Winner = "bridge"
)

// PeerPolicy is how the bridge treats the changes people and other
// integrations make to a CRM object's records. The zero value is the
// default: adopt, complete, reassign, the CRM wins every conflict.
type PeerPolicy struct {
	FirstSight   FirstSight
	Closed       ClosedPolicy
	OwnerChanged OwnerPolicy
	// Conflicts is the winner of fields Fields does not name.
	Conflicts Winner
	// Fields names the winner of single fields.
	Fields map[string]Winner
}

// BridgeWins reports whether the bridge's value of field stays when both
// sides changed it since they were last in step.
func (p PeerPolicy) BridgeWins(field string) bool {
	if w, ok := p.Fields[field]; ok {
		return w == BridgeWins
	}
	return p.Conflicts == BridgeWins
}

// RecordState is what a CRM record shows when a source reads it: the
// values of the fields its interaction mirrors, and who changed it last.
type RecordState struct {
	// Fields are the mirrored fields' values, canonical (see RecordSync).
	Fields map[string]any `json:"fields,omitempty"`
	// ChangedBy names who changed the record last, for audit entries.
	ChangedBy string `json:"changed_by,omitempty"`
	// Modified is when the record last changed in the CRM (Salesforce's
	// SystemModstamp); zero when the source does not say.
	Modified time.Time `json:"modified,omitzero"`
}
