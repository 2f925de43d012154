public import EscuchaCore
public import EscuchaStore
public import Foundation

/// Applies `Config/escalation.yaml` to a ticket inside intake's transaction: sets
/// severity, restriction, team, assignee and deadlines, and plans level 0 of every
/// applying chain as an `escalations` row (sent by ``EscalationWorker``).
public struct EscalationPlanner: Sendable {
    /// The rules.
    public let rules: EscalationRuleSet
    /// Working hours by team id.
    public let workingHours: [String: EscalationWorkingHours]

    /// Creates a planner.
    /// - Parameters:
    ///   - rules: the rules in evaluation order.
    ///   - workingHours: working hours by team id (`EscalationDirectory.workingHours`).
    public init(rules: EscalationRuleSet, workingHours: [String: EscalationWorkingHours] = [:]) {
        self.rules = rules
        self.workingHours = workingHours
    }

    /// Reads `escalation.yaml` from the configuration folder, checking flags against
    /// `taxonomy.yaml`, and the teams' working hours from `teams.yaml` when it exists.
    /// - Parameter configDirectory: the configuration folder (`Config`).
    public static func load(configDirectory: String) throws(ConfigError) -> EscalationPlanner {
        let taxonomy = try Taxonomy.load(path: configDirectory + "/taxonomy.yaml")
        let rules = try EscalationRuleSet.load(path: configDirectory + "/escalation.yaml", taxonomy: taxonomy)
        let teamsPath = configDirectory + "/teams.yaml"
        let hours = FileManager.default.fileExists(atPath: teamsPath) ? try EscalationDirectory.load(path: teamsPath).workingHours : [:]
        return EscalationPlanner(rules: rules, workingHours: hours)
    }

    /// Plans the escalation of a ticket that was just created or received a new message.
    /// Call it inside the transaction that wrote the ticket. Idempotent: a second call for
    /// the same ticket adds nothing already planned, never lowers severity, never lifts
    /// the restriction, keeps an existing team, assignee or earlier deadline, and plans
    /// nothing once the ticket is acknowledged.
    /// - Parameters:
    ///   - ticketID: the ticket.
    ///   - flags: flags of the ticket (all its messages).
    ///   - severity: the severity the taxonomy gives.
    ///   - type: the feedback type.
    ///   - channelID: the channel of the first message.
    ///   - location: the place key.
    ///   - language: the language.
    ///   - restricted: restricted by the taxonomy.
    ///   - now: intake time; deadlines count from it.
    ///   - connection: the connection in intake's transaction.
    /// - Returns: what the rules decided.
    @discardableResult
    public func plan(
        ticketID: Int64, flags: [FlagCode], severity: Severity, type: String?, channelID: String?, location: String?,
        language: String?, restricted: Bool, now: Date, on connection: PGConnection
    ) throws -> EscalationOutcome {
        let current = try connection.query(
            "SELECT team, acknowledged_at, status FROM tickets WHERE id = \(ticketID) FOR UPDATE",
            operation: "reading the ticket to escalate")
        guard let row = current.first else { throw EscalationError.ticketNotFound(ticketID) }
        let state = TicketState(team: try row.decode("team"), acknowledgedAt: try row.decode("acknowledged_at"), status: try row.decode("status"))
        let plan = try statements(
            ticketID: ticketID, flags: flags, severity: severity, type: type, channelID: channelID, location: location,
            language: language, restricted: restricted, now: now, current: state)
        let prefix: SQL = plan.tables.isEmpty ? SQL(unsafeSQL: "") : "WITH " + SQL.joined(plan.tables, separator: ", ") + " "
        try connection.execute(
            prefix + "INSERT INTO ticket_events (ticket_id, at, actor, interface, action, details) VALUES " + plan.event,
            operation: "applying escalation rules to the ticket")
        return plan.outcome
    }

