public import EscuchaStore
import Foundation

/// Keeps `report_daily` (the per-day summary the reports read) up to date.
///
/// Triggers on `tickets` record the creation day of every inserted, updated or deleted
/// ticket in `report_dirty_days`; a refresh takes those days and recomputes them from
/// `tickets` in one transaction. A writer that commits meanwhile leaves its day marked for
/// the next refresh.
public enum ReportSummary {
    /// SQL for the histogram bucket of a duration, as the lower bound in minutes (see
    /// `DurationHistogram`): 5-minute buckets below 2 hours, hours below 2 days, days below
    /// 60 days, then one open bucket. Medians then come from the summary, not from a sort of
    /// every ticket of the period.
    static func durationBucket(_ interval: String) -> SQL {
        let seconds = "greatest(extract(epoch FROM \(interval)), 0)"
        return SQL(unsafeSQL: """
            (CASE WHEN \(seconds) < 7200 THEN floor(\(seconds) / 300) * 5
                  WHEN \(seconds) < 172800 THEN floor(\(seconds) / 3600) * 60
                  WHEN \(seconds) < 5184000 THEN floor(\(seconds) / 86400) * 1440
                  ELSE 86400 END)::bigint::text
            """)
    }

    /// The advisory lock that serialises refreshes.
    static let lockKey: Int64 = 0x4573_6375_6368_6104  // "Escuch" + report

    /// What a refresh did.
    public struct Outcome: Sendable, Equatable {
        /// Days recomputed.
        public var days: Int
        /// Summary rows written.
        public var rows: Int
    }

    /// Recomputes the days touched since the last refresh.
    ///
    /// - Parameters:
    ///   - pool: the database.
    ///   - restrictedFlags: the restricted flag codes of the taxonomy (folded into
    ///     `sensitive` in the `family_open` dimension).
    @discardableResult
    public static func refresh(_ pool: PostgresPool, restrictedFlags: [String]) async throws -> Outcome {
        try await pool.withTransaction { conn in
            // One refresher at a time; a second one waits and then finds little to do.
            _ = try conn.query(
                "SELECT pg_advisory_xact_lock(\(Self.lockKey))", operation: "locking the report summary")
            let days = try conn.query(
                "DELETE FROM report_dirty_days RETURNING day::text AS day", operation: "taking the days to summarise")
            var dayList: [String] = []
            for row in days { dayList.append(try row.decode("day", as: String.self)) }
            guard !dayList.isEmpty else { return Outcome(days: 0, rows: 0) }
            _ = try conn.execute(
                "DELETE FROM report_daily WHERE day IN (SELECT unnest(\(dayList)::date[]))", operation: "clearing summary days")
            let rows = try conn.execute(
                """
                WITH days AS MATERIALIZED (SELECT unnest(\(dayList)::date[]) AS day),
                t AS MATERIALIZED (
                    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, coalesce(location, '') AS location,
                           channel_id, type, language, flags, sectors, acknowledged_at, ack_due_at,
                           status, resolved_at, closed_at, id, created_at, first_response_at
                      FROM tickets
                     WHERE created_at >= (SELECT min(day) FROM days)::timestamp AT TIME ZONE 'UTC'
                       AND created_at < ((SELECT max(day) FROM days) + 1)::timestamp AT TIME ZONE 'UTC'
                       AND (created_at AT TIME ZONE 'UTC')::date IN (SELECT day FROM days)
                )
                INSERT INTO report_daily (day, location, dimension, value, tickets)
                SELECT day, location, dimension, value, count(*)::int FROM (
                    SELECT day, location, 'all' AS dimension, '' AS value FROM t
                    UNION ALL SELECT day, location, 'channel', coalesce(channel_id, 'unknown') FROM t
                    UNION ALL SELECT day, location, 'type', coalesce(type, 'unclassified') FROM t
                    UNION ALL SELECT day, location, 'language', coalesce(language, 'unknown') FROM t
                    UNION ALL SELECT day, location, 'sector', s FROM t, unnest(t.sectors) s
                    UNION ALL SELECT day, location, 'flag', f FROM t, unnest(t.flags) f
                    UNION ALL SELECT day, location, 'family', fam FROM t,
                        LATERAL (SELECT DISTINCT split_part(f, '.', 1) AS fam FROM unnest(t.flags) f) x
                    UNION ALL SELECT day, location, 'family_open', fam FROM t,
                        LATERAL (SELECT DISTINCT CASE WHEN f = ANY (\(restrictedFlags)::text[]) THEN 'sensitive'
                                                      ELSE split_part(f, '.', 1) END AS fam
                                   FROM unnest(t.flags) f) x
                    UNION ALL SELECT day, location, 'ack',
                        CASE WHEN acknowledged_at IS NULL THEN 'none'
                             WHEN ack_due_at IS NULL THEN 'no_deadline'
                             WHEN acknowledged_at <= ack_due_at THEN 'within' ELSE 'late' END FROM t
                    UNION ALL SELECT day, location, 'first_response_min', \(Self.durationBucket("first_response_at - created_at"))
                      FROM t WHERE first_response_at IS NOT NULL
                    UNION ALL SELECT day, location, 'resolution_min', \(Self.durationBucket("resolved_at - created_at"))
                      FROM t WHERE resolved_at IS NOT NULL
                    UNION ALL SELECT day, location, 'closure',
                        CASE WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.ticket_id = t.id
                                             AND o.payload ->> 'template' = 'resolution')
                             THEN 'with_message' ELSE 'without_message' END
                      FROM t WHERE t.status IN ('resolved', 'closed') OR t.resolved_at IS NOT NULL OR t.closed_at IS NOT NULL
                ) d
                GROUP BY day, location, dimension, value
                """, operation: "summarising tickets by day")
            return Outcome(days: dayList.count, rows: rows)
        }
    }
}
