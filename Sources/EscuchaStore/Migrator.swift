import Foundation

/// One numbered SQL migration, e.g. `0001_initial_schema.sql`.
public struct Migration: Sendable, Hashable {
    /// The number at the start of the file name.
    public let version: Int
    /// The file name.
    public let name: String
    /// The SQL text (may hold several statements).
    public let sql: String

    /// Creates a migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The migrations shipped with Escucha (`Sources/EscuchaStore/Migrations`).
    public static func bundled() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw StoreError(operation: "loading migrations", message: "the Migrations resource folder is missing")
        }
        return try load(from: directory)
    }

    /// The `NNNN_name.sql` files of `directory`, ordered by number.
    public static func load(from directory: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        var migrations: [Migration] = []
        for name in names where name.hasSuffix(".sql") {
            let digits = name.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let version = Int(digits), name.dropFirst(digits.count).first == "_" else {
                throw StoreError(
                    operation: "loading migrations",
                    message: "\(name): migration files are named NNNN_description.sql")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            migrations.append(Migration(version: version, name: name, sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw StoreError(
                operation: "loading migrations", message: "\(a.name) and \(b.name) have the same number \(a.version)")
        }
        return migrations
    }
}

/// Applies migrations in order, each in its own transaction, recording them in
/// `schema_migrations (version, name, checksum, applied_at)` with the SHA-256 of the file.
///
/// A session-level advisory lock serialises concurrent migrators (several processes
/// starting at once). Running again applies nothing; a migration whose file changed after
/// it was applied is refused, naming the file, before anything new is applied.
public struct Migrator: Sendable {
    /// The advisory lock key (`pg_advisory_lock`), shared by every Escucha process.
    public static let advisoryLockKey: Int64 = 0x4573_6375_6368_6101  // "Escucha" + 1

    /// The migrations to apply.
    public let migrations: [Migration]

    /// A migrator for `migrations` (default: the bundled ones).
    public init(migrations: [Migration]) { self.migrations = migrations }

    /// A migrator for the bundled migrations.
    public init() throws { self.init(migrations: try Migration.bundled()) }

    /// Applies what is missing on a connection of `pool`; returns the migrations applied now.
    @discardableResult
    public func migrate(_ pool: PostgresPool) async throws -> [Migration] {
        try await pool.withConnection { try self.migrate(on: $0) }
    }

    /// Applies what is missing on `connection`; returns the migrations applied now.
    @discardableResult
    public func migrate(on connection: PGConnection) throws -> [Migration] {
        try connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", operation: "taking the migration lock")
        defer {
            _ = try? connection.query(
                "SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", operation: "releasing the migration lock")
        }
        try connection.execute(
            unsafeScript: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,          -- SHA-256 of the file, hex
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, operation: "creating schema_migrations")
        let applied = try appliedChecksums(on: connection)
        var pending: [(Migration, String)] = []
        for migration in migrations {
            let checksum = try Self.checksum(of: migration, on: connection)
            if let recorded = applied[migration.version] {
                guard recorded.checksum == checksum else {
                    throw StoreError(
                        operation: "checking migration \(migration.name)",
                        message: "\(migration.name) was changed after it was applied (recorded as \(recorded.name), checksum \(recorded.checksum.prefix(12))…, file now \(checksum.prefix(12))…); restore the file and put the change in a new migration")
                }
            } else {
                pending.append((migration, checksum))
            }
        }
        for (migration, checksum) in pending {
            do {
                try connection.transaction {
                    try connection.execute(unsafeScript: migration.sql, operation: "applying migration \(migration.name)")
                    try connection.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(checksum))",
                        operation: "recording migration \(migration.name)")
                }
            } catch var error as StoreError {
                if !error.operation.contains(migration.name) { error.operation += " (migration \(migration.name))" }
                throw error
            }
        }
        return pending.map(\.0)
    }

    /// Versions recorded in `schema_migrations` (empty when the table does not exist yet).
    public func appliedVersions(_ pool: PostgresPool) async throws -> [Int] {
        try await pool.withConnection { connection in
            let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
            guard try exists[0].decode("present", as: Bool.self) else { return [] }
            return try appliedChecksums(on: connection).keys.sorted()
        }
    }

    private func appliedChecksums(on connection: PGConnection) throws -> [Int: (name: String, checksum: String)] {
        var applied: [Int: (name: String, checksum: String)] = [:]
        for row in try connection.query(
            "SELECT version, name, checksum FROM schema_migrations", operation: "reading schema_migrations")
        {
            applied[try row.decode("version")] = (try row.decode("name"), try row.decode("checksum"))
        }
        return applied
    }

    /// SHA-256 of the file's bytes, hex, computed by the server (`sha256(bytea)`).
    static func checksum(of migration: Migration, on connection: PGConnection) throws -> String {
        let rows = try connection.query(
            "SELECT encode(sha256(\(Data(migration.sql.utf8))), 'hex') AS checksum",
            operation: "computing checksum of \(migration.name)")
        return try rows[0].decode("checksum")
    }
}
