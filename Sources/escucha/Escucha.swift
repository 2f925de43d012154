import ArgumentParser

/// The `escucha` command: community feedback and complaints handling.
@main
struct Escucha: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "escucha",
        abstract: "Community feedback and complaints handling for Red Cross and Red Crescent teams.",
        discussion: """
            Escucha turns SMS, email and hotline messages into tickets, flags stigma, \
            discrimination and protection risks in many languages, and routes serious \
            grievances to the right people in time.
            """,
        version: EscuchaVersion.current,
        subcommands: [
            ServeCommand.self, WorkerCommand.self, DBCommand.self, ClassifyCommand.self, EvalCommand.self, LexiconCommand.self,
            ChannelsCommand.self, IngestCommand.self, RulesCommand.self, OfficersCommand.self, ReportCommand.self, SeedCommand.self,
            DemoCommand.self, BenchCommand.self, ConsoleCommand.self, ExportCommand.self, ModelCommand.self,
        ]
    )
}

/// The program version.
enum EscuchaVersion {
    static let current = "0.1.0"
}
