package adapter

import (
	"testing"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

func TestCapabilities(t *testing.T) {
	s := Defaults()
	A := func(actions ...contactpad.Action) []contactpad.Action {
		return append([]contactpad.Action{}, actions...)
	}
	for _, tc := range []struct {
		name   string
		media  contactpad.Media
		status contactpad.Status
		held   bool
		want   []contactpad.Action
	}{
		{"connected call", contactpad.Live, contactpad.Connected, false,
			A(contactpad.ActionRelease, contactpad.ActionHold, contactpad.ActionConsult, contactpad.ActionTransfer)},
		{"held call", contactpad.Live, contactpad.Connected, true,
			A(contactpad.ActionRelease, contactpad.ActionRetrieve, contactpad.ActionConsult, contactpad.ActionTransfer)},
		{"connected chat", contactpad.SemiLive, contactpad.Connected, false,
			A(contactpad.ActionRelease, contactpad.ActionConsult, contactpad.ActionAbandon, contactpad.ActionDefer)},
		{"connected email", contactpad.NonLive, contactpad.Connected, false,
			A(contactpad.ActionRelease, contactpad.ActionConsult, contactpad.ActionTransfer, contactpad.ActionAbandon, contactpad.ActionDefer)},
		{"email in wrap-up", contactpad.NonLive, contactpad.WrapUp, false, A(contactpad.ActionAbandon)},
		{"call in wrap-up", contactpad.Live, contactpad.WrapUp, false, A()},
		{"deferred chat", contactpad.SemiLive, contactpad.Deferred, false, A(contactpad.ActionResume)},
		{"completed email", contactpad.NonLive, contactpad.Completed, false, A(contactpad.ActionResume)},
		{"completed call", contactpad.Live, contactpad.Completed, false, A()},
		{"abandoned chat", contactpad.SemiLive, contactpad.Abandoned, false, A()},
		{"offered email", contactpad.NonLive, contactpad.Offered, false, A()},
		{"queued email", contactpad.NonLive, contactpad.Queued, false, A(contactpad.ActionDefer)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := &contactpad.Interaction{Media: tc.media, Status: tc.status, Held: tc.held}
			require.Equal(t, tc.want, s.Capabilities(i))
		})
	}
}
