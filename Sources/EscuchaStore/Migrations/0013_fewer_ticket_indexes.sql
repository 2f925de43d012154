-- 0013 — every new ticket paid for indexes no query used. The flags and sectors GIN
-- indexes answer only array operators (&&, @>, <@), and every reader unnests the arrays
-- instead (reports, the console's family filter, escalation); the first queue index was
-- superseded by the console's urgency order (0008). Tickets nobody is assigned to, which
-- is most of what intake creates, need no entry in the assignee index.
DROP INDEX tickets_flags_idx;
DROP INDEX tickets_sectors_idx;
DROP INDEX tickets_queue_idx;
DROP INDEX tickets_assignee_idx;
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id)
    WHERE assignee_id IS NOT NULL AND status NOT IN ('resolved', 'closed');
