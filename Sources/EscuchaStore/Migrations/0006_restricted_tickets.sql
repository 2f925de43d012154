-- 0006 — restricted tickets are protected by PostgreSQL row-level security, and the audit
-- log is append-only for the application.
--
-- Officers' sessions run as the role `escucha_officer` (the console and any officer-facing
-- tool: `SET ROLE escucha_officer`, or log in as a role that is a member of it) and say who
-- they are per transaction: `SELECT set_config('escucha.officer', 'LOGIN', true)`.
-- The policies below then apply to every query the application runs, hand-written SQL
-- included:
--  * a restricted ticket is readable only by an active officer with clearance of the
--    ticket's team (or its assignee); without a session officer nothing restricted is;
--  * its messages, classifications, escalations, outbox rows, audit events and contact
--    follow the ticket;
--  * everyone may see that a restricted ticket exists through `ticket_stubs` (reference,
--    age, deadlines), never its text, flags or contact;
--  * raw inbound requests, message parts and contact events are not granted at all.
-- Intake and workers run as the owner of the tables (not subject to these policies).

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'escucha_officer') THEN
        CREATE ROLE escucha_officer NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- created concurrently by a migration of another database of the cluster
END
$$;

-- Whether the session's officer may read a ticket with these attributes. SECURITY DEFINER:
-- reads `officers` whatever the caller may see.
CREATE FUNCTION escucha_can_read_ticket(p_restricted boolean, p_team text, p_assignee bigint)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT NOT p_restricted OR EXISTS (
        SELECT 1 FROM officers o
         WHERE o.login = NULLIF(current_setting('escucha.officer', true), '')
           AND o.active AND o.clearance
           AND (o.team = p_team OR o.id = p_assignee OR (p_team IS NULL AND 'admin' = ANY (o.roles))))
$$;

-- The same by ticket id (for tables that hang off a ticket). NULL ticket: readable.
CREATE FUNCTION escucha_can_read_ticket_id(p_ticket bigint)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT p_ticket IS NULL OR EXISTS (
        SELECT 1 FROM tickets t WHERE t.id = p_ticket AND escucha_can_read_ticket(t.restricted, t.team, t.assignee_id))
$$;

-- A contact is readable only when every ticket of theirs is: linking a person to a
-- restricted case is itself a disclosure.
CREATE FUNCTION escucha_can_read_contact(p_contact bigint)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM tickets t
         WHERE t.contact_id = p_contact AND NOT escucha_can_read_ticket(t.restricted, t.team, t.assignee_id))
$$;

ALTER TABLE tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tickets_officer_read ON tickets FOR SELECT TO escucha_officer
    USING (escucha_can_read_ticket(restricted, team, assignee_id));
CREATE POLICY tickets_officer_update ON tickets FOR UPDATE TO escucha_officer
    USING (escucha_can_read_ticket(restricted, team, assignee_id));

ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY messages_officer_read ON messages FOR SELECT TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));
CREATE POLICY messages_officer_insert ON messages FOR INSERT TO escucha_officer WITH CHECK (escucha_can_read_ticket_id(ticket_id));

ALTER TABLE classifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY classifications_officer_read ON classifications FOR SELECT TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));

ALTER TABLE escalations ENABLE ROW LEVEL SECURITY;
CREATE POLICY escalations_officer_read ON escalations FOR SELECT TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));
CREATE POLICY escalations_officer_update ON escalations FOR UPDATE TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY outbox_officer_read ON outbox FOR SELECT TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));
CREATE POLICY outbox_officer_insert ON outbox FOR INSERT TO escucha_officer WITH CHECK (escucha_can_read_ticket_id(ticket_id));

ALTER TABLE ticket_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY ticket_events_officer_read ON ticket_events FOR SELECT TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));
CREATE POLICY ticket_events_officer_insert ON ticket_events FOR INSERT TO escucha_officer WITH CHECK (escucha_can_read_ticket_id(ticket_id));

ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY contacts_officer_read ON contacts FOR SELECT TO escucha_officer USING (escucha_can_read_contact(id));

-- What anyone may know of any ticket: that it exists, how old it is, when it is due.
-- Owned by the migration's role, so it reads past the policies; it holds no text, flags,
-- severity, contact or team.
CREATE VIEW ticket_stubs AS
    SELECT t.id, t.reference, t.status, t.restricted, t.created_at, t.ack_due_at, t.resolve_due_at,
           escucha_can_read_ticket(t.restricted, t.team, t.assignee_id) AS readable
      FROM tickets t;

-- Records that the session's officer opened a ticket (every view of a restricted ticket is
-- audited). Refuses tickets the officer may not read.
CREATE FUNCTION escucha_record_view(p_ticket bigint, p_interface text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    v_officer text := NULLIF(current_setting('escucha.officer', true), '');
BEGIN
    IF v_officer IS NULL THEN
        RAISE EXCEPTION 'no session officer' USING ERRCODE = '42501',
            HINT = 'run SELECT set_config(''escucha.officer'', LOGIN, true) in the transaction first';
    END IF;
    IF NOT escucha_can_read_ticket_id(p_ticket) THEN
        RAISE EXCEPTION 'officer may not read this ticket' USING ERRCODE = '42501';
    END IF;
    INSERT INTO ticket_events (ticket_id, actor, interface, action, details)
    VALUES (p_ticket, v_officer, p_interface, 'viewed', '{}');
END;
$$;

-- Grants: officers read and work tickets; the audit log is SELECT and INSERT only (no
-- UPDATE, DELETE or TRUNCATE: the triggers of 0001 refuse them for every role too).
GRANT SELECT ON teams, officers TO escucha_officer;
GRANT SELECT, UPDATE ON tickets TO escucha_officer;
GRANT SELECT, INSERT ON messages TO escucha_officer;
GRANT SELECT ON classifications TO escucha_officer;
GRANT SELECT, UPDATE (acknowledged_at, acknowledged_by) ON escalations TO escucha_officer;
GRANT SELECT, INSERT ON outbox TO escucha_officer;
GRANT SELECT, INSERT ON ticket_events TO escucha_officer;
GRANT SELECT (id, kind, masked, language, opted_out_at, created_at, last_seen_at) ON contacts TO escucha_officer;
GRANT SELECT ON ticket_stubs TO escucha_officer;
REVOKE UPDATE, DELETE, TRUNCATE ON ticket_events FROM escucha_officer;
REVOKE ALL ON FUNCTION escucha_record_view(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escucha_record_view(bigint, text) TO escucha_officer;
