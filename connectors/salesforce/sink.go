package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/mapping"
)

// Salesforce's limits for one composite call.
const (
	collectionSize          = 200 // records in one sObject Collection
	collectionsPerCall      = 5   // collections (or queries) in one composite call
	RecordWritesPerCall     = collectionSize * collectionsPerCall
	maxCompositeSubrequests = 25
)

// Writeback is what the sink needs of a mapping (*mapping.Mapping): the
// record a change's audit entry becomes (nil for none). An error (a
// template failing) parks the row.
type Writeback interface {
	Audit(c contactpad.RecordChange, crmID string) (*mapping.AuditRecord, error)
}

// Sink writes outbox rows to the org (adapter.Sink).
type Sink struct {
	c *Client
	// mappings holds the writeback of each CRM object by its name.
	mappings map[string]Writeback
	// sources read the records of each object before they are updated.
	sources map[string]*Source
}

// NewSink returns a sink that writes the objects of mappings. Given the
// sources of those objects, it reads the records it is about to update
// first (ReadRecords), as the bridge's writer must: people change them
// too.
func NewSink(c *Client, mappings map[string]Writeback, sources ...*Source) *Sink {
	s := &Sink{c: c, mappings: mappings, sources: map[string]*Source{}}
	for _, src := range sources {
		s.sources[src.m.Object] = src
	}
	return s
}

// ReadRecords implements adapter.RecordReader with the object's source
// (Source.Read): in one composite call per 1,000 records, and one more
// for any that left the mapping's filter.
func (s *Sink) ReadRecords(ctx context.Context, object string, ids []string) ([]contactpad.WorkItem, error) {
	src := s.sources[object]
	if src == nil {
		return nil, nil
	}
	items, err := src.Read(ctx, ids)
	if err != nil && Classify(err) != Park {
		err = &adapter.UnavailableError{Err: err}
	}
	return items, err
}

// write is one record write of a collection, and the rows it answers for.
type write struct {
	record map[string]any
	rows   []int
}

// part is what a row asks of the org, one bit a kind: a collection
// writes one kind, so a row may land in part.
type part uint8

const (
	partFields    part = 1 << iota // the record's update
	partAudit                      // its audit entry, upserted
	partAgentWork                  // the AgentWork of an offer, created
)

// collection is one sObject Collection subrequest: updates by id (path
// "composite/sobjects") or upserts by an external id
// ("composite/sobjects/Task/Ctibridge_Audit_Id__c").
type collection struct {
	path   string
	writes []write
	// create makes it a POST (records created); else a PATCH.
	create bool
	// part is the kind of write it holds.
	part part
}

// agentWorkPath keys the collection of AgentWork creates (a POST to
// composite/sobjects) apart from the updates.
const agentWorkPath = "create:composite/sobjects"

// FitCall implements adapter.CallFitter: it counts the collections the
// rows make as Write packs them (one update per record, merged; one upsert
// per audit entry; 200 records a collection) and takes each row whose
// writes still fit in five, so that a call's collections fill by kind:
// once a new record's update would need a sixth collection, rows that
// only add audit entries, or change records already in the call, still
// go. Rows Write would park take no room.
func (s *Sink) FitCall(rows []adapter.OutboxRow, changes []*contactpad.RecordChange) []bool {
	take := make([]bool, len(rows))
	updated := map[[2]string]bool{}
	left := map[[2]string]bool{}
	records := map[string]int{} // by collection path
	collections := 0
	for k, r := range rows {
		take[k] = true
		key := [2]string{r.CRMObject, r.CRMID}
		m, ok := s.mappings[r.CRMObject]
		if !ok {
			continue
		}
		change := changes[k]
		if change == nil {
			continue
		}
		audit, err := m.Audit(*change, r.CRMID)
		if err != nil {
			continue
		}
		var paths []string
		if len(change.Fields) > 0 && !updated[key] {
			paths = append(paths, "composite/sobjects")
		}
		if audit != nil {
			paths = append(paths, "composite/sobjects/"+audit.Object+"/"+audit.ExternalIDField)
		}
		if change.AgentWork != nil {
			paths = append(paths, agentWorkPath)
		}
		more := 0 // collections this row opens
		for _, path := range paths {
			if records[path]%collectionSize == 0 {
				more++
			}
		}
		if left[key] || collections+more > collectionsPerCall {
			take[k], left[key] = false, true // and the record's later rows
			continue
		}
		collections += more
		for _, path := range paths {
			records[path]++
		}
		if len(change.Fields) > 0 {
			updated[key] = true
		}
	}
	return take
}

