package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
	"github.com/ctibridge/ctibridge/mapping"
)

// TestBodyLimit: a body over api.max_body_bytes is 413 too_large naming
// the limit and its key, on every endpoint that reads one; a body of
// exactly the limit is read.
func TestBodyLimit(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		e := start(t)
		id := e.connected("alice", contactpad.NonLive)
		body := `{"confirm":true,"reason":"` + strings.Repeat("x", api.DefaultMaxBodyBytes) + `"}`
		r := e.refused("alice", "POST", "/api/v1/interactions/"+id+"/abandon", body, 413, "too_large")
		require.Equal(t, "request body: larger than 1048576 bytes (api.max_body_bytes)", r.json(t)["detail"])
		require.Equal(t, contactpad.Connected, e.get(id).Status, "nothing changed")
	})

	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		o.MaxBodyBytes = 100
		o.Preview = func(record map[string]any) (any, error) { return &mapping.Preview{}, nil }
	})
	id := e.connected("alice", contactpad.NonLive)
	interaction := "/api/v1/interactions/" + id
	// pad makes a body of exactly n bytes.
	pad := func(n int, prefix string) string {
		return prefix + `"` + strings.Repeat("x", n-len(prefix)-3) + `"}`
	}
	for _, tt := range []struct{ name, who, method, path, prefix string }{
		{"presence", "alice", "PUT", "/api/v1/me/presence", `{"presence":`},
		{"PATCH", "alice", "PATCH", interaction, `{"status":`},
		{"transfer note", "alice", "POST", interaction + "/transfers", `{"target":{"agent":"bob"},"note":`},
		{"abandon reason", "alice", "POST", interaction + "/abandon", `{"reason":`},
		{"an action without fields", "alice", "POST", interaction + "/hold", `{"x":`},
		{"mapping preview", "ops", "POST", "/api/v1/admin/mapping/preview", `{"Subject":`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.refused(tt.who, tt.method, tt.path, pad(101, tt.prefix), 413, "too_large")
			require.Equal(t, "request body: larger than 100 bytes (api.max_body_bytes)", r.json(t)["detail"])
			r = e.call(tt.who, tt.method, tt.path, pad(100, tt.prefix))
			require.NotEqual(t, 413, r.Status, "a body of exactly the limit is read: %s", r.Body)
		})
	}
	require.Equal(t, contactpad.Connected, e.get(id).Status, "nothing changed")
}

