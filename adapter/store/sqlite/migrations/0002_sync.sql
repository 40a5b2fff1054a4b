-- The CRM sync: outbox claims with a lease and retry backoff, per-record
-- order, and the polling watermark of each CRM source.
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_record ON outbox (crm_object, crm_id, id);

CREATE TABLE watermarks (
    source TEXT NOT NULL PRIMARY KEY,
    value  TEXT NOT NULL
);
