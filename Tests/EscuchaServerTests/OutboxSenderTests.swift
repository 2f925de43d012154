import EscuchaTestSupport
import EscuchaChannels
import EscuchaCore
import EscuchaStore
import EscuchaWorkflow
import Foundation
import Logging
import ServiceLifecycle
import Testing

// MARK: - Pure retry logic

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test func nominalDelaysDoubleFromFiveSecondsUpToTheOneHourCap() {
        let policy = RetryPolicy()
        let delays = (1...12).map { policy.nominalDelay(afterAttempts: $0) }
        #expect(
            delays == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600].map { Duration.seconds($0) })
        #expect(policy.nominalDelay(afterAttempts: 10_000) == .seconds(3600))
        #expect(policy.maxAttempts == 8)
    }

    @Test func jitterStaysWithinItsShareAndIsReproducibleWithASeed() {
        let policy = RetryPolicy(jitter: 0.5)
        for attempts in 1...10 {
            let nominal = policy.nominalDelay(afterAttempts: attempts)
            var generator = SeededRandom(seed: UInt64(attempts))
            for _ in 0..<200 {
                let delay = policy.delay(afterAttempts: attempts, using: &generator)
                #expect(delay <= nominal && delay >= nominal * 0.5)
            }
        }
        var a = SeededRandom(seed: 42)
        var b = SeededRandom(seed: 42)
        #expect(policy.delay(afterAttempts: 3, using: &a) == policy.delay(afterAttempts: 3, using: &b))
        var c = SeededRandom(seed: 7)
        let spread = Set((0..<50).map { _ in policy.delay(afterAttempts: 4, using: &c) })
        #expect(spread.count > 40, "jitter should spread retries")
        var d = SeededRandom(seed: 1)
        #expect(RetryPolicy(jitter: 0).delay(afterAttempts: 2, using: &d) == .seconds(10))
    }

    @Test func transientFailuresRetryUntilTheLastAttemptThenDie() {
        let policy = RetryPolicy(maxAttempts: 3, jitter: 0)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        var generator = SeededRandom(seed: 1)
        let outcome = DeliveryOutcome.transient(reason: "the gateway answered HTTP 503")
        #expect(
            policy.action(after: outcome, attempts: 1, now: now, using: &generator)
                == .retry(at: now.addingTimeInterval(5), reason: "the gateway answered HTTP 503"))
        #expect(
            policy.action(after: outcome, attempts: 2, now: now, using: &generator)
                == .retry(at: now.addingTimeInterval(10), reason: "the gateway answered HTTP 503"))
        #expect(
            policy.action(after: outcome, attempts: 3, now: now, using: &generator)
                == .markDead(reason: "gave up after 3 attempts; last: the gateway answered HTTP 503"))
    }

    @Test func permanentFailuresDieAtOnceAndSuccessIsSent() {
        let policy = RetryPolicy()
        var generator = SeededRandom(seed: 1)
        let now = Date()
        #expect(
            policy.action(after: .permanent(reason: "no"), attempts: 1, now: now, using: &generator)
                == .markDead(reason: "no"))
        #expect(
            policy.action(after: .accepted(providerID: "SM1"), attempts: 5, now: now, using: &generator)
                == .markSent(providerID: "SM1"))
    }

    @Test func retryAfterIsHonouredWhenLongerAndStillCapped() {
        let policy = RetryPolicy(maxDelay: .seconds(600), jitter: 0)
        let now = Date(timeIntervalSince1970: 0)
        var generator = SeededRandom(seed: 1)
        #expect(
            policy.action(after: .transient(reason: "429", retryAfter: .seconds(120)), attempts: 1, now: now, using: &generator)
                == .retry(at: now.addingTimeInterval(120), reason: "429"))
        #expect(
            policy.action(after: .transient(reason: "429", retryAfter: .seconds(1)), attempts: 1, now: now, using: &generator)
                == .retry(at: now.addingTimeInterval(5), reason: "429"))
        #expect(
            policy.action(after: .transient(reason: "429", retryAfter: .seconds(99_999)), attempts: 1, now: now, using: &generator)
                == .retry(at: now.addingTimeInterval(600), reason: "429"))
    }

    @Test(arguments: [
        (200, "accepted"), (201, "accepted"), (202, "accepted"), (204, "accepted"),
        (408, "transient"), (429, "transient"), (500, "transient"), (502, "transient"), (503, "transient"),
        (400, "permanent"), (401, "permanent"), (403, "permanent"), (404, "permanent"), (422, "permanent"),
        (301, "permanent"), (302, "permanent"),
    ])
    func httpStatusesAreClassified(status: Int, expected: String) {
        let kind =
            switch DeliveryOutcome.forHTTPStatus(status) {
            case .accepted: "accepted"
            case .transient: "transient"
            case .permanent: "permanent"
            }
        #expect(kind == expected)
    }

    @Test func providerIDsAreFoundInGatewayAnswers() {
        #expect(OutboxProviderID.extract(from: Array(#"{"sid":"SM9","status":"queued"}"#.utf8), gateway: "twilio") == "SM9")
        #expect(
            OutboxProviderID.extract(
                from: Array(#"{"message-count":"1","messages":[{"message-id":"0A01","status":"0"}]}"#.utf8),
                gateway: "vonage") == "0A01")
        #expect(
            OutboxProviderID.extract(
                from: Array(#"{"SMSMessageData":{"Recipients":[{"messageId":"ATXid_1"}]}}"#.utf8),
                gateway: "africastalking") == "ATXid_1")
        #expect(OutboxProviderID.extract(from: Array(#"{"ok":true,"result":{"message_id":77}}"#.utf8), gateway: "telegram") == "77")
        #expect(OutboxProviderID.extract(from: Array("0: Accepted for delivery".utf8), gateway: "kannel") == nil)
        #expect(OutboxProviderID.extract(from: Array("not json".utf8), gateway: "twilio") == nil)
        #expect(OutboxProviderID.extract(from: Array(#"{"messages":[]}"#.utf8), gateway: "vonage") == nil)
    }
}

