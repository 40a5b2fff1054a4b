package contactpad

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDefaultMatrix is DESIGN.md's capability table, cell by cell.
func TestDefaultMatrix(t *testing.T) {
	m := DefaultMatrix()
	for _, tc := range []struct {
		action                  Action
		live, semiLive, nonLive bool
	}{
		{ActionRelease, true, true, true},
		{ActionHold, true, false, false},
		{ActionRetrieve, true, false, false},
		{ActionConsult, true, true, true},
		{ActionTransfer, true, false, true},
		{ActionAbandon, false, true, true},
		{ActionDefer, false, true, true},
		{ActionResume, false, true, true},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			require.Equal(t, tc.live, m.Allows(Live, tc.action), "live")
			require.Equal(t, tc.semiLive, m.Allows(SemiLive, tc.action), "semi-live")
			require.Equal(t, tc.nonLive, m.Allows(NonLive, tc.action), "non-live")
		})
	}
	require.Len(t, Actions, 8, "every action has a row above")
}

func TestWithOverrides(t *testing.T) {
	base := DefaultMatrix()
	m := base.WithOverrides(map[Media]map[Action]bool{
		SemiLive: {ActionTransfer: true},
		NonLive:  {ActionDefer: false},
		Live:     {ActionHold: false},
	})
	require.True(t, m.Allows(SemiLive, ActionTransfer))
	require.False(t, m.Allows(NonLive, ActionDefer))
	require.False(t, m.Allows(NonLive, ActionResume), "defer and resume go together")
	require.False(t, m.Allows(Live, ActionRetrieve), "hold and retrieve go together")
	require.False(t, base.Allows(SemiLive, ActionTransfer), "the base matrix is not changed")
	require.Equal(t, []Action{ActionAbandon, ActionConsult, ActionRelease, ActionTransfer}, m.Allowed(NonLive))
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
		parse         func(string) error
	}{
		{"media", "semi-live", "", func(s string) error { _, err := ParseMedia(s); return err }},
		{"bad media", "fax", `unknown media type "fax" (want live, semi-live or non-live)`, func(s string) error { _, err := ParseMedia(s); return err }},
		{"presence", "interruptible", "", func(s string) error { _, err := ParsePresence(s); return err }},
		{"bad presence", "away", `unknown presence "away" (want available, interruptible, busy or logged_out)`, func(s string) error { _, err := ParsePresence(s); return err }},
		{"action", "defer", "", func(s string) error { _, err := ParseAction(s); return err }},
		{"bad action", "snooze", `unknown action "snooze"`, func(s string) error { _, err := ParseAction(s); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.in)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.err)
		})
	}
}

func TestPresenceAndStatus(t *testing.T) {
	require.True(t, Available.Routable())
	require.False(t, Interruptible.Routable())
	require.True(t, Interruptible.Consultable())
	require.False(t, Busy.Consultable())
	require.True(t, Busy.LoggedIn())
	require.False(t, LoggedOut.LoggedIn())
	for _, s := range Statuses {
		require.Equal(t, s == Offered || s == Connected || s == WrapUp, s.HoldsCapacity(), s)
	}
	require.Equal(t, []Status{Deferred}, FolderDeferred.Statuses())
	require.Equal(t, []Status{Completed, Abandoned}, FolderHistory.Statuses())
}
