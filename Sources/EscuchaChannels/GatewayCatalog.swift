public import EscuchaCore
public import Foundation

/// All gateway definitions, by id.
public struct GatewayCatalog: Sendable {
    /// The definitions by gateway id.
    public private(set) var definitions: [String: GatewayDefinition]

    /// Creates a catalog from definitions.
    /// - Parameter definitions: the definitions; ids must be unique.
    public init(_ definitions: [GatewayDefinition]) throws(ConfigError) {
        var byID: [String: GatewayDefinition] = [:]
        for d in definitions {
            if let other = byID[d.id] {
                throw ConfigError(file: d.file, line: nil, message: "gateway id '\(d.id)' is also defined in \(other.file); ids must be unique")
            }
            byID[d.id] = d
        }
        self.definitions = byID
    }

    /// Loads every `*.yaml`/`*.yml` file in `directory` (the only IO in this module).
    /// - Parameter directory: the `Channels/` folder.
    /// - Throws: the first ``ConfigError``; use ``ChannelsCheck`` to collect all.
    public static func load(directory: String) throws(ConfigError) -> GatewayCatalog {
        var definitions: [GatewayDefinition] = []
        for path in try definitionFiles(in: directory) { definitions.append(try GatewayDefinition.load(path: path)) }
        return try GatewayCatalog(definitions)
    }

    /// The definition files in `directory`, sorted.
    /// - Parameter directory: the folder.
    public static func definitionFiles(in directory: String) throws(ConfigError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ConfigError(file: directory, line: nil, message: "cannot list the gateway definitions folder: check --channels-dir")
        }
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { (directory as NSString).appendingPathComponent($0) }
    }

    /// The definition with `id`.
    public subscript(id: String) -> GatewayDefinition? { definitions[id] }

    /// Parses a request for a configured channel.
    /// - Parameters:
    ///   - request: the request as received.
    ///   - instance: the channel it was addressed to.
    ///   - secrets: the channel's secret values.
    ///   - now: the arrival time.
    public func parse(request: RawRequest, instance: ChannelInstance, secrets: ChannelSecrets, now: Date) -> ParseOutcome {
        guard let definition = definitions[instance.gateway] else {
            return .rejected(Rejection(httpStatus: 500, reason: "channel '\(instance.id)' uses the unknown gateway '\(instance.gateway)': add Channels/\(instance.gateway).yaml"))
        }
        return GatewayParser.parse(request: request, definition: definition, instance: instance, secrets: secrets, now: now)
    }

    /// Parses a request with only the inbound secret (see the other overload).
    public func parse(request: RawRequest, instance: ChannelInstance, secret: String?, now: Date) -> ParseOutcome {
        parse(request: request, instance: instance, secrets: ChannelSecrets(secret: secret), now: now)
    }

    /// The answer the gateway expects on success, for the instance's gateway.
    /// - Parameter instance: the channel.
    public func successResponse(for instance: ChannelInstance) -> ResponseSpec {
        definitions[instance.gateway]?.success ?? ResponseSpec(status: 200, contentType: "text/plain", body: "")
    }
}

/// What `escucha channels check` found.
public struct ChannelsCheckReport: Sendable {
    /// Problems that stop the server from using a channel.
    public var errors: [ConfigError] = []
    /// Remarks worth fixing.
    public var warnings: [ConfigError] = []
    /// How many definitions and instances were read.
    public var definitionCount = 0
    public var instanceCount = 0
}

