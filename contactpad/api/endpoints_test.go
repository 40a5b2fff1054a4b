package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
	"github.com/ctibridge/ctibridge/contactpad/api/webhook"
	"github.com/ctibridge/ctibridge/mapping"
)

func TestAuth(t *testing.T) {
	e := start(t)
	id := e.ingest(contactpad.NonLive, "support")
	tests := []struct {
		name   string
		header string
		status int
		code   string
	}{
		{name: "no header", status: 401, code: "unauthorized"},
		{name: "unknown token", header: "Bearer nope", status: 401, code: "unauthorized"},
		{name: "wrong scheme", header: "Basic dG9rLWFsaWNl", status: 401, code: "unauthorized"},
		{name: "empty bearer", header: "Bearer ", status: 401, code: "unauthorized"},
		{name: "known token", header: "Bearer tok-ops", status: 200},
		{name: "scheme is case-insensitive", header: "bearer tok-ops", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/interactions/"+id, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			res, err := e.srv.Client().Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, tt.status, res.StatusCode)
			if tt.status == 401 {
				require.Equal(t, `Bearer realm="ctibridge"`, res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("a token in the URL is not a credential", func(t *testing.T) {
		e.refused("", "GET", "/api/v1/events?access_token=tok-ops", nil, 401, "unauthorized")
	})
}

// TestRoles checks each route's role boundary: who is refused with 403.
func TestRoles(t *testing.T) {
	e := start(t)
	id := e.ingest(contactpad.NonLive, "support")
	tests := []struct {
		method, path string
		forbidden    []string
	}{
		{"PUT", "/api/v1/me/presence", []string{"ops", "bi"}},
		{"GET", "/api/v1/directory", []string{"bi"}},
		{"PATCH", "/api/v1/interactions/" + id, []string{"bi"}},
		{"POST", "/api/v1/interactions/" + id + "/accept", []string{"ops", "bi"}},
		{"POST", "/api/v1/interactions/" + id + "/release", []string{"bi"}},
		{"POST", "/api/v1/interactions/" + id + "/transfers", []string{"bi"}},
		{"POST", "/api/v1/transfers/x/accept", []string{"ops", "bi"}},
		{"POST", "/api/v1/consults/x/answer", []string{"ops", "bi"}},
		{"GET", "/api/v1/export/handling", []string{"alice"}},
		{"POST", "/api/v1/admin/mapping/preview", []string{"alice", "bi"}},
		{"GET", "/api/v1/admin/sync", []string{"alice", "bi"}},
		{"POST", "/api/v1/admin/sync/parked/1/retry", []string{"alice", "bi"}},
		{"GET", "/api/v1/admin/webhooks", []string{"alice", "bi"}},
	}
	for _, tt := range tests {
		for _, who := range tt.forbidden {
			t.Run(tt.method+" "+tt.path+" as "+who, func(t *testing.T) {
				r := e.refused(who, tt.method, tt.path, map[string]any{}, 403, "forbidden")
				require.Contains(t, string(r.Body), "may not")
			})
		}
	}
	require.Equal(t, contactpad.Queued, e.get(id).Status, "nothing changed")
}

// TestAgentBoundary: agent B acting on agent A's interaction is 403 and
// changes nothing.
func TestAgentBoundary(t *testing.T) {
	e := start(t)
	id := e.connected("alice", contactpad.NonLive)
	before := e.get(id)
	var auditBefore []contactpad.AuditEntry
	require.NoError(t, e.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		auditBefore, err = tx.Audit(id)
		return err
	}))
	actions := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/interactions/" + id, nil},
		{"PATCH", "/api/v1/interactions/" + id, map[string]any{"status": "pending", "due_by": time.Now().Add(time.Hour)}},
		{"POST", "/api/v1/interactions/" + id + "/release", nil},
		{"POST", "/api/v1/interactions/" + id + "/abandon", map[string]any{"confirm": true}},
		{"POST", "/api/v1/interactions/" + id + "/defer", map[string]any{"due_by": time.Now().Add(time.Hour)}},
		{"POST", "/api/v1/interactions/" + id + "/transfers", map[string]any{"target": map[string]string{"agent": "bob"}}},
		{"POST", "/api/v1/interactions/" + id + "/consults", map[string]any{"target": map[string]string{"agent": "carol"}}},
		{"POST", "/api/v1/interactions/" + id + "/wrapup/extend", nil},
		{"POST", "/api/v1/interactions/" + id + "/resume", nil},
	}
	for _, a := range actions {
		t.Run(a.method+" "+a.path, func(t *testing.T) {
			e.refused("bob", a.method, a.path, a.body, 403, "forbidden")
		})
	}
	after := e.get(id)
	require.Equal(t, before.Version, after.Version)
	require.Equal(t, before.Status, after.Status)
	var auditAfter []contactpad.AuditEntry
	require.NoError(t, e.store.View(context.Background(), func(tx adapter.Tx) error {
		var err error
		auditAfter, err = tx.Audit(id)
		return err
	}))
	require.Equal(t, auditBefore, auditAfter)

	t.Run("bob does not see it in his list, alice does, admins see all", func(t *testing.T) {
		require.Empty(t, e.ok("bob", "GET", "/api/v1/interactions", nil)["interactions"])
		require.Len(t, e.ok("alice", "GET", "/api/v1/interactions", nil)["interactions"], 1)
		require.Len(t, e.ok("ops", "GET", "/api/v1/interactions", nil)["interactions"], 1)
		require.Len(t, e.ok("bi", "GET", "/api/v1/interactions", nil)["interactions"], 1)
	})
}

// TestAgentBoundaryEveryState: another agent's every action on alice's
// interactions, in every state they can be in, is 403 and changes
// nothing: never a 409 that tells the state of alice's work.
func TestAgentBoundaryEveryState(t *testing.T) {
	e := start(t, func(o *api.Options, s *adapter.Settings) {
		o.RateLimit = rate.Inf
		// No timer may fire during the test; alice may hold two calls.
		s.PushTimeout = time.Hour
		s.WrapUp = map[contactpad.Media]time.Duration{contactpad.Live: time.Hour, contactpad.SemiLive: time.Hour, contactpad.NonLive: time.Hour}
		s.Agents = slices.Clone(s.Agents)
		s.Agents[0].Capacity = contactpad.Capacity{contactpad.Live: 2, contactpad.SemiLive: 3, contactpad.NonLive: 5}
	})
	require.Equal(t, "alice", e.engine.Settings().Agents[0].ID)
	future := time.Now().Add(time.Hour).UTC()

	held := e.connected("alice", contactpad.Live)
	e.ok("alice", "POST", "/api/v1/interactions/"+held+"/hold", nil)
	connected := e.connected("alice", contactpad.NonLive)
	wrapUp := e.connected("alice", contactpad.NonLive)
	e.ok("alice", "POST", "/api/v1/interactions/"+wrapUp+"/release", nil)
	deferred := e.connected("alice", contactpad.NonLive)
	e.ok("alice", "PATCH", "/api/v1/interactions/"+deferred, map[string]any{"status": "pending", "due_by": future})
	completed := e.connected("alice", contactpad.NonLive)
	e.ok("alice", "POST", "/api/v1/interactions/"+completed+"/release", nil)
	e.ok("alice", "POST", "/api/v1/interactions/"+completed+"/wrapup/finish", nil)
	abandoned := e.connected("alice", contactpad.NonLive)
	e.ok("alice", "POST", "/api/v1/interactions/"+abandoned+"/abandon", map[string]any{"confirm": true})
	e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	offered := e.ingest(contactpad.Live, "support")
	e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
	// A transfer and a consult of alice's, to carol.
	e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	transferred := e.connected("alice", contactpad.NonLive)
	transfer := e.ok("alice", "POST", "/api/v1/interactions/"+transferred+"/transfers",
		map[string]any{"target": map[string]string{"agent": "carol"}})["id"].(string)
	consulting := e.connected("alice", contactpad.NonLive)
	consult := e.ok("alice", "POST", "/api/v1/interactions/"+consulting+"/consults",
		map[string]any{"target": map[string]string{"agent": "carol"}})["id"].(string)

	states := []struct {
		name   string
		id     string
		status contactpad.Status
	}{
		{"offered", offered, contactpad.Offered},
		{"connected", connected, contactpad.Connected},
		{"held", held, contactpad.Connected},
		{"wrap-up", wrapUp, contactpad.WrapUp},
		{"deferred", deferred, contactpad.Deferred},
		{"completed", completed, contactpad.Completed},
		{"abandoned", abandoned, contactpad.Abandoned},
		{"with a transfer", transferred, contactpad.Connected},
		{"with a consult", consulting, contactpad.Connected},
	}
	actions := []struct {
		method, path string
		body         any
	}{
		{"PATCH", "", map[string]any{"status": "open"}},
		{"PATCH", "", map[string]any{"status": "pending", "due_by": future}},
		{"PATCH", "", map[string]any{"status": "deferred", "due_by": future}},
		{"PATCH", "", map[string]any{"status": "pending"}},
		{"POST", "/accept", nil},
		{"POST", "/decline", map[string]any{"reason": "busy"}},
		{"POST", "/release", nil},
		{"POST", "/wrapup/extend", nil},
		{"POST", "/wrapup/finish", nil},
		{"POST", "/abandon", map[string]any{"confirm": true, "reason": "x"}},
		{"POST", "/hold", nil},
		{"POST", "/retrieve", nil},
		{"POST", "/defer", map[string]any{"due_by": future}},
		{"POST", "/defer", nil},
		{"POST", "/resume", nil},
		{"POST", "/consults", map[string]any{"target": map[string]string{"agent": "carol"}}},
		{"POST", "/consults", map[string]any{"target": map[string]string{"number": "+4930123456"}}},
		{"POST", "/transfers", map[string]any{"target": map[string]string{"agent": "carol"}, "mode": "warm"}},
		{"POST", "/transfers", map[string]any{"target": map[string]string{"service": "billing"}, "mode": "cold"}},
	}

	type snapshot struct {
		interaction *contactpad.Interaction
		audit       []contactpad.AuditEntry
	}
	read := func(id string) (s snapshot) {
		require.NoError(t, e.store.View(context.Background(), func(tx adapter.Tx) error {
			var err error
			if s.interaction, err = tx.Interaction(id); err != nil {
				return err
			}
			s.audit, err = tx.Audit(id)
			return err
		}))
		return s
	}
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			before := read(st.id)
			require.Equal(t, st.status, before.interaction.Status)
			require.Equal(t, "alice", before.interaction.Owner)
			for _, who := range []string{"bob", "carol"} {
				for _, a := range actions {
					r := e.call(who, a.method, "/api/v1/interactions/"+st.id+a.path, a.body)
					require.Equal(t, 403, r.Status, "%s %s %v as %s: %s", a.method, a.path, a.body, who, r.Body)
					require.Equal(t, "forbidden", r.code(t))
					require.NotContains(t, string(r.Body), string(st.status), "the refusal tells nothing of the state")
				}
			}
			require.Equal(t, before, read(st.id), "nothing changed")
		})
	}

	t.Run("the transfer and the consult", func(t *testing.T) {
		tr, c := e.ok("alice", "GET", "/api/v1/transfers/"+transfer, nil), e.ok("alice", "GET", "/api/v1/consults/"+consult, nil)
		require.Equal(t, "carol", tr["assignee"])
		for _, a := range []string{"/transfers/" + transfer + "/accept", "/transfers/" + transfer + "/decline",
			"/transfers/" + transfer + "/complete", "/transfers/" + transfer + "/cancel",
			"/consults/" + consult + "/answer", "/consults/" + consult + "/release"} {
			e.refused("bob", "POST", "/api/v1"+a, nil, 403, "forbidden")
		}
		require.Equal(t, tr, e.ok("alice", "GET", "/api/v1/transfers/"+transfer, nil))
		require.Equal(t, c, e.ok("alice", "GET", "/api/v1/consults/"+consult, nil))
	})
}

