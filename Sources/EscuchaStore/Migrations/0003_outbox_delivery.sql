-- 0003 — delivery receipts of outgoing messages.
--
-- A gateway that accepted a message (outbox.status = 'sent') later calls back with what
-- became of it. `delivery_status` keeps the normalised state (EscuchaChannels.DeliveryState):
-- queued, sent, delivered, read, failed (the handset never got it: not retried), errored
-- (the gateway asks for a retry: the row goes back to 'failed' with a new next_attempt_at).
-- `delivery_error` is the gateway's error code only, never text or numbers.
ALTER TABLE outbox
    ADD COLUMN delivery_status     text CHECK (delivery_status IN ('queued', 'sent', 'delivered', 'read', 'failed', 'errored')),
    ADD COLUMN delivered_at        timestamptz,
    ADD COLUMN delivery_error      text,
    ADD COLUMN delivery_updated_at timestamptz;

-- Status callbacks find the row by the provider's id within the channel.
CREATE INDEX outbox_provider_idx ON outbox (channel_id, provider_id) WHERE provider_id IS NOT NULL;
