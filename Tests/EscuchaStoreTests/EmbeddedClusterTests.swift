import EscuchaTestSupport
import EscuchaStore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A cluster of its own (it is stopped and restarted here), shared by the tests of this
/// suite, which therefore run one after the other.
@Suite(.serialized) struct EmbeddedClusterTests {
    static let cluster: EmbeddedPostgres = {
        let cluster = EmbeddedPostgres(dataDirectory: TestCluster.temporaryDataDirectory("embedded"))
        TestCluster.registerCleanup(of: cluster)
        return cluster
    }()

    @Test func startsStopsAndRestartsWithItsData() async throws {
        let cluster = Self.cluster
        #expect(!cluster.status().isInitialized)
        let started = try await cluster.start()
        #expect(started.isRunning)
        #expect(started.isInitialized)
        #expect(started.pid != nil)
        #expect(started.version.map { Int($0) != nil } == true)
        #expect(FileManager.default.fileExists(atPath: cluster.socketDirectory + "/.s.PGSQL.5432"))
        // Starting again is a no-op.
        #expect(try await cluster.start().pid == started.pid)

        let conninfo = try cluster.conninfo()
        #expect(conninfo.contains("dbname='escucha'"))
        let pool = PostgresPool(configuration: .init(conninfo: conninfo, size: 1))
        try await pool.withConnection { conn in
            try conn.execute("CREATE TABLE kept (note text)")
            try conn.execute("INSERT INTO kept VALUES (\("survives a restart"))")
        }
        // Socket only: no TCP listener.
        let listen = try await pool.withConnection {
            try $0.query("SHOW listen_addresses")[0].decode(0, as: String.self)
        }
        #expect(listen == "")
        await pool.close()

        try await cluster.stop()
        #expect(!cluster.status().isRunning)
        try await cluster.stop()  // idempotent

        try await cluster.start()
        let again = PostgresPool(configuration: .init(conninfo: conninfo, size: 1))
        let note = try await again.withConnection {
            try $0.query("SELECT note FROM kept")[0].decode("note", as: String.self)
        }
        await again.close()
        #expect(note == "survives a restart")
    }

    @Test func thePoolReconnectsAfterTheServerRestarts() async throws {
        let cluster = Self.cluster
        try await cluster.start()
        let pool = PostgresPool(configuration: .init(conninfo: try cluster.conninfo(), size: 2))
        let before = try await pool.withConnection { $0.backendPID }
        try await cluster.restart()
        #expect(cluster.status().isRunning)
        // The old sessions were terminated; the pool notices before lending and reconnects.
        for _ in 0..<4 {
            let value = try await pool.withConnection { try $0.query("SELECT 1 AS one")[0].decode("one", as: Int.self) }
            #expect(value == 1)
        }
        let after = try await pool.withConnection { $0.backendPID }
        #expect(after != before)
        await pool.close()
    }

    @Test func theSecretKeyIsGeneratedOnceWithOwnerOnlyMode() throws {
        let directory = Self.cluster.dataDirectory
        let key = try SecretKey.load(dataDirectory: directory, environment: [:])
        #expect(try SecretKey.load(dataDirectory: directory, environment: [:]) == key)
        #expect(Data(base64Encoded: key)?.count == 32)
        var info = stat()
        #expect(stat(directory + "/secret.key", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try SecretKey.load(dataDirectory: directory, environment: ["ESCUCHA_SECRET_KEY": "from-env"]) == "from-env")
    }

    @Test func openPoolStartsTheClusterAndMigrates() async throws {
        let directory = Self.cluster.dataDirectory
        let pool = try await DatabaseLocation.embedded(dataDirectory: directory).openPool(size: 2)
        let versions = try await Migrator().appliedVersions(pool)
        #expect(versions == (try Migrator().migrations.map(\.version)))
        await pool.close()
    }
}