func TestMeAndPresence(t *testing.T) {
	e := start(t)
	me := e.ok("alice", "GET", "/api/v1/me", nil)
	require.Equal(t, "alice", me["id"])
	require.Equal(t, "Alice", me["name"])
	require.Equal(t, "agent", me["role"])
	require.Equal(t, "logged_out", me["presence"])
	require.Equal(t, map[string]any{"live": 1.0, "semi-live": 3.0, "non-live": 5.0}, me["capacity"])
	require.Equal(t, map[string]any{"live": 0.0, "semi-live": 0.0, "non-live": 0.0}, me["load"])

	got := e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "interruptible"})
	require.Equal(t, "interruptible", got["presence"])
	require.Equal(t, "interruptible", e.ok("alice", "GET", "/api/v1/me", nil)["presence"])

	r := e.refused("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "away"}, 400, "invalid_request")
	require.Contains(t, string(r.Body), `unknown presence \"away\"`)
	e.refused("alice", "PUT", "/api/v1/me/presence", nil, 400, "invalid_request")

	require.Equal(t, "admin", e.ok("ops", "GET", "/api/v1/me", nil)["role"])

	e.connected("alice", contactpad.NonLive)
	require.Equal(t, 1.0, e.ok("alice", "GET", "/api/v1/me", nil)["load"].(map[string]any)["non-live"])
}