// MARK: - Sending against PostgreSQL and a local receiver

/// A sender wired to a fresh database, the real gateway definitions and libcurl, with the
/// channel's API pointed at a local receiver.
struct OutboxHarness {
    static let channelsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Channels").path

    static let number = "+573001234567"
    static let text = "Recibimos su mensaje sobre violencia en el albergue. Ref 7KQ2MX"

    let pool: PostgresPool
    let receiver: OutboxTestReceiver
    let protector: ContactProtector
    let catalog: GatewayCatalog
    let channels: [ChannelInstance]

    init(_ label: String, respond: @escaping @Sendable (ReceivedRequest) -> CannedResponse) async throws {
        pool = try await TestCluster.migratedPool(label)
        receiver = try OutboxTestReceiver(.http(respond))
        protector = try ContactProtector(encodedSecret: ContactProtector.generateEncodedSecret())
        catalog = try GatewayCatalog.load(directory: Self.channelsDirectory)
        channels = [
            ChannelInstance(
                id: "twilio-cucuta", gateway: "twilio", secretEnv: "TEST_TWILIO_TOKEN", account: "AC0123",
                address: "+15005550006", publicURL: "https://escucha.example.org"),
            ChannelInstance(
                id: "generic-lima", gateway: "generic-json", secretEnv: "TEST_GENERIC_TOKEN", account: "gw.example.org",
                address: "2020"),
        ]
    }

