package api_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/contactpad"
)

// TestActionStates checks the panel's buttons: every action the matrix
// allows for the media type, enabled exactly when it is a capability, and
// otherwise with the reason.
func TestActionStates(t *testing.T) {
	e := start(t)
	type state struct {
		enabled bool
		reason  string
	}
	states := func(v map[string]any) map[string]state {
		out := map[string]state{}
		for _, a := range v["actions"].([]any) {
			a := a.(map[string]any)
			reason, _ := a["reason"].(string)
			out[a["action"].(string)] = state{a["enabled"].(bool), reason}
		}
		for _, c := range v["capabilities"].([]any) {
			require.True(t, out[c.(string)].enabled, "capability %s is an enabled action", c)
		}
		return out
	}
	email := e.connected("alice", contactpad.NonLive)
	chat := e.connected("alice", contactpad.SemiLive)

	tests := []struct {
		name string
		id   string
		do   func()
		want map[string]state
	}{
		{"connected email", email, nil, map[string]state{
			"release": {true, ""}, "consult": {true, ""}, "transfer": {true, ""}, "abandon": {true, ""}, "defer": {true, ""},
			"resume": {false, "Only deferred or completed interactions can be resumed."},
		}},
		{"a chat has no transfer or hold button", chat, nil, map[string]state{
			"release": {true, ""}, "consult": {true, ""}, "abandon": {true, ""}, "defer": {true, ""},
			"resume": {false, "Only deferred or completed interactions can be resumed."},
		}},
		{"deferred email", email, func() {
			e.ok("alice", "POST", "/api/v1/interactions/"+email+"/defer", map[string]any{"due_by": time.Now().Add(time.Hour)})
		}, map[string]state{
			"release": {false, "Deferred: resume it first."}, "consult": {false, "Deferred: resume it first."},
			"transfer": {false, "Deferred: resume it first."}, "abandon": {false, "Deferred: resume it first."},
			"defer": {false, "Already deferred."}, "resume": {true, ""},
		}},
		{"email in wrap-up", email, func() {
			e.ok("alice", "POST", "/api/v1/interactions/"+email+"/resume", nil)
			e.ok("alice", "POST", "/api/v1/interactions/"+email+"/release", nil)
		}, map[string]state{
			"release": {false, "Already released: wrap-up is running."}, "consult": {false, "Not during wrap-up."},
			"transfer": {false, "Not during wrap-up."}, "abandon": {true, ""}, "defer": {false, "Not during wrap-up."},
			"resume": {false, "Only deferred or completed interactions can be resumed."},
		}},
		{"completed email", email, func() {
			e.ok("alice", "POST", "/api/v1/interactions/"+email+"/wrapup/finish", nil)
		}, map[string]state{
			"release": {false, "Completed: resume it from History first."}, "consult": {false, "Completed: resume it from History first."},
			"transfer": {false, "Completed: resume it from History first."}, "abandon": {false, "Already ended."},
			"defer": {false, "Completed: resume it from History first."}, "resume": {true, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.do != nil {
				tt.do()
			}
			require.Equal(t, tt.want, states(e.ok("alice", "GET", "/api/v1/interactions/"+tt.id, nil)))
		})
	}

	t.Run("live: hold and retrieve", func(t *testing.T) {
		call := e.connected("alice", contactpad.Live)
		got := states(e.ok("alice", "GET", "/api/v1/interactions/"+call, nil))
		require.Equal(t, state{true, ""}, got["hold"])
		require.Equal(t, state{false, "Not on hold."}, got["retrieve"])
		require.NotContains(t, got, "defer", "a call cannot be deferred")
		e.ok("alice", "POST", "/api/v1/interactions/"+call+"/hold", nil)
		got = states(e.ok("alice", "GET", "/api/v1/interactions/"+call, nil))
		require.Equal(t, state{false, "Already on hold."}, got["hold"])
		require.Equal(t, state{true, ""}, got["retrieve"])
	})
}

func TestInteractionListNewestFirst(t *testing.T) {
	e := start(t)
	var ids []string
	for range 3 {
		id := e.connected("alice", contactpad.NonLive)
		e.ok("alice", "POST", "/api/v1/interactions/"+id+"/release", nil)
		e.ok("alice", "POST", "/api/v1/interactions/"+id+"/wrapup/finish", nil)
		ids = append(ids, id)
	}
	// The first one completes again last: it is the newest.
	e.ok("alice", "POST", "/api/v1/interactions/"+ids[0]+"/resume", nil)
	e.ok("alice", "POST", "/api/v1/interactions/"+ids[0]+"/release", nil)
	e.ok("alice", "POST", "/api/v1/interactions/"+ids[0]+"/wrapup/finish", nil)
	list := func(query string) []string {
		var out []string
		for _, i := range e.ok("alice", "GET", "/api/v1/interactions"+query, nil)["interactions"].([]any) {
			out = append(out, i.(map[string]any)["id"].(string))
		}
		return out
	}
	require.Equal(t, []string{ids[0], ids[2], ids[1]}, list("?folder=history&order=newest"))
	require.Equal(t, []string{ids[0], ids[2]}, list("?folder=history&order=newest&limit=2"))
	require.Equal(t, ids, list("?folder=history&order=oldest"))
	e.refused("alice", "GET", "/api/v1/interactions?order=random", nil, 400, "invalid_request")
}
