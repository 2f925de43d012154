public import EscuchaCore
public import Foundation

/// How counts are grouped in time.
public enum ReportGranularity: String, Sendable, Codable, CaseIterable {
    case day, week

    /// Days in one period.
    public var days: Int { self == .day ? 1 : 7 }
}

/// What a report covers and who reads it.
public struct EarlyWarningRequest: Sendable {
    /// First day (UTC) of the period, inclusive.
    public var from: Date
    /// Last day (UTC) of the period, inclusive.
    public var to: Date
    /// Day or week periods (alerts are computed on the same periods).
    public var granularity: ReportGranularity
    /// Only this place (gazetteer name), or every place.
    public var location: String?
    /// Disclosure threshold: counts 1 … k − 1 are shown as `<k`.
    public var k: Int
    /// Quote redacted example texts for alerts.
    public var examples: Bool
    /// The reader has clearance for restricted flags (otherwise they are folded into one
    /// `sensitive` line).
    public var cleared: Bool
    /// When an aberration is an alert.
    public var policy: AlertPolicy
    /// The reference time (for overdue tickets).
    public var now: Date

    /// Creates a request; `from`/`to` are truncated to their UTC day (and to Monday with
    /// weeks).
    public init(
        from: Date, to: Date, granularity: ReportGranularity = .week, location: String? = nil, k: Int = Disclosure.defaultK,
        examples: Bool = false, cleared: Bool = false, policy: AlertPolicy = AlertPolicy(), now: Date = Date()
    ) {
        self.granularity = granularity
        self.from = ReportCalendar.periodStart(of: from, granularity)
        self.to = ReportCalendar.startOfDay(to)
        self.location = location
        self.k = k
        self.examples = examples
        self.cleared = cleared
        self.policy = policy
        self.now = now
    }
}

/// A count as published: the value, or hidden as `<k`.
public struct PublishedCount: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The count when shown; `nil` when suppressed.
    public var value: Int?
    /// The text shown: the count or `<k`.
    public var text: String

    /// A count that has no totals to protect.
    public init(_ count: Int, k: Int) {
        value = Disclosure.isSensitive(count, k: k) ? nil : count
        text = Disclosure.text(count, k: k)
    }

    /// A cell of a suppressed table.
    public init(value: Int?, text: String) {
        self.value = value
        self.text = text
    }

    public var description: String { text }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value { try container.encode(value) } else { try container.encode(text) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self.init(value: value, text: String(value))
        } else {
            let text = try container.decode(String.self)
            self.init(value: nil, text: text)
        }
    }
}

/// The early-warning summary for managers.
public struct EarlyWarningReport: Sendable, Codable {
    /// One line of a one-way table (channel, type, sector, language, flag…).
    public struct Line: Sendable, Codable, Equatable {
        public var key: String
        public var count: PublishedCount
        /// Mean per period over the baseline (the 4 periods of equal length before), when
        /// both it and the count may be shown.
        public var baseline: Double?
        /// Percentage change against the baseline.
        public var trend: Double?
    }

    /// A two-way table with totals after secondary suppression.
    public struct Grid: Sendable, Codable, Equatable {
        public var rows: [String]
        public var columns: [String]
        public var cells: [[PublishedCount]]
        public var rowTotals: [PublishedCount]
        public var columnTotals: [PublishedCount]
        public var total: PublishedCount
        /// Raw counts, for charts' colour scales only (never printed); zero where hidden.
        public var shade: [[Int]]

        init(rows: [String], columns: [String], counts: [[Int]], k: Int) {
            let table = SuppressedTable(cells: counts, k: k)
            self.rows = rows
            self.columns = columns
            cells = rows.indices.map { r in
                columns.indices.map { c in PublishedCount(value: table.published(row: r, column: c), text: table.text(row: r, column: c)) }
            }
            rowTotals = rows.indices.map { PublishedCount(value: table.rowTotalHidden[$0] ? nil : table.rowTotals[$0], text: table.rowTotalText($0)) }
            columnTotals = columns.indices.map {
                PublishedCount(value: table.columnTotalHidden[$0] ? nil : table.columnTotals[$0], text: table.columnTotalText($0))
            }
            total = PublishedCount(value: table.grandTotalHidden ? nil : table.grandTotal, text: table.grandTotalText)
            shade = rows.indices.map { r in columns.indices.map { c in table.published(row: r, column: c) ?? 0 } }
        }
    }

    /// An alert with its statistics.
    public struct Alert: Sendable, Codable, Equatable {
        public var id: Int64
        public var periodStart: String
        public var location: String
        public var family: String
        public var observed: PublishedCount
        public var expected: Double
        public var baselineMean: Double
        public var baselineSD: Double
        /// `nil` when too little history; `Double.infinity` is written as 999.
        public var c1: Double?
        public var c2: Double?
        public var c3: Double?
        public var pValue: Double
        public var methods: [String]
        public var status: String
        public var note: String?
        /// Redacted example texts (only with `--examples`).
        public var examples: [String]
    }

    /// Team promises kept.
    public struct Accountability: Sendable, Codable, Equatable {
        /// Share of tickets with a deadline acknowledged in time (0…1), over those
        /// acknowledged or overdue.
        public var acknowledgedInTime: Double?
        public var acknowledgedWithin: PublishedCount
        public var acknowledgedLate: PublishedCount
        public var notAcknowledged: PublishedCount
        /// Median hours from creation to first response / resolution.
        public var medianHoursToFirstResponse: Double?
        public var medianHoursToResolution: Double?
        /// Share of resolved or closed tickets with a resolution message to the person.
        public var closedWithMessage: Double?
        /// Overdue open tickets (acknowledgement or resolution deadline passed) by team.
        public var overdueByTeam: [Line]
        /// Share of alerts of the period verified within 24 hours (Sphere asks for 90 %).
        public var alertsVerifiedWithin24h: Double?
        public var alertsTotal: Int
    }

    public var generatedAt: Date
    public var from: String
    public var to: String
    public var granularity: ReportGranularity
    public var location: String?
    public var k: Int
    public var cleared: Bool
    public var tickets: PublishedCount
    public var byChannel: [Line]
    public var byType: [Line]
    public var bySector: [Line]
    public var byLanguage: [Line]
    public var byFamily: [Line]
    public var byFlag: [Line]
    /// Families (rows) × period starts (columns).
    public var familyTrend: Grid
    /// Locations (rows) × families (columns) over the period.
    public var locationFamily: Grid
    public var alerts: [Alert]
    public var emergingTerms: [EmergingTerm]
    public var accountability: Accountability
    /// Administrative codes of the locations shown.
    public var places: [String: PlaceCodes]
}

/// UTC calendar helpers.
public enum ReportCalendar {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// Midnight UTC of `date`'s day.
    public static func startOfDay(_ date: Date) -> Date { utc.startOfDay(for: date) }

    /// The start of the period containing `date` (Monday for weeks).
    public static func periodStart(of date: Date, _ granularity: ReportGranularity) -> Date {
        let day = startOfDay(date)
        guard granularity == .week else { return day }
        let weekday = utc.component(.weekday, from: day)  // 1 = Sunday
        let back = (weekday + 5) % 7
        return utc.date(byAdding: .day, value: -back, to: day)!
    }

    /// `date` plus `days`.
    public static func adding(days: Int, to date: Date) -> Date { utc.date(byAdding: .day, value: days, to: date)! }

    /// `YYYY-MM-DD`.
    public static func format(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    /// Parses `YYYY-MM-DD` as midnight UTC.
    public static func parse(_ text: String) -> Date? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        return utc.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))
    }
}
