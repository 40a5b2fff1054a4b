-- The CRM sync: outbox claims with a lease and retry backoff, per-record
-- order, the polling watermark of each CRM source, and early reopens.
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX outbox_record ON outbox (crm_object, crm_id, id);

-- Why a deferred interaction reopened by itself (due_date, customer_reply).
ALTER TABLE interactions ADD COLUMN reopen_reason TEXT NOT NULL DEFAULT '';

CREATE TABLE watermarks (
    source TEXT NOT NULL PRIMARY KEY,
    value  TEXT NOT NULL
);