func TestInteractionList(t *testing.T) {
	e := start(t)
	a := e.connected("alice", contactpad.NonLive)
	b := e.connected("alice", contactpad.NonLive)
	e.ok("alice", "POST", "/api/v1/interactions/"+b+"/defer", map[string]any{"due_by": time.Now().Add(time.Hour)})
	ids := func(v map[string]any) []string {
		var out []string
		for _, i := range v["interactions"].([]any) {
			out = append(out, i.(map[string]any)["id"].(string))
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{a, b}},
		{"?folder=ongoing", []string{a}},
		{"?folder=deferred", []string{b}},
		{"?folder=history", nil},
		{"?status=deferred", []string{b}},
		{"?status=pending", []string{b}},
		{"?status=connected,deferred", []string{a, b}},
		{"?folder=ongoing&status=deferred", nil},
		{"?limit=1", []string{a}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			require.Equal(t, tt.want, ids(e.ok("alice", "GET", "/api/v1/interactions"+tt.query, nil)))
		})
	}
	for _, q := range []string{"?folder=inbox", "?status=open", "?limit=0", "?limit=x", "?owner=bob"} {
		t.Run("refused "+q, func(t *testing.T) {
			e.refused("alice", "GET", "/api/v1/interactions"+q, nil, 400, "invalid_request")
		})
	}
	t.Run("each interaction has every field and its capabilities", func(t *testing.T) {
		i := e.ok("alice", "GET", "/api/v1/interactions?folder=ongoing", nil)["interactions"].([]any)[0].(map[string]any)
		for _, f := range []string{"id", "crm_id", "crm_object", "media", "service", "subject", "priority", "status", "held",
			"owner", "due_by", "due_by_was_set_manually", "auto_opened_due_to_due_date", "resumed_from", "created_at",
			"updated_at", "tags", "category", "customer", "connected_at", "transfer_note", "target_agent", "wrap_up_ends_at", "wrap_up_extensions",
			"offer_expires_at", "queued_at", "last_activity_at", "version", "capabilities"} {
			require.Contains(t, i, f)
		}
		require.NotContains(t, i, "wrap_up_extensions_left", "only in wrap-up")
		require.ElementsMatch(t, []any{"release", "consult", "transfer", "abandon", "defer"}, i["capabilities"])
		_, err := time.Parse(time.RFC3339, i["created_at"].(string))
		require.NoError(t, err, "times are RFC 3339")
	})
}

// TestInteractionListNewest: History (order=newest) lists the most
// recently changed first and the limit keeps the newest, however long the
// agent's history: more than the most one list returns.
func TestInteractionListNewest(t *testing.T) {
	e := start(t)
	const n = 5003 // more than maxList
	t0 := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Minute)
	require.NoError(t, adapter.UpdateOne(context.Background(), e.store, func(tx adapter.Tx) error {
		for k := range n {
			status := contactpad.Completed
			if k%10 == 9 {
				status = contactpad.Abandoned
			}
			// Created and changed in order, one a minute.
			at := t0.Add(time.Duration(k) * time.Minute)
			if err := tx.PutInteraction(&contactpad.Interaction{
				ID: fmt.Sprintf("h%05d", k), Media: contactpad.NonLive, Service: "support", Status: status,
				Owner: "alice", Tags: []string{}, CreatedAt: at, UpdatedAt: at, LastActivityAt: at, Version: 1,
			}); err != nil {
				return err
			}
		}
		return nil
	}))
	// The first one ever created is resumed and completed again: the most
	// recently changed.
	recent := "h00000"
	e.ok("alice", "POST", "/api/v1/interactions/"+recent+"/resume", nil)
	e.ok("alice", "POST", "/api/v1/interactions/"+recent+"/release", nil)
	e.ok("alice", "POST", "/api/v1/interactions/"+recent+"/wrapup/finish", nil)
	// A newer one in another folder, and one of another agent.
	e.connected("alice", contactpad.NonLive)
	bobs := e.connected("bob", contactpad.NonLive)
	e.ok("bob", "POST", "/api/v1/interactions/"+bobs+"/release", nil)
	e.ok("bob", "POST", "/api/v1/interactions/"+bobs+"/wrapup/finish", nil)

	ids := func(v map[string]any) []string {
		var out []string
		for _, i := range v["interactions"].([]any) {
			out = append(out, i.(map[string]any)["id"].(string))
		}
		return out
	}
	got := ids(e.ok("alice", "GET", "/api/v1/interactions?folder=history&order=newest&limit=4", nil))
	require.Equal(t, []string{recent, "h05002", "h05001", "h05000"}, got)

	got = ids(e.ok("alice", "GET", "/api/v1/interactions?folder=history&order=newest&limit=5000", nil))
	require.Len(t, got, 5000)
	require.Equal(t, []string{recent, "h05002"}, got[:2])
	require.Equal(t, "h00004", got[4999], "the oldest but one are left out")

	got = ids(e.ok("ops", "GET", "/api/v1/interactions?folder=history&order=newest&limit=3", nil))
	require.Equal(t, []string{bobs, recent, "h05002"}, got, "admins see every agent's")

	got = ids(e.ok("alice", "GET", "/api/v1/interactions?folder=history&limit=2", nil))
	require.Equal(t, []string{"h00000", "h00001"}, got, "oldest first (by creation) by default")
	e.refused("alice", "GET", "/api/v1/interactions?order=latest", nil, 400, "invalid_request")
}

func TestGetInteraction(t *testing.T) {
	e := start(t)
	id := e.connected("alice", contactpad.NonLive)
	got := e.ok("alice", "GET", "/api/v1/interactions/"+id, nil)
	require.Equal(t, id, got["id"])
	require.NotEmpty(t, got["audit"])
	e.refused("alice", "GET", "/api/v1/interactions/nope", nil, 404, "not_found")

	t.Run("the target of a transfer request sees the interaction and the note", func(t *testing.T) {
		e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
		tr := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
			map[string]any{"target": map[string]string{"agent": "bob"}, "mode": "warm", "note": "VIP"})
		got := e.ok("bob", "GET", "/api/v1/interactions/"+id, nil)
		require.Equal(t, "VIP", got["transfer_note"])
		require.Equal(t, tr["id"], got["transfers"].([]any)[0].(map[string]any)["id"])
		e.refused("carol", "GET", "/api/v1/interactions/"+id, nil, 403, "forbidden")
	})
}

