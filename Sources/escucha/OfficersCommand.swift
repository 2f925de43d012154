import ArgumentParser
import EscuchaCore
import EscuchaStore
import EscuchaWorkflow
import Foundation

/// `escucha officers`: the people who work tickets, from `Config/teams.yaml`.
struct OfficersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "officers",
        abstract: "Sync and list teams and officers (Config/teams.yaml); acknowledge a ticket as an officer.",
        subcommands: [OfficersSyncCommand.self, OfficersListCommand.self, OfficersAcknowledgeCommand.self])
}

/// `escucha officers sync`: write teams.yaml into the database.
struct OfficersSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Write the teams and officers of Config/teams.yaml into the database.",
        discussion: "Officers no longer listed are deactivated, never deleted. Clearance and team decide who reads restricted tickets.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var config: ConfigOptions

    func run() async throws {
        let directory = try EscalationDirectory.load(path: config.configDirectory + "/teams.yaml")
        let pool = try await database.makePool(size: 1, migrate: true)
        do {
            let summary = try await pool.withTransaction { connection in try EscalationDirectorySync.sync(directory, on: connection) }
            print("\(summary.teams) teams, \(summary.officers) officers written; \(summary.deactivated) deactivated")
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}

/// `escucha officers list`: officers in the database.
struct OfficersListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List officers with their team, roles and clearance.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let pool = try await database.makePool(size: 1, migrate: true)
        let lines: [String]
        do {
            lines = try await pool.withConnection { connection in
                try connection.query("SELECT login, team, roles, clearance, active FROM officers ORDER BY team NULLS LAST, login").map { row in
                    let roles: [String] = try row.decode("roles")
                    let team: String? = try row.decode("team")
                    let cleared: Bool = try row.decode("clearance")
                    let active: Bool = try row.decode("active")
                    return [
                        try row.decode("login", as: String.self), team ?? "-", roles.joined(separator: ","), cleared ? "cleared" : "-",
                        active ? "active" : "inactive",
                    ].joined(separator: "\t")
                }
            }
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
        print((["login\tteam\troles\tclearance\tstatus"] + lines).joined(separator: "\n"))
    }
}

/// `escucha officers acknowledge REF --as LOGIN`: take a ticket in hand; its escalation stops.
struct OfficersAcknowledgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acknowledge",
        abstract: "Acknowledge a ticket as an officer: the escalation chain stops.")

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("as"), help: ArgumentHelp("The officer's login.", valueName: "login"))
    var officer: String

    @Argument(help: "The ticket reference (6 characters).")
    var reference: String

    func validate() throws {
        guard TicketReference.normalise(reference) != nil else {
            throw ValidationError("'\(reference)' is not a ticket reference: 6 characters such as 7K2M9Q.")
        }
    }

    func run() async throws {
        let reference = TicketReference.normalise(reference) ?? reference
        let officer = officer
        let pool = try await database.makePool(size: 1, migrate: true)
        do {
            let stopped = try await pool.withTransaction { connection in
                let rows = try connection.query("SELECT id FROM tickets WHERE reference = \(reference)", operation: "finding the ticket")
                guard let id: Int64 = try rows.first?.decode("id") else { throw ValidationError("No ticket \(reference).") }
                return try EscalationAcknowledgement.acknowledge(ticketID: id, officer: officer, interface: "cli", now: Date(), on: connection)
            }
            print("Ticket \(reference) acknowledged; \(stopped) pending escalation(s) stopped.")
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}
