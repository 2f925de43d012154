-- 0004 — early-warning reports: a daily summary maintained incrementally, and alerts as
-- records a manager verifies or discards.
--
-- report_daily holds, per day of creation (UTC) × location × dimension × value, how many
-- tickets there are. Dimensions:
--   all (value '')          every ticket
--   channel, type, language one value per ticket ('unknown' / 'unclassified' when NULL)
--   sector, flag            one row per sector / flag code of the ticket
--   family                  tickets with at least one flag of the family (any flag)
--   family_open             the same over non-restricted flags, plus value 'sensitive' for
--                           tickets with any restricted flag (what readers without
--                           clearance see)
--   ack                     'within' / 'late' (acknowledged before / after ack_due_at),
--                           'none' (not acknowledged yet), 'no_deadline'
--   closure                 for resolved or closed tickets: 'with_message' when a resolution
--                           message went into the outbox, else 'without_message'
-- Aggregates only: no ticket id, text, contact or team appears here.
--
-- Maintenance: statement-level triggers on tickets (transition tables, so a COPY of a
-- million rows costs one INSERT … SELECT DISTINCT) record the creation days of inserted,
-- updated and deleted tickets in report_dirty_days; `escucha report` (and `escucha seed
-- history`) recompute those days and clear them in one transaction.
CREATE TABLE report_daily (
    day        date NOT NULL,
    location   text NOT NULL,                     -- '' when the ticket has no location
    dimension  text NOT NULL,
    value      text NOT NULL,
    tickets    integer NOT NULL,
    PRIMARY KEY (dimension, day, location, value)
);

CREATE TABLE report_dirty_days (
    day date PRIMARY KEY
);
INSERT INTO report_dirty_days SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM tickets;

-- SECURITY DEFINER: officers' sessions (row-level security, few grants) change tickets too.
CREATE FUNCTION report_mark_new_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO report_dirty_days (day)
    SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM new_rows
    ON CONFLICT (day) DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE FUNCTION report_mark_old_days() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO report_dirty_days (day)
    SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM old_rows
    ON CONFLICT (day) DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tickets_report_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_mark_new_days();
CREATE TRIGGER tickets_report_update AFTER UPDATE ON tickets
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION report_mark_new_days();
CREATE TRIGGER tickets_report_update_old AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION report_mark_old_days();
CREATE TRIGGER tickets_report_delete AFTER DELETE ON tickets
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION report_mark_old_days();

-- An aberration found by EARS (C1/C2/C3 with an exact Poisson test) on counts per
-- location × flag family. One row per (granularity, period, location, family): a rerun of
-- the report updates the statistics and never the manager's decision.
CREATE TABLE report_alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    granularity     text NOT NULL CHECK (granularity IN ('day', 'week')),
    period_start    date NOT NULL,
    location        text NOT NULL,
    family          text NOT NULL,                -- flag family, or 'sensitive'
    observed        integer NOT NULL,
    expected        double precision NOT NULL,
    baseline_mean   double precision NOT NULL,
    baseline_sd     double precision NOT NULL,
    c1              double precision,
    c2              double precision,
    c3              double precision,
    p_value         double precision NOT NULL,
    methods         text[] NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'verified', 'discarded')),
    note            text,                         -- the manager's note (no personal data)
    decided_by      text,                         -- login of who verified or discarded
    decided_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (granularity, period_start, location, family),
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE INDEX report_alerts_period_idx ON report_alerts (period_start);
