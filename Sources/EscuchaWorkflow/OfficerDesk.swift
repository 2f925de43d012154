import EscuchaCore
import EscuchaStore
import Foundation

/// Why an officer's action was refused, in words the officer can act on.
public enum OfficerActionError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownOfficer(String)
    case ticketNotFound(Int64)
    case unknownAssignee(String)
    case unknownTeam(String)
    case unknownType(String, known: [String])
    case unknownFlag(String)
    case unknownSector(String, known: [String])
    case unknownResolutionCode(String, known: [String])
    case statusNotAllowed(String)
    case emptyText(String)
    case notResolved(String)
    case optedOut(String)
    case noContact(String)
    case needsClearance
    case forbidden(String)

    public var description: String {
        switch self {
        case .unknownOfficer(let login):
            return "officer '\(login)' is not an active officer: add them to Config/teams.yaml and run `escucha officers sync`"
        case .ticketNotFound: return "the ticket does not exist or you may not read it"
        case .unknownAssignee(let login): return "no active officer '\(login)': check the login (escucha officers list)"
        case .unknownTeam(let team): return "no team '\(team)': see Config/teams.yaml"
        case .unknownType(let type, let known): return "'\(type)' is not a feedback type; use one of: \(known.joined(separator: ", "))"
        case .unknownFlag(let code): return "'\(code)' is not a flag code of Config/taxonomy.yaml"
        case .unknownSector(let sector, let known): return "'\(sector)' is not a sector; use one of: \(known.joined(separator: ", "))"
        case .unknownResolutionCode(let code, let known):
            return "'\(code)' is not a resolution code; use one of: \(known.joined(separator: ", "))"
        case .statusNotAllowed(let status):
            return "status '\(status)' cannot be set directly: resolve with a resolution code, close by closing the loop"
        case .emptyText(let what): return "the \(what) is empty: type some text first"
        case .notResolved(let reference): return "ticket \(reference) is not resolved yet: resolve it with a resolution code first"
        case .optedOut(let reference): return "the person of ticket \(reference) asked not to be contacted: no message was queued"
        case .noContact(let reference): return "ticket \(reference) has no contact to write to"
        case .needsClearance: return "showing a contact needs clearance: ask a focal point with clearance"
        case .forbidden(let what): return "not allowed: \(what)"
        }
    }
}

/// What an officer does to tickets, shared by the console and the command line. Every
/// action runs in its own transaction under the database role `escucha_officer` with the
/// officer named, so row-level security applies, and writes an audit event.
public struct OfficerDesk: Sendable {
    public let officer: String
    /// `console` or `cli`, recorded in the audit log.
    public let interface: String
    public let taxonomy: Taxonomy
    public let templates: MessageTemplates
    public let resolutionCodes: [String]
    let protector: ContactProtector?

    /// The statuses an officer sets directly; resolved and closed have their own actions.
    public static let settableStatuses = ["new", "open", "pending", "escalated"]

    public init(
        officer: String, interface: String, taxonomy: Taxonomy, templates: MessageTemplates, resolutionCodes: [String],
        protector: ContactProtector?
    ) {
        self.officer = officer
        self.interface = interface
        self.taxonomy = taxonomy
        self.templates = templates
        self.resolutionCodes = resolutionCodes
        self.protector = protector
    }

    /// Runs `body` in a transaction as the officer: `SET LOCAL ROLE escucha_officer` and
    /// the officer's login in `escucha.officer`, which the policies read.
    public func inSession<T>(_ connection: PGConnection, _ body: () throws -> T) throws -> T {
        try connection.transaction {
            try connection.execute("SET LOCAL ROLE escucha_officer", operation: "taking the officer role")
            _ = try connection.query("SELECT set_config('escucha.officer', \(officer), true)", operation: "naming the officer")
            return try body()
        }
    }

    /// The officer's row: id, team, clearance. Fails when the officer is unknown or inactive.
    public func profile(on connection: PGConnection) throws -> OfficerProfile {
        try inSession(connection) {
            let rows = try connection.query(
                "SELECT id, name, team, clearance, roles FROM officers WHERE login = \(officer) AND active", operation: "finding the officer")
            guard let row = rows.first else { throw OfficerActionError.unknownOfficer(officer) }
            return OfficerProfile(
                id: try row.decode("id"), login: officer, name: try row.decode("name"), team: try row.decode("team"),
                clearance: try row.decode("clearance"), roles: try row.decode("roles"))
        }
    }