// TestActions drives every action endpoint to success, and to each of its
// refusals.
func TestActions(t *testing.T) {
	e := start(t)
	future := func() time.Time { return time.Now().Add(time.Hour).UTC() }

	t.Run("offer: accept and decline", func(t *testing.T) {
		e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
		id := e.ingest(contactpad.Live, "support")
		require.Equal(t, contactpad.Offered, e.get(id).Status)
		e.refused("bob", "POST", "/api/v1/interactions/"+id+"/accept", nil, 403, "forbidden")
		got := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/decline", map[string]string{"reason": "on a break"})
		require.NotEqual(t, "alice", got["owner"])
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/accept", nil, 403, "forbidden")
		e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
		e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
		e.ok("bob", "POST", "/api/v1/interactions/"+id+"/accept", nil)
		// Accepted in another tab: the refusal says so in the engine's
		// words for agents, with no ids.
		again := e.refused("bob", "POST", "/api/v1/interactions/"+id+"/accept", nil, 409, "invalid_transition")
		require.Equal(t, "Already accepted.", again.json(t)["reason"])
		e.ok("bob", "POST", "/api/v1/interactions/"+id+"/release", nil)
		e.ok("bob", "POST", "/api/v1/interactions/"+id+"/wrapup/finish", nil)
		e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
	})

	t.Run("hold and retrieve: live only", func(t *testing.T) {
		call := e.connected("alice", contactpad.Live)
		require.Equal(t, true, e.ok("alice", "POST", "/api/v1/interactions/"+call+"/hold", nil)["held"])
		e.refused("alice", "POST", "/api/v1/interactions/"+call+"/hold", nil, 409, "invalid_transition")
		require.Equal(t, false, e.ok("alice", "POST", "/api/v1/interactions/"+call+"/retrieve", nil)["held"])
		kase := e.connected("alice", contactpad.NonLive)
		r := e.refused("alice", "POST", "/api/v1/interactions/"+kase+"/hold", nil, 409, "action_not_allowed")
		require.Contains(t, string(r.Body), "hold is not allowed for non-live")
		e.refused("alice", "POST", "/api/v1/interactions/"+call+"/defer", map[string]any{"due_by": future()}, 409, "action_not_allowed")
		e.refused("alice", "POST", "/api/v1/interactions/"+call+"/abandon", map[string]any{"confirm": true}, 409, "action_not_allowed")
		e.ok("alice", "POST", "/api/v1/interactions/"+call+"/release", nil)
		e.ok("alice", "POST", "/api/v1/interactions/"+call+"/wrapup/finish", nil)
	})

	t.Run("release, wrap-up extend and finish, resume from history", func(t *testing.T) {
		id := e.connected("alice", contactpad.NonLive)
		got := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/release", nil)
		require.Equal(t, "wrap_up", got["status"])
		require.NotNil(t, got["wrap_up_ends_at"])
		require.Equal(t, 1.0, got["wrap_up_extensions_left"], "Extend (1 left)")
		got = e.ok("alice", "POST", "/api/v1/interactions/"+id+"/wrapup/extend", nil)
		require.Equal(t, 1.0, got["wrap_up_extensions"])
		require.Equal(t, 0.0, got["wrap_up_extensions_left"])
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/wrapup/extend", nil, 409, "conflict")
		require.Equal(t, "completed", e.ok("alice", "POST", "/api/v1/interactions/"+id+"/wrapup/finish", nil)["status"])
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/release", nil, 409, "invalid_transition")
		got = e.ok("alice", "POST", "/api/v1/interactions/"+id+"/resume", nil)
		require.Equal(t, "connected", got["status"])
		require.Equal(t, "completed", got["resumed_from"])
		audit := e.ok("alice", "GET", "/api/v1/interactions/"+id, nil)["audit"].([]any)
		require.Equal(t, "Interaction resumed by an agent", audit[len(audit)-1].(map[string]any)["message"])
	})

	t.Run("abandon needs confirm", func(t *testing.T) {
		id := e.connected("alice", contactpad.NonLive)
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/abandon", nil, 400, "invalid_request")
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/abandon", map[string]any{"confirm": false}, 400, "invalid_request")
		require.Equal(t, "abandoned", e.ok("alice", "POST", "/api/v1/interactions/"+id+"/abandon",
			map[string]any{"confirm": true, "reason": "release failed"})["status"])
	})

	t.Run("defer: due_by required, in the future; PATCH pending and open", func(t *testing.T) {
		id := e.connected("alice", contactpad.NonLive)
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/defer", nil, 422, "due_by_required")
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/defer", map[string]any{"due_by": time.Now().Add(-time.Minute)}, 422, "due_by_in_past")
		e.refused("alice", "PATCH", "/api/v1/interactions/"+id, map[string]any{"status": "pending"}, 422, "due_by_required")
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/defer", map[string]any{"due_by": "tomorrow"}, 400, "invalid_request")
		load := func() float64 {
			return e.ok("alice", "GET", "/api/v1/me", nil)["load"].(map[string]any)["non-live"].(float64)
		}
		before := load()
		due := future()
		got := e.ok("alice", "PATCH", "/api/v1/interactions/"+id, map[string]any{"status": "pending", "due_by": due})
		require.Equal(t, "deferred", got["status"])
		require.Equal(t, true, got["due_by_was_set_manually"])
		require.Equal(t, due.Format(time.RFC3339Nano), got["due_by"])
		require.Equal(t, before-1, load(), "capacity freed")
		e.refused("alice", "PATCH", "/api/v1/interactions/"+id, map[string]any{"status": "closed"}, 400, "invalid_request")
		got = e.ok("alice", "PATCH", "/api/v1/interactions/"+id, map[string]any{"status": "open"})
		require.Equal(t, "connected", got["status"])
		require.Equal(t, "deferred", got["resumed_from"])
		e.refused("alice", "PATCH", "/api/v1/interactions/"+id, map[string]any{"status": "open"}, 409, "invalid_transition")
		e.ok("alice", "POST", "/api/v1/interactions/"+id+"/defer", map[string]any{"due_by": future()})
		require.Equal(t, "connected", e.ok("alice", "POST", "/api/v1/interactions/"+id+"/resume", nil)["status"])
		e.ok("alice", "POST", "/api/v1/interactions/"+id+"/release", nil)
		e.ok("alice", "POST", "/api/v1/interactions/"+id+"/wrapup/finish", nil)
	})

	t.Run("chats cannot be transferred by default", func(t *testing.T) {
		chat := e.connected("alice", contactpad.SemiLive)
		r := e.refused("alice", "POST", "/api/v1/interactions/"+chat+"/transfers",
			map[string]any{"target": map[string]string{"agent": "bob"}}, 409, "action_not_allowed")
		require.Contains(t, string(r.Body), "transfer is not allowed for semi-live")
		e.refused("alice", "POST", "/api/v1/interactions/"+chat+"/hold", nil, 409, "action_not_allowed")
		e.ok("alice", "POST", "/api/v1/interactions/"+chat+"/release", nil)
	})

	t.Run("warm transfer: decline, then accept and complete", func(t *testing.T) {
		id := e.connected("alice", contactpad.NonLive)
		e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
		tr := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
			map[string]any{"target": map[string]string{"agent": "bob"}, "mode": "warm", "note": "needs a refund"})
		require.Equal(t, "initiated", tr["status"])
		require.Equal(t, "bob", tr["assignee"])
		trID := tr["id"].(string)
		incoming := e.ok("bob", "GET", "/api/v1/transfers", nil)["transfers"].([]any)
		require.Len(t, incoming, 1)
		require.Equal(t, "needs a refund", incoming[0].(map[string]any)["note"])
		require.Empty(t, e.ok("carol", "GET", "/api/v1/transfers", nil)["transfers"])
		e.refused("carol", "POST", "/api/v1/transfers/"+trID+"/accept", nil, 403, "forbidden")
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
			map[string]any{"target": map[string]string{"agent": "carol"}}, 409, "conflict")
		got := e.ok("bob", "POST", "/api/v1/transfers/"+trID+"/decline", map[string]string{"reason": "busy"})
		require.Equal(t, "failed", got["status"])
		require.Equal(t, "declined", got["failed_reason"])
		require.Equal(t, "needs a refund", e.get(id).TransferNote, "the note is kept")

		kept := e.ok("alice", "GET", "/api/v1/interactions/"+id, nil)["transfer_note"]
		require.Equal(t, "needs a refund", kept, "the panel offers the kept note for the next attempt")
		tr = e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers", map[string]any{"target": map[string]string{"agent": "bob"}, "note": kept})
		trID = tr["id"].(string)
		e.refused("alice", "POST", "/api/v1/transfers/"+trID+"/complete", nil, 409, "invalid_transition")
		require.Equal(t, "accepted", e.ok("bob", "POST", "/api/v1/transfers/"+trID+"/accept", nil)["status"])
		refusal := e.refused("bob", "POST", "/api/v1/transfers/"+trID+"/complete", nil, 403, "forbidden").json(t)["detail"]
		require.Contains(t, refusal, "only its initiator may complete it, not bob")
		require.Equal(t, "completed", e.ok("alice", "POST", "/api/v1/transfers/"+trID+"/complete", nil)["status"])
		require.Equal(t, "bob", e.get(id).Owner)
		require.Equal(t, "bob", e.ok("bob", "GET", "/api/v1/transfers/"+trID, nil)["assignee"])
		e.refused("carol", "GET", "/api/v1/transfers/"+trID, nil, 403, "forbidden")
		e.refused("bob", "GET", "/api/v1/transfers/nope", nil, 404, "not_found")
		for _, path := range []string{"/api/v1/transfers/trf_nope/accept", "/api/v1/consults/con_nope/answer", "/api/v1/interactions/int_nope/release"} {
			detail := e.refused("bob", "POST", path, nil, 404, "not_found").json(t)["detail"].(string)
			id := strings.Split(path, "/")[4]
			require.Equal(t, 1, strings.Count(detail, id), "the id once: %s", detail)
		}
		e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
	})

	t.Run("cold transfer to a service, cancel", func(t *testing.T) {
		id := e.connected("alice", contactpad.NonLive)
		tr := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
			map[string]any{"target": map[string]string{"agent": "carol"}, "mode": "warm"})
		require.Equal(t, "canceled", e.ok("alice", "POST", "/api/v1/transfers/"+tr["id"].(string)+"/cancel", nil)["status"])
		tr = e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
			map[string]any{"target": map[string]string{"service": "billing"}, "mode": "cold"})
		require.Equal(t, "completed", tr["status"])
		require.Equal(t, contactpad.Queued, e.get(id).Status)
		e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
		require.Equal(t, "carol", e.get(id).Owner, "billing's first available agent")
		e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
		other := e.connected("alice", contactpad.NonLive)
		for _, body := range []any{
			map[string]any{"target": map[string]string{"agent": "bob", "service": "billing"}},
			map[string]any{"target": map[string]string{"number": "+4930123456"}},
			map[string]any{"mode": "warm"},
			map[string]any{"target": map[string]string{"agent": "bob"}, "mode": "lukewarm"},
		} {
			e.refused("alice", "POST", "/api/v1/interactions/"+other+"/transfers", body, 400, "invalid_request")
		}
	})

	t.Run("consult: target must be available or interruptible; answer and release", func(t *testing.T) {
		id := e.connected("alice", contactpad.NonLive)
		e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "logged_out"})
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/consults",
			map[string]any{"target": map[string]string{"agent": "carol"}}, 409, "target_unavailable")
		e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "interruptible"})
		c := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/consults", map[string]any{"target": map[string]string{"agent": "carol"}})
		require.Equal(t, "ringing", c["status"])
		cID := c["id"].(string)
		require.Len(t, e.ok("carol", "GET", "/api/v1/consults", nil)["consults"], 1)
		e.refused("bob", "GET", "/api/v1/consults/"+cID, nil, 403, "forbidden")
		e.refused("bob", "POST", "/api/v1/consults/"+cID+"/answer", nil, 403, "forbidden")
		require.Equal(t, "connected", e.ok("carol", "POST", "/api/v1/consults/"+cID+"/answer", nil)["status"])
		require.Equal(t, "ended", e.ok("carol", "POST", "/api/v1/consults/"+cID+"/release", nil)["status"])
		e.refused("alice", "POST", "/api/v1/consults/"+cID+"/release", nil, 409, "invalid_transition")
		require.Equal(t, contactpad.Connected, e.get(id).Status, "the consult leg ended, not the interaction")
		cID = e.ok("alice", "POST", "/api/v1/interactions/"+id+"/consults", map[string]any{"target": map[string]string{"agent": "carol"}})["id"].(string)
		e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "logged_out"})
		c = e.ok("alice", "GET", "/api/v1/consults/"+cID, nil)
		require.Equal(t, "ended", c["status"])
		require.Equal(t, "logged_out", c["ended_reason"], "carol logged out while it rang")
		c = e.ok("alice", "POST", "/api/v1/interactions/"+id+"/consults", map[string]any{"target": map[string]string{"number": "+4930123456"}})
		require.Equal(t, "+4930123456", c["target"].(map[string]any)["number"])
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/consults", map[string]any{"target": map[string]string{"number": "030 123"}}, 400, "invalid_request")
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/consults", map[string]any{"target": map[string]string{"service": "billing"}}, 400, "invalid_request")
	})

	t.Run("consult: the leg stays listed after its interaction is completed", func(t *testing.T) {
		id := e.connected("alice", contactpad.NonLive)
		e.ok("carol", "PUT", "/api/v1/me/presence", map[string]string{"presence": "interruptible"})
		cID := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/consults", map[string]any{"target": map[string]string{"agent": "carol"}})["id"].(string)
		require.Equal(t, "connected", e.ok("carol", "POST", "/api/v1/consults/"+cID+"/answer", nil)["status"])
		require.Equal(t, "wrap_up", e.ok("alice", "POST", "/api/v1/interactions/"+id+"/release", nil)["status"])
		require.Equal(t, "completed", e.ok("alice", "POST", "/api/v1/interactions/"+id+"/wrapup/finish", nil)["status"])
		listed := func(who string) []string {
			var ids []string
			for _, c := range e.ok(who, "GET", "/api/v1/consults", nil)["consults"].([]any) {
				ids = append(ids, c.(map[string]any)["id"].(string))
			}
			return ids
		}
		for _, who := range []string{"alice", "carol", "ops"} {
			require.Contains(t, listed(who), cID, "%s's consults", who)
		}
		require.NotContains(t, listed("bob"), cID)
		require.Equal(t, "ended", e.ok("carol", "POST", "/api/v1/consults/"+cID+"/release", nil)["status"])
		require.NotContains(t, listed("ops"), cID)
	})

	t.Run("admins act on anything", func(t *testing.T) {
		id := e.connected("alice", contactpad.NonLive)
		require.Equal(t, "wrap_up", e.ok("ops", "POST", "/api/v1/interactions/"+id+"/release", nil)["status"])
		e.refused("bi", "POST", "/api/v1/interactions/"+id+"/wrapup/finish", nil, 403, "forbidden")
	})
}

