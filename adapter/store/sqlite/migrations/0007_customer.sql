-- Who the customer is (a phone number or a name, as the mapping's
-- `customer` field makes it), shown on the agent's panel beside the live
-- call; and when the interaction last connected to its owner, the start of
-- the panel's talk timer (NULL until it first connects).
ALTER TABLE interactions ADD COLUMN customer TEXT NOT NULL DEFAULT '';
ALTER TABLE interactions ADD COLUMN connected_at BIGINT;
