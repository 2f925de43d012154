import Foundation
import Synchronization

/// A team's working hours in its time zone: deadlines of rules with `working_hours: true`
/// count only this time (a 48-hour deadline set on Friday evening falls on Wednesday, not
/// Sunday), and public holidays do not count. Rules for lives at risk keep wall-clock
/// deadlines.
public struct EscalationWorkingHours: Sendable, Hashable {
    /// IANA time zone.
    public let timeZone: String
    /// Working weekdays, 1 = Sunday … 7 = Saturday (Foundation's numbering).
    public let weekdays: Set<Int>
    /// Opening, minutes after midnight.
    public let opens: Int
    /// Closing, minutes after midnight (after `opens`).
    public let closes: Int
    /// Days not worked whatever their weekday, as written: dates, yearly dates, Easter
    /// offsets (``HolidayRule``).
    public let holidays: [HolidayRule]
    /// The holidays' local dates (`2026-12-25`) over the years deadlines can reach.
    private let holidayDates: Set<String>
    /// Yearly rules are worked out for these years (deadlines fall within weeks of now).
    public static let ruleYears = 2000...2100

    /// Creates working hours.
    /// - Parameters:
    ///   - timeZone: IANA time zone.
    ///   - weekdays: 1 = Sunday … 7 = Saturday.
    ///   - opens: minutes after midnight.
    ///   - closes: minutes after midnight.
    ///   - holidays: days not worked.
    public init(timeZone: String, weekdays: Set<Int>, opens: Int, closes: Int, holidays: [HolidayRule] = []) {
        self.timeZone = timeZone
        self.weekdays = weekdays
        self.opens = opens
        self.closes = closes
        self.holidays = holidays
        var dates = Set<String>()
        for rule in holidays {
            if case let .date(year, _, _) = rule.day {
                if let date = rule.date(in: year) { dates.insert(date) }
            } else {
                for year in Self.ruleYears { if let date = rule.date(in: year) { dates.insert(date) } }
            }
        }
        holidayDates = dates
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 0)!
        days = LocalDays(calendar: calendar)
    }

    static let dayNames = ["sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7]

    /// Creates working hours whose holidays are single local dates (`YYYY-MM-DD`), which must
    /// be real dates.
    public init(timeZone: String, weekdays: Set<Int>, opens: Int, closes: Int, holidayDates: [String]) {
        let rules = holidayDates.map { text -> HolidayRule in
            guard let rule = HolidayRule.parse(text), case .date = rule.day else { preconditionFailure("'\(text)' is not a date (YYYY-MM-DD)") }
            return rule
        }
        self.init(timeZone: timeZone, weekdays: weekdays, opens: opens, closes: closes, holidays: rules)
    }

    /// Whether the local date (`YYYY-MM-DD`) is a holiday.
    public func isHoliday(_ date: String) -> Bool { holidayDates.contains(date) }

    /// Reads `{days: [mon, tue, wed, thu, fri], from: "08:00", to: "17:00", holidays: [12-25, easter-2]}`.
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
        var holidays: [HolidayRule] = []
        for item in node["holidays"]?.items ?? [] {
            guard let text = item.string, let rule = HolidayRule.parse(text) else {
                throw item.error(
                    "'\(item.string ?? "")' is not a date or a holiday rule; write a date (2026-12-25), a date every year "
                        + "(12-25; '01-06 monday' moves it to the next Monday) or days from Easter Sunday (easter-2 is Good Friday)")
            }
            guard !holidays.contains(rule) else { throw item.error("holiday \(rule) is listed twice") }
            holidays.append(rule)
        }
        return EscalationWorkingHours(timeZone: timeZone, weekdays: days, opens: opens, closes: closes, holidays: holidays)
    }

    /// Local days already worked out: the same few days come up for every ticket, and
    /// asking the calendar for midnight and weekday cost more than the rest of the rules.
    private let days: LocalDays

    /// `start` plus `duration` of working time. Whole days (`2d`, `1w`) count working days
    /// (the same time of day, N working days later); anything else counts working hours.
    /// - Parameters:
    ///   - duration: working time to add.
    ///   - start: where counting starts.
    public func adding(_ duration: EscalationDuration, to start: Date) -> Date {
        guard !weekdays.isEmpty else { return start.addingTimeInterval(TimeInterval(duration.seconds)) }
        let calendar = days.calendar
        if duration.seconds > 0 && duration.seconds % 86_400 == 0 {
            let first = adding(EscalationDuration(seconds: 0), to: start)
            // Count the calendar days to step over on the remembered days, then ask the
            // calendar once for the same time of day that many days later.
            var day = days.day(containing: first)
            var count = duration.seconds / 86_400
            var steps = 0
            while count > 0 {
                day = days.day(containing: day.end)
                steps += 1
                if isWorked(day) { count -= 1 }
            }
            return calendar.date(byAdding: .day, value: steps, to: first) ?? first.addingTimeInterval(TimeInterval(steps * 86_400))
        }
        var remaining = TimeInterval(duration.seconds)
        var current = start
        for _ in 0..<(366 * 2) {
            let day = days.day(containing: current)
            let open = day.start.addingTimeInterval(TimeInterval(opens * 60))
            let close = day.start.addingTimeInterval(TimeInterval(closes * 60))
            if isWorked(day) && current < close {
                let from = max(current, open)
                let available = close.timeIntervalSince(from)
                if remaining <= available { return from.addingTimeInterval(remaining) }
                remaining -= available
            }
            current = day.end
        }
        return start.addingTimeInterval(TimeInterval(duration.seconds))
    }

    private func isWorked(_ day: LocalDays.Day) -> Bool {
        weekdays.contains(day.weekday) && (holidayDates.isEmpty || !holidayDates.contains(day.date))
    }

    public static func == (a: EscalationWorkingHours, b: EscalationWorkingHours) -> Bool {
        a.timeZone == b.timeZone && a.weekdays == b.weekdays && a.opens == b.opens && a.closes == b.closes && Set(a.holidays) == Set(b.holidays)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(timeZone)
        hasher.combine(weekdays)
        hasher.combine(opens)
        hasher.combine(closes)
        hasher.combine(Set(holidays))
    }
}

/// The local days of one time zone met so far: where each starts and ends, its date and
/// its weekday.
private final class LocalDays: Sendable {
    struct Day: Sendable {
        var start: Date
        var end: Date
        var weekday: Int
        /// `YYYY-MM-DD`, local.
        var date: String
    }

    let calendar: Calendar
    /// Sorted by start; days never overlap.
    private let known = Mutex<[Day]>([])

    init(calendar: Calendar) { self.calendar = calendar }

    func day(containing date: Date) -> Day {
        let found: Day? = known.withLock { days in
            var low = 0
            var high = days.count
            while low < high {
                let middle = (low + high) / 2
                if days[middle].end <= date { low = middle + 1 } else { high = middle }
            }
            return low < days.count && days[low].start <= date ? days[low] : nil
        }
        if let found { return found }
        let start = calendar.startOfDay(for: date)
        let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
        let day = Day(
            start: start, end: calendar.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86_400),
            weekday: parts.weekday ?? 1,
            date: CivilDate.format(year: parts.year ?? 0, month: parts.month ?? 1, day: parts.day ?? 1))
        known.withLock { days in
            // Deadlines fall within weeks of now; a long-running server forgets old days.
            if days.count >= 512 { days.removeAll() }
            let index = days.firstIndex { $0.start > day.start } ?? days.count
            if index == 0 || days[index - 1].start != day.start { days.insert(day, at: index) }
        }
        return day
    }
}
