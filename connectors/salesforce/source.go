package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
	"github.com/sirupsen/logrus"
)

// PageSize is how many records one poll query reads: one query page.
const PageSize = 2000

// unmatchedLookback is how far back, before its first poll, a source
// looks for records that left the mapping's filter: more than the clocks
// of the bridge and the org differ by.
const unmatchedLookback = 5 * time.Minute

// Source reads one mapping's records changed since its watermark
// (adapter.Source). Each poll is one composite call (one API call) of up
// to three queries:
//   - the records that match the mapping's filter, changed since the
//     watermark: new work and changes to it;
//   - the records that do not match it, changed since the watermark: work
//     closed or filtered out in the CRM (absent when the mapping has no
//     filter);
//   - the records the engine asks to read again (retry), whatever their
//     SystemModstamp;
//   - with omni external routing, two more: the queue's PendingServiceRouting
//     records waiting for a push (a record that has one is routed through
//     Omni-Channel), and the AgentWork of its service channel answered since
//     the watermark (each an item of its own, Omni.Answer, ahead of the
//     records).
//
// The watermark is the SystemModstamp and Id of the last record each of
// the first two queries read, "2026-11-22T10:00:00.000Z|500...;2026-...|500...",
// so each page is one query of at most PageSize records; with omni routing,
// a third position is that of the last AgentWork read.
type Source struct {
	c   *Client
	m   *mapping.Mapping
	log logrus.FieldLogger
	now func() time.Time
}

// NewSource returns the source of m's records.
func NewSource(c *Client, m *mapping.Mapping) *Source {
	return &Source{c: c, m: m, log: c.log.WithField("source", "salesforce:"+m.Object), now: time.Now}
}

// Name implements adapter.Source.
func (s *Source) Name() string { return "salesforce:" + s.m.Object }

// Changes implements adapter.Source. A record the mapping cannot turn into
// a work item (no media rule matches, say) is an item with Problem set; a
// retried record the third query does not find (no longer matched, or
// deleted) is Unmatched.
func (s *Source) Changes(ctx context.Context, since string, retry []string) ([]contactpad.WorkItem, string, bool, error) {
	w, err := parseWatermark(since)
	if err != nil {
		return nil, since, false, err
	}
	if w.unmatched.at.IsZero() {
		// Records closed before the first poll were never work.
		w.unmatched.at = s.now().UTC().Add(-unmatchedLookback).Truncate(time.Millisecond)
	}
	queries := []string{s.m.QueryAfter(w.matched.at, w.matched.id, PageSize)}
	unmatched := s.m.QueryUnmatchedAfter(w.unmatched.at, w.unmatched.id, PageSize)
	if unmatched != "" {
		queries = append(queries, unmatched)
	}
	if len(retry) > 0 {
		queries = append(queries, s.m.QueryIDs(retry))
	}
	omni := s.m.Omni != nil
	if omni {
		if w.work.at.IsZero() {
			w.work.at = s.now().UTC().Add(-unmatchedLookback).Truncate(time.Millisecond)
		}
		queries = append(queries, s.pendingRoutingQuery(), s.agentWorkQuery(w.work.at))
	}
	pages, err := s.c.Queries(ctx, queries)
	if err != nil {
		return nil, since, false, fmt.Errorf("read %s: %w", s.m.Object, err)
	}
	var items []contactpad.WorkItem
	more := false
	var pending map[string]*contactpad.OmniItem
	if omni {
		// The answers go first: an accepted item's record shows the agent
		// as its owner, which the bridge knows then.
		answers, psrs := pages[len(pages)-1], pages[len(pages)-2]
		pending = pendingRoutings(psrs)
		pages = pages[:len(pages)-2]
		for _, r := range answers {
			if err := w.work.advance(r); err != nil {
				return nil, since, false, fmt.Errorf("read AgentWork of %s: %w", s.m.Object, err)
			}
			items = append(items, answerItem(s.m.Object, r))
		}
		more = len(answers) == PageSize
	}
	for k, page := range pages {
		kind := k
		if kind == 1 && unmatched == "" {
			kind = 2
		}
		var pos *position
		switch kind {
		case 0:
			pos = &w.matched
		case 1:
			pos = &w.unmatched
		}
		found := map[string]bool{}
		for _, r := range page {
			id, _ := r["Id"].(string)
			if pos != nil {
				if err := pos.advance(r); err != nil {
					return nil, since, false, fmt.Errorf("read %s: %w", s.m.Object, err)
				}
			}
			found[id] = true
			item := s.item(r, kind == 1)
			if o := pending[id]; o != nil && kind != 1 && item.Problem == "" {
				item.Omni = o
			}
			items = append(items, item)
		}
		if pos != nil && len(page) == PageSize {
			more = true
		}
		if kind == 2 {
			for _, id := range retry {
				if !found[id] {
					items = append(items, contactpad.WorkItem{CRMID: id, CRMObject: s.m.Object, Unmatched: true})
				}
			}
		}
	}
	return items, w.String(), more, nil
}