    /// The ticket's columns the rules read, as the transaction sees them with the row locked.
    public struct TicketState: Sendable {
        /// `tickets.team`.
        public var team: String?
        /// `tickets.acknowledged_at`.
        public var acknowledgedAt: Date?
        /// `tickets.status`.
        public var status: String

        /// Creates the state.
        public init(team: String?, acknowledgedAt: Date?, status: String) {
            self.team = team
            self.acknowledgedAt = acknowledgedAt
            self.status = status
        }
    }

    /// What ``plan(ticketID:flags:severity:type:channelID:location:language:restricted:now:on:)``
    /// writes, as pieces of one statement, so intake can run them together with its own
    /// writes in a single round trip.
    struct Statements {
        /// What the rules decided.
        var outcome: EscalationOutcome
        /// Data-modifying `WITH` items (team, ticket update, escalation rows).
        var tables: [SQL]
        /// The audit row for `ticket_events (ticket_id, at, actor, interface, action, details)`,
        /// as a parenthesised `VALUES` row; it counts the rows the escalation item inserted.
        var event: SQL
    }

    /// Evaluates the rules for a ticket whose row the caller has locked (its INSERT or UPDATE
    /// in this transaction, or `SELECT … FOR UPDATE`) and whose columns are `current`.
    /// `alsoSet` are the caller's own assignments to the ticket, made by the same UPDATE.
    func statements(
        ticketID: Int64, flags: [FlagCode], severity: Severity, type: String?, channelID: String?, location: String?,
        language: String?, restricted: Bool, now: Date, current: TicketState, alsoSet: [SQL] = []
    ) throws -> Statements {
        let outcome = evaluate(
            flags: flags, severity: severity, type: type, channelID: channelID, location: location, language: language,
            team: current.team, restricted: restricted, now: now)
        var tables: [SQL] = []
        if let team = outcome.team, current.team == nil {
            // In the same statement as the ticket update: the foreign key is checked at its end.
            tables.append("escalation_team AS (INSERT INTO teams (id, name) VALUES (\(team), \(team)) ON CONFLICT (id) DO NOTHING)")
        }
        tables.append(
            """
            escalation_ticket AS (UPDATE tickets
               SET severity = CASE WHEN severity_rank < \(Self.rank(outcome.severity)) THEN \(outcome.severity.rawValue) ELSE severity END,
                   restricted = restricted OR \(outcome.restricted),
                   team = COALESCE(team, \(outcome.team)),
                   assignee_id = COALESCE(assignee_id, (SELECT id FROM officers WHERE login = \(outcome.assignee) AND active)),
                   ack_due_at = LEAST(ack_due_at, \(outcome.acknowledgeBy)),
                   resolve_due_at = LEAST(resolve_due_at, \(outcome.resolveBy)),
                   updated_at = \(now)
            """ + SQL.joined(alsoSet.map { ", " + $0 }, separator: "") + " WHERE id = \(ticketID))")
        var planned: SQL = "0"
        if current.acknowledgedAt == nil && !["resolved", "closed"].contains(current.status) && !outcome.steps.isEmpty {
            let rows = outcome.steps.map { step -> SQL in
                "(\(ticketID), \(step.rule), \(step.level), \(step.target.description), \(step.dueAt))"
            }
            tables.append(
                "escalation_planned AS (INSERT INTO escalations (ticket_id, rule, level, target, due_at) VALUES "
                    + SQL.joined(rows, separator: ", ")
                    + " ON CONFLICT (ticket_id, rule, level) DO NOTHING RETURNING 1)")
            planned = "(SELECT count(*) FROM escalation_planned)"
        }
        // jsonb orders keys itself, so adding `planned` afterwards stores the same document.
        let details = eventDetails(outcome)
        let event: SQL = "(\(ticketID), \(now), 'system', 'system', 'rules', \(details) || jsonb_build_object('planned', \(planned)))"
        return Statements(outcome: outcome, tables: tables, event: event)
    }