// TestTextLimits: a note or reason over api.max_note_bytes, and a name,
// status or time over 255 bytes, is 422 too_long naming the field, its
// length and the limit (and the key that sets it); nothing changes. A
// value of exactly the limit goes in whole.
func TestTextLimits(t *testing.T) {
	e := start(t)
	id := e.connected("alice", contactpad.NonLive)
	e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	offered := e.ingest(contactpad.Live, "support")
	require.Equal(t, contactpad.Offered, e.get(offered).Status)
	e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	tr := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers", map[string]any{"target": map[string]string{"agent": "carol"}})
	trID := tr["id"].(string)
	audit := func() int {
		var n int
		require.NoError(t, e.store.View(context.Background(), func(tx adapter.Tx) error {
			for _, i := range []string{id, offered} {
				entries, err := tx.Audit(i)
				n += len(entries)
				if err != nil {
					return err
				}
			}
			return nil
		}))
		return n
	}
	before := audit()

	long := strings.Repeat("é", 4097) // 8194 bytes, 4097 characters
	name := strings.Repeat("a", 256)
	interaction := "/api/v1/interactions/" + id
	for _, tt := range []struct {
		name, who, method, path string
		body                    any
		detail                  string
	}{
		{"transfer note", "alice", "POST", interaction + "/transfers",
			map[string]any{"target": map[string]string{"agent": "carol"}, "note": long},
			`field "note": 8194 bytes, at most 8192 (api.max_note_bytes)`},
		{"abandon reason", "alice", "POST", interaction + "/abandon", map[string]any{"confirm": true, "reason": long},
			`field "reason": 8194 bytes, at most 8192 (api.max_note_bytes)`},
		{"decline an offer", "bob", "POST", "/api/v1/interactions/" + offered + "/decline", map[string]any{"reason": long},
			`field "reason": 8194 bytes, at most 8192 (api.max_note_bytes)`},
		{"decline a transfer", "carol", "POST", "/api/v1/transfers/" + trID + "/decline", map[string]any{"reason": long},
			`field "reason": 8194 bytes, at most 8192 (api.max_note_bytes)`},
		{"target agent", "alice", "POST", interaction + "/transfers", map[string]any{"target": map[string]string{"agent": name}},
			`field "target.agent": 256 bytes, at most 255`},
		{"target service", "alice", "POST", interaction + "/transfers", map[string]any{"target": map[string]string{"service": name}},
			`field "target.service": 256 bytes, at most 255`},
		{"consult agent", "alice", "POST", interaction + "/consults", map[string]any{"target": map[string]string{"agent": name}},
			`field "target.agent": 256 bytes, at most 255`},
		{"mode", "alice", "POST", interaction + "/transfers", map[string]any{"target": map[string]string{"agent": "carol"}, "mode": name},
			`field "mode": 256 bytes, at most 255`},
		{"presence", "alice", "PUT", "/api/v1/me/presence", map[string]any{"presence": name},
			`field "presence": 256 bytes, at most 255`},
		{"status", "alice", "PATCH", interaction, map[string]any{"status": name},
			`field "status": 256 bytes, at most 255`},
		{"due_by", "alice", "POST", interaction + "/defer", map[string]any{"due_by": name},
			`field "due_by": 256 bytes, at most 255`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.refused(tt.who, tt.method, tt.path, tt.body, 422, "too_long")
			require.Equal(t, tt.detail, r.json(t)["detail"])
		})
	}
	require.Equal(t, before, audit(), "nothing changed")
	require.Equal(t, contactpad.Offered, e.get(offered).Status)

	t.Run("exactly the limit", func(t *testing.T) {
		note := strings.Repeat("é", 4096) // 8192 bytes
		e.ok("alice", "POST", "/api/v1/transfers/"+trID+"/cancel", nil)
		got := e.ok("alice", "POST", interaction+"/transfers", map[string]any{"target": map[string]string{"agent": "carol"}, "note": note})
		require.Equal(t, note, got["note"])
		e.ok("bob", "POST", "/api/v1/interactions/"+offered+"/decline", map[string]any{"reason": note})
	})

	t.Run("api.max_note_bytes", func(t *testing.T) {
		e := start(t, func(o *api.Options, _ *adapter.Settings) { o.MaxNoteBytes = 10 })
		id := e.connected("alice", contactpad.NonLive)
		r := e.refused("alice", "POST", "/api/v1/interactions/"+id+"/abandon", map[string]any{"confirm": true, "reason": "eleven byte"}, 422, "too_long")
		require.Equal(t, `field "reason": 11 bytes, at most 10 (api.max_note_bytes)`, r.json(t)["detail"])
		e.ok("alice", "POST", "/api/v1/interactions/"+id+"/abandon", map[string]any{"confirm": true, "reason": "ten bytes!"})
	})
}

// TestDueByRange: a due_by later than the stores hold (adapter.MaxTime,
// 2262-04-11T23:47:16Z to the second) is 422 due_by_out_of_range naming
// the allowed range, by defer and by PATCH; the last second is taken.
func TestDueByRange(t *testing.T) {
	e := start(t)
	id := e.connected("alice", contactpad.NonLive)
	interaction := "/api/v1/interactions/" + id
	for _, due := range []string{"2262-04-11T23:47:17Z", "2262-04-12T00:00:00Z", "9999-12-31T23:59:59Z", "2262-04-11T23:47:16.000000001Z"} {
		t.Run(due, func(t *testing.T) {
			r := e.refused("alice", "POST", interaction+"/defer", map[string]string{"due_by": due}, 422, "due_by_out_of_range")
			require.Contains(t, r.json(t)["detail"], "want a time after now and at most 2262-04-11T23:47:16Z")
			e.refused("alice", "PATCH", interaction, map[string]string{"status": "pending", "due_by": due}, 422, "due_by_out_of_range")
		})
	}
	require.Equal(t, contactpad.Connected, e.get(id).Status, "nothing changed")
	got := e.ok("alice", "POST", interaction+"/defer", map[string]string{"due_by": "2262-04-11T23:47:16Z"})
	require.Equal(t, "2262-04-11T23:47:16Z", got["due_by"])
	require.Equal(t, string(contactpad.Deferred), got["status"])
}
