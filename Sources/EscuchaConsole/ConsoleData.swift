import EscuchaCore
import EscuchaStore
import EscuchaWorkflow
import Foundation

/// Which tickets the queue shows.
public struct QueueFilter: Sendable, Equatable {
    public enum Scope: String, Sendable, CaseIterable {
        /// Work still to do: everything not resolved or closed.
        case open
        /// Resolved and closed tickets.
        case done
        case all
    }

    public var scope: Scope = .open
    /// One exact status (within the scope).
    public var status: String?
    /// A flag family (`protection`) or code (`protection.gbv`).
    public var flag: String?
    public var minimumSeverity: Severity?
    public var channel: String?
    public var location: String?
    public var mine = false
    public var unassigned = false
    /// A ticket reference, or words in the messages.
    public var search: String?

    public init() {}

    /// The conditions on `tickets t` (without the keyset).
    func conditions(officerID: Int64) -> SQL {
        var parts: [SQL] = []
        switch scope {
        case .open: parts.append("t.status NOT IN ('resolved', 'closed')")
        case .done: parts.append("t.status IN ('resolved', 'closed')")
        case .all: break
        }
        if let status { parts.append("t.status = \(status)") }
        if let flag, !flag.isEmpty {
            if flag.contains(".") {
                parts.append("\(flag) = ANY (t.flags)")
            } else {
                parts.append("EXISTS (SELECT 1 FROM unnest(t.flags) f WHERE split_part(f, '.', 1) = \(flag))")
            }
        }
        if let minimumSeverity { parts.append("t.severity_rank >= \(minimumSeverity.rank)") }
        if let channel, !channel.isEmpty { parts.append("t.channel_id = \(channel)") }
        if let location, !location.isEmpty { parts.append("t.location ILIKE \(Self.likePattern(location))") }
        if mine { parts.append("t.assignee_id = \(officerID)") }
        if unassigned { parts.append("t.assignee_id IS NULL") }
        if let search = search?.trimmingCharacters(in: .whitespaces), !search.isEmpty {
            // A six-letter word may also be a reference: match either.
            let reference = TicketReference.normalise(search) ?? ""
            parts.append(
                """
                (t.reference = \(reference)
                 OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.text ILIKE \(Self.likePattern(search))))
                """)
        }
        return parts.isEmpty ? "true" : SQL.joined(parts, separator: " AND ")
    }

    /// `%text%` with the LIKE wildcards of `text` escaped.
    static func likePattern(_ text: String) -> String {
        var escaped = ""
        for c in text {
            if c == "%" || c == "_" || c == "\\" { escaped.append("\\") }
            escaped.append(c)
        }
        return "%" + escaped + "%"
    }

    /// The active filters, for the header (empty when none).
    public func summary(_ strings: ConsoleStrings) -> String {
        var parts: [String] = [strings["scope.\(scope.rawValue)"]]
        if let status { parts.append(strings["filter.status"] + "=" + status) }
        if let flag { parts.append(strings["filter.flag"] + "=" + flag) }
        if let minimumSeverity { parts.append(strings["filter.severity"] + "≥" + minimumSeverity.rawValue) }
        if let channel { parts.append(strings["filter.channel"] + "=" + channel) }
        if let location { parts.append(strings["filter.location"] + "=" + location) }
        if mine { parts.append(strings["filter.mine"]) }
        if unassigned { parts.append(strings["filter.unassigned"]) }
        if let search { parts.append("/" + search) }
        return parts.joined(separator: " · ")
    }
}

/// The position of a row in the urgency order, for keyset paging.
public struct QueueKey: Sendable, Equatable {
    public var severityRank: Int
    public var due: Date?
    public var id: Int64
}

/// One line of the queue.
public struct QueueRow: Sendable, Equatable {
    public var id: Int64
    public var reference: String
    public var status: String
    public var createdAt: Date
    public var channel: String
    public var language: String
    public var type: String
    public var flags: [String]
    public var severity: String
    public var restricted: Bool
    public var location: String
    public var assignee: String
    /// The deadline that matters now (acknowledgement, then resolution); nil when none.
    public var due: Date?
    /// The last message of the person (shown on wide terminals).
    public var preview: String
    public var key: QueueKey

