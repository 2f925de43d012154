import EscuchaCore
import EscuchaStore
import EscuchaWorkflow
import Foundation

/// Tickets for the escalation tests of several test targets.
public enum EscalationTestTickets {
    /// A restricted GBV ticket whose person wrote `words`, with its escalations planned as
    /// intake plans them. Returns the ticket's reference.
    public static func plantRestrictedGBV(words: String, rules: EscalationRuleSet, at time: Date, in pool: PostgresPool) async throws -> String {
        let reference = TicketReference.random()
        try await pool.withTransaction { connection in
            let id: Int64 = try connection.query(
                "INSERT INTO tickets (reference, flags, severity, restricted) VALUES (\(reference), '{protection.gbv}', 'critical', true) RETURNING id"
            )[0].decode("id")
            try connection.execute(
                "INSERT INTO messages (ticket_id, channel_id, kind, direction, text, received_at) VALUES (\(id), 'c', 'sms', 'in', \(words), \(time))")
            try EscalationPlanner(rules: rules).plan(
                ticketID: id, flags: ["protection.gbv"], severity: .critical, type: "complaint", channelID: "c", location: nil,
                language: "es", restricted: true, now: time, on: connection)
        }
        return reference
    }
}
