import EscuchaCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster that Escucha runs itself when no database is configured
/// (see ``DatabaseLocation/resolve(databaseURL:dataDirectory:environment:)``).
///
/// Layout under the data folder:
/// - `pg/`: the cluster (`initdb --locale=C -E UTF8 --auth=trust`);
/// - `run/`: the Unix socket, the only way in (`listen_addresses = ''`);
/// - `log/postgres.log`: the server log;
/// - `secret.key`: the contact encryption key when `ESCUCHA_SECRET_KEY` is unset (0600).
///
/// `initdb` and `pg_ctl` are taken from `PATH`, else from the newest
/// `/usr/lib/postgresql/*/bin`. They refuse to run as root, so as root they run as the
/// `postgres` system user (`runuser -u postgres --`, which the `postgresql` package creates):
/// `pg/`, `run/` and `log/` then belong to `postgres`, the data folder stays root's but is
/// made traversable (0711), and the cluster's superuser — the user in ``conninfo`` — is
/// `postgres`. Otherwise everything belongs to, and runs as, the current user.
public struct EmbeddedPostgres: Sendable {
    /// The database Escucha uses in the cluster.
    public static let databaseName = "escucha"
    /// The port number in the socket's name (`.s.PGSQL.5432`); nothing listens on TCP.
    public static let port = 5432

    /// The data folder.
    public let dataDirectory: String
    /// The cluster folder, `<data>/pg`.
    public var clusterDirectory: String { dataDirectory + "/pg" }
    /// The Unix socket folder, `<data>/run`.
    public var socketDirectory: String { dataDirectory + "/run" }
    /// The server log, `<data>/log/postgres.log`.
    public var logFile: String { dataDirectory + "/log/postgres.log" }

    /// A cluster in `dataDirectory` (made absolute).
    public init(dataDirectory: String) {
        let absolute =
            dataDirectory.hasPrefix("/")
            ? dataDirectory : FileManager.default.currentDirectoryPath + "/" + dataDirectory
        self.dataDirectory = URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    /// The default data folder: `$XDG_DATA_HOME/escucha`, else `~/.local/share/escucha`;
    /// for root without `XDG_DATA_HOME`, `/var/lib/escucha` (the `postgres` user that runs
    /// the cluster cannot enter `/root`).
    public static func defaultDataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/escucha" }
        if geteuid() == 0 { return "/var/lib/escucha" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/share/escucha"
    }

    // MARK: Status

    /// What `status` reports.
    public struct Status: Sendable, Equatable {
        /// The data folder.
        public var dataDirectory: String
        /// Whether `initdb` has run.
        public var isInitialized: Bool
        /// Whether the server is running.
        public var isRunning: Bool
        /// The postmaster's process id, when running.
        public var pid: Int32?
        /// The socket folder.
        public var socketDirectory: String
        /// The cluster's major version (`PG_VERSION`), when initialised.
        public var version: String?
    }

    /// The cluster's state, read from `PG_VERSION` and `postmaster.pid` (no subprocess).
    public func status() -> Status {
        let version = try? String(contentsOfFile: clusterDirectory + "/PG_VERSION", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var pid: Int32?
        if let pidFile = try? String(contentsOfFile: clusterDirectory + "/postmaster.pid", encoding: .utf8),
            let first = pidFile.split(separator: "\n").first, let value = Int32(first), value > 0,
            kill(value, 0) == 0 || errno == EPERM
        {
            pid = value
        }
        return Status(
            dataDirectory: dataDirectory, isInitialized: version != nil, isRunning: pid != nil, pid: pid,
            socketDirectory: socketDirectory, version: version)
    }

    // MARK: Connection

    /// The connection string of the `escucha` database (or `database`), for libpq and psql.
    public func conninfo(database: String = EmbeddedPostgres.databaseName) throws -> String {
        let user = try ClusterUser.current().name
        return "host=\(quoteConninfo(socketDirectory)) port=\(Self.port) dbname=\(quoteConninfo(database)) user=\(quoteConninfo(user))"
    }

    // MARK: Lifecycle

    /// Initialises the cluster when needed, starts it unless it runs (`pg_ctl start -w`),
    /// and creates the `escucha` database on first start.
    @discardableResult
    public func start() async throws -> Status {
        let cluster = self
        return try await runDetached("escucha-embedded-pg") { try cluster.startBlocking() }
    }

    /// Stops the server (`pg_ctl stop -m fast`); nothing to do when it is not running.
    public func stop() async throws {
        let cluster = self
        try await runDetached("escucha-embedded-pg") {
            guard cluster.status().isRunning else { return }
            let tools = try PostgresTools.locate()
            let user = try ClusterUser.current()
            try user.run(tools.pgCtl, ["stop", "-w", "-t", "60", "-D", cluster.clusterDirectory, "-m", "fast"])
        }
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every open session is disconnected.
    public func restart() async throws {
        let cluster = self
        try await runDetached("escucha-embedded-pg") {
            let tools = try PostgresTools.locate()
            let user = try ClusterUser.current()
            try cluster.writeSettings(user: user)
            try user.run(
                tools.pgCtl,
                ["restart", "-w", "-t", "60", "-D", cluster.clusterDirectory, "-m", "fast", "-l", cluster.logFile])
        }
    }

    private func startBlocking() throws -> Status {
        let tools = try PostgresTools.locate()
        let user = try ClusterUser.current()
        try prepareDirectories(user: user)
        if !status().isInitialized {
            try user.run(
                tools.initdb,
                ["-D", clusterDirectory, "--locale=C", "-E", "UTF8", "--auth=trust", "--no-instructions"])
            let conf = clusterDirectory + "/postgresql.conf"
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: conf))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("\n# Escucha: socket-only settings, rewritten at every start.\ninclude_if_exists = 'escucha.conf'\n".utf8))
            try handle.close()
        }
        if !status().isRunning {
            try writeSettings(user: user)
            do {
                try user.run(
                    tools.pgCtl, ["start", "-w", "-t", "60", "-D", clusterDirectory, "-l", logFile, "-s"])
            } catch var error as StoreError {
                let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                error.message += "\nlast lines of \(logFile):\n" + log.split(separator: "\n").suffix(8).joined(separator: "\n")
                throw error
            }
        }
        try createDatabaseIfMissing()
        return status()
    }

