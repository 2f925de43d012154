-- 0011 — indexes for the early-warning report's reads outside the daily summary: emerging
-- terms read the people's messages of the last five weeks; accountability counts open
-- tickets past their resolution deadline; readers without clearance leave out restricted
-- tickets (an anti-join on the small set of their ids).
CREATE INDEX messages_in_received_idx ON messages (received_at) WHERE direction = 'in';
CREATE INDEX tickets_open_resolve_due_idx ON tickets (resolve_due_at) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX tickets_restricted_id_idx ON tickets (id) WHERE restricted;
