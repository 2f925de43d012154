-- 0001 — initial schema of Escucha.
--
-- Conventions
--  * Every id is a bigint identity; every time is timestamptz (sessions run in UTC).
--  * Enumerations are text with CHECK constraints (a new value is a small migration,
--    not a type change); the allowed values mirror EscuchaCore.
--  * Personal data of the people who write to us (phone numbers, email addresses) is
--    never stored in clear: `*_enc` columns hold AES-GCM ciphertext (key from
--    ESCUCHA_SECRET_KEY), `address_hash` an HMAC-SHA256 that links messages of one
--    person, `masked` what a screen may show.
--  * Restricted tickets will be protected by row-level security keyed on the session's
--    officer (a later migration): tables that hold case content carry `ticket_id` and
--    tickets carry `restricted`, so policies can be written without reshaping data.

-- Teams and officers ----------------------------------------------------------------

-- A team (CEA unit, protection focal points, a field office). `id` is the short key the
-- configuration files use, e.g. 'cea-cucuta'.
CREATE TABLE teams (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]*$'),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- People who work tickets. `clearance` lets an officer see restricted tickets (protection
-- cases); roles are e.g. officer, focal_point, manager, admin.
CREATE TABLE officers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login       text NOT NULL UNIQUE,
    name        text NOT NULL,
    roles       text[] NOT NULL DEFAULT '{}',
    clearance   boolean NOT NULL DEFAULT false,
    team        text REFERENCES teams (id),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Intake ----------------------------------------------------------------------------

-- Every raw input, verbatim, stored before anything can fail: an HTTP request from a
-- gateway, an .eml file, a message fetched by IMAP. Nothing is dropped: what cannot be
-- parsed stays here as `rejected` with its reason and can be re-processed.
CREATE TABLE inbound (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id   text NOT NULL,                    -- gateway / mailbox name from the configuration
    kind         text NOT NULL CHECK (kind IN ('http', 'file', 'imap')),
    received_at  timestamptz NOT NULL DEFAULT now(),
    remote_addr  text,                             -- peer address of an HTTP request
    method       text,                             -- HTTP method
    path         text,                             -- HTTP path and query, or the file name
    headers      jsonb NOT NULL DEFAULT '{}',      -- HTTP or mail headers as received
    body         bytea NOT NULL,                   -- the exact bytes (any encoding, NULs kept)
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'rejected', 'duplicate')),
    reason       text,                             -- why rejected / what it duplicates
    message_id   bigint,                           -- the parsed message (FK added below)
    processed_at timestamptz
);
CREATE INDEX inbound_pending_idx ON inbound (received_at) WHERE status IN ('pending', 'rejected');
CREATE INDEX inbound_channel_received_idx ON inbound (channel_id, received_at);

-- People who wrote to us, one row per address. The address itself only encrypted.
CREATE TABLE contacts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('phone', 'email', 'other')),
    address_enc  bytea NOT NULL,                   -- AES-GCM: nonce ‖ ciphertext ‖ tag
    address_hash text NOT NULL UNIQUE,             -- HMAC-SHA256 of the canonical address
    masked       text NOT NULL,                    -- e.g. '+57 *** *** 4821'
    language     text,                             -- last language they wrote in (BCP 47)
    opted_out_at timestamptz,                      -- asked not to be contacted
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- Tickets ---------------------------------------------------------------------------

-- A case. `reference` is what a person reads over the phone: 6 characters of Crockford
-- base32 (no I, L, O, U). Severity is text; `severity_rank` orders the queue.
CREATE TABLE tickets (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reference         char(6) NOT NULL UNIQUE CHECK (reference ~ '^[0-9A-HJKMNP-TV-Z]{6}$'),
    status            text NOT NULL DEFAULT 'new'
                      CHECK (status IN ('new', 'open', 'pending', 'escalated', 'resolved', 'closed')),
    type              text,                        -- feedback type (taxonomy); NULL until classified
    flags             text[] NOT NULL DEFAULT '{}',-- taxonomy flag codes
    sectors           text[] NOT NULL DEFAULT '{}',
    severity          text NOT NULL DEFAULT 'low' CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    severity_rank     smallint GENERATED ALWAYS AS (
                          CASE severity WHEN 'low' THEN 0 WHEN 'medium' THEN 1 WHEN 'high' THEN 2 ELSE 3 END
                      ) STORED,
    restricted        boolean NOT NULL DEFAULT false, -- protection case: cleared officers only
    language          text,
    location          text,                        -- place named or inferred (gazetteer key)
    team              text REFERENCES teams (id),
    assignee_id       bigint REFERENCES officers (id),
    contact_id        bigint REFERENCES contacts (id),
    channel_id        text,                        -- channel of the first message
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    first_response_at timestamptz,
    acknowledged_at   timestamptz,                 -- an officer took it in hand
    resolved_at       timestamptz,
    closed_at         timestamptz,
    ack_due_at        timestamptz,                 -- SLA deadlines
    resolve_due_at    timestamptz
);
-- The officers' queue: open work by severity, then deadline.
CREATE INDEX tickets_queue_idx ON tickets (status, severity_rank DESC, ack_due_at)
    WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX tickets_ack_due_idx ON tickets (ack_due_at) WHERE acknowledged_at IS NULL;
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX tickets_contact_idx ON tickets (contact_id, created_at DESC);
-- Reports: by period, by place, by flag.
CREATE INDEX tickets_created_idx ON tickets (created_at);
CREATE INDEX tickets_location_created_idx ON tickets (location, created_at);
CREATE INDEX tickets_flags_idx ON tickets USING gin (flags);
CREATE INDEX tickets_sectors_idx ON tickets USING gin (sectors);

