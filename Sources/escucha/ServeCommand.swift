import ArgumentParser
import EscuchaServer
import EscuchaWorkflow
import Foundation
import Logging
import ServiceLifecycle

/// `escucha serve`: the webhook server with its background workers.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Receive SMS gateway webhooks at /webhooks/sms/{channel-id}; serve /healthz and /metrics.",
        discussion: """
            Channel instances come from Config/escucha.yaml, gateway definitions from Channels/. \
            Each request is stored verbatim before parsing; when PostgreSQL is unreachable it is \
            written to a local spool (fsynced) and drained when the database returns. The outbox \
            sender and the spool drain run inside the server. SIGINT/SIGTERM drain requests in \
            flight and stop gracefully.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var config: ConfigOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: "Database connections.")
    var poolSize = 8

    @Flag(help: "Do not run the outbox sender and the escalation clock in this process (run `escucha worker` instead).")
    var noWorker = false

    func run() async throws {
        var logger = Logger(label: "escucha")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let runtime = try await Runtime.build(database: database, config: config, poolSize: poolSize, logger: logger)
        var serverConfiguration = ServerConfiguration(host: host, port: port)
        serverConfiguration.onListening = { port in
            print("escucha listening on http://\(host):\(port) (webhooks at /webhooks/sms/{channel-id})")
        }
        var services: [any Service] = [IntakeMaintenance(intake: runtime.intake)]
        if !noWorker { services += try makeWorkerServices(runtime: runtime, logger: logger) }
        let app = buildApplication(intake: runtime.intake, metrics: ServerMetrics(), configuration: serverConfiguration, services: services, logger: logger)
        try await app.runService()
        await runtime.pool.close()
    }
}
