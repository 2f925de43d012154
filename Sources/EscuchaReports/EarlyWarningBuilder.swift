public import EscuchaCore
public import EscuchaStore
import Foundation
import Logging

/// Builds an ``EarlyWarningReport`` from the database: refreshes the daily summary, reads
/// aggregates, runs aberration detection and records alerts.
public struct EarlyWarningBuilder: Sendable {
    /// The database.
    public let pool: PostgresPool
    /// The taxonomy (families, restricted flags).
    public let taxonomy: Taxonomy
    /// Administrative codes of places.
    public let places: PlaceDirectory
    let logger: Logger

    /// Creates a builder.
    public init(pool: PostgresPool, taxonomy: Taxonomy, places: PlaceDirectory = PlaceDirectory(), logger: Logger) {
        self.pool = pool
        self.taxonomy = taxonomy
        self.places = places
        self.logger = logger
    }

    /// The restricted flag codes.
    var restrictedCodes: [String] { taxonomy.flags.filter(\.restricted).map(\.code.rawValue) }

    /// The families a reader sees: the taxonomy's, plus `sensitive` without clearance.
    func families(cleared: Bool) -> [String] { cleared ? taxonomy.families : taxonomy.families + ["sensitive"] }

    /// Builds the report.
    public func build(_ request: EarlyWarningRequest) async throws -> EarlyWarningReport {
        let started = ContinuousClock.now
        let refresh = try await ReportSummary.refresh(pool, restrictedFlags: restrictedCodes)
        logger.debug("report summary refreshed", metadata: ["report.days": "\(refresh.days)", "report.rows": "\(refresh.rows)"])

        let g = request.granularity
        let from = request.from
        let endExclusive = ReportCalendar.adding(days: 1, to: request.to)
        let periodDays = max(1, Int((endExclusive.timeIntervalSince(from) / 86_400).rounded()))
        let periods = max(1, (periodDays + g.days - 1) / g.days)
        let baselineFrom = ReportCalendar.adding(days: -4 * periods * g.days, to: from)
        // Alerts need 11 periods before the first tested one for C3, 28 for the Poisson mean.
        let historyFrom = ReportCalendar.adding(days: -(max(11, request.policy.poissonBaseline) + 1) * g.days, to: from)
        let fromText = ReportCalendar.format(from)
        let endText = ReportCalendar.format(endExclusive)
        let location = request.location
        let familyDimension = request.cleared ? "family" : "family_open"
        let k = request.k

        let locationFilter: SQL = location.map { "AND location = \($0)" } ?? ""
        // One-way totals over the period and over the baseline.
        let baselineText = ReportCalendar.format(baselineFrom)
        let oneWay = try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT dimension, value,
                       sum(tickets) FILTER (WHERE day >= \(fromText)::date)::bigint AS current,
                       sum(tickets) FILTER (WHERE day < \(fromText)::date)::bigint AS baseline
                  FROM report_daily
                 WHERE dimension IN ('all', 'channel', 'type', 'sector', 'language', 'flag', \(familyDimension), 'ack', 'closure',
                                     'first_response_min', 'resolution_min')
                   AND day >= \(baselineText)::date AND day < \(endText)::date \(locationFilter)
                 GROUP BY dimension, value
                """, operation: "reading report volumes")
        }
        var current: [String: [String: Int]] = [:]
        var baseline: [String: [String: Int]] = [:]
        for row in oneWay {
            let dimension = try row.decode("dimension", as: String.self)
            let value = try row.decode("value", as: String.self)
            current[dimension, default: [:]][value] = Int(try row.decode("current", as: Int64?.self) ?? 0)
            baseline[dimension, default: [:]][value] = Int(try row.decode("baseline", as: Int64?.self) ?? 0)
        }
        func lines(_ dimension: String, order: [String]? = nil) -> [EarlyWarningReport.Line] {
            let now = current[dimension] ?? [:]
            let before = baseline[dimension] ?? [:]
            var keys = Set(now.keys).union(before.keys)
            if dimension == "family_open" || dimension == "family" { keys.formUnion(families(cleared: request.cleared)) }
            let sorted: [String] =
                if let order { order.filter(keys.contains) + keys.subtracting(order).sorted() } else {
                    keys.sorted { (now[$0] ?? 0, $1) > (now[$1] ?? 0, $0) }
                }
            return sorted.map { key in
                let count = now[key] ?? 0
                let published = PublishedCount(count, k: k)
                let mean = Double(before[key] ?? 0) / 4
                // The baseline is a mean of 4 periods; shown only when the count is (a mean
                // of small counts is not a small count of people, but it is withheld anyway
                // when the current count is hidden, so the change cannot be used to recover it).
                let show = published.value != nil && mean * 4 >= Double(k)
                return .init(
                    key: key, count: published, baseline: show ? mean : nil,
                    trend: show && mean > 0 ? (Double(count) - mean) / mean * 100 : nil)
            }
        }
        var flagLines = lines("flag", order: taxonomy.flags.map(\.code.rawValue))
        if !request.cleared {
            // Restricted codes are folded into one `sensitive` line.
            let restricted = Set(restrictedCodes)
            flagLines.removeAll { restricted.contains($0.key) }
            if let sensitive = lines("family_open").first(where: { $0.key == "sensitive" }) { flagLines.append(sensitive) }
        }

        // Series per location × family over history + period, in periods.
        let bucket: SQL = g == .week ? "date_trunc('week', day)::date" : "day"
        let historyText = ReportCalendar.format(historyFrom)
        let seriesRows = try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT location, value, (\(bucket))::text AS period, sum(tickets)::bigint AS n
                  FROM report_daily
                 WHERE dimension = \(familyDimension) AND day >= \(historyText)::date AND day < \(endText)::date
                       \(locationFilter)
                 GROUP BY 1, 2, 3
                """, operation: "reading family series")
        }
        let historyPeriods = Int((from.timeIntervalSince(historyFrom) / 86_400).rounded()) / g.days
        let totalPeriods = historyPeriods + periods
        var series: [String: [String: [Int]]] = [:]  // location → family → counts
        for row in seriesRows {
            let loc = try row.decode("location", as: String.self)
            let family = try row.decode("value", as: String.self)
            guard let periodDate = ReportCalendar.parse(try row.decode("period", as: String.self)) else { continue }
            let index = Int((periodDate.timeIntervalSince(historyFrom) / 86_400).rounded()) / g.days
            guard index >= 0 && index < totalPeriods else { continue }
            series[loc, default: [:]][family, default: Array(repeating: 0, count: totalPeriods)][index] += Int(try row.decode("n", as: Int64.self))
        }

        // Family trend (families × periods) and location × family over the period.
        let familyOrder = families(cleared: request.cleared)
        var trendCounts = familyOrder.map { _ in Array(repeating: 0, count: periods) }
        var locationCounts: [String: [Int]] = [:]
        for (loc, byFamily) in series {
            for (family, counts) in byFamily {
                guard let f = familyOrder.firstIndex(of: family) else { continue }
                for p in 0..<periods { trendCounts[f][p] += counts[historyPeriods + p] }
                locationCounts[loc, default: Array(repeating: 0, count: familyOrder.count)][f] +=
                    counts[historyPeriods...].reduce(0, +)
            }
        }
        let periodLabels = (0..<periods).map { ReportCalendar.format(ReportCalendar.adding(days: $0 * g.days, to: from)) }
        let locations = locationCounts.keys.sorted { (locationCounts[$0]!.reduce(0, +), $1) > (locationCounts[$1]!.reduce(0, +), $0) }
        let familyTrend = EarlyWarningReport.Grid(rows: familyOrder, columns: periodLabels, counts: trendCounts, k: k)
        let locationFamily = EarlyWarningReport.Grid(
            rows: locations.map { $0.isEmpty ? "(unknown)" : $0 }, columns: familyOrder,
            counts: locations.map { locationCounts[$0]! }, k: k)

        // Aberration detection and alert records. Alerts are computed on the view without
        // clearance (restricted flags as `sensitive`), so they are the same for every reader.
        var found: [(loc: String, family: String, periodStart: String, result: AberrationResult)] = []
        let alertSeries: [String: [String: [Int]]]
        if request.cleared {
            alertSeries = try await openSeries(historyText: historyText, endText: endText, locationFilter: locationFilter,
                                               bucket: bucket, historyFrom: historyFrom, totalPeriods: totalPeriods, g: g)
        } else {
            alertSeries = series
        }
        for (loc, byFamily) in alertSeries where !loc.isEmpty {
            // Periods before a place's first message are "no data", not zeros: a deployment
            // that started recently must not alarm against the empty weeks before it.
            let started = byFamily.values.compactMap { $0.firstIndex { $0 > 0 } }.min() ?? totalPeriods
            for (family, counts) in byFamily {
                let trimmed = Array(counts[started...])
                let first = max(0, historyPeriods - started)
                guard first < trimmed.count else { continue }
                for result in AberrationDetector.scan(trimmed, in: first..<trimmed.count, policy: request.policy) where result.isAlert {
                    found.append((loc, family, periodLabels[result.index + started - historyPeriods], result))
                }
            }
        }
        let granularity = g.rawValue
        let alertsFound = found
        let alertRecords = try await pool.withTransaction { conn in
            for alert in alertsFound {
                let r = alert.result
                _ = try conn.execute(
                    """
                    INSERT INTO report_alerts (granularity, period_start, location, family, observed, expected,
                                               baseline_mean, baseline_sd, c1, c2, c3, p_value, methods)
                    VALUES (\(granularity), \(alert.periodStart)::date, \(alert.loc), \(alert.family), \(r.observed),
                            \(r.expected), \(r.baselineMean), \(r.baselineSD), \(r.c1), \(r.c2), \(r.c3), \(r.pValue), \(r.methods))
                    ON CONFLICT (granularity, period_start, location, family) DO UPDATE
                       SET observed = excluded.observed, expected = excluded.expected,
                           baseline_mean = excluded.baseline_mean, baseline_sd = excluded.baseline_sd,
                           c1 = excluded.c1, c2 = excluded.c2, c3 = excluded.c3, p_value = excluded.p_value,
                           methods = excluded.methods, updated_at = now()
                    """, operation: "recording an alert")
            }
            return try conn.query(
                """
                SELECT id, period_start::text AS period_start, location, family, observed, expected, baseline_mean,
                       baseline_sd, c1, c2, c3, p_value, methods, status, note,
                       (decided_at IS NOT NULL AND status = 'verified' AND decided_at <= created_at + interval '24 hours') AS verified_24h
                  FROM report_alerts
                 WHERE granularity = \(granularity) AND period_start >= \(fromText)::date AND period_start < \(endText)::date
                       \(locationFilter)
                 ORDER BY period_start DESC, p_value
                """, operation: "reading alerts")
        }
        var alerts: [EarlyWarningReport.Alert] = []
        var verified24 = 0
        for row in alertRecords {
            func finite(_ value: Double?) -> Double? { value.map { $0.isFinite ? $0 : 999 } }
            if try row.decode("verified_24h", as: Bool.self) { verified24 += 1 }
            alerts.append(
                .init(
                    id: try row.decode("id", as: Int64.self), periodStart: try row.decode("period_start", as: String.self),
                    location: try row.decode("location", as: String.self), family: try row.decode("family", as: String.self),
                    observed: PublishedCount(Int(try row.decode("observed", as: Int64.self)), k: k),
                    expected: try row.decode("expected", as: Double.self),
                    baselineMean: try row.decode("baseline_mean", as: Double.self),
                    baselineSD: try row.decode("baseline_sd", as: Double.self),
                    c1: finite(try row.decode("c1", as: Double?.self)), c2: finite(try row.decode("c2", as: Double?.self)),
                    c3: finite(try row.decode("c3", as: Double?.self)), pValue: try row.decode("p_value", as: Double.self),
                    methods: try row.decode("methods", as: [String].self), status: try row.decode("status", as: String.self),
                    note: try row.decode("note", as: String?.self), examples: []))
        }
        if !request.cleared {
            // Families that exist only with clearance are not named to others.
            alerts.removeAll { !familyOrder.contains($0.family) }
        }
        if request.examples {
            alerts = try await addExamples(to: alerts, request: request)
        }

        let phaseStart = ContinuousClock.now
        async let termsResult = emergingTerms(request: request, endExclusive: endExclusive)
        let currentCounts = current
        let alertCount = alerts.count
        let verifiedCount = verified24
        async let accountabilityResult = accountability(
            request: request, fromText: fromText, endText: endText, current: currentCounts, alerts: alertCount,
            verified24: verifiedCount)
        let terms = try await termsResult
        let accountability = try await accountabilityResult
        logger.debug("report terms and accountability read", metadata: ["report.elapsed": "\(ContinuousClock.now - phaseStart)"])

        var codes: [String: PlaceCodes] = [:]
        for loc in locations { if let c = places.codes[loc] { codes[loc] = c } }
        let report = EarlyWarningReport(
            generatedAt: request.now, from: fromText, to: ReportCalendar.format(request.to), granularity: g,
            location: location, k: k, cleared: request.cleared,
            tickets: PublishedCount(current["all"]?[""] ?? 0, k: k),
            byChannel: lines("channel"), byType: lines("type", order: taxonomy.types),
            bySector: lines("sector", order: taxonomy.sectors), byLanguage: lines("language"),
            byFamily: lines(familyDimension, order: familyOrder), byFlag: flagLines,
            familyTrend: familyTrend, locationFamily: locationFamily, alerts: alerts, emergingTerms: terms,
            accountability: accountability, places: codes)
        logger.info(
            "early-warning report built",
            metadata: ["report.alerts": "\(alerts.count)", "report.elapsed": "\(ContinuousClock.now - started)"])
        return report
    }

    /// Series of the view without clearance (for alerts when the reader is cleared).
    private func openSeries(
        historyText: String, endText: String, locationFilter: SQL, bucket: SQL, historyFrom: Date, totalPeriods: Int,
        g: ReportGranularity
    ) async throws -> [String: [String: [Int]]] {
        let rows = try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT location, value, (\(bucket))::text AS period, sum(tickets)::bigint AS n
                  FROM report_daily
                 WHERE dimension = 'family_open' AND day >= \(historyText)::date AND day < \(endText)::date \(locationFilter)
                 GROUP BY 1, 2, 3
                """, operation: "reading family series")
        }
        var series: [String: [String: [Int]]] = [:]
        for row in rows {
            guard let periodDate = ReportCalendar.parse(try row.decode("period", as: String.self)) else { continue }
            let index = Int((periodDate.timeIntervalSince(historyFrom) / 86_400).rounded()) / g.days
            guard index >= 0 && index < totalPeriods else { continue }
            series[try row.decode("location", as: String.self), default: [:]][
                try row.decode("value", as: String.self), default: Array(repeating: 0, count: totalPeriods)][index] +=
                Int(try row.decode("n", as: Int64.self))
        }
        return series
    }

    /// Up to two redacted texts for each of the first alerts (restricted tickets only for
    /// cleared readers; `sensitive` alerts never get examples without clearance).
    private func addExamples(to alerts: [EarlyWarningReport.Alert], request: EarlyWarningRequest) async throws -> [EarlyWarningReport.Alert] {
        var out = alerts
        let restricted = restrictedCodes
        let cleared = request.cleared
        let days = request.granularity.days
        for i in out.indices.prefix(10) where out[i].family != "sensitive" {
            let alert = out[i]
            let texts = try await pool.withConnection { conn in
                try conn.query(
                    """
                    SELECT m.text FROM tickets t JOIN messages m ON m.ticket_id = t.id AND m.direction = 'in'
                     WHERE t.location = \(alert.location)
                       AND t.created_at >= \(alert.periodStart)::date
                       AND t.created_at < \(alert.periodStart)::date + \(days)::int
                       AND EXISTS (SELECT 1 FROM unnest(t.flags) f WHERE split_part(f, '.', 1) = \(alert.family)
                                      AND (\(cleared) OR NOT f = ANY (\(restricted)::text[])))
                       AND (\(cleared) OR NOT t.restricted)
                     ORDER BY t.id LIMIT 2
                    """, operation: "reading example texts")
            }
            out[i].examples = try texts.map { row throws(StoreError) in Redaction.redact(try row.decode("text", as: String.self)) }
        }
        return out
    }

    /// Emerging terms: the last period (7 days at least) against the 28 days before it.
    private func emergingTerms(request: EarlyWarningRequest, endExclusive: Date) async throws -> [EmergingTerm] {
        let window = max(7, request.granularity.days)
        let currentFrom = ReportCalendar.adding(days: -window, to: endExclusive)
        let baselineFrom = ReportCalendar.adding(days: -28, to: currentFrom)
        let cleared = request.cleared
        let location = request.location
        // Restricted tickets are few: leaving them out by an anti-join on their ids is far
        // cheaper than joining every message to its ticket.
        let restrictedFilter: SQL =
            cleared ? "" : "AND NOT EXISTS (SELECT 1 FROM tickets r WHERE r.id = m.ticket_id AND r.restricted)"
        let locationFilter: SQL = location.map { "AND EXISTS (SELECT 1 FROM tickets t WHERE t.id = m.ticket_id AND t.location = \($0))" } ?? ""
        let rows = try await pool.withConnection { conn in
            try conn.query(
                """
                SELECT m.text, m.received_at >= \(currentFrom) AS current
                  FROM messages m
                 WHERE m.direction = 'in' AND m.received_at >= \(baselineFrom) AND m.received_at < \(endExclusive)
                   \(restrictedFilter) \(locationFilter)
                 LIMIT 200000
                """, operation: "reading message texts for emerging terms")
        }
        var current: [Set<String>] = []
        var baseline: [Set<String>] = []
        // Many messages repeat word for word (forwarded rumours, templates): split each once.
        var cache: [String: Set<String>] = [:]
        for row in rows {
            let text = try row.decode("text", as: String.self)
            let terms: Set<String>
            if let known = cache[text] {
                terms = known
            } else {
                terms = EmergingTerms.terms(of: text)
                cache[text] = terms
            }
            if try row.decode("current", as: Bool.self) { current.append(terms) } else { baseline.append(terms) }
        }
        return EmergingTerms.find(current: current, baseline: baseline, k: request.k)
    }

    /// Summary values (bucket lower bounds in minutes, as text) to counts by bucket.
    static func histogram(_ values: [String: Int]?) -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for (key, count) in values ?? [:] { if let lower = Int(key) { counts[lower, default: 0] += count } }
        return counts
    }

    private func accountability(
        request: EarlyWarningRequest, fromText: String, endText: String, current: [String: [String: Int]], alerts: Int,
        verified24: Int
    ) async throws -> EarlyWarningReport.Accountability {
        let k = request.k
        let ack = current["ack"] ?? [:]
        let closure = current["closure"] ?? [:]
        let within = ack["within"] ?? 0
        let late = ack["late"] ?? 0
        let location = request.location
        let now = request.now
        let locationFilter: SQL = location.map { "AND location = \($0)" } ?? ""
        let (medians, overdue) = try await pool.withConnection { conn in
            // Medians come from the summary's histograms; only open tickets are read here.
            let medians = try conn.query(
                """
                SELECT count(*) AS overdue_ack
                  FROM tickets
                 WHERE acknowledged_at IS NULL AND ack_due_at < \(now)
                   AND created_at >= \(fromText)::date AND created_at < \(endText)::date \(locationFilter)
                """, operation: "counting unacknowledged overdue tickets")
            let overdue = try conn.query(
                """
                SELECT coalesce(team, '(none)') AS team, count(*)::bigint AS n FROM tickets
                 WHERE status NOT IN ('resolved', 'closed')
                   AND ((acknowledged_at IS NULL AND ack_due_at < \(now)) OR resolve_due_at < \(now))
                   \(locationFilter)
                 GROUP BY 1 ORDER BY 2 DESC, 1
                """, operation: "counting overdue tickets by team")
            return (medians, overdue)
        }
        let row = medians.first
        let overdueAck = Int(try row?.decode("overdue_ack", as: Int64.self) ?? 0)
        let withMessage = closure["with_message"] ?? 0
        let closedTotal = withMessage + (closure["without_message"] ?? 0)
        let denominator = within + late + overdueAck
        return .init(
            acknowledgedInTime: denominator > 0 ? Double(within) / Double(denominator) : nil,
            acknowledgedWithin: PublishedCount(within, k: k), acknowledgedLate: PublishedCount(late, k: k),
            notAcknowledged: PublishedCount(ack["none"] ?? 0, k: k),
            medianHoursToFirstResponse: DurationHistogram.medianHours(Self.histogram(current["first_response_min"])),
            medianHoursToResolution: DurationHistogram.medianHours(Self.histogram(current["resolution_min"])),
            closedWithMessage: closedTotal > 0 ? Double(withMessage) / Double(closedTotal) : nil,
            overdueByTeam: try overdue.map { r throws(StoreError) in
                EarlyWarningReport.Line(
                    key: try r.decode("team", as: String.self), count: PublishedCount(Int(try r.decode("n", as: Int64.self)), k: k),
                    baseline: nil, trend: nil)
            },
            alertsVerifiedWithin24h: alerts > 0 ? Double(verified24) / Double(alerts) : nil, alertsTotal: alerts)
    }
}

/// Marks alerts verified or discarded.
public enum AlertDecisions {
    /// A manager's decision.
    public enum Decision: String, Sendable { case verified, discarded }

    /// Records `decision` on alert `id` with a note.
    ///
    /// - Throws: ``ReportError/alertNotFound(_:)`` when there is no such alert.
    public static func decide(
        _ pool: PostgresPool, id: Int64, decision: Decision, note: String, by login: String, at: Date = Date()
    ) async throws {
        let status = decision.rawValue
        let updated = try await pool.withConnection { conn in
            try conn.execute(
                """
                UPDATE report_alerts SET status = \(status), note = \(note), decided_by = \(login), decided_at = \(at),
                                         updated_at = now()
                 WHERE id = \(id)
                """, operation: "recording an alert decision")
        }
        if updated == 0 { throw ReportError.alertNotFound(id) }
    }
}

/// Errors of the reports module.
public enum ReportError: Error, Sendable, Equatable, CustomStringConvertible {
    case alertNotFound(Int64)
    case invalidPeriod(String)

    public var description: String {
        switch self {
        case .alertNotFound(let id): "no alert \(id); list alerts with `escucha report early-warning`"
        case .invalidPeriod(let why): "invalid period: \(why)"
        }
    }
}
