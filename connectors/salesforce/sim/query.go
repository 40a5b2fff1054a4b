package sim

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cursor holds the rest of a query result that did not fit in one page,
// like the query locator Salesforce keeps for nextRecordsUrl.
type cursor struct {
	records  []object
	lastUsed time.Time
}

func queryErrorResponse(e *queryError, src string) *response {
	return errorResponse(newAPIError(http.StatusBadRequest, e.code, e.message(src)))
}

// handleQuery serves query and queryAll: GET ?q=SOQL for the first page and
// GET /query/{locator}-{offset} for the next ones.
func (o *Org) handleQuery(req *apiRequest, all bool) *response {
	if req.method != http.MethodGet {
		return errorResponse(methodNotAllowed(req.method, "GET", "HEAD"))
	}
	switch len(req.segs) {
	case 1:
	case 2:
		return o.nextPage(req, req.segs[1])
	default:
		return errorResponse(notFound())
	}
	src := req.query.Get("q")
	parsed, qerr := parseSOQL(src)
	if qerr != nil {
		return queryErrorResponse(qerr, src)
	}
	bound, qerr := bind(parsed, o.schema, o.now())
	if qerr != nil {
		return queryErrorResponse(qerr, src)
	}
	rows := bound.run(o.tableFor(bound.obj).rowsInOrder(), all, o.liveRecord)
	if bound.count {
		return jsonResponse(http.StatusOK, object{{"totalSize", len(rows)}, {"done", true}, {"records", []object{}}})
	}
	records := make([]object, len(rows))
	for i, r := range rows {
		records[i] = bound.render(r, req.version, o.liveRecord)
	}
	return o.page(req, records, "", 0)
}

// page answers the records from start on, at most one page of them, and
// keeps a cursor when more remain.
func (o *Org) page(req *apiRequest, records []object, locator string, start int) *response {
	size := o.pageSize(req.header)
	end := min(start+size, len(records))
	body := object{{"totalSize", len(records)}, {"done", end >= len(records)}}
	if end < len(records) {
		if locator == "" {
			locator = o.newCursor(records)
		}
		body = append(body, member{"nextRecordsUrl",
			"/services/data/v" + req.version + "/query/" + locator + "-" + strconv.Itoa(end)})
	}
	page := records[start:end]
	if page == nil {
		page = []object{}
	}
	body = append(body, member{"records", page})
	return jsonResponse(http.StatusOK, body)
}

func (o *Org) pageSize(h http.Header) int {
	for _, opt := range strings.Split(h.Get("Sforce-Query-Options"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(opt), "=")
		if !ok || !strings.EqualFold(k, "batchSize") {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil {
			return min(max(n, 200), 2000)
		}
	}
	return o.opts.PageSize
}

func (o *Org) newCursor(records []object) string {
	now := o.now()
	for id, c := range o.cursors {
		if now.Sub(c.lastUsed) > cursorIdleLimit {
			delete(o.cursors, id)
		}
	}
	if len(o.cursors) >= maxCursors {
		var oldest string
		for id, c := range o.cursors {
			if oldest == "" || c.lastUsed.Before(o.cursors[oldest].lastUsed) {
				oldest = id
			}
		}
		delete(o.cursors, oldest)
	}
	o.cursorSeq++
	id := makeID(prefixQueryLocator, "Lz", o.cursorSeq)
	o.cursors[id] = &cursor{records: records, lastUsed: now}
	return id
}

func (o *Org) nextPage(req *apiRequest, locator string) *response {
	invalid := errorResponse(newAPIError(http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator"))
	i := strings.LastIndexByte(locator, '-')
	if i < 0 {
		return invalid
	}
	c := o.cursors[locator[:i]]
	start, err := strconv.Atoi(locator[i+1:])
	if c == nil || err != nil || start < 0 || start > len(c.records) {
		return invalid
	}
	c.lastUsed = o.now()
	return o.page(req, c.records, locator[:i], start)
}