/// Validation of definitions and instances, pure apart from the loaders it is given.
public enum ChannelsCheck {
    /// Checks already-read definitions and the configuration document.
    /// - Parameters:
    ///   - definitions: results of loading each definition file.
    ///   - config: the parsed `Config/escucha.yaml`, or the error reading it.
    ///   - acknowledgements: acknowledgement templates to measure (`file`, `line`, `text`).
    public static func validate(
        definitions: [Result<GatewayDefinition, ConfigError>], config: Result<ConfigNode, ConfigError>?,
        acknowledgements: [(file: String, line: Int?, text: String)] = []
    ) -> ChannelsCheckReport {
        var report = ChannelsCheckReport()
        var byID: [String: GatewayDefinition] = [:]
        for d in definitions {
            switch d {
            case .failure(let e): report.errors.append(e)
            case .success(let def):
                report.definitionCount += 1
                if let other = byID[def.id] {
                    report.errors.append(ConfigError(file: def.file, line: 1, message: "gateway id '\(def.id)' is also defined in \(other.file)"))
                }
                byID[def.id] = def
                report.warnings += def.warnings
                if let reply = def.reply {
                    let unknown = reply.usedPlaceholders.subtracting(OutboundTemplate.placeholders)
                    if !unknown.isEmpty {
                        report.warnings.append(ConfigError(file: def.file, line: reply.line, message: "reply template uses unknown placeholders \(unknown.sorted().joined(separator: ", ")); known: \(OutboundTemplate.placeholders.sorted().joined(separator: ", "))"))
                    }
                    if !reply.usedPlaceholders.contains("text") || !reply.usedPlaceholders.contains("to") {
                        report.warnings.append(ConfigError(file: def.file, line: reply.line, message: "reply template never uses {{to}} and {{text}}: replies would not reach the person"))
                    }
                    if !reply.url.hasPrefix("https://") {
                        report.warnings.append(ConfigError(file: def.file, line: reply.line, message: "reply URL is not https: message text and keys would travel in clear"))
                    }
                }
            }
        }
        switch config {
        case .failure(let e)?: report.errors.append(e)
        case .success(let root)?:
            do {
                // Read each instance on its own so one mistake does not hide the others.
                var instances: [ChannelInstance] = []
                var seen: Set<String> = []
                for node in root["channels"]?.items ?? [] {
                    do {
                        let instance = try ChannelInstance(node: node)
                        if !seen.insert(instance.id).inserted {
                            report.errors.append(node.error("channel id '\(instance.id)' is used twice; ids must be unique"))
                        }
                        instances.append(instance)
                    } catch {
                        report.errors.append(error)
                    }
                }
                if root["channels"] == nil {
                    report.warnings.append(ConfigError(file: root.file, line: nil, message: "no 'channels:' list: no SMS webhook is served"))
                }
                report.instanceCount = instances.count
                for i in instances {
                    guard let def = byID[i.gateway] else {
                        report.errors.append(ConfigError(file: i.file, line: i.line, message: "channel '\(i.id)' uses the unknown gateway '\(i.gateway)'; known: \(byID.keys.sorted().joined(separator: ", "))"))
                        continue
                    }
                    let verifies = def.verification.kind != .none || def.routes.contains { ($0.verification?.kind ?? .none) != .none }
                    if verifies && i.secretEnv == nil {
                        report.warnings.append(ConfigError(file: i.file, line: i.line, message: "channel '\(i.id)' has no secret_env: requests to it are not authenticated (gateway '\(def.id)' supports \(def.verification.kind.rawValue))"))
                    }
                    if !verifies {
                        report.warnings.append(ConfigError(file: i.file, line: i.line, message: "gateway '\(def.id)' cannot authenticate requests: keep channel '\(i.id)' URL secret and use HTTPS"))
                    }
                    let needsURL = [VerificationSpec.Kind.twilioSignature, .messagebirdJWT, .plivoV2].contains(def.verification.kind)
                    if needsURL && i.publicURL == nil && i.secretEnv != nil {
                        report.warnings.append(ConfigError(file: i.file, line: i.line, message: "channel '\(i.id)' has no public_url: signatures are checked against the URL rebuilt from proxy headers"))
                    }
                    if def.routes.contains(where: { $0.rules.contains { $0.kind == .challenge } }) && i.verifyTokenEnv == nil {
                        report.errors.append(ConfigError(file: i.file, line: i.line, message: "channel '\(i.id)' needs verify_token_env for the gateway's subscription handshake"))
                    }
                }
            }
        case nil: break
        }
        for ack in acknowledgements {
            let count = SMSSegments.count(ack.text)
            if count.encoding == .ucs2 {
                let chars = String(Set(count.nonGSMCharacters).sorted())
                report.warnings.append(ConfigError(file: ack.file, line: ack.line, message: "acknowledgement needs UCS-2 (70 characters per SMS) because of \(chars.prefix(20)); use GSM-7 letters where the language allows"))
            }
            if count.segments > 1 {
                report.warnings.append(ConfigError(file: ack.file, line: ack.line, message: "acknowledgement takes \(count.segments) SMS segments (\(count.encoding.rawValue)); shorten it to one"))
            }
        }
        return report
    }

    /// Loads and checks `channelsDirectory` and `configFile` (IO: reads the files).
    /// - Parameters:
    ///   - channelsDirectory: the `Channels/` folder.
    ///   - configFile: `Config/escucha.yaml`.
    public static func run(channelsDirectory: String, configFile: String) -> ChannelsCheckReport {
        var results: [Result<GatewayDefinition, ConfigError>] = []
        do {
            for path in try GatewayCatalog.definitionFiles(in: channelsDirectory) {
                do { results.append(.success(try GatewayDefinition.load(path: path))) } catch { results.append(.failure(error)) }
            }
        } catch {
            results.append(.failure(error))
        }
        let config: Result<ConfigNode, ConfigError>
        do { config = .success(try ConfigNode.load(path: configFile)) } catch { config = .failure(error) }
        return validate(definitions: results, config: config)
    }
}
