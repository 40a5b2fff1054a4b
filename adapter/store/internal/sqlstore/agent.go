package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/ctibridge/ctibridge/adapter"
	"github.com/ctibridge/ctibridge/contactpad"
)

func (t *Tx) Agent(id string) (*contactpad.Agent, error) {
	a, err := scanAgent(t.queryRow(StmtAgent, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("agent", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// PutAgent writes the agent row and brings agent_services in line with
// a.Services: two set-based statements whatever the number of services.
// An agent whose services have not changed (presence, an offer) costs two
// UPDATEs: agent_services, which only PutAgent writes, mirrors them
// already, and takes the agent's presence and last offer (Candidate's
// order).
func (t *Tx) PutAgent(a *contactpad.Agent) error {
	var e encoder
	services := e.strings("services", a.Services)
	capacity := any("{}")
	if len(a.Capacity) > 0 {
		capacity = string(appendCapacityJSON(make([]byte, 0, 64), a.Capacity))
	}
	args := [...]any{
		a.ID, a.Name, a.CRMUserID, services, capacity, string(a.Presence),
		e.time("presence_at", a.PresenceAt), e.time("last_offer_at", a.LastOfferAt),
	}
	if e.err != nil {
		return fmt.Errorf("put agent %s: %w", a.ID, e.err)
	}
	same, err := t.exec(StmtUpdateAgentSameServices, args[1], args[2], args[4], args[5], args[6], args[7], a.ID, services)
	if err != nil {
		return fmt.Errorf("put agent %s: %w", a.ID, err)
	}
	if same == 1 {
		return t.putAgentIdle(a.ID, args[5], args[7])
	}
	if _, err := t.exec(StmtPutAgent, args[:]...); err != nil {
		return fmt.Errorf("put agent %s: %w", a.ID, err)
	}
	// Where lists are passed as JSON, the column's JSON is the list.
	var list any = services
	if !t.dialect.JSONLists {
		var err error
		if list, err = t.list(a.Services); err != nil {
			return fmt.Errorf("put agent %s: services: %w", a.ID, err)
		}
	}
	if _, err := t.exec(StmtPruneAgentServices, a.ID, list); err != nil {
		return fmt.Errorf("put agent %s: services: %w", a.ID, err)
	}
	if _, err := t.exec(StmtAddAgentServices, a.ID, list); err != nil {
		return fmt.Errorf("put agent %s: services: %w", a.ID, err)
	}
	return t.putAgentIdle(a.ID, args[5], args[7])
}

// putAgentIdle copies the agent's presence and last offer to its rows of
// agent_services.
func (t *Tx) putAgentIdle(id string, presence, lastOfferAt any) error {
	if _, err := t.exec(StmtAgentServicesIdle, presence, lastOfferAt, id); err != nil {
		return fmt.Errorf("put agent %s: services: %w", id, err)
	}
	return nil
}

func (t *Tx) Agents() ([]*contactpad.Agent, error) {
	rows, err := t.query(StmtAgents)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	as, err := scanAll(rows, scanAgent)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return as, nil
}

func (t *Tx) Candidate(q adapter.CandidateQuery) (*contactpad.Agent, error) {
	a, err := scanAgent(t.queryRow(StmtCandidate, q.Service, string(q.Media), q.Skip, boolInt(q.Idle), q.Sender))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("candidate for "+q.Service, string(q.Media))
	}
	if err != nil {
		return nil, fmt.Errorf("candidate for %s %s: %w", q.Service, q.Media, err)
	}
	return a, nil
}

func (t *Tx) Load(agent string) (contactpad.Capacity, error) {
	// The agent is both parameters, so that SQLite binds them as bare ?s.
	rows, err := t.query(StmtLoad, agent, agent)
	if err != nil {
		return nil, fmt.Errorf("load of %s: %w", agent, err)
	}
	defer rows.Close()
	load := contactpad.Capacity{}
	for rows.Next() {
		var media string
		if err := rows.Scan(&media); err != nil {
			return nil, fmt.Errorf("load of %s: %w", agent, err)
		}
		load[contactpad.Media(media)]++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load of %s: %w", agent, err)
	}
	return load, nil
}

// scanAgent reads the columns of agentColumns.
func scanAgent(sc scanner) (*contactpad.Agent, error) {
	var (
		a                            contactpad.Agent
		services, capacity, presence string
		presenceAt, lastOfferAt      any
	)
	if err := sc.Scan(&a.ID, &a.Name, &a.CRMUserID, &services, &capacity, &presence,
		&presenceAt, &lastOfferAt); err != nil {
		return nil, err
	}
	var d decoder
	a.Services = d.strings("services", services)
	a.Capacity = contactpad.Capacity{}
	if !parseCapacityJSON(capacity, a.Capacity) {
		d.json("capacity", capacity, &a.Capacity)
	}
	a.Presence = contactpad.Presence(presence)
	a.PresenceAt = d.time("presence_at", presenceAt)
	a.LastOfferAt = d.time("last_offer_at", lastOfferAt)
	if d.err != nil {
		return nil, fmt.Errorf("agent %s: %w", a.ID, d.err)
	}
	return &a, nil
}
