import Foundation

/// A team's working hours in its time zone: deadlines of rules with `working_hours: true`
/// count only this time (a 48-hour deadline set on Friday evening falls on Wednesday, not
/// Sunday). Rules for lives at risk keep wall-clock deadlines.
public struct EscalationWorkingHours: Sendable, Hashable {
    /// IANA time zone.
    public var timeZone: String
    /// Working weekdays, 1 = Sunday … 7 = Saturday (Foundation's numbering).
    public var weekdays: Set<Int>
    /// Opening, minutes after midnight.
    public var opens: Int
    /// Closing, minutes after midnight (after `opens`).
    public var closes: Int

    /// Creates working hours.
    /// - Parameters:
    ///   - timeZone: IANA time zone.
    ///   - weekdays: 1 = Sunday … 7 = Saturday.
    ///   - opens: minutes after midnight.
    ///   - closes: minutes after midnight.
    public init(timeZone: String, weekdays: Set<Int>, opens: Int, closes: Int) {
        self.timeZone = timeZone
        self.weekdays = weekdays
        self.opens = opens
        self.closes = closes
    }

    static let dayNames = ["sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7]

    /// Reads `{days: [mon, tue, wed, thu, fri], from: "08:00", to: "17:00"}`.
    /// - Parameters:
    ///   - node: the mapping.
    ///   - timeZone: the team's time zone.
    public static func read(_ node: ConfigNode, timeZone: String) throws(ConfigError) -> EscalationWorkingHours {
        var days = Set<Int>()
        for item in node["days"]?.items ?? [] {
            guard let day = item.string.flatMap({ dayNames[String($0.lowercased().prefix(3))] }) else {
                throw item.error("'\(item.string ?? "")' is not a weekday; write mon, tue, wed, thu, fri, sat or sun")
            }
            days.insert(day)
        }
        if days.isEmpty { days = [2, 3, 4, 5, 6] }
        func minutes(_ key: String, _ fallback: String) throws(ConfigError) -> Int {
            let text = node[key]?.string ?? fallback
            let parts = text.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2, (0...24).contains(parts[0]), (0..<60).contains(parts[1]) else {
                throw (node[key] ?? node).error("'\(text)' is not a time of day; write HH:MM, e.g. 08:00")
            }
            return parts[0] * 60 + parts[1]
        }
        let opens = try minutes("from", "08:00")
        let closes = try minutes("to", "17:00")
        guard closes > opens else { throw node.error("working hours end (\(closes / 60):\(closes % 60)) before they start") }
        return EscalationWorkingHours(timeZone: timeZone, weekdays: days, opens: opens, closes: closes)
    }

    private var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 0)!
        return calendar
    }

    /// `start` plus `duration` of working time. Whole days (`2d`, `1w`) count working days
    /// (the same time of day, N working days later); anything else counts working hours.
    /// - Parameters:
    ///   - duration: working time to add.
    ///   - start: where counting starts.
    public func adding(_ duration: EscalationDuration, to start: Date) -> Date {
        guard !weekdays.isEmpty else { return start.addingTimeInterval(TimeInterval(duration.seconds)) }
        let calendar = calendar
        if duration.seconds > 0 && duration.seconds % 86_400 == 0 {
            var day = adding(EscalationDuration(seconds: 0), to: start)
            var count = duration.seconds / 86_400
            while count > 0 {
                day = calendar.date(byAdding: .day, value: 1, to: day) ?? day.addingTimeInterval(86_400)
                if weekdays.contains(calendar.component(.weekday, from: day)) { count -= 1 }
            }
            return day
        }
        var remaining = TimeInterval(duration.seconds)
        var current = start
        for _ in 0..<(366 * 2) {
            let midnight = calendar.startOfDay(for: current)
            let weekday = calendar.component(.weekday, from: current)
            let open = midnight.addingTimeInterval(TimeInterval(opens * 60))
            let close = midnight.addingTimeInterval(TimeInterval(closes * 60))
            if weekdays.contains(weekday) && current < close {
                let from = max(current, open)
                let available = close.timeIntervalSince(from)
                if remaining <= available { return from.addingTimeInterval(remaining) }
                remaining -= available
            }
            current = calendar.date(byAdding: .day, value: 1, to: midnight) ?? midnight.addingTimeInterval(86_400)
        }
        return start.addingTimeInterval(TimeInterval(duration.seconds))
    }
}
