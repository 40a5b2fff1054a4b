-- The writeback's claim: the pending rows in the order of their due time
-- (next_attempt_at, 0 for a row never tried), so that a claim reads the
-- rows that are due without those waiting for their retry. Pending rows
-- only: a claim that takes rows in flight again leaves this index alone.
-- outbox_state (state, id) stays: it walks the rows in flight and lists a
-- state in ID order.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'pending';