func TestDirectory(t *testing.T) {
	// The directory's clock runs a minute ahead of the engine's. Carol
	// goes by another name, and support is called Customer Care.
	e := start(t, func(o *api.Options, s *adapter.Settings) {
		o.Now = func() time.Time { return time.Now().Add(time.Minute) }
		s.Services = []contactpad.Service{{ID: "support", Name: "Customer Care"}, {ID: "billing", Name: "Billing"}}
		s.Agents = slices.Clone(s.Agents)
		s.Agents[2].Name = "Dana Scully"
	})
	require.Equal(t, "carol", e.engine.Settings().Agents[2].ID)
	e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	e.ingest(contactpad.NonLive, "billing")
	e.ingest(contactpad.NonLive, "billing")
	d := e.ok("alice", "GET", "/api/v1/directory", nil)
	names := func(list any) []string {
		var out []string
		for _, x := range list.([]any) {
			out = append(out, x.(map[string]any)["name"].(string))
		}
		return out
	}
	require.Equal(t, []string{"Bob", "Dana Scully"}, names(d["agents"]), "alphabetical, without the caller")
	require.Equal(t, []string{"Billing", "Customer Care"}, names(d["services"]))
	bob := d["agents"].([]any)[0].(map[string]any)
	require.Equal(t, "available", bob["presence"])
	require.Equal(t, []any{"support"}, bob["services"])
	billing := d["services"].([]any)[0].(map[string]any)
	require.Equal(t, 2.0, billing["queue_size"])
	require.InDelta(t, 60.0, billing["wait_seconds"], 5.0)
	support := d["services"].([]any)[1].(map[string]any)
	require.Equal(t, 0.0, support["queue_size"])
	require.Equal(t, 0.0, support["wait_seconds"])

	tests := []struct {
		name, who, q     string
		agents, services []string
	}{
		{name: "an agent by name", who: "alice", q: "SCUL", agents: []string{"Dana Scully"}},
		{name: "an agent by ID", who: "alice", q: "carol", agents: []string{"Dana Scully"}},
		{name: "a service by ID, with its agents", who: "alice", q: "Support",
			agents: []string{"Bob"}, services: []string{"Customer Care"}},
		{name: "a service by name, with its agents", who: "alice", q: "care",
			agents: []string{"Bob"}, services: []string{"Customer Care"}},
		{name: "part of a service's name", who: "alice", q: "BI",
			agents: []string{"Dana Scully"}, services: []string{"Billing"}},
		{name: "never the caller", who: "alice", q: "alice"},
		{name: "by service, without the caller", who: "bob", q: "care",
			agents: []string{"Alice"}, services: []string{"Customer Care"}},
		{name: "another caller", who: "bob", q: "bi",
			agents: []string{"Alice", "Dana Scully"}, services: []string{"Billing"}},
		{name: "admins see every agent", who: "ops", q: "",
			agents: []string{"Alice", "Bob", "Dana Scully"}, services: []string{"Billing", "Customer Care"}},
		{name: "spaces around q", who: "alice", q: "%20bob%20", agents: []string{"Bob"}},
		{name: "nothing", who: "alice", q: "zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.ok(tt.who, "GET", "/api/v1/directory?q="+tt.q, nil)
			require.Equal(t, tt.agents, names(got["agents"]), "agents")
			require.Equal(t, tt.services, names(got["services"]), "services")
		})
	}
}

