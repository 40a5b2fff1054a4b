package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

const (
	maxSubrequests        = 25
	maxCollectionsQueries = 5
)

var (
	referenceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	// @{ref.field}, @{ref.records[0].Id}, ...
	referencePattern = regexp.MustCompile(`@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[[0-9]+\])*)\}`)
	pathStepPattern  = regexp.MustCompile(`\.([A-Za-z0-9_]+)|\[([0-9]+)\]`)
)

type subrequest struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	ReferenceID string            `json:"referenceId"`
	Body        json.RawMessage   `json:"body"`
	HTTPHeaders map[string]string `json:"httpHeaders"`
}

func invalidComposite(format string, args ...any) *response {
	return errorResponse(newAPIError(http.StatusBadRequest, "INVALID_API_INPUT", fmt.Sprintf(format, args...)))
}

// handleComposite is POST /composite: up to 25 subrequests (at most 5 of
// them sObject Collections or queries) run in order, with @{ref.path}
// references to earlier results, as ONE API call. With allOrNone a failed
// subrequest rolls back all of them and the others report PROCESSING_HALTED.
func (o *Org) handleComposite(req *apiRequest) *response {
	if req.method != http.MethodPost {
		return errorResponse(methodNotAllowed(req.method, "POST"))
	}
	var in struct {
		AllOrNone          bool         `json:"allOrNone"`
		CollateSubrequests bool         `json:"collateSubrequests"`
		CompositeRequest   []subrequest `json:"compositeRequest"`
	}
	if err := decodeJSON(req.body, &in); err != nil {
		return errorResponse(err)
	}
	subs := in.CompositeRequest
	switch {
	case len(subs) == 0:
		return invalidComposite("The compositeRequest field is required and must contain at least one subrequest.")
	case len(subs) > maxSubrequests:
		return invalidComposite("The composite request can contain at most %d subrequests; this one has %d.", maxSubrequests, len(subs))
	}
	seen := map[string]bool{}
	heavy, queries := 0, 0
	for _, s := range subs {
		if !referenceIDPattern.MatchString(s.ReferenceID) {
			return invalidComposite("Invalid referenceId '%s': use only letters, digits and underscores.", s.ReferenceID)
		}
		if seen[s.ReferenceID] {
			return invalidComposite("Duplicate referenceId provided in the request: %s", s.ReferenceID)
		}
		seen[s.ReferenceID] = true
		path, _, _ := strings.Cut(s.URL, "?")
		segs, ok := splitPath(strings.TrimPrefix(path, "/services/data/"))
		if !strings.HasPrefix(path, "/services/data/v") || !ok || len(segs) < 2 {
			return invalidComposite("Invalid subrequest url '%s': it must start with /services/data/vXX.X/.", s.URL)
		}
		switch classify(strings.ToUpper(s.Method), segs[1:]) {
		case CallQuery:
			heavy++
			queries++
		case CallCollections:
			heavy++
		case CallSObject, CallDescribe:
		default:
			return invalidComposite("The composite request can't contain the subrequest url '%s'.", s.URL)
		}
	}
	if heavy > maxCollectionsQueries {
		return invalidComposite("The composite request can contain at most %d sObject Collections or query subrequests; this one has %d.",
			maxCollectionsQueries, heavy)
	}
	if queries == len(subs) {
		// Counted apart, so that a poll's calls are told from writes.
		o.calls[CallComposite]--
		o.calls[CallCompositeQuery]++
	}

	mark := req.tx.mark()
	results := make([]object, len(subs))
	bodies := map[string]any{}
	failedAt := -1
	for i, s := range subs {
		resp := o.runSubrequest(req, s, bodies)
		results[i] = subResult(s.ReferenceID, resp)
		if resp.status >= 400 && in.AllOrNone {
			failedAt = i
			break
		}
	}
	if failedAt >= 0 {
		req.tx.rollback(mark)
		for i, s := range subs {
			if i != failedAt {
				results[i] = subResult(s.ReferenceID, errorResponse(newAPIError(http.StatusBadRequest, "PROCESSING_HALTED",
					"The transaction was rolled back since another operation in the same transaction failed.")))
			}
		}
	}
	return jsonResponse(http.StatusOK, object{{"compositeResponse", results}})
}

