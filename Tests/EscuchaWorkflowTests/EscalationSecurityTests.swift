import EscuchaCore
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation
import Testing

/// Row-level security of restricted tickets and the append-only audit log, checked with
/// hand-written SQL under the application's role `escucha_officer`.
@Suite(.serialized) struct EscalationSecurityTests {
    typealias F = EscalationFixture

    struct Setup {
        var pool: PostgresPool
        var restricted: (id: Int64, reference: String)
        var open: (id: Int64, reference: String)
        var contactID: Int64
    }

    static let secretWords = "mi pareja me golpea y me obliga"

    func setUp(_ label: String) async throws -> Setup {
        let pool = try await F.pool(label)
        let restricted = try await F.intake(pool, flags: ["protection.gbv"], severity: .critical, restricted: true, text: Self.secretWords)
        let open = try await F.intake(pool, flags: ["discrimination.service_denial"], severity: .medium, restricted: false, text: "no me atendieron en el hospital")
        let contactID = try await pool.withTransaction { connection in
            let id: Int64 = try connection.query(
                """
                INSERT INTO contacts (kind, address_enc, address_hash, masked)
                VALUES ('phone', \(F.protector.encrypt("+573001112233")), 'hash-restricted', '+57 *** *** 2233') RETURNING id
                """)[0].decode("id")
            try connection.execute("UPDATE tickets SET contact_id = \(id) WHERE id = \(restricted.id)")
            try connection.execute("UPDATE messages SET contact_id = \(id) WHERE ticket_id = \(restricted.id)")
            return id
        }
        // The worker fires level 0: escalation, outbox and audit rows exist for both tickets.
        try await F.worker(pool).runOnce(now: F.t0)
        return Setup(pool: pool, restricted: restricted, open: open, contactID: contactID)
    }

    /// Runs `body` as `escucha_officer` with the session officer `login` (nil: none).
    func asOfficer<T: Sendable>(_ pool: PostgresPool, _ login: String?, _ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await pool.withTransaction { connection in
            try connection.execute("SET LOCAL ROLE escucha_officer")
            if let login { try connection.query("SELECT set_config('escucha.officer', \(login), true)") }
            return try body(connection)
        }
    }

    static func count(_ connection: PGConnection, _ sql: SQL) throws -> Int {
        try connection.query(sql)[0].decode(0, as: Int.self)
    }

    @Test(arguments: ["handler1", "psea-fp", "coord", "nobody-at-all", nil] as [String?])
    func anOfficerWithoutClearanceOfTheTeamGetsNothingOfARestrictedTicket(login: String?) async throws {
        let setup = try await setUp("esc_rls")
        defer { Task { await setup.pool.close() } }
        let restrictedID = setup.restricted.id
        let reference = setup.restricted.reference
        let contactID = setup.contactID
        let result = try await asOfficer(setup.pool, login) { connection in
            var seen: [String: Int] = [:]
            seen["tickets"] = try Self.count(connection, "SELECT count(*) FROM tickets")
            seen["by id"] = try Self.count(connection, "SELECT count(*) FROM tickets WHERE id = \(restrictedID)")
            seen["by reference"] = try Self.count(connection, "SELECT count(*) FROM tickets WHERE reference = \(reference)")
            seen["flag count"] = try Self.count(connection, "SELECT count(*) FROM tickets WHERE 'protection.gbv' = ANY (flags)")
            seen["badge"] = try Self.count(connection, "SELECT count(*) FROM tickets WHERE severity = 'critical'")
            seen["search"] = try Self.count(connection, "SELECT count(*) FROM messages WHERE text ILIKE '%golpea%'")
            seen["messages"] = try Self.count(connection, "SELECT count(*) FROM messages WHERE ticket_id = \(restrictedID)")
            seen["contact"] = try Self.count(connection, "SELECT count(*) FROM contacts WHERE id = \(contactID)")
            seen["escalations"] = try Self.count(connection, "SELECT count(*) FROM escalations WHERE ticket_id = \(restrictedID)")
            seen["outbox"] = try Self.count(connection, "SELECT count(*) FROM outbox WHERE ticket_id = \(restrictedID)")
            seen["audit"] = try Self.count(connection, "SELECT count(*) FROM ticket_events WHERE ticket_id = \(restrictedID)")
            seen["update"] = try connection.execute("UPDATE tickets SET status = 'closed' WHERE id = \(restrictedID)")
            // An export: every ticket with its text and masked contact.
            let export = try connection.query(
                """
                SELECT t.reference, t.flags, m.text, c.masked
                  FROM tickets t JOIN messages m ON m.ticket_id = t.id LEFT JOIN contacts c ON c.id = t.contact_id
                """)
            let exported = try export.map { row in
                [try row.decode("reference", as: String.self), try row.decode("text", as: String.self), (try row.decode("masked", as: String?.self)) ?? ""]
                    .joined(separator: "|")
            }.joined(separator: "\n")
            // What everyone may see: that it exists, its age and deadline.
            let stub = try connection.query("SELECT reference, readable, ack_due_at, created_at FROM ticket_stubs WHERE id = \(restrictedID)")
            return (seen, exported, try stub[0].decode("readable", as: Bool.self), try stub[0].decode("ack_due_at", as: Date?.self))
        }
        let (seen, exported, readable, deadline) = result
        #expect(seen["tickets"] == 1)
        for key in ["by id", "by reference", "flag count", "badge", "search", "messages", "contact", "escalations", "outbox", "audit", "update"] {
            #expect(seen[key] == 0, "\(key) leaked for \(login ?? "no officer")")
        }
        #expect(!exported.contains(reference))
        #expect(!exported.contains("golpea"))
        #expect(!exported.contains("2233"))
        #expect(!readable)
        #expect(deadline == F.t0.addingTimeInterval(4 * 3600))
    }

