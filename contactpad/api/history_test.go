package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

// TestInteractionHistoryPages: newest first, History comes page by page
// through next_cursor, without gaps or repeats, with the whole list's
// total on every page and null for the next cursor on the last; q
// searches subject, CRM id and category, and bad input names the field.
func TestInteractionHistoryPages(t *testing.T) {
	e := start(t)
	t0 := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Minute)
	subjects := []string{"Refund for order 1138", "Router keeps rebooting", "Password reset loop", "Parcel lost",
		"Second refund", "Invoice copy", "Login fails"}
	require.NoError(t, adapter.UpdateOne(context.Background(), e.store, func(tx adapter.Tx) error {
		for k, subject := range subjects {
			// Two pairs changed at the same time: pages break between them.
			at := t0.Add(time.Duration(k/2*2) * time.Minute)
			if err := tx.PutInteraction(&contactpad.Interaction{
				ID: fmt.Sprintf("h%d", k), CRMID: fmt.Sprintf("500X%d", k), CRMObject: "Case", Media: contactpad.NonLive,
				Service: "support", Status: contactpad.Completed, Owner: "alice", Subject: subject, Category: "General",
				Tags: []string{}, CreatedAt: at, UpdatedAt: at, LastActivityAt: at, Version: 1,
			}); err != nil {
				return err
			}
		}
		return nil
	}))
	e.connected("alice", contactpad.NonLive) // ongoing: not in History

	type page struct {
		Interactions []struct {
			ID        string    `json:"id"`
			UpdatedAt time.Time `json:"updated_at"`
		}
		Total      int     `json:"total"`
		NextCursor *string `json:"next_cursor"`
	}
	get := func(query string) page {
		t.Helper()
		body, err := json.Marshal(e.ok("alice", "GET", "/api/v1/interactions?folder=history&order=newest&"+query, nil))
		require.NoError(t, err)
		var p page
		require.NoError(t, json.Unmarshal(body, &p))
		return p
	}

	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 4, "three pages of three hold seven")
		q := "limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := get(q)
		require.Equal(t, len(subjects), p.Total, "the total of the whole list, on every page")
		for _, i := range p.Interactions {
			seen = append(seen, i.ID)
		}
		if p.NextCursor == nil {
			require.Less(t, len(p.Interactions), 3, "only a page that is not full is the last")
			break
		}
		cursor = *p.NextCursor
	}
	require.Equal(t, []string{"h6", "h5", "h4", "h3", "h2", "h1", "h0"}, seen, "newest first, then by id, each once")

	p := get("q=REFUND")
	require.Equal(t, 2, p.Total)
	require.Len(t, p.Interactions, 2)
	require.Equal(t, "h4", p.Interactions[0].ID)
	require.Equal(t, "h0", p.Interactions[1].ID)
	require.Equal(t, 1, get("q=500x3").Total, "by CRM id")
	require.Equal(t, 7, get("q=general").Total, "by category")
	require.Equal(t, 0, get("q=nothing").Total)

	r := e.refused("alice", "GET", "/api/v1/interactions?folder=history&order=newest&q="+strings.Repeat("a", 201), nil, 422, "too_long")
	require.Contains(t, string(r.Body), `query parameter \"q\": 201 bytes, at most 200`)
	e.ok("alice", "GET", "/api/v1/interactions?folder=history&order=newest&q="+strings.Repeat("a", 200), nil)
	r = e.refused("alice", "GET", "/api/v1/interactions?folder=history&q=refund", nil, 400, "invalid_request")
	require.Contains(t, string(r.Body), `query parameter \"q\": only with order=newest`)
	r = e.refused("alice", "GET", "/api/v1/interactions?folder=history&order=newest&cursor=nope", nil, 400, "invalid_request")
	require.Contains(t, string(r.Body), `query parameter \"cursor\"`)
	e.refused("alice", "GET", "/api/v1/interactions?folder=history&cursor="+url.QueryEscape(cursor), nil, 400, "invalid_request")
}

