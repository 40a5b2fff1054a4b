package api_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
	"github.com/ctibridge/ctibridge/mapping"
)

// TestTextTheCRMCannotTake: a body that is not valid UTF-8, or holds a NUL
// in any string (values and keys, at any depth), is refused on every
// endpoint that reads a body with 422 invalid_text, naming the field; so
// are such query parameters and paths. Nothing changes.
func TestTextTheCRMCannotTake(t *testing.T) {
	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		// The preview shows the record as the API decoded it.
		o.Preview = func(record map[string]any) (any, error) {
			return &mapping.Preview{Changes: []mapping.PreviewChange{{Name: "decoded", Update: record}}}, nil
		}
	})
	id := e.connected("alice", contactpad.NonLive)
	e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	offered := e.ingest(contactpad.Live, "support")
	require.Equal(t, "bob", e.get(offered).Owner)
	require.Equal(t, contactpad.Offered, e.get(offered).Status)
	e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	tr := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers", map[string]any{"target": map[string]string{"agent": "carol"}})
	trID := tr["id"].(string)
	require.Equal(t, "carol", tr["assignee"])

	type snapshot struct {
		interactions map[string]*contactpad.Interaction
		audit        map[string][]contactpad.AuditEntry
		transfer     *contactpad.Transfer
		agents       []*contactpad.Agent
	}
	snap := func() snapshot {
		s := snapshot{interactions: map[string]*contactpad.Interaction{}, audit: map[string][]contactpad.AuditEntry{}}
		require.NoError(t, e.store.View(context.Background(), func(tx adapter.Tx) error {
			for _, i := range []string{id, offered} {
				var err error
				if s.interactions[i], err = tx.Interaction(i); err != nil {
					return err
				}
				if s.audit[i], err = tx.Audit(i); err != nil {
					return err
				}
			}
			var err error
			if s.transfer, err = tx.Transfer(trID); err != nil {
				return err
			}
			s.agents, err = tx.Agents()
			return err
		}))
		return s
	}
	before := snap()

	interaction := "/api/v1/interactions/" + id
	bodies := []struct {
		name, who, method, path, body, detail string
	}{
		{name: "presence: NUL", who: "alice", method: "PUT", path: "/api/v1/me/presence",
			body:   `{"presence":"available\u0000"}`,
			detail: `request body: field "presence": NUL characters (\u0000) are not allowed`},
		{name: "presence: not UTF-8", who: "alice", method: "PUT", path: "/api/v1/me/presence",
			body:   "{\"presence\":\"busy\xff\"}",
			detail: `request body: field "presence": not valid UTF-8`},
		{name: "PATCH: NUL in due_by", who: "alice", method: "PATCH", path: interaction,
			body:   `{"status":"pending","due_by":"2099-01-01T00:00:00Z\u0000"}`,
			detail: `request body: field "due_by": NUL characters (\u0000) are not allowed`},
		{name: "PATCH: NUL in a key", who: "alice", method: "PATCH", path: interaction,
			body:   `{"status\u0000":"open"}`,
			detail: `request body: key "status\x00": NUL characters (\u0000) are not allowed`},
		{name: "defer", who: "alice", method: "POST", path: interaction + "/defer",
			body:   `{"due_by":"\u00002099-01-01T00:00:00Z"}`,
			detail: `request body: field "due_by": NUL characters (\u0000) are not allowed`},
		{name: "abandon: NUL in the reason", who: "alice", method: "POST", path: interaction + "/abandon",
			body:   `{"confirm":true,"reason":"line one\u0000"}`,
			detail: `request body: field "reason": NUL characters (\u0000) are not allowed`},
		{name: "abandon: Latin-1 reason", who: "alice", method: "POST", path: interaction + "/abandon",
			body:   "{\"confirm\":true,\"reason\":\"caf\xe9\"}",
			detail: `request body: field "reason": not valid UTF-8`},
		{name: "transfer: nested", who: "alice", method: "POST", path: interaction + "/transfers",
			body:   `{"target":{"agent":"bob\u0000"},"mode":"warm"}`,
			detail: `request body: field "target.agent": NUL characters (\u0000) are not allowed`},
		{name: "transfer: note", who: "alice", method: "POST", path: interaction + "/transfers",
			body:   `{"target":{"agent":"bob"},"note":"VIP\u0000"}`,
			detail: `request body: field "note": NUL characters (\u0000) are not allowed`},
		{name: "transfer: nested key", who: "alice", method: "POST", path: interaction + "/transfers",
			body:   `{"target":{"agent\u0000":"bob"}}`,
			detail: `request body: field "target": key "agent\x00": NUL characters (\u0000) are not allowed`},
		{name: "transfer: NUL in a field of the wrong type", who: "alice", method: "POST", path: interaction + "/transfers",
			body:   `{"target":{"agent":"bob"},"note":["ok","\u0000"]}`,
			detail: `request body: field "note[1]": NUL characters (\u0000) are not allowed`},
		{name: "consult", who: "alice", method: "POST", path: interaction + "/consults",
			body:   `{"target":{"number":"+49301234\u00005"}}`,
			detail: `request body: field "target.number": NUL characters (\u0000) are not allowed`},
		{name: "decline an offer", who: "bob", method: "POST", path: "/api/v1/interactions/" + offered + "/decline",
			body:   `{"reason":"\u0000"}`,
			detail: `request body: field "reason": NUL characters (\u0000) are not allowed`},
		{name: "decline a transfer", who: "carol", method: "POST", path: "/api/v1/transfers/" + trID + "/decline",
			body:   "{\"reason\":\"busy \xc3\"}",
			detail: `request body: field "reason": not valid UTF-8`},
		{name: "an action without fields", who: "alice", method: "POST", path: interaction + "/release",
			body:   `{"\u0000":true}`,
			detail: `request body: key "\x00": NUL characters (\u0000) are not allowed`},
		{name: "mapping preview: in an array", who: "ops", method: "POST", path: "/api/v1/admin/mapping/preview",
			body:   `{"attributes":{"type":"Case"},"Lines":[{"x":"ok"},{"x":"a\u0000"}]}`,
			detail: `request body: field "Lines[1].x": NUL characters (\u0000) are not allowed`},
		{name: "mapping preview: arrays in arrays", who: "ops", method: "POST", path: "/api/v1/admin/mapping/preview",
			body:   `{"a":[[1,{"b":null}],["\u0000"]]}`,
			detail: `request body: field "a[1][0]": NUL characters (\u0000) are not allowed`},
	}
	for _, tt := range bodies {
		t.Run(tt.name, func(t *testing.T) {
			r := e.refused(tt.who, tt.method, tt.path, tt.body, 422, "invalid_text")
			require.Equal(t, tt.detail, r.json(t)["detail"])
		})
	}

	queries := []struct {
		name, who, path, detail string
	}{
		{name: "directory q", who: "alice", path: "/api/v1/directory?q=bo%00b",
			detail: `query parameter "q": NUL characters are not allowed`},
		{name: "status", who: "alice", path: "/api/v1/interactions?status=%00",
			detail: `query parameter "status": NUL characters are not allowed`},
		{name: "folder", who: "alice", path: "/api/v1/interactions?folder=hist%FFory",
			detail: `query parameter "folder": not valid UTF-8 at byte 5`},
		{name: "a parameter's name", who: "alice", path: "/api/v1/interactions?%00=1",
			detail: `query parameter name "\x00": NUL characters are not allowed`},
		{name: "export", who: "bi", path: "/api/v1/export/handling?from=2026-01-01T00:00:00Z%00",
			detail: `query parameter "from": NUL characters are not allowed`},
		{name: "events", who: "alice", path: "/api/v1/events?last_event_id=1%00",
			detail: `query parameter "last_event_id": NUL characters are not allowed`},
		{name: "an ID in the path", who: "alice", path: "/api/v1/interactions/a%00b",
			detail: `path "/api/v1/interactions/a\x00b": NUL characters are not allowed`},
	}
	for _, tt := range queries {
		t.Run(tt.name, func(t *testing.T) {
			r := e.refused(tt.who, "GET", tt.path, nil, 422, "invalid_text")
			require.Equal(t, tt.detail, r.json(t)["detail"])
		})
	}

	require.Equal(t, before, snap(), "nothing changed")

	t.Run("an escaped backslash before u0000 is no NUL", func(t *testing.T) {
		got := e.ok("ops", "POST", "/api/v1/admin/mapping/preview", `{"Subject":"C:\\u0000","é":"ü"}`)
		require.Equal(t, map[string]any{"Subject": `C:\u0000`, "é": "ü"}, got["changes"].([]any)[0].(map[string]any)["update"])
	})
}