    public var severityRank: Int { key.severityRank }
}

/// Tickets that exist but that the officer may not read (restricted, no clearance).
public struct HiddenTickets: Sendable, Equatable {
    public var count: Int
    public var overdue: Int
}

/// A message, note or reply in a ticket's conversation.
public struct ConversationEntry: Sendable, Equatable {
    public var at: Date
    public var direction: String
    public var kind: String
    public var channel: String
    public var text: String
    public var language: String?
    /// UTF-16 ranges of the words that raised flags.
    public var highlights: [Range<Int>]
}

/// Why a flag was raised, as stored with the classification.
public struct EvidenceItem: Sendable, Equatable, Decodable {
    public var flag: String
    public var start: Int
    public var end: Int
    public var text: String
    public var entry: String
    public var language: String
}

/// One step of an escalation rule for the ticket.
public struct EscalationStep: Sendable, Equatable {
    public var rule: String
    public var level: Int
    public var target: String
    public var due: Date
    public var firedAt: Date?
    public var acknowledgedAt: Date?
}

/// One audit event.
public struct HistoryEntry: Sendable, Equatable {
    public var at: Date
    public var actor: String
    public var interface: String
    public var action: String
    public var details: String
}

/// A referral of the ticket to another organisation.
public struct ReferralLine: Sendable, Equatable {
    public var organisation: String
    public var service: String
    public var status: String
    public var consent: String
}

/// Everything the ticket screen shows.
public struct TicketDetail: Sendable, Equatable {
    public var id: Int64
    public var reference: String
    public var status: String
    public var type: String
    public var flags: [String]
    public var sectors: [String]
    public var severity: String
    public var restricted: Bool
    public var language: String
    public var location: String
    public var team: String
    public var assignee: String
    public var createdAt: Date
    public var ackDue: Date?
    public var resolveDue: Date?
    public var acknowledgedAt: Date?
    public var resolutionCode: String?
    public var contactMasked: String
    public var contactOptedOut: Bool
    public var classifierVersion: String
    public var conversation: [ConversationEntry]
    public var evidence: [EvidenceItem]
    public var escalations: [EscalationStep]
    public var referrals: [ReferralLine]
    public var history: [HistoryEntry]
}

/// The console's reads, all under the officer's session (row-level security applies).
public struct ConsoleData: Sendable {
    public let desk: OfficerDesk
    public let officerID: Int64

    public init(desk: OfficerDesk, officerID: Int64) {
        self.desk = desk
        self.officerID = officerID
    }

    /// Up to `limit` rows of the queue after `key` (from the top when nil), most urgent first.
    public func queue(_ filter: QueueFilter, after key: QueueKey?, limit: Int, on connection: PGConnection) throws -> [QueueRow] {
        var keyset: SQL = "true"
        if let key {
            keyset = """
                (t.severity_rank < \(key.severityRank) OR (t.severity_rank = \(key.severityRank)
                  AND (t.next_due_at, t.id) > (COALESCE(\(key.due), 'infinity'::timestamptz), \(key.id))))
                """
        }
        return try desk.inSession(connection) {
            try connection.query(
                """
                SELECT t.id, t.reference, t.status, t.created_at, coalesce(t.channel_id, '') AS channel,
                       coalesce(t.language, '') AS language, coalesce(t.type, '') AS type, t.flags, t.severity,
                       t.severity_rank::int AS rank, t.restricted, coalesce(t.location, '') AS location,
                       NULLIF(t.next_due_at, 'infinity') AS due, coalesce(o.login, '') AS assignee,
                       coalesce((SELECT m.text FROM messages m WHERE m.ticket_id = t.id AND m.direction = 'in'
                                  ORDER BY m.received_at DESC, m.id DESC LIMIT 1), '') AS preview
                  FROM tickets t LEFT JOIN officers o ON o.id = t.assignee_id
                 WHERE \(filter.conditions(officerID: officerID)) AND \(keyset)
                 ORDER BY t.severity_rank DESC, t.next_due_at, t.id
                 LIMIT \(limit)
                """, operation: "reading the queue"
            ).map { row in
                let id: Int64 = try row.decode("id")
                let rank: Int = try row.decode("rank")
                let due: Date? = try row.decode("due")
                return QueueRow(
                    id: id, reference: try row.decode("reference"), status: try row.decode("status"), createdAt: try row.decode("created_at"),
                    channel: try row.decode("channel"), language: try row.decode("language"), type: try row.decode("type"),
                    flags: try row.decode("flags"), severity: try row.decode("severity"), restricted: try row.decode("restricted"),
                    location: try row.decode("location"), assignee: try row.decode("assignee"), due: due, preview: try row.decode("preview"),
                    key: QueueKey(severityRank: rank, due: due, id: id))
            }
        }
    }

