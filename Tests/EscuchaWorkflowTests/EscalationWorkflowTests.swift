import EscuchaCore
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation
import Logging
import Testing

/// Shared set-up: the shipped rules, a small directory, a fresh migrated database.
enum EscalationFixture {
    static let directoryYAML = """
        sms_channel: twilio-cucuta
        teams:
          - {id: cea, name: CEA}
          - {id: protection, name: Protection}
          - {id: psea, name: PSEA}
          - {id: integrity, name: Integrity}
        officers:
          - {login: handler1, team: cea, roles: [handler], email: handler@example.org}
          - {login: sup, team: cea, roles: [supervisor, focal_point], email: sup@example.org}
          - {login: psea-fp, team: psea, roles: [psea_focal_point], clearance: true, email: psea@example.org}
          - {login: prot-fp, team: protection, roles: [protection_focal_point], clearance: true, email: prot@example.org, phone: "+573000000002"}
          - {login: duty, team: protection, roles: [duty_officer], clearance: true, email: duty@example.org}
          - {login: coord, team: protection, roles: [coordinator], email: coord@example.org}
          - {login: hoo, team: cea, roles: [head_of_operation], email: hoo@example.org}
        """

    static func directory() throws -> EscalationDirectory { try EscalationDirectory.parse(directoryYAML, file: "teams.yaml") }
    /// The shipped rules with the fixture's teams (no working hours: wall-clock deadlines).
    static func planner() throws -> EscalationPlanner {
        EscalationPlanner(rules: try EscalationPlanner.load(configDirectory: RepositoryLayout.config).rules, workingHours: try directory().workingHours)
    }
    static let protector = try! ContactProtector(encodedSecret: ContactProtector.generateEncodedSecret())
    static let logger = Logger(label: "escalation-tests", factory: { _ in SwiftLogNoOpLogHandler() })
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func pool(_ label: String) async throws -> PostgresPool {
        let pool = try await TestCluster.migratedPool(label)
        let directory = try directory()
        try await pool.withTransaction { connection in _ = try EscalationDirectorySync.sync(directory, on: connection) }
        return pool
    }

    static func worker(_ pool: PostgresPool, id: String = "w1") throws -> EscalationWorker {
        EscalationWorker(
            pool: pool, rules: try planner().rules, directory: try directory(), protector: protector,
            configuration: .init(workerID: id), clock: { t0 }, logger: logger)
    }

    /// Creates a ticket with one message (as intake would) and plans it.
    static func intake(
        _ pool: PostgresPool, flags: [FlagCode], severity: Severity, restricted: Bool, text: String = "message text", at now: Date = t0
    ) async throws -> (id: Int64, reference: String) {
        let planner = try planner()
        let reference = TicketReference.random()
        let id = try await pool.withTransaction { connection in
            let rows = try connection.query(
                """
                INSERT INTO tickets (reference, type, flags, severity, restricted, language, channel_id, created_at)
                VALUES (\(reference), 'complaint', \(flags.map(\.rawValue)), \(severity.rawValue), \(restricted), 'es', 'twilio-cucuta', \(now))
                RETURNING id
                """)
            let id: Int64 = try rows[0].decode("id")
            try connection.execute(
                """
                INSERT INTO messages (ticket_id, channel_id, kind, direction, text, received_at)
                VALUES (\(id), 'twilio-cucuta', 'sms', 'in', \(text), \(now))
                """)
            try planner.plan(
                ticketID: id, flags: flags, severity: severity, type: "complaint", channelID: "twilio-cucuta", location: nil,
                language: "es", restricted: restricted, now: now, on: connection)
            return id
        }
        return (id, reference)
    }

    struct OutboxRow: Sendable {
        var kind: String
        var destination: String
        var payload: String
        var key: String
    }

    static func outbox(_ pool: PostgresPool, ticket: Int64) async throws -> [OutboxRow] {
        try await pool.withConnection { connection in
            try connection.query("SELECT kind, destination, payload, idempotency_key FROM outbox WHERE ticket_id = \(ticket) ORDER BY id").map { row in
                let kind: String = try row.decode("kind")
                let destination: Data = try row.decode("destination")
                let address = kind == "webhook" ? String(decoding: destination, as: UTF8.self) : (try? protector.decrypt(destination)) ?? "?"
                return OutboxRow(kind: kind, destination: address, payload: try row.decode("payload", as: JSON.self).text, key: try row.decode("idempotency_key"))
            }
        }
    }
}