// TestEventsCarryActions: an agent's stream carries each interaction with
// the capabilities and actions a GET shows the agent (a panel applies the
// event as it is); an admin's carries it as stored, without them.
func TestEventsCarryActions(t *testing.T) {
	e := start(t)
	alice, admin := e.subscribe("alice", -1), e.subscribe("bi", -1)
	id := e.connected("alice", contactpad.NonLive)
	e.ok("alice", "POST", "/api/v1/interactions/"+id+"/defer", map[string]string{
		"due_by": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})

	var ev sseEvent
	for {
		ev = alice.until(t, adapter.EventInteractionUpdated, id)
		if ev.Event.Interaction.Status == contactpad.Deferred {
			break
		}
	}
	var data struct {
		Interaction struct {
			Status       string   `json:"status"`
			Capabilities []string `json:"capabilities"`
			Actions      []struct {
				Action  string `json:"action"`
				Enabled bool   `json:"enabled"`
				Reason  string `json:"reason"`
			} `json:"actions"`
		} `json:"interaction"`
	}
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	got := e.ok("alice", "GET", "/api/v1/interactions/"+id, nil)
	want, err := json.Marshal(got["capabilities"])
	require.NoError(t, err)
	have, err := json.Marshal(data.Interaction.Capabilities)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(have), "the event's capabilities are the GET's")
	require.NotEmpty(t, data.Interaction.Actions)
	for _, a := range data.Interaction.Actions {
		if a.Action == "release" {
			require.False(t, a.Enabled)
			require.NotEmpty(t, a.Reason, "a disabled action says why")
		}
	}

	for {
		ev = admin.until(t, adapter.EventInteractionUpdated, id)
		if ev.Event.Interaction.Status == contactpad.Deferred {
			break
		}
	}
	require.NotContains(t, string(ev.Data), `"capabilities"`, "admins get the interaction as stored")
	require.NotContains(t, string(ev.Data), `"actions"`)
}

// TestTransferEventsCarryTheInteraction: on an agent's stream, a transfer
// event carries the interaction it is about, with what the agent may do
// with it now (no second transfer while one is in progress).
func TestTransferEventsCarryTheInteraction(t *testing.T) {
	e := start(t)
	alice := e.subscribe("alice", -1)
	id := e.connected("alice", contactpad.NonLive)
	e.ok("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
	e.ok("alice", "POST", "/api/v1/interactions/"+id+"/transfers", map[string]any{"target": map[string]string{"agent": "bob"}})

	ev := alice.until(t, adapter.EventTransferRequested, id)
	var data struct {
		Interaction *struct {
			ID      string `json:"id"`
			Actions []struct {
				Action  string `json:"action"`
				Enabled bool   `json:"enabled"`
				Reason  string `json:"reason"`
			} `json:"actions"`
		} `json:"interaction"`
	}
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	require.NotNil(t, data.Interaction, "the transfer event carries its interaction")
	require.Equal(t, id, data.Interaction.ID)
	found := false
	for _, a := range data.Interaction.Actions {
		if a.Action == "transfer" {
			found = true
			require.False(t, a.Enabled, "no second transfer while one is in progress")
			require.Equal(t, "A transfer is in progress.", a.Reason)
		}
	}
	require.True(t, found, "the transfer action is listed")
}

// TestOfferEventsSayWhereToAnswer: an offer that Omni-Channel delivers
// reaches the agent's stream with answer_in "omni_channel", as a GET shows
// it, though events do not keep the Omni-Channel routing; the panel's own
// offers carry no answer_in.
func TestOfferEventsSayWhereToAnswer(t *testing.T) {
	e := start(t)
	offered := func(agent string, media contactpad.Media, omni *contactpad.OmniItem) (id string, event map[string]any) {
		s := e.subscribe(agent, -1)
		e.ok(agent, "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
		e.n++
		res, err := e.engine.Apply(context.Background(), adapter.Ingest{Item: contactpad.WorkItem{
			CRMID: fmt.Sprintf("500%015d", e.n), CRMObject: "Case", Media: media, Service: "support",
			Subject: "routed", Tags: []string{}, Omni: omni}})
		require.NoError(t, err)
		id = res.Interaction.ID
		ev := s.until(t, adapter.EventInteractionOffered, id)
		require.Equal(t, agent, ev.Event.Interaction.Owner)
		var data struct{ Interaction map[string]any }
		require.NoError(t, json.Unmarshal(ev.Data, &data))
		return id, data.Interaction
	}

	id, view := offered("alice", contactpad.NonLive, &contactpad.OmniItem{PSRID: "0JR000000000001AAA", ServiceChannelID: "0N9000000000001AAA"})
	require.Equal(t, "omni_channel", view["answer_in"], "answered in the Omni-Channel widget")
	require.Equal(t, "omni_channel", e.ok("alice", "GET", "/api/v1/interactions/"+id, nil)["answer_in"], "as a GET shows it")

	_, view = offered("bob", contactpad.Live, nil) // a call waits for bob to accept it
	require.NotContains(t, view, "answer_in", "answered in the panel")
}
