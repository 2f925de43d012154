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
    p_inbound_id        bigint,
    p_mark_inbound      boolean,        -- record the request's outcome (one message per request)
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
LANGUAGE plpgsql VOLATILE AS $$
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
                   (2, p_rules_at, 'system', 'rules', p_rules_details || jsonb_build_object('planned', v_planned))) AS e(n, at, interface, action, details)
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

    IF p_mark_inbound THEN
        UPDATE inbound SET status = 'accepted', reason = NULL, message_id = v_message, processed_at = now()
         WHERE id = p_inbound_id;
    END IF;

    RETURN QUERY SELECT 'created'::text, v_message, v_ticket, v_reference;
END;
$$;

-- Concurrent requests share one call and one commit: the server groups the new messages
-- that arrive while a call is running (a commit's fixed costs, and the locks and index
-- openings of each statement, are then paid once per group). Each item runs in a
-- subtransaction of its own, so one failing item (a concurrent retry, a deadlock) leaves
-- the others written; it comes back as 'failed' with its SQLSTATE and intake retries it
-- alone on its general path. Items are objects whose members are the parameters of
-- escucha_intake_new_message without their p_ prefix (address_enc in base64); intake
-- sends them ordered by address_hash, so two groups lock contacts in the same order.
CREATE FUNCTION escucha_intake_new_messages(p_items jsonb)
RETURNS TABLE (item integer, outcome text, message_id bigint, ticket_id bigint, reference text, error text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_item   jsonb;
    v_index  integer;
    v_result record;
BEGIN
    FOR v_item, v_index IN SELECT e.value, e.ordinality::integer FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e LOOP
        BEGIN
            SELECT * INTO v_result FROM escucha_intake_new_message(
                (v_item ->> 'inbound_id')::bigint, (v_item ->> 'mark_inbound')::boolean, v_item ->> 'channel_id',
                v_item ->> 'message_kind', v_item ->> 'external_id', v_item ->> 'text', (v_item ->> 'received_at')::timestamptz,
                v_item ->> 'language', v_item ->> 'contact_kind', decode(v_item ->> 'address_enc', 'base64'),
                v_item ->> 'address_hash', v_item ->> 'masked',
                ARRAY(SELECT jsonb_array_elements_text(v_item -> 'typed_references')), (v_item ->> 'window_seconds')::bigint,
                ARRAY(SELECT jsonb_array_elements_text(v_item -> 'references')), v_item ->> 'type',
                ARRAY(SELECT jsonb_array_elements_text(v_item -> 'flags')), ARRAY(SELECT jsonb_array_elements_text(v_item -> 'sectors')),
                v_item ->> 'severity', (v_item ->> 'restricted')::boolean, v_item ->> 'location',
                v_item ->> 'team', v_item ->> 'assignee', (v_item ->> 'ack_due_at')::timestamptz, (v_item ->> 'resolve_due_at')::timestamptz,
                v_item ->> 'classifier', v_item ->> 'class_language', ARRAY(SELECT jsonb_array_elements_text(v_item -> 'class_flags')),
                v_item ->> 'class_severity', (v_item ->> 'class_restricted')::boolean, v_item -> 'places', v_item -> 'evidence',
                v_item -> 'created_details', (v_item ->> 'rules_at')::timestamptz, NULLIF(v_item -> 'rules_details', 'null'::jsonb),
                ARRAY(SELECT jsonb_array_elements_text(v_item -> 'step_rules')),
                ARRAY(SELECT s::bigint FROM jsonb_array_elements_text(v_item -> 'step_levels') AS s),
                ARRAY(SELECT jsonb_array_elements_text(v_item -> 'step_targets')),
                ARRAY(SELECT s::timestamptz FROM jsonb_array_elements_text(v_item -> 'step_due_at') AS s),
                NULLIF(v_item -> 'ack_payload', 'null'::jsonb));
            item := v_index;
            outcome := v_result.outcome;
            message_id := v_result.message_id;
            ticket_id := v_result.ticket_id;
            reference := v_result.reference;
            error := NULL;
        EXCEPTION WHEN OTHERS THEN
            -- SQLSTATE only: messages and details can quote the person's words.
            item := v_index;
            outcome := 'failed';
            message_id := NULL;
            ticket_id := NULL;
            reference := NULL;
            error := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END;
$$;
