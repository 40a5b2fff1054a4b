package api_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// TestOpenAPIDocument: the document is served without a token, as
// embedded, is valid OpenAPI 3.1, and is cached by its ETag.
func TestOpenAPIDocument(t *testing.T) {
	e := start(t)
	r := e.call("", "GET", "/api/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.JSONEq(t, string(api.OpenAPI()), string(r.Body))
	require.Equal(t, "3.1.0", r.json(t)["openapi"])

	c, err := loadContract()
	require.NoError(t, err, "the document loads and validates")
	require.True(t, c.doc.IsOpenAPI31OrLater())

	etag := r.Header.Get("ETag")
	require.NotEmpty(t, etag)
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/openapi.json", nil)
	req.Header.Set("If-None-Match", etag)
	res, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotModified, res.StatusCode)
	e.contract.report(t)
}

// TestOpenAPIRoutes: every /api/v1 route the server registers is an
// operation of the document, and every operation is a route: it refuses
// a request without a token (the document itself excepted), and the roles
// its x-ctibridge-roles leaves out with 403.
func TestOpenAPIRoutes(t *testing.T) {
	c, err := loadContract()
	require.NoError(t, err)
	var documented []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	require.ElementsMatch(t, registeredRoutes(t), documented,
		"the routes of the server (left) and the operations of openapi.json (right)")

	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		o.RateLimit = rate.Inf
		o.AuthFailureBurst = 1 << 20 // every operation is called without a token
	})
	tokens := map[string]string{"agent": "alice", "admin": "ops", "integration": "bi"}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			t.Run(method+" "+path, func(t *testing.T) {
				if _, ok := op.Extensions["x-ctibridge-signin"]; ok {
					return // served only with Options.SignIn: signin_test.go
				}
				url := strings.ReplaceAll(path, "{id}", "1")
				var roles []string
				raw, ok := op.Extensions["x-ctibridge-roles"]
				require.True(t, ok, "x-ctibridge-roles")
				data, err := json.Marshal(raw)
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(data, &roles))

				if op.Security != nil && len(*op.Security) == 0 {
					require.Empty(t, roles, "a public operation names no roles")
					require.Equal(t, http.StatusOK, e.call("", method, url, nil).Status, "public")
					return
				}
				require.NotEmpty(t, roles)
				e.refused("", method, url, nil, http.StatusUnauthorized, "unauthorized")
				for _, role := range []string{"agent", "admin", "integration"} {
					if slices.Contains(roles, role) {
						if path == "/api/v1/events" {
							continue // a stream: TestEvents
						}
						r := e.call(tokens[role], method, url, nil)
						if r.Status == http.StatusForbidden {
							require.NotContains(t, string(r.Body), "role "+role+" may not", "%s may call it", role)
						}
						continue
					}
					r := e.refused(tokens[role], method, url, nil, http.StatusForbidden, "forbidden")
					require.Contains(t, string(r.Body), fmt.Sprintf("role %s may not %s %s", role, method, path))
				}
			})
		}
	}
}

// registeredRoutes returns the "METHOD /api/v1/..." patterns the package's
// code registers, read from its source: http.ServeMux cannot list them.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var routes []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "api" && sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			pattern, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			if _, path, ok := strings.Cut(pattern, " "); ok && strings.HasPrefix(path, "/api/v1/") {
				routes = append(routes, pattern)
			}
			return true
		})
	}
	require.NotEmpty(t, routes, "no routes found in the source")
	return routes
}

