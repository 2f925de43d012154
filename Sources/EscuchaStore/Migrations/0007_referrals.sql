-- 0007 — referrals of a ticket to another organisation or service (health, legal aid,
-- child protection, restoring family links …), with the person's consent or an audited
-- override by a cleared role. in_progress → accepted / rejected → done; revocable.
-- Every step is also a ticket_events row (action 'referral'). Rows follow their ticket's
-- row-level security.
CREATE TABLE referrals (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id         bigint NOT NULL REFERENCES tickets (id),
    organisation      text NOT NULL,
    service           text NOT NULL CHECK (service IN ('health', 'legal_aid', 'child_protection', 'family_links',
                                                       'gbv', 'mental_health', 'shelter', 'other')),
    status            text NOT NULL DEFAULT 'in_progress'
                      CHECK (status IN ('in_progress', 'accepted', 'rejected', 'done', 'revoked')),
    consent           text NOT NULL CHECK (consent IN ('given', 'overridden')),
    override_reason   text,
    created_by        bigint NOT NULL REFERENCES officers (id),
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CHECK (consent = 'given' OR override_reason IS NOT NULL)
);
CREATE INDEX referrals_ticket_idx ON referrals (ticket_id);

ALTER TABLE referrals ENABLE ROW LEVEL SECURITY;
CREATE POLICY referrals_officer_read ON referrals FOR SELECT TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));
CREATE POLICY referrals_officer_insert ON referrals FOR INSERT TO escucha_officer WITH CHECK (escucha_can_read_ticket_id(ticket_id));
CREATE POLICY referrals_officer_update ON referrals FOR UPDATE TO escucha_officer USING (escucha_can_read_ticket_id(ticket_id));
GRANT SELECT, INSERT ON referrals TO escucha_officer;
GRANT UPDATE (status, updated_at) ON referrals TO escucha_officer;
