package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// FuzzRequestBodies sends arbitrary bodies to the endpoints that decode
// one: every answer is a success or a problem document with a stable code,
// never a 500, as openapi.json describes it, and a refused request changes
// nothing. A body that is not valid UTF-8, or JSON with a NUL in any
// string, is a 422.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"due_by":"2099-01-01T00:00:00Z"}`, `{"status":"pending","due_by":"2099-01-01T00:00:00Z"}`, `{"status":"open"}`,
		`{"target":{"agent":"bob"},"mode":"warm","note":"n"}`, `{"target":{"number":"+4930123456"}}`,
		`{"presence":"available"}`, `{"confirm":true,"reason":"x"}`, `{}`, ``, `[]`, `null`, `{"a":1}`, `{"due_by":1e400}`,
		`{"target":{"agent":"bob","service":"support"}}`, "\x00", `{"status":"pending","due_by":"0000-01-01T00:00:00Z"}`,
		// Text the CRM cannot take: NULs anywhere, bytes that are not UTF-8.
		`{"presence":"available\u0000"}`, `{"status\u0000":"open"}`, `{"target":{"agent":"bob\u0000"},"note":"n"}`,
		`{"target":{"agent\u0000":"bob"}}`, `{"confirm":true,"reason":"\u0000"}`, `{"note":["a","\u0000"]}`,
		`{"reason":"C:\\u0000"}`, "{\"reason\":\"caf\xe9\"}", "{\"presence\":\"busy\xff\"}", "{\"a\xc3\":1}",
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
		if v := e.contract.take(); len(v) > 0 {
			t.Fatalf("%s %s with %q: not as openapi.json says: %s", p.method, p.path, body, strings.Join(v, "; "))
		}
		if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("%s %s with %q: %d", p.method, p.path, body, res.StatusCode)
		}
		if badText(body) && res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%s %s with %q: %d, want 422", p.method, p.path, body, res.StatusCode)
		}
		if p.path != "/api/v1/me/presence" && res.StatusCode < 300 {
			t.Fatalf("bob changed alice's interaction with %q", body)
		}
	})
}

// badText reports whether body is not valid UTF-8, or is JSON holding a
// NUL in a string or a key: what the API must refuse, found by decoding
// rather than as the API does.
func badText(body string) bool {
	if !utf8.ValidString(body) {
		return true
	}
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return false
	}
	var nul func(v any) bool
	nul = func(v any) bool {
		switch v := v.(type) {
		case string:
			return strings.ContainsRune(v, 0)
		case []any:
			for _, x := range v {
				if nul(x) {
					return true
				}
			}
		case map[string]any:
			for k, x := range v {
				if strings.ContainsRune(k, 0) || nul(x) {
					return true
				}
			}
		}
		return false
	}
	return nul(v)
}