// idsPerQuery bounds the ids one query of Read names, so that its answer
// fits one page: Salesforce pages at 200 records at the least.
const idsPerQuery = 200

// Read reads the records ids names as the org holds them now, whatever
// their SystemModstamp: the bridge reads the records it is about to update
// (Sink.ReadRecords). A record that no longer matches the mapping's filter
// is Unmatched; one that no query finds (deleted) is left out; one the
// mapping cannot map is an item with Problem set. Up to 400 records take
// one composite call: a query of those that match the filter and one of
// those that do not, for each 200. More take a call per 1,000 that match,
// and one more for any that did not come back.
func (s *Source) Read(ctx context.Context, ids []string) ([]contactpad.WorkItem, error) {
	var matched, unmatched []idQuery
	for start := 0; start < len(ids); start += idsPerQuery {
		chunk := ids[start:min(start+idsPerQuery, len(ids))]
		matched = append(matched, idQuery{soql: s.m.QueryIDs(chunk)})
		if s.m.Filter != "" {
			unmatched = append(unmatched, idQuery{soql: s.m.QueryUnmatchedIDs(chunk), unmatched: true})
		}
	}
	if len(matched)+len(unmatched) <= maxQueriesPerCall {
		items, _, err := s.readIDs(ctx, append(matched, unmatched...))
		return items, err
	}
	items, found, err := s.readIDs(ctx, matched)
	if err != nil || len(unmatched) == 0 || len(found) == len(ids) {
		return items, err
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	unmatched = nil
	for start := 0; start < len(missing); start += idsPerQuery {
		chunk := missing[start:min(start+idsPerQuery, len(missing))]
		unmatched = append(unmatched, idQuery{soql: s.m.QueryUnmatchedIDs(chunk), unmatched: true})
	}
	more, _, err := s.readIDs(ctx, unmatched)
	return append(items, more...), err
}

// idQuery is a query of Read, and whether it reads records that do not
// match the mapping's filter.
type idQuery struct {
	soql      string
	unmatched bool
}

// readIDs runs queries, five a composite call, and returns the items of
// the records they read and those records' ids.
func (s *Source) readIDs(ctx context.Context, queries []idQuery) ([]contactpad.WorkItem, map[string]bool, error) {
	var items []contactpad.WorkItem
	found := map[string]bool{}
	for start := 0; start < len(queries); start += maxQueriesPerCall {
		call := queries[start:min(start+maxQueriesPerCall, len(queries))]
		soql := make([]string, len(call))
		for k, q := range call {
			soql[k] = q.soql
		}
		pages, err := s.c.Queries(ctx, soql)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s records: %w", s.m.Object, err)
		}
		for k, page := range pages {
			for _, r := range page {
				id, _ := r["Id"].(string)
				found[id] = true
				items = append(items, s.item(r, call[k].unmatched))
			}
		}
	}
	return items, found, nil
}

// item maps one record read by a poll.
func (s *Source) item(r mapping.Record, unmatched bool) contactpad.WorkItem {
	if unmatched {
		return s.m.Unmatched(r)
	}
	item, err := s.m.Item(r)
	if err != nil {
		id, _ := r["Id"].(string)
		return contactpad.WorkItem{CRMID: id, CRMObject: s.m.Object, Problem: err.Error()}
	}
	return item
}

