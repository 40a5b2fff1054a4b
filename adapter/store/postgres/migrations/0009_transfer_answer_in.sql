-- Omni-Channel external routing: a warm transfer request of work routed
-- through Salesforce Omni-Channel is delivered to its assignee as an
-- AgentWork and answered in the Omni-Channel widget ('omni_channel');
-- '' for requests answered in the panel.
ALTER TABLE transfers ADD COLUMN answer_in TEXT NOT NULL DEFAULT '';
