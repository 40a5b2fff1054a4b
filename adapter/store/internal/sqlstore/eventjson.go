package sqlstore

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// appendEventJSON appends json.Marshal(e) to b, byte for byte, written without reflection
// for the events nearly every command appends: one interaction, no
// transfer, consult, agent or flags. Other events, and an interaction
// whose JSON encoding/json would refuse (a time outside years 0-9999), go
// to json.Marshal. At 200 agents encoding/json spent about 3% of the
// engine's CPU time on these payloads (docs/benchmarks.md);
// TestEventJSON holds the two encodings to the same bytes.
func appendEventJSON(b []byte, e *adapter.Event) ([]byte, error) {
	i := e.Interaction
	if i == nil || e.Transfer != nil || e.Consult != nil || e.Agent != nil || len(e.Flags) > 0 ||
		!jsonTime(e.At) || !interactionJSONTimes(i) {
		payload, err := json.Marshal(e)
		return append(b, payload...), err
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(e.Type))
	b = append(b, `,"at":`...)
	b = appendJSONTime(b, e.At)
	b = append(b, `,"interaction":`...)
	b = appendInteractionJSON(b, i)
	return append(b, '}'), nil
}

// appendInteractionJSON appends i as encoding/json writes it: its fields
// in order, under their json tags, without the ones tagged "-".
func appendInteractionJSON(b []byte, i *contactpad.Interaction) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, i.ID)
	b = append(b, `,"crm_id":`...)
	b = appendJSONString(b, i.CRMID)
	b = append(b, `,"crm_object":`...)
	b = appendJSONString(b, i.CRMObject)
	b = append(b, `,"media":`...)
	b = appendJSONString(b, string(i.Media))
	b = append(b, `,"service":`...)
	b = appendJSONString(b, i.Service)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, i.Subject)
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(i.Priority), 10)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(i.Status))
	b = append(b, `,"held":`...)
	b = strconv.AppendBool(b, i.Held)
	b = append(b, `,"owner":`...)
	b = appendJSONString(b, i.Owner)
	b = append(b, `,"due_by":`...)
	b = appendJSONTimePtr(b, i.DueBy)
	b = append(b, `,"due_by_was_set_manually":`...)
	b = strconv.AppendBool(b, i.DueBySetManually)
	b = append(b, `,"auto_opened_due_to_due_date":`...)
	b = strconv.AppendBool(b, i.AutoOpenedDueToDueDate)
	b = append(b, `,"resumed_from":`...)
	b = appendJSONString(b, i.ResumedFrom)
	b = append(b, `,"reopen_reason":`...)
	b = appendJSONString(b, i.ReopenReason)
	b = append(b, `,"tags":`...)
	if i.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for k, tag := range i.Tags {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, tag)
		}
		b = append(b, ']')
	}
	b = append(b, `,"category":`...)
	b = appendJSONString(b, i.Category)
	b = append(b, `,"customer":`...)
	b = appendJSONString(b, i.Customer)
	b = append(b, `,"connected_at":`...)
	b = appendJSONTimePtr(b, i.ConnectedAt)
	b = append(b, `,"transfer_note":`...)
	b = appendJSONString(b, i.TransferNote)
	b = append(b, `,"target_agent":`...)
	b = appendJSONString(b, i.TargetAgent)
	b = append(b, `,"transferred_from":`...)
	b = appendJSONString(b, i.TransferredFrom)
	b = append(b, `,"wrap_up_ends_at":`...)
	b = appendJSONTimePtr(b, i.WrapUpEndsAt)
	b = append(b, `,"wrap_up_extensions":`...)
	b = strconv.AppendInt(b, int64(i.WrapUpExtended), 10)
	b = append(b, `,"offer_expires_at":`...)
	b = appendJSONTimePtr(b, i.OfferExpiresAt)
	b = append(b, `,"queued_at":`...)
	b = appendJSONTimePtr(b, i.QueuedAt)
	b = append(b, `,"last_activity_at":`...)
	b = appendJSONTime(b, i.LastActivityAt)
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, i.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendJSONTime(b, i.UpdatedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, i.Version, 10)
	return append(b, '}')
}

// interactionJSONTimes reports whether encoding/json can encode every time
// of i (see jsonTime).
func interactionJSONTimes(i *contactpad.Interaction) bool {
	for _, t := range []*time.Time{i.DueBy, i.ConnectedAt, i.WrapUpEndsAt, i.OfferExpiresAt, i.QueuedAt} {
		if t != nil && !jsonTime(*t) {
			return false
		}
	}
	return jsonTime(i.LastActivityAt) && jsonTime(i.CreatedAt) && jsonTime(i.UpdatedAt)
}

// jsonTime reports whether time.Time.MarshalJSON encodes t rather than
// failing: its year is 0-9999 and its zone's offset less than a day.
func jsonTime(t time.Time) bool {
	_, offset := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && offset > -24*3600 && offset < 24*3600
}

