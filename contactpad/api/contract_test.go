package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/ctibridge/ctibridge/contactpad/api"
)

// contract is the API's OpenAPI document (api.OpenAPI), loaded and
// checked once, with a router that finds a request's operation the way
// the server does: an http.ServeMux of the document's paths, whose
// "{id}" wildcards are those of Go's patterns.
type contract struct {
	doc *openapi3.T
	mux *http.ServeMux
	// event is the schema of the data of each event of the stream, and
	// streamClosed that of the stream.closed event a stream may end with,
	// streamReset that of the stream.reset event it may start with.
	event, streamClosed, streamReset *openapi3.Schema
}

// loadContract loads the document once for all tests.
var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI %s document: %w", doc.OpenAPI, err)
	}
	// The event stream's body is a string to the document (OpenAPI 3.1 has
	// no schema for the items of a stream); checkEvents checks each event.
	openapi3filter.RegisterBodyDecoder("text/event-stream", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		data, err := io.ReadAll(body)
		return string(data), err
	})
	// The sign-in's pages are HTML, a string to the document.
	openapi3filter.RegisterBodyDecoder("text/html", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		data, err := io.ReadAll(body)
		return string(data), err
	})
	c := &contract{doc: doc, mux: http.NewServeMux()}
	if ref := doc.Components.Schemas["Event"]; ref != nil {
		c.event = ref.Value
	}
	if ref := doc.Components.Schemas["StreamClosed"]; ref != nil {
		c.streamClosed = ref.Value
	}
	if ref := doc.Components.Schemas["StreamReset"]; ref != nil {
		c.streamReset = ref.Value
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			c.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
				m := r.Context().Value(matchKey{}).(*match)
				m.route, m.params = route, map[string]string{}
				for _, p := range op.Parameters {
					if p.Value.In == openapi3.ParameterInPath {
						m.params[p.Value.Name] = r.PathValue(p.Value.Name)
					}
				}
			})
		}
	}
	return c, nil
})

type matchKey struct{}

type match struct {
	route  *routers.Route
	params map[string]string
}

// find returns the operation of r and its path parameters; no route: the
// document has no such operation, and status is what the router answered
// (404, 405, or a redirect to the clean path).
func (c *contract) find(r *http.Request) (route *routers.Route, params map[string]string, status int) {
	m := &match{}
	rec := httptest.NewRecorder()
	c.mux.ServeHTTP(rec, r.WithContext(context.WithValue(context.Background(), matchKey{}, m)))
	return m.route, m.params, rec.Code
}

// contractCheck checks every request an env sends and every response it
// gets against the contract, and keeps what did not match.
type contractCheck struct {
	c          *contract
	mu         sync.Mutex
	violations []string
}

func newContractCheck(t testing.TB) *contractCheck {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return &contractCheck{c: c}
}

// take returns the violations found so far and forgets them.
func (cc *contractCheck) take() []string {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	v := cc.violations
	cc.violations = nil
	return v
}

// report fails t with the violations found so far.
func (cc *contractCheck) report(t testing.TB) {
	t.Helper()
	for _, v := range cc.take() {
		t.Errorf("OpenAPI contract: %s", v)
	}
}

// wrap checks the requests to /api and their responses. A response is
// held back until it is checked, so a client that has read it can ask
// for the violations at once (an event stream goes through as it is
// written, and is checked when it ends).
func (cc *contractCheck) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") || isPreflight(r) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{w: w}
		next.ServeHTTP(rec, r)
		if !rec.started {
			rec.WriteHeader(http.StatusOK) // as net/http does
		}
		if err := cc.c.verify(r, body, rec); err != nil {
			cc.mu.Lock()
			cc.violations = append(cc.violations, fmt.Sprintf("%s %s answered %d: %v", r.Method, r.URL.RequestURI(), rec.status, err))
			cc.mu.Unlock()
		}
		rec.finish()
	})
}

// isPreflight: CORS preflights are answered before routing, for any path;
// they are the browser's, not the API's.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

// verify checks one exchange:
//   - a request to a path the document lacks must get the API's 404
//     problem (or the router's redirect to the clean path), one to a path
//     it has with a method it lacks the 405 problem with an Allow header;
//   - a request the document refuses (parameters, body, bearer token)
//     must be refused (4xx): the document may not promise less than the
//     server accepts;
//   - the response status must be one the operation lists, with a body
//     that matches its schema; every event of a stream must be an Event.
func (c *contract) verify(r *http.Request, body []byte, rec *recorder) error {
	route, params, routed := c.find(r)
	if route == nil {
		if routed >= 300 && routed < 400 && rec.status == routed {
			return nil
		}
		if routed == http.StatusMethodNotAllowed {
			// Another method of a path of the document.
			if err := isProblem(rec, http.StatusMethodNotAllowed, "method_not_allowed"); err != nil {
				return fmt.Errorf("a method openapi.json lacks on a path it has, and not the API's 405 problem: %w", err)
			}
			if rec.Header().Get("Allow") == "" {
				return errors.New("405 without an Allow header")
			}
			return nil
		}
		if err := isProblem(rec, http.StatusNotFound, "not_found"); err != nil {
			return fmt.Errorf("no operation in openapi.json (the router answers %d), and not the API's 404 problem: %w", routed, err)
		}
		return nil
	}
	ctx := context.Background()
	req := r.Clone(ctx)
	req.Body, req.ContentLength = http.NoBody, 0
	req.Header = r.Header.Clone()
	req.Header.Del("Content-Type")
	// The server reads any body as JSON whatever its Content-Type (curl -d
	// sends a form type), and a body of white space as none.
	if len(bytes.TrimSpace(body)) > 0 {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		req.Header.Set("Content-Type", "application/json")
	}
	reqOptions := &openapi3filter.Options{AuthenticationFunc: bearerToken, SkipSettingDefaults: true, MultiError: true}
	reqOptions.WithCustomSchemaErrorFunc(schemaError)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: reqOptions}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	var errs []error
	if reqErr != nil && rec.status < 400 {
		errs = append(errs, fmt.Errorf("the server accepted a request openapi.json refuses: %w", reqErr))
	}
	resOptions := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	resOptions.WithCustomSchemaErrorFunc(schemaError)
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.status, Header: rec.Header(), Options: resOptions}
	out.SetBodyBytes(rec.body.Bytes())
	if rec.truncated {
		out.Options.ExcludeResponseBody = true
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("response of %s %s: %w", route.Method, route.Path, err))
	}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		errs = append(errs, c.checkEvents(rec.body.Bytes()))
	}
	return errors.Join(errs...)
}