// watermark is how far a Source has read: the matching records and the
// others each have their position, and so has the AgentWork read back
// with omni routing.
type watermark struct {
	matched, unmatched, work position
}

// position is the SystemModstamp and Id of the last record a query read.
type position struct {
	at time.Time
	id string
}

// advance moves p to record r, which must have an Id and a SystemModstamp.
func (p *position) advance(r mapping.Record) error {
	id, _ := r["Id"].(string)
	stamp, _ := r["SystemModstamp"].(string)
	at, err := time.Parse("2006-01-02T15:04:05.000-0700", stamp)
	if err != nil || id == "" {
		return fmt.Errorf("record %q has no usable Id and SystemModstamp (%q)", id, stamp)
	}
	p.at, p.id = at.UTC(), id
	return nil
}

func (p position) String() string {
	if p.at.IsZero() {
		return ""
	}
	return p.at.Format("2006-01-02T15:04:05.000Z") + "|" + p.id
}

func (w watermark) String() string {
	s := w.matched.String() + ";" + w.unmatched.String()
	if work := w.work.String(); work != "" {
		s += ";" + work
	}
	return s
}

// parseWatermark reads a watermark; one without ";" is the matched
// position alone, as sources wrote them before they read unmatched records.
func parseWatermark(s string) (watermark, error) {
	var w watermark
	matched, rest, _ := strings.Cut(s, ";")
	unmatched, work, _ := strings.Cut(rest, ";")
	for _, part := range []struct {
		text string
		pos  *position
	}{{matched, &w.matched}, {unmatched, &w.unmatched}, {work, &w.work}} {
		if part.text == "" {
			continue
		}
		stamp, id, _ := strings.Cut(part.text, "|")
		at, err := time.Parse("2006-01-02T15:04:05.000Z", stamp)
		if err != nil {
			return watermark{}, fmt.Errorf("bad watermark %q: %w", s, err)
		}
		part.pos.at, part.pos.id = at, id
	}
	return w, nil
}