@Suite(.serialized) struct EscalationWorkflowTests {
    typealias F = EscalationFixture

    @Test func planningAppliesTheRulesToTheTicketAndSchedulesLevelZero() async throws {
        let pool = try await F.pool("esc_plan")
        defer { Task { await pool.close() } }
        let ticket = try await F.intake(pool, flags: ["protection.child_at_risk"], severity: .critical, restricted: true)
        let row = try await pool.withConnection { connection in
            try connection.query("SELECT team, restricted, severity, ack_due_at FROM tickets WHERE id = \(ticket.id)")[0]
        }
        #expect(try row.decode("team", as: String?.self) == "protection")
        #expect(try row.decode("restricted", as: Bool.self))
        #expect(try row.decode("ack_due_at", as: Date?.self) == F.t0.addingTimeInterval(4 * 3600))
        let escalations = try await pool.withConnection { connection in
            try connection.query("SELECT rule, level, target, due_at FROM escalations WHERE ticket_id = \(ticket.id)").map {
                "\(try $0.decode("rule", as: String.self))/\(try $0.decode("level", as: Int.self))/\(try $0.decode("target", as: String.self))"
            }
        }
        #expect(escalations == ["protection-sensitive/0/role:protection_focal_point"])
        // Planning again (a second message) adds nothing.
        try await pool.withTransaction { connection in
            try F.planner().plan(
                ticketID: ticket.id, flags: ["protection.child_at_risk"], severity: .critical, type: "complaint", channelID: nil,
                location: nil, language: "es", restricted: true, now: F.t0.addingTimeInterval(60), on: connection)
        }
        let count = try await pool.withConnection { try $0.query("SELECT count(*) AS n FROM escalations")[0].decode("n", as: Int.self) }
        #expect(count == 1)
    }

    @Test func aCriticalMessageClimbsTheChainUntilAcknowledged() async throws {
        let pool = try await F.pool("esc_chain")
        defer { Task { await pool.close() } }
        let worker = try F.worker(pool)
        let ticket = try await F.intake(
            pool, flags: ["protection.child_at_risk"], severity: .critical, restricted: true, text: "mi hija de 12 años está sola en la frontera")

        // Intake time: the protection focal point is told at once, by email and SMS.
        #expect(try await worker.runOnce(now: F.t0) == 1)
        var outbox = try await F.outbox(pool, ticket: ticket.id)
        #expect(outbox.map(\.kind).sorted() == ["email", "sms"])
        #expect(Set(outbox.map(\.destination)) == ["prot@example.org", "+573000000002"])
        for row in outbox {
            #expect(row.payload.contains(ticket.reference))
            #expect(row.payload.contains("escucha console --ticket \(ticket.reference)"))
            #expect(!row.payload.contains("frontera"))
            #expect(!row.payload.contains("hija"))
        }

        // Nothing more before the deadline.
        #expect(try await worker.runOnce(now: F.t0.addingTimeInterval(4 * 3600 - 1)) == 0)
        // Nobody acknowledged: level 2 (the coordinator) is told after the deadline.
        #expect(try await worker.runOnce(now: F.t0.addingTimeInterval(4 * 3600 + 1)) == 1)
        outbox = try await F.outbox(pool, ticket: ticket.id)
        #expect(outbox.count == 3)
        #expect(outbox.last?.destination == "coord@example.org")
        #expect(outbox.last?.payload.contains("Earlier levels did not acknowledge") == true)
        let status = try await pool.withConnection { try $0.query("SELECT status FROM tickets WHERE id = \(ticket.id)")[0].decode("status", as: String.self) }
        #expect(status == "escalated")

        // The coordinator acknowledges: the chain stops.
        let stopped = try await pool.withTransaction { connection in
            try EscalationAcknowledgement.acknowledge(
                ticketID: ticket.id, officer: "coord", interface: "console", now: F.t0.addingTimeInterval(5 * 3600), on: connection)
        }
        #expect(stopped >= 1)
        #expect(try await worker.runOnce(now: F.t0.addingTimeInterval(100 * 3600)) == 0)
        #expect(try await F.outbox(pool, ticket: ticket.id).count == 3)
        let events = try await pool.withConnection { connection in
            try connection.query("SELECT action FROM ticket_events WHERE ticket_id = \(ticket.id) ORDER BY id").map { try $0.decode("action", as: String.self) }
        }
        #expect(events == ["rules", "escalated", "escalated", "acknowledged"])
    }