// Write implements adapter.Sink. The Fields of a record's rows are merged
// into one update (the engine puts what is still to write on the last
// one); each audit entry is upserted by its external id, so a retried call
// never duplicates it. Everything is packed into composite calls of up to
// five collections of 200 records. The collections are not all or none:
// a row whose writes landed in part (the Case updated and its audit Task
// upserted, but its AgentWork refused) fails with an
// *adapter.PartlyWrittenError that says what landed, and the writer sends
// only the rest again.
func (s *Sink) Write(ctx context.Context, rows []adapter.OutboxRow) []error {
	errs := make([]error, len(rows))
	asked := make([]part, len(rows))  // what each row asks of the org
	failed := make([]part, len(rows)) // and what of it failed
	updates := map[[2]string]*write{}
	var updateOrder [][2]string
	upserts := map[string]*collection{}
	var upsertOrder []string
	var creates []write // AgentWork: offers delivered through Omni-Channel
	for k, r := range rows {
		m, ok := s.mappings[r.CRMObject]
		if !ok {
			errs[k] = &adapter.ParkError{Code: "NO_MAPPING", Message: "no mapping writes " + r.CRMObject}
			continue
		}
		var change contactpad.RecordChange
		if err := json.Unmarshal(r.Payload, &change); err != nil {
			errs[k] = &adapter.ParkError{Code: "BAD_OUTBOX_ROW", Message: err.Error()}
			continue
		}
		fields := change.Fields
		audit, err := m.Audit(change, r.CRMID)
		if err != nil {
			errs[k] = &adapter.ParkError{Code: "MAPPING_ERROR", Message: err.Error()}
			continue
		}
		if len(fields) > 0 {
			key := [2]string{r.CRMObject, r.CRMID}
			w, seen := updates[key]
			if !seen {
				w = &write{record: map[string]any{}}
				updates[key], updateOrder = w, append(updateOrder, key)
			}
			for f, v := range fields {
				w.record[f] = v
			}
			w.record["attributes"] = map[string]string{"type": r.CRMObject}
			w.record["Id"] = r.CRMID
			w.rows = append(w.rows, k)
			asked[k] |= partFields
		}
		if audit != nil {
			path := "composite/sobjects/" + audit.Object + "/" + audit.ExternalIDField
			col, seen := upserts[path]
			if !seen {
				col = &collection{path: path}
				upserts[path], upsertOrder = col, append(upsertOrder, path)
			}
			record := map[string]any{"attributes": map[string]string{"type": audit.Object},
				audit.ExternalIDField: audit.ExternalID}
			for f, v := range audit.Fields {
				record[f] = v
			}
			col.writes = append(col.writes, write{record: record, rows: []int{k}})
			asked[k] |= partAudit
		}
		if work := change.AgentWork; work != nil {
			creates = append(creates, write{record: agentWorkRecord(work), rows: []int{k}})
			asked[k] |= partAgentWork
		}
	}
	var cols []collection
	var all []write
	for _, key := range updateOrder {
		all = append(all, *updates[key])
	}
	cols = append(cols, chunk("composite/sobjects", all, partFields)...)
	for _, path := range upsertOrder {
		cols = append(cols, chunk(path, upserts[path].writes, partAudit)...)
	}
	// After the records' updates, in the same call: an offer follows
	// the state it offers.
	for _, col := range chunk(agentWorkPath, creates, partAgentWork) {
		col.path, col.create = "composite/sobjects", true
		cols = append(cols, col)
	}
	for start := 0; start < len(cols); start += collectionsPerCall {
		s.call(ctx, cols[start:min(start+collectionsPerCall, len(cols))], errs, failed)
	}
	for k, err := range errs {
		if landed := asked[k] &^ failed[k]; err != nil && landed != 0 {
			errs[k] = &adapter.PartlyWrittenError{Err: err, Fields: landed&partFields != 0,
				Audit: landed&partAudit != 0, AgentWork: landed&partAgentWork != 0}
		}
	}
	return errs
}