    /// Assigns the ticket to `login`, or unassigns it when `nil`.
    public func assign(ticketID: Int64, to login: String?, now: Date, on connection: PGConnection) throws {
        try inSession(connection) {
            let ticket = try lockTicket(ticketID, connection)
            var assigneeID: Int64?
            if let login {
                let rows = try connection.query("SELECT id FROM officers WHERE login = \(login) AND active", operation: "finding the assignee")
                guard let id: Int64 = try rows.first?.decode("id") else { throw OfficerActionError.unknownAssignee(login) }
                assigneeID = id
            }
            try connection.execute(
                """
                UPDATE tickets SET assignee_id = \(assigneeID), updated_at = \(now),
                       status = CASE WHEN status = 'new' AND \(assigneeID) IS NOT NULL THEN 'open' ELSE status END
                 WHERE id = \(ticketID)
                """, operation: "assigning the ticket")
            if login == officer {
                // Taking a ticket in hand is its acknowledgement: deadlines and escalations stop.
                _ = try EscalationAcknowledgement.acknowledge(ticketID: ticketID, officer: officer, interface: interface, now: now, on: connection)
            }
            try record(ticketID, "assigned", ["to": login ?? "", "from": ticket.assignee ?? ""], now, connection)
        }
    }

    /// Sets one of `settableStatuses` (reopening a resolved or closed ticket included).
    public func setStatus(ticketID: Int64, to status: String, now: Date, on connection: PGConnection) throws {
        guard Self.settableStatuses.contains(status) else { throw OfficerActionError.statusNotAllowed(status) }
        try inSession(connection) {
            let ticket = try lockTicket(ticketID, connection)
            try connection.execute(
                """
                UPDATE tickets SET status = \(status), updated_at = \(now),
                       resolved_at = CASE WHEN \(status) IN ('resolved', 'closed') THEN resolved_at END,
                       closed_at = NULL
                 WHERE id = \(ticketID)
                """, operation: "changing the status")
            try record(ticketID, "status", ["from": ticket.status, "to": status], now, connection)
        }
    }

    /// Corrects the classification: stored as a human label and applied to the ticket
    /// (severity and the restricted mark follow the flags).
    public func correct(ticketID: Int64, type: String, flags: [String], sectors: [String], now: Date, on connection: PGConnection) throws {
        guard taxonomy.types.contains(type) else { throw OfficerActionError.unknownType(type, known: taxonomy.types) }
        for code in flags where taxonomy.flag(FlagCode(code)) == nil { throw OfficerActionError.unknownFlag(code) }
        for sector in sectors where !taxonomy.sectors.contains(sector) {
            throw OfficerActionError.unknownSector(sector, known: taxonomy.sectors)
        }
        let codes = Array(Set(flags)).sorted()
        let sectorList = Array(Set(sectors)).sorted()
        let severity = taxonomy.severity(of: codes.map { FlagCode($0) }) ?? .low
        let restricted = taxonomy.isRestricted(codes.map { FlagCode($0) })
        try inSession(connection) {
            let ticket = try lockTicket(ticketID, connection)
            let previous = try JSON(encoding: ["type": ticket.type ?? "", "flags": ticket.flags.joined(separator: " "), "sectors": ticket.sectors.joined(separator: " ")])
            try connection.execute(
                """
                INSERT INTO human_labels (ticket_id, message_id, officer, type, flags, sectors, previous, created_at)
                VALUES (\(ticketID), (SELECT id FROM messages WHERE ticket_id = \(ticketID) AND direction = 'in' ORDER BY received_at, id LIMIT 1),
                        \(officer), \(type), \(codes), \(sectorList), \(previous), \(now))
                """, operation: "storing the label")
            try connection.execute(
                """
                UPDATE tickets SET type = \(type), flags = \(codes), sectors = \(sectorList), severity = \(severity.rawValue),
                       restricted = restricted OR \(restricted), updated_at = \(now)
                 WHERE id = \(ticketID)
                """, operation: "correcting the ticket")
            try record(
                ticketID, "corrected",
                ["type": type, "flags": codes.joined(separator: " "), "sectors": sectorList.joined(separator: " ")], now, connection)
        }
    }

