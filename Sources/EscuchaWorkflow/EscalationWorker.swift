public import EscuchaCore
public import EscuchaStore
public import Foundation
public import Logging
public import ServiceLifecycle

/// Fires escalations that fell due: claims them with `FOR UPDATE SKIP LOCKED` (any number
/// of workers on any number of machines share the table; each row fires once), and in the
/// same transaction writes one outbox row per recipient (idempotency key per escalation,
/// channel and recipient), plans the next level or reminder, and records an audit event.
/// An acknowledged, resolved or closed ticket cancels its pending rows instead.
///
/// Notifications carry the ticket reference, severity, the deadline and how to open the
/// ticket — never the person's contact or words.
public final class EscalationWorker: Service {
    /// How the worker works.
    public struct Configuration: Sendable {
        /// Written to `claimed_by`.
        public var workerID: String
        /// Rows fired per round.
        public var batchSize: Int = 32
        /// Pause between rounds.
        public var pollInterval: Duration = .seconds(15)
        /// What a notification tells people to run to open a ticket (the reference follows).
        public var openCommand: String = "escucha console --ticket"
        /// The outbox `channel_id` of email notifications.
        public var emailChannel: String = "email"

        /// Creates a configuration.
        /// - Parameter workerID: the worker's name (default: host name and process id).
        public init(workerID: String = OutboxSender.Configuration.defaultWorkerID) { self.workerID = workerID }
    }

    /// The configuration.
    public let configuration: Configuration
    private let pool: PostgresPool
    private let rules: EscalationRuleSet
    private let directory: EscalationDirectory
    private let protector: ContactProtector
    private let clock: @Sendable () -> Date
    private let logger: Logger

