import ArgumentParser
import EscuchaStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the database and the data folder are; shared by every command that needs them.
///
/// The rule (first match wins): `--database-url`; `DATABASE_URL`; libpq's own variables
/// when `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGDATABASE` or `PGSERVICE` is set; otherwise the
/// embedded cluster in the data folder (`--data-dir`, `ESCUCHA_DATA_DIR`,
/// `$XDG_DATA_HOME/escucha`, `~/.local/share/escucha`; `/var/lib/escucha` for root).
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Escucha's data folder: the embedded PostgreSQL cluster, its socket and the secret key. Default: $ESCUCHA_DATA_DIR, else $XDG_DATA_HOME/escucha or ~/.local/share/escucha (/var/lib/escucha for root).",
            valueName: "path"))
    var dataDirOption: String?

    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "A PostgreSQL connection string or URL. Default: $DATABASE_URL; else libpq's PG* variables when PGHOST, PGHOSTADDR, PGPORT, PGDATABASE or PGSERVICE is set; else the embedded cluster.",
            valueName: "url"))
    var databaseURLOption: String?

    /// Where the database is.
    var location: DatabaseLocation {
        DatabaseLocation.resolve(databaseURL: databaseURLOption, dataDirectory: dataDirOption)
    }

    /// The data folder (also used with an external database, for the secret key).
    var dataDirectory: String { DatabaseLocation.dataFolder(explicit: dataDirOption) }

    /// A pool ready for use: the embedded cluster started if it is the database, and the
    /// migrations applied when `migrate` is true.
    func makePool(size: Int = 4, migrate: Bool = true) async throws -> PostgresPool {
        try await location.openPool(size: size, migrate: migrate)
    }

    /// The contact encryption key: `ESCUCHA_SECRET_KEY`, else `<data>/secret.key` (created
    /// with mode 0600 on first use).
    func secretKey() throws -> String {
        try SecretKey.load(dataDirectory: dataDirectory)
    }
}

/// `escucha db`: the database.
struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Start, stop, inspect and migrate the database.",
        discussion: """
            Without DATABASE_URL (or PGHOST, PGDATABASE… for libpq), Escucha runs its own \
            PostgreSQL cluster in the data folder, reachable only through a Unix socket in \
            <data>/run. As root, the cluster runs as the 'postgres' user.
            """,
        subcommands: [Start.self, Stop.self, Status.self, Migrate.self, Psql.self]
    )

    /// `escucha db start`
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the embedded PostgreSQL cluster (creating it on first use).",
            discussion: "With an external database, checks that it can be reached. Exit status 0 when the database is up.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            switch database.location {
            case .external:
                let pool = try await database.makePool(size: 1, migrate: false)
                let version = try await pool.withConnection { $0.serverVersion }
                await pool.close()
                print("external database reachable (PostgreSQL \(version / 10000)); nothing to start")
            case .embedded(let dataDirectory):
                let status = try await EmbeddedPostgres(dataDirectory: dataDirectory).start()
                printStatus(status)
            }
        }
    }

    /// `escucha db stop`
    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop the embedded PostgreSQL cluster.",
            discussion: "Exit status 0 when it is stopped (or was not running), 2 when the database is external.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard case .embedded(let dataDirectory) = database.location else {
                writeToStandardError("the database is external (DATABASE_URL or PG* variables): Escucha does not stop it")
                throw ExitCode(2)
            }
            try await EmbeddedPostgres(dataDirectory: dataDirectory).stop()
            print("stopped")
        }
    }

    /// `escucha db status`
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show whether the database runs, where, and its migrations.",
            discussion: "Exit status 0 when the database is up, 3 when it is not running or cannot be reached.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let conninfo: String
            switch database.location {
            case .external(let info):
                conninfo = info
                print("database: external (\(info.isEmpty ? "libpq PG* variables" : "connection string"))")
            case .embedded(let dataDirectory):
                let cluster = EmbeddedPostgres(dataDirectory: dataDirectory)
                let status = cluster.status()
                printStatus(status)
                guard status.isRunning else { throw ExitCode(3) }
                conninfo = try cluster.conninfo()
            }
            let pool = PostgresPool(configuration: .init(conninfo: conninfo, size: 1))
            do {
                let version = try await pool.withConnection { $0.serverVersion }
                print("server:       PostgreSQL \(version / 10000).\(version % 10000)")
                let applied = try await Migrator().appliedVersions(pool)
                let known = try Migrator().migrations.map(\.version)
                let pending = known.filter { !applied.contains($0) }
                print("migrations:   \(applied.count) applied, \(pending.count) pending")
                await pool.close()
            } catch let error as StoreError where error.operation == "connecting" {
                await pool.close()
                writeToStandardError("cannot connect: \(error)")
                throw ExitCode(3)
            } catch {
                await pool.close()
                throw error
            }
        }
    }

    /// `escucha db migrate`
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the migrations that are missing (starting the embedded cluster if needed).",
            discussion: "Each migration runs in its own transaction under an advisory lock. An applied migration whose file changed is refused (exit status 1).")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let pool = try await database.makePool(size: 1, migrate: false)
            do {
                let applied = try await Migrator().migrate(pool)
                await pool.close()
                if applied.isEmpty {
                    print("up to date")
                } else {
                    for migration in applied { print("applied \(migration.name)") }
                }
            } catch {
                await pool.close()
                throw error
            }
        }
    }

    /// `escucha db psql`
    struct Psql: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open psql on Escucha's database (starting the embedded cluster if needed).",
            discussion: "Arguments after `--` go to psql, e.g. `escucha db psql -- -c 'SELECT count(*) FROM tickets'`.")

        @OptionGroup var database: DatabaseOptions

        @Argument(parsing: .captureForPassthrough, help: "Arguments passed to psql.")
        var psqlArguments: [String] = []

        func run() async throws {
            var arguments = ["psql"]
            switch database.location {
            case .external(let conninfo):
                if !conninfo.isEmpty { arguments.append(conninfo) }
            case .embedded(let dataDirectory):
                let cluster = EmbeddedPostgres(dataDirectory: dataDirectory)
                try await cluster.start()
                arguments.append(try cluster.conninfo())
            }
            arguments += psqlArguments.first == "--" ? Array(psqlArguments.dropFirst()) : psqlArguments
            let cArguments = arguments.map { strdup($0) } + [nil]
            execvp("psql", cArguments)
            writeToStandardError("cannot run psql: \(String(cString: strerror(errno))); install the postgresql-client package")
            throw ExitCode(127)
        }
    }
}

private func printStatus(_ status: EmbeddedPostgres.Status) {
    print("database:     embedded")
    print("data folder:  \(status.dataDirectory)")
    if !status.isInitialized {
        print("state:        not created yet (`escucha db start` creates it)")
    } else if let pid = status.pid {
        print("state:        running (pid \(pid))")
    } else {
        print("state:        stopped")
    }
    print("socket:       \(status.socketDirectory)")
    if let version = status.version { print("cluster:      PostgreSQL \(version)") }
}

private func writeToStandardError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