    private func prepareDirectories(user: ClusterUser) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        // As root, the cluster's user must be able to pass through the data folder.
        chmod(dataDirectory, user.isOtherUser ? 0o711 : 0o700)
        for directory in [clusterDirectory, socketDirectory, dataDirectory + "/log"] {
            if !fm.fileExists(atPath: directory) {
                try fm.createDirectory(atPath: directory, withIntermediateDirectories: false)
                chmod(directory, 0o700)
            }
            if user.isOtherUser { try user.takeOwnership(of: directory) }
        }
        if user.isOtherUser {
            do {
                try user.run("/usr/bin/test", ["-w", socketDirectory])
            } catch {
                throw StoreError(
                    operation: "preparing the embedded database",
                    message: "the '\(user.name)' user cannot reach \(dataDirectory); choose a data folder it can enter (e.g. --data-dir /var/lib/escucha) or make the parent folders traversable")
            }
        }
        let socketPath = socketDirectory + "/.s.PGSQL.\(Self.port)"
        guard socketPath.utf8.count < 108 else {
            throw StoreError(
                operation: "preparing the embedded database",
                message: "the socket path \(socketPath) is longer than Unix sockets allow (107 bytes); choose a shorter data folder")
        }
    }

    /// Writes `<pg>/escucha.conf`: Unix socket in `<data>/run` only, owner-only permissions.
    private func writeSettings(user: ClusterUser) throws {
        let path = clusterDirectory + "/escucha.conf"
        let settings = """
            # Written by Escucha at every start; edit postgresql.conf for other settings.
            listen_addresses = ''
            port = \(Self.port)
            unix_socket_directories = '\(socketDirectory.replacingOccurrences(of: "'", with: "''"))'
            unix_socket_permissions = 0700

            """
        try Data(settings.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        if user.isOtherUser { try user.takeOwnership(of: path) }
    }

    private func createDatabaseIfMissing() throws {
        let connection = try PGConnection(conninfo: try conninfo(database: "postgres"))
        let rows = try connection.query(
            "SELECT 1 FROM pg_database WHERE datname = \(Self.databaseName)", operation: "looking for the database")
        if rows.isEmpty {
            do {
                try connection.execute(
                    unsafeScript: "CREATE DATABASE \(quoteIdentifier(Self.databaseName))",
                    operation: "creating the database")
            } catch {
                // Another process may have created it meanwhile.
                guard error.sqlState == .duplicateDatabase else { throw error }
            }
        }
    }
}

/// `'value'` for a conninfo string, with `\` and `'` escaped.
func quoteConninfo(_ value: String) -> String {
    "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
}