    /// How many tickets match the filter.
    public func count(_ filter: QueueFilter, on connection: PGConnection) throws -> Int {
        try desk.inSession(connection) {
            try connection.query("SELECT count(*)::bigint AS n FROM tickets t WHERE \(filter.conditions(officerID: officerID))")[0].decode("n")
        }
    }

    /// Open tickets the officer may not read: they exist, and someone must take them.
    public func hidden(now: Date, on connection: PGConnection) throws -> HiddenTickets {
        try desk.inSession(connection) {
            let row = try connection.query(
                """
                SELECT count(*)::bigint AS n, count(*) FILTER (WHERE ack_due_at < \(now))::bigint AS overdue
                  FROM ticket_stubs WHERE restricted AND NOT readable AND status NOT IN ('resolved', 'closed')
                """, operation: "counting restricted tickets")[0]
            return HiddenTickets(count: try row.decode("n"), overdue: try row.decode("overdue"))
        }
    }

    /// The ticket screen. Opening a restricted ticket (`recordView`) is recorded in the audit
    /// log; a live refresh of the screen is not a new view.
    public func detail(ticketID: Int64, recordView: Bool, on connection: PGConnection) throws -> TicketDetail {
        try desk.inSession(connection) { () throws -> TicketDetail in
            let rows = try connection.query(
                """
                SELECT t.id, t.reference, t.status, coalesce(t.type, '') AS type, t.flags, t.sectors, t.severity, t.restricted,
                       coalesce(t.language, '') AS language, coalesce(t.location, '') AS location, coalesce(t.team, '') AS team,
                       coalesce(o.login, '') AS assignee, t.created_at, t.ack_due_at, t.resolve_due_at, t.acknowledged_at,
                       t.resolution_code, coalesce(c.masked, '') AS masked, c.opted_out_at IS NOT NULL AS opted_out
                  FROM tickets t LEFT JOIN officers o ON o.id = t.assignee_id LEFT JOIN contacts c ON c.id = t.contact_id
                 WHERE t.id = \(ticketID)
                """, operation: "reading the ticket")
            guard let row = rows.first else { throw OfficerActionError.ticketNotFound(ticketID) }
            if recordView, try row.decode("restricted", as: Bool.self) {
                // Every opening of a restricted ticket is in its history, this one included.
                _ = try connection.query("SELECT escucha_record_view(\(ticketID), \(desk.interface))", operation: "recording the view")
            }
            var evidenceByMessage: [Int64: [EvidenceItem]] = [:]
            var version = ""
            for classification in try connection.query(
                """
                SELECT DISTINCT ON (message_id) message_id, evidence::text AS evidence, classifier_version
                  FROM classifications WHERE ticket_id = \(ticketID) ORDER BY message_id, created_at DESC
                """, operation: "reading the classification")
            {
                let json: String = try classification.decode("evidence")
                let items = (try? JSONDecoder().decode([EvidenceItem].self, from: Data(json.utf8))) ?? []
                evidenceByMessage[try classification.decode("message_id"), default: []] += items
                version = try classification.decode("classifier_version")
            }
            let conversation = try connection.query(
                """
                SELECT id, received_at, direction, kind, channel_id, text, language FROM messages
                 WHERE ticket_id = \(ticketID) ORDER BY received_at, id
                """, operation: "reading the conversation"
            ).map { message in
                let id: Int64 = try message.decode("id")
                return ConversationEntry(
                    at: try message.decode("received_at"), direction: try message.decode("direction"), kind: try message.decode("kind"),
                    channel: try message.decode("channel_id"), text: try message.decode("text"), language: try message.decode("language"),
                    highlights: (evidenceByMessage[id] ?? []).map { $0.start..<$0.end })
            }
            let escalations = try connection.query(
                """
                SELECT rule, level, coalesce(target, '') AS target, due_at, fired_at, acknowledged_at FROM escalations
                 WHERE ticket_id = \(ticketID) ORDER BY due_at, level
                """, operation: "reading escalations"
            ).map { step in
                EscalationStep(
                    rule: try step.decode("rule"), level: try step.decode("level"), target: try step.decode("target"), due: try step.decode("due_at"),
                    firedAt: try step.decode("fired_at"), acknowledgedAt: try step.decode("acknowledged_at"))
            }
            let referrals = try connection.query(
                "SELECT organisation, service, status, consent FROM referrals WHERE ticket_id = \(ticketID) ORDER BY id",
                operation: "reading referrals"
            ).map { referral in
                ReferralLine(
                    organisation: try referral.decode("organisation"), service: try referral.decode("service"),
                    status: try referral.decode("status"), consent: try referral.decode("consent"))
            }
            let history = try connection.query(
                """
                SELECT at, actor, interface, action, details::text AS details FROM ticket_events
                 WHERE ticket_id = \(ticketID) ORDER BY at, id
                """, operation: "reading the history"
            ).map { event in
                HistoryEntry(
                    at: try event.decode("at"), actor: try event.decode("actor"), interface: try event.decode("interface"),
                    action: try event.decode("action"), details: Self.compactDetails(try event.decode("details")))
            }
            return TicketDetail(
                id: ticketID, reference: try row.decode("reference"), status: try row.decode("status"), type: try row.decode("type"),
                flags: try row.decode("flags"), sectors: try row.decode("sectors"), severity: try row.decode("severity"),
                restricted: try row.decode("restricted"), language: try row.decode("language"), location: try row.decode("location"),
                team: try row.decode("team"), assignee: try row.decode("assignee"), createdAt: try row.decode("created_at"),
                ackDue: try row.decode("ack_due_at"), resolveDue: try row.decode("resolve_due_at"), acknowledgedAt: try row.decode("acknowledged_at"),
                resolutionCode: try row.decode("resolution_code"), contactMasked: try row.decode("masked"),
                contactOptedOut: try row.decode("opted_out"), classifierVersion: version, conversation: conversation,
                evidence: evidenceByMessage.keys.sorted().flatMap { evidenceByMessage[$0]! }, escalations: escalations, referrals: referrals, history: history)
        }
    }

    /// The id of the ticket with this reference, when the officer may read it.
    public func ticketID(reference: String, on connection: PGConnection) throws -> Int64? {
        try desk.inSession(connection) {
            try connection.query("SELECT id FROM tickets WHERE reference = \(reference)").first?.decode("id")
        }
    }

    /// Teams, for escalation.
    public func teams(on connection: PGConnection) throws -> [String] {
        try desk.inSession(connection) {
            try connection.query("SELECT id FROM teams ORDER BY id").map { try $0.decode("id") }
        }
    }

    /// Active officers, for assignment.
    public func officers(on connection: PGConnection) throws -> [String] {
        try desk.inSession(connection) {
            try connection.query("SELECT login FROM officers WHERE active ORDER BY login").map { try $0.decode("login") }
        }
    }

    /// `{"a": "b", "c": ""}` as `a=b`, leaving out empty values.
    static func compactDetails(_ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return "" }
        return object.keys.sorted().compactMap { key in
            let value = "\(object[key]!)"
            return value.isEmpty ? nil : "\(key)=\(value)"
        }.joined(separator: " ")
    }
}
