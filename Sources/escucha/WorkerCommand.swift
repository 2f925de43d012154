import ArgumentParser
import EscuchaWorkflow
import Foundation
import Logging
import ServiceLifecycle

/// The background services of a process: the escalation clock and the outbox sender.
func makeWorkerServices(runtime: Runtime, logger: Logger) throws -> [any Service] {
    var configuration = OutboxSender.Configuration()
    let environment = ProcessInfo.processInfo.environment
    configuration.readSMTP(from: environment)
    let sender = OutboxSender(
        pool: runtime.pool, transport: HTTPClient(), catalog: runtime.intake.catalog,
        channels: Array(runtime.intake.instances.values), protector: runtime.intake.protector,
        environment: environment, configuration: configuration, logger: logger)
    let escalations: EscalationWorker
    do {
        escalations = try EscalationWorker.load(
            configDirectory: runtime.configDirectory, pool: runtime.pool, protector: runtime.intake.protector, logger: logger)
    } catch {
        printError("error: \(error)")
        throw ExitCode(3)
    }
    return [escalations, sender]
}

/// `escucha worker`: the background work without the HTTP server.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Send the outbox, drain the spool and re-process pending requests, without serving HTTP.",
        discussion: "Any number of workers may share one database: rows are claimed with FOR UPDATE SKIP LOCKED. SIGINT/SIGTERM stop gracefully.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var config: ConfigOptions

    func run() async throws {
        var logger = Logger(label: "escucha.worker")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let runtime = try await Runtime.build(database: database, config: config, poolSize: 4, logger: logger)
        let services: [any Service] = [IntakeMaintenance(intake: runtime.intake)] + (try makeWorkerServices(runtime: runtime, logger: logger))
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await runtime.pool.close()
    }
}
