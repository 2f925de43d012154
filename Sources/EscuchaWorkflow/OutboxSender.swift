public import EscuchaChannels
public import EscuchaCore
public import EscuchaStore
public import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// One claimed outbox row, as the sender needs it.
///
/// `description` leaves out the destination and the payload (a phone number, an email
/// address, message text).
public struct OutboxItem: Sendable, CustomStringConvertible {
    /// The row id.
    public var id: Int64
    /// The ticket it belongs to, if any.
    public var ticketID: Int64?
    /// `sms`, `email` or `webhook`.
    public var kind: String
    /// The configured channel (`Config/escucha.yaml` `channels:`), or a label for webhooks.
    public var channelID: String
    /// Encrypted address (sms, email) or the URL's UTF-8 bytes (webhook).
    public var destination: Data
    /// The JSON payload (`{"text": …}` for sms; `subject`, `text`, `in_reply_to` for email;
    /// anything for webhooks).
    public var payload: JSON
    /// Sent to providers that accept one, so a retry never makes a second message.
    public var idempotencyKey: String
    /// Attempts made, this one included.
    public var attempts: Int

    /// Creates the value.
    public init(
        id: Int64, ticketID: Int64?, kind: String, channelID: String, destination: Data, payload: JSON,
        idempotencyKey: String, attempts: Int
    ) {
        self.id = id
        self.ticketID = ticketID
        self.kind = kind
        self.channelID = channelID
        self.destination = destination
        self.payload = payload
        self.idempotencyKey = idempotencyKey
        self.attempts = attempts
    }

    public var description: String { "OutboxItem(\(id), \(kind), channel: \(channelID), attempts: \(attempts))" }
}

/// Sends what the transactional outbox holds, with retries.
///
/// Each round (``runOnce(now:)``) claims due rows with `FOR UPDATE SKIP LOCKED` (so any
/// number of workers share the table and each row goes to one of them), marks them
/// `sending` and counts the attempt, sends them (a few at a time) through the
/// ``OutboxTransport``, and records the outcome decided by the ``RetryPolicy``: `sent`
/// with the provider's id, `failed` with the time of the next attempt, or `dead`. Rows a
/// crashed worker left in `sending` are claimed again after ``Configuration/claimTimeout``.
///
/// - SMS: the channel's gateway reply template (`Channels/<gateway>.yaml` `reply:`) is
///   rendered with the decrypted number, the text, the channel's own address, the account
///   and API secret (from the environment variable the channel names) and the idempotency
///   key as `reference`; the key also goes in an `Idempotency-Key` header.
/// - Webhook: the payload is POSTed as JSON to the URL.
/// - Email: an RFC 5322 message goes to the SMTP server of ``Configuration/smtp``; without
///   one, email rows are dead with a reason that says what to configure.
///
/// `last_error` and the logs never hold a destination, a text or a secret.
public final class OutboxSender: Service {
    /// How the sender works.
    public struct Configuration: Sendable {
        /// Written to `claimed_by`; unique per process.
        public var workerID: String
        /// Rows claimed per round.
        public var batchSize: Int = 16
        /// Rows sent at the same time.
        public var concurrency: Int = 4
        /// Pause between rounds when there was nothing (or little) to do.
        public var pollInterval: Duration = .seconds(1)
        /// A `sending` row older than this is taken to be left by a crashed worker.
        public var claimTimeout: Duration = .seconds(300)
        /// Backoff and the attempt limit.
        public var retryPolicy = RetryPolicy()
        /// Limit of one HTTP exchange.
        public var requestTimeout: Duration = .seconds(30)
        /// Replaces the scheme, host and port of a channel's rendered API URL, by channel id
        /// (a provider's sandbox, a relay, a test receiver): `["twilio-cucuta": "http://127.0.0.1:8081"]`.
        public var originOverrides: [String: String] = [:]
        /// The SMTP server for email rows (`ESCUCHA_SMTP_URL`, `ESCUCHA_SMTP_USER`, `ESCUCHA_SMTP_PASSWORD`).
        public var smtp: SMTPServer?
        /// The sender address of email (`ESCUCHA_SMTP_FROM`).
        public var mailFrom: String?

        /// Creates a configuration.
        /// - Parameter workerID: the worker's name (default: host name and process id).
        public init(workerID: String = Configuration.defaultWorkerID) {
            self.workerID = workerID
        }

        /// `host:pid`.
        public static var defaultWorkerID: String {
            "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        }

        /// Reads the SMTP settings from `environment`: `ESCUCHA_SMTP_URL` (smtp:// or
        /// smtps://), `ESCUCHA_SMTP_USER`, `ESCUCHA_SMTP_PASSWORD`, `ESCUCHA_SMTP_FROM`.
        /// - Parameter environment: the process environment.
        public mutating func readSMTP(from environment: [String: String]) {
            func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
            if let url = value("ESCUCHA_SMTP_URL") {
                smtp = SMTPServer(url: url, user: value("ESCUCHA_SMTP_USER"), password: value("ESCUCHA_SMTP_PASSWORD"))
            }
            mailFrom = value("ESCUCHA_SMTP_FROM") ?? mailFrom
        }
    }

