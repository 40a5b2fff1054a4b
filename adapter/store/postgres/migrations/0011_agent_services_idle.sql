-- Routing's candidate is the available agent of the service with room who
-- waited longest since their last offer. agent_services mirrors each
-- agent's presence and last offer, so that a service's available agents
-- come in that order from one index and the search stops at the first
-- with room, instead of weighing every agent of the service.
ALTER TABLE agent_services ADD COLUMN presence TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_services ADD COLUMN last_offer_at BIGINT;
UPDATE agent_services SET
    presence = (SELECT a.presence FROM agents a WHERE a.id = agent_services.agent_id),
    last_offer_at = (SELECT a.last_offer_at FROM agents a WHERE a.id = agent_services.agent_id);
CREATE INDEX agent_services_idle ON agent_services (service, presence, last_offer_at NULLS FIRST, agent_id);
