-- 0008 — what the officers' console needs: an urgency order the queue can page through
-- by keyset, live-update notifications, human labels, resolution codes, and the two
-- operations on a person's address that officers may do without ever reading it in the
-- application's tables (reply through the outbox, reveal with clearance — audited).

-- The deadline that matters now: acknowledgement until someone took the ticket in hand,
-- then resolution. 'infinity' when there is none, so keyset comparisons never meet NULL.
ALTER TABLE tickets
    ADD COLUMN next_due_at timestamptz GENERATED ALWAYS AS (
        COALESCE(CASE WHEN acknowledged_at IS NULL THEN ack_due_at ELSE resolve_due_at END, 'infinity')
    ) STORED,
    ADD COLUMN resolution_code text;

-- The queue: most severe first, then the nearest deadline, then the oldest.
CREATE INDEX tickets_urgency_idx ON tickets (severity_rank DESC, next_due_at, id)
    WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX tickets_urgency_all_idx ON tickets (severity_rank DESC, next_due_at, id);

-- Live updates: one notification per statement (not per row), so bulk loads stay cheap;
-- consoles reload the page they show and keep the cursor on the same ticket.
CREATE FUNCTION escucha_notify_queue() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('escucha_queue', TG_OP);
    RETURN NULL;
END;
$$;
CREATE TRIGGER tickets_notify_queue AFTER INSERT OR UPDATE OR DELETE ON tickets
    FOR EACH STATEMENT EXECUTE FUNCTION escucha_notify_queue();

-- An officer's correction of the classifier: stored as a human label (evaluation data,
-- `escucha export labels`), and applied to the ticket.
CREATE TABLE human_labels (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES tickets (id),
    message_id  bigint REFERENCES messages (id),       -- the message the label is about
    officer     text NOT NULL,
    type        text,
    flags       text[] NOT NULL DEFAULT '{}',
    sectors     text[] NOT NULL DEFAULT '{}',
    previous    jsonb NOT NULL DEFAULT '{}',           -- what the ticket said before
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX human_labels_ticket_idx ON human_labels (ticket_id, created_at);
ALTER TABLE human_labels ENABLE ROW LEVEL SECURITY;
CREATE POLICY human_labels_officer_read ON human_labels FOR SELECT TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));
CREATE POLICY human_labels_officer_insert ON human_labels FOR INSERT TO escucha_officer WITH CHECK (escucha_can_read_ticket_id(ticket_id));
GRANT SELECT, INSERT ON human_labels TO escucha_officer;

-- Queues a message to the ticket's person through the outbox: the encrypted address is
-- copied inside the database, so the officer's session never reads it. Refuses tickets
-- the officer may not read, tickets without a contact, and people who opted out.
CREATE FUNCTION escucha_queue_to_contact(p_ticket bigint, p_kind text, p_channel text, p_payload jsonb, p_key text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    v_officer text := NULLIF(current_setting('escucha.officer', true), '');
    v_contact contacts%ROWTYPE;
    v_id bigint;
BEGIN
    IF v_officer IS NULL THEN
        RAISE EXCEPTION 'no session officer' USING ERRCODE = '42501';
    END IF;
    IF NOT escucha_can_read_ticket_id(p_ticket) THEN
        RAISE EXCEPTION 'officer may not read this ticket' USING ERRCODE = '42501';
    END IF;
    SELECT c.* INTO v_contact FROM contacts c JOIN tickets t ON t.contact_id = c.id WHERE t.id = p_ticket;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the ticket has no contact to write to' USING ERRCODE = 'P0002';
    END IF;
    IF v_contact.opted_out_at IS NOT NULL THEN
        RAISE EXCEPTION 'the person asked not to be contacted' USING ERRCODE = 'P0003';
    END IF;
    INSERT INTO outbox (ticket_id, kind, channel_id, destination, payload, idempotency_key)
    VALUES (p_ticket, p_kind, p_channel, v_contact.address_enc, p_payload, p_key)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;

-- Gives a cleared officer the encrypted address of a ticket's person, and records that
-- they saw it. Officers without clearance get an error, and nothing is recorded as seen.
CREATE FUNCTION escucha_reveal_contact(p_ticket bigint, p_interface text)
RETURNS bytea LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    v_officer text := NULLIF(current_setting('escucha.officer', true), '');
    v_address bytea;
BEGIN
    IF v_officer IS NULL OR NOT EXISTS (
        SELECT 1 FROM officers WHERE login = v_officer AND active AND clearance) THEN
        RAISE EXCEPTION 'revealing a contact needs clearance' USING ERRCODE = '42501';
    END IF;
    IF NOT escucha_can_read_ticket_id(p_ticket) THEN
        RAISE EXCEPTION 'officer may not read this ticket' USING ERRCODE = '42501';
    END IF;
    SELECT c.address_enc INTO v_address FROM contacts c JOIN tickets t ON t.contact_id = c.id WHERE t.id = p_ticket;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the ticket has no contact' USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO ticket_events (ticket_id, actor, interface, action, details)
    VALUES (p_ticket, v_officer, p_interface, 'contact_revealed', '{}');
    RETURN v_address;
END;
$$;

REVOKE ALL ON FUNCTION escucha_queue_to_contact(bigint, text, text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION escucha_reveal_contact(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escucha_queue_to_contact(bigint, text, text, jsonb, text) TO escucha_officer;
GRANT EXECUTE ON FUNCTION escucha_reveal_contact(bigint, text) TO escucha_officer;
