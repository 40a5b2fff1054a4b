-- The panel's sign-in sessions (Sign in with Salesforce), shared by every
-- replica. Only the SHA-256 of a session's secret id is kept, so a copy of
-- the store signs nobody in. A sign-out sets revoked_at; the retention job
-- deletes sessions some time after they expire.
CREATE TABLE sessions (
    id_hash    TEXT   PRIMARY KEY,
    agent      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_expires ON sessions (expires_at);