-- One message in or out, parsed from an inbound row or written by an officer/the system.
CREATE TABLE messages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbound_id   bigint REFERENCES inbound (id),   -- NULL for outgoing messages
    ticket_id    bigint REFERENCES tickets (id),   -- set by triage
    contact_id   bigint REFERENCES contacts (id),
    channel_id   text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('sms', 'email', 'hotline', 'note', 'other')),
    external_id  text,                             -- gateway message id / Message-ID
    in_reply_to  text,                             -- email threading
    direction    text NOT NULL CHECK (direction IN ('in', 'out')),
    subject      text,
    text         text NOT NULL,
    received_at  timestamptz NOT NULL,
    language     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Gateway retries carry the same id: recognised here and answered as success.
    UNIQUE (channel_id, external_id)
);
CREATE INDEX messages_ticket_idx ON messages (ticket_id, received_at);
CREATE INDEX messages_contact_idx ON messages (contact_id, received_at DESC);
CREATE INDEX messages_in_reply_to_idx ON messages (in_reply_to) WHERE in_reply_to IS NOT NULL;

ALTER TABLE inbound ADD CONSTRAINT inbound_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages (id);
CREATE INDEX inbound_message_idx ON inbound (message_id);

-- Classifier output, versioned: `escucha reprocess` adds rows for a new lexicon version;
-- the ticket keeps the summary of the latest.
CREATE TABLE classifications (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id         bigint NOT NULL REFERENCES messages (id),
    ticket_id          bigint REFERENCES tickets (id),
    classifier_version text NOT NULL,
    type               text,
    flags              text[] NOT NULL DEFAULT '{}',
    sectors            text[] NOT NULL DEFAULT '{}',
    language           text,
    places             jsonb NOT NULL DEFAULT '[]',  -- places mentioned, with spans
    evidence           jsonb NOT NULL DEFAULT '[]',  -- for each flag: lexicon entry and text span
    severity           text CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    restricted         boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX classifications_message_idx ON classifications (message_id, created_at DESC);
CREATE INDEX classifications_ticket_idx ON classifications (ticket_id);

-- Audit log -------------------------------------------------------------------------

-- Everything that happened to a ticket, who did it and from where. Append-only: the
-- triggers below refuse UPDATE, DELETE and TRUNCATE, for every role (retention
-- anonymises tickets; it does not erase their history).
CREATE TABLE ticket_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id  bigint NOT NULL REFERENCES tickets (id),
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,                      -- officer login, or 'system'
    interface  text NOT NULL CHECK (interface IN ('console', 'cli', 'http', 'worker', 'system')),
    action     text NOT NULL,                      -- e.g. created, assigned, status, escalated, note
    details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, at);

CREATE FUNCTION ticket_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ticket_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'P0001', HINT = 'record a new event instead';
END;
$$;
CREATE TRIGGER ticket_events_no_update_delete
    BEFORE UPDATE OR DELETE ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION ticket_events_append_only();
CREATE TRIGGER ticket_events_no_truncate
    BEFORE TRUNCATE ON ticket_events
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_events_append_only();

-- Escalation ------------------------------------------------------------------------

-- One step of an escalation rule for a ticket: who must be told by `due_at`; when nobody
-- acknowledges, the next level follows. Workers claim due rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE escalations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES tickets (id),
    rule            text NOT NULL,                 -- rule name in Config/escalation.yaml
    level           integer NOT NULL DEFAULT 0,
    target          text,                          -- team, role or officer to notify
    due_at          timestamptz NOT NULL,
    fired_at        timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by bigint REFERENCES officers (id),
    claimed_by      text,                          -- worker that is firing it
    claimed_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, rule, level)
);
CREATE INDEX escalations_due_idx ON escalations (due_at) WHERE fired_at IS NULL;
CREATE INDEX escalations_unacknowledged_idx ON escalations (ticket_id) WHERE acknowledged_at IS NULL;

-- Outbox ----------------------------------------------------------------------------

-- Every outgoing message (SMS reply, email, webhook), written in the same transaction as
-- the change that causes it and sent by workers with retries. `idempotency_key` makes a
-- second enqueue of the same message a no-op; providers get it too where they accept one.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id       bigint REFERENCES tickets (id),
    kind            text NOT NULL CHECK (kind IN ('sms', 'email', 'webhook')),
    channel_id      text NOT NULL,
    destination     bytea NOT NULL,                -- encrypted address or URL
    payload         jsonb NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,                          -- never contains the destination
    provider_id     text,                          -- provider's message id once sent
    claimed_by      text,
    claimed_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX outbox_ready_idx ON outbox (status, next_attempt_at) WHERE status IN ('pending', 'failed', 'sending');
CREATE INDEX outbox_ticket_idx ON outbox (ticket_id);