    /// What the rules decide for a ticket with these facts. Intake calls it with no team for
    /// a ticket about to be created, so the ticket is written once with the outcome.
    func evaluate(
        flags: [FlagCode], severity: Severity, type: String?, channelID: String?, location: String?, language: String?,
        team: String?, restricted: Bool, now: Date
    ) -> EscalationOutcome {
        let facts = EscalationFacts(
            flags: Set(flags), severity: severity, type: type, channelID: channelID, location: location, language: language,
            team: team, restricted: restricted)
        return rules.evaluate(facts, now: now, workingHours: workingHours)
    }

    /// The audit details of a `rules` event, without the count of planned rows.
    func eventDetails(_ outcome: EscalationOutcome) -> JSON {
        // Keys in sorted order, as JSONEncoder's sortedKeys would write them.
        var object = JSONObjectText()
        object.add("restricted", outcome.restricted)
        object.add("rules", outcome.matches.map(\.rule.name))
        object.add("severity", outcome.severity.rawValue)
        if let team = outcome.team { object.add("team", team) }
        return object.json
    }

    static func rank(_ severity: Severity) -> Int {
        switch severity {
        case .low: 0
        case .medium: 1
        case .high: 2
        case .critical: 3
        }
    }

}

/// Errors of the escalation workflow. `description` names ids and rules only.
public enum EscalationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The ticket does not exist.
    case ticketNotFound(Int64)
    /// The officer login is not in the `officers` table.
    case officerNotFound(String)
    /// The referral does not exist.
    case referralNotFound(Int64)

    public var description: String {
        switch self {
        case .ticketNotFound(let id): "ticket \(id) does not exist; plan escalations after the ticket is inserted, in the same transaction"
        case .officerNotFound(let login): "officer '\(login)' is not known or not active; add them to Config/teams.yaml and run `escucha officers sync`"
        case .referralNotFound(let id): "referral \(id) does not exist"
        }
    }
}

/// Acknowledging a ticket: the escalation chain stops.
public enum EscalationAcknowledgement {
    /// Records that `officer` took the ticket in hand: sets `tickets.acknowledged_at` (once),
    /// moves a new or escalated ticket to open, marks every pending escalation of the
    /// ticket acknowledged, and writes an audit event.
    /// - Parameters:
    ///   - ticketID: the ticket.
    ///   - officer: the officer's login.
    ///   - interface: `console`, `cli`, `http`.
    ///   - now: the time.
    ///   - connection: a connection in a transaction.
    /// - Returns: how many pending escalations stopped.
    @discardableResult
    public static func acknowledge(ticketID: Int64, officer: String, interface: String, now: Date, on connection: PGConnection) throws -> Int {
        let found = try connection.query("SELECT id FROM officers WHERE login = \(officer)", operation: "finding the officer")
        guard let officerID: Int64 = try found.first?.decode("id") else { throw EscalationError.officerNotFound(officer) }
        let updated = try connection.execute(
            """
            UPDATE tickets
               SET acknowledged_at = COALESCE(acknowledged_at, \(now)),
                   first_response_at = COALESCE(first_response_at, \(now)),
                   assignee_id = COALESCE(assignee_id, \(officerID)),
                   status = CASE WHEN status IN ('new', 'escalated') THEN 'open' ELSE status END,
                   updated_at = \(now)
             WHERE id = \(ticketID)
            """, operation: "acknowledging the ticket")
        guard updated == 1 else { throw EscalationError.ticketNotFound(ticketID) }
        let stopped = try connection.execute(
            """
            UPDATE escalations SET acknowledged_at = \(now), acknowledged_by = \(officerID)
             WHERE ticket_id = \(ticketID) AND acknowledged_at IS NULL
            """, operation: "stopping the ticket's escalations")
        try connection.execute(
            """
            INSERT INTO ticket_events (ticket_id, at, actor, interface, action, details)
            VALUES (\(ticketID), \(now), \(officer), \(interface), 'acknowledged', \(JSON("{}")))
            """, operation: "recording the acknowledgement")
        return stopped
    }
}