    /// Creates a worker.
    /// - Parameters:
    ///   - pool: the database.
    ///   - rules: `Config/escalation.yaml`.
    ///   - directory: `Config/teams.yaml`.
    ///   - protector: encrypts email and SMS destinations written to the outbox.
    ///   - configuration: batch size, poll interval.
    ///   - clock: the current time for ``run()``.
    ///   - logger: where the worker logs (rule names, levels and ids only).
    public init(
        pool: PostgresPool, rules: EscalationRuleSet, directory: EscalationDirectory, protector: ContactProtector,
        configuration: Configuration = Configuration(), clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.pool = pool
        self.rules = rules
        self.directory = directory
        self.protector = protector
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Fires rounds until graceful shutdown or cancellation.
    public func run() async throws {
        logger.info("escalation worker started", metadata: ["escalation.worker": "\(configuration.workerID)"])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var fired = 0
            do {
                fired = try await runOnce(now: clock())
            } catch {
                logger.error("escalation round failed", metadata: ["error": "\(error)"])
            }
            if fired >= configuration.batchSize { continue }
            let interval = configuration.pollInterval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        logger.info("escalation worker stopped", metadata: ["escalation.worker": "\(configuration.workerID)"])
    }

    /// One fired (or cancelled) escalation row, for logs and tests.
    public struct Fired: Sendable, Hashable {
        /// The escalation row.
        public var id: Int64
        /// The ticket.
        public var ticketID: Int64
        /// The rule.
        public var rule: String
        /// The level.
        public var level: Int
        /// Outbox rows written.
        public var notifications: Int
        /// Whether it was cancelled (ticket acknowledged, resolved or closed) instead of fired.
        public var cancelled: Bool
    }

    /// Claims due escalations and fires them, all in one transaction.
    /// - Parameter now: the current time.
    /// - Returns: how many rows were handled.
    @discardableResult
    public func runOnce(now: Date) async throws -> Int {
        try await fireDue(now: now).count
    }

    /// Claims due escalations and fires them, all in one transaction.
    /// - Parameter now: the current time.
    /// - Returns: the rows handled.
    public func fireDue(now: Date) async throws -> [Fired] {
        let worker = configuration.workerID
        let limit = max(1, configuration.batchSize)
        let fired = try await pool.withTransaction { connection in
            let rows = try connection.query(
                """
                SELECT e.id, e.ticket_id, e.rule, e.level, t.reference, t.team, t.severity, t.status, t.acknowledged_at, t.ack_due_at
                  FROM escalations e JOIN tickets t ON t.id = e.ticket_id
                 WHERE e.fired_at IS NULL AND e.acknowledged_at IS NULL AND e.cancelled_at IS NULL AND e.due_at <= \(now)
                 ORDER BY e.due_at, e.id
                 LIMIT \(limit)
                   FOR UPDATE OF e SKIP LOCKED
                """, operation: "claiming due escalations")
            var fired: [Fired] = []
            for row in rows {
                let due = DueEscalation(
                    id: try row.decode("id"), ticketID: try row.decode("ticket_id"), rule: try row.decode("rule"),
                    level: try row.decode("level"), reference: try row.decode("reference"), severity: try row.decode("severity"),
                    status: try row.decode("status"), acknowledgedAt: try row.decode("acknowledged_at"), team: try row.decode("team"))
                fired.append(try self.fire(due, worker: worker, now: now, on: connection))
            }
            return fired
        }
        for item in fired {
            logger.info(
                item.cancelled ? "escalation cancelled" : "escalation fired",
                metadata: [
                    "escalation.id": "\(item.id)", "ticket.id": "\(item.ticketID)", "escalation.rule": "\(item.rule)",
                    "escalation.level": "\(item.level)", "escalation.notifications": "\(item.notifications)",
                ])
        }
        return fired
    }

    private struct DueEscalation {
        var id: Int64
        var ticketID: Int64
        var rule: String
        var level: Int
        var reference: String
        var severity: String
        var status: String
        var acknowledgedAt: Date?
        var team: String?
    }

    private func fire(_ due: DueEscalation, worker: String, now: Date, on connection: PGConnection) throws -> Fired {
        var result = Fired(id: due.id, ticketID: due.ticketID, rule: due.rule, level: due.level, notifications: 0, cancelled: false)
        if due.acknowledgedAt != nil || ["resolved", "closed"].contains(due.status) {
            try connection.execute(
                "UPDATE escalations SET cancelled_at = \(now), claimed_by = \(worker), claimed_at = \(now) WHERE id = \(due.id)",
                operation: "cancelling an escalation")
            result.cancelled = true
            return result
        }
        guard let rule = rules.rule(named: due.rule) else {
            // The rule was removed from the configuration since it was planned.
            logger.warning("escalation rule no longer configured", metadata: ["escalation.rule": "\(due.rule)", "escalation.id": "\(due.id)"])
            try connection.execute(
                "UPDATE escalations SET cancelled_at = \(now), claimed_by = \(worker), claimed_at = \(now) WHERE id = \(due.id)",
                operation: "cancelling an escalation of a removed rule")
            result.cancelled = true
            return result
        }
        var chain = EscalationChain(rule: rule, waitingFor: due.level, workingHours: due.team.flatMap { directory.workingHours[$0] })
        var notified: [String] = []
        var reminder = 0
        var target = ""
        for action in chain.due(level: due.level, now: now) {
            switch action {
            case .notify(let level, let levelTarget, let via, let reminderNumber, let acknowledgeBy):
                reminder = reminderNumber
                target = levelTarget.description
                let notice = EscalationNotice(
                    reference: due.reference, rule: rule.name, level: level, reminder: reminderNumber, severity: due.severity,
                    acknowledgeBy: acknowledgeBy, openCommand: configuration.openCommand)
                for recipient in directory.recipients(for: levelTarget, via: via) {
                    if try enqueue(notice, to: recipient, escalationID: due.id, ticketID: due.ticketID, now: now, on: connection) {
                        notified.append("\(recipient.channel.rawValue):\(recipient.name)")
                    }
                }
                if directory.recipients(for: levelTarget, via: via).isEmpty {
                    logger.warning(
                        "nobody to notify for an escalation level",
                        metadata: ["escalation.rule": "\(rule.name)", "escalation.level": "\(level)", "escalation.target": "\(levelTarget)"])
                }
            case .schedule(let level, let nextTarget, let dueAt):
                try connection.execute(
                    """
                    INSERT INTO escalations (ticket_id, rule, level, target, due_at, reminder)
                    VALUES (\(due.ticketID), \(rule.name), \(level), \(nextTarget.description), \(dueAt),
                            \(max(0, level - (rule.actions.chain.count - 1))))
                    ON CONFLICT (ticket_id, rule, level) DO NOTHING
                    """, operation: "planning the next escalation level")
            case .cancelPending:
                break
            }
        }
        result.notifications = notified.count
        try connection.execute(
            """
            UPDATE escalations SET fired_at = \(now), claimed_by = \(worker), claimed_at = \(now), notifications = \(notified.count)
             WHERE id = \(due.id)
            """, operation: "marking an escalation fired")
        if due.level > 0 {
            try connection.execute(
                "UPDATE tickets SET status = 'escalated', updated_at = \(now) WHERE id = \(due.ticketID) AND status IN ('new', 'open', 'pending')",
                operation: "marking the ticket escalated")
        }
        let details = try JSON(
            encoding: FiredEvent(rule: rule.name, level: due.level, reminder: reminder, target: target, notified: notified))
        try connection.execute(
            """
            INSERT INTO ticket_events (ticket_id, at, actor, interface, action, details)
            VALUES (\(due.ticketID), \(now), 'system', 'worker', 'escalated', \(details))
            """, operation: "recording the escalation")
        return result
    }

    /// Writes one outbox row; `false` when the row was already there or cannot be sent.
    private func enqueue(
        _ notice: EscalationNotice, to recipient: EscalationRecipient, escalationID: Int64, ticketID: Int64, now: Date,
        on connection: PGConnection
    ) throws -> Bool {
        let key = "escalation:\(escalationID):\(recipient.channel.rawValue):\(recipient.name)"
        let kind = recipient.channel.rawValue
        let channelID: String
        let destination: Data
        let payload: JSON
        switch recipient.channel {
        case .email:
            channelID = configuration.emailChannel
            destination = protector.encrypt(recipient.address)
            payload = JSON(strings: ["subject": notice.subject, "text": notice.text])
        case .sms:
            guard let sms = directory.smsChannel else {
                logger.warning("no sms_channel in teams.yaml; SMS notification skipped", metadata: ["escalation.id": "\(escalationID)"])
                return false
            }
            channelID = sms
            destination = protector.encrypt(recipient.address)
            payload = JSON(strings: ["text": notice.shortText])
        case .webhook:
            channelID = "webhook:\(recipient.name)"
            destination = Data(recipient.address.utf8)
            payload = try JSON(encoding: notice.webhookPayload)
        }
        let inserted = try connection.execute(
            """
            INSERT INTO outbox (ticket_id, kind, channel_id, destination, payload, idempotency_key, next_attempt_at, created_at)
            VALUES (\(ticketID), \(kind), \(channelID), \(destination), \(payload), \(key), \(now), \(now))
            ON CONFLICT (idempotency_key) DO NOTHING
            """, operation: "queueing an escalation notification")
        return inserted == 1
    }

    private struct FiredEvent: Encodable {
        var rule: String
        var level: Int
        var reminder: Int
        var target: String
        var notified: [String]
    }
}

/// The words of an escalation notification: reference, rule, level, severity, deadline
/// and how to open the ticket. Never the person's contact or words.
public struct EscalationNotice: Sendable, Hashable {
    /// The ticket reference.
    public var reference: String
    /// The rule.
    public var rule: String
    /// The chain level (0 first).
    public var level: Int
    /// Reminder number (0: first notice).
    public var reminder: Int
    /// The ticket's severity.
    public var severity: String
    /// When the next level is told.
    public var acknowledgeBy: Date?
    /// `escucha console --ticket`.
    public var openCommand: String