func subResult(ref string, resp *response) object {
	headers := object{}
	for k, v := range resp.headers {
		headers = append(headers, member{k, v})
	}
	return object{{"body", resp.body}, {"httpHeaders", headers}, {"httpStatusCode", resp.status}, {"referenceId", ref}}
}

// runSubrequest resolves the references of a subrequest, runs it in the
// composite's transaction and records its body for later references.
func (o *Org) runSubrequest(parent *apiRequest, s subrequest, bodies map[string]any) *response {
	halted := func(msg string) *response {
		return errorResponse(newAPIError(http.StatusBadRequest, "PROCESSING_HALTED", msg))
	}
	rawURL, err := substituteURL(s.URL, bodies)
	if err != "" {
		return halted(err)
	}
	body := []byte(s.Body)
	if len(bytes.TrimSpace(body)) > 0 && !bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		text, err := substitute(string(body), bodies, jsonEscape)
		if err != "" {
			return halted(err)
		}
		body = []byte(text)
	} else {
		body = nil
	}
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return errorResponse(notFound())
	}
	segs, ok := splitPath(strings.TrimPrefix(u.EscapedPath(), "/services/data/"))
	if !ok || len(segs) == 0 {
		return errorResponse(notFound())
	}
	version, ok := o.versionOK(segs[0])
	if !ok {
		return errorResponse(notFound())
	}
	header := http.Header{}
	for k, v := range s.HTTPHeaders {
		header.Set(k, v)
	}
	resp := o.route(&apiRequest{
		method: strings.ToUpper(s.Method), version: version, segs: segs[1:], query: u.Query(), body: body,
		header: header, user: parent.user, tx: parent.tx,
	})
	if resp.body != nil {
		if data, err := json.Marshal(resp.body); err == nil {
			var v any
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if dec.Decode(&v) == nil {
				bodies[s.ReferenceID] = v
			}
		}
	}
	return resp
}

// encodedReference is a reference a client percent-encoded in a URL.
var encodedReference = regexp.MustCompile(`(?i)%40%7B(.*?)%7D`)

// substituteURL resolves the references of a subrequest URL, escaping each
// value for the part of the URL it lands in.
func substituteURL(raw string, bodies map[string]any) (string, string) {
	raw = encodedReference.ReplaceAllStringFunc(raw, func(ref string) string {
		inner, err := url.QueryUnescape(ref[6 : len(ref)-3])
		if err != nil {
			return ref
		}
		return "@{" + inner + "}"
	})
	path, query, hasQuery := strings.Cut(raw, "?")
	path, failure := substitute(path, bodies, url.PathEscape)
	if failure != "" || !hasQuery {
		return path, failure
	}
	query, failure = substitute(query, bodies, url.QueryEscape)
	return path + "?" + query, failure
}

func jsonEscape(s string) string {
	quoted, _ := json.Marshal(s)
	return string(quoted[1 : len(quoted)-1])
}

// substitute replaces @{ref.path} references with values from earlier
// subrequests' bodies, escaped by escape. It returns the error message of
// the first reference it cannot resolve.
func substitute(text string, bodies map[string]any, escape func(string) string) (string, string) {
	var failure string
	out := referencePattern.ReplaceAllStringFunc(text, func(ref string) string {
		m := referencePattern.FindStringSubmatch(ref)
		v, ok := bodies[m[1]]
		for _, step := range pathStepPattern.FindAllStringSubmatch(m[2], -1) {
			if !ok {
				break
			}
			if step[1] != "" {
				obj, isObj := v.(map[string]any)
				v, ok = obj[step[1]]
				ok = ok && isObj
				continue
			}
			list, isList := v.([]any)
			n, _ := strconv.Atoi(step[2])
			ok = isList && n < len(list)
			if ok {
				v = list[n]
			}
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = strconv.FormatBool(x)
		default:
			ok = false
		}
		if !ok {
			if failure == "" {
				inner := strings.TrimSuffix(strings.TrimPrefix(ref, "@{"), "}")
				failure = fmt.Sprintf("Invalid reference specified. No value for %s found in %s. Provided referenceId ('%s') "+
					"must be valid for a previous subrequest that succeeded.", inner, m[1], m[1])
			}
			return ref
		}
		return escape(s)
	})
	return out, failure
}