    @Test func remindersRepeatToTheLastLevelAndAcknowledgementCancelsThePendingOne() async throws {
        let pool = try await F.pool("esc_remind")
        defer { Task { await pool.close() } }
        let worker = try F.worker(pool)
        let ticket = try await F.intake(pool, flags: ["misconduct.sexual_exploitation"], severity: .critical, restricted: true)
        var now = F.t0
        for _ in 0..<4 {
            try await worker.runOnce(now: now)
            now = now.addingTimeInterval(24 * 3600 + 1)
        }
        let outbox = try await F.outbox(pool, ticket: ticket.id)
        // PSEA focal point, coordinator, head of operation, then reminders to the head of operation.
        #expect(outbox.map(\.destination) == ["psea@example.org", "coord@example.org", "hoo@example.org", "hoo@example.org"])
        #expect(outbox.last?.payload.contains("Reminder 1") == true)
        // Nobody outside the PSEA chain was told.
        #expect(!outbox.map(\.destination).contains("handler@example.org"))
        let acknowledgedAt = now
        try await pool.withTransaction { connection in
            try EscalationAcknowledgement.acknowledge(ticketID: ticket.id, officer: "psea-fp", interface: "console", now: acknowledgedAt, on: connection)
        }
        #expect(try await worker.runOnce(now: now.addingTimeInterval(30 * 24 * 3600)) == 0)
    }

    @Test func twoWorkersRacingSendOneNotification() async throws {
        let pool = try await F.pool("esc_race")
        defer { Task { await pool.close() } }
        var tickets: [Int64] = []
        for _ in 0..<6 {
            tickets.append(try await F.intake(pool, flags: ["protection.gbv"], severity: .critical, restricted: true).id)
        }
        let first = try F.worker(pool, id: "w1")
        let second = try F.worker(pool, id: "w2")
        async let a = first.fireDue(now: F.t0)
        async let b = second.fireDue(now: F.t0)
        let (firedA, firedB) = try await (a, b)
        #expect(firedA.count + firedB.count == 6)
        #expect(Set(firedA.map(\.id)).isDisjoint(with: firedB.map(\.id)))
        // Again, later: nothing is fired twice.
        async let c = first.runOnce(now: F.t0.addingTimeInterval(60))
        async let d = second.runOnce(now: F.t0.addingTimeInterval(60))
        #expect(try await c + d == 0)
        let (rows, keys) = try await pool.withConnection { connection in
            let rows = try connection.query("SELECT count(*) AS n, count(DISTINCT idempotency_key) AS k FROM outbox")[0]
            return (try rows.decode("n", as: Int.self), try rows.decode("k", as: Int.self))
        }
        #expect(rows == 12)  // email + SMS to the protection focal point, per ticket
        #expect(keys == rows)
    }

    @Test func aLowPriorityTicketOnlyRemindsWhenItsDeadlinePasses() async throws {
        let pool = try await F.pool("esc_low")
        defer { Task { await pool.close() } }
        let worker = try F.worker(pool)
        let ticket = try await F.intake(pool, flags: [], severity: .low, restricted: false)
        #expect(try await worker.runOnce(now: F.t0.addingTimeInterval(4 * 86_400)) == 0)
        #expect(try await worker.runOnce(now: F.t0.addingTimeInterval(5 * 86_400)) == 1)
        #expect(try await F.outbox(pool, ticket: ticket.id).map(\.destination) == ["handler@example.org"])
    }
}