/// Where `initdb` and `pg_ctl` are.
struct PostgresTools {
    var initdb: String
    var pgCtl: String

    static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresTools {
        let fm = FileManager.default
        var candidates = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        if let versions = try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            let sorted = versions.compactMap { name in Double(name).map { (name, $0) } }.sorted { $0.1 > $1.1 }
            candidates += sorted.map { "/usr/lib/postgresql/\($0.0)/bin" }
        }
        for directory in candidates
        where fm.isExecutableFile(atPath: directory + "/initdb") && fm.isExecutableFile(atPath: directory + "/pg_ctl") {
            return PostgresTools(initdb: directory + "/initdb", pgCtl: directory + "/pg_ctl")
        }
        throw StoreError(
            operation: "finding PostgreSQL",
            message: "PostgreSQL is not installed (no initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin): install the `postgresql` package (apt-get install postgresql), or set DATABASE_URL to use an existing server")
    }
}

/// The OS user the cluster runs as: the current user, or `postgres` when running as root.
struct ClusterUser {
    var name: String
    var uid: uid_t
    var gid: gid_t
    /// Whether commands must be run as this user with `runuser` (we are root).
    var isOtherUser: Bool

    static func current() throws -> ClusterUser {
        let euid = geteuid()
        if euid != 0 {
            guard let entry = getpwuid(euid) else {
                throw StoreError(operation: "preparing the embedded database", message: "the current user (uid \(euid)) has no name")
            }
            return ClusterUser(name: String(cString: entry.pointee.pw_name), uid: euid, gid: getegid(), isOtherUser: false)
        }
        guard let entry = getpwnam("postgres") else {
            throw StoreError(
                operation: "preparing the embedded database",
                message: "running as root, but PostgreSQL refuses to run as root and there is no 'postgres' user to run it as; install the `postgresql` package (it creates that user), or run Escucha as an ordinary user")
        }
        return ClusterUser(name: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid, isOtherUser: true)
    }

    func takeOwnership(of path: String) throws {
        guard chown(path, uid, gid) == 0 else {
            throw StoreError(
                operation: "preparing the embedded database",
                message: "cannot give \(path) to the '\(name)' user: \(String(cString: strerror(errno)))")
        }
    }

    /// Runs `executable` (as this user when we are root) and throws with its output when it fails.
    func run(_ executable: String, _ arguments: [String]) throws {
        var argv: [String]
        if isOtherUser {
            if let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            }) {
                argv = [runuser, "-u", name, "--", executable] + arguments
            } else {
                let command = ([executable] + arguments).map(shellQuote).joined(separator: " ")
                argv = ["/bin/su", "-s", "/bin/sh", name, "-c", command]
            }
        } else {
            argv = [executable] + arguments
        }
        let command = URL(fileURLWithPath: executable).lastPathComponent
        // Output goes to a file, not a pipe: a started server must not inherit our pipe.
        let outputPath = NSTemporaryDirectory() + "escucha-pg-\(UUID().uuidString).out"
        defer { unlink(outputPath) }
        let status = try spawnAndWait(argv, outputPath: outputPath, operation: "running \(command)")
        guard status == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw StoreError(
                operation: "running \(command) \(arguments.first ?? "")",
                message: "exit status \(status): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}

/// Running helper programs (initdb, pg_ctl; tmux in the console's tests).
public enum ChildProcess {
    /// Runs `argv` (found on PATH through the shell), with standard output and error
    /// written to `outputPath`, and returns its exit status.
    public static func run(_ argv: [String], outputPath: String) throws -> Int32 {
        try spawnAndWait(argv, outputPath: outputPath, operation: "running \(argv.first ?? "")")
    }
}

/// Runs `argv` with posix_spawn (stdin from /dev/null, stdout and stderr to `outputPath`,
/// working directory `/`, which every user can enter) and waits for it with `waitpid`.
/// Foundation's `Process` is not used: on Linux its exit detection depends on a
/// dispatch source and was seen to leave children unreaped under load.
private func spawnAndWait(_ argv: [String], outputPath: String, operation: String) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // `cd /` through the shell: posix_spawn_file_actions_addchdir_np needs _GNU_SOURCE.
    let argv = ["/bin/sh", "-c", "cd / && exec \"$@\"", "sh"] + argv
    let cArguments = argv.map { strdup($0) } + [nil]
    defer { cArguments.forEach { free($0) } }
    // Threads of this process block signals (SIGALRM, SIGTERM, …) and posix_spawn passes the
    // mask on: pgbench's -T timer then never fires and `kill` cannot stop a child. Start
    // children with no blocked signals and default handlers.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGALRM, SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid = pid_t()
    let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, cArguments, environ)
    guard spawned == 0 else {
        throw StoreError(operation: operation, message: "cannot start \(argv[4]): \(String(cString: strerror(spawned)))")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else {
            throw StoreError(operation: operation, message: "waiting for \(argv[4]): \(String(cString: strerror(errno)))")
        }
    }
    // WIFEXITED / WEXITSTATUS are macros Swift does not import.
    if status & 0x7f == 0 { return (status >> 8) & 0xff }
    return 128 + (status & 0x7f)
}

