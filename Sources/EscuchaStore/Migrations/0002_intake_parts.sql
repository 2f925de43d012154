-- Parts of multi-part SMS (Vonage sends each part of a long message as its own request)
-- waiting for the rest. When the last part arrives, intake combines them into one message
-- and deletes the group; `escucha worker` flushes groups left incomplete too long.
CREATE TABLE message_parts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id  text NOT NULL,
    group_key   text NOT NULL,                     -- channel + sender + concat reference
    part        integer NOT NULL,
    total       integer NOT NULL,
    inbound_id  bigint REFERENCES inbound (id),
    payload     jsonb NOT NULL,                    -- the parsed part (InboundMessage + concat info)
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (group_key, part)
);
CREATE INDEX message_parts_received_idx ON message_parts (received_at);

-- Opt-out and opt-in words are recorded as contact events.
CREATE TABLE contact_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id bigint NOT NULL REFERENCES contacts (id),
    at         timestamptz NOT NULL DEFAULT now(),
    action     text NOT NULL CHECK (action IN ('opted_out', 'opted_in')),
    channel_id text,
    inbound_id bigint REFERENCES inbound (id)
);
CREATE INDEX contact_events_contact_idx ON contact_events (contact_id, at);
