import EscuchaChannels
import EscuchaClassifier
import EscuchaCore
import EscuchaStore
import Foundation
import Logging

/// What intake answers a gateway.
public struct IntakeResponse: Sendable, Equatable {
    /// How the request ended, for metrics and tests.
    public enum Outcome: String, Sendable {
        case accepted, duplicate, partial, ignored, rejected, spooled, challenge, unavailable, failed
    }

    public var status: Int
    public var contentType: String?
    public var body: [UInt8]
    public var outcome: Outcome
    /// The `inbound` row, when the raw request reached the database.
    public var inboundID: Int64?
    /// Tickets created or updated.
    public var ticketIDs: [Int64]
    /// How many flags the classifier raised.
    public var flagsRaised: [String]

    public init(status: Int, contentType: String?, body: [UInt8], outcome: Outcome, inboundID: Int64? = nil, ticketIDs: [Int64] = [], flagsRaised: [String] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.outcome = outcome
        self.inboundID = inboundID
        self.ticketIDs = ticketIDs
        self.flagsRaised = flagsRaised
    }

    static func text(_ status: Int, _ message: String, _ outcome: Outcome, inboundID: Int64? = nil) -> IntakeResponse {
        IntakeResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array((message + "\n").utf8), outcome: outcome, inboundID: inboundID)
    }
}

/// Intake settings (`intake:` in `Config/escucha.yaml`).
public struct IntakeConfiguration: Sendable {
    /// Larger bodies get 413.
    public var maxBodyBytes = 64 * 1024
    /// A message joins the sender's open ticket when that ticket saw a message this recently.
    public var threadingWindow: TimeInterval = 14 * 24 * 3600
    /// Where raw requests go while PostgreSQL is unreachable.
    public var spoolDirectory: String
    /// Acknowledgement language when neither the text nor the channel tells.
    public var defaultLanguage = "es"
    /// Groups of concurrent writes (raw requests, new tickets) in flight at once. One lets
    /// groups grow while the database writes the previous one, which is what a small
    /// machine needs; raise it when PostgreSQL has cores to spare.
    public var groupWriters = 1

    public init(spoolDirectory: String) { self.spoolDirectory = spoolDirectory }

    /// Reads the `intake:` section of a configuration document.
    public static func parse(_ root: ConfigNode, spoolDirectory: String) throws(ConfigError) -> IntakeConfiguration {
        var configuration = IntakeConfiguration(spoolDirectory: spoolDirectory)
        guard let intake = root["intake"] else { return configuration }
        if let node = intake["max_body_bytes"] {
            guard let value = node.int, value > 0 else { throw node.error("max_body_bytes must be a positive number of bytes") }
            configuration.maxBodyBytes = value
        }
        if let node = intake["threading_window_days"] {
            guard let value = node.int, value >= 0 else { throw node.error("threading_window_days must be a number of days") }
            configuration.threadingWindow = TimeInterval(value) * 24 * 3600
        }
        if let node = intake["group_writers"] {
            guard let value = node.int, value >= 1 else { throw node.error("group_writers must be a positive number of groups") }
            configuration.groupWriters = value
        }
        if let node = intake["spool_dir"], let value = node.string { configuration.spoolDirectory = value }
        if let node = intake["default_language"], let value = node.string { configuration.defaultLanguage = value }
        return configuration
    }
}

/// Turns raw inbound requests into tickets: keeps the request verbatim, verifies and parses
/// it, recognises retries, classifies, creates or threads the ticket and queues the
/// acknowledgement, all before the gateway hears success.
public final class Intake: Sendable {
    public let pool: PostgresPool
    public let classifier: Classifier
    public let catalog: GatewayCatalog
    public let instances: [String: ChannelInstance]
    public let templates: MessageTemplates
    public let protector: ContactProtector
    public let configuration: IntakeConfiguration
    public let spool: Spool
    /// Escalation rules applied to every new or updated ticket; `nil` leaves tickets as
    /// the classifier marked them.
    public let escalation: EscalationPlanner?
    let environment: [String: String]
    let logger: Logger
    /// Writes new tickets of concurrent requests together.
    private let newTickets: GroupedWrites<NewTicketItem, NewTicketOutcome>
    /// Stores the raw requests of concurrent requests together.
    private let rawRequests: GroupedWrites<SQL, Result<Int64, StoreError>>

