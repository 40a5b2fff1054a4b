-- The initial schema: the tables and columns of the SQLite store's
-- 0001_init.sql, with the same encodings (times are BIGINT nanoseconds since
-- the Unix epoch in UTC, NULL when not set; booleans are INTEGER 0/1; lists
-- and maps are JSON TEXT), so that the two stores hold the same data the
-- same way. PostgreSQL's own spellings: BIGSERIAL keys, NULLS FIRST in the
-- indexes that the queries read in that order (SQLite sorts NULL first,
-- PostgreSQL last unless told).

CREATE TABLE interactions (
    id                          TEXT    NOT NULL PRIMARY KEY,
    crm_id                      TEXT    NOT NULL DEFAULT '',
    crm_object                  TEXT    NOT NULL DEFAULT '',
    media                       TEXT    NOT NULL DEFAULT '',
    service                     TEXT    NOT NULL DEFAULT '',
    subject                     TEXT    NOT NULL DEFAULT '',
    priority                    BIGINT  NOT NULL DEFAULT 0,
    status                      TEXT    NOT NULL DEFAULT '',
    held                        INTEGER NOT NULL DEFAULT 0,
    owner                       TEXT    NOT NULL DEFAULT '',
    due_by                      BIGINT,
    due_by_set_manually         INTEGER NOT NULL DEFAULT 0,
    auto_opened_due_to_due_date INTEGER NOT NULL DEFAULT 0,
    resumed_from                TEXT    NOT NULL DEFAULT '',
    tags                        TEXT    NOT NULL DEFAULT '[]',
    category                    TEXT    NOT NULL DEFAULT '',
    transfer_note               TEXT    NOT NULL DEFAULT '',
    target_agent                TEXT    NOT NULL DEFAULT '',
    skip_agent                  TEXT    NOT NULL DEFAULT '',
    wrap_up_ends_at             BIGINT,
    wrap_up_extended            BIGINT  NOT NULL DEFAULT 0,
    offer_expires_at            BIGINT,
    queued_at                   BIGINT,
    last_activity_at            BIGINT,
    created_at                  BIGINT,
    updated_at                  BIGINT,
    version                     BIGINT  NOT NULL DEFAULT 0
);

-- Ingest is idempotent by CRM record: one interaction per record.
CREATE UNIQUE INDEX interactions_crm ON interactions (crm_object, crm_id) WHERE crm_id != '';
-- Queued: unreserved work of a service, best first.
CREATE INDEX interactions_queue ON interactions (service, priority DESC, queued_at NULLS FIRST, id) WHERE status = 'queued';
-- Queued: work reserved for one agent.
CREATE INDEX interactions_target ON interactions (target_agent, status) WHERE target_agent != '';
-- Load and the agent's folders.
CREATE INDEX interactions_owner ON interactions (owner, status);
-- Interactions, oldest first.
CREATE INDEX interactions_created ON interactions (created_at NULLS FIRST, id);

CREATE TABLE agents (
    id            TEXT   NOT NULL PRIMARY KEY,
    name          TEXT   NOT NULL DEFAULT '',
    crm_user_id   TEXT   NOT NULL DEFAULT '',
    services      TEXT   NOT NULL DEFAULT '[]',
    capacity      TEXT   NOT NULL DEFAULT '{}',
    presence      TEXT   NOT NULL DEFAULT '',
    presence_at   BIGINT,
    last_offer_at BIGINT
);

-- agent_services mirrors agents.services so Candidates filters in SQL.
CREATE TABLE agent_services (
    agent_id TEXT NOT NULL,
    service  TEXT NOT NULL,
    PRIMARY KEY (agent_id, service)
);
CREATE INDEX agent_services_service ON agent_services (service, agent_id);

CREATE TABLE transfers (
    id             TEXT   NOT NULL PRIMARY KEY,
    interaction_id TEXT   NOT NULL DEFAULT '',
    mode           TEXT   NOT NULL DEFAULT '',
    target_agent   TEXT   NOT NULL DEFAULT '',
    target_service TEXT   NOT NULL DEFAULT '',
    target_number  TEXT   NOT NULL DEFAULT '',
    note           TEXT   NOT NULL DEFAULT '',
    status         TEXT   NOT NULL DEFAULT '',
    failed_reason  TEXT   NOT NULL DEFAULT '',
    decline_reason TEXT   NOT NULL DEFAULT '',
    initiator      TEXT   NOT NULL DEFAULT '',
    assignee       TEXT   NOT NULL DEFAULT '',
    expires_at     BIGINT,
    created_at     BIGINT,
    updated_at     BIGINT
);
CREATE INDEX transfers_interaction ON transfers (interaction_id);
CREATE INDEX transfers_assignee ON transfers (assignee, status);
CREATE INDEX transfers_status ON transfers (status, created_at NULLS FIRST, id);

CREATE TABLE consults (
    id             TEXT   NOT NULL PRIMARY KEY,
    interaction_id TEXT   NOT NULL DEFAULT '',
    initiator      TEXT   NOT NULL DEFAULT '',
    target_agent   TEXT   NOT NULL DEFAULT '',
    target_service TEXT   NOT NULL DEFAULT '',
    target_number  TEXT   NOT NULL DEFAULT '',
    status         TEXT   NOT NULL DEFAULT '',
    ended_reason   TEXT   NOT NULL DEFAULT '',
    expires_at     BIGINT,
    created_at     BIGINT,
    updated_at     BIGINT
);
CREATE INDEX consults_interaction ON consults (interaction_id, status);

-- seq orders an interaction's entries as they were appended.
CREATE TABLE audit (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT   NOT NULL DEFAULT '',
    interaction_id TEXT   NOT NULL DEFAULT '',
    at             BIGINT,
    actor          TEXT   NOT NULL DEFAULT '',
    action         TEXT   NOT NULL DEFAULT '',
    category       TEXT   NOT NULL DEFAULT '',
    from_status    TEXT   NOT NULL DEFAULT '',
    to_status      TEXT   NOT NULL DEFAULT '',
    message        TEXT   NOT NULL DEFAULT '',
    data           TEXT
);
CREATE INDEX audit_interaction ON audit (interaction_id, seq);

-- payload is the whole adapter.Event as JSON; audience is kept apart because
-- Event.Audience is not part of the event's JSON. A sequence never hands
-- out a seq twice; the store takes it under its write lock, so seqs also
-- increase in commit order (see Store.Update).
CREATE TABLE events (
    seq            BIGSERIAL PRIMARY KEY,
    type           TEXT   NOT NULL DEFAULT '',
    at             BIGINT,
    interaction_id TEXT   NOT NULL DEFAULT '',
    audience       TEXT,
    payload        TEXT   NOT NULL
);

CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    interaction_id TEXT    NOT NULL DEFAULT '',
    crm_object     TEXT    NOT NULL DEFAULT '',
    crm_id         TEXT    NOT NULL DEFAULT '',
    kind           TEXT    NOT NULL DEFAULT '',
    payload        TEXT,
    state          TEXT    NOT NULL DEFAULT 'pending',
    attempts       BIGINT  NOT NULL DEFAULT 0,
    error_code     TEXT    NOT NULL DEFAULT '',
    error_message  TEXT    NOT NULL DEFAULT '',
    created_at     BIGINT
);
CREATE INDEX outbox_state ON outbox (state, id);

CREATE TABLE timers (
    kind   TEXT   NOT NULL,
    ref    TEXT   NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (kind, ref)
);
CREATE INDEX timers_due ON timers (due_at, kind, ref);