// CheckMappings reads the describe of every object the mappings read or
// write and reports each field the org does not have, with the mapping's
// file and line, before anything is polled or written. What the org lacks
// is a *MismatchError; other errors (the org unreachable) are not.
func CheckMappings(ctx context.Context, c *Client, ms []*mapping.Mapping) error {
	described := map[string][]string{}
	for _, m := range ms {
		for _, object := range m.Objects() {
			if _, done := described[object]; done {
				continue
			}
			fields, err := c.Describe(ctx, object)
			if err != nil {
				err = fmt.Errorf("describe %s: %w", object, err)
				if Classify(err) == Park { // no such object (NOT_FOUND, INVALID_TYPE)
					return &MismatchError{Err: err}
				}
				return err
			}
			described[object] = fields
		}
	}
	var errs []error
	for _, m := range ms {
		errs = append(errs, m.CheckFields(described))
	}
	// The filter is SOQL, which only the org can check: run it once. A
	// filter it refuses would fail every poll of the object, and nothing
	// of it would ever be worked.
	for _, m := range ms {
		q, at := m.FilterCheck()
		if q == "" {
			continue
		}
		if _, err := c.Query(ctx, q); err != nil {
			if Classify(err) != Park { // MALFORMED_QUERY, INVALID_FIELD: 400
				return fmt.Errorf("check %s's filter: %w", m.Object, err)
			}
			at.Msg = "Salesforce refuses the filter: " + err.Error()
			var api *APIError
			if errors.As(err, &api) {
				at.Msg = fmt.Sprintf("Salesforce refuses the filter: %s: %s", api.Code, api.Message)
			}
			errs = append(errs, at)
		}
	}
	for _, m := range ms {
		if m.Omni == nil {
			continue
		}
		err := checkOmni(ctx, c, m.Omni)
		var mismatch *MismatchError
		if err != nil && !errors.As(err, &mismatch) {
			return err
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return &MismatchError{Err: err}
	}
	return nil
}

// checkOmni reads the queue and the service channel a mapping's omni
// section names (one call) and reports each the org does not have: a
// *MismatchError, also when the org has no Omni-Channel.
func checkOmni(ctx context.Context, c *Client, o *mapping.OmniRouting) error {
	named := func(prefix, name string) string {
		if (len(name) == 15 || len(name) == 18) && strings.HasPrefix(name, prefix) {
			return "Id = '" + name + "'"
		}
		return "DeveloperName = '" + name + "'"
	}
	pages, err := c.Queries(ctx, []string{
		"SELECT Id FROM Group WHERE Type = 'Queue' AND " + named("00G", o.Queue),
		"SELECT Id FROM ServiceChannel WHERE " + named("0N9", o.ServiceChannel),
	})
	if err != nil {
		err = fmt.Errorf("%s: read its queue and service channel: %w", o.At, err)
		if Classify(err) == Park { // no such object: Omni-Channel is off
			return &MismatchError{Err: err}
		}
		return err
	}
	var errs []error
	if len(pages[0]) == 0 {
		errs = append(errs, fmt.Errorf("%s.queue: the org has no queue %s", o.At, o.Queue))
	}
	if len(pages[1]) == 0 {
		errs = append(errs, fmt.Errorf("%s.service_channel: the org has no service channel %s", o.At, o.ServiceChannel))
	}
	if err := errors.Join(errs...); err != nil {
		return &MismatchError{Err: err}
	}
	return nil
}

// AgentUser is an agent's CRM user as the config names it, and where.
type AgentUser struct {
	Agent     string
	CRMUserID string
	// File, Line and Path say where the config sets it (ctibridge.yaml,
	// 47, agents[0].crm_user_id): a problem with it is a *mapping.Error
	// there, as the config's own are.
	File string
	Line int
	Path string
}

// usersPerQuery bounds the ids of one User query, well under SOQL's
// length limit.
const usersPerQuery = 500

// CheckUsers reads the Users the agents name and reports each agent whose
// crm_user_id is no User of the org, or an inactive one: the org refuses
// them as owners (INVALID_CROSS_REFERENCE_KEY), so every writeback of
// their work would be parked (a *MismatchError). It returns each agent's user id as the org
// spells it (18 characters), by agent, for comparing with the owner ids
// the org returns.
func CheckUsers(ctx context.Context, c *Client, agents []AgentUser) (map[string]string, error) {
	var ids []string
	for _, a := range agents {
		if a.CRMUserID != "" && !slices.Contains(ids, a.CRMUserID) {
			ids = append(ids, a.CRMUserID)
		}
	}
	type user struct {
		id, name string
		active   bool
	}
	users := map[string]user{} // by the id's first 15 characters, which are case-sensitive
	for start := 0; start < len(ids); start += usersPerQuery {
		chunk := ids[start:min(start+usersPerQuery, len(ids))]
		quoted := make([]string, len(chunk))
		for k, id := range chunk {
			quoted[k] = "'" + strings.ReplaceAll(id, "'", `\'`) + "'"
		}
		pages, err := c.Queries(ctx, []string{"SELECT Id, Name, IsActive FROM User WHERE Id IN (" +
			strings.Join(quoted, ", ") + ")"})
		if err != nil {
			return nil, fmt.Errorf("read the agents' Users: %w", err)
		}
		for _, r := range pages[0] {
			id, _ := r["Id"].(string)
			name, _ := r["Name"].(string)
			active, _ := r["IsActive"].(bool)
			users[prefix15(id)] = user{id: id, name: name, active: active}
		}
	}
	canonical := map[string]string{}
	var errs []error
	for _, a := range agents {
		if a.CRMUserID == "" {
			continue
		}
		u, ok := users[prefix15(a.CRMUserID)]
		problem := func(format string, args ...any) {
			errs = append(errs, &mapping.Error{File: a.File, Line: a.Line, Path: a.Path, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case !ok:
			problem("agent %s: %s is not a User of the org", a.Agent, a.CRMUserID)
		case !u.active:
			problem("agent %s: %s is an inactive User (%s)", a.Agent, a.CRMUserID, u.name)
		default:
			canonical[a.Agent] = u.id
		}
	}
	if err := errors.Join(errs...); err != nil {
		return canonical, &MismatchError{Err: err}
	}
	return canonical, nil
}

// prefix15 is the case-sensitive part of a Salesforce id.
func prefix15(id string) string {
	if len(id) > 15 {
		return id[:15]
	}
	return id
}

// ID18 returns the 18-character, case-insensitive form of a Salesforce
// id, as the API returns ids: a 15-character id gets the three characters
// that encode the case of its letters; anything else is returned as is.
// The bridge compares the owners the org returns with the agents' users
// in this form, without asking the org.
func ID18(id string) string {
	if len(id) != 15 {
		return id
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	suffix := make([]byte, 3)
	for chunk := range 3 {
		bits := 0
		for k := range 5 {
			if c := id[chunk*5+k]; c >= 'A' && c <= 'Z' {
				bits |= 1 << k
			}
		}
		suffix[chunk] = alphabet[bits]
	}
	return id + string(suffix)
}

// The AgentWork statuses the poll reads back: the agent's answers.
var answeredStatuses = []string{contactpad.AgentWorkOpened, contactpad.AgentWorkDeclined,
	contactpad.AgentWorkPushTimeout, contactpad.AgentWorkUnavailable}

// omniFilter is the condition on a lookup to a record named by id or by
// DeveloperName in a mapping's omni section (which allows only letters,
// digits and underscores, so nothing needs escaping).
func omniFilter(lookup, relationship, keyPrefix, name string) string {
	if (len(name) == 15 || len(name) == 18) && strings.HasPrefix(name, keyPrefix) {
		return lookup + " = '" + name + "'"
	}
	return relationship + ".DeveloperName = '" + name + "'"
}

// pendingRoutingQuery reads the PendingServiceRouting records of the
// mapping's queue that wait for the bridge to push them: new work items,
// and items declined or timed out in Omni-Channel. There are few: each
// goes once an agent accepts.
func (s *Source) pendingRoutingQuery() string {
	return "SELECT Id, WorkItemId, ServiceChannelId, CapacityWeight FROM PendingServiceRouting WHERE " +
		omniFilter("GroupId", "Group", "00G", s.m.Omni.Queue) +
		" AND RoutingModel = 'ExternalRouting' AND IsPushed = false ORDER BY CreatedDate, Id LIMIT " + fmt.Sprint(PageSize)
}

// agentWorkQuery reads the AgentWork of the mapping's service channel that
// agents answered since the watermark. The engine takes each answer in
// once, so reading one again (at the watermark's instant) is harmless.
func (s *Source) agentWorkQuery(since time.Time) string {
	return "SELECT Id, WorkItemId, UserId, Status, SystemModstamp FROM AgentWork WHERE " +
		omniFilter("ServiceChannelId", "ServiceChannel", "0N9", s.m.Omni.ServiceChannel) +
		" AND Status IN ('" + strings.Join(answeredStatuses, "', '") + "') AND SystemModstamp >= " +
		since.UTC().Format("2006-01-02T15:04:05.000Z") + " ORDER BY SystemModstamp, Id LIMIT " + fmt.Sprint(PageSize)
}

// pendingRoutings returns the PSRs read, by work item.
func pendingRoutings(records []map[string]any) map[string]*contactpad.OmniItem {
	out := map[string]*contactpad.OmniItem{}
	for _, r := range records {
		item, _ := r["WorkItemId"].(string)
		id, _ := r["Id"].(string)
		channel, _ := r["ServiceChannelId"].(string)
		var weight float64
		if n, ok := r["CapacityWeight"].(json.Number); ok {
			weight, _ = n.Float64()
		}
		out[item] = &contactpad.OmniItem{PSRID: id, ServiceChannelID: channel, CapacityWeight: weight}
	}
	return out
}

// answerItem is an answered AgentWork as the engine takes it in.
func answerItem(object string, r map[string]any) contactpad.WorkItem {
	str := func(k string) string { v, _ := r[k].(string); return v }
	return contactpad.WorkItem{CRMID: str("WorkItemId"), CRMObject: object, Omni: &contactpad.OmniItem{
		Answer: &contactpad.AgentWorkAnswer{WorkID: str("Id"), UserID: str("UserId"), Status: str("Status")}}}
}
