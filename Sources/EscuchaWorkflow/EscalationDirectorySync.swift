public import EscuchaCore
public import EscuchaStore

/// Writes `Config/teams.yaml` into the `teams` and `officers` tables, which row-level
/// security and acknowledgements read. Officers missing from the file are deactivated,
/// never deleted (their history stays attributable).
public enum EscalationDirectorySync {
    /// What a sync changed.
    public struct Summary: Sendable, Hashable {
        /// Teams written.
        public var teams: Int
        /// Officers written.
        public var officers: Int
        /// Officers deactivated because the file no longer lists them.
        public var deactivated: Int
    }

    /// Upserts teams and officers; deactivates officers the directory no longer lists.
    /// - Parameters:
    ///   - directory: `Config/teams.yaml`.
    ///   - connection: a connection in a transaction.
    @discardableResult
    public static func sync(_ directory: EscalationDirectory, on connection: PGConnection) throws -> Summary {
        for team in directory.teams {
            try connection.execute(
                "INSERT INTO teams (id, name) VALUES (\(team.id), \(team.name)) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
                operation: "writing a team")
        }
        for officer in directory.officers {
            try connection.execute(
                """
                INSERT INTO officers (login, name, roles, clearance, team, active)
                VALUES (\(officer.login), \(officer.name), \(officer.roles.map(\.rawValue).sorted()), \(officer.clearance), \(officer.team), \(officer.active))
                ON CONFLICT (login) DO UPDATE
                   SET name = EXCLUDED.name, roles = EXCLUDED.roles, clearance = EXCLUDED.clearance,
                       team = EXCLUDED.team, active = EXCLUDED.active
                """, operation: "writing an officer")
        }
        let deactivated = try connection.execute(
            "UPDATE officers SET active = false WHERE active AND NOT (login = ANY(\(directory.officers.map(\.login))))",
            operation: "deactivating officers no longer listed")
        return Summary(teams: directory.teams.count, officers: directory.officers.count, deactivated: deactivated)
    }
}