// appendJSONTime appends t as time.Time.MarshalJSON writes it (RFC 3339
// with nanoseconds, quoted); jsonTime(t) must hold.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendJSONTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendJSONTime(b, *t)
}

// appendJSONString appends s quoted as encoding/json writes it. A string
// of printable ASCII that encoding/json leaves alone (no quote, backslash
// or the <, > and & it escapes for HTML) is copied; any other goes
// through json.Marshal, so the escaping is encoding/json's own.
func appendJSONString(b []byte, s string) []byte {
	for k := 0; k < len(s); k++ {
		if c := s[k]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always encodes
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// parseEventJSON decodes an event's payload into e, which must be zero, as
// json.Unmarshal(b, e) would: the event streams' shared feed decodes every
// event once, 2.8% of the bridge's CPU time at saturation through
// encoding/json (docs/benchmarks.md). It reads what appendEventJSON writes
// without json.Marshal (one interaction, its fields once each, strings
// without escapes) and hands anything else to json.Unmarshal whole.
// FuzzParseEventJSON holds the two to the same result.
func parseEventJSON(b []byte, e *adapter.Event) error {
	p := jsonParser{b: b}
	if p.event(e) {
		return nil
	}
	*e = adapter.Event{}
	return json.Unmarshal(b, e)
}

func (p *jsonParser) event(e *adapter.Event) bool {
	var seen fieldSet
	return p.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return seen.once(0) && p.int64(&e.Seq)
		case "type":
			return seen.once(1) && p.str((*string)(&e.Type))
		case "at":
			return seen.once(2) && p.time(&e.At)
		case "interaction":
			e.Interaction = new(contactpad.Interaction)
			return seen.once(3) && p.interaction(e.Interaction)
		}
		return false
	}) && p.end()
}

// interaction reads an interaction as appendInteractionJSON writes it,
// its fields in any order.
func (p *jsonParser) interaction(i *contactpad.Interaction) bool {
	var seen fieldSet
	return p.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return seen.once(0) && p.str(&i.ID)
		case "crm_id":
			return seen.once(1) && p.str(&i.CRMID)
		case "crm_object":
			return seen.once(2) && p.str(&i.CRMObject)
		case "media":
			return seen.once(3) && p.str((*string)(&i.Media))
		case "service":
			return seen.once(4) && p.str(&i.Service)
		case "subject":
			return seen.once(5) && p.str(&i.Subject)
		case "priority":
			return seen.once(6) && p.int(&i.Priority)
		case "status":
			return seen.once(7) && p.str((*string)(&i.Status))
		case "held":
			return seen.once(8) && p.bool(&i.Held)
		case "owner":
			return seen.once(9) && p.str(&i.Owner)
		case "due_by":
			return seen.once(10) && p.timePtr(&i.DueBy)
		case "due_by_was_set_manually":
			return seen.once(11) && p.bool(&i.DueBySetManually)
		case "auto_opened_due_to_due_date":
			return seen.once(12) && p.bool(&i.AutoOpenedDueToDueDate)
		case "resumed_from":
			return seen.once(13) && p.str(&i.ResumedFrom)
		case "reopen_reason":
			return seen.once(14) && p.str(&i.ReopenReason)
		case "tags":
			return seen.once(15) && p.stringList(&i.Tags)
		case "category":
			return seen.once(16) && p.str(&i.Category)
		case "customer":
			return seen.once(17) && p.str(&i.Customer)
		case "connected_at":
			return seen.once(18) && p.timePtr(&i.ConnectedAt)
		case "transfer_note":
			return seen.once(19) && p.str(&i.TransferNote)
		case "target_agent":
			return seen.once(20) && p.str(&i.TargetAgent)
		case "transferred_from":
			return seen.once(21) && p.str(&i.TransferredFrom)
		case "wrap_up_ends_at":
			return seen.once(22) && p.timePtr(&i.WrapUpEndsAt)
		case "wrap_up_extensions":
			return seen.once(23) && p.int(&i.WrapUpExtended)
		case "offer_expires_at":
			return seen.once(24) && p.timePtr(&i.OfferExpiresAt)
		case "queued_at":
			return seen.once(25) && p.timePtr(&i.QueuedAt)
		case "last_activity_at":
			return seen.once(26) && p.time(&i.LastActivityAt)
		case "created_at":
			return seen.once(27) && p.time(&i.CreatedAt)
		case "updated_at":
			return seen.once(28) && p.time(&i.UpdatedAt)
		case "version":
			return seen.once(29) && p.int64(&i.Version)
		}
		return false
	})
}

// fieldSet is the fields of an object read so far, by number: a field
// read twice is left to encoding/json.
type fieldSet uint64

func (s *fieldSet) once(n uint) bool {
	if *s&(1<<n) != 0 {
		return false
	}
	*s |= 1 << n
	return true
}
