package adapter

import "github.com/ctibridge/ctibridge/contactpad"

// Capabilities lists the actions the owner of i can take now: those the
// capability matrix allows for i's media that are possible from i's state.
// The panel shows exactly these; Apply refuses the others.
func (s *Settings) Capabilities(i *contactpad.Interaction) []contactpad.Action {
	possible := map[contactpad.Action]bool{
		contactpad.ActionRelease:  canTake(stepRelease, i.Status),
		contactpad.ActionHold:     canTake(stepHold, i.Status) && !i.Held,
		contactpad.ActionRetrieve: canTake(stepRetrieve, i.Status) && i.Held,
		contactpad.ActionConsult:  i.Status == contactpad.Connected,
		contactpad.ActionTransfer: i.Status == contactpad.Connected,
		contactpad.ActionAbandon:  canTake(stepAbandon, i.Status),
		contactpad.ActionDefer:    canTake(stepDefer, i.Status),
		contactpad.ActionResume:   canTake(stepResume, i.Status),
	}
	out := []contactpad.Action{}
	for _, a := range contactpad.Actions {
		if possible[a] && s.Matrix.Allows(i.Media, a) {
			out = append(out, a)
		}
	}
	return out
}