func TestDecoding(t *testing.T) {
	e := start(t)
	id := e.connected("alice", contactpad.NonLive)
	path := "/api/v1/interactions/" + id + "/defer"
	tests := []struct {
		name, body, contentType, detail string
	}{
		{name: "unknown field", body: `{"due_by":"2099-01-01T00:00:00Z","dueBy":"x"}`, detail: `unknown field \"dueBy\"`},
		// encoding/json would take these for due_by.
		{name: "a key in another case", body: `{"DUE_BY":"2099-01-01T00:00:00Z"}`, detail: `unknown field \"DUE_BY\"`},
		{name: "a key twice, in two cases", body: `{"due_by":"2099-01-01T00:00:00Z","Due_By":"2099-01-02T00:00:00Z"}`,
			detail: `unknown field \"Due_By\"`},
		{name: "wrong type", body: `{"due_by":42}`, detail: `field \"due_by\": want a string, got number`},
		{name: "not RFC 3339", body: `{"due_by":"01/01/2099"}`, detail: `field \"due_by\": \"01/01/2099\" is not an RFC 3339 time`},
		{name: "syntax", body: `{"due_by":`, detail: "truncated JSON"},
		{name: "two values", body: `{} {}`, detail: "more than one JSON value"},
		{name: "an array", body: `[]`, detail: "want a JSON object, got array"},
		{name: "null", body: `null`, detail: "want a JSON object, got null"},
		{name: "a form", body: `due_by=x`, contentType: "application/x-www-form-urlencoded", detail: "invalid JSON at byte 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer tok-alice")
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			res, err := e.srv.Client().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			r := response{Status: res.StatusCode, Header: res.Header}
			r.Body, _ = io.ReadAll(res.Body)
			require.Equal(t, 400, r.Status, "%s", r.Body)
			require.Equal(t, "invalid_request", r.code(t))
			require.Contains(t, string(r.Body), tt.detail)
		})
	}
	require.Equal(t, contactpad.Connected, e.get(id).Status, "nothing applied")
	t.Run("a nested key in another case", func(t *testing.T) {
		r := e.refused("alice", "POST", "/api/v1/interactions/"+id+"/transfers", map[string]any{"target": map[string]string{"Agent": "bob"}},
			400, "invalid_request")
		require.Equal(t, `request body: unknown field "target.Agent"`, r.json(t)["detail"])
		require.Equal(t, contactpad.Connected, e.get(id).Status)
	})
	t.Run("an action that takes no body refuses fields", func(t *testing.T) {
		e.refused("alice", "POST", "/api/v1/interactions/"+id+"/release", map[string]any{"force": true}, 400, "invalid_request")
		require.Equal(t, contactpad.Connected, e.get(id).Status)
	})
	t.Run("unknown routes under /api are JSON 404s", func(t *testing.T) {
		e.refused("alice", "GET", "/api/v1/nope", nil, 404, "not_found")
	})
}

func TestRateLimit(t *testing.T) {
	e := start(t, func(o *api.Options, _ *adapter.Settings) { o.RateLimit, o.RateBurst = 0.001, 3 })
	for range 3 {
		e.ok("alice", "GET", "/api/v1/me", nil)
	}
	r := e.refused("alice", "GET", "/api/v1/me", nil, 429, "rate_limited")
	require.Equal(t, "1", r.Header.Get("Retry-After"))
	e.ok("bob", "GET", "/api/v1/me", nil) // limits are per token
}