    private var deadline: String {
        guard let acknowledgeBy else { return "as soon as possible" }
        // The format style, not ISO8601DateFormatter: building that formatter per notice
        // cost more than the rest of the worker's pass.
        return acknowledgeBy.formatted(.iso8601)
    }

    /// The email subject.
    public var subject: String {
        let prefix = reminder > 0 ? "Reminder \(reminder): " : ""
        return "\(prefix)[Escucha] Ticket \(reference) needs acknowledgement (\(severity))"
    }

    /// The email body.
    public var text: String {
        var lines = [
            reminder > 0 ? "Reminder \(reminder): ticket \(reference) is still not acknowledged." : "Ticket \(reference) needs your attention.",
            "",
            "Rule: \(rule), level \(level + 1). Severity: \(severity).",
            "Acknowledge by: \(deadline). After that the next person in the escalation chain is told.",
            "",
            "Open it with: \(openCommand) \(reference)",
            "",
            "This notice never contains the person's words or contact; read them in Escucha.",
        ]
        if level > 0 { lines.insert("Earlier levels did not acknowledge it in time.", at: 1) }
        return lines.joined(separator: "\n")
    }

    /// The SMS text (one segment where possible).
    public var shortText: String {
        "Escucha: ticket \(reference) (\(severity)) needs acknowledgement by \(deadline). Open: \(openCommand) \(reference)"
    }

    /// The webhook JSON.
    public var webhookPayload: [String: String] {
        [
            "event": "escalation", "ticket": reference, "rule": rule, "level": String(level), "reminder": String(reminder),
            "severity": severity, "acknowledge_by": deadline, "open": "\(openCommand) \(reference)",
        ]
    }
}

extension EscalationWorker {
    /// A worker configured from `escalation.yaml`, `taxonomy.yaml` and `teams.yaml` of the
    /// configuration folder.
    /// - Parameters:
    ///   - configDirectory: the configuration folder (`Config`).
    ///   - pool: the database.
    ///   - protector: encrypts destinations written to the outbox.
    ///   - configuration: batch size, poll interval.
    ///   - logger: where the worker logs.
    public static func load(
        configDirectory: String, pool: PostgresPool, protector: ContactProtector, configuration: Configuration = Configuration(),
        logger: Logger
    ) throws(ConfigError) -> EscalationWorker {
        let planner = try EscalationPlanner.load(configDirectory: configDirectory)
        let directory = try EscalationDirectory.load(path: configDirectory + "/teams.yaml")
        return EscalationWorker(
            pool: pool, rules: planner.rules, directory: directory, protector: protector, configuration: configuration, logger: logger)
    }
}
