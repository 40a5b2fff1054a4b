-- The CRM is a peer: what the bridge knows of the record each interaction
-- mirrors (contactpad.RecordSync as JSON: the values the CRM holds, the
-- values the bridge wants, the fields it changed), and the records that
-- could not be ingested, which the poll reads again until they go in.
ALTER TABLE interactions ADD COLUMN crm_sync TEXT;

-- Who leased an outbox row in flight: a writer restarted under the same
-- name takes its rows back at once instead of waiting out the lease.
ALTER TABLE outbox ADD COLUMN holder TEXT NOT NULL DEFAULT '';

CREATE TABLE ingest_failures (
    source          TEXT   NOT NULL,
    crm_id          TEXT   NOT NULL,
    crm_object      TEXT   NOT NULL DEFAULT '',
    reason          TEXT   NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_at        BIGINT,
    last_at         BIGINT,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, crm_id)
);
CREATE INDEX ingest_failures_next ON ingest_failures (source, next_attempt_at, crm_id);

-- A warm transfer's note is stored once, with its interaction
-- (interactions.transfer_note): kept from attempt to attempt.
ALTER TABLE transfers DROP COLUMN note;

-- Who transferred a queued interaction away: routing never gives it back
-- to them until another agent has taken it.
ALTER TABLE interactions ADD COLUMN transferred_from TEXT NOT NULL DEFAULT '';
