import EscuchaChannels
import EscuchaCore
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation
import Logging
import Testing

/// Escalation notifications leave through the outbox and arrive at a real SMTP receiver
/// and a real HTTP receiver on loopback, carrying the reference and never the person's words.
@Suite(.serialized) struct EscalationLoopbackTests {
    static let teamsYAML = """
        teams:
          - {id: protection, name: Protection}
        officers:
          - {login: prot-fp, team: protection, roles: [protection_focal_point], clearance: true, email: prot@example.org}
        """

    @Test func notificationsArriveBySMTPAndWebhookOnLoopback() async throws {
        let smtp = try OutboxTestReceiver(.smtp(rejecting: []))
        defer { smtp.stop() }
        let web = try OutboxTestReceiver(.http { _ in .json(200, "{}") })
        defer { web.stop() }

        let rules = try EscalationRuleSet.parse(
            """
            rules:
              - name: gbv
                when: {flags: [protection.gbv]}
                then: {restricted: true, team: protection, acknowledge_within: 4h}
                chain:
                  - {notify: "role:protection_focal_point", via: [email]}
                  - {notify: "webhook:ops"}
            """, file: "rules.yaml")
        var configured = try EscalationDirectory.parse(Self.teamsYAML, file: "teams.yaml")
        configured.webhooks["ops"] = web.origin + "/escucha-ops"
        let directory = configured
        let protector = TestComponents.protector
        let logger = Logger(label: "test.escalation")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let pool = try await TestCluster.migratedPool("esc_loop")
        try await pool.withTransaction { connection in _ = try EscalationDirectorySync.sync(directory, on: connection) }

        let words = "mi pareja me viola cada noche"
        let reference = try await EscalationTestTickets.plantRestrictedGBV(words: words, rules: rules, at: t0, in: pool)
        // Level 1 at once; nobody acknowledges; level 2 (the webhook) after the deadline.
        let worker = EscalationWorker(pool: pool, rules: rules, directory: directory, protector: protector, clock: { t0 }, logger: logger)
        try await worker.runOnce(now: t0)
        let later = t0.addingTimeInterval(4 * 3600 + 60)
        try await worker.runOnce(now: later)

        var configuration = OutboxSender.Configuration(workerID: "loopback")
        configuration.readSMTP(from: ["ESCUCHA_SMTP_URL": "smtp://127.0.0.1:\(smtp.port)", "ESCUCHA_SMTP_FROM": "escucha@cruzroja.example"])
        let sender = OutboxSender(
            pool: pool, transport: HTTPClient(), catalog: TestComponents.catalog, channels: [], protector: protector,
            environment: [:], configuration: configuration, clock: { later }, logger: logger)
        #expect(try await sender.runOnce(now: later) == 2)

        let mail = try #require(smtp.mail.first)
        #expect(mail.recipients.contains { $0.contains("prot@example.org") })
        let decoded = mail.data.components(separatedBy: "\r\n\r\n").dropFirst().joined()
            .replacingOccurrences(of: "\r\n", with: "")
        let text = String(decoding: Data(base64Encoded: decoded) ?? Data(decoded.utf8), as: UTF8.self)
        #expect(text.contains(reference))
        #expect(!text.contains("viola") && !mail.data.contains("viola"))

        let request = try #require(web.requests.first)
        #expect(request.target.hasPrefix("/escucha-ops"))
        #expect(request.bodyText.contains(reference))
        #expect(!request.bodyText.contains("viola"))
        let statuses = try await pool.withConnection { connection in
            try connection.query("SELECT status FROM outbox ORDER BY id").map { try $0.decode("status", as: String.self) }
        }
        #expect(statuses == ["sent", "sent"])
        await pool.close()
    }
}
