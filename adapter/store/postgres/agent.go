package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func (t *tx) Agent(id string) (*contactpad.Agent, error) {
	a, err := scanAgent(t.queryRow(sqlAgent, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("agent", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// PutAgent writes the agent row and brings agent_services in line with
// a.Services: two set-based statements whatever the number of services.
func (t *tx) PutAgent(a *contactpad.Agent) error {
	var e encoder
	services := e.strings("services", a.Services)
	capacity := any("{}")
	if len(a.Capacity) > 0 {
		capacity = e.json("capacity", a.Capacity, false)
	}
	args := [...]any{
		a.ID, a.Name, a.CRMUserID, services, capacity, string(a.Presence),
		e.time("presence_at", a.PresenceAt), e.time("last_offer_at", a.LastOfferAt),
	}
	if e.err != nil {
		return fmt.Errorf("put agent %s: %w", a.ID, e.err)
	}
	if _, err := t.exec(sqlPutAgent, args[:]...); err != nil {
		return fmt.Errorf("put agent %s: %w", a.ID, err)
	}
	list := append([]string{}, a.Services...) // never nil: see sqlPruneAgentServices
	if _, err := t.exec(sqlPruneAgentServices, a.ID, list); err != nil {
		return fmt.Errorf("put agent %s: services: %w", a.ID, err)
	}
	if _, err := t.exec(sqlAddAgentServices, a.ID, list); err != nil {
		return fmt.Errorf("put agent %s: services: %w", a.ID, err)
	}
	return nil
}

func (t *tx) Agents() ([]*contactpad.Agent, error) {
	rows, err := t.query(sqlAgents)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	as, err := scanAll(rows, scanAgent)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return as, nil
}

// Candidates reads the agents, then the load of all of them in one query.
func (t *tx) Candidates(service string) ([]adapter.Candidate, error) {
	rows, err := t.query(sqlCandidates, service)
	if err != nil {
		return nil, fmt.Errorf("list candidates for %s: %w", service, err)
	}
	agents, err := scanAll(rows, scanAgent)
	if err != nil {
		return nil, fmt.Errorf("list candidates for %s: %w", service, err)
	}
	cs := make([]adapter.Candidate, len(agents))
	if len(agents) == 0 {
		return cs, nil
	}
	ids := make([]string, len(agents))
	for i, a := range agents {
		ids[i] = a.ID
	}
	loads, err := t.loads(ids)
	if err != nil {
		return nil, fmt.Errorf("list candidates for %s: %w", service, err)
	}
	for i, a := range agents {
		load := loads[a.ID]
		if load == nil {
			load = contactpad.Capacity{}
		}
		cs[i] = adapter.Candidate{Agent: a, Load: load}
	}
	return cs, nil
}

func (t *tx) Load(agent string) (contactpad.Capacity, error) {
	loads, err := t.loads([]string{agent})
	if err != nil {
		return nil, fmt.Errorf("load of %s: %w", agent, err)
	}
	if load := loads[agent]; load != nil {
		return load, nil
	}
	return contactpad.Capacity{}, nil
}

// loads returns the load of each agent that holds anything; an agent
// holding nothing has no entry.
func (t *tx) loads(agents []string) (map[string]contactpad.Capacity, error) {
	rows, err := t.query(sqlLoads, agents)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	loads := map[string]contactpad.Capacity{}
	for rows.Next() {
		var (
			agent, media string
			count        int64
		)
		if err := rows.Scan(&agent, &media, &count); err != nil {
			return nil, err
		}
		load := loads[agent]
		if load == nil {
			load = contactpad.Capacity{}
			loads[agent] = load
		}
		load[contactpad.Media(media)] += int(count)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return loads, nil
}

// scanAgent reads the columns of agentColumns.
func scanAgent(sc pgx.Row) (*contactpad.Agent, error) {
	var (
		a                            contactpad.Agent
		services, capacity, presence string
		presenceAt, lastOfferAt      *int64
	)
	if err := sc.Scan(&a.ID, &a.Name, &a.CRMUserID, &services, &capacity, &presence,
		&presenceAt, &lastOfferAt); err != nil {
		return nil, err
	}
	var d decoder
	a.Services = d.strings("services", services)
	a.Capacity = contactpad.Capacity{}
	d.json("capacity", &capacity, &a.Capacity)
	a.Presence = contactpad.Presence(presence)
	a.PresenceAt = timeOf(presenceAt)
	a.LastOfferAt = timeOf(lastOfferAt)
	if d.err != nil {
		return nil, fmt.Errorf("agent %s: %w", a.ID, d.err)
	}
	return &a, nil
}