    /// The configuration.
    public let configuration: Configuration
    private let pool: PostgresPool
    private let transport: any OutboxTransport
    private let catalog: GatewayCatalog
    private let channels: [String: ChannelInstance]
    private let protector: ContactProtector
    private let environment: [String: String]
    private let random: Mutex<any RandomNumberGenerator & Sendable>
    private let clock: @Sendable () -> Date
    private let logger: Logger

    /// Creates a sender.
    /// - Parameters:
    ///   - pool: the database.
    ///   - transport: HTTP and SMTP (``HTTPClient`` in production).
    ///   - catalog: gateway definitions (`Channels/`).
    ///   - channels: configured channel instances (`Config/escucha.yaml`).
    ///   - protector: decrypts destinations (key from `ESCUCHA_SECRET_KEY`).
    ///   - environment: where the channels' API secrets are read (pass the process environment).
    ///   - configuration: batch sizes, timeouts, retry policy, SMTP.
    ///   - random: the source of backoff jitter.
    ///   - clock: the current time for ``run()``.
    ///   - logger: where the sender logs (no personal data).
    public init(
        pool: PostgresPool, transport: any OutboxTransport, catalog: GatewayCatalog, channels: [ChannelInstance],
        protector: ContactProtector, environment: [String: String], configuration: Configuration = Configuration(),
        random: some RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.pool = pool
        self.transport = transport
        self.catalog = catalog
        self.channels = Dictionary(channels.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.protector = protector
        self.environment = environment
        self.configuration = configuration
        self.random = Mutex(random)
        self.clock = clock
        self.logger = logger
    }

    // MARK: Service

    /// Sends rounds until graceful shutdown or cancellation. A round in progress finishes
    /// (its transfers are not cut); the pause between rounds ends at once on shutdown.
    public func run() async throws {
        logger.info("outbox sender started", metadata: ["outbox.worker": "\(configuration.workerID)"])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var sent = 0
            do {
                sent = try await runOnce(now: clock())
            } catch {
                logger.error("outbox round failed", metadata: ["error": "\(error)"])
            }
            // A full batch means more may be waiting: go on without a pause.
            if sent >= configuration.batchSize { continue }
            let interval = configuration.pollInterval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        logger.info("outbox sender stopped", metadata: ["outbox.worker": "\(configuration.workerID)"])
    }

    /// Claims due rows, sends them and records the outcomes.
    /// - Parameter now: the current time (claims rows due by then; backoff counts from it).
    /// - Returns: how many rows were handled.
    @discardableResult
    public func runOnce(now: Date) async throws -> Int {
        let items = try await claimBatch(now: now)
        guard !items.isEmpty else { return 0 }
        let limit = max(1, configuration.concurrency)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func startNext() {
                let item = items[next]
                next += 1
                group.addTask { try await self.process(item, now: now) }
            }
            while next < min(limit, items.count) { startNext() }
            while try await group.next() != nil {
                if next < items.count { startNext() }
            }
        }
        return items.count
    }

    // MARK: Claiming

    /// Claims up to ``Configuration/batchSize`` due rows for this worker: pending or failed
    /// rows whose `next_attempt_at` has come, and `sending` rows whose claim is older than
    /// ``Configuration/claimTimeout`` (a crashed worker). Counts the attempt. A stale row
    /// that already used its last attempt is marked dead instead (it may or may not have
    /// been sent; a person decides).
    /// - Parameter now: the current time.
    public func claimBatch(now: Date) async throws -> [OutboxItem] {
        let worker = configuration.workerID
        let limit = max(1, configuration.batchSize)
        let staleBefore = now.addingTimeInterval(-configuration.claimTimeout.timeInterval)
        let maxAttempts = configuration.retryPolicy.maxAttempts
        return try await pool.withTransaction { connection in
            try connection.execute(
                """
                UPDATE outbox
                   SET status = 'dead',
                       last_error = 'the worker stopped during the last allowed attempt (' || attempts
                                    || '); the message may or may not have been sent: check with the provider before re-queueing'
                 WHERE status = 'sending' AND claimed_at < \(staleBefore) AND attempts >= \(maxAttempts)
                """, operation: "marking outbox rows of crashed workers dead")
            let rows = try connection.query(
                """
                UPDATE outbox
                   SET status = 'sending', claimed_by = \(worker), claimed_at = \(now), attempts = attempts + 1
                 WHERE id IN (
                       SELECT id FROM outbox
                        WHERE (status IN ('pending', 'failed') AND next_attempt_at <= \(now))
                           OR (status = 'sending' AND claimed_at < \(staleBefore))
                        ORDER BY next_attempt_at
                        LIMIT \(limit)
                          FOR UPDATE SKIP LOCKED)
                RETURNING id, ticket_id, kind, channel_id, destination, payload, idempotency_key, attempts
                """, operation: "claiming outbox rows")
            return try rows.map { row in
                OutboxItem(
                    id: try row.decode("id"), ticketID: try row.decode("ticket_id"), kind: try row.decode("kind"),
                    channelID: try row.decode("channel_id"), destination: try row.decode("destination"),
                    payload: try row.decode("payload"), idempotencyKey: try row.decode("idempotency_key"),
                    attempts: try row.decode("attempts"))
            }.sorted { $0.id < $1.id }
        }
    }

