-- 0012 — intake's common case in one call: a new message from a person with no open
-- ticket to thread into becomes a ticket, its classification, escalation plan, audit and
-- acknowledgement in a single statement, with every row written once.
--
-- Before, intake wrote the ticket and then updated it with what the escalation rules
-- decided (a second row version, both statement triggers and every index of tickets
-- twice), linked the message by updating it, and spent seven round trips. The rules are
-- pure, so intake evaluates them for a ticket that does not exist yet and passes the
-- result here. When the message is a retry, or the person has a ticket it threads into,
-- the function writes nothing (but the contact) and says so: intake then takes its
-- general path, which reads the ticket and applies the rules to all its flags.
--
-- The function is VOLATILE, so each statement sees what committed before it: the contact
-- upsert waits for a concurrent message of the same person, and the thread lookup after
-- it then sees that message's ticket.
CREATE FUNCTION escucha_intake_new_message(
    p_inbound_id        bigint,         -- the request this one message came in; NULL for none
    p_channel_id        text,
    p_message_kind      text,
    p_external_id       text,
    p_text              text,
    p_received_at       timestamptz,
    p_language          text,
    p_contact_kind      text,
    p_address_enc       bytea,
    p_address_hash      text,
    p_masked            text,
    p_typed_references  text[],         -- ticket references written in the text, normalised
    p_window_seconds    bigint,         -- threading window
    p_references        text[],         -- candidate references for the new ticket, in order
    p_type              text,
    p_flags             text[],
    p_sectors           text[],
    p_severity          text,           -- the classifier's and the rules' higher severity
    p_restricted        boolean,
    p_location          text,
    p_team              text,
    p_assignee          text,           -- officer login, assigned when active
    p_ack_due_at        timestamptz,
    p_resolve_due_at    timestamptz,
    p_classifier        text,
    p_class_language    text,
    p_class_flags       text[],
    p_class_severity    text,
    p_class_restricted  boolean,
    p_places            jsonb,
    p_evidence          jsonb,
    p_created_details   jsonb,          -- the function adds message_id
    p_rules_at          timestamptz,
    p_rules_details     jsonb,          -- NULL when no rules apply at all
    p_step_rules        text[],
    p_step_levels       int8[],
    p_step_targets      text[],
    p_step_due_at       timestamptz[],
    p_ack_payload       jsonb           -- NULL: no acknowledgement; its text names p_references[1]
) RETURNS TABLE (outcome text, message_id bigint, ticket_id bigint, reference text)
LANGUAGE plpgsql VOLATILE
-- The statements are the same every time: planning them once beats planning each call.
SET plan_cache_mode = force_generic_plan
AS $$
-- The result columns share names with table columns; in statements the names mean columns.
#variable_conflict use_column
DECLARE
    v_message   bigint;
    v_ticket    bigint;
    v_contact   bigint;
    v_opted_out timestamptz;
    v_reference text;
    v_planned   bigint := 0;
    v_payload   jsonb := p_ack_payload;
