-- Omni-Channel external routing (mappings[].omni): how an interaction is
-- routed through Salesforce Omni-Channel (contactpad.OmniRouting as JSON:
-- its PendingServiceRouting, whether the current offer is an AgentWork,
-- the accepted AgentWork and the AgentWork answers already taken in);
-- NULL for interactions routed by the bridge alone.
ALTER TABLE interactions ADD COLUMN omni TEXT;
