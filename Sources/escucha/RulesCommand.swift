import ArgumentParser
import EscuchaClassifier
import EscuchaCore
import Foundation

/// `escucha rules`: check and explain the escalation rules.
struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check and explain the escalation rules (Config/escalation.yaml).",
        subcommands: [RulesCheckCommand.self, RulesExplainCommand.self])
}

/// `escucha rules check`: every problem of escalation.yaml and teams.yaml, with file and line.
struct RulesCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate escalation.yaml against the taxonomy and teams.yaml.",
        discussion: """
            Prints every problem as FILE:LINE: MESSAGE and exits with status 1 when there is \
            one: unknown keys, flags, severities, targets or durations, duplicate rule names, \
            levels without a deadline, teams that do not exist, chain levels nobody answers.
            """)

    @OptionGroup var config: ConfigOptions

    func run() async throws {
        let directory = config.configDirectory
        var problems: [ConfigError] = []
        var rules = EscalationRuleSet(rules: [])
        do {
            let taxonomy = try Taxonomy.load(path: directory + "/taxonomy.yaml")
            let root = try ConfigNode.load(path: directory + "/escalation.yaml")
            (rules, problems) = EscalationRuleSet.check(root, taxonomy: taxonomy)
        } catch {
            problems.append(error)
        }
        let teamsPath = directory + "/teams.yaml"
        if FileManager.default.fileExists(atPath: teamsPath) {
            do {
                problems += try EscalationDirectory.load(path: teamsPath).problems(with: rules)
            } catch {
                problems.append(error)
            }
        } else {
            problems.append(ConfigError(file: teamsPath, line: nil, message: "missing: targets cannot be resolved; create it with teams and officers"))
        }
        for problem in problems { printError(problem.description) }
        if !problems.isEmpty { throw ExitCode(1) }
        print("\(rules.rules.count) rules OK")
    }
}

/// `escucha rules explain "text"`: classify a text and show which rules fire and why.
struct RulesExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Classify a text and show which escalation rules fire, why, and who is told.",
        discussion: "Deadlines are shown as if the message arrived now (in the team's working hours for rules that count them). Nothing is stored or sent.")

    @OptionGroup var config: ConfigOptions

    @Option(name: .long, help: "The channel id the message came by.")
    var channel: String?

    @Option(name: .long, help: "The place key of the message.")
    var location: String?

    @Argument(help: "The message text.")
    var text: String

    func run() async throws {
        let directory = config.configDirectory
        let classifier = try Classifier.load(configDirectory: directory)
        let rules = try EscalationRuleSet.load(path: directory + "/escalation.yaml", taxonomy: Taxonomy.load(path: directory + "/taxonomy.yaml"))
        let teams = try? EscalationDirectory.load(path: directory + "/teams.yaml")
        let classification = classifier.classify(text)
        let facts = EscalationFacts(
            flags: Set(classification.flags), severity: classification.severity ?? .low, type: classification.type,
            channelID: channel, location: location ?? classification.places.first?.name, language: classification.language,
            restricted: classification.restricted)
        let now = Date()
        let outcome = rules.evaluate(facts, now: now, workingHours: teams?.workingHours ?? [:])
        print(Self.render(facts: facts, outcome: outcome, rules: rules, teams: teams, now: now))
    }

    static func render(facts: EscalationFacts, outcome: EscalationOutcome, rules: EscalationRuleSet, teams: EscalationDirectory?, now: Date) -> String {
        func span(_ date: Date?) -> String {
            guard let date else { return "none" }
            let minutes = Int(date.timeIntervalSince(now) / 60)
            let parts = [(minutes / 1440, "d"), (minutes % 1440 / 60, "h"), (minutes % 60, "m")].filter { $0.0 > 0 }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            let length = parts.isEmpty ? "0m" : parts.map { "\($0.0)\($0.1)" }.joined(separator: " ")
            return "\(length) (by \(formatter.string(from: date)))"
        }
        var lines: [String] = []
        lines.append("Classified: flags [\(facts.flags.sorted().map(\.rawValue).joined(separator: ", "))], severity \(facts.severity.rawValue), type \(facts.type ?? "-"), language \(facts.language ?? "-")\(facts.restricted ? ", restricted" : "")")
        lines.append("")
        lines.append("Rules that fire:")
        if outcome.matches.isEmpty { lines.append("  (none)") }
        for match in outcome.matches {
            lines.append("  ✓ \(match.rule.name) (\(match.rule.location)) because \(match.reasons.joined(separator: " and "))")
            if !match.rule.summary.isEmpty { lines.append("      \(match.rule.summary)") }
            for (index, level) in match.rule.actions.chain.enumerated() {
                let who = teams.map { directory in
                    let people = directory.recipients(for: level.target, via: level.via).map { "\($0.name) by \($0.channel.rawValue)" }
                    return people.isEmpty ? " — nobody answers this target" : " — " + people.joined(separator: ", ")
                } ?? ""
                let after = index == 0 ? (level.after.map { "after \($0)" } ?? "at once") : "if not acknowledged in time"
                lines.append("      level \(index + 1): \(level.target) \(after)\(who)")
            }
            if match.rule.actions.stop { lines.append("      stop: no later rule is evaluated") }
        }
        lines.append("")
        lines.append("Rules that do not fire:")
        for miss in outcome.misses { lines.append("  · \(miss.rule): \(miss.reason)") }
        if let stopped = outcome.stoppedBy {
            let skipped = rules.rules.map(\.name).drop { $0 != stopped }.dropFirst()
            if !skipped.isEmpty { lines.append("  · not evaluated (stopped by \(stopped)): \(skipped.joined(separator: ", "))") }
        }
        lines.append("")
        lines.append("Result: severity \(outcome.severity.rawValue), \(outcome.restricted ? "restricted" : "not restricted"), team \(outcome.team ?? "-"), acknowledge within \(span(outcome.acknowledgeBy)), resolve within \(span(outcome.resolveBy))")
        return lines.joined(separator: "\n")
    }
}