BEGIN
    SELECT m.id, m.ticket_id INTO v_message, v_ticket
      FROM messages m WHERE m.channel_id = p_channel_id AND m.external_id = p_external_id;
    IF FOUND THEN
        RETURN QUERY SELECT 'duplicate'::text, v_message, v_ticket, NULL::text;
        RETURN;
    END IF;

    INSERT INTO contacts AS c (kind, address_enc, address_hash, masked, language)
    VALUES (p_contact_kind, p_address_enc, p_address_hash, p_masked, p_language)
    ON CONFLICT (address_hash) DO UPDATE SET last_seen_at = now(), language = EXCLUDED.language
    RETURNING c.id, c.opted_out_at INTO v_contact, v_opted_out;

    SELECT COALESCE(
        (SELECT t.id FROM tickets t WHERE t.reference = ANY (p_typed_references) AND t.contact_id = v_contact
          ORDER BY t.created_at DESC LIMIT 1),
        (SELECT t.id FROM tickets t
          WHERE t.contact_id = v_contact AND t.status NOT IN ('resolved', 'closed')
            AND EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id
                          AND m.received_at > now() - make_interval(secs => p_window_seconds::double precision))
          ORDER BY t.updated_at DESC LIMIT 1))
      INTO v_ticket;
    IF v_ticket IS NOT NULL THEN
        RETURN QUERY SELECT 'threaded'::text, NULL::bigint, v_ticket, NULL::text;
        RETURN;
    END IF;

    IF p_team IS NOT NULL THEN
        INSERT INTO teams (id, name) VALUES (p_team, p_team) ON CONFLICT (id) DO NOTHING;
    END IF;
    FOREACH v_reference IN ARRAY p_references LOOP
        INSERT INTO tickets (reference, status, type, flags, sectors, severity, restricted, language, location,
                             contact_id, channel_id, team, assignee_id, ack_due_at, resolve_due_at)
        VALUES (v_reference, 'new', p_type, p_flags, p_sectors, p_severity, p_restricted, p_language, p_location,
                v_contact, p_channel_id, p_team,
                (SELECT o.id FROM officers o WHERE o.login = p_assignee AND o.active),
                p_ack_due_at, p_resolve_due_at)
        ON CONFLICT (reference) DO NOTHING
        RETURNING id INTO v_ticket;
        EXIT WHEN v_ticket IS NOT NULL;
    END LOOP;
    IF v_ticket IS NULL THEN
        RAISE EXCEPTION 'could not draw a free ticket reference' USING ERRCODE = 'P0001';
    END IF;

    -- A concurrent retry of the same message that committed since the first check makes
    -- this INSERT fail with a unique violation: the whole call rolls back, and intake's
    -- general path answers it as a duplicate.
    INSERT INTO messages (inbound_id, ticket_id, contact_id, channel_id, kind, external_id, direction, text, received_at, language)
    VALUES (p_inbound_id, v_ticket, v_contact, p_channel_id, p_message_kind, p_external_id, 'in', p_text, p_received_at, p_language)
    RETURNING id INTO v_message;

    INSERT INTO classifications (message_id, ticket_id, classifier_version, type, flags, sectors, language, places, evidence, severity, restricted)
    VALUES (v_message, v_ticket, p_classifier, p_type, p_class_flags, p_sectors, p_class_language, p_places, p_evidence,
            p_class_severity, p_class_restricted);

    IF cardinality(p_step_rules) > 0 THEN
        INSERT INTO escalations (ticket_id, rule, level, target, due_at)
        SELECT v_ticket, s.rule, s.level, s.target, s.due_at
          FROM unnest(p_step_rules, p_step_levels, p_step_targets, p_step_due_at) AS s(rule, level, target, due_at)
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_planned = ROW_COUNT;
    END IF;

    -- One VALUES list, so the two events keep their order.
    INSERT INTO ticket_events (ticket_id, at, actor, interface, action, details)
    SELECT v_ticket, e.at, 'system', e.interface, e.action, e.details
      FROM (VALUES (1, now(), 'http', 'created', p_created_details || jsonb_build_object('message_id', v_message::text)),
                   -- The rules were evaluated in the server just before; never shown before the creation.
                   (2, GREATEST(p_rules_at, now()), 'system', 'rules', p_rules_details || jsonb_build_object('planned', v_planned))) AS e(n, at, interface, action, details)
     WHERE e.details IS NOT NULL
     ORDER BY e.n;

    IF v_payload IS NOT NULL AND v_opted_out IS NULL THEN
        IF v_reference <> p_references[1] THEN
            v_payload := jsonb_set(v_payload, '{text}', to_jsonb(replace(v_payload ->> 'text', p_references[1], v_reference)));
        END IF;
        INSERT INTO outbox (ticket_id, kind, channel_id, destination, payload, idempotency_key)
        VALUES (v_ticket, 'sms', p_channel_id, p_address_enc, v_payload, 'ack:' || v_message)
        ON CONFLICT (idempotency_key) DO NOTHING;
    END IF;

    RETURN QUERY SELECT 'created'::text, v_message, v_ticket, v_reference;
END;
$$;