    func sender(
        worker: String = "test-worker", policy: RetryPolicy = RetryPolicy(), pool: PostgresPool? = nil,
        configure: (inout OutboxSender.Configuration) -> Void = { _ in }
    ) -> OutboxSender {
        var configuration = OutboxSender.Configuration(workerID: worker)
        configuration.retryPolicy = policy
        configuration.originOverrides = ["twilio-cucuta": receiver.origin, "generic-lima": receiver.origin]
        configuration.requestTimeout = .seconds(5)
        configure(&configuration)
        return OutboxSender(
            pool: pool ?? self.pool, transport: HTTPClient(), catalog: catalog, channels: channels, protector: protector,
            environment: ["TEST_TWILIO_TOKEN": "twilio-token", "TEST_GENERIC_TOKEN": "generic-token"],
            configuration: configuration, random: SeededRandom(seed: 3), logger: Logger(label: "test.outbox"))
    }

    @discardableResult
    func enqueueSMS(channel: String = "twilio-cucuta", key: String = UUID().uuidString, text: String = Self.text) async throws
        -> Int64
    {
        let destination = protector.encrypt(Self.number)
        let payload = try JSON(encoding: ["text": text])
        return try await pool.withConnection { connection in
            try connection.query(
                """
                INSERT INTO outbox (kind, channel_id, destination, payload, idempotency_key)
                VALUES ('sms', \(channel), \(destination), \(payload), \(key)) RETURNING id
                """)[0].decode("id")
        }
    }

    struct Row: Sendable {
        var status: String
        var attempts: Int
        var nextAttemptAt: Date
        var lastError: String?
        var providerID: String?
        var sentAt: Date?
        var deliveryStatus: String?
        var deliveredAt: Date?
    }

    func row(_ id: Int64) async throws -> Row {
        try await pool.withConnection { connection in
            let row = try connection.query(
                """
                SELECT status, attempts, next_attempt_at, last_error, provider_id, sent_at, delivery_status, delivered_at
                  FROM outbox WHERE id = \(id)
                """)[0]
            return Row(
                status: try row.decode("status"), attempts: try row.decode("attempts"),
                nextAttemptAt: try row.decode("next_attempt_at"), lastError: try row.decode("last_error"),
                providerID: try row.decode("provider_id"), sentAt: try row.decode("sent_at"),
                deliveryStatus: try row.decode("delivery_status"), deliveredAt: try row.decode("delivered_at"))
        }
    }

    func close() async {
        receiver.stop()
        await pool.close()
    }
}

