package api_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// FuzzRequestBodies sends arbitrary bodies to the endpoints that decode
// one: every answer is a success or a problem document with a stable code,
// never a 500, and a refused request changes nothing.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"due_by":"2099-01-01T00:00:00Z"}`, `{"status":"pending","due_by":"2099-01-01T00:00:00Z"}`, `{"status":"open"}`,
		`{"target":{"agent":"bob"},"mode":"warm","note":"n"}`, `{"target":{"number":"+4930123456"}}`,
		`{"presence":"available"}`, `{"confirm":true,"reason":"x"}`, `{}`, ``, `[]`, `null`, `{"a":1}`, `{"due_by":1e400}`,
		`{"target":{"agent":"bob","service":"support"}}`, "\x00", `{"status":"pending","due_by":"0000-01-01T00:00:00Z"}`,
	} {
		for path := range 6 {
			f.Add(path, seed)
		}
	}
	e := start(f, func(o *api.Options, _ *adapter.Settings) { o.RateLimit = rate.Inf })
	id := e.connected("alice", contactpad.NonLive)
	paths := []struct{ method, path string }{
		{"PATCH", "/api/v1/interactions/" + id},
		{"POST", "/api/v1/interactions/" + id + "/defer"},
		{"POST", "/api/v1/interactions/" + id + "/transfers"},
		{"POST", "/api/v1/interactions/" + id + "/consults"},
		{"POST", "/api/v1/interactions/" + id + "/abandon"},
		{"PUT", "/api/v1/me/presence"},
	}
	f.Fuzz(func(t *testing.T, which int, body string) {
		p := paths[(which%len(paths)+len(paths))%len(paths)]
		req, _ := http.NewRequest(p.method, e.srv.URL+p.path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok-bob") // not bob's: nothing may change
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("%s %s with %q: %d", p.method, p.path, body, res.StatusCode)
		}
		if p.path != "/api/v1/me/presence" && res.StatusCode < 300 {
			t.Fatalf("bob changed alice's interaction with %q", body)
		}
	})
}