-- Concurrent requests share one call and one commit: the server groups the new messages
-- that arrive while a call is running. The group is written set by set (each table once
-- for the whole group, each statement trigger once), so a commit's fixed costs and each
-- statement's locks, index openings and triggers are paid once per group.
--
-- Items are objects whose members are the parameters of escucha_intake_new_message
-- without their p_ prefix (references as candidate_references, address_enc in bytea's
-- hex text), read into this type.
CREATE TYPE escucha_intake_item AS (
    n                    integer,
    inbound_id           bigint,
    channel_id           text,
    message_kind         text,
    external_id          text,
    text                 text,
    received_at          timestamptz,
    language             text,
    contact_kind         text,
    address_enc          bytea,
    address_hash         text,
    masked               text,
    typed_references     text[],
    window_seconds       bigint,
    candidate_references text[],
    type                 text,
    flags                text[],
    sectors              text[],
    severity             text,
    restricted           boolean,
    location             text,
    team                 text,
    assignee             text,
    ack_due_at           timestamptz,
    resolve_due_at       timestamptz,
    classifier           text,
    class_language       text,
    class_flags          text[],
    class_severity       text,
    class_restricted     boolean,
    places               jsonb,
    evidence             jsonb,
    created_details      jsonb,
    rules_at             timestamptz,
    rules_details        jsonb,
    step_rules           text[],
    step_levels          bigint[],
    step_targets         text[],
    step_due_at          timestamptz[],
    ack_payload          jsonb
);