    @Test func aClearedOfficerOfTheTeamSeesItAndTheViewIsAudited() async throws {
        let setup = try await setUp("esc_rls_ok")
        defer { Task { await setup.pool.close() } }
        let restrictedID = setup.restricted.id
        let (tickets, words) = try await asOfficer(setup.pool, "prot-fp") { connection in
            try connection.query("SELECT escucha_record_view(\(restrictedID), 'console')")
            let words: String = try connection.query("SELECT text FROM messages WHERE ticket_id = \(restrictedID)")[0].decode("text")
            return (try Self.count(connection, "SELECT count(*) FROM tickets"), words)
        }
        #expect(tickets == 2)
        #expect(words == Self.secretWords)
        let viewed = try await setup.pool.withConnection { connection in
            try Self.count(connection, "SELECT count(*) FROM ticket_events WHERE ticket_id = \(restrictedID) AND action = 'viewed' AND actor = 'prot-fp'")
        }
        #expect(viewed == 1)
        // An officer without clearance cannot record (or make) a view.
        await #expect(throws: StoreError.self) {
            try await asOfficer(setup.pool, "handler1") { connection in
                try connection.query("SELECT escucha_record_view(\(restrictedID), 'console')")
            }
        }
    }

    @Test(arguments: [
        "UPDATE ticket_events SET actor = 'someone-else'",
        "DELETE FROM ticket_events",
        "TRUNCATE ticket_events",
    ] as [String])
    func theApplicationRoleCannotAlterTheAuditLog(statement: String) async throws {
        let setup = try await setUp("esc_audit")
        defer { Task { await setup.pool.close() } }
        do {
            _ = try await asOfficer(setup.pool, "prot-fp") { connection in try connection.execute(unsafeScript: statement) }
            Issue.record("\(statement) was allowed")
        } catch let error as StoreError {
            #expect(error.sqlState == .insufficientPrivilege)
        }
        // Not even the owner: the triggers refuse.
        do {
            _ = try await setup.pool.withTransaction { connection in try connection.execute(unsafeScript: statement) }
            Issue.record("\(statement) was allowed for the owner")
        } catch let error as StoreError {
            #expect(error.sqlState == .raiseException)
        }
        let events = try await setup.pool.withConnection { connection in
            try Self.count(connection, "SELECT count(*) FROM ticket_events WHERE actor = 'someone-else'")
        }
        #expect(events == 0)
    }
}
