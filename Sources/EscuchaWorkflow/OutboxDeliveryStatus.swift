public import EscuchaChannels
public import EscuchaStore
public import Foundation

/// Applies gateways' delivery-status callbacks to the outbox (columns of migration 0003).
///
/// The row is found within the channel by the provider's message id (`provider_id`, stored
/// when the gateway accepted the message) or, for gateways that echo it, by our reference
/// (`idempotency_key`). States never go backwards: a late `sent` after `delivered` is
/// ignored. `failed` is recorded and not retried (the gateway did its part); `errored` (the
/// gateway asks for a retry, e.g. Twilio 63018) puts the row back to `failed` with the next
/// attempt from the retry policy, or `dead` when no attempt is left.
public enum OutboxDeliveryStatus {
    /// What a callback did.
    public enum Result: Sendable, Equatable {
        /// The row with this id was updated.
        case updated(outboxID: Int64)
        /// The row was found but already had a later state.
        case unchanged(outboxID: Int64)
        /// No row of this channel has this provider id or reference.
        case notFound
    }

    /// The order of states: a callback may only move a row forwards.
    static func rank(_ state: String?) -> Int {
        switch state {
        case nil: -1
        case "queued": 0
        case "sent": 1
        case "delivered": 2
        case "read": 3
        default: 4  // failed, errored: final for this send
        }
    }

    /// Applies one callback on `connection` (run it in the transaction that stores the
    /// callback's raw request).
    /// - Parameters:
    ///   - providerID: the gateway's id of the message.
    ///   - reference: our idempotency key, when the gateway echoes it.
    ///   - channelID: the channel the callback arrived on.
    ///   - state: the normalised state.
    ///   - errorCode: the gateway's error code (codes only, never text).
    ///   - at: when the state was reached (the gateway's time, else arrival).
    ///   - retryPolicy: decides the next attempt for `errored`.
    ///   - generator: jitter for that decision.
    ///   - connection: the connection.
    public static func applyDeliveryStatus(
        providerID: String?, reference: String? = nil, channelID: String, state: DeliveryState, errorCode: String? = nil,
        at: Date, retryPolicy: RetryPolicy = RetryPolicy(), using generator: inout some RandomNumberGenerator,
        on connection: PGConnection
    ) throws(StoreError) -> Result {
        guard providerID != nil || reference != nil else { return .notFound }
        let rows = try connection.query(
            """
            SELECT id, status, attempts, delivery_status FROM outbox
             WHERE channel_id = \(channelID)
               AND ((\(providerID)::text IS NOT NULL AND provider_id = \(providerID))
                 OR (\(reference)::text IS NOT NULL AND idempotency_key = \(reference)))
             ORDER BY id
             LIMIT 1
               FOR UPDATE
            """, operation: "finding the outbox row of a delivery status")
        guard let row = rows.first else { return .notFound }
        let id: Int64 = try row.decode("id")
        let current: String? = try row.decode("delivery_status")
        let status: String = try row.decode("status")
        let attempts: Int = try row.decode("attempts")
        guard rank(state.rawValue) > rank(current) || (rank(current) == 4 && state == .errored && status == "sent") else {
            return .unchanged(outboxID: id)
        }
        try connection.execute(
            """
            UPDATE outbox
               SET delivery_status = \(state.rawValue),
                   delivery_updated_at = \(at),
                   delivered_at = CASE WHEN \(state.rawValue) IN ('delivered', 'read') THEN coalesce(delivered_at, \(at))
                                       ELSE delivered_at END,
                   delivery_error = coalesce(\(errorCode), delivery_error)
             WHERE id = \(id)
            """, operation: "recording a delivery status")
        if state == .errored && status == "sent" {
            let reason = "the gateway reported a retryable error" + (errorCode.map { " (code \($0))" } ?? "")
            switch retryPolicy.action(after: .transient(reason: reason), attempts: attempts, now: at, using: &generator) {
            case .retry(let next, let reason):
                try connection.execute(
                    "UPDATE outbox SET status = 'failed', next_attempt_at = \(next), last_error = \(reason) WHERE id = \(id)",
                    operation: "re-queueing an outbox row after a delivery error")
            case .markDead(let reason):
                try connection.execute(
                    "UPDATE outbox SET status = 'dead', last_error = \(reason) WHERE id = \(id)",
                    operation: "marking an outbox row dead after a delivery error")
            case .markSent:
                break
            }
        }
        return .updated(outboxID: id)
    }

    /// Applies one callback in a transaction of its own.
    /// - Parameters:
    ///   - update: the parsed callback.
    ///   - channelID: the channel it arrived on.
    ///   - receivedAt: arrival time, used when the gateway gives none.
    ///   - pool: the database.
    public static func apply(
        _ update: DeliveryStatusUpdate, channelID: String, receivedAt: Date, pool: PostgresPool
    ) async throws -> Result {
        try await pool.withTransaction { connection in
            var generator = SystemRandomNumberGenerator()
            return try applyDeliveryStatus(
                providerID: update.externalID, reference: update.reference, channelID: channelID, state: update.state,
                errorCode: update.errorCode, at: update.at ?? receivedAt, using: &generator, on: connection)
        }
    }
}
