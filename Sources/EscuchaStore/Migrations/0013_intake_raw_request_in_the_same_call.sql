-- 0013 — intake's common case, the raw request included, in one call and one commit.
--
-- Until now a request was committed twice: its raw row first (so that no later failure
-- could lose it), then its ticket. Here the raw rows are inserted first in the same
-- transaction and the tickets are written in a subtransaction after them: if that fails
-- for any reason, it alone is rolled back and the raw rows commit as 'pending', for intake
-- (or the maintenance worker) to process them on the general path. A crash before the
-- commit loses both, as it lost the raw row before its own commit; no success answer was
-- sent for either.
--
-- p_raw and p_items are arrays of the same length: item n is the one message of request
-- n. A raw request is an object with channel_id, received_at, remote_addr, method, path,
-- headers (an object) and body (bytea's hex text); an item is an item of
-- escucha_intake_new_messages whose inbound_id this function fills in.
CREATE FUNCTION escucha_intake_receive(p_raw jsonb, p_items jsonb)
RETURNS TABLE (item integer, inbound_id bigint, outcome text, message_id bigint, ticket_id bigint, reference text, error text)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    v_count     integer := jsonb_array_length(p_raw);
    v_ids       bigint[];
    v_items     jsonb;
    r_item      integer[];
    r_outcome   text[];
    r_message   bigint[];
    r_ticket    bigint[];
    r_reference text[];
    r_error     text[];
    v_state     text;
BEGIN
    IF v_count <> jsonb_array_length(p_items) THEN
        RAISE EXCEPTION '% raw requests for % items', v_count, jsonb_array_length(p_items) USING ERRCODE = 'P0001';
    END IF;
    -- The ids are drawn first so that each item knows its request's row.
    v_ids := ARRAY(SELECT nextval(pg_get_serial_sequence('inbound', 'id')) FROM generate_series(1, v_count));
    INSERT INTO inbound (id, channel_id, kind, received_at, remote_addr, method, path, headers, body)
    OVERRIDING SYSTEM VALUE
    SELECT v_ids[r.ordinality], r.value ->> 'channel_id', 'http', (r.value ->> 'received_at')::timestamptz,
           r.value ->> 'remote_addr', r.value ->> 'method', r.value ->> 'path', r.value -> 'headers',
           (r.value ->> 'body')::bytea
      FROM jsonb_array_elements(p_raw) WITH ORDINALITY AS r
     ORDER BY r.ordinality;

    v_items := (SELECT jsonb_agg(e.value || jsonb_build_object('inbound_id', v_ids[e.ordinality]) ORDER BY e.ordinality)
                  FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e);
    BEGIN
        -- Collected before they are returned: a failure rolls back to here, and the rows
        -- must not be in the result by then.
        SELECT coalesce(array_agg(n.item), '{}'), coalesce(array_agg(n.outcome), '{}'), coalesce(array_agg(n.message_id), '{}'),
               coalesce(array_agg(n.ticket_id), '{}'), coalesce(array_agg(n.reference), '{}'), coalesce(array_agg(n.error), '{}')
          INTO r_item, r_outcome, r_message, r_ticket, r_reference, r_error
          FROM escucha_intake_new_messages(v_items) AS n;
    EXCEPTION WHEN OTHERS THEN
        -- SQLSTATE only: messages and details can quote the person's words.
        v_state := SQLSTATE;
    END;

    IF v_state IS NULL THEN
        RETURN QUERY
        SELECT x.n, v_ids[x.n], x.outcome, x.message_id, x.ticket_id, x.reference, x.error
          FROM unnest(r_item, r_outcome, r_message, r_ticket, r_reference, r_error)
               AS x(n, outcome, message_id, ticket_id, reference, error);
    ELSE
        RETURN QUERY
        SELECT g, v_ids[g], 'failed'::text, NULL::bigint, NULL::bigint, NULL::text, v_state
          FROM generate_series(1, v_count) AS g;
    END IF;
END;
$$;