-- Each item is a request that carried one message: for a created item, the request's
-- inbound row gets its outcome here too.
--
-- The same contract as escucha_intake_new_message, per item: 'created', 'duplicate',
-- 'threaded' (nothing written but the contact), or 'failed' with a SQLSTATE (or
-- 'reference' when the ticket's reference was taken) for intake to retry alone.
--
-- First the whole group at once: retries recognised, contacts upserted in address_hash
-- order (so two groups lock contacts in the same order, and a concurrent message of the
-- same person is waited for), then, in a statement that sees what committed meanwhile,
-- the thread lookup and every row of the new tickets. Anything unusual in a group — the
-- same person or message twice, a concurrent retry — makes that part fail as a whole; it
-- is rolled back and the group is written item by item instead, each item in a
-- subtransaction of its own, so a failing item never takes the others down.
CREATE FUNCTION escucha_intake_new_messages(p_items jsonb)
RETURNS TABLE (item integer, outcome text, message_id bigint, ticket_id bigint, reference text, error text)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    v_items     escucha_intake_item[];
    v_one       escucha_intake_item;
    v_done      integer[];
    v_dup_ids   bigint[];
    v_dup_tix   bigint[];
    v_hashes    text[];
    v_contacts  bigint[];
    v_opted_out timestamptz[];
    v_result    record;
    v_inbound   bigint[] := '{}';
    v_messages  bigint[] := '{}';
    r_item      integer[];
    r_outcome   text[];
    r_message   bigint[];
    r_ticket    bigint[];
    r_reference text[];
    r_error     text[];
BEGIN
    v_items := ARRAY(
        SELECT jsonb_populate_record(NULL::escucha_intake_item, e.value || jsonb_build_object('n', e.ordinality))
          FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e ORDER BY e.ordinality);

    BEGIN
        -- One index probe per item (a join could pick a scan of all messages).
        SELECT coalesce(array_agg(d.n), '{}'), coalesce(array_agg(d.id), '{}'), coalesce(array_agg(d.ticket_id), '{}')
          INTO v_done, v_dup_ids, v_dup_tix
          FROM (SELECT i.n, (SELECT m.id FROM messages m WHERE m.channel_id = i.channel_id AND m.external_id = i.external_id) AS id,
                       (SELECT m.ticket_id FROM messages m WHERE m.channel_id = i.channel_id AND m.external_id = i.external_id) AS ticket_id
                  FROM unnest(v_items) AS i) AS d
         WHERE d.id IS NOT NULL;

        WITH upserted AS (
            INSERT INTO contacts AS c (kind, address_enc, address_hash, masked, language)
            SELECT i.contact_kind, i.address_enc, i.address_hash, i.masked, i.language
              FROM unnest(v_items) AS i WHERE i.n <> ALL (v_done) ORDER BY i.address_hash
            ON CONFLICT (address_hash) DO UPDATE SET last_seen_at = now(), language = EXCLUDED.language
            RETURNING c.address_hash, c.id, c.opted_out_at)
        SELECT coalesce(array_agg(u.address_hash), '{}'), coalesce(array_agg(u.id), '{}'), coalesce(array_agg(u.opted_out_at), '{}')
          INTO v_hashes, v_contacts, v_opted_out
          FROM upserted u;

        -- Collected, not returned: rows returned here would stay in the result even if a
        -- later check of this statement failed and the group were written item by item.
        WITH fresh_items AS (
            SELECT i.*, c.contact_id, c.opted_out_at
              FROM unnest(v_items) AS i
              JOIN unnest(v_hashes, v_contacts, v_opted_out) AS c(address_hash, contact_id, opted_out_at) USING (address_hash)
             WHERE i.n <> ALL (v_done)),
        thread AS (
            SELECT f.n, COALESCE(
                (SELECT t.id FROM tickets t WHERE t.reference = ANY (f.typed_references) AND t.contact_id = f.contact_id
                  ORDER BY t.created_at DESC LIMIT 1),
                (SELECT t.id FROM tickets t
                  WHERE t.contact_id = f.contact_id AND t.status NOT IN ('resolved', 'closed')
                    AND EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id
                                  AND m.received_at > now() - make_interval(secs => f.window_seconds::double precision))
                  ORDER BY t.updated_at DESC LIMIT 1)) AS thread_id
              FROM fresh_items f),
        fresh AS (SELECT f.* FROM fresh_items f JOIN thread USING (n) WHERE thread.thread_id IS NULL),
        team AS (
            INSERT INTO teams (id, name) SELECT DISTINCT f.team, f.team FROM fresh f WHERE f.team IS NOT NULL
            ON CONFLICT (id) DO NOTHING),
        ticket AS (
            INSERT INTO tickets (reference, status, type, flags, sectors, severity, restricted, language, location,
                                 contact_id, channel_id, team, assignee_id, ack_due_at, resolve_due_at)
            SELECT f.candidate_references[1], 'new', f.type, f.flags, f.sectors, f.severity, f.restricted, f.language, f.location,
                   f.contact_id, f.channel_id, f.team, (SELECT o.id FROM officers o WHERE o.login = f.assignee AND o.active),
                   f.ack_due_at, f.resolve_due_at
              FROM fresh f ORDER BY f.n
            ON CONFLICT (reference) DO NOTHING
            RETURNING id, reference, contact_id),
        message AS (
            INSERT INTO messages (inbound_id, ticket_id, contact_id, channel_id, kind, external_id, direction, text, received_at, language)
            SELECT f.inbound_id, t.id, f.contact_id, f.channel_id, f.message_kind, f.external_id, 'in', f.text, f.received_at, f.language
              FROM fresh f JOIN ticket t ON t.reference = f.candidate_references[1] AND t.contact_id = f.contact_id
             ORDER BY f.n
            RETURNING id, ticket_id, contact_id),
        written AS (
            SELECT f.*, m.id AS new_message_id, m.ticket_id AS new_ticket_id, t.reference AS new_reference
              FROM fresh f
              JOIN ticket t ON t.reference = f.candidate_references[1] AND t.contact_id = f.contact_id
              JOIN message m ON m.ticket_id = t.id),
        classified AS (
            INSERT INTO classifications (message_id, ticket_id, classifier_version, type, flags, sectors, language, places, evidence, severity, restricted)
            SELECT w.new_message_id, w.new_ticket_id, w.classifier, w.type, w.class_flags, w.sectors, w.class_language, w.places, w.evidence,
                   w.class_severity, w.class_restricted
              FROM written w ORDER BY w.n),
        planned AS (
            INSERT INTO escalations (ticket_id, rule, level, target, due_at)
            SELECT w.new_ticket_id, s.rule, s.level, s.target, s.due_at
              FROM written w, unnest(w.step_rules, w.step_levels, w.step_targets, w.step_due_at) AS s(rule, level, target, due_at)
            ON CONFLICT DO NOTHING
            RETURNING ticket_id),
        audited AS (
            INSERT INTO ticket_events (ticket_id, at, actor, interface, action, details)
            SELECT e.ticket_id, e.at, 'system', e.interface, e.action, e.details
              FROM (SELECT w.n, 1 AS k, w.new_ticket_id AS ticket_id, now() AS at, 'http' AS interface, 'created' AS action,
                           w.created_details || jsonb_build_object('message_id', w.new_message_id::text) AS details
                      FROM written w
                    UNION ALL
                    SELECT w.n, 2, w.new_ticket_id, GREATEST(w.rules_at, now()), 'system', 'rules',
                           w.rules_details || jsonb_build_object('planned', (SELECT count(*) FROM planned p WHERE p.ticket_id = w.new_ticket_id))
                      FROM written w WHERE w.rules_details IS NOT NULL) AS e
             ORDER BY e.n, e.k),
        acknowledged AS (
            INSERT INTO outbox (ticket_id, kind, channel_id, destination, payload, idempotency_key)
            SELECT w.new_ticket_id, 'sms', w.channel_id, w.address_enc, w.ack_payload, 'ack:' || w.new_message_id
              FROM written w WHERE w.ack_payload IS NOT NULL AND w.opted_out_at IS NULL ORDER BY w.n
            ON CONFLICT (idempotency_key) DO NOTHING),
        marked AS (
            UPDATE inbound AS i SET status = 'accepted', reason = NULL, message_id = w.new_message_id, processed_at = now()
              FROM written w WHERE i.id = w.inbound_id)
        SELECT coalesce(array_agg(f.n), '{}'),
               coalesce(array_agg(CASE WHEN w.n IS NOT NULL THEN 'created' WHEN th.thread_id IS NOT NULL THEN 'threaded' ELSE 'failed' END), '{}'),
               coalesce(array_agg(w.new_message_id), '{}'), coalesce(array_agg(COALESCE(w.new_ticket_id, th.thread_id)), '{}'),
               coalesce(array_agg(w.new_reference::text), '{}'),
               coalesce(array_agg(CASE WHEN w.n IS NULL AND th.thread_id IS NULL THEN 'reference' END), '{}')
          INTO r_item, r_outcome, r_message, r_ticket, r_reference, r_error
          FROM fresh_items f JOIN thread th USING (n) LEFT JOIN written w USING (n);
    EXCEPTION WHEN OTHERS THEN
        r_item := NULL;  -- rolled back: written item by item below
    END;

    IF r_item IS NOT NULL THEN
        RETURN QUERY
        SELECT x.n, x.outcome, x.message_id, x.ticket_id, x.reference, x.error
          FROM unnest(r_item, r_outcome, r_message, r_ticket, r_reference, r_error)
               AS x(n, outcome, message_id, ticket_id, reference, error);
        RETURN QUERY
        SELECT d.n, 'duplicate'::text, d.message_id, d.ticket_id, NULL::text, NULL::text
          FROM unnest(v_done, v_dup_ids, v_dup_tix) AS d(n, message_id, ticket_id);
        RETURN;
    END IF;

    FOREACH v_one IN ARRAY v_items LOOP
        BEGIN
            SELECT * INTO v_result FROM escucha_intake_new_message(
                v_one.inbound_id, v_one.channel_id, v_one.message_kind, v_one.external_id, v_one.text, v_one.received_at,
                v_one.language, v_one.contact_kind, v_one.address_enc, v_one.address_hash, v_one.masked,
                v_one.typed_references, v_one.window_seconds, v_one.candidate_references, v_one.type, v_one.flags, v_one.sectors,
                v_one.severity, v_one.restricted, v_one.location, v_one.team, v_one.assignee, v_one.ack_due_at, v_one.resolve_due_at,
                v_one.classifier, v_one.class_language, v_one.class_flags, v_one.class_severity, v_one.class_restricted,
                v_one.places, v_one.evidence, v_one.created_details, v_one.rules_at, v_one.rules_details,
                v_one.step_rules, v_one.step_levels, v_one.step_targets, v_one.step_due_at, v_one.ack_payload);
            IF v_result.outcome = 'created' AND v_one.inbound_id IS NOT NULL THEN
                v_inbound := v_inbound || v_one.inbound_id;
                v_messages := v_messages || v_result.message_id;
            END IF;
            item := v_one.n;
            outcome := v_result.outcome;
            message_id := v_result.message_id;
            ticket_id := v_result.ticket_id;
            reference := v_result.reference;
            error := NULL;
        EXCEPTION WHEN OTHERS THEN
            -- SQLSTATE only: messages and details can quote the person's words.
            item := v_one.n;
            outcome := 'failed';
            message_id := NULL;
            ticket_id := NULL;
            reference := NULL;
            error := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
    -- The outcomes of the raw requests, in one statement for the group.
    UPDATE inbound AS i SET status = 'accepted', reason = NULL, message_id = u.message_id, processed_at = now()
      FROM unnest(v_inbound, v_messages) AS u(inbound_id, message_id)
     WHERE i.id = u.inbound_id;
END;
$$;
