import EscuchaStore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL server integration tests use: `DATABASE_URL` when set, otherwise a
/// throwaway embedded cluster under `/tmp`, started once per test process through the same
/// mechanism as `escucha db start`, and stopped and deleted when the process exits.
public enum TestCluster {
    /// The cluster's data folder (when embedded).
    public static let dataDirectory = temporaryDataDirectory("shared")

    /// A new folder name under /tmp for a throwaway cluster.
    public static func temporaryDataDirectory(_ label: String) -> String {
        "/tmp/escucha-tests-\(getpid())-\(label)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Connection string of the server's maintenance database.
    public static let server: Task<String, any Error> = Task {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty { return url }
        let cluster = EmbeddedPostgres(dataDirectory: dataDirectory)
        registerCleanup(of: cluster)
        _ = try await cluster.start()
        return try cluster.conninfo(database: "postgres")
    }

    /// A pool configuration for a new, empty database of its own.
    public static func freshDatabase(_ label: String, poolSize: Int = 4) async throws -> PostgresPool.Configuration {
        let server = try await server.value
        let name = "escucha_\(label)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = PostgresPool(configuration: .init(conninfo: server, size: 1))
        try await admin.withConnection { connection in
            try connection.execute(unsafeScript: "CREATE DATABASE \"\(name)\"")
        }
        await admin.close()
        return .init(conninfo: server, parameters: [.init("dbname", name)], size: poolSize)
    }

    /// Another pool on the same database as `pool` (a second process, say).
    public static func secondPool(like pool: PostgresPool, size: Int = 2) -> PostgresPool {
        var configuration = pool.configuration
        configuration.size = size
        return PostgresPool(configuration: configuration)
    }

    /// A migrated pool on a fresh database.
    public static func migratedPool(_ label: String, poolSize: Int = 4) async throws -> PostgresPool {
        let pool = PostgresPool(configuration: try await freshDatabase(label, poolSize: poolSize))
        _ = try await Migrator().migrate(pool)
        return pool
    }

    private static let cleanupCommands = Mutex<[String]>([])

    /// Stops `cluster` (immediately) and deletes its folder when the test process exits.
    public static func registerCleanup(of cluster: EmbeddedPostgres) {
        let runAs = geteuid() == 0 ? "runuser -u postgres -- " : ""
        let stop =
            "PATH=\"$PATH:$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)\"; "
            + "cd / && \(runAs)pg_ctl stop -D '\(cluster.clusterDirectory)' -m immediate >/dev/null 2>&1; "
            + "rm -rf '\(cluster.dataDirectory)'"
        cleanupCommands.withLock { $0.append(stop) }
        let all = cleanupCommands.withLock { $0.joined(separator: "; ") }
        if getenv("ESCUCHA_TESTS_CLEANUP") == nil {
            atexit {
                if let command = getenv("ESCUCHA_TESTS_CLEANUP") { _ = system(command) }
            }
        }
        setenv("ESCUCHA_TESTS_CLEANUP", all, 1)
    }
}

/// Paths of the repository and of `shared/` beside it, for tests.
public enum RepositoryLayout {
    /// The repository root, found from this file's location.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `ESCUCHA_SHARED_DIR`, else `../shared` beside the repository.
    public static let shared = ProcessInfo.processInfo.environment["ESCUCHA_SHARED_DIR"]
        ?? root.deletingLastPathComponent().appendingPathComponent("shared").path
    public static var config: String { root.appendingPathComponent("Config").path }
    public static var channels: String { root.appendingPathComponent("Channels").path }
}
