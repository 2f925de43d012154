import EscuchaTestSupport
import EscuchaStore
import Foundation
import Testing

/// Migrations against a fresh database each.
@Suite struct MigrationTests {
    func freshPool(_ label: String) async throws -> PostgresPool {
        PostgresPool(configuration: try await TestCluster.freshDatabase(label, poolSize: 2))
    }

    @Test func bundledMigrationsApplyOnceAndCreateTheSchema() async throws {
        let pool = try await freshPool("migrate")
        let migrator = try Migrator()
        #expect(migrator.migrations.first?.name == "0001_initial_schema.sql")
        let first = try await migrator.migrate(pool)
        #expect(first.map(\.version) == migrator.migrations.map(\.version))
        let second = try await migrator.migrate(pool)
        #expect(second.isEmpty)
        #expect(try await migrator.appliedVersions(pool) == migrator.migrations.map(\.version))

        let tables = try await pool.withConnection { conn in
            try conn.query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).map { try $0.decode("tablename", as: String.self) }
        }
        for table in [
            "classifications", "contacts", "escalations", "inbound", "messages", "officers", "outbox",
            "schema_migrations", "teams", "ticket_events", "tickets",
        ] {
            #expect(tables.contains(table), "\(table)")
        }
        let checksum = try await pool.withConnection { conn in
            try conn.query("SELECT checksum FROM schema_migrations WHERE version = 1")[0].decode("checksum", as: String.self)
        }
        #expect(checksum.count == 64)
        await pool.close()
    }

    @Test func theAuditLogIsAppendOnlyAndTheSchemaChecksValues() async throws {
        let pool = try await freshPool("audit")
        try await Migrator().migrate(pool)
        let ticketID = try await pool.withTransaction { conn in
            let id = try conn.query(
                "INSERT INTO tickets (reference, severity, flags) VALUES (\("7KQ2XM"), 'high', \(["discrimination.service_denial"])) RETURNING id"
            )[0].decode("id", as: Int.self)
            try conn.execute(
                "INSERT INTO ticket_events (ticket_id, actor, interface, action, details) VALUES (\(id), 'system', 'worker', 'created', \(JSON(#"{"x":1}"#)))")
            return id
        }
        let update = await #expect(throws: StoreError.self) {
            try await pool.withConnection { try $0.execute("UPDATE ticket_events SET actor = 'someone' WHERE ticket_id = \(ticketID)") }
        }
        #expect(update?.sqlState == .raiseException)
        let delete = await #expect(throws: StoreError.self) {
            try await pool.withConnection { try $0.execute("DELETE FROM ticket_events") }
        }
        #expect(delete?.sqlState == .raiseException)
        await #expect(throws: StoreError.self) {
            try await pool.withConnection { try $0.execute("TRUNCATE ticket_events") }
        }
        // A reference that is not Crockford base32 is refused.
        let badReference = await #expect(throws: StoreError.self) {
            try await pool.withConnection { try $0.execute("INSERT INTO tickets (reference) VALUES ('ABCDEI')") }
        }
        #expect(badReference?.sqlState == .checkViolation)
        let rank = try await pool.withConnection {
            try $0.query("SELECT severity_rank FROM tickets WHERE id = \(ticketID)")[0].decode("severity_rank", as: Int.self)
        }
        #expect(rank == 2)
        await pool.close()
    }

    @Test func anEditedAppliedMigrationIsRefusedByName() async throws {
        let pool = try await freshPool("checksum")
        let original = [
            Migration(version: 1, name: "0001_first.sql", sql: "CREATE TABLE first (id int);"),
            Migration(version: 2, name: "0002_second.sql", sql: "CREATE TABLE second (id int);"),
        ]
        try await Migrator(migrations: original).migrate(pool)
        let edited = [
            Migration(version: 1, name: "0001_first.sql", sql: "CREATE TABLE first (id bigint);"),
            original[1],
            Migration(version: 3, name: "0003_third.sql", sql: "CREATE TABLE third (id int);"),
        ]
        let error = await #expect(throws: StoreError.self) { try await Migrator(migrations: edited).migrate(pool) }
        #expect(error?.description.contains("0001_first.sql") == true)
        #expect(error?.description.contains("changed after it was applied") == true)
        // Nothing new was applied.
        let third = try await pool.withConnection {
            try $0.query("SELECT to_regclass('third') IS NULL AS missing")[0].decode("missing", as: Bool.self)
        }
        #expect(third)
        await pool.close()
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        let pool = try await freshPool("failing")
        let migrations = [
            Migration(version: 1, name: "0001_ok.sql", sql: "CREATE TABLE ok (id int);"),
            Migration(version: 2, name: "0002_broken.sql", sql: "CREATE TABLE half (id int); SELECT * FROM nowhere;"),
        ]
        let error = await #expect(throws: StoreError.self) { try await Migrator(migrations: migrations).migrate(pool) }
        #expect(error?.operation.contains("0002_broken.sql") == true)
        let state = try await pool.withConnection { conn in
            let row = try conn.query(
                "SELECT to_regclass('ok') IS NOT NULL AS ok, to_regclass('half') IS NOT NULL AS half, (SELECT count(*) FROM schema_migrations) AS n"
            )[0]
            return (try row.decode("ok", as: Bool.self), try row.decode("half", as: Bool.self), try row.decode("n", as: Int.self))
        }
        #expect(state == (true, false, 1))
        await pool.close()
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        let configuration = try await TestCluster.freshDatabase("concurrent", poolSize: 1)
        let applied = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let pool = PostgresPool(configuration: configuration)
                    let applied = try await Migrator().migrate(pool)
                    await pool.close()
                    return applied.count
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        let total = try Migrator().migrations.count
        #expect(applied.sorted() == [0, 0, total])
    }
}
