-- 0005 — escalation workflow (Config/escalation.yaml, EscuchaWorkflow.EscalationWorker).
--
-- One `escalations` row per (ticket, rule, level): level 0 is planned at intake, each
-- fired level plans the next (the next person in the chain, or a reminder to the last)
-- with ON CONFLICT DO NOTHING, so a retried step never doubles. Workers claim due rows
-- with FOR UPDATE SKIP LOCKED and fire them in the same transaction.
-- Acknowledgement sets `acknowledged_at` on every pending row of the ticket; a ticket
-- resolved or closed before a row fires cancels it (`cancelled_at`).

ALTER TABLE escalations
    ADD COLUMN cancelled_at   timestamptz,
    ADD COLUMN notifications  integer NOT NULL DEFAULT 0,   -- outbox rows written when fired
    ADD COLUMN reminder       integer NOT NULL DEFAULT 0;   -- 0: first notice of the level

-- The worker's claim: due rows that are neither fired, acknowledged nor cancelled.
DROP INDEX IF EXISTS escalations_due_idx;
CREATE INDEX escalations_due_idx ON escalations (due_at)
    WHERE fired_at IS NULL AND acknowledged_at IS NULL AND cancelled_at IS NULL;

-- Work addresses of officers are kept in Config/teams.yaml; the table records who they are
-- for clearance and acknowledgement.
CREATE INDEX officers_team_idx ON officers (team) WHERE active;
