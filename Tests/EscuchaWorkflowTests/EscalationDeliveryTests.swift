import EscuchaChannels
import EscuchaCore
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation
import Testing

/// Escalation outbox rows are what the existing OutboxSender sends: email to the officer
/// over SMTP, JSON to the webhook — with the reference and never the person's words.
@Suite(.serialized) struct EscalationDeliveryTests {
    typealias F = EscalationFixture

    static let rulesYAML = """
        rules:
          - name: gbv
            when: {flags: [protection.gbv]}
            then: {restricted: true, team: protection, acknowledge_within: 4h}
            chain:
              - {notify: "role:protection_focal_point", via: [email]}
              - {notify: "webhook:ops"}
        """

    @Test func theOutboxSenderDeliversEscalationEmailAndWebhooks() async throws {
        let pool = try await F.pool("esc_deliver")
        defer { Task { await pool.close() } }
        let rules = try EscalationRuleSet.parse(Self.rulesYAML, file: "rules.yaml")
        var directory = try F.directory()
        directory.webhooks["ops"] = "http://127.0.0.1:9/escucha-ops"
        let secret = "me violaron en el albergue"
        let reference = try await EscalationTestTickets.plantRestrictedGBV(words: secret, rules: rules, at: F.t0, in: pool)
        let worker = EscalationWorker(pool: pool, rules: rules, directory: directory, protector: F.protector, clock: { F.t0 }, logger: F.logger)
        try await worker.runOnce(now: F.t0)
        try await worker.runOnce(now: F.t0.addingTimeInterval(4 * 3600))

        let transport = InMemoryOutboxTransport()
        var configuration = OutboxSender.Configuration(workerID: "sender")
        configuration.smtp = SMTPServer(url: "smtp://127.0.0.1:2525")
        configuration.mailFrom = "escucha@example.org"
        let sender = OutboxSender(
            pool: pool, transport: transport, catalog: try GatewayCatalog([]), channels: [], protector: F.protector, environment: [:],
            configuration: configuration, clock: { F.t0.addingTimeInterval(4 * 3600) }, logger: F.logger)
        #expect(try await sender.runOnce(now: F.t0.addingTimeInterval(4 * 3600)) == 2)

        let mail = try #require(transport.mail.first)
        #expect(mail.recipients == ["prot@example.org"])
        let raw = String(decoding: mail.data, as: UTF8.self)
        let body = raw.components(separatedBy: "\r\n\r\n").last.map { $0.replacingOccurrences(of: "\r\n", with: "") } ?? ""
        let text = String(decoding: Data(base64Encoded: body) ?? Data(), as: UTF8.self)
        #expect(text.contains("Ticket \(reference) needs your attention"))
        #expect(text.contains("escucha console --ticket \(reference)"))
        #expect(!text.contains("violaron") && !raw.contains("violaron"))

        let request = try #require(transport.requests.first)
        #expect(request.url == "http://127.0.0.1:9/escucha-ops")
        let json = try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String]
        #expect(json?["ticket"] == reference)
        #expect(json?["level"] == "1")
        #expect(!String(decoding: request.body, as: UTF8.self).contains("violaron"))
        let statuses = try await pool.withConnection { connection in
            try connection.query("SELECT status FROM outbox ORDER BY id").map { try $0.decode("status", as: String.self) }
        }
        #expect(statuses == ["sent", "sent"])
    }
}
