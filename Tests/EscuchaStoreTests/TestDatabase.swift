import EscuchaStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL server the store tests use: `DATABASE_URL` when it is set, otherwise a
/// throwaway embedded cluster under `/tmp`, started once per test process and stopped and
/// deleted when the process exits. Each suite gets a fresh database of its own.
enum TestDatabase {
    /// Connection string of the server's maintenance database.
    static let server: Task<String, any Error> = Task {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty { return url }
        let cluster = EmbeddedPostgres(dataDirectory: temporaryDataDirectory("shared"))
        registerCleanup(of: cluster)
        try await cluster.start()
        return try cluster.conninfo(database: "postgres")
    }

    /// A pool configuration for a new, empty database (named `escucha_test_<label>_<random>`).
    static func fresh(_ label: String, poolSize: Int = 4) async throws -> PostgresPool.Configuration {
        let server = try await server.value
        let name = "escucha_test_\(label)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = PostgresPool(configuration: .init(conninfo: server, size: 1))
        try await admin.withConnection { connection in
            try connection.execute(unsafeScript: "CREATE DATABASE \"\(name)\"")
        }
        await admin.close()
        return .init(conninfo: server, parameters: [.init("dbname", name)], size: poolSize)
    }

    /// A new folder name under /tmp for a throwaway cluster.
    static func temporaryDataDirectory(_ label: String) -> String {
        "/tmp/escucha-test-\(getpid())-\(label)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Stops the cluster (immediately) and deletes its folder when the test process exits.
    static func registerCleanup(of cluster: EmbeddedPostgres) {
        let runAs = geteuid() == 0 ? "runuser -u postgres -- " : ""
        let stop =
            "PATH=\"$PATH:$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)\"; "
            + "cd / && \(runAs)pg_ctl stop -D '\(cluster.clusterDirectory)' -m immediate >/dev/null 2>&1; "
            + "rm -rf '\(cluster.dataDirectory)'"
        cleanupCommands.withLock { $0.append(stop) }
        let variable = "ESCUCHA_TEST_CLUSTER_CLEANUP"
        let all = cleanupCommands.withLock { $0.joined(separator: "; ") }
        if getenv(variable) == nil {
            atexit {
                if let command = getenv("ESCUCHA_TEST_CLUSTER_CLEANUP") { _ = system(command) }
            }
        }
        setenv(variable, all, 1)
    }

    private static let cleanupCommands = Mutex<[String]>([])
}

import Synchronization

/// What `withTimeout` throws when the time is up.
struct TimedOut: Error {}

/// Runs `operation`, failing with ``TimedOut`` after `seconds`.
func withTimeout<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut()
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}