    /// An internal note: visible to officers, never sent.
    public func note(ticketID: Int64, text: String, now: Date, on connection: PGConnection) throws {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw OfficerActionError.emptyText("note") }
        try inSession(connection) {
            _ = try lockTicket(ticketID, connection)
            try connection.execute(
                """
                INSERT INTO messages (ticket_id, channel_id, kind, direction, text, received_at)
                VALUES (\(ticketID), \(interface), 'note', 'out', \(text), \(now))
                """, operation: "adding the note")
            try connection.execute("UPDATE tickets SET updated_at = \(now) WHERE id = \(ticketID)", operation: "touching the ticket")
            try record(ticketID, "note", [:], now, connection)
        }
    }

    /// Replies to the person through the outbox, on the channel they last wrote on.
    public func reply(ticketID: Int64, text: String, now: Date, on connection: PGConnection) throws {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw OfficerActionError.emptyText("reply") }
        try inSession(connection) {
            let ticket = try lockTicket(ticketID, connection)
            try sendToContact(ticket, text: text, template: "reply", now: now, connection)
            try connection.execute(
                """
                UPDATE tickets SET first_response_at = COALESCE(first_response_at, \(now)), updated_at = \(now),
                       status = CASE WHEN status = 'new' THEN 'open' ELSE status END
                 WHERE id = \(ticketID)
                """, operation: "recording the reply")
            try record(ticketID, "replied", ["characters": String(text.count)], now, connection)
        }
    }

    /// Hands the ticket to another team (focal points): status escalated, unassigned.
    public func escalate(ticketID: Int64, to team: String, reason: String, now: Date, on connection: PGConnection) throws {
        try inSession(connection) {
            let ticket = try lockTicket(ticketID, connection)
            guard try !connection.query("SELECT 1 FROM teams WHERE id = \(team)", operation: "finding the team").isEmpty else {
                throw OfficerActionError.unknownTeam(team)
            }
            try connection.execute(
                "UPDATE tickets SET status = 'escalated', team = \(team), assignee_id = NULL, updated_at = \(now) WHERE id = \(ticketID)",
                operation: "escalating the ticket")
            try record(ticketID, "escalated", ["from_team": ticket.team ?? "", "to_team": team, "reason": reason], now, connection)
        }
    }

    /// Resolves the ticket with a resolution code (the loop is closed separately).
    public func resolve(ticketID: Int64, code: String, note: String, now: Date, on connection: PGConnection) throws {
        guard resolutionCodes.contains(code) else { throw OfficerActionError.unknownResolutionCode(code, known: resolutionCodes) }
        try inSession(connection) {
            _ = try lockTicket(ticketID, connection)
            try connection.execute(
                """
                UPDATE tickets SET status = 'resolved', resolution_code = \(code), resolved_at = \(now), updated_at = \(now),
                       first_response_at = COALESCE(first_response_at, \(now))
                 WHERE id = \(ticketID)
                """, operation: "resolving the ticket")
            try connection.execute(
                "UPDATE escalations SET acknowledged_at = \(now) WHERE ticket_id = \(ticketID) AND acknowledged_at IS NULL",
                operation: "stopping escalations")
            try record(ticketID, "resolved", ["code": code, "note": note], now, connection)
        }
    }

    /// Refers the ticket to another organisation's service (consent given, or overridden by
    /// a cleared role with a reason); audited like every step of a referral.
    @discardableResult
    public func refer(
        ticketID: Int64, organisation: String, service: ReferralService, consent: ReferralConsent, now: Date, on connection: PGConnection
    ) throws -> Int64 {
        let organisation = organisation.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !organisation.isEmpty else { throw OfficerActionError.emptyText("organisation") }
        return try inSession(connection) {
            _ = try lockTicket(ticketID, connection)
            return try EscalationReferrals.refer(
                ticketID: ticketID, organisation: organisation, service: service, consent: consent, officer: officer, interface: interface,
                now: now, on: connection)
        }
    }

    /// What closing the loop did.
    public enum LoopOutcome: Sendable, Equatable {
        /// The resolution message is queued to the person.
        case messageQueued
        /// Closed without a message: the person opted out, or no contact is known.
        case closedWithoutMessage(String)
    }

    /// Closes the loop: sends the resolution message in the person's language (when they
    /// may be contacted) and closes the ticket.
    public func closeLoop(ticketID: Int64, now: Date, on connection: PGConnection) throws -> LoopOutcome {
        try inSession(connection) {
            let ticket = try lockTicket(ticketID, connection)
            guard ticket.status == "resolved" || ticket.status == "closed" else { throw OfficerActionError.notResolved(ticket.reference) }
            let language = templates.language(ticket.language)
            let text = MessageTemplates.filling(language.resolution, reference: ticket.reference)
            var outcome = LoopOutcome.messageQueued
            do {
                try sendToContact(ticket, text: text, template: "resolution", now: now, connection, savepoint: true)
            } catch let error as OfficerActionError {
                switch error {
                case .optedOut, .noContact: outcome = .closedWithoutMessage(error.description)
                default: throw error
                }
            }
            try connection.execute(
                "UPDATE tickets SET status = 'closed', closed_at = \(now), updated_at = \(now) WHERE id = \(ticketID)", operation: "closing the ticket")
            var details = ["message": outcome == .messageQueued ? "queued" : "none"]
            if case .closedWithoutMessage(let why) = outcome { details["why"] = why }
            try record(ticketID, "closed_loop", details, now, connection)
            return outcome
        }
    }

    /// The person's address in clear, for an officer with clearance; the database records
    /// that they saw it.
    public func revealContact(ticketID: Int64, on connection: PGConnection) throws -> String {
        guard let protector else { throw OfficerActionError.forbidden("this session has no contact key") }
        let encrypted: Data = try inSession(connection) {
            do {
                let rows = try connection.query("SELECT escucha_reveal_contact(\(ticketID), \(interface)) AS address", operation: "revealing the contact")
                return try rows[0].decode("address")
            } catch let error as StoreError where error.sqlState?.rawValue == "42501" {
                throw OfficerActionError.needsClearance
            }
        }
        return try protector.decrypt(encrypted)
    }

    // MARK: - Inside a session

    struct LockedTicket {
        var id: Int64
        var reference: String
        var status: String
        var language: String?
        var channelID: String?
        var team: String?
        var assignee: String?
        var type: String?
        var flags: [String]
        var sectors: [String]
    }

    private func lockTicket(_ ticketID: Int64, _ connection: PGConnection) throws -> LockedTicket {
        let rows = try connection.query(
            """
            SELECT t.reference, t.status, t.language, t.channel_id, t.team, t.type, t.flags, t.sectors,
                   (SELECT login FROM officers o WHERE o.id = t.assignee_id) AS assignee
              FROM tickets t WHERE t.id = \(ticketID) FOR UPDATE
            """, operation: "reading the ticket")
        guard let row = rows.first else { throw OfficerActionError.ticketNotFound(ticketID) }
        return LockedTicket(
            id: ticketID, reference: try row.decode("reference"), status: try row.decode("status"), language: try row.decode("language"),
            channelID: try row.decode("channel_id"), team: try row.decode("team"), assignee: try row.decode("assignee"),
            type: try row.decode("type"), flags: try row.decode("flags"), sectors: try row.decode("sectors"))
    }

    /// Writes the outgoing message and queues it (the database copies the encrypted
    /// address; this session never reads it).
    private func sendToContact(_ ticket: LockedTicket, text: String, template: String, now: Date, _ connection: PGConnection, savepoint: Bool = false)
        throws
    {
        let ticketID = ticket.id
        let last = try connection.query(
            """
            SELECT channel_id, kind FROM messages WHERE ticket_id = \(ticketID) AND direction = 'in'
             ORDER BY received_at DESC, id DESC LIMIT 1
            """, operation: "finding the person's channel")
        let channel: String = try last.first?.decode("channel_id") ?? ticket.channelID ?? ""
        let messageKind: String = try last.first?.decode("kind") ?? "sms"
        let outboxKind = messageKind == "email" ? "email" : "sms"
        let language = templates.language(ticket.language).code
        var fields = ["text": text, "template": template, "language": language]
        if outboxKind == "email" { fields["subject"] = "[\(ticket.reference)]" }
        let payload = try JSON(encoding: fields)
        let key = "\(template):\(ticketID):\(UUID().uuidString.lowercased())"
        if savepoint { try connection.execute("SAVEPOINT queue_to_contact") }
        do {
            _ = try connection.query(
                "SELECT escucha_queue_to_contact(\(ticketID), \(outboxKind), \(channel), \(payload), \(key))", operation: "queueing the message")
        } catch {
            if savepoint { try connection.execute("ROLLBACK TO SAVEPOINT queue_to_contact") }
            switch error.sqlState?.rawValue {
            case "P0003": throw OfficerActionError.optedOut(ticket.reference)
            case "P0002": throw OfficerActionError.noContact(ticket.reference)
            default: throw error
            }
        }
        try connection.execute(
            """
            INSERT INTO messages (ticket_id, channel_id, kind, direction, text, received_at, language)
            VALUES (\(ticketID), \(channel), \(messageKind == "email" ? "email" : "sms"), 'out', \(text), \(now), \(language))
            """, operation: "recording the outgoing message")
    }

    private func record(_ ticketID: Int64, _ action: String, _ details: [String: String], _ now: Date, _ connection: PGConnection) throws {
        try connection.execute(
            """
            INSERT INTO ticket_events (ticket_id, at, actor, interface, action, details)
            VALUES (\(ticketID), \(now), \(officer), \(interface), \(action), \(try JSON(encoding: details)))
            """, operation: "writing the audit event")
    }
}

/// Who is working.
public struct OfficerProfile: Sendable, Equatable {
    public var id: Int64
    public var login: String
    public var name: String
    public var team: String?
    public var clearance: Bool
    public var roles: [String]
}