private func shellQuote(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// The contact encryption key (see `ContactProtector`).
public enum SecretKey {
    /// `ESCUCHA_SECRET_KEY` when set; otherwise the key in `<dataDirectory>/secret.key`,
    /// generated (32 random bytes, base64, mode 0600) when the file does not exist yet.
    public static func load(
        dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> String {
        if let key = environment["ESCUCHA_SECRET_KEY"], !key.trimmingCharacters(in: .whitespaces).isEmpty {
            return key
        }
        let path = dataDirectory + "/secret.key"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            return existing.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let key = ContactProtector.generateEncodedSecret()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd < 0 {
            if errno == EEXIST, let existing = try? String(contentsOfFile: path, encoding: .utf8) {
                return existing.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            throw StoreError(
                operation: "creating \(path)", message: "cannot create the key file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array((key + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw StoreError(
                operation: "writing \(path)", message: "cannot write the key file: \(String(cString: strerror(errno)))")
        }
        return key
    }
}

/// Where the database is: an existing server, or the embedded cluster.
public enum DatabaseLocation: Sendable, Equatable {
    /// A server reached through libpq: a connection string or URL, or `""` for libpq's
    /// defaults (`PG*` variables, service file, `.pgpass`).
    case external(conninfo: String)
    /// Escucha's own cluster in this data folder.
    case embedded(dataDirectory: String)

    /// The variables that, when set, mean "a server is configured, use libpq's defaults".
    public static let libpqVariables = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE"]

    /// Decides where the database is. The rule, first match wins:
    /// 1. `databaseURL` (from `--database-url`) when not empty;
    /// 2. `DATABASE_URL` when not empty (used as the libpq connection string or URL);
    /// 3. any of `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGDATABASE`, `PGSERVICE` set: libpq's
    ///    defaults (so `.pgpass`, `sslmode`, service files behave as usual);
    /// 4. otherwise the embedded cluster in `dataDirectory` (from `--data-dir`), else
    ///    `ESCUCHA_DATA_DIR`, else ``EmbeddedPostgres/defaultDataDirectory(environment:)``.
    public static func resolve(
        databaseURL: String? = nil, dataDirectory: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> DatabaseLocation {
        if let databaseURL, !databaseURL.isEmpty { return .external(conninfo: databaseURL) }
        if let url = environment["DATABASE_URL"], !url.isEmpty { return .external(conninfo: url) }
        if libpqVariables.contains(where: { !(environment[$0] ?? "").isEmpty }) { return .external(conninfo: "") }
        return .embedded(dataDirectory: dataFolder(explicit: dataDirectory, environment: environment))
    }

    /// The data folder (`--data-dir`, else `ESCUCHA_DATA_DIR`, else the default), which
    /// also holds the secret key when the database is external.
    public static func dataFolder(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment["ESCUCHA_DATA_DIR"], !fromEnvironment.isEmpty { return fromEnvironment }
        return EmbeddedPostgres.defaultDataDirectory(environment: environment)
    }

    /// The connection string: the external one, or the embedded cluster's.
    public func conninfo() throws -> String {
        switch self {
        case .external(let conninfo): conninfo
        case .embedded(let dataDirectory): try EmbeddedPostgres(dataDirectory: dataDirectory).conninfo()
        }
    }

    /// A pool ready for use: the embedded cluster started when it is the location, and the
    /// migrations applied when `migrate` is true.
    public func openPool(size: Int = 4, migrate: Bool = true) async throws -> PostgresPool {
        if case .embedded(let dataDirectory) = self {
            try await EmbeddedPostgres(dataDirectory: dataDirectory).start()
        }
        let pool = PostgresPool(configuration: .init(conninfo: try conninfo(), size: size))
        if migrate {
            do {
                try await Migrator().migrate(pool)
            } catch {
                await pool.close()
                throw error
            }
        }
        return pool
    }
}