func TestSecurityHeaders(t *testing.T) {
	e := start(t)
	tests := []struct {
		origin  string
		allowed bool
	}{
		{"https://acme.lightning.force.com", true},
		{"https://acme--sandbox.sandbox.lightning.force.com", true},
		{"https://lightning.force.com", false},
		{"http://acme.lightning.force.com", false},
		{"https://evil.example", false},
		{"https://acme.lightning.force.com.evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/api/v1/me", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "PUT")
			res, err := e.srv.Client().Do(req)
			require.NoError(t, err)
			res.Body.Close()
			if tt.allowed {
				require.Equal(t, 204, res.StatusCode)
				require.Equal(t, tt.origin, res.Header.Get("Access-Control-Allow-Origin"))
				require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Authorization")
			} else {
				require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
	r := e.call("alice", "GET", "/api/v1/me", nil)
	require.Contains(t, r.Header.Get("Content-Security-Policy"), "frame-ancestors 'self' https://*.lightning.force.com;")
	require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
}

func TestHealth(t *testing.T) {
	e := start(t)
	require.Equal(t, "ok", e.ok("", "GET", "/healthz", nil)["status"])
	ready := e.ok("", "GET", "/readyz", nil)
	require.Equal(t, true, ready["ready"])
	e.ok("alice", "GET", "/api/v1/me", nil)
	r := e.call("", "GET", "/metrics", nil)
	require.Equal(t, 200, r.Status)
	require.Contains(t, string(r.Body), `ctibridge_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/me"} 1`)
}

func TestExportHandling(t *testing.T) {
	e := start(t)
	from := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	id := e.connected("alice", contactpad.NonLive)
	e.ok("alice", "POST", "/api/v1/interactions/"+id+"/defer", map[string]any{"due_by": time.Now().Add(time.Hour)})

	report := e.ok("bi", "GET", "/api/v1/export/handling?from="+from, nil)
	steps := report["steps"].([]any)
	last := steps[len(steps)-1].(map[string]any)
	require.Equal(t, "status_action", last["category"], "setting pending is handling activity")
	require.Equal(t, "alice", last["agent"])
	require.Equal(t, id, last["interaction_id"])
	require.Equal(t, "non-live", last["media"])
	require.Contains(t, last, "handle_time_s")
	aht := report["aht"].([]any)[0].(map[string]any)
	require.Equal(t, "alice", aht["agent"])
	require.Equal(t, 1.0, aht["interactions"])

	r := e.call("ops", "GET", "/api/v1/export/handling?format=csv", nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, "text/csv; charset=utf-8", r.Header.Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	require.Equal(t, "at,agent,interaction_id,crm_object,crm_id,media,service,category,action,from_status,to_status,handle_time_s", lines[0])
	require.Contains(t, lines[len(lines)-1], ",status_action,deferred,connected,deferred,")
	r = e.call("ops", "GET", "/api/v1/export/handling?format=csv&table=aht", nil)
	require.True(t, strings.HasPrefix(string(r.Body), "agent,media,interactions,handle_time_s,aht_s"), "%s", r.Body)

	require.Empty(t, e.ok("bi", "GET", "/api/v1/export/handling?to="+from, nil)["steps"], "nothing before from")
	for _, q := range []string{"?from=yesterday", "?format=xml", "?from=" + from + "&to=" + from, "?table=aht", "?agent=alice"} {
		e.refused("bi", "GET", "/api/v1/export/handling"+q, nil, 400, "invalid_request")
	}
}

func TestAdmin(t *testing.T) {
	redriven := 0
	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		o.Redrive = func() { redriven++ }
		o.Preview = func(record map[string]any) (any, error) {
			if record["attributes"] == nil {
				return nil, fmt.Errorf("no attributes.type")
			}
			return &mapping.Preview{Query: "SELECT Id, Subject FROM Case", FirstSight: "adopted as queued",
				Item: contactpad.WorkItem{CRMObject: "Case", Subject: record["Subject"].(string), Tags: []string{}}}, nil
		}
		o.Webhooks = func() any { return []webhook.HookStatus{{URL: "https://h.example/x", Events: []adapter.EventType{}}} }
	})
	e.connected("alice", contactpad.NonLive)
	parked := &adapter.OutboxRow{InteractionID: "i1", CRMObject: "Case", CRMID: "500X", Kind: adapter.OutboxChange,
		Payload: []byte(`{}`), State: adapter.OutboxParked, Attempts: 1, ErrorCode: "ENTITY_IS_DELETED", ErrorMessage: "entity is deleted"}
	_, err := e.store.Update(context.Background(), []func(adapter.Tx) error{func(tx adapter.Tx) error { return tx.AppendOutbox(parked) }})
	require.NoError(t, err)

	behind := &adapter.OutboxRow{InteractionID: "i1", CRMObject: "Case", CRMID: "500X", Kind: adapter.OutboxChange, Payload: []byte(`{}`)}
	require.NoError(t, adapter.UpdateOne(context.Background(), e.store, func(tx adapter.Tx) error { return tx.AppendOutbox(behind) }))

	sync := e.ok("ops", "GET", "/api/v1/admin/sync", nil)
	require.Equal(t, 1.0, sync["parked"].(map[string]any)["count"])
	row := sync["parked"].(map[string]any)["rows"].([]any)[0].(map[string]any)
	require.Equal(t, "ENTITY_IS_DELETED", row["error_code"])
	pending := sync["pending"].(map[string]any)["rows"].([]any)
	last := pending[len(pending)-1].(map[string]any)
	require.Equal(t, float64(behind.ID), last["id"])
	require.Equal(t, float64(parked.ID), last["blocked_by"], "a row says which parked row it waits behind")
	require.Nil(t, pending[0].(map[string]any)["blocked_by"])

	status := e.ok("ops", "GET", "/api/v1/admin/status", nil)
	require.Equal(t, map[string]any{"pending": sync["pending"].(map[string]any)["count"], "in_flight": 0.0, "parked": 1.0}, status["outbox"])
	require.Equal(t, 0.0, status["ingest_failures"])
	e.refused("alice", "GET", "/api/v1/admin/status", nil, 403, "forbidden")
	require.Positive(t, sync["pending"].(map[string]any)["count"], "the connected interaction's writebacks")

	path := fmt.Sprintf("/api/v1/admin/sync/parked/%d/retry", parked.ID)
	require.Equal(t, "pending", e.ok("ops", "POST", path, nil)["state"])
	require.Equal(t, 1, redriven)
	e.refused("ops", "POST", path, nil, 404, "not_found")
	e.refused("ops", "POST", "/api/v1/admin/sync/parked/abc/retry", nil, 400, "invalid_request")
	require.Zero(t, e.ok("ops", "GET", "/api/v1/admin/sync", nil)["parked"].(map[string]any)["count"])

	// A record that could not be ingested is shown with its reason.
	require.Zero(t, sync["ingest_failures"].(map[string]any)["count"])
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	require.NoError(t, adapter.UpdateOne(context.Background(), e.store, func(tx adapter.Tx) error {
		return tx.PutIngestFailure(&adapter.IngestFailure{Source: "salesforce:Case", CRMObject: "Case", CRMID: "500BAD",
			Reason: "Case 500BAD: no media rule matches (mappings[0].media at ctibridge.yaml:10)", Attempts: 2,
			FirstAt: at, LastAt: at.Add(10 * time.Second), NextAttemptAt: at.Add(30 * time.Second)})
	}))
	failures := e.ok("ops", "GET", "/api/v1/admin/sync", nil)["ingest_failures"].(map[string]any)
	require.Equal(t, 1.0, failures["count"])
	require.Equal(t, map[string]any{"source": "salesforce:Case", "crm_object": "Case", "crm_id": "500BAD",
		"reason": "Case 500BAD: no media rule matches (mappings[0].media at ctibridge.yaml:10)", "attempts": 2.0,
		"first_at": "2026-11-22T10:00:00Z", "last_at": "2026-11-22T10:00:10Z", "next_attempt_at": "2026-11-22T10:00:30Z"},
		failures["rows"].([]any)[0])

	got := e.ok("ops", "POST", "/api/v1/admin/mapping/preview", map[string]any{"attributes": map[string]any{"type": "Case"}, "Subject": "Hi"})
	require.Equal(t, "Hi", got["item"].(map[string]any)["subject"])
	e.refused("ops", "POST", "/api/v1/admin/mapping/preview", map[string]any{"Subject": "Hi"}, 400, "invalid_request")
	e.refused("ops", "POST", "/api/v1/admin/mapping/preview", nil, 400, "invalid_request")

	require.Equal(t, "https://h.example/x", e.ok("ops", "GET", "/api/v1/admin/webhooks", nil)["webhooks"].([]any)[0].(map[string]any)["url"])
}

// TestTransferRetryKeepsTheNote: a retried transfer carries the note of
// the failed attempt (stored once, with the interaction), and a cold
// transfer to a service can include its sender.
func TestTransferRetryKeepsTheNote(t *testing.T) {
	e := start(t)
	id := e.connected("alice", contactpad.NonLive)
	e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	first := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
		map[string]any{"target": map[string]string{"agent": "bob"}, "note": "wants a refund"})
	require.Equal(t, "wants a refund", first["note"])
	e.ok("bob", "POST", "/api/v1/transfers/"+first["id"].(string)+"/decline", map[string]any{"reason": "busy"})

	retry := e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
		map[string]any{"target": map[string]string{"agent": "bob"}})
	require.Equal(t, "wants a refund", retry["note"], "the retry carries the saved note")
	require.Equal(t, "wants a refund", e.ok("bob", "GET", "/api/v1/transfers/"+retry["id"].(string), nil)["note"])
	e.ok("alice", "POST", "/api/v1/transfers/"+retry["id"].(string)+"/cancel", nil)

	e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
	e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
		map[string]any{"target": map[string]string{"service": "support"}, "mode": "cold", "include_sender": true})
	i := e.get(id)
	require.Equal(t, "alice", i.Owner, "nobody else can take it: back to its sender, who said so")
	r := e.refused("alice", "POST", "/api/v1/interactions/"+id+"/transfers",
		map[string]any{"target": map[string]string{"agent": "bob"}, "include_sender": true}, 400, "invalid_request")
	require.Contains(t, string(r.Body), "include_sender")
}

