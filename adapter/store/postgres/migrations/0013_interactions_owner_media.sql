-- An agent's load, read on every command that routes and on every view
-- that offers Resume from History, counts the media type of what the
-- agent holds: with the media type in the index, that is read from the
-- index alone, not from the interactions' rows. It replaces the index
-- of (owner, status), which it serves in full.
DROP INDEX interactions_owner;
CREATE INDEX interactions_owner ON interactions (owner, status, media);
