// Package mapping turns CRM records into interactions and interaction
// changes back into CRM fields, as CRM admins describe it in YAML: one
// Mapping per source object (Case, LiveChatTranscript, ...).
//
// A mapping says which records become work (a SOQL filter), what media type
// and service each one gets (rules with expr-lang conditions), how the work
// item's subject, priority, category, customer and tags come from record fields
// (field maps with value maps and defaults), when a customer reply reopens
// a deferred interaction early, which record fields mirror the interaction
// (writeback), and what record each audit entry becomes (e.g. a Task
// upserted by an external id, so that a retried call never duplicates it).
//
// Parse checks everything it can at load time and reports every problem at
// once as "FILE:LINE: PATH: message": unknown keys, conditions that do not
// compile, templates that do not parse or that name unknown data, unknown
// media types and statuses. CheckFields checks the CRM field names against
// the org's describe results at start-up; the caller checks Services
// against its configured services. docs/mapping.md is the admin's guide.
package mapping

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Record is one CRM record as decoded from the REST API's JSON: field name
// to value, relationship fields as nested maps ("Contact": {"Name": "Ada"}).
// The "attributes" entries are ignored. Numbers may be float64, an integer
// type or json.Number. Field names are matched case-insensitively, as SOQL
// matches them.
type Record = map[string]any

// Mapping is the compiled mapping of one source object. It is immutable
// after Parse and safe for concurrent use.
type Mapping struct {
	// Object is the CRM object the records come from, e.g. Case.
	Object string
	// Filter is the SOQL condition that selects the records to work, without
	// WHERE; empty selects every record.
	Filter string

	file string
	path string
	line int
	// objLine, mediaLine, serviceLine and filterLine are the lines of
	// those keys.
	objLine, mediaLine, serviceLine, filterLine int

	media    []rule[contactpad.Media]
	services []rule[string]
	subject  *valueSpec
	category *valueSpec
	customer *valueSpec
	priority *valueSpec
	tags     *valueSpec
	// reopen is reopen_on_customer_reply; nil leaves early reopen off.
	reopen    *condition
	writeback *writeback
	audit     *audit
	// sync is how the bridge treats changes made in the CRM.
	sync contactpad.PeerPolicy
	// Omni, when set, routes the records of a Salesforce queue whose
	// routing configuration is External through Omni-Channel (omni:
	// external_routing: true); nil leaves it off.
	Omni *OmniRouting

	// reads are the record fields the mapping reads, where it reads them.
	reads []fieldRef
	// writes are the fields of Object that the writeback sets.
	writes []fieldRef
	// selected is the SELECT list of Query.
	selected []string
}

// OmniRouting is a mapping's omni section: ctibridge is the external
// router of a Salesforce queue. Queue and ServiceChannel are each a record
// id or a DeveloperName.
type OmniRouting struct {
	// Queue is the queue (Group) whose PendingServiceRouting records the
	// bridge routes.
	Queue string
	// ServiceChannel is the service channel of the AgentWork the bridge
	// reads back.
	ServiceChannel string
	// At says where the section is ("mappings.yaml:40: mappings[0].omni"),
	// for the start-up check's messages.
	At string
}

// rule is one media or service rule: the first rule whose condition holds
// (or that has none) decides.
type rule[T any] struct {
	when  *condition
	value T
	path  string
	line  int
}

// fieldRef is a CRM field named by the mapping, and where.
type fieldRef struct {
	// name is the field, or a relationship path such as Contact.Name.
	name string
	path string
	line int
}

// Find returns the mapping of object (matched case-insensitively), or nil.
func Find(mappings []*Mapping, object string) *Mapping {
	for _, m := range mappings {
		if strings.EqualFold(m.Object, object) {
			return m
		}
	}
	return nil
}

// ObjectOf returns the object of a record from the REST API, from its
// attributes.type; "" when the record does not say.
func ObjectOf(r Record) string {
	attributes, _ := r["attributes"].(map[string]any)
	object, _ := attributes["type"].(string)
	return object
}

