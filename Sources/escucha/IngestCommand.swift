import ArgumentParser
import EscuchaChannels
import EscuchaStore
import EscuchaWorkflow
import Foundation
import Logging

/// `escucha ingest sms`: replay saved webhook bodies through intake.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Feed saved inbound data through intake.", subcommands: [SMS.self])

    struct SMS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sms",
            abstract: "Replay saved webhook bodies for a channel instance (migration from another system, tests).",
            discussion: """
                Each FILE is one request body as the gateway sent it. A .jsonl file holds one JSON \
                body per line. Each body is stored verbatim and processed exactly as a webhook \
                would be: retries are recognised, so replaying twice is harmless. Saved bodies \
                carry no signature: pass --skip-verification to accept them (only for files you trust).
                Exit code 0 when every body was accepted or recognised as a retry, 1 otherwise.
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var config: ConfigOptions

        @Option(help: "The channel instance id (Config/escucha.yaml).")
        var channel: String

        @Option(help: "Content type of the bodies (default: application/json for .json/.jsonl, form otherwise).")
        var contentType: String?

        @Flag(help: "Accept bodies without checking the gateway signature or token.")
        var skipVerification = false

        @Argument(help: "Files with saved bodies.")
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("Give at least one file to replay.") }
        }

        func run() async throws {
            let logger = Logger(label: "escucha.ingest")
            let runtime = try await Runtime.build(database: database, config: config, poolSize: 2, logger: logger, skipVerification: skipVerification)
            guard runtime.intake.instances[channel] != nil else {
                printError("error: unknown channel '\(channel)'; the configured channels are: \(runtime.intake.instances.keys.sorted().joined(separator: ", "))")
                throw ExitCode(3)
            }
            var counts: [String: Int] = [:]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    printError("error: cannot read \(file)")
                    counts["unreadable", default: 0] += 1
                    continue
                }
                let type = contentType ?? (file.hasSuffix(".json") || file.hasSuffix(".jsonl") ? "application/json" : "application/x-www-form-urlencoded")
                let bodies: [[UInt8]] = file.hasSuffix(".jsonl")
                    ? data.split(separator: UInt8(ascii: "\n")).filter { !$0.isEmpty }.map { Array($0) } : [Array(data)]
                for body in bodies {
                    let request = RawRequest(
                        method: "POST", path: "/webhooks/sms/\(channel)", headers: [("Content-Type", type), ("User-Agent", "escucha-ingest")], body: body)
                    let response = await runtime.intake.receive(channelID: channel, request: request)
                    counts[response.outcome.rawValue, default: 0] += 1
                    if response.outcome == .rejected || response.outcome == .failed {
                        printError("\(file): \(response.status) \(String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
                    }
                }
            }
            print(counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
            await runtime.pool.close()
            let bad = counts.filter { !["accepted", "duplicate", "ignored", "partial"].contains($0.key) }.values.reduce(0, +)
            if bad > 0 { throw ExitCode(1) }
        }
    }
}

/// `escucha demo`: load demonstration messages.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Load demonstration messages (Config/demo/messages.jsonl) through the demo-json channel and list the tickets.",
        discussion: "Safe to run twice: the messages carry ids, so a second run recognises them as retries.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var config: ConfigOptions

    func run() async throws {
        let logger = Logger(label: "escucha.demo")
        var environment = ProcessInfo.processInfo.environment
        environment["ESCUCHA_DEMO_TOKEN"] = environment["ESCUCHA_DEMO_TOKEN"] ?? "demo"
        let runtime = try await Runtime.build(database: database, config: config, poolSize: 2, logger: logger, environment: environment)
        let path = config.configDirectory + "/demo/messages.jsonl"
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("error: cannot read \(path)")
            throw ExitCode(2)
        }
        var outcomes: [String: Int] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            let request = RawRequest(
                method: "POST", path: "/webhooks/sms/demo-json",
                headers: [("Content-Type", "application/json"), ("X-Escucha-Token", environment["ESCUCHA_DEMO_TOKEN"]!)], body: Array(line))
            let response = await runtime.intake.receive(channelID: "demo-json", request: request)
            outcomes[response.outcome.rawValue, default: 0] += 1
        }
        print("demo messages: " + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        let rows = try await runtime.pool.withConnection { connection in
            try connection.query(
                """
                SELECT t.reference, t.severity, t.restricted, t.type, array_to_string(t.flags, ' ') AS flags, coalesce(t.location, '-') AS location,
                       (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id) AS messages, c.masked
                FROM tickets t LEFT JOIN contacts c ON c.id = t.contact_id ORDER BY t.severity_rank DESC, t.id
                """)
        }
        print("reference  severity  restricted  type        location  msgs  contact            flags")
        for row in rows {
            func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
            print(
                pad(try row.decode("reference", as: String.self), 11) + pad(try row.decode("severity", as: String.self), 10)
                    + pad(try row.decode("restricted", as: Bool.self) ? "yes" : "no", 12) + pad(try row.decode("type", as: String?.self) ?? "-", 12)
                    + pad(try row.decode("location", as: String.self), 10) + pad(String(try row.decode("messages", as: Int.self)), 6)
                    + pad(try row.decode("masked", as: String?.self) ?? "-", 19) + (try row.decode("flags", as: String.self)))
        }
        await runtime.pool.close()
    }
}
