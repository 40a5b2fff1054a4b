package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// TestWalkTheLifecycle walks every action of the panel (and the reopen of
// PATCH status open) in every state of every media type through the HTTP
// API: an action the view shows enabled succeeds, one it shows disabled is
// refused with the code and the reason of the engine's lifecycle table
// (adapter.Settings.Can), and the view says the same as the table.
func TestWalkTheLifecycle(t *testing.T) {
	e := start(t, func(o *api.Options, s *adapter.Settings) {
		o.RateLimit = rate.Inf
		// No timer fires during the walk; offers wait for an answer;
		// alice never runs out of room.
		s.PushTimeout, s.TransferAccept, s.Consult = time.Hour, time.Hour, time.Hour
		s.WrapUp = map[contactpad.Media]time.Duration{contactpad.Live: time.Hour, contactpad.SemiLive: time.Hour, contactpad.NonLive: time.Hour}
		s.AutoAccept = map[contactpad.Media]bool{}
		s.Agents = slices.Clone(s.Agents)
		s.Agents[0].Capacity = contactpad.Capacity{contactpad.Live: 1000, contactpad.SemiLive: 1000, contactpad.NonLive: 1000}
	})
	settings := e.engine.Settings()
	future := time.Now().Add(24 * time.Hour).UTC()
	path := func(id, rest string) string { return "/api/v1/interactions/" + id + rest }

	// The states to walk, each made through the API for alice; needs is
	// the action a state is made with, where the media type must allow it.
	states := []struct {
		name  string
		needs contactpad.Action
		make  func(media contactpad.Media) string
	}{
		{"offered", "", func(media contactpad.Media) string {
			e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"})
			id := e.ingest(media, "support")
			e.ok("alice", "PUT", "/api/v1/me/presence", map[string]string{"presence": "busy"})
			return id
		}},
		{"connected", "", func(media contactpad.Media) string { return e.connected("alice", media) }},
		{"held", contactpad.ActionHold, func(media contactpad.Media) string {
			id := e.connected("alice", media)
			e.ok("alice", "POST", path(id, "/hold"), nil)
			return id
		}},
		{"wrap-up", "", func(media contactpad.Media) string {
			id := e.connected("alice", media)
			e.ok("alice", "POST", path(id, "/release"), nil)
			return id
		}},
		{"deferred", contactpad.ActionDefer, func(media contactpad.Media) string {
			id := e.connected("alice", media)
			e.ok("alice", "POST", path(id, "/defer"), map[string]any{"due_by": future})
			return id
		}},
		{"completed", "", func(media contactpad.Media) string {
			id := e.connected("alice", media)
			e.ok("alice", "POST", path(id, "/release"), nil)
			e.ok("alice", "POST", path(id, "/wrapup/finish"), nil)
			return id
		}},
		{"abandoned", contactpad.ActionAbandon, func(media contactpad.Media) string {
			id := e.connected("alice", media)
			e.ok("alice", "POST", path(id, "/abandon"), map[string]any{"confirm": true})
			return id
		}},
		{"with a transfer", contactpad.ActionTransfer, func(media contactpad.Media) string {
			id := e.connected("alice", media)
			e.ok("alice", "POST", path(id, "/transfers"), map[string]any{"target": map[string]string{"agent": "bob"}})
			return id
		}},
		{"with a consult", contactpad.ActionConsult, func(media contactpad.Media) string {
			id := e.connected("alice", media)
			e.ok("alice", "POST", path(id, "/consults"), map[string]any{"target": map[string]string{"number": "+4930123456"}})
			return id
		}},
	}
	type request struct {
		method, path string
		body         any
	}
	requests := map[adapter.Step]request{
		adapter.StepRelease:  {"POST", "/release", nil},
		adapter.StepHold:     {"POST", "/hold", nil},
		adapter.StepRetrieve: {"POST", "/retrieve", nil},
		adapter.StepConsult:  {"POST", "/consults", map[string]any{"target": map[string]string{"number": "+4930123457"}}},
		adapter.StepTransfer: {"POST", "/transfers", map[string]any{"target": map[string]string{"agent": "carol"}}},
		adapter.StepAbandon:  {"POST", "/abandon", map[string]any{"confirm": true, "reason": "walk"}},
		adapter.StepDefer:    {"POST", "/defer", map[string]any{"due_by": future}},
		adapter.StepResume:   {"POST", "/resume", nil},
		adapter.StepReopen:   {"PATCH", "", map[string]any{"status": "open"}},
	}
	for _, a := range contactpad.Actions {
		require.Contains(t, requests, adapter.Step(a), "the walk covers the panel's action %s", a)
	}
	// can is what the table says of step on id, as the engine sees it.
	can := func(id string, step adapter.Step) (*contactpad.Interaction, error) {
		var i *contactpad.Interaction
		var p adapter.InProgress
		require.NoError(t, e.store.View(context.Background(), func(tx adapter.Tx) error {
			var err error
			if i, err = tx.Interaction(id); err != nil {
				return err
			}
			p, err = adapter.UnderWay(tx, i)
			return err
		}))
		return i, settings.Can(i, step, "alice", p)
	}

	walked := 0
	for _, media := range contactpad.Medias {
		for _, st := range states {
			if st.needs != "" && !settings.Matrix.Allows(media, st.needs) {
				continue
			}
			for step, req := range requests {
				t.Run(fmt.Sprintf("%s/%s/%s", media, st.name, step), func(t *testing.T) {
					id := st.make(media)
					i, want := can(id, step)
					if a := contactpad.Action(step); slices.Contains(contactpad.Actions, a) {
						view := e.ok("alice", "GET", path(id, ""), nil)
						var shown map[string]any
						for _, s := range view["actions"].([]any) {
							if s := s.(map[string]any); s["action"] == string(a) {
								shown = s
							}
						}
						if !settings.Matrix.Allows(media, a) {
							require.Nil(t, shown, "no button for an action the media type does not have")
						} else {
							require.NotNil(t, shown)
							require.Equal(t, want == nil, shown["enabled"], "enabled: %v", want)
							reason, _ := shown["reason"].(string)
							require.Equal(t, adapter.Explain(want), reason)
						}
						caps := view["capabilities"].([]any)
						require.Equal(t, want == nil, slices.Contains(caps, any(string(a))))
					}

					r := e.call("alice", req.method, path(id, req.path), req.body)
					if want == nil {
						require.True(t, r.Status >= 200 && r.Status < 300, "%s from %s: %d %s", step, i.Status, r.Status, r.Body)
						return
					}
					require.Equal(t, adapter.Code(want), r.code(t), "%s from %s: %s", step, i.Status, r.Body)
					require.Equal(t, i, e.get(id), "a refused action changes nothing")
				})
				walked++
			}
		}
	}
	require.Greater(t, walked, 150)
}
