import EscuchaStore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL server the server and workflow tests use: `DATABASE_URL` when it is set,
/// otherwise a throwaway embedded cluster under `/tmp`, started once per test process and
/// stopped and deleted when the process exits. Each test gets a fresh, migrated database.
/// (The same approach as the store tests' `TestDatabase`; test targets cannot share code.)
enum ServerTestDatabase {
    /// Connection string of the server's maintenance database.
    static let server: Task<String, any Error> = Task {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty { return url }
        let cluster = EmbeddedPostgres(
            dataDirectory: "/tmp/escucha-server-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        registerCleanup(of: cluster)
        try await cluster.start()
        return try cluster.conninfo(database: "postgres")
    }

    /// A pool on a new database (`escucha_srv_<label>_<random>`) with every migration applied.
    static func freshPool(_ label: String, size: Int = 4) async throws -> PostgresPool {
        let server = try await server.value
        let name = "escucha_srv_\(label)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = PostgresPool(configuration: .init(conninfo: server, size: 1))
        try await admin.withConnection { connection in
            try connection.execute(unsafeScript: "CREATE DATABASE \"\(name)\"")
        }
        await admin.close()
        let pool = PostgresPool(configuration: .init(conninfo: server, parameters: [.init("dbname", name)], size: size))
        try await Migrator().migrate(pool)
        return pool
    }

    /// Another pool on the same database as `pool` (a second worker process, say).
    static func secondPool(like pool: PostgresPool, size: Int = 2) -> PostgresPool {
        var configuration = pool.configuration
        configuration.size = size
        return PostgresPool(configuration: configuration)
    }

    /// Stops the cluster (immediately) and deletes its folder when the test process exits.
    private static func registerCleanup(of cluster: EmbeddedPostgres) {
        let runAs = geteuid() == 0 ? "runuser -u postgres -- " : ""
        let stop =
            "PATH=\"$PATH:$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)\"; "
            + "cd / && \(runAs)pg_ctl stop -D '\(cluster.clusterDirectory)' -m immediate >/dev/null 2>&1; "
            + "rm -rf '\(cluster.dataDirectory)'"
        let variable = "ESCUCHA_SERVER_TEST_CLUSTER_CLEANUP"
        let all = cleanupCommands.withLock { commands in
            commands.append(stop)
            return commands.joined(separator: "; ")
        }
        if getenv(variable) == nil {
            atexit {
                if let command = getenv("ESCUCHA_SERVER_TEST_CLUSTER_CLEANUP") { _ = system(command) }
            }
        }
        setenv(variable, all, 1)
    }

    private static let cleanupCommands = Mutex<[String]>([])
}