// Services returns the service IDs the mapping's rules can choose, in rule
// order, so that the caller can check them against its configured services.
func (m *Mapping) Services() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range m.services {
		if !seen[r.value] {
			seen[r.value] = true
			out = append(out, r.value)
		}
	}
	return out
}

// ServiceRef is a service a mapping routes to, and where it says so.
type ServiceRef struct {
	ID string
	// At is "file:line: path" of the rule that names it.
	At string
}

// ServiceRefs returns each service rule's service, in order.
func (m *Mapping) ServiceRefs() []ServiceRef {
	out := make([]ServiceRef, 0, len(m.services))
	for _, r := range m.services {
		out = append(out, ServiceRef{ID: r.value, At: fmt.Sprintf("%s:%d: %s", m.file, r.line, r.path)})
	}
	return out
}

// Query returns the SOQL query that reads the mapping's records changed
// after since: every field the mapping reads or writes, with Id,
// SystemModstamp and who changed the record last, ordered by
// SystemModstamp then Id so that the caller can page and keep the last
// SystemModstamp as its watermark. A zero since reads every record the
// filter selects.
func (m *Mapping) Query(since time.Time) string {
	return m.query(m.filterClause(false), since, "", 0)
}

// soqlDateTime formats t as a SOQL and REST API datetime in UTC, e.g.
// 2026-11-22T10:00:00.000Z.
func soqlDateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Item maps one record of the mapping's object to the work item the engine
// ingests: CRMID is the record's Id and CRMObject the mapping's object;
// media and service come from the first rule that matches, subject,
// priority, category, customer and tags from the field map, and CustomerReply from
// reopen_on_customer_reply. The error names the record and the rule or
// field at fault when no rule matches, a required value is missing, a value
// does not convert, or a condition fails at run time.
func (m *Mapping) Item(r Record) (contactpad.WorkItem, error) {
	id := recordID(r)
	if id == "" {
		return contactpad.WorkItem{}, fmt.Errorf("%s record without an Id", m.Object)
	}
	env := m.env(r)
	item := contactpad.WorkItem{CRMID: id, CRMObject: m.Object}
	var err error
	if item.Media, err = pick(m, id, "media", m.mediaLine, m.media, env); err != nil {
		return contactpad.WorkItem{}, err
	}
	if item.Service, err = pick(m, id, "service", m.serviceLine, m.services, env); err != nil {
		return contactpad.WorkItem{}, err
	}
	data := templateView(env)
	if item.Subject, err = m.subject.text(m, id, env, data); err != nil {
		return contactpad.WorkItem{}, err
	}
	if item.Category, err = m.category.text(m, id, env, data); err != nil {
		return contactpad.WorkItem{}, err
	}
	if item.Customer, err = m.customer.text(m, id, env, data); err != nil {
		return contactpad.WorkItem{}, err
	}
	if item.Priority, err = m.priority.number(m, id, env, data); err != nil {
		return contactpad.WorkItem{}, err
	}
	if item.Tags, err = m.tags.list(m, id, env, data); err != nil {
		return contactpad.WorkItem{}, err
	}
	if m.reopen != nil {
		if item.CustomerReply, err = m.reopen.holds(env); err != nil {
			return contactpad.WorkItem{}, m.recordErr(id, m.reopen.path, m.reopen.line, "%v", err)
		}
	}
	item.CRM = m.state(r)
	return item, nil
}

// Unmatched is the work item of a record that does not match the
// mapping's filter (any more): its Id and what it shows of the mirrored
// fields, nothing the field map makes.
func (m *Mapping) Unmatched(r Record) contactpad.WorkItem {
	return contactpad.WorkItem{CRMID: recordID(r), CRMObject: m.Object, Unmatched: true, CRM: m.state(r)}
}

