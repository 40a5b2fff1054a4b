package api

import (
	"slices"

	"github.com/ctibridge/ctibridge/contactpad"
)

// actionState is one button of the panel: an action the capability matrix
// allows for the interaction's media type, whether it can be taken now, and
// if not, why, in words an agent understands.
type actionState struct {
	Action  contactpad.Action `json:"action"`
	Enabled bool              `json:"enabled"`
	Reason  string            `json:"reason,omitempty"`
}

// actionStates lists, in the matrix's order, the actions matrix allows for
// i's media; those in caps (what Apply accepts now) are enabled, the others
// carry the reason they are not. Actions the matrix forbids for the media
// are left out: a chat has no hold button.
func actionStates(matrix contactpad.Matrix, i *contactpad.Interaction, caps []contactpad.Action) []actionState {
	out := []actionState{}
	for _, a := range contactpad.Actions {
		if !matrix.Allows(i.Media, a) {
			continue
		}
		if slices.Contains(caps, a) {
			out = append(out, actionState{Action: a, Enabled: true})
			continue
		}
		out = append(out, actionState{Action: a, Reason: disabledReason(a, i)})
	}
	return out
}

// disabledReason says why action a cannot be taken on i now.
func disabledReason(a contactpad.Action, i *contactpad.Interaction) string {
	switch {
	case a == contactpad.ActionHold && i.Held:
		return "Already on hold."
	case a == contactpad.ActionRetrieve && i.Status == contactpad.Connected && !i.Held:
		return "Not on hold."
	case a == contactpad.ActionResume && i.Status == contactpad.Abandoned:
		return "Abandoned interactions cannot be resumed."
	case a == contactpad.ActionResume:
		return "Only deferred or completed interactions can be resumed."
	case a == contactpad.ActionAbandon && (i.Status == contactpad.Completed || i.Status == contactpad.Abandoned):
		return "Already ended."
	case a == contactpad.ActionDefer && i.Status == contactpad.Deferred:
		return "Already deferred."
	case a == contactpad.ActionRelease && i.Status == contactpad.WrapUp:
		return "Already released: wrap-up is running."
	}
	switch i.Status {
	case contactpad.Offered:
		return "Accept the offer first."
	case contactpad.Queued:
		return "Waiting in the queue, not assigned to you."
	case contactpad.WrapUp:
		return "Not during wrap-up."
	case contactpad.Deferred:
		return "Deferred: resume it first."
	case contactpad.Completed:
		return "Completed: resume it from History first."
	case contactpad.Abandoned:
		return "Abandoned: it cannot be worked on again."
	}
	return "Not possible while the interaction is " + string(i.Status) + "."
}
