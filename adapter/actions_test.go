package adapter

import (
	"flag"
	"os"
	"slices"
	"testing"

	"github.com/ctibridge/ctibridge/contactpad"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite docs/lifecycle.md from the lifecycle tables")

// TestLifecycleDoc keeps docs/lifecycle.md equal to the tables it
// publishes; -update rewrites it.
func TestLifecycleDoc(t *testing.T) {
	const path = "../docs/lifecycle.md"
	want := LifecycleMarkdown()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "docs/lifecycle.md differs from the tables: go test ./adapter -run TestLifecycleDoc -update")
}

// TestTableIsWhole: every agent step is in the table with a status to
// start from, every status has a reason for people, and every guard that
// reads what is under way sits on a step UnderWay reads it for.
func TestTableIsWhole(t *testing.T) {
	for _, step := range AgentSteps {
		r, ok := lifecycle[step]
		require.True(t, ok, "step %s", step)
		require.True(t, r.agent, "step %s is an agent's", step)
		require.NotEmpty(t, r.from, "step %s", step)
		require.NotEmpty(t, r.about, "step %s", step)
	}
	for _, a := range contactpad.Actions {
		require.Contains(t, AgentSteps, Step(a), "the matrix action %s is a step", a)
	}
	for _, st := range contactpad.Statuses {
		require.NotEmpty(t, statusWhyNot[st], "status %s", st)
	}
	for step, r := range lifecycle {
		if readsUnderWay(r) {
			for _, from := range r.from {
				require.Contains(t, live, from, "step %s reads what is under way from %s, which UnderWay does not read", step, from)
			}
		}
	}
}

// TestCanRefuses: the refusal names the first thing in the way, in the
// order the API promises: not yours, not for this media type, not from
// this status, then the guards.
func TestCanRefuses(t *testing.T) {
	s := Defaults()
	call := &contactpad.Interaction{ID: "i1", Media: contactpad.Live, Status: contactpad.Connected, Owner: "alice"}
	email := &contactpad.Interaction{ID: "i2", Media: contactpad.NonLive, Status: contactpad.Completed, Owner: "alice"}

	err := s.Can(email, StepRelease, "bob", InProgress{})
	require.ErrorIs(t, err, ErrForbidden, "another agent's work is refused before its state shows")
	require.Equal(t, "It is not yours.", Explain(err))

	var notAllowed *ActionNotAllowedError
	require.ErrorAs(t, s.Can(call, StepDefer, "alice", InProgress{}), &notAllowed)
	require.Equal(t, "Not possible for calls.", Explain(s.Can(call, StepDefer, "alice", InProgress{})))

	var transition *TransitionError
	err = s.Can(email, StepRelease, "alice", InProgress{})
	require.ErrorAs(t, err, &transition)
	require.Equal(t, "Completed: resume it from History first.", Explain(err))
	require.Equal(t, "Abandoned interactions cannot be resumed.",
		Explain(s.Can(&contactpad.Interaction{Media: contactpad.NonLive, Status: contactpad.Abandoned}, StepResume, "", InProgress{})))

	var conflict *ConflictError
	err = s.Can(call, StepTransfer, "alice", InProgress{Transfer: true})
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, "A transfer is in progress.", Explain(err))
	require.NoError(t, s.Can(call, StepTransfer, "alice", InProgress{Consult: true}))
	require.NoError(t, s.Can(call, StepTransfer, "", InProgress{}), "an admin takes any agent's step")
	require.Error(t, s.Can(call, "no such step", "", InProgress{}))
}

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
			i := &contactpad.Interaction{Media: tc.media, Status: tc.status, Held: tc.held, Owner: "alice"}
			require.Equal(t, tc.want, s.Capabilities(i, "alice", InProgress{}))
			require.Empty(t, s.Capabilities(i, "bob", InProgress{}), "nothing on another agent's work")
			busy := s.Capabilities(i, "alice", InProgress{Transfer: true, Consult: true})
			require.False(t, slices.Contains(busy, contactpad.ActionTransfer) || slices.Contains(busy, contactpad.ActionConsult),
				"no second transfer or consult while one is in progress")
		})
	}
}
