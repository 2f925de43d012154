import EscuchaCore
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation

/// A migrated database with the sample officers of Config/teams.yaml, and a way to add
/// tickets as intake would leave them (encrypted contact, messages, classification).
struct ConsoleFixture {
    let pool: PostgresPool
    let secret: String
    let protector: ContactProtector
    let taxonomy: Taxonomy
    let templates: MessageTemplates
    let resolutionCodes = ["answered", "service_provided", "referred", "not_actionable", "duplicate", "unreachable"]

    static func make(_ label: String) async throws -> ConsoleFixture {
        let pool = try await TestCluster.migratedPool(label, poolSize: 2)
        let directory = try EscalationDirectory.load(path: RepositoryConfig.root + "/Config/teams.yaml")
        _ = try await pool.withTransaction { connection in try EscalationDirectorySync.sync(directory, on: connection) }
        let secret = ContactProtector.generateEncodedSecret()
        return ConsoleFixture(
            pool: pool, secret: secret, protector: try ContactProtector(encodedSecret: secret),
            taxonomy: try Taxonomy.load(path: RepositoryConfig.root + "/Config/taxonomy.yaml"),
            templates: try MessageTemplates.load(directory: RepositoryConfig.root + "/Config/messages"))
    }

    /// A connection string the console process can use (`--database-url`).
    var conninfo: String {
        ([pool.configuration.conninfo] + pool.configuration.parameters.map { "\($0.keyword)=\($0.value)" }).joined(separator: " ")
    }

    func desk(_ login: String) -> OfficerDesk {
        OfficerDesk(
            officer: login, interface: "console", taxonomy: taxonomy, templates: templates, resolutionCodes: resolutionCodes, protector: protector)
    }

    struct NewTicket: Sendable {
        var reference: String
        var text: String
        var language = "es"
        var flags: [String] = []
        var type = "complaint"
        var sectors: [String] = ["protection"]
        var location = "Cúcuta"
        var channel = "twilio-cucuta"
        var phone = "+573001112233"
        var team: String? = "cea"
        var createdAt = Date(timeIntervalSinceNow: -3600)
        var ackDue: Date? = Date(timeIntervalSinceNow: 3600)
        var optedOut = false
        /// UTF-16 ranges of `text` that raised each flag.
        var evidence: [(flag: String, range: Range<Int>)] = []
    }

    @discardableResult
    func add(_ ticket: NewTicket) async throws -> Int64 {
        let codes = ticket.flags.map { FlagCode($0) }
        let severity = (taxonomy.severity(of: codes) ?? .low).rawValue
        let restricted = taxonomy.isRestricted(codes)
        let encrypted = protector.encrypt(ticket.phone)
        let hash = protector.linkHash(ticket.phone) + ticket.reference
        let masked = ContactAddress.mask(ticket.phone)
        let evidence = try JSON(
            encoding: ticket.evidence.map { item in
                EvidenceRecord(
                    flag: item.flag, start: item.range.lowerBound, end: item.range.upperBound,
                    text: String((ticket.text as NSString).substring(with: NSRange(location: item.range.lowerBound, length: item.range.count))),
                    entry: "\(ticket.language):\(item.flag)#1", language: ticket.language)
            })
        return try await pool.withTransaction { connection in
            let contact: Int64 = try connection.query(
                """
                INSERT INTO contacts (kind, address_enc, address_hash, masked, language, opted_out_at)
                VALUES ('phone', \(encrypted), \(hash), \(masked), \(ticket.language), \(ticket.optedOut ? Date() : nil))
                RETURNING id
                """)[0].decode("id")
            let id: Int64 = try connection.query(
                """
                INSERT INTO tickets (reference, type, flags, sectors, severity, restricted, language, location, team, contact_id, channel_id,
                                     created_at, ack_due_at, resolve_due_at)
                VALUES (\(ticket.reference), \(ticket.type), \(ticket.flags), \(ticket.sectors), \(severity), \(restricted), \(ticket.language),
                        \(ticket.location), \(ticket.team), \(contact), \(ticket.channel), \(ticket.createdAt), \(ticket.ackDue),
                        \(ticket.createdAt.addingTimeInterval(7 * 86400)))
                RETURNING id
                """)[0].decode("id")
            let message: Int64 = try connection.query(
                """
                INSERT INTO messages (ticket_id, contact_id, channel_id, kind, direction, text, received_at, language, external_id)
                VALUES (\(id), \(contact), \(ticket.channel), 'sms', 'in', \(ticket.text), \(ticket.createdAt), \(ticket.language), \(ticket.reference))
                RETURNING id
                """)[0].decode("id")
            try connection.execute(
                """
                INSERT INTO classifications (message_id, ticket_id, classifier_version, type, flags, sectors, language, evidence, severity, restricted)
                VALUES (\(message), \(id), 'test', \(ticket.type), \(ticket.flags), \(ticket.sectors), \(ticket.language), \(evidence), \(severity), \(restricted))
                """)
            try connection.execute(
                "INSERT INTO ticket_events (ticket_id, actor, interface, action) VALUES (\(id), 'system', 'system', 'created')")
            return id
        }
    }

    struct EvidenceRecord: Encodable {
        var flag: String
        var start: Int
        var end: Int
        var text: String
        var entry: String
        var language: String
    }
}
