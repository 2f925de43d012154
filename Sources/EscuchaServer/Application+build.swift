import EscuchaStore
import EscuchaWorkflow
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Settings of `escucha serve`.
public struct ServerConfiguration: Sendable {
    /// Address to listen on. Loopback by default: put a TLS proxy in front.
    public var host = "127.0.0.1"
    /// Port; 0 picks a free one (tests).
    public var port = 8080
    /// Called with the bound port once the server listens.
    public var onListening: @Sendable (Int) async -> Void = { _ in }

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }
}

/// Builds the HTTP application: webhooks, health and metrics. `escucha serve` and the
/// tests both call this.
/// - Parameters:
///   - intake: the intake pipeline.
///   - metrics: where request metrics go.
///   - services: background services to run with the server (outbox sender, spool drain).
public func buildApplication(
    intake: Intake, metrics: ServerMetrics, configuration: ServerConfiguration, services: [any Service] = [],
    logger: Logger = Logger(label: "escucha.server")
) -> some ApplicationProtocol {
    let router = Router(context: EscuchaRequestContext.self)
    router.middlewares.add(LogRequestsMiddleware(.debug))
    let webhooks = WebhookController(intake: intake, metrics: metrics, logger: logger)
    for path in ["/webhooks/sms/:channel", "/webhooks/sms/:channel/:route"] {
        router.post(RouterPath(path), use: webhooks.handle)
        router.get(RouterPath(path), use: webhooks.handle)
    }
    router.get("/healthz") { _, _ -> Response in
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await intake.pool.withConnection { try $0.query("SELECT 1") } }
                group.addTask {
                    try await Task.sleep(for: .seconds(3))
                    throw CancellationError()
                }
                try await group.next()
                group.cancelAll()
            }
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok: database reachable\n")))
        } catch {
            return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "unavailable: the database does not answer; messages are being spooled\n")))
        }
    }
    router.get("/metrics") { _, _ -> Response in
        if let depth = try? await intake.pool.withConnection({ connection in
            try connection.query("SELECT count(*) AS n FROM outbox WHERE status IN ('pending', 'failed', 'sending')")[0].decode("n", as: Int.self)
        }) {
            metrics.outboxDepth.set(Double(depth))
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.registry.emitToString())))
    }
    let onListening = configuration.onListening
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "escucha"),
        services: services,
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
        logger: logger)
}

/// Handles `/webhooks/sms/{channel}`: reads the body up to the cap, hands the raw request
/// to intake and returns what intake decided.
struct WebhookController: Sendable {
    let intake: Intake
    let metrics: ServerMetrics
    let logger: Logger

    @Sendable func handle(_ request: Request, context: EscuchaRequestContext) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        let channel = context.parameters.get("channel") ?? ""
        let limit = intake.configuration.maxBodyBytes
        var body: [UInt8] = []
        var oversize = false
        for try await chunk in request.body {
            let room = limit - body.count
            if chunk.readableBytes > room {
                body += chunk.getBytes(at: chunk.readerIndex, length: max(0, room)) ?? []
                oversize = true
                break
            }
            body += chunk.getBytes(at: chunk.readerIndex, length: chunk.readableBytes) ?? []
        }
        var headers = request.headers.map { (name: $0.name.canonicalName, value: $0.value) }
        // HTTP/1 `Host` arrives as the request's authority, not as a header field; signatures
        // (Twilio's) are computed over the URL the gateway called, so keep it.
        if let authority = request.head.authority, !headers.contains(where: { $0.name.lowercased() == "host" }) {
            headers.insert((name: "Host", value: authority), at: 0)
        }
        let remote = context.remoteAddress?.ipAddress
        let raw = RawRequestBuilder.make(method: request.method.rawValue, uri: request.uri.description, headers: headers, body: body, remote: remote)
        let result = await intake.receive(channelID: channel, request: raw, oversize: oversize)
        metrics.request(channel: intake.instances[channel] == nil ? "unknown" : channel, outcome: result.outcome.rawValue, duration: clock.now - started)
        metrics.flagsRaised(result.flagsRaised)
        var responseHeaders: HTTPFields = [:]
        if let type = result.contentType { responseHeaders[.contentType] = type }
        return Response(
            status: HTTPResponse.Status(code: result.status), headers: responseHeaders,
            body: .init(byteBuffer: ByteBuffer(bytes: result.body)))
    }
}