// state is what the record shows of the mirrored fields, and who changed
// it last (LastModifiedBy.Name, else LastModifiedById); nil when it shows
// neither.
func (m *Mapping) state(r Record) *contactpad.RecordState {
	st := &contactpad.RecordState{Fields: m.Observe(r)}
	if by, ok := lookup(r, "LastModifiedBy"); ok {
		if rel, ok := by.(map[string]any); ok {
			st.ChangedBy, _ = rel["Name"].(string)
		}
	}
	if st.ChangedBy == "" {
		v, _ := lookup(r, "LastModifiedById")
		st.ChangedBy, _ = v.(string)
	}
	if stamp, ok := r["SystemModstamp"].(string); ok {
		st.Modified, _ = parseDateTime(stamp)
	}
	if st.Fields == nil && st.ChangedBy == "" && st.Modified.IsZero() {
		return nil
	}
	return st
}

// pick returns the value of the first rule that matches env.
func pick[T any](m *Mapping, id, what string, line int, rules []rule[T], env map[string]any) (T, error) {
	var zero T
	for _, r := range rules {
		if r.when == nil {
			return r.value, nil
		}
		ok, err := r.when.holds(env)
		if err != nil {
			return zero, m.recordErr(id, r.when.path, r.when.line, "%v", err)
		}
		if ok {
			return r.value, nil
		}
	}
	return zero, m.recordErr(id, m.path+"."+what, line, "no %s rule matches", what)
}

// recordErr is an error of one record, naming the key of the mapping at
// fault and where it is.
func (m *Mapping) recordErr(id, path string, line int, format string, args ...any) error {
	return fmt.Errorf("%s %s: %s (%s at %s:%d)", m.Object, id, fmt.Sprintf(format, args...), path, m.file, line)
}

// recordID returns the record's Id.
func recordID(r Record) string {
	v, _ := lookup(r, "Id")
	s, _ := v.(string)
	return s
}

// lookup returns the field of r named name: an exact match, else one that
// differs only in case; "attributes" never matches.
func lookup(r map[string]any, name string) (any, bool) {
	if v, ok := r[name]; ok {
		return v, true
	}
	for k, v := range r {
		if k != "attributes" && strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// scalar normalises a JSON value for conditions: a json.Number becomes an
// int64 or a float64.
func scalar(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return n.String()
}

// env is what conditions see of r: its fields, with every field path the
// mapping reads present under the name the mapping uses (nil when the
// record has no value), so that Contact.Name is nil rather than an error
// when the record has no Contact. r itself is not modified.
func (m *Mapping) env(r Record) map[string]any {
	env := make(map[string]any, len(r)+len(m.reads))
	for k, v := range r {
		if k != "attributes" {
			env[k] = scalar(v)
		}
	}
	copies := map[string]map[string]any{}
	for _, ref := range m.reads {
		place(env, strings.Split(ref.name, "."), "", copies)
	}
	return env
}

// place makes the path segs present in at, copying the nested maps it
// changes: copies holds the copy made for each relationship path (in
// lower case), so that names differing only in case share one copy and
// the record's own maps are never written.
func place(at map[string]any, segs []string, prefix string, copies map[string]map[string]any) {
	name := segs[0]
	v, _ := lookup(at, name)
	if len(segs) == 1 {
		at[name] = scalar(v)
		return
	}
	key := prefix + "." + strings.ToLower(name)
	child, ok := copies[key]
	if !ok {
		original, _ := v.(map[string]any)
		child = make(map[string]any, len(original)+1)
		for k, cv := range original {
			if k != "attributes" {
				child[k] = cv
			}
		}
		copies[key] = child
	}
	at[name] = child
	place(child, segs[1:], key, copies)
}

// templateView is what record templates see: env with empty strings for
// nil values, so that a null field prints as nothing, not "<no value>".
func templateView(env map[string]any) map[string]any {
	out := make(map[string]any, len(env))
	for k, v := range env {
		switch v := v.(type) {
		case nil:
			out[k] = ""
		case map[string]any:
			out[k] = templateView(v)
		default:
			out[k] = v
		}
	}
	return out
}