    public init(
        pool: PostgresPool, classifier: Classifier, catalog: GatewayCatalog, instances: [ChannelInstance],
        templates: MessageTemplates, protector: ContactProtector, configuration: IntakeConfiguration,
        escalation: EscalationPlanner? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger = Logger(label: "escucha.intake")
    ) {
        self.escalation = escalation
        self.pool = pool
        self.classifier = classifier
        self.catalog = catalog
        self.instances = Dictionary(instances.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.templates = templates
        self.protector = protector
        self.configuration = configuration
        self.spool = Spool(directory: configuration.spoolDirectory)
        // Two groupers, each with at most a quarter of the pool: the general path, outcomes
        // and maintenance need connections too.
        let writers = min(configuration.groupWriters, max(1, pool.configuration.size / 4))
        self.newTickets = GroupedWrites(pool: pool, writers: writers, write: TicketWriter.writeNewTickets)
        self.rawRequests = GroupedWrites(pool: pool, writers: writers, write: Self.storeRawGroup)
        self.environment = environment
        self.logger = logger
    }

    // MARK: - Receiving

    /// Handles one webhook request for the channel instance `channelID`.
    /// - Parameters:
    ///   - oversize: the body was cut at `maxBodyBytes`; the request is kept and refused.
    public func receive(channelID: String, request: RawRequest, receivedAt: Date = Date(), oversize: Bool = false) async -> IntakeResponse {
        let inboundID: Int64
        do {
            inboundID = try await storeRaw(channelID: channelID, request: request, receivedAt: receivedAt)
        } catch {
            return spoolOrFail(channelID: channelID, request: request, receivedAt: receivedAt, error: error)
        }
        return await process(inboundID: inboundID, channelID: channelID, request: request, receivedAt: receivedAt, oversize: oversize)
    }

    private func spoolOrFail(channelID: String, request: RawRequest, receivedAt: Date, error: any Error) -> IntakeResponse {
        logger.warning("database unavailable; spooling the request", metadata: ["channel": "\(channelID)", "error": "\(error)"])
        do {
            try spool.append(SpooledRequest(channelID: channelID, request: request, receivedAt: receivedAt))
        } catch {
            logger.error("cannot spool the request either", metadata: ["channel": "\(channelID)", "error": "\(error)"])
            return .text(503, "Service temporarily unavailable; please retry.", .unavailable)
        }
        guard let instance = instances[channelID] else {
            return .text(202, "Accepted.", .spooled)
        }
        var response = success(for: instance, outcome: .spooled, inboundID: nil)
        response.outcome = .spooled
        return response
    }

    /// Stores the raw request verbatim, in a transaction of its own (shared with the raw
    /// requests that arrive meanwhile).
    func storeRaw(channelID: String, request: RawRequest, receivedAt: Date) async throws -> Int64 {
        // A NUL in a header (possible only from a file or a broken proxy) is kept as
        // U+FFFD, so the request is stored rather than refused; the body keeps every byte.
        let headers = JSON(
            strings: Dictionary(
                request.headers.map { (PostgresText.storable($0.name.lowercased()), PostgresText.storable($0.value)) },
                uniquingKeysWith: { a, b in a + ", " + b }))
        let target = request.query.isEmpty ? request.path : request.path + "?" + request.query
        let row: SQL = "(\(channelID), 'http', \(receivedAt), \(request.remoteAddress), \(request.method), \(target), \(headers), \(Data(request.body)))"
        return try await rawRequests.write(row).get()
    }

    /// One INSERT for a group of raw requests, committed (and flushed: synchronous_commit
    /// stays on) when the answer arrives. Rows are inserted in the order of the VALUES list
    /// and take identity values in that order, so the ids, sorted, follow the rows. If the
    /// database refuses the group for its data, each row is tried alone, so one odd request
    /// cannot send the others to the spool.
    @Sendable private static func storeRawGroup(_ rows: [SQL], connection: PGConnection) throws -> [Result<Int64, StoreError>] {
        try writeGroupOrEachAlone(
            rows, write: { (group) throws(StoreError) in try insertRaw(group, connection: connection).map { .success($0) } },
            refused: { .failure($0) })
    }

    private static func insertRaw(_ rows: [SQL], connection: PGConnection) throws(StoreError) -> [Int64] {
        let inserted = try connection.queryPrepared(
            "INSERT INTO inbound (channel_id, kind, received_at, remote_addr, method, path, headers, body) VALUES "
                + SQL.joined(rows, separator: ", ") + " RETURNING id",
            operation: "storing a raw request")
        var ids: [Int64] = []
        for row in inserted { ids.append(try row.decode("id", as: Int64.self)) }
        return ids.sorted()
    }

    /// Processes a stored raw request. Also used to drain the spool and re-process
    /// `pending` rows.
    func process(inboundID: Int64, channelID: String, request: RawRequest, receivedAt: Date, oversize: Bool) async -> IntakeResponse {
        guard let instance = instances[channelID] else {
            let reason = "unknown channel '\(channelID)': configure it under channels: in Config/escucha.yaml"
            await mark(inboundID, status: "rejected", reason: reason)
            return .text(404, reason, .rejected, inboundID: inboundID)
        }
        if oversize {
            let reason = "request body larger than \(configuration.maxBodyBytes) bytes; the first \(configuration.maxBodyBytes) bytes are kept"
            await mark(inboundID, status: "rejected", reason: reason)
            return .text(413, reason, .rejected, inboundID: inboundID)
        }
        let secrets = ChannelSecrets(for: instance, environment: environment)
        let outcome = catalog.parse(request: request, instance: instance, secrets: secrets, now: receivedAt)
        switch outcome {
        case .rejected(let rejection):
            await mark(inboundID, status: "rejected", reason: rejection.reason)
            return .text(rejection.httpStatus, rejection.reason, .rejected, inboundID: inboundID)
        case .challenge(let challenge):
            await mark(inboundID, status: "accepted", reason: "verification challenge")
            return IntakeResponse(status: 200, contentType: "text/plain", body: Array(challenge.utf8), outcome: .challenge, inboundID: inboundID)
        case .ignored(let ignored):
            do {
                try await applyStatuses(ignored.statuses, channelID: channelID, receivedAt: receivedAt)
                try await applyEvents(ignored.events, channelID: channelID, inboundID: inboundID)
            } catch {
                return failed(inboundID, error)
            }
            await mark(inboundID, status: "accepted", reason: ignored.reason)
            return success(for: instance, outcome: .ignored, inboundID: inboundID)
        case .partial(let parts):
            do {
                let completed = try await storeParts(parts, inboundID: inboundID)
                if completed.isEmpty {
                    await mark(inboundID, status: "accepted", reason: "part of a multi-part message; waiting for the rest")
                    return success(for: instance, outcome: .partial, inboundID: inboundID)
                }
                return try await accept(completed, parts: [], statuses: [], events: [], instance: instance, inboundID: inboundID)
            } catch {
                return failed(inboundID, error)
            }
        case .messages(let messages, let parts, let statuses, let events):
            do {
                var all = messages
                if !parts.isEmpty { all += try await storeParts(parts, inboundID: inboundID) }
                return try await accept(all, parts: parts, statuses: statuses, events: events, instance: instance, inboundID: inboundID)
            } catch {
                return failed(inboundID, error)
            }
        }
    }

    private func failed(_ inboundID: Int64, _ error: any Error) -> IntakeResponse {
        // The raw request is committed (status pending) and is re-processed by the worker,
        // so nothing is lost; 503 lets gateways that retry do so.
        logger.error("processing failed; the raw request stays pending", metadata: ["inbound.id": "\(inboundID)", "error": "\(error)"])
        return .text(503, "Temporarily unable to process the message; it is stored and will be processed.", .failed, inboundID: inboundID)
    }

    private func success(for instance: ChannelInstance, outcome: IntakeResponse.Outcome, inboundID: Int64?) -> IntakeResponse {
        let spec = catalog.successResponse(for: instance)
        return IntakeResponse(status: spec.status, contentType: spec.contentType, body: Array(spec.body.utf8), outcome: outcome, inboundID: inboundID)
    }

    private func mark(_ inboundID: Int64, status: String, reason: String?) async {
        do {
            _ = try await pool.withConnection { connection in
                try connection.execute(
                    "UPDATE inbound SET status = \(status), reason = \(reason), processed_at = now() WHERE id = \(inboundID)",
                    operation: "recording the outcome of a raw request")
            }
        } catch {
            logger.error("cannot record the outcome of a raw request", metadata: ["inbound.id": "\(inboundID)", "error": "\(error)"])
        }
    }

    // MARK: - Messages

    private func accept(
        _ messages: [InboundMessage], parts: [MessagePart], statuses: [DeliveryStatusUpdate], events: [ChannelEvent],
        instance: ChannelInstance, inboundID: Int64
    ) async throws -> IntakeResponse {
        try await applyStatuses(statuses, channelID: instance.id, receivedAt: Date())
        try await applyEvents(events, channelID: instance.id, inboundID: inboundID)
        if messages.isEmpty {
            await mark(inboundID, status: "accepted", reason: parts.isEmpty ? "no message in the request" : "part of a multi-part message; waiting for the rest")
            return success(for: instance, outcome: parts.isEmpty ? .ignored : .partial, inboundID: inboundID)
        }
        // Classification is CPU work: done before the transaction so it stays short.
        let prepared = messages.map { parsed in
            // "\u0000" in a JSON gateway's text is a real NUL, which no column can hold.
            var message = parsed
            message.text = PostgresText.storable(message.text)
            message.sender = PostgresText.storable(message.sender)
            return PreparedMessage(message: message, classification: classifier.classify(message.text, languageHint: message.languageHint ?? instance.language))
        }
        let writer = TicketWriter(
            protector: protector, templates: templates, threadingWindow: configuration.threadingWindow,
            defaultLocation: instance.defaultLocation, defaultLanguage: instance.language ?? configuration.defaultLanguage,
            escalation: escalation)
        // Most requests carry one new message that starts a ticket: one statement and one
        // commit, shared with concurrent requests, record it with the outcome of the raw
        // request.
        if prepared.count == 1, !templates.isOptOut(prepared[0].message.text) {
            switch try await newTickets.write(try writer.newTicketItem(prepared[0], inboundID: inboundID)) {
            case .written(let result):
                return received([result], status: "accepted", instance: instance, inboundID: inboundID)
            case .generalPath:
                break
            case .failed(let sqlState):
                // A concurrent retry of the same message, or a deadlock between groups: the
                // general path answers it on its own.
                logger.notice("a grouped write failed; writing the message alone", metadata: ["inbound.id": "\(inboundID)", "sqlstate": "\(sqlState)"])
            }
        }
        // The outcome of the raw request is recorded in the same transaction as the tickets:
        // one commit instead of two, and never a ticket whose request still says pending.
        let (results, status) = try await pool.withTransaction { connection in
            let results = try prepared.map { try writer.write($0, inboundID: inboundID, connection: connection) }
            let duplicates = results.filter(\.duplicate).count
            let status = duplicates == results.count ? "duplicate" : "accepted"
            let reason = duplicates == results.count ? "retry of a message already received" : (duplicates > 0 ? "\(duplicates) of \(results.count) messages were retries" : nil)
            // Links the request to its (last) message too, as each write used to do in turn.
            try connection.queryPrepared(
                """
                UPDATE inbound SET status = \(status), reason = \(reason), message_id = \(results.last?.messageID), processed_at = now()
                WHERE id = \(inboundID)
                """, operation: "recording the outcome of a raw request")
            return (results, status)
        }
        return received(results, status: status, instance: instance, inboundID: inboundID)
    }

    private func received(_ results: [WriteResult], status: String, instance: ChannelInstance, inboundID: Int64) -> IntakeResponse {
        var response = success(for: instance, outcome: status == "duplicate" ? .duplicate : .accepted, inboundID: inboundID)
        response.ticketIDs = results.compactMap(\.ticketID)
        response.flagsRaised = results.filter { !$0.duplicate }.flatMap(\.flags)
        for result in results where !result.duplicate {
            logger.info("message received", metadata: [
                "inbound.id": "\(inboundID)", "ticket.ref": "\(result.reference ?? "-")", "ticket.new": "\(result.newTicket)",
                "flags": "\(result.flags.joined(separator: ","))",
            ])
        }
        return response
    }

    /// Keeps the parts of multi-part messages and returns the messages they complete.
    private func storeParts(_ parts: [MessagePart], inboundID: Int64) async throws -> [InboundMessage] {
        let encoded = try parts.map { (part: $0, json: try JSON(encoding: $0)) }
        return try await pool.withTransaction { connection in
            var completed: [InboundMessage] = []
            for (part, json) in encoded {
                try connection.execute(
                    """
                    INSERT INTO message_parts (channel_id, group_key, part, total, inbound_id, payload)
                    VALUES (\(part.message.channelID), \(part.groupKey), \(part.concat.part), \(part.concat.total), \(inboundID), \(json))
                    ON CONFLICT (group_key, part) DO NOTHING
                    """, operation: "storing a message part")
                let rows = try connection.query(
                    "SELECT payload FROM message_parts WHERE group_key = \(part.groupKey) ORDER BY part FOR UPDATE",
                    operation: "reading message parts")
                guard rows.count >= part.concat.total else { continue }
                let stored = try rows.map { try $0.decode("payload", as: JSON.self).decode(MessagePart.self) }
                completed.append(MultipartAssembler.combine(stored))
                try connection.execute("DELETE FROM message_parts WHERE group_key = \(part.groupKey)", operation: "removing combined message parts")
            }
            return completed
        }
    }

    /// Delivery reports update the outbox row the provider id (or our reference) names.
    private func applyStatuses(_ statuses: [DeliveryStatusUpdate], channelID: String, receivedAt: Date) async throws {
        for status in statuses {
            _ = try await OutboxDeliveryStatus.apply(status, channelID: channelID, receivedAt: receivedAt, pool: pool)
        }
    }

    /// Opt-outs signalled by the gateway itself (WhatsApp, Telegram blocks).
    private func applyEvents(_ events: [ChannelEvent], channelID: String, inboundID: Int64) async throws {
        let optOuts = events.filter { $0.kind == .optOut }.map { protector.linkHash($0.address) }
        guard !optOuts.isEmpty else { return }
        try await pool.withTransaction { connection in
            for hash in optOuts {
                let rows = try connection.query(
                    "UPDATE contacts SET opted_out_at = coalesce(opted_out_at, now()) WHERE address_hash = \(hash) RETURNING id",
                    operation: "recording an opt-out")
                for row in rows {
                    let contactID = try row.decode("id", as: Int64.self)
                    try connection.execute(
                        "INSERT INTO contact_events (contact_id, action, channel_id, inbound_id) VALUES (\(contactID), 'opted_out', \(channelID), \(inboundID))",
                        operation: "recording an opt-out")
                }
            }
        }
    }
}

/// A message with its classification, ready to be written.
struct PreparedMessage: Sendable {
    var message: InboundMessage
    var classification: Classification
}