    // MARK: Sending

    private func process(_ item: OutboxItem, now: Date) async throws {
        let outcome = await attempt(item)
        let action = random.withLock { generator in
            configuration.retryPolicy.action(after: outcome, attempts: item.attempts, now: now, using: &generator)
        }
        try await record(action, for: item, now: now)
    }

    /// Sends one claimed row and says how it went (no database access).
    /// - Parameter item: the row.
    public func attempt(_ item: OutboxItem) async -> DeliveryOutcome {
        switch item.kind {
        case "sms": return await attemptSMS(item)
        case "webhook": return await attemptWebhook(item)
        case "email": return await attemptEmail(item)
        default: return .permanent(reason: "unknown outbox kind '\(item.kind)'")
        }
    }

    private func payloadObject(_ item: OutboxItem) -> [String: JSONValue]? {
        guard case .object(let object) = JSONValue.parse(item.payload.text) else { return nil }
        return object
    }

    private func attemptSMS(_ item: OutboxItem) async -> DeliveryOutcome {
        guard let instance = channels[item.channelID] else {
            return .permanent(reason: "channel '\(item.channelID)' is not configured: add it to channels: in Config/escucha.yaml")
        }
        guard let definition = catalog[instance.gateway] else {
            return .permanent(reason: "channel '\(instance.id)' uses the unknown gateway '\(instance.gateway)': add Channels/\(instance.gateway).yaml")
        }
        guard let template = definition.reply else {
            return .permanent(reason: "gateway '\(definition.id)' has no reply: template in its Channels file, so it cannot send")
        }
        guard let text = payloadObject(item)?["text"]?.scalarText else {
            return .permanent(reason: "the payload has no \"text\" field")
        }
        let to: String
        do {
            to = try protector.decrypt(item.destination)
        } catch {
            return .permanent(reason: "the destination cannot be decrypted: ESCUCHA_SECRET_KEY is not the key it was written with")
        }
        let secretVariable = instance.outboundSecretEnv ?? instance.secretEnv
        let secret = secretVariable.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        if template.usedPlaceholders.contains("api_secret") && secret == nil {
            let variable = secretVariable.map { "the environment variable \($0)" } ?? "outbound_secret_env (or secret_env)"
            return .transient(reason: "the API secret of channel '\(instance.id)' is missing: set \(variable) and restart the worker")
        }
        var callback = ""
        if let publicURL = instance.publicURL {
            let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
            let reference = item.idempotencyKey.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
            callback = Self.withoutTrailingSlash(publicURL) + "/webhooks/sms/\(instance.id)/status?uuid=\(reference)"
        }
        let rendered = template.render([
            "to": to, "from": instance.address ?? "", "text": text, "account": instance.account ?? "",
            "api_secret": secret ?? "", "reference": item.idempotencyKey, "callback_url": callback,
        ])
        var url = rendered.url
        if let origin = configuration.originOverrides[instance.id] { url = Self.replacingOrigin(of: url, with: origin) }
        var headers = rendered.headers.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        headers.append((name: "Idempotency-Key", value: item.idempotencyKey))
        let request = HTTPRequest(
            method: rendered.method, url: url, headers: headers, body: rendered.body, timeout: configuration.requestTimeout)
        return await exchange(request) { body in OutboxProviderID.extract(from: body, gateway: definition.id) }
    }

    private func attemptWebhook(_ item: OutboxItem) async -> DeliveryOutcome {
        let url = String(decoding: item.destination, as: UTF8.self)
        let lowered = url.lowercased()
        guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://") else {
            return .permanent(reason: "the webhook destination is not an http(s) URL")
        }
        let request = HTTPRequest(
            method: "POST", url: url,
            headers: [
                (name: "Content-Type", value: "application/json"),
                (name: "Idempotency-Key", value: item.idempotencyKey),
            ],
            body: Array(item.payload.text.utf8), timeout: configuration.requestTimeout)
        return await exchange(request) { body in OutboxProviderID.extract(from: body, path: "id") }
    }

