import ArgumentParser
import EscuchaChannels
import EscuchaClassifier
import EscuchaCore
import EscuchaStore
import EscuchaWorkflow
import Foundation
import Logging

/// Everything a long-running command needs, built once from the options.
struct Runtime {
    let pool: PostgresPool
    let intake: Intake
    let configDirectory: String

    /// Opens the database (starting the embedded cluster when none is configured),
    /// applies migrations and loads the configuration.
    static func build(
        database: DatabaseOptions, config: ConfigOptions, poolSize: Int, logger: Logger, skipVerification: Bool = false,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> Runtime {
        let configDirectory = config.configDirectory
        let classifier = try loadClassifier(config)
        let channelsDirectory = ProcessInfo.processInfo.environment["ESCUCHA_CHANNELS_DIR"] ?? "Channels"
        let configFile = configDirectory + "/escucha.yaml"
        let loaded: LoadedConfiguration
        do {
            loaded = try LoadedConfiguration.load(
                channelsDirectory: channelsDirectory, configFile: configFile, messagesDirectory: configDirectory + "/messages",
                spoolDirectory: database.dataDirectory + "/spool", skipVerification: skipVerification)
        } catch {
            printError("error: \(error)")
            throw ExitCode(3)
        }
        let protector: ContactProtector
        do {
            protector = try ContactProtector(encodedSecret: try database.secretKey())
        } catch {
            printError("error: \(error)")
            throw ExitCode(3)
        }
        let pool = try await database.makePool(size: poolSize, migrate: true)
        let intake = Intake(
            pool: pool, classifier: classifier, catalog: loaded.catalog, instances: loaded.instances, templates: loaded.templates,
            protector: protector, configuration: loaded.intake, escalation: loaded.escalation, environment: environment, logger: logger)
        return Runtime(pool: pool, intake: intake, configDirectory: configDirectory)
    }
}

extension GatewayCatalog {
    /// The same gateways with signature checks turned off, for replaying saved bodies that
    /// carry no signature (`escucha ingest sms --skip-verification`).
    func withoutVerification() throws(ConfigError) -> GatewayCatalog {
        let definitions = definitions.values.map { definition -> GatewayDefinition in
            var copy = definition
            copy.verification = .none
            copy.routes = copy.routes.map { route in
                var route = route
                route.verification = nil
                return route
            }
            return copy
        }
        return try GatewayCatalog(definitions)
    }
}

/// The configuration files intake needs, read and validated.
struct LoadedConfiguration {
    var catalog: GatewayCatalog
    var instances: [ChannelInstance]
    var templates: MessageTemplates
    var escalation: EscalationPlanner
    var intake: IntakeConfiguration

    static func load(
        channelsDirectory: String, configFile: String, messagesDirectory: String, spoolDirectory: String, skipVerification: Bool
    ) throws(ConfigError) -> LoadedConfiguration {
        let catalog = try GatewayCatalog.load(directory: channelsDirectory)
        let root = try ConfigNode.load(path: configFile)
        return LoadedConfiguration(
            catalog: skipVerification ? try catalog.withoutVerification() : catalog,
            instances: try ChannelInstance.list(from: root),
            templates: try MessageTemplates.load(directory: messagesDirectory),
            escalation: try EscalationPlanner.load(configDirectory: URL(fileURLWithPath: configFile).deletingLastPathComponent().path),
            intake: try IntakeConfiguration.parse(root, spoolDirectory: spoolDirectory))
    }
}
