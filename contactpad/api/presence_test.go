package api_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/ctibridge/ctibridge/contactpad/api"
)

// TestPresenceFollowsCRM: while the agents' presence follows Omni-Channel,
// GET /me says so and an agent's change of presence is refused with 409
// presence_follows_crm; the presence set from Omni-Channel shows in
// GET /me, with the capacity of a media type it makes busy at 0.
func TestPresenceFollowsCRM(t *testing.T) {
	e := start(t, func(_ *api.Options, s *adapter.Settings) {
		s.PresenceSource, s.CRMName = "Omni-Channel", "Salesforce"
	})
	me := e.ok("bob", "GET", "/api/v1/me", nil)
	require.Equal(t, "omni", me["presence_source"])
	require.Equal(t, "logged_out", me["presence"])

	res := e.refused("bob", "PUT", "/api/v1/me/presence", map[string]string{"presence": "available"}, 409, "presence_follows_crm")
	require.Equal(t, "presence follows Omni-Channel in Salesforce: change it there", res.json(t)["detail"])

	_, err := e.engine.Apply(context.Background(), adapter.FollowPresence{Agent: "bob", Presence: contactpad.Available,
		Busy: []contactpad.Media{contactpad.Live}, Status: "Busy_Voice"})
	require.NoError(t, err)
	me = e.ok("bob", "GET", "/api/v1/me", nil)
	require.Equal(t, "available", me["presence"])
	require.Equal(t, map[string]any{"live": float64(0), "semi-live": float64(3), "non-live": float64(5)}, me["capacity"])

	plain := start(t)
	_, follows := plain.ok("bob", "GET", "/api/v1/me", nil)["presence_source"]
	require.False(t, follows, "absent when presence is set in ctibridge")
}