// TestAdminStatusOfTheDaemon: the status shows what the daemon reports of
// its link to the CRM and the polls beside the store's counts, in the
// shape of the OpenAPI document (checked on every response).
func TestAdminStatusOfTheDaemon(t *testing.T) {
	since := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	next := since.Add(8 * time.Second)
	lag := 1.5
	e := start(t, func(o *api.Options, _ *adapter.Settings) {
		o.Status = func(context.Context) (any, error) {
			return map[string]any{"replica": "host/10.0.0.7:8080",
				"crm": map[string]any{"state": "degraded", "reason": "sign in to the CRM: salesforce: HTTP 503",
					"since": since, "attempts": 3, "next_attempt": next},
				"polls": []any{map[string]any{"source": "salesforce:Case", "holder": "host/10.0.0.8:8080", "lease_until": next,
					"last_success": since, "lag_seconds": lag, "last_error": "salesforce: SERVER_UNAVAILABLE: down", "last_error_at": next}},
			}, nil
		}
	})
	status := e.ok("ops", "GET", "/api/v1/admin/status", nil)
	require.Equal(t, "host/10.0.0.7:8080", status["replica"])
	require.Equal(t, "degraded", status["crm"].(map[string]any)["state"])
	require.Equal(t, "host/10.0.0.8:8080", status["polls"].([]any)[0].(map[string]any)["holder"])
	require.Contains(t, status, "outbox")
}

// TestResumeNeedsRoom: resume from History is offered (capabilities, the
// panel's button) only while the agent has a free slot of the media type,
// as the engine allows it; the reason says so.
func TestResumeNeedsRoom(t *testing.T) {
	e := start(t, func(o *api.Options, s *adapter.Settings) {
		o.RateLimit = rate.Inf
		s.Agents = slices.Clone(s.Agents)
		s.Agents[0].Capacity = contactpad.Capacity{contactpad.Live: 1, contactpad.SemiLive: 1, contactpad.NonLive: 1}
	})
	require.Equal(t, "alice", e.engine.Settings().Agents[0].ID)
	done := e.connected("alice", contactpad.NonLive)
	e.ok("alice", "POST", "/api/v1/interactions/"+done+"/release", nil)
	require.Equal(t, "completed", e.ok("alice", "POST", "/api/v1/interactions/"+done+"/wrapup/finish", nil)["status"])

	resume := func(v map[string]any) (enabled bool, reason string, capable bool) {
		for _, a := range v["actions"].([]any) {
			if a := a.(map[string]any); a["action"] == "resume" {
				enabled = a["enabled"].(bool)
				reason, _ = a["reason"].(string)
			}
		}
		for _, c := range v["capabilities"].([]any) {
			capable = capable || c == "resume"
		}
		return enabled, reason, capable
	}
	fromHistory := func() map[string]any {
		for _, i := range e.ok("alice", "GET", "/api/v1/interactions?folder=history", nil)["interactions"].([]any) {
			if i.(map[string]any)["id"] == done {
				return i.(map[string]any)
			}
		}
		t.Fatalf("%s is not in History", done)
		return nil
	}
	enabled, _, capable := resume(e.ok("alice", "GET", "/api/v1/interactions/"+done, nil))
	require.True(t, enabled && capable, "a free slot: resume")

	busy := e.connected("alice", contactpad.NonLive) // her one slot
	for _, v := range []map[string]any{e.ok("alice", "GET", "/api/v1/interactions/"+done, nil), fromHistory()} {
		enabled, reason, capable := resume(v)
		require.False(t, enabled || capable, "no free slot: no resume")
		require.Equal(t, "No room for more cases (1 of 1 in use).", reason)
	}
	e.refused("alice", "POST", "/api/v1/interactions/"+done+"/resume", nil, 409, "conflict")
	enabled, _, _ = resume(e.ok("ops", "GET", "/api/v1/interactions/"+done, nil))
	require.True(t, enabled, "an admin's resume sends it back to routing: no slot needed")

	e.ok("alice", "POST", "/api/v1/interactions/"+busy+"/release", nil)
	e.ok("alice", "POST", "/api/v1/interactions/"+busy+"/wrapup/finish", nil)
	enabled, _, _ = resume(fromHistory())
	require.True(t, enabled, "the slot is free again")
	require.Equal(t, "connected", e.ok("alice", "POST", "/api/v1/interactions/"+done+"/resume", nil)["status"])
}
