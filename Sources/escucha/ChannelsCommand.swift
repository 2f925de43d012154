import ArgumentParser
import EscuchaChannels
import EscuchaCore
import EscuchaWorkflow
import Foundation

/// `escucha channels …`: gateway definitions and channel instances.
struct ChannelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channels", abstract: "Inspect SMS gateway definitions and configured channels.",
        subcommands: [Check.self])

    /// `escucha channels check`: validates every definition and instance, with file and line.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate Channels/*.yaml and the channels in Config/escucha.yaml.",
            discussion: """
                Prints each problem as file:line: message. Errors stop the server from using a \
                channel; warnings (no secret configured, reply templates, acknowledgements that \
                need UCS-2 or more than one SMS) are worth fixing. Exit code 1 when there are errors.
                """)

        @Option(help: "The configuration folder (holds escucha.yaml and messages/).")
        var configDir = "Config"

        @Option(help: "The folder with one gateway definition per file.")
        var channelsDir = "Channels"

        func run() async throws {
            let configFile = (configDir as NSString).appendingPathComponent("escucha.yaml")
            var report = ChannelsCheck.run(channelsDirectory: channelsDir, configFile: configFile)
            let acknowledgements = Self.acknowledgementTemplates(in: (configDir as NSString).appendingPathComponent("messages"))
            report.warnings += ChannelsCheck.validate(definitions: [], config: nil, acknowledgements: acknowledgements).warnings
            for error in report.errors { print("error: \(error)") }
            for warning in report.warnings { print("warning: \(warning)") }
            print("\(report.definitionCount) gateway definitions, \(report.instanceCount) channels: \(report.errors.count) errors, \(report.warnings.count) warnings")
            if !report.errors.isEmpty { throw ExitCode(1) }
        }

        /// Reads the outgoing templates of `Config/messages/*.yaml` (every string value except
        /// `language`), with `{reference}` replaced by a 6-character reference.
        static func acknowledgementTemplates(in directory: String) -> [(file: String, line: Int?, text: String)] {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
            var out: [(file: String, line: Int?, text: String)] = []
            for name in files {
                let path = (directory as NSString).appendingPathComponent(name)
                guard let root = try? ConfigNode.load(path: path) else { continue }
                for entry in root.entries where entry.key != "language" {
                    guard let text = entry.value.string else { continue }
                    out.append((path, entry.value.line, MessageTemplates.filling(text, reference: "7KQ2XM")))
                }
            }
            return out
        }
    }
}
