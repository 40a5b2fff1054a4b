-- The consults that have not ended, of every interaction: what an admin's
-- list of consults, and an agent's, reads. Ended consults are kept, so
-- the index holds only the open ones.
CREATE INDEX consults_open ON consults (created_at NULLS FIRST, id) WHERE status != 'ended';
