package contactpad

import (
	"fmt"
	"sort"
)

// Action is something an agent does to an interaction.
type Action string

// The agent actions of the capability matrix.
const (
	ActionRelease  Action = "release"
	ActionHold     Action = "hold"
	ActionRetrieve Action = "retrieve"
	ActionConsult  Action = "consult"
	ActionTransfer Action = "transfer"
	ActionAbandon  Action = "abandon"
	ActionDefer    Action = "defer"
	ActionResume   Action = "resume"
)

// Actions lists every action of the matrix in a stable order.
var Actions = []Action{ActionRelease, ActionHold, ActionRetrieve, ActionConsult,
	ActionTransfer, ActionAbandon, ActionDefer, ActionResume}

// ParseAction returns the Action named s, or an error naming s.
func ParseAction(s string) (Action, error) {
	for _, a := range Actions {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown action %q", s)
}

// Matrix says which actions each media type allows. The zero Matrix allows
// nothing; start from DefaultMatrix.
type Matrix map[Media]map[Action]bool

// DefaultMatrix returns ContactPad's defaults:
//
//	action           live  semi-live  non-live
//	release          yes   yes        yes
//	hold / retrieve  yes   no         no
//	consult          yes   yes        yes
//	transfer         yes   no         yes
//	abandon          no    yes        yes
//	defer / resume   no    yes        yes
func DefaultMatrix() Matrix {
	return Matrix{
		Live: {ActionRelease: true, ActionHold: true, ActionRetrieve: true, ActionConsult: true,
			ActionTransfer: true, ActionAbandon: false, ActionDefer: false, ActionResume: false},
		SemiLive: {ActionRelease: true, ActionHold: false, ActionRetrieve: false, ActionConsult: true,
			ActionTransfer: false, ActionAbandon: true, ActionDefer: true, ActionResume: true},
		NonLive: {ActionRelease: true, ActionHold: false, ActionRetrieve: false, ActionConsult: true,
			ActionTransfer: true, ActionAbandon: true, ActionDefer: true, ActionResume: true},
	}
}

// WithOverrides returns a copy of m with the given cells replaced. Hold and
// retrieve go together, as do defer and resume: overriding one sets both.
func (m Matrix) WithOverrides(overrides map[Media]map[Action]bool) Matrix {
	out := make(Matrix, len(m))
	for media, row := range m {
		out[media] = make(map[Action]bool, len(row))
		for a, ok := range row {
			out[media][a] = ok
		}
	}
	for media, row := range overrides {
		if out[media] == nil {
			out[media] = map[Action]bool{}
		}
		for a, ok := range row {
			out[media][a] = ok
			if pair, paired := actionPairs[a]; paired {
				out[media][pair] = ok
			}
		}
	}
	return out
}

var actionPairs = map[Action]Action{
	ActionHold: ActionRetrieve, ActionRetrieve: ActionHold,
	ActionDefer: ActionResume, ActionResume: ActionDefer,
}

// Allows reports whether the matrix allows action for media.
func (m Matrix) Allows(media Media, action Action) bool {
	return m[media][action]
}

// Allowed lists the actions the matrix allows for media, sorted.
func (m Matrix) Allowed(media Media) []Action {
	var out []Action
	for a, ok := range m[media] {
		if ok {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