// agentWorkRecord is the AgentWork that delivers an offer through
// Omni-Channel. Without a PSR (a transfer after the first agent accepted),
// it routes the work item to the user directly.
func agentWorkRecord(o *contactpad.AgentWorkOffer) map[string]any {
	r := map[string]any{"attributes": map[string]string{"type": "AgentWork"},
		"ServiceChannelId": o.ServiceChannelID, "WorkItemId": o.WorkItemID, "UserId": o.UserID}
	if o.PSRID != "" {
		r["PendingServiceRoutingId"] = o.PSRID
	}
	if o.CapacityWeight > 0 {
		r["CapacityWeight"] = o.CapacityWeight
	}
	return r
}

// chunk splits writes of one kind into collections of at most 200.
func chunk(path string, writes []write, kind part) []collection {
	var out []collection
	for start := 0; start < len(writes); start += collectionSize {
		out = append(out, collection{path: path, writes: writes[start:min(start+collectionSize, len(writes))], part: kind})
	}
	return out
}

type subrequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	ReferenceID string `json:"referenceId"`
	Body        any    `json:"body"`
}

type collectionResult struct {
	ID      string `json:"id"`
	Success bool   `json:"success"`
	Errors  []struct {
		StatusCode string `json:"statusCode"`
		Message    string `json:"message"`
	} `json:"errors"`
}

// call sends one composite call of up to five collections (one API call)
// and records each record's outcome by row: the first error in errs, and
// the kinds of write that failed in failed.
func (s *Sink) call(ctx context.Context, cols []collection, errs []error, failed []part) {
	req := struct {
		AllOrNone bool         `json:"allOrNone"`
		Requests  []subrequest `json:"compositeRequest"`
	}{}
	for k, col := range cols {
		records := make([]map[string]any, len(col.writes))
		for n, w := range col.writes {
			records[n] = w.record
		}
		method := http.MethodPatch
		if col.create {
			method = http.MethodPost
		}
		req.Requests = append(req.Requests, subrequest{Method: method,
			URL:         "/services/data/v" + s.c.cfg.APIVersion + "/" + col.path,
			ReferenceID: fmt.Sprintf("c%d", k),
			Body:        map[string]any{"allOrNone": false, "records": records}})
	}
	var resp struct {
		Responses []struct {
			Body           json.RawMessage `json:"body"`
			HTTPStatusCode int             `json:"httpStatusCode"`
			ReferenceID    string          `json:"referenceId"`
		} `json:"compositeResponse"`
	}
	fail := func(col collection, err error) {
		for _, w := range col.writes {
			for _, k := range w.rows {
				if errs[k] == nil {
					errs[k] = rowError(err)
				}
				failed[k] |= col.part
			}
		}
	}
	if err := s.c.Do(ctx, http.MethodPost, "composite", req, &resp); err != nil {
		if Classify(err) != Park {
			// Not an answer about the records: the org is down, busy or
			// unreachable. The rows wait for it, however long it takes.
			err = &adapter.UnavailableError{Err: err}
		}
		for _, col := range cols {
			fail(col, err)
		}
		return
	}
	for k, col := range cols {
		if k >= len(resp.Responses) {
			fail(col, fmt.Errorf("composite answered %d of %d subrequests", len(resp.Responses), len(cols)))
			continue
		}
		sub := resp.Responses[k]
		var results []collectionResult
		if sub.HTTPStatusCode >= 300 || json.Unmarshal(sub.Body, &results) != nil || len(results) != len(col.writes) {
			err := subrequestError(sub.HTTPStatusCode, sub.Body)
			s.c.cfg.Metrics.crmError(errorCode(err))
			fail(col, err)
			continue
		}
		for n, res := range results {
			if res.Success {
				continue
			}
			err := &APIError{Status: sub.HTTPStatusCode, Code: "UNKNOWN_ERROR", Message: "record write failed"}
			if len(res.Errors) > 0 {
				err.Code, err.Message = res.Errors[0].StatusCode, res.Errors[0].Message
			}
			s.c.cfg.Metrics.crmError(errorCode(err))
			fail(collection{writes: col.writes[n : n+1], part: col.part}, err)
		}
	}
}

// subrequestError reads the error of a failed subrequest.
func subrequestError(status int, body json.RawMessage) error {
	var errs []struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &errs) == nil && len(errs) > 0 {
		return &APIError{Status: status, Code: errs[0].ErrorCode, Message: errs[0].Message}
	}
	return &APIError{Status: status, Message: "unexpected subrequest answer"}
}