    private func exchange(_ request: HTTPRequest, providerID: ([UInt8]) -> String?) async -> DeliveryOutcome {
        do {
            let response = try await transport.send(request)
            let id = (200..<300).contains(response.status) ? providerID(response.body) : nil
            return .forHTTPStatus(response.status, providerID: id, retryAfter: Self.retryAfter(response))
        } catch {
            return error.isTransient ? .transient(reason: error.description) : .permanent(reason: error.description)
        }
    }

    private func attemptEmail(_ item: OutboxItem) async -> DeliveryOutcome {
        guard let smtp = configuration.smtp, let from = configuration.mailFrom else {
            return .permanent(reason: "email delivery is not configured: set ESCUCHA_SMTP_URL (smtps://host:465 or smtp://host:587) and ESCUCHA_SMTP_FROM, then re-queue")
        }
        guard let payload = payloadObject(item), let text = payload["text"]?.scalarText else {
            return .permanent(reason: "the payload has no \"text\" field")
        }
        let to: String
        do {
            to = try protector.decrypt(item.destination)
        } catch {
            return .permanent(reason: "the destination cannot be decrypted: ESCUCHA_SECRET_KEY is not the key it was written with")
        }
        let message = OutboxMail.compose(
            from: from, to: to, subject: payload["subject"]?.scalarText ?? "Escucha", text: text,
            messageID: OutboxMail.messageID(key: item.idempotencyKey, from: from),
            inReplyTo: payload["in_reply_to"]?.scalarText, date: clock())
        do {
            try await transport.sendMail(MailMessage(from: from, recipients: [to], data: message), via: smtp)
            return .accepted(providerID: nil)
        } catch {
            return error.isTransient ? .transient(reason: error.description) : .permanent(reason: error.description)
        }
    }

    // MARK: Recording

    private func record(_ action: OutboxAction, for item: OutboxItem, now: Date) async throws {
        let worker = configuration.workerID
        let id = item.id
        let updated = try await pool.withConnection { connection in
            switch action {
            case .markSent(let providerID):
                try connection.execute(
                    """
                    UPDATE outbox SET status = 'sent', sent_at = \(now), provider_id = \(providerID), last_error = NULL
                     WHERE id = \(id) AND status = 'sending' AND claimed_by = \(worker)
                    """, operation: "marking an outbox row sent")
            case .retry(let at, let reason):
                try connection.execute(
                    """
                    UPDATE outbox SET status = 'failed', next_attempt_at = \(at), last_error = \(reason)
                     WHERE id = \(id) AND status = 'sending' AND claimed_by = \(worker)
                    """, operation: "marking an outbox row failed")
            case .markDead(let reason):
                try connection.execute(
                    """
                    UPDATE outbox SET status = 'dead', last_error = \(reason)
                     WHERE id = \(id) AND status = 'sending' AND claimed_by = \(worker)
                    """, operation: "marking an outbox row dead")
            }
        }
        var metadata: Logger.Metadata = [
            "outbox.id": "\(item.id)", "outbox.kind": "\(item.kind)", "outbox.channel": "\(item.channelID)",
            "outbox.attempts": "\(item.attempts)",
        ]
        if updated == 0 {
            logger.warning("outbox row was claimed by another worker meanwhile; outcome not recorded", metadata: metadata)
            return
        }
        switch action {
        case .markSent:
            logger.info("outbox message sent", metadata: metadata)
        case .retry(let at, let reason):
            metadata["outbox.error"] = "\(reason)"
            metadata["outbox.next_attempt_at"] = "\(at)"
            logger.notice("outbox message failed; will retry", metadata: metadata)
        case .markDead(let reason):
            metadata["outbox.error"] = "\(reason)"
            logger.warning("outbox message is dead", metadata: metadata)
        }
    }

    // MARK: Helpers

    /// `url` with its scheme, host and port replaced by `origin` (path and query kept).
    static func replacingOrigin(of url: String, with origin: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let afterScheme = url[schemeEnd.upperBound...]
        let pathStart = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        return withoutTrailingSlash(origin) + afterScheme[pathStart...]
    }

    static func withoutTrailingSlash(_ text: String) -> String {
        var out = Substring(text)
        while out.hasSuffix("/") { out = out.dropLast() }
        return String(out)
    }

    /// The `Retry-After` delay in seconds, when the response has one in that form.
    static func retryAfter(_ response: HTTPResponse) -> Duration? {
        guard let value = response.header("Retry-After"), let seconds = Int(value.trimmingCharacters(in: .whitespaces)),
            seconds >= 0
        else { return nil }
        return .seconds(seconds)
    }
}
