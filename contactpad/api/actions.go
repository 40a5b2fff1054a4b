package api

import (
	"github.com/ctibridge/ctibridge/adapter"
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

// view shows i to the caller (agent; "" is an admin or an integration):
// what it may do now and why not, as the engine's lifecycle table says
// (adapter.Settings.Can), p being what i has under way. Actions the
// matrix forbids for the media type are left out of actions: a chat has
// no hold button.
func (s *Server) view(i *contactpad.Interaction, agent string, p adapter.InProgress) interactionView {
	v := interactionView{Interaction: i, Capabilities: []contactpad.Action{}, Actions: []actionState{}}
	if adapter.PushedToOmni(i) {
		v.AnswerIn = contactpad.AnswerInOmni
	}
	settings := s.engine.Settings()
	for _, a := range contactpad.Actions {
		if !settings.Matrix.Allows(i.Media, a) {
			continue
		}
		err := settings.Can(i, adapter.Step(a), agent, p)
		if err == nil {
			v.Capabilities = append(v.Capabilities, a)
		}
		v.Actions = append(v.Actions, actionState{Action: a, Enabled: err == nil, Reason: adapter.Explain(err)})
	}
	if i.Status == contactpad.WrapUp {
		left := max(0, settings.WrapUpMaxExtensions-i.WrapUpExtended)
		v.ExtensionsLeft = &left
	}
	return v
}

// viewIn is view inside a read transaction, which reads what i has under way.
func (s *Server) viewIn(tx adapter.Tx, i *contactpad.Interaction, agent string) (interactionView, error) {
	p, err := adapter.UnderWay(tx, i)
	if err != nil {
		return interactionView{}, err
	}
	return s.view(i, agent, p), nil
}