// schemaError says where a value does not match its schema and why,
// without the schema and the value, which can be long.
func schemaError(err *openapi3.SchemaError) string {
	return fmt.Sprintf("at %q: %s", "/"+strings.Join(err.JSONPointer(), "/"), err.Reason)
}

// bearerToken is the document's bearer scheme as the server reads it:
// "Bearer" in any case, and a token; and its session scheme, a cookie.
func bearerToken(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName == "session" {
		if _, err := in.RequestValidationInput.Request.Cookie("ctibridge_session"); err != nil {
			return errors.New("no session cookie")
		}
		return nil
	}
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// isProblem checks that rec is the problem document of status and code.
func isProblem(rec *recorder, status int, code string) error {
	if rec.status != status {
		return fmt.Errorf("status %d, want %d", rec.status, status)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p api.Problem
	if err := json.Unmarshal(rec.body.Bytes(), &p); err != nil {
		return fmt.Errorf("problem document: %w", err)
	}
	if p.Code != code {
		return fmt.Errorf("code %q, want %q", p.Code, code)
	}
	return nil
}

// checkEvents checks the complete blocks of an event stream: each data is
// an Event whose type and id are the block's event and id.
func (c *contract) checkEvents(stream []byte) error {
	blocks := strings.Split(string(stream), "\n\n")
	blocks = blocks[:len(blocks)-1] // the last is cut short, or empty
	var errs []error
	for _, block := range blocks {
		var id, event, data string
		for line := range strings.SplitSeq(block, "\n") {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "": // a comment
			case "id":
				id = value
			case "event":
				event = value
			case "data":
				data += value
			case "retry":
				if _, err := strconv.Atoi(value); err != nil {
					errs = append(errs, fmt.Errorf("event stream: retry %q", value))
				}
			default:
				errs = append(errs, fmt.Errorf("event stream: unknown field %q", field))
			}
		}
		if data == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			errs = append(errs, fmt.Errorf("event %s: data is not JSON: %w", id, err))
			continue
		}
		schema := c.event
		switch event {
		case "stream.closed":
			schema = c.streamClosed
		case "stream.reset":
			schema = c.streamReset
		}
		if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			errs = append(errs, fmt.Errorf("event %s: not an Event of openapi.json: %w", id, err))
			continue
		}
		if event == "stream.closed" {
			if id != "" {
				errs = append(errs, fmt.Errorf("stream.closed with id %q: it is no stored event", id))
			}
			continue
		}
		ev := v.(map[string]any)
		if event == "stream.reset" {
			if strconv.FormatFloat(ev["last_event_id"].(float64), 'f', -1, 64) != id {
				errs = append(errs, fmt.Errorf("stream.reset with id %q goes on after %v", id, ev["last_event_id"]))
			}
			continue
		}
		if ev["type"] != event || strconv.FormatFloat(ev["id"].(float64), 'f', -1, 64) != id {
			errs = append(errs, fmt.Errorf("event block id %q, event %q carries an Event of id %v, type %v", id, event, ev["id"], ev["type"]))
		}
	}
	return errors.Join(errs...)
}

// recordedMax is how much of a response a recorder keeps; a longer event
// stream is checked up to there.
const recordedMax = 32 << 20

// recorder holds a response back until it is checked, except an event
// stream, which it passes on as it is written (and flushed).
type recorder struct {
	w         http.ResponseWriter
	status    int
	started   bool
	stream    bool
	body      bytes.Buffer
	truncated bool
}

func (r *recorder) Header() http.Header { return r.w.Header() }

func (r *recorder) WriteHeader(code int) {
	if r.started {
		return
	}
	r.started, r.status = true, code
	r.stream = strings.HasPrefix(r.w.Header().Get("Content-Type"), "text/event-stream")
	if r.stream {
		r.w.WriteHeader(code)
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.started {
		r.WriteHeader(http.StatusOK)
	}
	if !r.stream {
		return r.body.Write(p)
	}
	if r.body.Len()+len(p) <= recordedMax {
		r.body.Write(p)
	} else {
		r.truncated = true
	}
	return r.w.Write(p)
}

// FlushError flushes an event stream; a held-back response is written
// whole by finish.
func (r *recorder) FlushError() error {
	if !r.stream {
		return nil
	}
	return http.NewResponseController(r.w).Flush()
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

// finish writes a held-back response.
func (r *recorder) finish() {
	if r.stream {
		return
	}
	r.w.WriteHeader(r.status)
	_, _ = r.w.Write(r.body.Bytes())
}
