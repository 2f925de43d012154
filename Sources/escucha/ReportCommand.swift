import ArgumentParser
import EscuchaCore
import EscuchaReports
import EscuchaStore
import Foundation
import Logging

extension ReportGranularity: ExpressibleByArgument {}
extension ReportFormat: ExpressibleByArgument {}

/// `escucha report`: early-warning summaries and alert decisions for managers.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Early-warning summaries for managers, and decisions on alerts.",
        subcommands: [EarlyWarning.self, Alerts.self])

    /// `escucha report early-warning`
    struct EarlyWarning: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "early-warning",
            abstract: "Volumes, flags by family and place with trends, EARS alerts, emerging terms and accountability.",
            discussion: """
                Aggregates only: counts from 1 to k-1 are shown as <k, with secondary suppression \
                so they cannot be recovered from totals. Restricted flags are folded into one \
                'sensitive' line unless --cleared. Free text appears only with --examples, redacted. \
                Alerts found are recorded; decide on them with `escucha report alerts verify|discard`. \
                See docs/reports.md. Exit code 0 on success, 3 for configuration errors.
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var config: ConfigOptions

        @Option(help: ArgumentHelp("First day, YYYY-MM-DD (default: 8 weeks before --to).", valueName: "date"))
        var from: String?

        @Option(help: ArgumentHelp("Last day, YYYY-MM-DD (default: today, UTC).", valueName: "date"))
        var to: String?

        @Option(help: "Periods: day or week (alerts use the same periods).")
        var by: ReportGranularity = .week

        @Option(help: ArgumentHelp("Only this place (gazetteer name, e.g. Tapachula).", valueName: "name"))
        var location: String?

        @Option(help: "Output format: table, markdown, csv (with an HXL row), json or html.")
        var format: ReportFormat = .table

        @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
        var out: String?

        @Option(help: "Disclosure threshold: counts below k are shown as <k.")
        var k: Int = Disclosure.defaultK

        @Flag(help: "Quote up to two redacted example texts for each alert.")
        var examples = false

        @Flag(help: "The reader has clearance for restricted flags (shows them by code).")
        var cleared = false

        func validate() throws {
            if k < 2 { throw ValidationError("--k must be at least 2 (counts below it are hidden).") }
            for (name, value) in [("--from", from), ("--to", to)] {
                if let value, ReportCalendar.parse(value) == nil {
                    throw ValidationError("\(name) must be a date like 2026-03-01.")
                }
            }
            if let from, let to, let f = ReportCalendar.parse(from), let t = ReportCalendar.parse(to), f > t {
                throw ValidationError("--from must not be after --to.")
            }
        }

        func run() async throws {
            let logger = Logger(label: "escucha.report")
            let directory = config.configDirectory
            let taxonomy: Taxonomy
            let places: PlaceDirectory
            do {
                taxonomy = try Taxonomy.load(path: directory + "/taxonomy.yaml")
                places = (try? PlaceDirectory.load(path: directory + "/places.yaml")) ?? PlaceDirectory()
            } catch {
                printError("error: \(error)")
                throw ExitCode(3)
            }
            let end = to.flatMap(ReportCalendar.parse) ?? ReportCalendar.startOfDay(Date())
            let start = from.flatMap(ReportCalendar.parse) ?? ReportCalendar.adding(days: -55, to: end)
            let request = EarlyWarningRequest(
                from: start, to: end, granularity: by, location: location, k: k, examples: examples, cleared: cleared)
            let pool = try await database.makePool(size: 2)
            do {
                let clock = ContinuousClock()
                let began = clock.now
                let report = try await EarlyWarningBuilder(pool: pool, taxonomy: taxonomy, places: places, logger: logger)
                    .build(request)
                let text = try report.rendered(as: format)
                if let out {
                    try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
                    printError("wrote \(out) (\(report.alerts.count) alerts) in \(clock.now - began)")
                } else {
                    print(text, terminator: "")
                }
            } catch {
                await pool.close()
                throw error
            }
            await pool.close()
        }
    }

    /// `escucha report alerts verify|discard ID --note …`
    struct Alerts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "alerts", abstract: "Record a manager's decision on an alert.", subcommands: [Verify.self, Discard.self])

        struct Decision: ParsableArguments {
            @Argument(help: "The alert id (first column of the report's alert list).")
            var id: Int64

            @Option(help: "Why: what was checked, with whom (no personal data).")
            var note: String

            @Option(help: "Who decides (default: $USER).")
            var by: String?

            func validate() throws {
                if note.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    throw ValidationError("--note must say what was checked.")
                }
            }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Mark an alert verified (a real signal, acted on).")
            @OptionGroup var database: DatabaseOptions
            @OptionGroup var decision: Decision
            func run() async throws { try await Alerts.decide(.verified, decision, database) }
        }

        struct Discard: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Mark an alert discarded (not a real signal).")
            @OptionGroup var database: DatabaseOptions
            @OptionGroup var decision: Decision
            func run() async throws { try await Alerts.decide(.discarded, decision, database) }
        }

        static func decide(_ kind: AlertDecisions.Decision, _ decision: Decision, _ database: DatabaseOptions) async throws {
            let pool = try await database.makePool(size: 1)
            let login = decision.by ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown"
            do {
                try await AlertDecisions.decide(pool, id: decision.id, decision: kind, note: decision.note, by: login)
            } catch let error as ReportError {
                await pool.close()
                printError("error: \(error)")
                throw ExitCode(4)
            } catch {
                await pool.close()
                throw error
            }
            await pool.close()
            print("alert \(decision.id) \(kind.rawValue)")
        }
    }
}

/// `escucha seed history`: synthetic ticket history for demos and load tests.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Generate synthetic data for demos and load tests.", subcommands: [History.self])

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Synthetic ticket history: 8 places, seasonality, response times and injected outbreaks.",
            discussion: """
                Deterministic for a seed. Rows are loaded with COPY; the report summary is refreshed \
                at the end. For demo and test databases only: the tickets are not real.
                """)

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var config: ConfigOptions

        @Option(help: "How many tickets (about).")
        var tickets: Int = 10_000

        @Option(help: "Random seed.")
        var seed: UInt64 = 1

        @Option(help: "Days of history, ending today.")
        var days: Int = 728

        func validate() throws {
            if tickets < 1 || tickets > 20_000_000 { throw ValidationError("--tickets must be between 1 and 20000000.") }
            if days < 28 { throw ValidationError("--days must be at least 28 (alerts need a baseline).") }
        }

        func run() async throws {
            let logger = Logger(label: "escucha.seed")
            let taxonomy: Taxonomy
            do { taxonomy = try Taxonomy.load(path: config.configDirectory + "/taxonomy.yaml") } catch {
                printError("error: \(error)")
                throw ExitCode(3)
            }
            let restricted = taxonomy.flags.filter(\.restricted).map(\.code.rawValue)
            let pool = try await database.makePool(size: 2)
            do {
                let clock = ContinuousClock()
                let began = clock.now
                let outcome = try await HistorySeeder(tickets: tickets, seed: seed, days: days)
                    .run(pool, restrictedFlags: Set(restricted))
                let seeded = clock.now
                let summary = try await ReportSummary.refresh(pool, restrictedFlags: restricted)
                print("seeded \(outcome.tickets) tickets, \(outcome.messages) messages, \(outcome.resolutionMessages) resolution messages in \(seeded - began); summary: \(summary.days) days, \(summary.rows) rows in \(clock.now - seeded)")
                logger.info("history seeded", metadata: ["seed.tickets": "\(outcome.tickets)"])
            } catch {
                await pool.close()
                throw error
            }
            await pool.close()
        }
    }
}
