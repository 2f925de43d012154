import Crypto
import EscuchaChannels
import EscuchaClassifier
import EscuchaCore
import EscuchaServer
import EscuchaStore
import EscuchaTestSupport
import EscuchaWorkflow
import Foundation
import Logging
import ServiceLifecycle

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Channel instances the server tests use.
let testChannelsYAML = """
    channels:
      - id: twilio-test
        gateway: twilio
        secret_env: TEST_TWILIO_TOKEN
        outbound_secret_env: TEST_TWILIO_TOKEN
        account: ACtest
        address: "+15005550006"
        default_location: Cúcuta
        language: es
      - id: json-test
        gateway: generic-json
        secret_env: TEST_JSON_TOKEN
        account: 127.0.0.1
        address: "+15005550007"
        language: en
    """

let testEnvironment = ["TEST_TWILIO_TOKEN": "6789", "TEST_JSON_TOKEN": "s3cret"]

/// Shared, expensive pieces: the classifier and the gateway catalog.
enum TestComponents {
    static let classifier = try! Classifier.load(configDirectory: RepositoryLayout.config)
    static let catalog = try! GatewayCatalog.load(directory: RepositoryLayout.channels)
    static let instances = try! ChannelInstance.list(from: ConfigNode.parse(testChannelsYAML, file: "test.yaml"))
    static let templates = try! MessageTemplates.load(directory: RepositoryLayout.config + "/messages")
    static let protector = try! ContactProtector(encodedSecret: ContactProtector.generateEncodedSecret())

    static func intake(pool: PostgresPool, spoolDirectory: String) -> Intake {
        Intake(
            pool: pool, classifier: classifier, catalog: catalog, instances: instances, templates: templates,
            protector: protector, configuration: IntakeConfiguration(spoolDirectory: spoolDirectory),
            environment: testEnvironment, logger: Logger(label: "test.intake"))
    }
}

/// A running `escucha serve` on loopback with a fresh database.
struct TestServer {
    let pool: PostgresPool
    let intake: Intake
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    /// Starts a server on a free port, runs `body`, then shuts down gracefully.
    static func run(_ label: String, _ body: @Sendable (TestServer) async throws -> Void) async throws {
        let pool = try await TestCluster.migratedPool(label)
        let spool = "/tmp/escucha-spool-\(label)-\(UInt32.random(in: 0...UInt32.max))"
        let intake = TestComponents.intake(pool: pool, spoolDirectory: spool)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.onListening = { port in continuation.yield(port) }
        let app = buildApplication(intake: intake, metrics: ServerMetrics(), configuration: configuration, logger: Logger(label: "test.server"))
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "test.group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            do {
                try await body(TestServer(pool: pool, intake: intake, port: port))
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await pool.close()
        try? FileManager.default.removeItem(atPath: spool)
    }

    /// Sends a request and returns status, body and headers.
    func send(
        _ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil
    ) async throws -> (status: Int, body: String, headers: [String: String]) {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var out: [String: String] = [:]
        for (key, value) in http.allHeaderFields { out["\(key)".lowercased()] = "\(value)" }
        return (http.statusCode, String(decoding: data, as: UTF8.self), out)
    }

    /// A Twilio form POST signed with the test auth token, as Twilio would send it.
    func postTwilio(_ fields: [(String, String)], token: String = "6789", channel: String = "twilio-test") async throws -> (status: Int, body: String, headers: [String: String]) {
        let path = "/webhooks/sms/\(channel)"
        let url = base + path
        let signed = url + fields.sorted { $0.0 < $1.0 }.map { $0.0 + $0.1 }.joined()
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(signed.utf8), using: SymmetricKey(data: Data(token.utf8)))
        let signature = Data(mac).base64EncodedString()
        return try await send(
            "POST", path, headers: ["Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature],
            body: Data(formEncode(fields).utf8))
    }

    /// One value of a query.
    func scalar<T: PostgresDecodable>(_ sql: SQL, as type: T.Type = T.self) async throws -> T {
        try await pool.withConnection { connection in try connection.query(sql)[0].decode(0, as: T.self) }
    }
}

/// `application/x-www-form-urlencoded` encoding.
func formEncode(_ fields: [(String, String)]) -> String {
    // ASCII only: CharacterSet.alphanumerics would let accented letters through unencoded.
    let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*")
    return fields.map { name, value in
        let v = value.addingPercentEncoding(withAllowedCharacters: allowed)!.replacingOccurrences(of: "%20", with: "+")
        return name + "=" + v
    }.joined(separator: "&")
}
