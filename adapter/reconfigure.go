package adapter

import (
	"context"
	"fmt"
	"slices"

	"github.com/ctibridge/ctibridge/contactpad"
)

// Reconfigure makes the engine work with s from its next command on: the
// agents, services, mappings (Mirrors), timeouts and policies of a
// reloaded config. In one transaction it syncs the agents as at start
// (SyncAgents: new ones logged out, the presence of the others kept, the
// available ones routed the work that waited for them) and logs out the
// agents s no longer has, whose pending offers go back to routing. Their
// connected and deferred work stays theirs, in the store, for an admin to
// hand over. If the transaction fails, the engine keeps its settings.
func (e *Engine) Reconfigure(ctx context.Context, s Settings) error {
	next := newEngineConfig(s)
	var gone []string
	for id := range e.cfg.Load().agents {
		if _, ok := next.agents[id]; !ok {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	if _, err := e.Apply(ctx, reconfigure{cfg: next, gone: gone}); err != nil {
		return fmt.Errorf("reconfigure: %w", err)
	}
	e.cfg.Store(next)
	return nil
}

// reconfigure is Reconfigure's command: it works with the new settings.
type reconfigure struct {
	cfg  *engineConfig
	gone []string
}

func (cmd reconfigure) apply(c *change) error {
	c.s, c.agents, c.crmUsers = &cmd.cfg.s, cmd.cfg.agents, cmd.cfg.crmUsers
	for _, id := range cmd.gone {
		a, err := c.agent(id)
		if err != nil {
			return err
		}
		if err := c.setPresence(a, contactpad.LoggedOut); err != nil {
			return fmt.Errorf("log out agent %s, no longer configured: %w", id, err)
		}
	}
	return SyncAgents{Agents: cmd.cfg.s.Agents}.apply(c)
}
