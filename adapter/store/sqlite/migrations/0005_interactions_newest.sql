-- An agent's interactions, most recently updated first (the History
-- folder, GET /api/v1/interactions?order=newest): read backwards from the
-- owner's newest, stopping at the limit, so a long history is not read
-- and sorted whole. It costs each interaction update one more index entry,
-- as updated_at changes with every update. Lists of every owner (admins)
-- have no index in this order and sort.
CREATE INDEX interactions_owner_updated ON interactions (owner, updated_at, id);