@Suite("OutboxSender against PostgreSQL and a local gateway")
struct OutboxSenderTests {
    @Test func aPendingSMSIsSentThroughTheTwilioTemplateWithTheDecryptedNumber() async throws {
        let harness = try await OutboxHarness("sent") { _ in .json(201, #"{"sid":"SM0001","status":"queued"}"#) }
        let key = UUID().uuidString
        let id = try await harness.enqueueSMS(key: key)
        let now = Date()
        #expect(try await harness.sender().runOnce(now: now.addingTimeInterval(1)) == 1)

        let request = try #require(harness.receiver.requests.first)
        #expect(request.method == "POST")
        #expect(request.target == "/2010-04-01/Accounts/AC0123/Messages.json")
        let form = request.formFields
        #expect(form["To"] == OutboxHarness.number)
        #expect(form["From"] == "+15005550006")
        #expect(form["Body"] == OutboxHarness.text)
        #expect(form["StatusCallback"] == "https://escucha.example.org/webhooks/sms/twilio-cucuta/status?uuid=\(key)")
        #expect(request.header("Authorization") == "Basic " + Data("AC0123:twilio-token".utf8).base64EncodedString())
        #expect(request.header("Idempotency-Key") == key)
        #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")

        let row = try await harness.row(id)
        #expect(row.status == "sent")
        #expect(row.attempts == 1)
        #expect(row.providerID == "SM0001")
        #expect(row.sentAt != nil)
        #expect(row.lastError == nil)
        // Nothing left to send.
        #expect(try await harness.sender().runOnce(now: now.addingTimeInterval(3600)) == 0)
        await harness.close()
    }

    @Test func theGenericJSONTemplateSendsJSONWithTheReference() async throws {
        let harness = try await OutboxHarness("generic") { _ in .json(200, #"{"id":"g-1"}"#) }
        let id = try await harness.enqueueSMS(channel: "generic-lima", key: "ack-42")
        #expect(try await harness.sender().runOnce(now: Date().addingTimeInterval(1)) == 1)
        let request = try #require(harness.receiver.requests.first)
        #expect(request.target == "/send")
        #expect(request.header("X-Escucha-Token") == "generic-token")
        let body = try #require(JSONValue.parse(request.body))
        #expect(body == .object(["to": .string(OutboxHarness.number), "from": .string("2020"), "text": .string(OutboxHarness.text), "id": .string("ack-42")]))
        #expect(try await harness.row(id).providerID == "g-1")
        await harness.close()
    }

    @Test func a500LeavesTheRowFailedWithTheNextAttemptInTheFuture() async throws {
        let harness = try await OutboxHarness("fail500") { _ in .json(500, #"{"message":"oops"}"#) }
        let id = try await harness.enqueueSMS()
        let now = Date().addingTimeInterval(1)
        try await harness.sender().runOnce(now: now)
        let row = try await harness.row(id)
        #expect(row.status == "failed")
        #expect(row.attempts == 1)
        #expect(row.nextAttemptAt > now)
        #expect(row.nextAttemptAt <= now.addingTimeInterval(5.001))
        let error = try #require(row.lastError)
        #expect(error.contains("HTTP 500"))
        #expect(!error.contains("3001234567") && !error.contains("violencia"))
        // Not due yet: nothing is claimed before next_attempt_at.
        #expect(try await harness.sender().runOnce(now: now.addingTimeInterval(0.5)) == 0)
        #expect(harness.receiver.requests.count == 1)
        await harness.close()
    }

    @Test(arguments: [400, 401, 404, 422])
    func aClientErrorIsDeadAtOnce(status: Int) async throws {
        let harness = try await OutboxHarness("fail4xx") { _ in .json(status, #"{"code":21211}"#) }
        let id = try await harness.enqueueSMS()
        try await harness.sender().runOnce(now: Date().addingTimeInterval(1))
        let row = try await harness.row(id)
        #expect(row.status == "dead")
        #expect(row.attempts == 1)
        #expect(row.lastError?.contains("HTTP \(status)") == true)
        #expect(row.lastError?.contains("3001234567") == false)
        await harness.close()
    }

    @Test(arguments: [408, 429, 503])
    func timeoutsAndRateLimitsAreRetried(status: Int) async throws {
        let harness = try await OutboxHarness("retry") { _ in CannedResponse(status: status, headers: [("Retry-After", "60")]) }
        let id = try await harness.enqueueSMS()
        let now = Date().addingTimeInterval(1)
        try await harness.sender().runOnce(now: now)
        let row = try await harness.row(id)
        #expect(row.status == "failed")
        // Retry-After (60 s) is longer than the first backoff (≤ 5 s).
        #expect(abs(row.nextAttemptAt.timeIntervalSince(now) - 60) < 0.01)
        await harness.close()
    }

    @Test func afterTheLastAttemptTheRowIsDead() async throws {
        let harness = try await OutboxHarness("maxattempts") { _ in .json(503, "{}") }
        let id = try await harness.enqueueSMS()
        let sender = harness.sender(policy: RetryPolicy(maxAttempts: 3))
        var now = Date().addingTimeInterval(1)
        for attempt in 1...3 {
            #expect(try await sender.runOnce(now: now) == 1)
            let row = try await harness.row(id)
            #expect(row.attempts == attempt)
            #expect(row.status == (attempt < 3 ? "failed" : "dead"))
            now = row.nextAttemptAt.addingTimeInterval(0.001)
        }
        #expect(try await harness.row(id).lastError == "gave up after 3 attempts; last: the gateway answered HTTP 503")
        #expect(try await sender.runOnce(now: now.addingTimeInterval(86_400)) == 0)
        #expect(harness.receiver.requests.count == 3)
        await harness.close()
    }

    @Test func twoSendersRacingOnTheSameRowsSendEachRowOnce() async throws {
        let harness = try await OutboxHarness("race") { _ in .json(201, #"{"sid":"SMx"}"#) }
        let keys = (0..<30).map { "race-\($0)" }
        for key in keys { try await harness.enqueueSMS(key: key) }
        let otherPool = TestCluster.secondPool(like: harness.pool)
        let small: (inout OutboxSender.Configuration) -> Void = { $0.batchSize = 4 }
        let a = harness.sender(worker: "worker-a", configure: small)
        let b = harness.sender(worker: "worker-b", pool: otherPool, configure: small)
        let now = Date().addingTimeInterval(1)
        var rounds = 0
        while rounds < 30 {
            async let fromA = a.runOnce(now: now)
            async let fromB = b.runOnce(now: now)
            let (countA, countB) = try await (fromA, fromB)
            if countA + countB == 0 { break }
            rounds += 1
        }
        let sentKeys = harness.receiver.requests.compactMap { $0.header("Idempotency-Key") }
        #expect(sentKeys.count == keys.count)
        #expect(Set(sentKeys) == Set(keys))
        let (sent, workers) = try await harness.pool.withConnection { connection in
            let rows = try connection.query(
                "SELECT count(*) FILTER (WHERE status = 'sent' AND attempts = 1) AS sent, count(DISTINCT claimed_by) AS workers FROM outbox")
            return (try rows[0].decode("sent", as: Int.self), try rows[0].decode("workers", as: Int.self))
        }
        #expect(sent == keys.count)
        #expect(workers == 2, "both workers should have taken part")
        await otherPool.close()
        await harness.close()
    }

    @Test func aRowLeftSendingByACrashedWorkerIsClaimedAgainAfterTheTimeout() async throws {
        let harness = try await OutboxHarness("reclaim") { _ in .json(201, #"{"sid":"SM2"}"#) }
        let stale = try await harness.enqueueSMS(key: "stale")
        let exhausted = try await harness.enqueueSMS(key: "exhausted")
        let now = Date().addingTimeInterval(1)
        let claimedAt = now.addingTimeInterval(-600)
        try await harness.pool.withConnection { connection in
            try connection.execute(
                "UPDATE outbox SET status = 'sending', claimed_by = 'dead-worker', claimed_at = \(claimedAt), attempts = 1 WHERE id = \(stale)")
            try connection.execute(
                "UPDATE outbox SET status = 'sending', claimed_by = 'dead-worker', claimed_at = \(claimedAt), attempts = 8 WHERE id = \(exhausted)")
        }
        // Younger than the claim timeout: left alone.
        #expect(try await harness.sender { $0.claimTimeout = .seconds(3600) }.runOnce(now: now) == 0)
        #expect(try await harness.sender().runOnce(now: now) == 1)
        let row = try await harness.row(stale)
        #expect(row.status == "sent")
        #expect(row.attempts == 2)
        let dead = try await harness.row(exhausted)
        #expect(dead.status == "dead")
        #expect(dead.lastError?.contains("may or may not have been sent") == true)
        #expect(harness.receiver.requests.count == 1)
        await harness.close()
    }

    @Test func anUnreachableGatewayIsRetriedAndTheErrorNamesNoNumber() async throws {
        let harness = try await OutboxHarness("unreachable") { _ in .json(200, "{}") }
        harness.receiver.stop()
        let id = try await harness.enqueueSMS()
        try await harness.sender().runOnce(now: Date().addingTimeInterval(1))
        let row = try await harness.row(id)
        #expect(row.status == "failed")
        let error = try #require(row.lastError)
        #expect(error.contains("couldNotConnect"))
        #expect(!error.contains("3001234567") && !error.contains("violencia") && !error.contains("twilio-token"))
        await harness.close()
    }

    @Test func configurationProblemsSayWhatToFix() async throws {
        let harness = try await OutboxHarness("config") { _ in .json(200, "{}") }
        let unknown = try await harness.enqueueSMS(channel: "nowhere")
        let missingSecret = try await harness.enqueueSMS(key: "needs-secret")
        let sender = OutboxSender(
            pool: harness.pool, transport: HTTPClient(), catalog: harness.catalog, channels: harness.channels,
            protector: harness.protector, environment: [:], configuration: .init(workerID: "w"), logger: Logger(label: "t"))
        try await sender.runOnce(now: Date().addingTimeInterval(1))
        let unknownRow = try await harness.row(unknown)
        #expect(unknownRow.status == "dead")
        #expect(unknownRow.lastError?.contains("channel 'nowhere' is not configured") == true)
        let secretRow = try await harness.row(missingSecret)
        #expect(secretRow.status == "failed")
        #expect(secretRow.lastError?.contains("TEST_TWILIO_TOKEN") == true)
        #expect(harness.receiver.requests.isEmpty)
        await harness.close()
    }

    @Test func webhooksPostTheirPayloadAsJSON() async throws {
        let harness = try await OutboxHarness("webhook") { _ in .json(202, #"{"id":"hook-1"}"#) }
        let url = harness.receiver.origin + "/hooks/escalation?team=cea"
        let id = try await harness.pool.withConnection { connection in
            try connection.query(
                """
                INSERT INTO outbox (kind, channel_id, destination, payload, idempotency_key)
                VALUES ('webhook', 'escalation', \(Data(url.utf8)), \(JSON(#"{"ticket":"7KQ2MX","severity":"high"}"#)), 'hook-key')
                RETURNING id
                """)[0].decode("id", as: Int64.self)
        }
        try await harness.sender().runOnce(now: Date().addingTimeInterval(1))
        let request = try #require(harness.receiver.requests.first)
        #expect(request.target == "/hooks/escalation?team=cea")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("Idempotency-Key") == "hook-key")
        #expect(JSONValue.parse(request.body) == .object(["ticket": .string("7KQ2MX"), "severity": .string("high")]))
        let row = try await harness.row(id)
        #expect(row.status == "sent")
        #expect(row.providerID == "hook-1")
        await harness.close()
    }

    @Test func emailGoesThroughSMTPOrIsDeadWithAnInstructionWhenNotConfigured() async throws {
        let harness = try await OutboxHarness("email") { _ in .json(200, "{}") }
        let smtp = try OutboxTestReceiver(.smtp(rejecting: []))
        defer { smtp.stop() }
        func enqueueMail(_ key: String) async throws -> Int64 {
            let destination = harness.protector.encrypt("persona@example.org")
            let payload = JSON(#"{"subject":"Su caso 7KQ2MX — recibido","text":"Gracias por escribirnos.","in_reply_to":"<abc@mail.example>"}"#)
            return try await harness.pool.withConnection { connection in
                try connection.query(
                    """
                    INSERT INTO outbox (kind, channel_id, destination, payload, idempotency_key)
                    VALUES ('email', 'mail', \(destination), \(payload), \(key)) RETURNING id
                    """)[0].decode("id")
            }
        }
        let unconfigured = try await enqueueMail("mail-1")
        try await harness.sender().runOnce(now: Date().addingTimeInterval(1))
        let deadRow = try await harness.row(unconfigured)
        #expect(deadRow.status == "dead")
        #expect(deadRow.lastError?.contains("ESCUCHA_SMTP_URL") == true)

        let configured = try await enqueueMail("mail-2")
        let sender = harness.sender {
            $0.readSMTP(from: ["ESCUCHA_SMTP_URL": "smtp://127.0.0.1:\(smtp.port)", "ESCUCHA_SMTP_FROM": "escucha@cruzroja.example"])
        }
        try await sender.runOnce(now: Date().addingTimeInterval(2))
        #expect(try await harness.row(configured).status == "sent")
        let mail = try #require(smtp.mail.first)
        #expect(mail.from == "escucha@cruzroja.example")
        #expect(mail.recipients == ["persona@example.org"])
        #expect(mail.data.contains("To: persona@example.org"))
        #expect(mail.data.contains("Message-ID: <mail-2@cruzroja.example>"))
        #expect(mail.data.contains("In-Reply-To: <abc@mail.example>"))
        #expect(mail.data.contains("Subject: =?UTF-8?B?"))
        #expect(mail.data.contains(Data("Gracias por escribirnos.".utf8).base64EncodedString()))
        await harness.close()
    }

    @Test func deliveryCallbacksUpdateTheRowAndNeverGoBackwards() async throws {
        let harness = try await OutboxHarness("delivery") { _ in .json(201, #"{"sid":"SM77"}"#) }
        let id = try await harness.enqueueSMS(key: "dlr-key")
        try await harness.sender().runOnce(now: Date().addingTimeInterval(1))
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        func apply(_ providerID: String?, reference: String? = nil, _ state: DeliveryState, channel: String = "twilio-cucuta")
            async throws -> OutboxDeliveryStatus.Result
        {
            try await harness.pool.withTransaction { connection in
                var generator = SeededRandom(seed: 1)
                return try OutboxDeliveryStatus.applyDeliveryStatus(
                    providerID: providerID, reference: reference, channelID: channel, state: state, at: at,
                    using: &generator, on: connection)
            }
        }
        #expect(try await apply("SM77", .sent) == .updated(outboxID: id))
        #expect(try await apply("SM77", .delivered) == .updated(outboxID: id))
        #expect(try await apply("SM77", .sent) == .unchanged(outboxID: id))
        #expect(try await apply("SM77", .delivered, channel: "other") == .notFound)
        #expect(try await apply("SM-unknown", .delivered) == .notFound)
        var row = try await harness.row(id)
        #expect(row.deliveryStatus == "delivered")
        #expect(row.deliveredAt == at)
        #expect(row.status == "sent")
        #expect(try await apply(nil, reference: "dlr-key", .read) == .updated(outboxID: id))
        row = try await harness.row(id)
        #expect(row.deliveryStatus == "read")
        #expect(row.deliveredAt == at)
        await harness.close()
    }

    @Test func anErroredCallbackPutsTheMessageBackForARetry() async throws {
        let harness = try await OutboxHarness("errored") { _ in .json(201, #"{"sid":"SM88"}"#) }
        let id = try await harness.enqueueSMS()
        try await harness.sender().runOnce(now: Date().addingTimeInterval(1))
        let at = Date().addingTimeInterval(10)
        let result = try await harness.pool.withTransaction { connection in
            var generator = SeededRandom(seed: 1)
            return try OutboxDeliveryStatus.applyDeliveryStatus(
                providerID: "SM88", channelID: "twilio-cucuta", state: .errored, errorCode: "63018", at: at,
                retryPolicy: RetryPolicy(jitter: 0), using: &generator, on: connection)
        }
        #expect(result == .updated(outboxID: id))
        let row = try await harness.row(id)
        #expect(row.status == "failed")
        #expect(row.deliveryStatus == "errored")
        #expect(abs(row.nextAttemptAt.timeIntervalSince(at) - 5) < 0.01)
        #expect(row.lastError?.contains("63018") == true)
        await harness.close()
    }

    @Test func runSendsUntilGracefulShutdown() async throws {
        let harness = try await OutboxHarness("service") { _ in .json(201, #"{"sid":"SM5"}"#) }
        let id = try await harness.enqueueSMS()
        let sender = harness.sender { $0.pollInterval = .milliseconds(50) }
        let group = ServiceGroup(
            configuration: .init(services: [sender], gracefulShutdownSignals: [], logger: Logger(label: "test.group")))
        let running = Task { try await group.run() }
        var status = ""
        for _ in 0..<100 {
            status = try await harness.row(id).status
            if status == "sent" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(status == "sent")
        await group.triggerGracefulShutdown()
        try await running.value
        await harness.close()
    }
}