// TestContractCheck: the check of the tests' exchanges finds what does not
// match the document, and passes what does.
func TestContractCheck(t *testing.T) {
	problem := func(w http.ResponseWriter, status int, code string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"type":"urn:ctibridge:problem:%s","title":%q,"status":%d,"detail":"d","code":%q}`,
			code, http.StatusText(status), status, code)
	}
	jsonBody := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, body)
		}
	}
	const me = `{"id":"ops","name":"ops","role":"admin"}`
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		token   bool
		handler http.HandlerFunc
		// violation matches the violation found; "" is none.
		violation string
	}{
		{name: "a matching exchange", method: "GET", path: "/api/v1/me", token: true, handler: jsonBody(me)},
		{name: "a field the document lacks", method: "GET", path: "/api/v1/me", token: true,
			handler: jsonBody(`{"id":"ops","name":"ops","role":"admin","extra":1}`), violation: `'extra' not allowed|"extra" is unsupported`},
		{name: "a field missing", method: "GET", path: "/api/v1/me", token: true,
			handler: jsonBody(`{"id":"ops","role":"admin"}`), violation: `missing property 'name'|"name" is missing`},
		{name: "an agent without its load", method: "GET", path: "/api/v1/me", token: true,
			handler: jsonBody(`{"id":"a","name":"a","role":"agent"}`), violation: "load"},
		{name: "a status the operation does not list", method: "GET", path: "/api/v1/me", token: true,
			handler:   func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusConflict, "conflict") },
			violation: "status is not supported"},
		{name: "a code its status does not have", method: "GET", path: "/api/v1/me", token: true,
			handler:   func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusBadRequest, "conflict") },
			violation: `"/code"`},
		{name: "a problem whose status is not the response's", method: "GET", path: "/api/v1/me", token: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"type":"urn:ctibridge:problem:invalid_request","title":"Bad Request","status":409,"detail":"d","code":"invalid_request"}`)
			},
			violation: `"/status"`},
		{name: "a refusal", method: "GET", path: "/api/v1/me",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ctibridge"`)
				problem(w, http.StatusUnauthorized, "unauthorized")
			}},
		{name: "a request without a token served", method: "GET", path: "/api/v1/me", handler: jsonBody(me),
			violation: "accepted a request openapi.json refuses"},
		{name: "a body field the document lacks accepted", method: "PUT", path: "/api/v1/me/presence", token: true,
			body: `{"presence":"busy","mood":"fine"}`, handler: jsonBody(`{}`), violation: "accepted a request openapi.json refuses"},
		{name: "a query parameter out of range accepted", method: "GET", path: "/api/v1/interactions?limit=9999", token: true,
			handler: jsonBody(`{"interactions":[]}`), violation: "accepted a request openapi.json refuses"},
		{name: "a bad request refused", method: "GET", path: "/api/v1/interactions?limit=9999", token: true,
			handler: func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusBadRequest, "invalid_request") }},
		{name: "a route the document lacks", method: "GET", path: "/api/v1/secret", token: true, handler: jsonBody(`{}`),
			violation: "no operation in openapi.json"},
		{name: "a route the document lacks, refused", method: "GET", path: "/api/v1/secret", token: true,
			handler: func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusNotFound, "not_found") }},
		{name: "a method the document lacks, refused", method: "DELETE", path: "/api/v1/me", token: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", "GET, HEAD")
				problem(w, http.StatusMethodNotAllowed, "method_not_allowed")
			}},
		{name: "a method the document lacks, a 404", method: "DELETE", path: "/api/v1/me", token: true,
			handler:   func(w http.ResponseWriter, r *http.Request) { problem(w, http.StatusNotFound, "not_found") },
			violation: "not the API's 405 problem: status 404, want 405"},
		{name: "a method the document lacks, no Allow", method: "DELETE", path: "/api/v1/me", token: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				problem(w, http.StatusMethodNotAllowed, "method_not_allowed")
			},
			violation: "405 without an Allow header"},
		{name: "an event that is not an Event", method: "GET", path: "/api/v1/events", token: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "retry: 2000\n\nid: 7\nevent: agent.presence\ndata: {\"id\":7,\"type\":\"agent.presence\",\"at\":\"2026-11-22T10:00:00Z\"}\n\n")
			},
			violation: `"agent"`},
		{name: "an event of another type than its block", method: "GET", path: "/api/v1/events", token: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "id: 7\nevent: agent.presence\ndata: {\"id\":7,\"type\":\"consult.ended\",\"at\":\"2026-11-22T10:00:00Z\","+
					"\"consult\":{\"id\":\"c\",\"interaction_id\":\"i\",\"initiator\":\"a\",\"target\":{\"agent\":\"b\"},\"status\":\"ended\","+
					"\"ended_reason\":\"released\",\"expires_at\":null,\"created_at\":\"2026-11-22T10:00:00Z\",\"updated_at\":\"2026-11-22T10:00:00Z\"}}\n\n")
			},
			violation: `type consult\.ended`},
		{name: "a stream of events", method: "GET", path: "/api/v1/events", token: true,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "retry: 2000\n: hello\n\nid: 7\nevent: agent.presence\ndata: {\"id\":7,\"type\":\"agent.presence\",\"at\":\"2026-11-22T10:00:00Z\","+
					"\"agent\":{\"id\":\"a\",\"presence\":\"busy\"}}\n\n: heartbeat\nid: 7\n\nid: 8\nevent: cut sho")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := newContractCheck(t)
			var body *strings.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if body != nil {
				req = httptest.NewRequest(tt.method, tt.path, body)
			}
			if tt.token {
				req.Header.Set("Authorization", "Bearer tok")
			}
			rec := httptest.NewRecorder()
			cc.wrap(tt.handler).ServeHTTP(rec, req)
			got := cc.take()
			if tt.violation == "" {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.Regexp(t, tt.violation, got[0])
		})
	}
}

// TestAgentWithoutServices: an agent configured with no services (it
// takes transfers addressed to it) is shown with an empty list of
// services, as openapi.json says, not null.
func TestAgentWithoutServices(t *testing.T) {
	e := start(t, func(o *api.Options, s *adapter.Settings) {
		s.Agents = append(s.Agents, contactpad.Agent{ID: "dave", Name: "Dave", Capacity: contactpad.Capacity{contactpad.NonLive: 1}})
		o.Identities = append(o.Identities, api.Identity{Name: "dave", Role: api.RoleAgent, TokenSHA256: hash("tok-dave")})
	})
	require.Equal(t, []any{}, e.ok("dave", "GET", "/api/v1/me", nil)["services"])
	require.Equal(t, []any{}, e.ok("dave", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})["services"])
}
