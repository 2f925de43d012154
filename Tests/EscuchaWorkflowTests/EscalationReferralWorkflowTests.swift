import EscuchaCore
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation
import Testing

@Suite(.serialized) struct EscalationReferralWorkflowTests {
    typealias F = EscalationFixture

    @Test func everyReferralStepIsAuditedAndFollowsTheTicketsProtection() async throws {
        let pool = try await F.pool("esc_ref")
        defer { Task { await pool.close() } }
        let ticket = try await F.intake(pool, flags: ["protection.child_at_risk"], severity: .critical, restricted: true)
        let ticketID = ticket.id
        let referral = try await pool.withTransaction { connection in
            let id = try EscalationReferrals.refer(
                ticketID: ticketID, organisation: "ICBF Cúcuta", service: .childProtection,
                consent: .overridden(reason: "unaccompanied child, no guardian to consent"), officer: "prot-fp", interface: "console",
                now: F.t0, on: connection)
            try EscalationReferrals.move(referralID: id, to: .accepted, officer: "prot-fp", interface: "console", now: F.t0.addingTimeInterval(60), on: connection)
            try EscalationReferrals.move(referralID: id, to: .done, officer: "prot-fp", interface: "console", now: F.t0.addingTimeInterval(120), on: connection)
            return id
        }
        // A handler may not override consent.
        await #expect(throws: ReferralError.overrideNotAllowed(officer: "handler1")) {
            try await pool.withTransaction { connection in
                try EscalationReferrals.refer(
                    ticketID: ticketID, organisation: "X", service: .health, consent: .overridden(reason: "r"), officer: "handler1",
                    interface: "console", now: F.t0, on: connection)
            }
        }
        // Done is final.
        await #expect(throws: ReferralError.invalidTransition(from: .done, to: .revoked)) {
            try await pool.withTransaction { connection in
                try EscalationReferrals.move(referralID: referral, to: .revoked, reason: "r", officer: "prot-fp", interface: "cli", now: F.t0, on: connection)
            }
        }
        let steps = try await pool.withConnection { connection in
            try connection.query("SELECT details->>'to' AS step FROM ticket_events WHERE ticket_id = \(ticketID) AND action = 'referral' ORDER BY id")
                .map { try $0.decode("step", as: String.self) }
        }
        #expect(steps == ["in_progress", "accepted", "done"])
        // Row-level security: an uncleared officer sees no referral of the restricted ticket.
        let visible = try await pool.withTransaction { connection in
            try connection.execute("SET LOCAL ROLE escucha_officer")
            try connection.query("SELECT set_config('escucha.officer', 'handler1', true)")
            return try connection.query("SELECT count(*) FROM referrals")[0].decode(0, as: Int.self)
        }
        #expect(visible == 0)
    }
}
