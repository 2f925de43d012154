import ArgumentParser
import EscuchaConsole
import EscuchaCore
import EscuchaStore
import EscuchaWorkflow
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `escucha console`: the officers' triage console.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The triage console for CEA officers (queue, ticket, reply, escalate, resolve).",
        discussion: """
            Works in any terminal of 80×24 or more; press ? inside for the keys. Every read and action runs \
            as the officer under the database's row-level security: restricted tickets open only with clearance, \
            and showing a contact is recorded in the ticket's history. Officers come from Config/teams.yaml \
            (`escucha officers sync`).
            """)

    @Option(name: .customLong("as"), help: ArgumentHelp("The officer's login. Default: $ESCUCHA_OFFICER, else $USER.", valueName: "login"))
    var officer: String?

    @Option(name: .customLong("lang"), help: ArgumentHelp("Interface language: en or es. Default: from LC_ALL / LC_MESSAGES / LANG.", valueName: "code"))
    var language: String?

    @Option(name: .customLong("ticket"), help: ArgumentHelp("Open this ticket first (its reference, as escalation notices give it).", valueName: "ref"))
    var ticket: String?

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var config: ConfigOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard isatty(0) == 1, isatty(1) == 1 else {
            printError("error: \(ConsoleError.notInteractive)")
            throw ExitCode(2)
        }
        guard let login = officer ?? environment["ESCUCHA_OFFICER"] ?? environment["USER"], !login.isEmpty else {
            printError("error: say who you are with --as LOGIN (an officer of Config/teams.yaml)")
            throw ExitCode(2)
        }
        let directory = config.configDirectory
        let desk: OfficerDesk
        let strings: ConsoleStrings
        var settings = ConsoleApp.Settings()
        settings.openReference = ticket
        do {
            let taxonomy = try Taxonomy.load(path: directory + "/taxonomy.yaml")
            let templates = try MessageTemplates.load(directory: directory + "/messages")
            strings = try ConsoleStrings.load(
                directory: directory + "/console", language: ConsoleStrings.interfaceLanguage(option: language, environment: environment))
            settings.resolutionCodes = try ConfigNode.load(path: directory + "/resolutions.yaml").strings("codes")
            let protector = try ContactProtector(encodedSecret: try database.secretKey())
            desk = OfficerDesk(
                officer: login, interface: "console", taxonomy: taxonomy, templates: templates, resolutionCodes: settings.resolutionCodes,
                protector: protector)
        } catch {
            printError("error: \(error)")
            throw ExitCode(3)
        }
        let pool = try await database.makePool(size: 1, migrate: true)
        let configuration = pool.configuration
        await pool.close()
        let settingsCopy = settings
        // curses and the connection belong to one thread of their own: the loop blocks on
        // the keyboard, which must not hold a thread of Swift's cooperative pool.
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                do {
                    let connection = try PGConnection(
                        conninfo: configuration.conninfo, parameters: configuration.parameters.map { ($0.keyword, $0.value) })
                    let profile = try desk.profile(on: connection)
                    try ConsoleApp(connection: connection, desk: desk, profile: profile, strings: strings, settings: settingsCopy).run()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }
}

/// `escucha export`: data out of Escucha.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export data: officers' labels as evaluation data.", subcommands: [ExportLabelsCommand.self])
}

/// `escucha export labels`: officers' corrections in the format of the evaluation set.
struct ExportLabelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labels",
        abstract: "Write officers' corrections (the console's L key) as JSON Lines in the evaluation-set format.",
        discussion: """
            One line per labelled ticket (its latest label): id, lang, channel, text (the person's first message), \
            type, flags, sectors — the fields of ../shared/eval/dev.jsonl, so `escucha eval` reads it. \
            Phone numbers, e-mail addresses and likely names in the text are redacted unless --unredacted is given; \
            the file holds what people wrote: keep it as personal data.
            """)

    @Option(name: .customLong("out"), help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(name: .customLong("unredacted"), help: "Keep numbers, e-mail addresses and names in the texts.")
    var unredacted = false

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let pool = try await database.makePool(size: 1, migrate: true)
        let redact = !unredacted
        let lines: [String]
        do {
            lines = try await pool.withConnection { connection in
                try connection.query(
                    """
                    SELECT DISTINCT ON (l.ticket_id) t.reference, l.type, l.flags, l.sectors, m.text,
                           coalesce(m.language, t.language, 'und') AS language, m.kind
                      FROM human_labels l JOIN tickets t ON t.id = l.ticket_id JOIN messages m ON m.id = l.message_id
                     ORDER BY l.ticket_id, l.created_at DESC, l.id DESC
                    """, operation: "reading labels"
                ).map { row in
                    let text: String = try row.decode("text")
                    let record = LabelRecord(
                        id: "label-" + (try row.decode("reference", as: String.self)), lang: try row.decode("language"),
                        channel: try row.decode("kind"), text: redact ? Redaction.redact(text) : text, type: try row.decode("type"),
                        flags: try row.decode("flags"), sectors: try row.decode("sectors"))
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    return String(decoding: try encoder.encode(record), as: UTF8.self)
                }
            }
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
        let text = lines.map { $0 + "\n" }.joined()
        if let output {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: output))
            } catch {
                printError("error: cannot write \(output): \(error.localizedDescription)")
                throw ExitCode(1)
            }
            printError("\(lines.count) labels written to \(output)")
        } else {
            print(text, terminator: "")
        }
    }

    struct LabelRecord: Encodable {
        var id: String
        var lang: String
        var channel: String
        var text: String
        var type: String?
        var flags: [String]
        var sectors: [String]
    }
}
